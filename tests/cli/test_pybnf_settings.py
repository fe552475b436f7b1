"""A PyBNF job's settings on the command line: the one line, precedence, output_dir.

The jobs are copies of the shared PyBNF demo (a parabola: fits take a fraction of a
second). Expected file layouts follow PyBNF's own writers (``Trajectory._write``,
``BNGLModel.save``), not bngfit's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bngfit.cli._main import main
from bngfit.result._store import load_result
from tests.helpers import copy_into, shared_path

FAST = ["--race", "1", "--engine", "sequential", "--no-progress"]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)


def _edit(conf: Path, old: str, new: str) -> Path:
    text = conf.read_text()
    assert old in text
    conf.write_text(text.replace(old, new))
    return conf


def _lines(text: str, part: str) -> list[str]:
    return [ln for ln in text.splitlines() if part in ln]


def test_fit_writes_into_output_dir_with_pybnfs_results(demo, capsys):
    conf = demo / "demo_bng.conf"
    assert main(["fit", str(conf), "--starts", "3", *FAST]) == 0
    out, err = capsys.readouterr()
    folder = demo / "output" / "demo_bng"  # relative to the .conf's folder
    assert (folder / "demo_bng.fit.db").is_file()
    assert (folder / "demo_bng.best_parameters.tsv").is_file()
    assert not Path("demo_bng.fit.db").exists()  # nothing in the working folder
    assert f"store: {folder / 'demo_bng.fit.db'}" in out
    # PyBNF's sorted parameter table: its header, one row per start, best first
    rows = (folder / "Results" / "sorted_params_final.txt").read_text().splitlines()
    assert rows[0] == "#\tSimulation\tObj\tv1__FREE\tv2__FREE\tv3__FREE"
    fields = [r.split("\t") for r in rows[1:]]
    assert len(fields) == 3 and all(f[0] == "" for f in fields)
    result = load_result(folder / "demo_bng.fit.db")
    assert sorted(f[1] for f in fields) == sorted(f"start{s.index}" for s in result.starts)
    objs = [float(f[2]) for f in fields]
    assert objs == sorted(objs) and objs[0] == pytest.approx(result.best_fval, rel=1e-12)
    best = dict(zip(result.x_names, result.best.x, strict=True))  # lin scale: native
    assert [float(v) for v in fields[0][3:]] == pytest.approx(
        [best["v1__FREE"], best["v2__FREE"], best["v3__FREE"]], rel=1e-12)
    # the template with its placeholders defined at the best values
    model = (folder / "Results" / "parabola_bestfit.bngl").read_text()
    for name, value in best.items():
        assert f"{name} {float(value)!r}" in model
    assert "v1 v1__FREE" in model  # the template's own lines kept
    # the one line of settings not used, and the line of those used
    [unused] = _lines(err, "PyBNF settings not used")
    assert "fit_type = de (line 13)" in unused and "verbosity = 2 (line 26)" in unused
    [used] = _lines(err, "run settings from demo_bng.conf")
    assert "optimizer least_squares ran (fit_type = de: no gradient method" in used
    assert "population_size = 20 not used" in used  # --starts 3 beats it


def test_a_second_run_into_the_same_output_dir_is_refused(demo, capsys):
    conf = demo / "demo_bng.conf"
    assert main(["fit", str(conf), "--starts", "2", *FAST]) == 0
    assert main(["fit", str(conf), "--starts", "2", *FAST]) == 2
    assert "the store already exists" in capsys.readouterr().err
    # a folder holding PyBNF's own results (no bngfit store) is not written over
    (demo / "output" / "demo_bng" / "demo_bng.fit.db").unlink()
    assert main(["fit", str(conf), "--starts", "2", *FAST]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "does not overwrite it" in err


def test_resume_in_output_dir_rewrites_its_own_results(demo, capsys):
    conf = demo / "demo_bng.conf"
    assert main(["fit", str(conf), "--starts", "2", *FAST]) == 0
    assert main(["fit", str(conf), "--starts", "3", "--resume", *FAST]) == 0
    rows = (demo / "output" / "demo_bng" / "Results" / "sorted_params_final.txt").read_text()
    assert len(rows.splitlines()) == 1 + 3


def test_store_or_best_on_the_command_line_place_the_outputs(demo, capsys):
    conf = demo / "demo_bng.conf"
    assert main(["fit", str(conf), "--starts", "2", "--store", "mine.db", *FAST]) == 0
    assert Path("mine.db").is_file() and Path("demo_bng.best_parameters.tsv").is_file()
    assert not (demo / "output").exists()


def test_num_to_output_caps_the_rows_and_sbml_gets_a_best_fit_model(demo, capsys):
    import libsbml

    conf = _edit(demo / "demo_xml.conf", "verbosity = 2", "num_to_output = 2")
    assert main(["fit", str(conf), "--starts", "3", *FAST]) == 0
    results = demo / "output" / "demo_xml" / "Results"
    assert len((results / "sorted_params_final.txt").read_text().splitlines()) == 1 + 2
    result = load_result(demo / "output" / "demo_xml" / "demo_xml.fit.db")
    model = libsbml.readSBMLFromFile(str(results / "parabola_bestfit.xml")).getModel()
    for name, value in zip(result.x_names, result.best.x, strict=True):
        assert model.getParameter(name).getValue() == pytest.approx(value, rel=1e-14)


def test_output_dir_that_is_a_file_is_refused_naming_the_line(demo, capsys):
    conf = demo / "demo_bng.conf"
    (demo / "output").write_text("not a folder")
    assert main(["fit", str(conf), "--starts", "2", *FAST]) == 2
    err = capsys.readouterr().err
    assert "demo_bng.conf:4, id 'output_dir'" in err and "is a file, not a folder" in err


def test_job_settings_beat_defaults_and_options_beat_the_job(demo, capsys):
    conf = _edit(demo / "demo_xml.conf", "fit_type = de", "fit_type = lbfgs\nrandom_seed = 7")
    conf = _edit(conf, "population_size = 20", "population_size = 3")
    assert main(["fit", str(conf), "--json", *FAST]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["optimizer"], out["seed"], out["n_starts"]) == ("lbfgsb", 7, 3)
    stored = load_result(Path(out["store"]))
    assert stored.settings["max_iterations"] == 30 and out["output_dir"]
    assert main(["fit", str(conf), "--json", "--optimizer", "fides", "--seed", "1",
                 "--starts", "2", "--max-iterations", "5", "--store", "cli.db", *FAST]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["optimizer"], out["seed"], out["n_starts"]) == ("fides", 1, 2)
    assert load_result(Path("cli.db")).settings["max_iterations"] == 5


@pytest.mark.parametrize("command", ["validate", "evaluate", "check-grad"])
def test_the_line_of_settings_not_used_reaches_other_commands_once(demo, capsys, command):
    assert main([command, str(demo / "demo_xml.conf")]) == 0
    out, err = capsys.readouterr()
    lines = _lines(out + err, "PyBNF settings not used")
    assert len(lines) == 1 and "fit_type = de (line 10)" in lines[0]
    assert not _lines(out + err, "run settings from")  # what ran: fit only
