"""PEtab problems are read as written or refused: no silent wrong answer from the reader.

Files listed twice, digit groups in cells, grids beyond the documented limit,
and the load warning of a condition column in the parameter table.
"""

from __future__ import annotations

import pytest

from bngfit import load_problem
from bngfit.errors import InputError
from tests.helpers import EXAMPLE, copy_into

CONVERSION = EXAMPLE.parent  # the example folder, copied and changed by the tests


# ----------------------------------------------------------------- files twice
@pytest.mark.parametrize("key,entry", [
    ("measurement_files", "measurements.tsv"),
    ("measurement_files", "./measurements.tsv"),
    ("condition_files", "conditions.tsv"),
    ("observable_files", "observables.tsv"),
])
def test_file_listed_twice_is_refused(tmp_path, key, entry):
    d = copy_into(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    name = entry.removeprefix("./")
    text = text.replace(f"  {key}:\n  - {name}\n", f"  {key}:\n  - {name}\n  - {entry}\n")
    (d / "problem.yaml").write_text(text)
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    msg = str(exc.value)
    assert "problem.yaml" in msg and f"'{key}'" in msg and "twice" in msg


def test_parameter_file_listed_twice_is_refused(tmp_path):
    d = copy_into(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    (d / "problem.yaml").write_text(text.replace(
        "parameter_file: parameters.tsv", "parameter_file: [parameters.tsv, parameters.tsv]"))
    with pytest.raises(InputError, match="parameter_file.*twice"):
        load_problem(d / "problem.yaml")


# -------------------------------------------------------------------- warnings
def test_petab_condition_column_in_parameter_table_is_marked(tmp_path):
    d = copy_into(CONVERSION, tmp_path)
    with open(d / "parameters.tsv", "a") as fh:
        fh.write("A0\tlin\t0\t10\t1\t0\n")
    problem = load_problem(d / "problem.yaml")
    [w] = problem.warnings
    assert w.id == "A0" and w.affects_result and w.file.endswith("conditions.tsv")


def test_clean_problem_has_no_warnings():
    assert load_problem(CONVERSION / "problem.yaml").warnings == ()


# ---------------------------------------------------------------------- limits
def test_petab_sample_times_beyond_the_limit_are_refused(tmp_path, monkeypatch):
    import bngfit.files._limits as limits

    monkeypatch.setattr(limits, "MAX_OUTPUT_POINTS", 7)
    with pytest.raises(InputError) as exc:
        load_problem(CONVERSION / "problem.yaml")  # 8 sample times per condition
    assert "condition 'low'" in str(exc.value) and "measurements.tsv" in str(exc.value)


# ---------------------------------------------------------- numbers as written
@pytest.mark.parametrize("table,line,col,text", [
    ("measurements.tsv", 2, 3, "0.7_47444"),
    ("conditions.tsv", 2, 2, "1_0"),
    ("parameters.tsv", 2, 4, "1_0"),
])
def test_digit_groups_in_petab_cells_are_refused(tmp_path, table, line, col, text):
    d = copy_into(CONVERSION, tmp_path)
    rows = [r.split("\t") for r in (d / table).read_text().splitlines()]
    rows[line - 1][col] = text
    (d / table).write_text("\n".join("\t".join(r) for r in rows) + "\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    assert f"{table}:{line}" in str(exc.value) and f"'{text}'" in str(exc.value)


# ------------------------------------------------- what PEtab's linter only warns about
def test_a_nominal_value_outside_the_bounds_is_a_warning_on_every_command(tmp_path):
    import subprocess
    import sys

    d = copy_into(CONVERSION, tmp_path)
    par = d / "parameters.tsv"
    par.write_text(par.read_text().replace("scale_B\tlog10\t0.01\t100\t1\t1",
                                           "scale_B\tlog10\t0.01\t100\t1000\t1"))
    problem = load_problem(d / "problem.yaml")
    (w,) = problem.warnings
    text = w.format()
    assert "parameters.tsv:4" in text and "'scale_B'" in text and "1000" in text
    assert "outside the bounds" in text
    assert problem.x_nominal[problem.x_names.index("scale_B")] == pytest.approx(3.0)
    for command in (["evaluate"], ["check-grad"], ["validate"]):
        out = subprocess.run([sys.executable, "-m", "bngfit.cli", *command,
                              str(d / "problem.yaml")], capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert "outside the bounds" in out.stderr + out.stdout, command


def test_a_parameter_that_only_looks_like_a_placeholder_is_a_parameter(tmp_path):
    import numpy as np

    import bngfit

    d = copy_into(CONVERSION, tmp_path)
    for name in ("observables.tsv", "parameters.tsv"):
        (d / name).write_text((d / name).read_text().replace("sigma_B", "noiseParameter2_x"))
    renamed = load_problem(d / "problem.yaml")  # no observable 'x': a parameter, as in PEtab
    assert "noiseParameter2_x" in renamed.x_names and renamed.warnings == ()
    original = load_problem(CONVERSION / "problem.yaml")
    a = bngfit.Objective(renamed)(renamed.x_nominal)
    b = bngfit.Objective(original)(original.x_nominal)
    assert a.fval == b.fval and np.array_equal(a.grad, b.grad)
    # not in the parameter table either: another observable's placeholder, refused
    par = d / "parameters.tsv"
    par.write_text(par.read_text().replace("noiseParameter2_x", "sigma_B"))
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    text = str(exc.value)
    assert "observables.tsv:3" in text and "noiseParameter2_x" in text
