"""The PEtab visualization table: read into Problem.visualization, malformed cells refused."""

from __future__ import annotations

import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.problem import AxisScale, PlotTypeData, PlotTypeSimulation, group_plots
from tests.helpers import EXAMPLE, copy_into, shared_path

HEADER = ("plotId\tplotName\tplotTypeSimulation\tplotTypeData\tdatasetId\txValues\txOffset\t"
          "xLabel\txScale\tyValues\tyOffset\tyLabel\tyScale\tlegendEntry\tColor")
GOOD = [
    "p1\tA over time\tLinePlot\tMeanAndSD\tlowA\ttime\t0\tTime [h]\tlin\tobs_A\t0\tA [uM]\t"
    "log10\tlow dose\tred",
    "p1\tA over time\tLinePlot\tMeanAndSD\thighA\ttime\t0\tTime [h]\tlin\tobs_A\t0\tA [uM]\t"
    "log10\t\tblue",
    "p2\t\tScatterPlot\treplicate\t\tA0\t1.5\t\tlog\tobs_B\t-0.5\t\t\t\t",
]


def _problem(tmp_path, rows=GOOD, *, datasets=True, listed=True):
    """The conversion example with datasetIds and a visualization table of ``rows``."""
    d = copy_into(EXAMPLE.parent, tmp_path)
    meas = (d / "measurements.tsv").read_text().splitlines()
    if datasets:
        out = [meas[0] + "\tdatasetId"]
        for line in meas[1:]:
            obs, cond = line.split("\t")[:2]
            out.append(f"{line}\t{cond}{obs[-1]}")
        (d / "measurements.tsv").write_text("\n".join(out) + "\n")
    (d / "vis.tsv").write_text("\n".join([HEADER, *rows]) + "\n")
    if listed:
        with open(d / "problem.yaml", "a") as f:
            f.write("  visualization_files:\n  - vis.tsv\n")
    return d / "problem.yaml"


def test_visualization_table_is_read_with_defaults(tmp_path):
    problem = bngfit.load_problem(_problem(tmp_path))
    rows = problem.visualization
    assert len(rows) == 3
    a, b, c = rows
    assert (a.plot_id, a.plot_name, a.dataset_id, a.y_values) == ("p1", "A over time", "lowA",
                                                                  "obs_A")
    assert a.plot_type_simulation is PlotTypeSimulation.LINE_PLOT
    assert (a.x_label, a.y_label, a.y_scale, a.legend_entry) == ("Time [h]", "A [uM]",
                                                                 AxisScale.LOG10, "low dose")
    assert b.legend_entry == "highA"  # defaults to the dataset
    assert c.plot_type_simulation is PlotTypeSimulation.SCATTER_PLOT
    assert c.plot_type_data is PlotTypeData.REPLICATE
    assert c.dose_response and c.x_values == "A0" and c.x_label == "A0"
    assert (c.x_offset, c.y_offset, c.x_scale, c.y_label) == (1.5, -0.5, AxisScale.LOG, "obs_B")
    assert c.legend_entry == "obs_B" and c.row == 4
    assert list(group_plots(rows)) == ["p1", "p2"]
    m = problem.measurements
    assert len(m.dataset_id) == len(m) and m.dataset_id[0] == "lowA"


def test_no_visualization_table_gives_none(tmp_path):
    problem = bngfit.load_problem(_problem(tmp_path, listed=False, datasets=False))
    assert problem.visualization == ()
    assert problem.measurements.dataset_id == ()


def test_visualization_and_datasets_leave_the_fingerprint_alone(tmp_path):
    import dataclasses

    from bngfit.result import fingerprint

    problem = bngfit.load_problem(_problem(tmp_path))
    assert problem.visualization and problem.measurements.dataset_id
    bare = dataclasses.replace(
        problem, visualization=(),
        measurements=dataclasses.replace(problem.measurements, dataset_id=()))
    assert fingerprint(bare) == fingerprint(problem)


@pytest.mark.parametrize(("column", "cell", "message"), [
    ("plotTypeSimulation", "Lineplot", "plotTypeSimulation must be one of LinePlot"),
    ("plotTypeData", "MeanSD", "plotTypeData must be one of MeanAndSD"),
    ("xScale", "ln", "xScale must be one of lin, log, log10, order"),
    ("yScale", "order", "yScale: 'order' is for the x axis only"),
    ("xOffset", "two", "xOffset is not a finite number"),
    ("yOffset", "inf", "yOffset is not a finite number"),
    ("yValues", "obs_C", "yValues names an observable that is not in the observable table"),
    ("datasetId", "lowC", "datasetId names an unknown dataset"),
    ("xValues", "A 0", "xValues must be 'time' or an id"),
    ("plotId", "", "plotId is empty"),
])
def test_malformed_visualization_cells_are_refused(tmp_path, column, cell, message):
    cols = HEADER.split("\t")
    cells = GOOD[0].split("\t")
    cells[cols.index(column)] = cell
    path = _problem(tmp_path, rows=[GOOD[1], "\t".join(cells)])
    with pytest.raises(InputError) as err:
        bngfit.load_problem(path)
    issue = next(i for i in err.value.issues if message in i.message)
    assert issue.file.endswith("vis.tsv")
    assert issue.row == 3
    assert column in issue.message
    assert issue.value == (cell or "(empty)")


def test_dataset_id_without_measurement_datasets_is_refused(tmp_path):
    with pytest.raises(InputError, match="no datasetId column"):
        bngfit.load_problem(_problem(tmp_path, datasets=False, rows=GOOD[:1]))


def test_missing_visualization_file_is_refused(tmp_path):
    path = _problem(tmp_path)
    (path.parent / "vis.tsv").unlink()
    with pytest.raises(InputError, match="vis.tsv"):
        bngfit.load_problem(path)


def test_unknown_x_input_is_a_warning(tmp_path):
    rows = [GOOD[2].replace("\tA0\t", "\tdose\t")]
    problem = bngfit.load_problem(_problem(tmp_path, rows=rows))
    assert problem.visualization[0].x_values == "dose"
    assert any("xValues names no column" in w.message for w in problem.warnings)


@pytest.mark.parametrize(("name", "n_rows", "dose_plot"), [
    ("Brannmark_JBC2010", 4, "plot3"), ("Boehm_JProteomeRes2014", 3, None)])
def test_benchmark_visualization_tables_load(name, n_rows, dose_plot):
    problem = bngfit.load_problem(shared_path("benchmarks", "petab", name, f"{name}.yaml"))
    assert len(problem.visualization) == n_rows
    doses = [r.plot_id for r in problem.visualization if r.dose_response]
    assert doses == ([dose_plot] if dose_plot else [])
    assert set(r.dataset_id for r in problem.visualization) <= set(
        problem.measurements.dataset_id)
