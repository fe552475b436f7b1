"""Progress while starts run (sequential, process and Dask engines, the bar) and the
solver's C-level output kept off the terminal and passed to logging on every engine."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import bngfit
import bngfit.optimize._progress as progress_mod
from bngfit.optimize._capture import Redirect
from bngfit.optimize._progress import FitProgress
from tests.helpers import EXAMPLE, blowup_problem, recovery_problem

BLOWUP_STARTS = [[np.log10(5.0)], [np.log10(0.05)]]  # the first fails to simulate


def _temp_logs() -> set[str]:
    return {f for f in os.listdir(tempfile.gettempdir()) if f.startswith("bngfit-solver-")}


def _solver_records(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bngfit.solver"]


# ------------------------------------------------------------------ solver output
@pytest.mark.parametrize("engine", ["sequential", "process", "dask"])
def test_solver_lines_go_to_the_log_not_the_terminal(problem_writer, capfd, caplog, engine):
    if engine == "dask":
        pytest.importorskip("distributed")
    caplog.set_level("DEBUG", logger="bngfit.solver")
    problem = blowup_problem(problem_writer)
    before = _temp_logs()
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=2, engine=engine, workers=2,
                   starts=BLOWUP_STARTS)
    assert len(r.starts) == 2
    out = capfd.readouterr()
    for text in ("[WARNING]", "[ERROR]", "CVode"):
        assert text not in out.out and text not in out.err, engine
    lines = _solver_records(caplog)
    assert any("CVode" in m and m.startswith(("[WARNING]", "[ERROR]")) for m in lines), engine
    summary = [m for m in lines if m.startswith("the ODE solver printed")]
    assert len(summary) == 1 and "DEBUG level" in summary[0]
    assert _temp_logs() <= before  # the temporary log is gone


def test_sequential_solver_lines_go_to_the_store_log(problem_writer, tmp_path, capfd,
                                                     caplog):
    caplog.set_level("DEBUG", logger="bngfit.solver")
    db = tmp_path / "run.db"
    bngfit.fit(blowup_problem(problem_writer), optimizer="least_squares", n_starts=2,
               engine="sequential", starts=BLOWUP_STARTS, store=db)
    text = (tmp_path / "run.db.solver.log").read_text()
    assert "[WARNING]" in text and "CVode" in text
    assert "CVode" not in capfd.readouterr().out
    assert sum("CVode" in m for m in _solver_records(caplog)) == text.count("CVode")
    # a quiet fit leaves no empty log beside its store
    quiet = tmp_path / "quiet.db"
    bngfit.fit(bngfit.load_problem(EXAMPLE), n_starts=1, engine="sequential", race=1,
               store=quiet)
    assert quiet.exists() and not (tmp_path / "quiet.db.solver.log").exists()


def test_redirect_sorts_solver_lines_from_other_output(tmp_path, capfd):
    log = tmp_path / "solver.log"
    with Redirect(str(log)) as red:
        os.write(1, b"[WARNING][rank 0][cvodes.c:1][CVode] t + h = t\n")
        os.write(2, b"a python handler's line\n")
        with red.paused():
            os.write(2, b"drawn while paused\n")
        os.write(2, b"[ERROR][rank 0][cvodes.c:2][CVode] mxstep\n")
    out = capfd.readouterr()
    assert out.out == ""
    assert out.err == "a python handler's line\ndrawn while paused\n"
    assert log.read_text() == ("[WARNING][rank 0][cvodes.c:1][CVode] t + h = t\n"
                               "[ERROR][rank 0][cvodes.c:2][CVode] mxstep\n")
    os.write(1, b"after\n")  # the descriptors are back
    assert capfd.readouterr().out == "after\n"


# ------------------------------------------------------------------ progress
@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_progress_arrives_while_the_only_start_runs(problem_writer, monkeypatch, engine):
    monkeypatch.setattr(progress_mod, "PROGRESS_S", 0.0)  # every evaluation (forked workers too)
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    events: list[FitProgress] = []
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=1, rng=3, race=1,
                   engine=engine, workers=1, progress=events.append)
    assert [e.finished for e in events].count(None) == len(events) - 1
    assert events[-1].finished is r.starts[0] or events[-1].finished.index == 0
    running = events[:-1]
    # one event per evaluation of the start, before it finished
    assert len(running) == r.n_fval >= 5
    assert [e.n_fval for e in running] == list(range(1, r.n_fval + 1))
    assert all(e.n_done == 0 and e.running == 1 and e.n_starts == 1 for e in running)
    bests = [e.best_fval for e in running]
    assert bests == sorted(bests, reverse=True) and np.isfinite(bests[-1])
    last = events[-1]
    assert (last.n_done, last.n_fval, last.running) == (1, r.n_fval, 0)
    assert last.best_fval == r.best_fval
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(events, events[1:], strict=False))


def test_progress_is_throttled_and_counts_every_start(problem_writer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    events: list[FitProgress] = []
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=4, rng=3, race=2,
                   engine="process", workers=2, progress=events.append)
    finished = [e for e in events if e.finished is not None]
    assert sorted(e.finished.index for e in finished) == [0, 1, 2, 3]
    assert [e.n_done for e in finished] == [1, 2, 3, 4]
    # at least the first evaluation of every start is reported; far fewer than all
    assert 4 <= len(events) - 4 < r.n_fval
    assert events[-1].n_fval == r.n_fval and events[-1].best_fval == r.best_fval


def test_dask_progress_arrives_while_starts_run(problem_writer):
    pytest.importorskip("distributed")
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    events: list[FitProgress] = []
    # slow starts (tight tolerances): reports pass through the scheduler in time
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=2, rng=3, race=3,
                   engine="dask", workers=2, progress=events.append,
                   objective_opts={"rtol": 1e-12, "atol": 1e-14})
    finished = [e for e in events if e.finished is not None]
    assert [e.n_done for e in finished] == [1, 2]
    before_first = events[:events.index(finished[0])]
    assert before_first and all(e.n_done == 0 and e.n_fval >= 1 for e in before_first)
    assert events[-1].n_fval == r.n_fval and events[-1].best_fval == r.best_fval


def test_resumed_progress_counts_the_stored_starts(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    first = bngfit.fit(problem, optimizer="least_squares", n_starts=3, rng=3, race=1,
                       engine="sequential", store=db, max_time=1e-9)
    assert len(first.starts) == 1
    events: list[FitProgress] = []
    r = bngfit.fit(problem, engine="sequential", store=db, resume=True,
                   progress=events.append)
    assert events[0].n_done == 1 and events[0].n_fval > first.n_fval
    assert events[0].best_fval <= first.best_fval
    assert events[-1].n_done == 3 and events[-1].n_fval == r.n_fval


def test_progress_true_draws_a_bar_with_evaluations_and_best(problem_writer, capfd):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=2, rng=3, race=1,
                   engine="sequential", progress=True)
    err = capfd.readouterr().err
    assert "2/2" in err and f"evals={r.n_fval} best={r.best_fval:.6g}" in err
    bngfit.fit(problem, optimizer="least_squares", n_starts=1, race=1, engine="sequential")
    assert capfd.readouterr().err == ""  # progress=False by default: nothing


@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_cli_bar_shows_evaluations_and_best(tmp_path, engine):
    import json
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "bngfit.cli", "fit", str(EXAMPLE), "--starts", "2", "--race",
         "1", "--engine", engine, "--workers", "2", "--json", "--store",
         str(tmp_path / "run.db"), "--best", str(tmp_path / "best.tsv")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)  # the bar is on stderr only
    assert "2/2" in run.stderr
    assert f"evals={out['n_fval']} best={out['best_fval']:.6g}" in run.stderr


def test_progress_of_another_kind_is_refused_before_any_work(tmp_path):
    db = tmp_path / "run.db"
    with pytest.raises(bngfit.InputError, match="progress must be True, False or a callable"):
        bngfit.fit(bngfit.load_problem(EXAMPLE), n_starts=1, progress="yes", store=db)
    assert not db.exists()


@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_a_failing_progress_callback_costs_no_start(problem_writer, caplog, engine):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    calls = []

    def broken(event):
        calls.append(event)
        raise ZeroDivisionError("a bug in the display")

    r = bngfit.fit(problem, optimizer="least_squares", n_starts=2, rng=3, race=1,
                   engine=engine, workers=2, progress=broken)
    assert len(calls) == 1
    assert all(s.status.value == "converged" for s in r.starts)
    warned = [rec for rec in caplog.records if "progress callback raised" in rec.getMessage()]
    assert len(warned) == 1 and "a bug in the display" in warned[0].exc_text
