"""The fitting CLI: fit --json, show, plot, resume after SIGKILL, refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bngfit.cli._main import main
from tests.helpers import EXAMPLE


def _bngfit(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "bngfit.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_fit_json_show_and_best_table(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", str(EXAMPLE), "--starts", "4", "--seed", "3", "--engine",
                 "sequential", "--json", "--no-progress"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("best_fval", "n_starts", "n_converged", "wall_s", "starts", "race"):
        assert key in out
    assert out["n_starts"] == 4 and len(out["starts"]) == 4
    assert out["closed_form_noise"] == ["sigma_B"] and out["race"] == 5
    assert {"x", "fval", "status", "n_fval"} <= set(out["starts"][0])
    assert out["best_fval"] == min(s["fval"] for s in out["starts"])
    # The best parameters as a PEtab parameter table: native values at the optimum.
    table = pd.read_csv(tmp_path / "problem.best_parameters.tsv", sep="\t")
    best = dict(zip(out["x_names"], out["best_x"], strict=True))
    for _, row in table.iterrows():
        if row["estimate"] == 1:
            assert row["nominalValue"] == pytest.approx(10 ** best[row["parameterId"]])
    # show: the same summary from the store.
    assert main(["show", "problem.fit.db", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["best_fval"] == out["best_fval"]
    assert shown["n_converged"] == out["n_converged"]
    assert main(["show", "problem.fit.db"]) == 0
    text = capsys.readouterr().out
    assert "best fval" in text and "race: 5 candidates per start, short runs of 35" in text
    assert "noise parameters in closed form at each evaluation: sigma_B" in text


def test_no_hierarchical_optimizes_every_parameter(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(EXAMPLE), "--starts", "2", "--race", "1", "--no-hierarchical",
                 "--engine", "sequential", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["closed_form_noise"] == [] and out["race"] == 1
    # a resume must keep the stored choice
    assert main(["fit", str(EXAMPLE), "--resume", "--store", "problem.fit.db",
                 "--engine", "sequential", "--no-progress"]) == 0
    assert "closed form" not in capsys.readouterr().out


def test_fit_race_option_is_stored(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(EXAMPLE), "--starts", "2", "--race", "8", "--engine",
                 "sequential", "--no-progress"]) == 0
    assert "race: 8 candidates per start, short runs of 35" in capsys.readouterr().out
    # a resume with another race is refused; without one it takes the stored one
    assert main(["fit", str(EXAMPLE), "--resume", "--store", "problem.fit.db", "--race",
                 "1", "--engine", "sequential", "--no-progress"]) == 2
    assert "race: stored 8, given 1" in capsys.readouterr().err
    assert main(["fit", str(EXAMPLE), "--resume", "--store", "problem.fit.db",
                 "--engine", "sequential", "--no-progress"]) == 0


def test_plot_writes_pngs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(EXAMPLE), "--starts", "3", "--engine", "sequential",
                 "--check-grad", "--no-progress"]) == 0
    out = capsys.readouterr().out
    # the stored checks are summarised with their verdicts: the start point's
    # gradient agrees with its differences, and nothing reads as a mismatch
    assert "gradient check at start" in out and "gradient check at best" in out
    assert "gradient check at start of 4 parameters: 4 agree" in out and "MISMATCH" not in out
    assert "time of the starts in objective evaluations" in out
    assert main(["plot", "problem.fit.db", "-o", "plots"]) == 0
    names = {p.name for p in (tmp_path / "plots").iterdir()}
    assert names == {"waterfall.png", "parameters.png", "model_fit.png", "history.png",
                     "gradcheck.png"}
    for p in (tmp_path / "plots").iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


@pytest.mark.parametrize(
    ("args", "match"),
    [(["--optimizer", "newton"], "unknown optimizer"), (["--engine", "gpu"], "unknown engine"),
     (["--starts", "0"], "at least 1"), (["--resume", "--store", "none.db"],
                                         "nothing to resume"),
     (["--race", "0"], "race candidates"), (["--race-budget", "1"], "race budget")],
)
def test_fit_refusals_exit_2(tmp_path, capsys, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(EXAMPLE), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert not (tmp_path / "problem.fit.db").exists()


def test_show_of_missing_store_exit_2(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nothing.db")]) == 2
    assert "not found" in capsys.readouterr().err


def _finished(db) -> dict[int, tuple]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            rows = conn.execute("SELECT idx, x, fval FROM starts").fetchall()
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    return {i: (x, f) for i, x, f in rows}


@pytest.mark.slow
def test_resume_after_sigkill_keeps_finished_starts(tmp_path):
    db = tmp_path / "run.db"
    cmd = [sys.executable, "-m", "bngfit.cli", "fit", str(EXAMPLE), "--starts", "20",
           "--seed", "5", "--engine", "sequential", "--store", str(db), "--no-progress",
           "--rtol", "1e-12", "--atol", "1e-14"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while len(_finished(db)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(db)
    assert 3 <= len(before) < 20, "the run finished before it could be killed"
    done = _bngfit("fit", EXAMPLE, "--store", db, "--resume", "--json", "--no-progress",
                   "--engine", "sequential", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["n_finished"] == 20 and out["seed"] == 5
    after = _finished(db)
    assert set(after) == set(range(20))
    for i, (x, f) in before.items():
        assert after[i] == (x, f), f"start {i} changed on resume"
    # The stored settings were reused: the resumed starts come from the same seed.
    fresh = _bngfit("fit", EXAMPLE, "--starts", "20", "--seed", "5", "--engine", "sequential",
                    "--store", tmp_path / "fresh.db", "--json", "--no-progress",
                    "--rtol", "1e-12", "--atol", "1e-14", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    ref = {s["index"]: s for s in json.loads(fresh.stdout)["starts"]}
    for s in out["starts"]:
        np.testing.assert_allclose(s["x0"], ref[s["index"]]["x0"], rtol=0, atol=0)
        assert s["fval"] == pytest.approx(ref[s["index"]]["fval"], rel=1e-10)


def test_user_start_points_from_file_and_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pts = tmp_path / "starts.tsv"
    pts.write_text("k1\tk2\tscale_B\tsigma_B\n-0.5\t-0.5\t0\t-1\n0.5\t0.2\t0.1\t-0.5\n")
    assert main(["fit", str(EXAMPLE), "--starts", "3", "--start-points", str(pts),
                 "--engine", "sequential", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    x0 = {s["index"]: s["x0"] for s in out["starts"]}
    assert x0[0] == [-0.5, -0.5, 0.0, -1.0] and x0[1] == [0.5, 0.2, 0.1, -0.5]
    assert len(x0) == 3
    # Resuming a finished run without the file keeps the stored start points.
    assert main(["fit", str(EXAMPLE), "--resume", "--store", "problem.fit.db",
                 "--engine", "sequential", "--json", "--no-progress"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {s["index"]: s["x0"] for s in again["starts"]} == x0


@pytest.mark.parametrize(
    ("text", "match"),
    [("k1\tk2\tscale_B\n0\t0\t0\n", "missing: sigma_B"),
     ("k1\tk2\tscale_B\tsigma_B\tsigma_A\n0\t0\t0\t0\t0.1\n", "fixed in the problem"),
     ("k1\tk2\tscale_B\tsigma_B\n0\t0\tx\t0\n", "not a number"),
     ("k1\tk2\tscale_B\tsigma_B\n0\t0\t9\t0\n", "within the bounds")],
)
def test_bad_start_points_exit_2(tmp_path, capsys, monkeypatch, text, match):
    monkeypatch.chdir(tmp_path)
    pts = tmp_path / "starts.tsv"
    pts.write_text(text)
    assert main(["fit", str(EXAMPLE), "--start-points", str(pts), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert match in err and "starts.tsv:" in err and "Traceback" not in err


def test_fit_against_a_best_known_value(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    known = tmp_path / "best_known.tsv"
    # the example's optimum, -34.195258 (README quick start); one row for another problem
    known.write_text("problemId\tbest_known_fval\nother\t1\nproblem\t-34.195258\n")
    code = main(["fit", str(EXAMPLE), "--starts", "4", "--seed", "3", "--engine",
                 "sequential", "--json", "--no-progress", "--best-known", str(known)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    bk = out["best_known"]
    assert bk["problem_id"] == "problem" and bk["best_known_fval"] == -34.195258
    assert bk["gap"] == pytest.approx(out["best_fval"] + 34.195258, abs=1e-12)
    assert bk["solved"] and bk["starts_run"] == 4 and bk["failed_starts"] == 0
    assert bk["starts_within_1.92"] == sum(s["fval"] < -34.195258 + 1.92 for s in out["starts"])
    assert bk["cpu_s"] > 0 and bk["starts_within_per_cpu_hour"] == pytest.approx(
        bk["starts_within_1.92"] / (bk["cpu_s"] / 3600))
    # a file without this problem: refused before any start runs (no store)
    known.write_text("problemId\tbest_known_fval\nother\t1\n")
    code = main(["fit", str(EXAMPLE), "--starts", "2", "--store", "new.db", "--best-known",
                 str(known), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "best_known.tsv" in err and "problem" in err
    assert not (tmp_path / "new.db").exists()


def test_fit_limits_and_tolerances_reach_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(EXAMPLE), "--starts", "2", "--engine", "sequential",
                 "--max-evals", "6", "--max-start-time", "600", "--json",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["max_evals"] == 6 and out["max_start_time"] == 600.0
    assert all(s["n_fval"] <= 6 for s in out["starts"])
    assert (out["tolerances"]["rtol"], out["tolerances"]["atol"]) == (1e-8, 1e-10)
    assert out["tolerances"]["chosen"].startswith("the default")
    assert main(["show", "problem.fit.db"]) == 0
    text = capsys.readouterr().out
    assert "ODE tolerances: rtol 1e-08, atol 1e-10 (the default: values and gradients" in text
    assert "limits of each start: 6 evaluations, 600 s" in text
    for bad in (["--max-evals", "0"], ["--max-start-time", "-5"]):
        assert main(["fit", str(EXAMPLE), "--store", "x.db", *bad]) == 2
        assert bad[0] in capsys.readouterr().err


def test_evaluate_and_check_grad_state_their_tolerances(capsys):
    assert main(["evaluate", str(EXAMPLE), "--rtol", "1e-9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rtol"], out["atol"]) == (1e-9, 1e-10)
    assert main(["check-grad", str(EXAMPLE), "--atol", "1e-12"]) == 0
    assert "; ODE tolerances: rtol 1e-08, atol 1e-12;" in capsys.readouterr().out
