"""PyBNF configurations are read as written or refused: no silent wrong answer.

Data files listed twice, unknown and ignored keys (load warnings, those that
change the objective marked), empty data columns, time courses beyond the
documented limit, one thing declared twice, and digit groups in numbers; for
edition 1 (the shared demo) and edition 2 (examples/pybnf_edition2).
"""

from __future__ import annotations

import pytest

import bngfit.files._limits as limits
import bngfit.pybnf._exp as pybnf_exp
from bngfit import load_problem
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.pybnf.conf._parse import legacy_action
from tests.helpers import EDITION2, conf_with_unknown_key, copy_into, shared_path


# ----------------------------------------------------------------- files twice
def test_pybnf_data_file_twice_for_one_model_is_refused(tmp_path):
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("model = parabola.xml : par1.exp",
                                             "model = parabola.xml : par1.exp, ./par1.exp"))
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "demo_xml.conf:7" in str(exc.value) and "twice" in str(exc.value)


def test_edition2_data_file_twice_in_one_experiment_is_refused(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    conf = d / "job.conf"
    conf.write_text(conf.read_text().replace("data: knockout.exp",
                                             "data: knockout.exp, ./knockout.exp"))
    with pytest.raises(InputError, match="job.conf:17.*twice"):
        load_problem(conf)


# -------------------------------------------------------------------- warnings
def test_unknown_conf_key_is_a_warning_that_changes_the_result(tmp_path):
    problem = load_problem(conf_with_unknown_key(tmp_path))
    [w] = [w for w in problem.warnings if w.id == "objfnc"]
    assert w.severity == "warning" and w.affects_result and w.row == 12


def test_ignored_algorithm_keys_do_not_change_the_result(tmp_path):
    conf = conf_with_unknown_key(tmp_path)
    with open(conf, "a") as fh:
        fh.write("mutation_rate = 0.5\n")
    problem = load_problem(conf)
    ignored = [w for w in problem.warnings if "PyBNF settings not used" in w.message]
    assert len(ignored) == 1 and "mutation_rate = 0.5" in ignored[0].message
    assert not ignored[0].affects_result


def test_empty_exp_column_warning_reaches_the_problem(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    exp = d / "high.exp"
    rows = [r.split() for r in exp.read_text().splitlines()]
    for r in rows[1:]:
        r[2], r[4] = "nan", "nan"  # B and B_SD
    exp.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    problem = load_problem(d / "job.conf")
    [w] = [w for w in problem.warnings if "high.exp" in (w.file or "")]
    assert w.id == "B" and not w.affects_result


def test_edition2_ignored_grid_of_a_data_experiment_changes_the_result(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    conf = d / "job.conf"
    conf.write_text(conf.read_text().replace("data: high.exp", "data: high.exp, t_end: 50"))
    problem = load_problem(conf)
    [w] = [w for w in problem.warnings if w.id == "t_end"]
    assert w.affects_result and w.row == 18


# ---------------------------------------------------------------------- limits
def test_huge_time_course_is_refused_before_allocation(tmp_path, capsys):
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("time_course = time: 20, suffix: par1",
                                             "time_course = time: 1e12, suffix: par1"))
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "demo_xml.conf:26" in err and "1e+12" in err and "1,000,000" in err


def test_time_course_step_counts_toward_the_limit(tmp_path):
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("time_course = time: 20, suffix: par1",
                                             "time_course = time: 20, suffix: par1, "
                                             "step: 1e-6"))
    with pytest.raises(InputError, match=r"demo_xml.conf:26.*2e\+07"):
        load_problem(conf)


def test_time_course_at_the_limit_is_read(tmp_path):
    a = legacy_action("time_course", "time: 999999, suffix: x", 1)
    assert a.fields["time"] == 999999.0


def test_edition2_huge_n_steps_is_refused(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    conf = d / "job.conf"
    (d / "only.prop").write_text("B < 1 always\n")
    with open(conf, "a") as fh:
        fh.write("experiment: cons, data: only.prop, t_end: 10, n_steps: 10000000000\n")
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "job.conf:27" in str(exc.value) and "n_steps" in str(exc.value)


def test_exp_rows_beyond_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_OUTPUT_POINTS", 5)
    monkeypatch.setattr(pybnf_exp, "MAX_OUTPUT_POINTS", 5)
    p = tmp_path / "d.exp"
    p.write_text("# time A\n" + "".join(f"{t} 1\n" for t in range(7)))
    with pytest.raises(InputError, match="d.exp:7"):
        pybnf_exp.read_exp(p)
    p.write_text("# time A\n" + "".join(f"{t} 1\n" for t in range(5)))
    assert pybnf_exp.read_exp(p).n_rows == 5


# ---------------------------------------------------- one thing declared twice
def test_two_time_courses_with_one_suffix_are_refused(tmp_path):
    """Which of the two would the data be compared with? (Read the first, silently.)"""
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    with open(conf, "a") as fh:
        fh.write("time_course = time: 10, suffix: par1\n")
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "demo_xml.conf:27" in str(exc.value) and "'par1'" in str(exc.value)
    assert "line 26" in str(exc.value)


def test_one_column_named_by_two_observable_records_is_refused(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    with open(d / "job.conf", "a") as fh:
        fh.write("observable: Bx, column: B\nobservable: By, column: B\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "job.conf")
    assert "job.conf:28" in str(exc.value) and "'B'" in str(exc.value)
    assert "line 27" in str(exc.value)


# ---------------------------------------------------------- numbers as written
def test_digit_groups_in_pybnf_files_are_refused(tmp_path):
    d = copy_into(EDITION2, tmp_path)
    (d / "high.exp").write_text((d / "high.exp").read_text().replace("2.93198", "2.93_198"))
    with pytest.raises(InputError, match=r"high.exp:2.*'2.93_198'"):
        load_problem(d / "job.conf")
    d = copy_into(EDITION2, tmp_path / "b")
    conf = d / "job.conf"
    conf.write_text(conf.read_text().replace("k1 0.01 10", "k1 0.01 1_0"))
    with pytest.raises(InputError, match=r"job.conf:23.*'1_0'"):
        load_problem(conf)
    conf.write_text(conf.read_text().replace("k1 0.01 1_0", "k1 0.01 10").replace(
        "max_iterations = 200", "max_iterations = 2_00"))
    with pytest.raises(InputError, match=r"job.conf:26.*'2_00'"):
        load_problem(conf)


def test_empty_exp_column_warning_reaches_a_legacy_problem(tmp_path):
    """Edition 1 reads its tables elsewhere (pybnf_models): the warning still arrives."""
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    exp = d / "par1.exp"
    rows = [r.split() for r in exp.read_text().splitlines()]
    for r in rows[1:]:
        if r:
            r[1], r[3] = "nan", "nan"  # x and x_SD
    exp.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    problem = load_problem(d / "demo_xml.conf")
    [w] = [w for w in problem.warnings if "par1.exp" in (w.file or "")]
    assert w.id == "x" and "no values" in w.message and not w.affects_result
