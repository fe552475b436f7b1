"""Worker processes: they die with their run, a dead one costs only its start,
termination keeps the finished starts, and they write nothing on stdout.

Processes are found through /proc (no psutil): a run is started in a session
of its own, so every process it forks shares its process group.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bngfit
from bngfit.optimize._executors import ExecutorName, Terminated, raise_terminated, run_unordered
from bngfit.optimize._pool import WorkerDied, died_message
from bngfit.result._store import load_result
from tests.helpers import EXAMPLE, blowup_problem, recovery_problem

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SLOW = ["--rtol", "1e-12", "--atol", "1e-14"]  # starts of about a second each


# ------------------------------------------------------------------ helpers
def _procs() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, process group, state) of every process, from /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces
        out[int(d)] = (int(fields[1]), int(fields[2]), fields[0])
    return out


def _alive_in_group(pgid: int) -> set[int]:
    """Live (not zombie) processes of the process group ``pgid``."""
    return {pid for pid, (_, grp, state) in _procs().items() if grp == pgid and state != "Z"}


def _children(pid: int) -> set[int]:
    return {p for p, (ppid, _, state) in _procs().items() if ppid == pid and state != "Z"}


def _wait_for(cond, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def _n_finished(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM starts").fetchone()[0]
    except sqlite3.DatabaseError:  # not created yet
        return 0


def _start_run(cmd: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)


def _cleanup(proc: subprocess.Popen) -> None:
    """Kill what is left of a run this test started (its own process group only)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _fit_cmd(db: Path, starts: int = 40) -> list[str]:
    return [sys.executable, "-m", "bngfit.cli", "fit", str(EXAMPLE), "--starts", str(starts),
            "--seed", "2", "--workers", "2", "--store", str(db), "--no-progress", *SLOW]


def _until_workers_compute(proc: subprocess.Popen, db: Path, n_done: int = 1) -> set[int]:
    """Wait until the run has two workers and ``n_done`` stored starts; its workers."""
    ok = _wait_for(lambda: len(_children(proc.pid)) >= 2 and _n_finished(db) >= n_done
                   or proc.poll() is not None, 240)
    assert ok and proc.poll() is None, f"the run ended early: {proc.communicate()}"
    workers = _children(proc.pid)
    assert len(workers) >= 2
    return workers


# ------------------------------------------------------- the pool, exactly
def _task(t: int) -> int:
    if t == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    if t == 5:
        os.write(1, b"fd 1 of a worker\n")  # must not reach the parent's stdout
    time.sleep(0.05)
    return 10 * t


def test_pool_records_the_task_whose_worker_died_and_goes_on(capfd):
    results = list(run_unordered(_task, range(9), engine=ExecutorName.PROCESS, workers=2,
                                 lost=lambda t, msg: ("lost", t, msg)))
    lost = [r for r in results if isinstance(r, tuple)]
    assert lost == [("lost", 3, "worker process died (signal 9: SIGKILL)")]
    assert sorted(r for r in results if not isinstance(r, tuple)) == \
        [0, 10, 20, 40, 50, 60, 70, 80]
    out = capfd.readouterr()
    assert "fd 1 of a worker" not in out.out
    assert "fd 1 of a worker" in out.err  # without a solver log: stdout -> stderr


def test_pool_without_a_handler_raises_worker_died():
    with pytest.raises(WorkerDied, match=r"signal 9: SIGKILL\) while running task 3"):
        list(run_unordered(_task, range(6), engine=ExecutorName.PROCESS, workers=2))


def _raises(t: int) -> int:
    if t == 2:
        raise ZeroDivisionError("division by zero in task 2")
    return t


def test_pool_reraises_what_a_task_raised():
    with pytest.raises(ZeroDivisionError, match="in task 2"):
        list(run_unordered(_raises, range(4), engine=ExecutorName.PROCESS, workers=2))


def test_died_message_names_signal_or_exit_code():
    assert died_message(-9) == "worker process died (signal 9: SIGKILL)"
    assert died_message(-11) == "worker process died (signal 11: SIGSEGV)"
    assert died_message(3) == "worker process died (exit code 3)"


def _sleeper(t: int) -> int:
    time.sleep(60)
    return t


def test_leaving_the_loop_kills_the_workers_at_once():
    before = _children(os.getpid())
    seen: set[int] = set()

    def stop():  # once the workers run their (minute-long) tasks
        seen.update(_children(os.getpid()) - before)
        os.kill(os.getpid(), signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, raise_terminated)
    try:
        threading.Timer(1.5, stop).start()
        t0 = time.monotonic()
        with pytest.raises(Terminated) as info:
            for _ in run_unordered(_sleeper, range(4), engine=ExecutorName.PROCESS,
                                   workers=2):
                pass
        took = time.monotonic() - t0 - 1.5
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert info.value.exit_code == 128 + signal.SIGUSR1
    assert len(seen) == 2
    assert took < 3, f"the pool waited {took:.1f} s for running tasks"
    assert not seen & _children(os.getpid())  # killed and reaped


def test_terminated_carries_the_shell_exit_code():
    assert Terminated(signal.SIGTERM).exit_code == 143
    assert "SIGTERM" in str(Terminated(signal.SIGTERM))
    assert not isinstance(Terminated(15), Exception)  # no `except Exception` swallows it


# --------------------------------------------------- a worker killed mid-fit
def test_a_killed_worker_costs_only_the_start_it_ran(problem_writer, tmp_path, monkeypatch):
    import bngfit.optimize._multistart as ms

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    real = ms.run_start
    mark = tmp_path / "start1.pid"

    def slow_second(task):  # forked workers inherit this patch
        if task.index == 1:
            mark.write_text(str(os.getpid()))
            time.sleep(120)
        return real(task)

    def killer():
        if _wait_for(mark.exists, 120):
            time.sleep(0.2)
            os.kill(int(mark.read_text()), signal.SIGKILL)

    monkeypatch.setattr(ms, "run_start", slow_second)
    threading.Thread(target=killer, daemon=True).start()
    db = tmp_path / "run.db"
    t0 = time.monotonic()
    result = ms.fit(problem, optimizer="least_squares", n_starts=5, rng=4, engine="process",
                    workers=2, race=1, store=db)
    assert time.monotonic() - t0 < 100, "the fit waited for the sleeping start"
    by = {s.index: s for s in result.starts}
    assert set(by) == {0, 1, 2, 3, 4}
    assert by[1].status.value == "error"
    assert by[1].message == "worker process died (signal 9: SIGKILL)"
    assert by[1].fval == float("inf")
    assert all(by[i].status.value == "converged" for i in (0, 2, 3, 4))
    stored = {s.index: s for s in load_result(db).starts}
    assert stored[1].message == "worker process died (signal 9: SIGKILL)"
    assert result.best_fval == pytest.approx(min(by[i].fval for i in (0, 2, 3, 4)))


@pytest.mark.slow
def test_cli_fit_survives_a_killed_worker(tmp_path):
    db = tmp_path / "run.db"
    proc = _start_run([*_fit_cmd(db, starts=12), "--json"], tmp_path)
    try:
        workers = _until_workers_compute(proc, db)
        os.kill(min(workers), signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        _cleanup(proc)
    assert proc.returncode == 0, err
    assert "internal error" not in err
    summary = json.loads(out)
    assert summary["n_finished"] == 12
    died = [s for s in summary["starts"] if s["message"].startswith("worker process died")]
    # the worker was killed while computing a start (idle only between two tasks)
    assert len(died) <= 1
    assert all(s["status"] == "error" for s in died)


# ------------------------------------------------------ the run is killed
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_fit_leaves_no_process_behind(tmp_path, sig):
    db = tmp_path / "run.db"
    proc = _start_run(_fit_cmd(db), tmp_path)
    try:
        workers = _until_workers_compute(proc, db)
        os.kill(proc.pid, sig)  # the run's process only, not its group
        proc.wait(timeout=30)
        t0 = time.monotonic()
        gone = _wait_for(lambda: not _alive_in_group(proc.pid), 10)
        left = _alive_in_group(proc.pid)
    finally:
        _cleanup(proc)
    assert gone, f"still running 10 s after {sig.name}: {left} (workers were {workers})"
    print(f"{sig.name}: workers gone {time.monotonic() - t0:.2f} s after the run")
    if sig == signal.SIGTERM:  # 143 with the command line's handler, -15 without one
        assert proc.returncode in (143, -signal.SIGTERM)
    # Every start finished before the signal is in the store, which reads back.
    assert len(load_result(db).starts) >= 1


SCRIPT = """
import signal, sys
import bngfit
from bngfit.optimize._executors import Terminated, raise_terminated
from bngfit.optimize._multistart import fit

signal.signal(signal.SIGTERM, raise_terminated)
try:
    fit(bngfit.load_problem(sys.argv[1]), n_starts=40, rng=3, engine="process", workers=2,
        store=sys.argv[2], objective_opts={"rtol": 1e-12, "atol": 1e-14})
except Terminated as stop:
    sys.exit(stop.exit_code)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_terminated_fit_stops_its_workers_and_keeps_its_starts(tmp_path, sig, code):
    db = tmp_path / "run.db"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = _start_run([sys.executable, str(script), str(EXAMPLE), str(db)], tmp_path)
    try:
        _until_workers_compute(proc, db, n_done=2)
        before = _n_finished(db)
        os.kill(proc.pid, sig)
        t0 = time.monotonic()
        proc.wait(timeout=30)
        stopped = time.monotonic() - t0
        gone = _wait_for(lambda: not _alive_in_group(proc.pid), 10)
    finally:
        _cleanup(proc)
    assert proc.returncode == code, proc.stderr.read()
    assert stopped < 5, f"the run took {stopped:.1f} s to stop"
    assert gone
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    result = load_result(db)
    assert before <= len(result.starts) < 40
    assert all(s.status.value != "error" for s in result.starts)  # none cut off and stored


# ------------------------------------------------- nothing on stdout but JSON
def test_process_engine_json_is_json_when_the_solver_complains(problem_writer, tmp_path):
    problem = blowup_problem(problem_writer)
    run = subprocess.run(
        [sys.executable, "-m", "bngfit.cli", "fit", str(problem.source), "--json",
         "--engine", "process", "--workers", "2", "--starts", "4", "--race", "1",
         "--start-points", str(_points(tmp_path)), "--no-progress",
         "--store", str(tmp_path / "run.db"), "--best", str(tmp_path / "best.tsv")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)  # nothing else on stdout
    assert out["n_finished"] == 4
    log = (tmp_path / "run.db.solver.log").read_text()
    assert "CVode" in log or "ERROR" in log  # the solver did complain, into the log


def _points(tmp_path: Path) -> Path:
    """A start point where dX/dt = k X^2 blows up before the last data time (k = 5)."""
    path = tmp_path / "starts.tsv"
    path.write_text(f"k\n{np.log10(5.0)}\n")
    return path


def test_workers_without_a_store_keep_solver_lines_off_the_terminal(problem_writer, capfd,
                                                                    caplog):
    caplog.set_level("DEBUG", logger="bngfit.solver")
    problem = blowup_problem(problem_writer)
    bngfit.fit(problem, optimizer="least_squares", n_starts=2, engine="process", workers=2,
               starts=[[np.log10(5.0)], [np.log10(0.05)]])
    out = capfd.readouterr()
    assert "CVode" not in out.out and "[WARNING]" not in out.out
    assert "CVode" not in out.err and "[ERROR]" not in out.err
    # the solver did complain: into the log
    assert any("CVode" in r.getMessage() for r in caplog.records if r.name == "bngfit.solver")


# ----------------------------------------------------------------- Dask
@pytest.mark.parametrize("address, match", [
    ("tcp://127.0.0.1:1", r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1 "
                          r"\(Connection refused\).*--scheduler"),
    ("127.0.0.1:1", r"cannot reach the Dask scheduler at 127\.0\.0\.1:1"),
    ("scheduler.example", r"not a Dask scheduler address: use PROTOCOL://HOST:PORT"),
    ("http://127.0.0.1:8786", r"not a Dask scheduler address"),
    ("tcp://127.0.0.1:70000", r"not a Dask scheduler address"),
])
def test_unreachable_dask_scheduler_is_a_clear_error(problem_writer, tmp_path, capfd,
                                                     address, match):
    pytest.importorskip("distributed")
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    t0 = time.monotonic()
    with pytest.raises(bngfit.InputError, match=match):
        bngfit.optimize._multistart.fit(problem, n_starts=2, engine="dask", scheduler=address,
                              store=db)
    assert time.monotonic() - t0 < 10
    assert not db.exists()  # refused before the store was created
    assert capfd.readouterr().err == ""  # the library printed nothing


@pytest.mark.slow
def test_local_dask_workers_keep_stdout_clean(problem_writer, tmp_path, capfd):
    pytest.importorskip("distributed")
    problem = blowup_problem(problem_writer)
    db = tmp_path / "run.db"
    r = bngfit.fit(problem, optimizer="least_squares", n_starts=2, engine="dask",
                   workers=2, store=db,
                   starts=[[np.log10(5.0)], [np.log10(0.05)]])
    assert len(r.starts) == 2
    assert "CVode" not in capfd.readouterr().out
    log = (tmp_path / "run.db.solver.log").read_text()
    assert "CVode" in log or "ERROR" in log
