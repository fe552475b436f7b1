"""Inputs are read as written or refused: no silent wrong answer from the readers.

Quotes in table cells, duplicate YAML keys, files listed twice, invalid SBML,
grids beyond the documented limit, and load warnings that must reach every
command (with those that change the objective marked).
"""

from __future__ import annotations

import logging
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bngfit import load_problem
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.files._tables import read_tsv
from bngfit.problem._load import check_problem
from tests.helpers import REPO, shared_path

CONVERSION = REPO / "examples" / "conversion"
EDITION2 = REPO / "examples" / "pybnf_edition2"


def _copy(src: Path, tmp_path: Path) -> Path:
    d = tmp_path / src.name
    shutil.copytree(src, d)
    return d


def _sbml_of_conversion() -> str:
    antimony = pytest.importorskip("antimony")
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString((CONVERSION / "model.ant").read_text()) != -1
    return antimony.getSBMLString("conversion")


# ---------------------------------------------------------------- TSV quotes
def test_stray_quote_in_measurements_is_refused_with_its_line(tmp_path, capsys):
    """The probe's case: a '"' swallowed the rows up to the next quote, validate said ok."""
    d = _copy(CONVERSION, tmp_path)
    lines = (d / "measurements.tsv").read_text().splitlines()
    lines[3] = lines[3].replace("\tlow\t", '\t"low\t')  # line 4
    lines[9] = lines[9].replace("\tlow\t", '\tlow"\t')  # line 10: closes the "quote"
    (d / "measurements.tsv").write_text("\n".join(lines) + "\n")
    assert main(["validate", str(d / "problem.yaml")]) == 2
    out, err = capsys.readouterr()
    assert "no errors" not in out
    assert "measurements.tsv:4" in out + err and "double quote" in out + err
    assert main(["evaluate", str(d / "problem.yaml")]) == 2
    err = capsys.readouterr().err
    assert "measurements.tsv:4" in err and "simulationConditionId" in err and '"low' in err


@pytest.mark.parametrize("cell", ['"obs_A"', 'a"b', '"'])
def test_any_quote_in_a_cell_is_refused(tmp_path, cell):
    p = tmp_path / "t.tsv"
    p.write_text(f"id\tname\nx\t{cell}\ny\tz\n")
    with pytest.raises(InputError) as exc:
        read_tsv(p)
    assert "t.tsv:2" in str(exc.value) and "column 'name'" in str(exc.value)
    assert cell in str(exc.value)


def test_quote_in_header_is_refused(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text('"id"\tname\nx\ty\n')
    with pytest.raises(InputError, match="t.tsv:1"):
        read_tsv(p)


def test_cells_are_split_at_every_tab_only(tmp_path):
    """No quoting, no escapes: a row keeps its cells and its own line number."""
    p = tmp_path / "t.tsv"
    p.write_bytes(b"a\tb\r\n1\t x y \r\n\n'2'\t\\t\n3\t\x0c4\n")
    df = read_tsv(p)
    assert list(df.index) == [2, 4, 5]
    assert df["a"].tolist() == ["1", "'2'", "3"]
    assert df["b"].tolist() == ["x y", "\\t", "4"]  # \x0c is whitespace: stripped


def test_nul_byte_in_a_table_is_refused(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_bytes(b"a\tb\n1\t2\x00\n")
    with pytest.raises(InputError, match="t.tsv:2.*NUL"):
        read_tsv(p)


# ---------------------------------------------------------------- YAML keys
def test_duplicate_top_level_yaml_key_is_refused(tmp_path, capsys):
    d = _copy(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    (d / "problem.yaml").write_text(text.replace(
        "parameter_file: parameters.tsv\n",
        "parameter_file: parameters.tsv\nparameter_file: other.tsv\n"))
    assert main(["evaluate", str(d / "problem.yaml")]) == 2
    err = capsys.readouterr().err
    assert "problem.yaml:3" in err and "'parameter_file'" in err and "line 2" in err


def test_duplicate_nested_yaml_key_is_refused(tmp_path):
    """Two measurement_files lists: PyYAML would keep only the second, silently."""
    d = _copy(CONVERSION, tmp_path)
    shutil.copy(d / "measurements.tsv", d / "more.tsv")
    with open(d / "problem.yaml", "a") as fh:
        fh.write("  measurement_files:\n  - more.tsv\n")
    problem, items = check_problem(d / "problem.yaml")
    assert problem is None
    [issue] = items
    assert issue.row == 12 and "'measurement_files'" in issue.message
    assert "line 10" in issue.message


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    from bngfit.files._yaml import load_yaml

    assert load_yaml("a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\n") == {"a": {"k": 1}, "b": {"k": 2}}


# ---------------------------------------------------------- files twice
@pytest.mark.parametrize("key,entry", [
    ("measurement_files", "measurements.tsv"),
    ("measurement_files", "./measurements.tsv"),
    ("condition_files", "conditions.tsv"),
    ("observable_files", "observables.tsv"),
])
def test_file_listed_twice_is_refused(tmp_path, key, entry):
    d = _copy(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    name = entry.removeprefix("./")
    text = text.replace(f"  {key}:\n  - {name}\n", f"  {key}:\n  - {name}\n  - {entry}\n")
    (d / "problem.yaml").write_text(text)
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    msg = str(exc.value)
    assert "problem.yaml" in msg and f"'{key}'" in msg and "twice" in msg


def test_parameter_file_listed_twice_is_refused(tmp_path):
    d = _copy(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    (d / "problem.yaml").write_text(text.replace(
        "parameter_file: parameters.tsv", "parameter_file: [parameters.tsv, parameters.tsv]"))
    with pytest.raises(InputError, match="parameter_file.*twice"):
        load_problem(d / "problem.yaml")


def test_pybnf_data_file_twice_for_one_model_is_refused(tmp_path):
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("model = parabola.xml : par1.exp",
                                             "model = parabola.xml : par1.exp, ./par1.exp"))
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "demo_xml.conf:7" in str(exc.value) and "twice" in str(exc.value)


def test_edition2_data_file_twice_in_one_experiment_is_refused(tmp_path):
    d = _copy(EDITION2, tmp_path)
    conf = d / "job.conf"
    conf.write_text(conf.read_text().replace("data: knockout.exp",
                                             "data: knockout.exp, ./knockout.exp"))
    with pytest.raises(InputError, match="job.conf:17.*twice"):
        load_problem(conf)


# ---------------------------------------------------------------- SBML
SBML_BAD = [
    ("undefined-product",
     ('<speciesReference species="B" stoichiometry="1" constant="true"/>\n'
      "        </listOfProducts>",
      '<speciesReference species="C" stoichiometry="1" constant="true"/>\n'
      "        </listOfProducts>"),
     ("'C'", "undefined", "21111")),
    ("negative-compartment", ('size="1"', 'size="-1"'), ("'cell'", "'-1'", "positive")),
    ("zero-compartment", ('size="1"', 'size="0"'), ("'cell'", "positive")),
    ("undefined-symbol", ("<ci> k1 </ci>", "<ci> kx </ci>"), ("'kx'", "kineticLaw")),
    ("undefined-compartment", ('<species id="A" compartment="cell"',
                               '<species id="A" compartment="cyt"'), ("'cyt'", "'A'")),
    ("duplicate-id", ('<parameter id="k2"', '<parameter id="k1"'), ("'k1'", "Duplicate")),
    ("unknown-math", ("<times/>", "<foo/>"), ("<foo>",)),
]


@pytest.mark.parametrize("case", SBML_BAD, ids=[c[0] for c in SBML_BAD])
def test_invalid_sbml_is_refused_with_libsbml_message(tmp_path, case):
    _, (old, new), expect = case
    sbml = _sbml_of_conversion()
    assert old in sbml
    d = _copy(CONVERSION, tmp_path)
    (d / "model.xml").write_text(sbml.replace(old, new, 1))
    y = d / "problem.yaml"
    y.write_text(y.read_text().replace("model.ant", "model.xml"))
    with pytest.raises(InputError) as exc:
        load_problem(y)
    msg = str(exc.value)
    assert "model.xml:" in msg  # with the line libsbml gives
    for piece in expect:
        assert piece in msg, msg


def test_valid_sbml_of_the_example_loads(tmp_path):
    d = _copy(CONVERSION, tmp_path)
    (d / "model.xml").write_text(_sbml_of_conversion())
    y = d / "problem.yaml"
    y.write_text(y.read_text().replace("model.ant", "model.xml"))
    assert load_problem(y).model.species == ("A", "B")


def test_compartment_size_set_by_an_assignment_is_not_refused(tmp_path):
    from bngfit.simulate._sbml_check import check_model_file

    sbml = _sbml_of_conversion().replace('size="1"', 'size="-1"').replace(
        "<listOfInitialAssignments>",
        '<listOfInitialAssignments>\n      <initialAssignment symbol="cell"><math '
        'xmlns="http://www.w3.org/1998/Math/MathML"><cn> 2 </cn></math>'
        "</initialAssignment>")
    p = tmp_path / "m.xml"
    p.write_text(sbml)
    check_model_file(p)  # no error


def test_every_shared_sbml_model_passes_the_check():
    from bngfit.simulate._sbml_check import check_model_file

    models = sorted(shared_path("benchmarks", "petab").glob("*/*.xml"))
    models += sorted(shared_path("petab_test_suite").rglob("*.xml"))
    assert len(models) > 20
    for m in models:
        check_model_file(m)


def test_antimony_syntax_error_names_its_line(tmp_path):
    d = _copy(CONVERSION, tmp_path)
    (d / "model.ant").write_text("model m\n  species A;\n  A -> ; k1*\nend\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    assert "model.ant:3" in str(exc.value) and "Antimony" in str(exc.value)


# ---------------------------------------------------------------- warnings
def _conf_with_unknown_key(tmp_path) -> Path:
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("objfunc = chi_sq",
                                             "objfunc = chi_sq\nobjfnc = sos"))
    return conf


def test_unknown_conf_key_is_a_warning_that_changes_the_result(tmp_path):
    problem = load_problem(_conf_with_unknown_key(tmp_path))
    [w] = [w for w in problem.warnings if w.id == "objfnc"]
    assert w.severity == "warning" and w.affects_result and w.row == 12


def test_ignored_algorithm_keys_do_not_change_the_result(tmp_path):
    conf = _conf_with_unknown_key(tmp_path)
    with open(conf, "a") as fh:
        fh.write("mutation_rate = 0.5\n")
    problem = load_problem(conf)
    ignored = [w for w in problem.warnings if "no effect" in w.message]
    assert ignored and not any(w.affects_result for w in ignored)


def test_load_problem_logs_each_warning_once(tmp_path, caplog):
    conf = _conf_with_unknown_key(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        load_problem(conf)
        load_problem(conf)  # a fit re-reads its files: no second report
        load_problem(conf, log_warnings=False)
    hits = [r for r in caplog.records if "objfnc" in r.getMessage()]
    assert len(hits) == 1
    assert hits[0].levelno == logging.WARNING and hits[0].name.startswith("bngfit")
    assert "demo_xml.conf:12" in hits[0].getMessage()


def test_a_worker_process_does_not_log_them_again(tmp_path, caplog, monkeypatch):
    """Pool and Dask workers re-read the problem: their parent has reported it."""
    import multiprocessing

    conf = _conf_with_unknown_key(tmp_path)
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        problem = load_problem(conf)
    assert problem.warnings and "objfnc" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        load_problem(conf, log_warnings=True)
    assert "objfnc" in caplog.text


def test_quiet_load_logs_nothing(tmp_path, caplog):
    conf = _conf_with_unknown_key(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        problem = load_problem(conf, log_warnings=False)
    assert problem.warnings and "objfnc" not in caplog.text


@pytest.mark.parametrize("command", ["evaluate", "check-grad", "simulate"])
def test_every_command_prints_load_warnings(tmp_path, command):
    """On stderr, once, through the command line's own logging (a real process)."""
    conf = _conf_with_unknown_key(tmp_path)
    argv = [command, str(conf)]
    if command == "simulate":
        argv += ["-o", str(tmp_path / "sim.tsv")]
    proc = subprocess.run([sys.executable, "-m", "bngfit.cli", *argv], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "objfnc" in ln]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("bngfit: warning: ") and "demo_xml.conf:12" in lines[0]
    assert "objfnc" not in proc.stdout


def test_empty_exp_column_warning_reaches_the_problem(tmp_path):
    d = _copy(EDITION2, tmp_path)
    exp = d / "high.exp"
    rows = [r.split() for r in exp.read_text().splitlines()]
    for r in rows[1:]:
        r[2], r[4] = "nan", "nan"  # B and B_SD
    exp.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    problem = load_problem(d / "job.conf")
    [w] = [w for w in problem.warnings if "high.exp" in (w.file or "")]
    assert w.id == "B" and not w.affects_result


def test_edition2_ignored_grid_of_a_data_experiment_changes_the_result(tmp_path):
    d = _copy(EDITION2, tmp_path)
    conf = d / "job.conf"
    conf.write_text(conf.read_text().replace("data: high.exp", "data: high.exp, t_end: 50"))
    problem = load_problem(conf)
    [w] = [w for w in problem.warnings if w.id == "t_end"]
    assert w.affects_result and w.row == 18


def test_petab_condition_column_in_parameter_table_is_marked(tmp_path):
    d = _copy(CONVERSION, tmp_path)
    with open(d / "parameters.tsv", "a") as fh:
        fh.write("A0\tlin\t0\t10\t1\t0\n")
    problem = load_problem(d / "problem.yaml")
    [w] = problem.warnings
    assert w.id == "A0" and w.affects_result and w.file.endswith("conditions.tsv")


def test_warnings_pickle(tmp_path):
    """Warnings are plain frozen records (a fit stores them, workers may receive them)."""
    problem = load_problem(_conf_with_unknown_key(tmp_path))
    again = pickle.loads(pickle.dumps(problem.warnings))
    assert again == problem.warnings and hash(again) == hash(problem.warnings)


def test_clean_problem_has_no_warnings():
    assert load_problem(CONVERSION / "problem.yaml").warnings == ()


# ---------------------------------------------------------------- limits
def test_huge_time_course_is_refused_before_allocation(tmp_path, capsys):
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("time_course = time: 20, suffix: par1",
                                             "time_course = time: 1e12, suffix: par1"))
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "demo_xml.conf:26" in err and "1e+12" in err and "1,000,000" in err


def test_time_course_step_counts_toward_the_limit(tmp_path):
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("time_course = time: 20, suffix: par1",
                                             "time_course = time: 20, suffix: par1, "
                                             "step: 1e-6"))
    with pytest.raises(InputError, match=r"demo_xml.conf:26.*2e\+07"):
        load_problem(conf)


def test_time_course_at_the_limit_is_read(tmp_path):
    from bngfit.pybnf.conf._parse import legacy_action

    a = legacy_action("time_course", "time: 999999, suffix: x", 1)
    assert a.fields["time"] == 999999.0


def test_edition2_huge_n_steps_is_refused(tmp_path):
    d = _copy(EDITION2, tmp_path)
    conf = d / "job.conf"
    (d / "only.prop").write_text("B < 1 always\n")
    with open(conf, "a") as fh:
        fh.write("experiment: cons, data: only.prop, t_end: 10, n_steps: 10000000000\n")
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "job.conf:27" in str(exc.value) and "n_steps" in str(exc.value)


def test_exp_rows_beyond_the_limit_are_refused(tmp_path, monkeypatch):
    import bngfit.files._limits as limits
    import bngfit.pybnf._exp as pybnf_exp

    monkeypatch.setattr(limits, "MAX_OUTPUT_POINTS", 5)
    monkeypatch.setattr(pybnf_exp, "MAX_OUTPUT_POINTS", 5)
    p = tmp_path / "d.exp"
    p.write_text("# time A\n" + "".join(f"{t} 1\n" for t in range(7)))
    with pytest.raises(InputError, match="d.exp:7"):
        pybnf_exp.read_exp(p)
    p.write_text("# time A\n" + "".join(f"{t} 1\n" for t in range(5)))
    assert pybnf_exp.read_exp(p).n_rows == 5


def test_petab_sample_times_beyond_the_limit_are_refused(tmp_path, monkeypatch):
    import bngfit.files._limits as limits

    monkeypatch.setattr(limits, "MAX_OUTPUT_POINTS", 7)
    with pytest.raises(InputError) as exc:
        load_problem(CONVERSION / "problem.yaml")  # 8 sample times per condition
    assert "condition 'low'" in str(exc.value) and "measurements.tsv" in str(exc.value)


# ------------------------------------------------- one thing declared twice
def test_two_time_courses_with_one_suffix_are_refused(tmp_path):
    """Which of the two would the data be compared with? (Read the first, silently.)"""
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    with open(conf, "a") as fh:
        fh.write("time_course = time: 10, suffix: par1\n")
    with pytest.raises(InputError) as exc:
        load_problem(conf)
    assert "demo_xml.conf:27" in str(exc.value) and "'par1'" in str(exc.value)
    assert "line 26" in str(exc.value)


def test_one_column_named_by_two_observable_records_is_refused(tmp_path):
    d = _copy(EDITION2, tmp_path)
    with open(d / "job.conf", "a") as fh:
        fh.write("observable: Bx, column: B\nobservable: By, column: B\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "job.conf")
    assert "job.conf:28" in str(exc.value) and "'B'" in str(exc.value)
    assert "line 27" in str(exc.value)


# ------------------------------------------------------- numbers as written
@pytest.mark.parametrize("text", ["1_0", "0x10", "\u0661", "1e", "1.2.3", "--1"])
def test_numbers_python_would_stretch_are_refused(text):
    """Python's float() reads '1_0' as 10 and an Arabic-Indic one as 1; other tools do not."""
    from bngfit.files._tables import parse_float

    with pytest.raises(ValueError):
        parse_float(text)


@pytest.mark.parametrize("text,value", [("1", 1.0), ("-1.5", -1.5), (".5", 0.5), ("5.", 5.0),
                                        ("1E-3", 1e-3), ("+inf", float("inf")), (" 2 ", 2.0)])
def test_plain_numbers_are_read(text, value):
    from bngfit.files._tables import parse_float

    assert parse_float(text) == value


@pytest.mark.parametrize("table,line,col,text", [
    ("measurements.tsv", 2, 3, "0.7_47444"),
    ("conditions.tsv", 2, 2, "1_0"),
    ("parameters.tsv", 2, 4, "1_0"),
])
def test_digit_groups_in_petab_cells_are_refused(tmp_path, table, line, col, text):
    d = _copy(CONVERSION, tmp_path)
    rows = [r.split("\t") for r in (d / table).read_text().splitlines()]
    rows[line - 1][col] = text
    (d / table).write_text("\n".join("\t".join(r) for r in rows) + "\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    assert f"{table}:{line}" in str(exc.value) and f"'{text}'" in str(exc.value)


def test_digit_groups_in_pybnf_files_are_refused(tmp_path):
    d = _copy(EDITION2, tmp_path)
    (d / "high.exp").write_text((d / "high.exp").read_text().replace("2.93198", "2.93_198"))
    with pytest.raises(InputError, match=r"high.exp:2.*'2.93_198'"):
        load_problem(d / "job.conf")
    d = _copy(EDITION2, tmp_path / "b")
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
    d = _copy(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    exp = d / "par1.exp"
    rows = [r.split() for r in exp.read_text().splitlines()]
    for r in rows[1:]:
        if r:
            r[1], r[3] = "nan", "nan"  # x and x_SD
    exp.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    problem = load_problem(d / "demo_xml.conf")
    [w] = [w for w in problem.warnings if "par1.exp" in (w.file or "")]
    assert w.id == "x" and "no values" in w.message and not w.affects_result


def test_loading_bngl_keeps_the_output_streams(tmp_path, monkeypatch):
    from bngfit.simulate._engine import read_model_info

    bngl = shared_path("benchmarks", "pybnf", "demo", "parabola.bngl").read_text()
    for v in ("v1", "v2", "v3"):
        bngl = bngl.replace(f"{v}__FREE", "1")
    (tmp_path / "m.bngl").write_text(bngl)
    monkeypatch.setattr(sys, "argv", ["script.py", "-q"])
    before = (sys.stdout, sys.stderr)
    try:
        read_model_info(tmp_path / "m.bngl")
        after = (sys.stdout, sys.stderr)
    finally:
        sys.stdout, sys.stderr = before
    assert after == before


def test_a_fit_keeps_and_shows_the_warnings_that_change_the_objective(tmp_path):
    """fit prints the warning once, its summary names it, the store keeps it for show."""
    import json

    conf = _conf_with_unknown_key(tmp_path)
    store = tmp_path / "run.db"
    proc = subprocess.run(
        [sys.executable, "-m", "bngfit.cli", "fit", str(conf), "--starts", "2", "--race", "1",
         "--engine", "sequential", "--no-progress", "--store", str(store)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if "objfnc" in ln]) == 1, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if "objfnc" in ln]
    assert line.startswith("the objective differs from the files as written:")
    assert "demo_xml.conf:12" in line
    shown = subprocess.run([sys.executable, "-m", "bngfit.cli", "show", str(store), "--json"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    [warning] = json.loads(shown.stdout)["warnings"]
    assert "objfnc" in warning and "demo_xml.conf:12" in warning
