"""The plots: each one rendered, and what it shows checked (labels, legends, colours, scales)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bngfit
from bngfit.objective import summarize
from bngfit.objective._gradcheck import Agreement
from bngfit.problem import Scale
from bngfit.result import FitResult, StartResult, StartStatus
from tests.helpers import EXAMPLE, copy_into, shared_path

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgb  # noqa: E402

from bngfit.result._plot_fit import model_fit_figure  # noqa: E402
from bngfit.result._plot_gradcheck import VERDICT_COLORS, gradcheck_figure  # noqa: E402
from bngfit.result._plot_starts import (  # noqa: E402
    BOUND_FLAG_COLOR,
    history_figure,
    parameters_figure,
    waterfall_figure,
)
from bngfit.result._plot_style import cluster_starts  # noqa: E402
from bngfit.result._plots import PLOT_FILES, plot_all  # noqa: E402

NAMES = ["k1", "k2", "scale_B", "sigma_B"]
LB, UB = np.full(4, -3.0), np.full(4, 2.0)
FVALS = [1.0, 1.05, 1.12, 3.0, 3.02, 7.0, np.inf]  # clusters {0,1,2}, {3,4}, {5}; 6 failed


def _result(problem_path: str = "", gradchecks: dict | None = None) -> FitResult:
    rng = np.random.default_rng(1)
    starts = []
    for i, f in enumerate(FVALS):
        x = np.array([-1.0, -0.5, 0.0, -3.0]) + 0.01 * i  # sigma_B at its lower bound
        trace = np.concatenate([f + np.geomspace(10.0, 1e-3, 20), [np.inf, f]])
        starts.append(StartResult(
            index=i, x0=rng.uniform(LB, UB), x=x, fval=f, grad_norm=1e-3, n_fval=22,
            wall_s=0.1, status=StartStatus.CONVERGED if np.isfinite(f) else StartStatus.ERROR,
            message="", trace=trace if np.isfinite(f) else np.array([np.inf])))
    return FitResult(NAMES, tuple(starts), "least_squares", 0, len(FVALS), 1.0,
                     settings={"problem": problem_path}, gradchecks=gradchecks or {})


def _outside(fig, ax, legend) -> bool:
    """Whether the legend's box lies outside the data area of ``ax``."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return not legend.get_window_extent(r).overlaps(ax.get_window_extent(r))


def _color(artist, k: int = 0) -> tuple:
    return tuple(np.round(artist.get_facecolors()[k][:3], 6))


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_clusters_group_neighbouring_final_values():
    c = cluster_starts(_result().starts)
    assert c.label == {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
    assert c.size == (3, 2, 1)
    assert c.color(0) == c.color(2) != c.color(3)
    assert c.color(6) != c.color(0)  # failed


def test_waterfall_labels_legend_and_cluster_colours_match_the_parameter_plot():
    result = _result()
    fig = waterfall_figure(result)
    ax = fig.axes[0]
    assert ax.get_ylabel().startswith("fval - best") and ax.get_xlabel()
    assert ax.get_yscale() == "log"
    assert _outside(fig, ax, ax.get_legend())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("best cluster: 3 start(s)") and "failed: 1" in labels[-1]
    points = next(c for c in ax.collections if c.get_gid() == "final-values")
    waterfall_colors = [_color(points, k) for k in range(6)]  # sorted by fval: index order
    _close(fig)
    fig = parameters_figure(result, LB, UB, scales=[Scale.LOG10] * 4)
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c for c in ax.collections}
    assert [_color(by_gid[f"final-{i}"]) for i in range(6)] == waterfall_colors
    assert "final-6" not in by_gid  # failed starts have no final point
    assert waterfall_colors[0] == waterfall_colors[2] != waterfall_colors[3]
    _close(fig)


def test_parameter_plot_names_scales_and_flags_bounds():
    fig = parameters_figure(_result(), LB, UB, scales=[Scale.LOG10] * 4)
    ax = fig.axes[0]
    ticks = {t.get_text(): t for t in ax.get_yticklabels()}
    assert set(ticks) == {f"{n} (log10)" for n in NAMES}
    assert to_rgb(ticks["sigma_B (log10)"].get_color()) == to_rgb(BOUND_FLAG_COLOR)
    assert to_rgb(ticks["k1 (log10)"].get_color()) != to_rgb(BOUND_FLAG_COLOR)
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert any("near a bound (1)" in t.get_text() for t in legend.get_texts())
    assert _outside(fig, ax, legend)
    _close(fig)


def test_history_draws_best_so_far_per_start_on_a_log_axis():
    result = _result()
    fig = history_figure(result)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() and ax.get_xlabel()
    lines = {ln.get_gid(): ln for ln in ax.get_lines() if ln.get_gid()}
    assert set(lines) == {f"history-{i}" for i in range(6)}
    y = lines["history-0"].get_ydata()
    assert np.all(np.diff(y) <= 0)  # best so far never rises
    assert y[-1] == pytest.approx(1e-3)  # the best start ends at the offset
    assert _outside(fig, ax, ax.get_legend())
    _close(fig)


def _check_table() -> pd.DataFrame:
    rows = {  # grad, fd_f, fd_b, fd_c, fd_err, abs_err, rel_err
        "k1": [1.0, 1.0, 1.0, 1.0, 1e-9, 1e-10, 1e-10],  # agrees
        "k2": [1e-6, 1.0, -1.0, 0.0, 2.0, 1e-6, 1e300],  # differences cannot tell
        "scale_B": [2.0, 1.0, 1.0, 1.0, 1e-9, 1.0, 1.0],  # mismatch
    }
    cols = ["grad", "fd_f", "fd_b", "fd_c", "fd_err", "abs_err", "rel_err"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


def test_gradcheck_figure_colours_verdicts_one_metric_per_panel():
    table = _check_table()
    verdict = summarize(table, 1.0).verdict
    assert list(verdict.values()) == [Agreement.AGREES, Agreement.UNRESOLVED,
                                      Agreement.MISMATCH]
    fig = gradcheck_figure(_result(gradchecks={"best": table}))
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["rel_err", "abs_err"]
    for ax in panels:
        img = ax.images[0].get_array()
        assert [tuple(img[i, 0]) for i in range(3)] == [
            to_rgb(VERDICT_COLORS[a]) for a in Agreement]
        assert ax.get_xlabel()
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 3
    assert [t.get_text() for t in panels[0].texts][2] == "1.0e+00"  # rel_err of scale_B
    assert [t.get_text() for t in panels[1].texts][0] == "1.0e-10"  # abs_err of k1
    assert panels[0].get_ylabel() == "parameter"
    # the unresolved colour is no shade of the mismatch red
    assert VERDICT_COLORS[Agreement.UNRESOLVED] != VERDICT_COLORS[Agreement.MISMATCH]
    legend = fig.legends[0]
    assert [t.get_text().split(" (")[0] for t in legend.get_texts()] == [
        "agrees", "not resolved by the differences", "mismatch"]
    _close(fig)
    assert gradcheck_figure(_result()) is None


def _assert_readable(fig):
    """Every visible panel has both labels; no legend overlaps any panel's data area."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for ax in panels:
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    legends = [ax.get_legend() for ax in panels if ax.get_legend()] + list(fig.legends)
    for legend in legends:
        box = legend.get_window_extent(r)
        assert not any(box.overlaps(ax.get_window_extent(r)) for ax in panels)


def test_model_fit_default_layout_one_panel_per_observable():
    problem = bngfit.load_problem(EXAMPLE)
    fig = model_fit_figure(problem, problem.x_nominal)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["obs_A", "obs_B"]
    _assert_readable(fig)
    labels = [t.get_text() for t in panels[-1].get_legend().get_texts()]
    assert labels == ["low", "high"]  # one entry per condition, not per data and curve
    _close(fig)


VIS = ("plotId\tplotName\tyValues\txValues\txLabel\txScale\tyLabel\tyScale\tlegendEntry\t"
       "plotTypeSimulation\tplotTypeData\n"
       "doses\tB at t=10\tobs_B\tA0\tA0 [uM]\tlog10\tB [uM]\tlog10\tB\tLinePlot\tMeanAndSD\n"
       "course\tA\tobs_A\ttime\tTime [h]\tlin\tA [uM]\tlin\tA\tLinePlot\treplicate\n"
       "scatter\tfit\tobs_B\t\t\t\t\t\tB\tScatterPlot\t\n"
       "scatter\tfit\tobs_A\t\t\t\t\t\tB2\tScatterPlot\t\n")


def test_model_fit_follows_the_visualization_table(tmp_path):
    d = copy_into(EXAMPLE.parent, tmp_path)
    (d / "vis.tsv").write_text(VIS)
    with open(d / "problem.yaml", "a") as f:
        f.write("  visualization_files: [vis.tsv]\n")
    problem = bngfit.load_problem(d / "problem.yaml")
    fig = model_fit_figure(problem, problem.x_nominal)
    doses, course, scatter = (ax for ax in fig.axes if ax.get_visible())
    assert (doses.get_xscale(), doses.get_yscale()) == ("log", "log")
    assert doses.get_title() == "B at t=10\nB"
    assert (doses.get_xlabel(), doses.get_ylabel()) == ("A0 [uM]", "B [uM]")
    assert sorted(set(doses.get_lines()[-1].get_xdata())) == [1.0, 3.0]  # the two doses
    assert (course.get_xlabel(), course.get_xscale()) == ("Time [h]", "linear")
    assert scatter.get_xlabel().startswith("measurement")
    assert doses.get_legend() is None  # one series: named in the title
    assert course.get_title() == "A"
    assert [t.get_text() for t in scatter.get_legend().get_texts()] == ["B", "B2"]
    _assert_readable(fig)
    _close(fig)


def test_plot_all_writes_every_plot_with_a_given_problem(tmp_path):
    problem = bngfit.load_problem(EXAMPLE)
    result = _result(problem_path=str(tmp_path / "gone.yaml"),
                     gradchecks={"best": _check_table()})
    result = dataclasses.replace(result, starts=tuple(
        dataclasses.replace(s, x=problem.x_nominal) for s in result.starts))
    files = plot_all(result, tmp_path / "plots", problem=problem)
    assert [f.name for f in files] == list(PLOT_FILES)
    assert all(f.stat().st_size > 5000 for f in files)
    # without the problem (its file gone) the plots that need it are left out
    files = plot_all(result, tmp_path / "less")
    assert [f.name for f in files] == ["waterfall.png", "history.png", "gradcheck.png"]


@pytest.mark.parametrize(("name", "titles", "log_x"), [
    ("Brannmark_JBC2010", ["plot1", "plot2", "plot3", "plot4"], {"plot3"}),
    ("Boehm_JProteomeRes2014", ["pSTAT5A_rel", "pSTAT5B_rel", "rSTAT5A_rel"], set()),
])
def test_benchmark_model_fit_follows_its_table(name, titles, log_x):
    problem = bngfit.load_problem(shared_path("benchmarks", "petab", name, f"{name}.yaml"))
    fig = model_fit_figure(problem, problem.x_nominal)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == titles
    assert {ax.get_title().split("\n")[0] for ax in panels
            if ax.get_xscale() == "log"} == log_x
    if name.startswith("Brannmark"):
        assert panels[2].get_title() == "plot3\nDosR"  # its one series' legend entry
        assert panels[2].get_xlabel().startswith("Insulin [nM]")
        assert panels[2].get_ylabel() == "IRS1 phosphorylation"
    else:
        assert panels[0].get_ylabel() == "frac. [%]"
    _assert_readable(fig)
    _close(fig)


def test_bars_of_replicates_and_of_the_noise_model():
    from bngfit.problem import PlotTypeData, Transform
    from bngfit.result._plot_fit_data import noise_bars, summarise

    x = np.array([2.0, 1.0, 2.0, 1.0])
    y = np.array([3.0, 1.0, 5.0, 1.0])
    ux, mean, sd = summarise(x, y, PlotTypeData.MEAN_AND_SD)
    assert list(ux) == [1.0, 2.0] and list(mean) == [1.0, 4.0]
    np.testing.assert_allclose(sd, [0.0, np.sqrt(2.0)])
    _, _, sem = summarise(x, y, PlotTypeData.MEAN_AND_SEM)
    np.testing.assert_allclose(sem, [0.0, 1.0])
    rx, ry, none = summarise(x, y, PlotTypeData.REPLICATE)
    assert list(rx) == [1.0, 1.0, 2.0, 2.0] and none is None
    bars = noise_bars(np.array([10.0]), np.array([1.0]), Transform.LOG10)
    np.testing.assert_allclose(bars[:, 0], [9.0, 90.0])  # 10 * 10**-+1
    np.testing.assert_allclose(noise_bars(np.array([3.0]), np.array([0.5]), Transform.LIN),
                               [[0.5], [0.5]])


def test_an_x_input_no_condition_sets_is_drawn_against_time(tmp_path):
    d = copy_into(EXAMPLE.parent, tmp_path)
    (d / "vis.tsv").write_text("plotId\tyValues\txValues\nd\tobs_B\tdose\n")
    with open(d / "problem.yaml", "a") as f:
        f.write("  visualization_files: [vis.tsv]\n")
    problem = bngfit.load_problem(d / "problem.yaml")
    fig = model_fit_figure(problem, problem.x_nominal)
    ax = fig.axes[0]
    assert "drawn against time" in ax.get_xlabel()
    assert max(ax.get_lines()[-1].get_xdata()) == pytest.approx(10.0)  # the last time
    _close(fig)


def test_gradcheck_figure_shows_the_stored_verdicts():
    # a stored table keeps neither every step's rows nor the check point's fval: the
    # verdict made when the check ran is the one to draw (Brannmark's start point, fval
    # 3.8e14: differences exactly 0, a gradient entry of 1e-3 below their round-off floor)
    table = _check_table()
    assert summarize(table, 1.0).verdict["scale_B"] is Agreement.MISMATCH
    table["verdict"] = ["agrees", "unresolved", "unresolved"]
    fig = gradcheck_figure(_result(gradchecks={"start": table}))
    img = [ax for ax in fig.axes if ax.images][0].images[0].get_array()
    assert tuple(img[2, 0]) == to_rgb(VERDICT_COLORS[Agreement.UNRESOLVED])
    _close(fig)
