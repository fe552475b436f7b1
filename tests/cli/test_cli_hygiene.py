"""The command line as a process: option values, output paths, signals, streams.

Every test runs the real ``bngfit`` entry point in a subprocess (``python -m
bngfit.cli``), because what is checked belongs to the process: exit codes,
what reaches file descriptors 1 and 2, signals, a closed pipe.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, write_problem

CLI = [sys.executable, "-m", "bngfit.cli"]


def _bngfit(*args, cwd, timeout=300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)


def _one_paragraph(proc: subprocess.CompletedProcess, code: int, *pieces: str) -> None:
    """Exit ``code``, one line on stderr naming every piece, no traceback."""
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    for piece in pieces:
        assert piece in err, f"{piece!r} missing from: {err}"


# ------------------------------------------------------------------ blow-up model
# dX/dt = k X^2, X(0) = 1 reaches infinity at t = 1/k: with data up to t = 10,
# every k above 0.1 (log10 k > -1) makes CVODE print warnings and errors.
BLOW_UP = """
model blow
  compartment cell = 1;
  species X in cell;
  X = 1;
  k = 0.01;
  J: -> X; k*X^2;
end
"""


def blow_up_problem(folder: Path) -> Path:
    return write_problem(
        folder, model=BLOW_UP,
        parameters=[{"parameterId": "k", "parameterScale": "log10", "lowerBound": 0.001,
                     "upperBound": 10, "nominalValue": 0.01, "estimate": 1}],
        observables=[{"observableId": "obs_X", "observableFormula": "X",
                      "noiseFormula": "0.1"}],
        measurements=[{"observableId": "obs_X", "simulationConditionId": "c0", "time": t,
                       "measurement": m} for t, m in ((1, 1.1), (5, 1.2), (10, 1.3))])


def _point(folder: Path, log10_k: float) -> Path:
    path = folder / f"point_{log10_k}.tsv"
    path.write_text(f"parameterId\tvalue\nk\t{log10_k}\n")
    return path


@pytest.fixture(scope="module")
def blow_up(tmp_path_factory) -> Path:
    return blow_up_problem(tmp_path_factory.mktemp("blow") / "p")


def test_evaluate_json_is_json_when_the_solver_complains(blow_up, tmp_path):
    proc = _bngfit("evaluate", blow_up, "--point", _point(tmp_path, 0.0), "--json",
                   cwd=tmp_path)
    assert proc.returncode == 1  # the simulation fails at k = 1 (blow-up at t = 1)
    out = json.loads(proc.stdout)  # nothing but the object on stdout
    assert out["status"] == "simulation_failed" and out["fval"] is None
    assert "CVode" in proc.stderr  # the solver's lines went to stderr instead
    assert "Traceback" not in proc.stderr


def test_check_grad_json_is_json_when_the_solver_complains(blow_up, tmp_path):
    # k = 10^-1.01 integrates to t = 10; the forward step 0.1 crosses into blow-up
    proc = _bngfit("check-grad", blow_up, "--point", _point(tmp_path, -1.01), "--eps", "0.1",
                   "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["parameters"]
    assert [r["parameterId"] for r in rows] == ["k"]
    assert rows[0]["fd_f"] is None  # the forward difference is not finite
    assert "CVode" in proc.stderr


def test_fit_json_is_json_and_solver_output_goes_to_the_log(blow_up, tmp_path):
    store = tmp_path / "run.db"
    proc = _bngfit("fit", blow_up, "--starts", "4", "--seed", "1", "--race", "1",
                   "--engine", "sequential", "--store", store, "--json", "--no-progress",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_finished"] == 4
    # The solver's complaints are in the log, not on either terminal stream.
    log = Path(f"{store}.solver.log").read_text()
    assert "CVode" in log
    assert "CVode" not in proc.stderr


def test_fit_with_the_process_engine_keeps_stdout_clean(blow_up, tmp_path):
    store = tmp_path / "run.db"
    proc = _bngfit("fit", blow_up, "--starts", "4", "--seed", "1", "--race", "1",
                   "--engine", "process", "--workers", "2", "--store", store, "--json",
                   "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_finished"] == 4
    assert "CVode" not in proc.stderr


# ------------------------------------------------------------------ option values
@pytest.mark.parametrize(
    ("args", "pieces"),
    [(["--seed", "-1"], ["--seed", "'-1'"]),
     (["--seed", "1.5"], ["--seed", "'1.5'"]),
     (["--seed", str(2**63)], ["--seed", str(2**63)]),
     (["--starts", "0"], ["--starts", "'0'"]),
     (["--starts", "-4"], ["--starts", "'-4'"]),
     (["--starts", "ten"], ["--starts", "'ten'"]),
     (["--workers", "0"], ["--workers", "'0'"]),
     (["--race", "0"], ["--race", "'0'"]),
     (["--race", "-2"], ["--race", "'-2'"]),
     (["--race-budget", "1"], ["--race-budget", "'1'"]),
     (["--rtol", "0"], ["--rtol", "'0'"]),
     (["--rtol", "1.5"], ["--rtol", "'1.5'"]),
     (["--rtol", "inf"], ["--rtol", "'inf'"]),
     (["--atol=-1e-8"], ["--atol", "'-1e-8'"]),
     (["--atol", "-1e-8"], ["--atol", "expected one argument"]),  # argparse: an option?
     (["--atol", "nan"], ["--atol", "'nan'"]),
     (["--optimizer", "newton"], ["--optimizer", "'newton'", "least_squares, lbfgsb"]),
     (["--engine", "gpu"], ["--engine", "'gpu'", "sequential"]),
     (["--sampler", "sobol"], ["--sampler", "'sobol'", "lhs"]),
     (["--scheduler", "localhost"], ["--scheduler", "'localhost'", "tcp://"]),
     (["--scheduler", "http://h:8786"], ["--scheduler", "'http://h:8786'"]),
     (["--scheduler", "tcp://h:0"], ["--scheduler", "'tcp://h:0'"]),
     (["--scheduler", "tcp://h:123456"], ["--scheduler", "'tcp://h:123456'"]),
     (["--scheduler", "tcp://127.0.0.1:8786"], ["--scheduler needs --engine dask"])],
)
def test_fit_option_values_refused_up_front(tmp_path, args, pieces):
    t0 = time.perf_counter()
    proc = _bngfit("fit", EXAMPLE, "--no-progress", *args, cwd=tmp_path)
    _one_paragraph(proc, 2, *pieces)
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no store, no log, no table
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize(
    ("command", "args", "usage", "hint"),
    [("fit", ["--strats", "3"], "usage: bngfit fit", "--strats (did you mean --starts?)"),
     ("check-grad", ["--multieps"], "usage: bngfit check-grad",
      "--multieps (did you mean --multi-eps?)"),
     ("fit", ["--bogus"], "usage: bngfit fit", "unrecognized arguments: --bogus")],
)
def test_a_typo_shows_the_commands_usage_and_the_nearest_option(tmp_path, command, args,
                                                                  usage, hint):
    proc = _bngfit(command, EXAMPLE, *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(usage)  # the subcommand's usage, not the top level's
    assert hint in lines[-1] and "Traceback" not in proc.stderr
    assert lines[-1].startswith(f"bngfit {command}: bad option:")


@pytest.mark.parametrize(
    ("command", "args", "pieces"),
    [("evaluate", ["--rtol", "-1"], ["--rtol", "'-1'"]),
     ("evaluate", ["--atol", "0"], ["--atol", "'0'"]),
     ("simulate", ["-o", "s.tsv", "--rtol", "x"], ["--rtol", "'x'"]),
     ("check-grad", ["--eps", "0"], ["--eps", "'0'"]),
     ("check-grad", ["--eps", "nan"], ["--eps", "'nan'"]),
     ("check-grad", ["--label", "max"], ["--label", "'max'"]),
     ("check-grad", ["--eps", "1e-3", "--multi-eps"], ["not allowed with argument"]),
     ("simulate", [], ["-o/--output"])],
)
def test_other_option_values_refused(tmp_path, command, args, pieces):
    proc = _bngfit(command, EXAMPLE, *args, cwd=tmp_path)
    _one_paragraph(proc, 2, *pieces)
    assert proc.stdout == ""


def test_unreachable_scheduler_is_refused_before_loading(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on: bind, then close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = _bngfit("fit", EXAMPLE, "--engine", "dask", "--scheduler",
                   f"tcp://127.0.0.1:{port}", "--no-progress", cwd=tmp_path)
    _one_paragraph(proc, 2, "cannot reach the Dask scheduler", str(port))
    assert time.perf_counter() - t0 < 20
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_choices(tmp_path):
    proc = _bngfit("fit", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for words in ("least_squares, lbfgsb or fides", "sequential, process or dask",
                  "uniform or lhs", "tcp://127.0.0.1:8786"):
        assert words in text, words


# ------------------------------------------------------------------ output paths
@pytest.mark.parametrize(
    ("args", "pieces"),
    [(["--best", "missing/best.tsv"], ["--best", "missing", "does not exist"]),
     (["--store", "missing/run.db"], ["--store", "missing", "does not exist"]),
     (["--best", "."], ["--best", "folder, not a file"]),
     (["--store", "."], ["--store", "folder, not a file"]),
     (["--store", "x.db", "--best", "x.db"], ["--store and --best name the same file"])],
)
def test_fit_output_paths_checked_before_any_work(tmp_path, args, pieces):
    t0 = time.perf_counter()
    proc = _bngfit("fit", EXAMPLE, "--engine", "sequential", "--no-progress", *args,
                   cwd=tmp_path)
    _one_paragraph(proc, 2, *pieces)
    assert list(tmp_path.iterdir()) == []
    assert time.perf_counter() - t0 < 60  # refused before the fit (which takes longer)


@pytest.fixture
def read_only():
    """``read_only(path)`` makes a file or folder unwritable until the test ends.

    Root may write into any file or folder whatever its mode, so as root the
    path is made immutable (``chattr +i``, which refuses root's writes too);
    otherwise its write bits are cleared.
    """
    done: list[tuple[Path, int]] = []

    def make(path: Path) -> None:
        mode = path.stat().st_mode
        if os.geteuid() == 0:
            if shutil.which("chattr") is None or subprocess.run(
                    ["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("root, and no immutable attribute here to make a path read-only")
        else:
            path.chmod(mode & ~0o222)
        done.append((path, mode))

    yield make
    for path, mode in reversed(done):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(mode)


def test_read_only_folders_refused(tmp_path, read_only):
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    for args, option in ((["--best", ro / "b.tsv"], "--best"),
                         (["--store", ro / "r.db"], "--store")):
        proc = _bngfit("fit", EXAMPLE, "--engine", "sequential", "--no-progress", *args,
                       cwd=tmp_path)
        _one_paragraph(proc, 2, option, "no permission to write", str(ro))
    # simulate's table and plot's folder alike
    sim = _bngfit("simulate", EXAMPLE, "-o", ro / "sim.tsv", cwd=tmp_path)
    _one_paragraph(sim, 2, "-o/--output", "no permission")
    plot = _bngfit("plot", tmp_path / "none.db", "-o", ro / "plots", cwd=tmp_path)
    _one_paragraph(plot, 2, "-o/--output", "cannot create the folder")
    plot = _bngfit("plot", tmp_path / "none.db", "-o", ro, cwd=tmp_path)
    _one_paragraph(plot, 2, "-o/--output", "no permission")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]
    assert list(ro.iterdir()) == []


def test_resume_into_a_read_only_store_is_refused_before_computing(tmp_path, read_only):
    store = tmp_path / "run.db"
    first = _bngfit("fit", EXAMPLE, "--starts", "1", "--race", "1", "--engine", "sequential",
                    "--store", store, "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = store.read_bytes()
    read_only(store)
    t0 = time.perf_counter()
    proc = _bngfit("fit", EXAMPLE, "--starts", "3", "--resume", "--store", store,
                   "--engine", "sequential", "--no-progress", cwd=tmp_path)
    _one_paragraph(proc, 2, "--store", "not writable", str(store))
    assert time.perf_counter() - t0 < 60
    assert store.read_bytes() == before


def test_check_output_file_reports_what_the_system_refuses(tmp_path, monkeypatch):
    """The checks themselves, with the system's answer forced (root passes all)."""
    from bngfit.cli import _args as cli_args
    from bngfit.errors import InputError
    from bngfit.files import _outputs as outputs

    denied = {str(tmp_path / "ro"), str(tmp_path / "ok" / "locked.tsv")}
    (tmp_path / "ro").mkdir()
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "locked.tsv").write_text("x")
    real_mkstemp, real_open = outputs.tempfile.mkstemp, outputs.os.open

    def mkstemp(*args, dir, **kwargs):  # noqa: A002 - tempfile's keyword
        if str(dir) in denied:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    def os_open(path, flags, *args):
        if str(path) in denied:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(outputs.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(outputs.os, "open", os_open)
    with pytest.raises(InputError, match="--best: no permission to write in the folder"):
        cli_args.check_output_file(tmp_path / "ro" / "b.tsv", "--best")
    with pytest.raises(InputError, match="--store: the file exists and is not writable"):
        cli_args.check_output_file(tmp_path / "ok" / "locked.tsv", "--store")
    with pytest.raises(InputError, match="cannot create the folder: no permission"):
        cli_args.check_output_dir(tmp_path / "ro" / "a" / "b", "-o")
    assert cli_args.check_output_file(tmp_path / "ok" / "new.tsv", "--best") == (
        tmp_path / "ok" / "new.tsv")
    assert cli_args.check_output_dir(tmp_path / "ok" / "a" / "b", "-o") == (
        tmp_path / "ok" / "a" / "b")
    assert not (tmp_path / "ok" / "a").exists()  # checking creates nothing
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["locked.tsv"]


def test_simulate_output_checked_first(tmp_path):
    proc = _bngfit("simulate", EXAMPLE, "-o", tmp_path / "no" / "sim.tsv", cwd=tmp_path)
    _one_paragraph(proc, 2, "-o/--output", "does not exist")
    proc = _bngfit("simulate", EXAMPLE, "-o", tmp_path, cwd=tmp_path)
    _one_paragraph(proc, 2, "-o/--output", "folder, not a file")


def test_plot_checks_its_folder_before_reading_the_store(tmp_path):
    (tmp_path / "afile").write_text("x")
    # the folder is checked first: the store does not even exist here
    proc = _bngfit("plot", tmp_path / "none.db", "-o", tmp_path / "afile", cwd=tmp_path)
    _one_paragraph(proc, 2, "-o/--output", "names a file, not a folder")
    proc = _bngfit("plot", tmp_path / "none.db", "-o", tmp_path / "afile" / "sub",
                   cwd=tmp_path)
    _one_paragraph(proc, 2, "-o/--output", "cannot create the folder")
    (tmp_path / "plots" / "waterfall.png").mkdir(parents=True)
    proc = _bngfit("plot", tmp_path / "none.db", "-o", tmp_path / "plots", cwd=tmp_path)
    _one_paragraph(proc, 2, "waterfall.png", "folder, not a file")


# ------------------------------------------------------------------ stores for show/plot
@pytest.mark.parametrize("kind", ["empty", "text", "foreign", "truncated", "bad-json"])
def test_show_and_plot_of_a_bad_store_exit_2(tmp_path, kind):
    path = tmp_path / "s.db"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello, not a database\n" * 50)
    elif kind == "foreign":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
    else:
        store = tmp_path / "good.db"
        done = _bngfit("fit", EXAMPLE, "--starts", "1", "--race", "1", "--engine",
                       "sequential", "--store", store, "--no-progress", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        if kind == "truncated":
            path.write_bytes(store.read_bytes()[:1500])
        else:
            path.write_bytes(store.read_bytes())
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE starts SET x = '[1, 2' ")
    for args in (["show", path], ["show", path, "--json"], ["plot", path, "-o", "plots"]):
        proc = _bngfit(*args, cwd=tmp_path)
        _one_paragraph(proc, 2, "s.db")
        assert proc.stdout == ""


# ------------------------------------------------------------------ broken pipe
def test_broken_stdout_pipe_ends_quietly(tmp_path):
    store = tmp_path / "run.db"
    done = _bngfit("fit", EXAMPLE, "--starts", "2", "--race", "1", "--engine", "sequential",
                   "--store", store, "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for args in (["show", store], ["show", store, "--json"],
                 ["check-grad", EXAMPLE, "--json"], ["evaluate", EXAMPLE]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before bngfit writes a byte
        try:
            proc = subprocess.run([*CLI, *map(str, args)], stdout=write,
                                  stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                  timeout=300)
        finally:
            os.close(write)
        assert proc.returncode == 141, (args, proc.stderr)
        assert proc.stderr == "", (args, proc.stderr)


def test_pipe_into_head_ends_quietly(tmp_path):
    store = tmp_path / "run.db"
    done = _bngfit("fit", EXAMPLE, "--starts", "2", "--race", "1", "--engine", "sequential",
                   "--store", store, "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cmd = " ".join([*CLI, "show", str(store), "--json"])
    proc = subprocess.run(f"{cmd} | head -c 10; echo \" rc=${{PIPESTATUS[0]}}\"",
                          shell=True, executable="/bin/bash", capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.stdout.startswith("{")
    assert proc.stdout.rstrip().endswith(("rc=0", "rc=141"))
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr


# ------------------------------------------------------------------ SIGTERM
def _finished(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM starts").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "signum", "code", "word"),
    [("sequential", signal.SIGTERM, 143, "terminated (SIGTERM)"),
     ("process", signal.SIGTERM, 143, "terminated (SIGTERM)"),
     ("sequential", signal.SIGINT, 130, "interrupted")])
def test_signal_stops_the_fit_and_keeps_finished_starts(tmp_path, engine, signum, code, word):
    store = tmp_path / "run.db"
    proc = subprocess.Popen(
        [*CLI, "fit", str(EXAMPLE), "--starts", "200", "--seed", "2", "--engine", engine,
         "--workers", "2", "--store", str(store), "--no-progress", "--rtol", "1e-12",
         "--atol", "1e-14"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.time() + 120
    while _finished(store) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == code, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bngfit: {word}; "), err
    assert out == ""
    n = _finished(store)
    assert 2 <= n < 200
    assert f"{n} finished starts in {store}" in err and "--resume" in err
    # no process of the run is left (its session is empty)
    time.sleep(1.0)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    shown = _bngfit("show", store, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["n_finished"] == n


def test_sigterm_while_loading_exits_143(tmp_path):
    """SIGTERM before the fit has a store: the plain message, exit 143."""
    code = ("import os, signal, sys\n"
            "from bngfit import cli\n"
            "import bngfit.problem._load as L\n"
            "real = L.load_problem\n"
            "def slow(path):\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    return real(path)\n"
            "L.load_problem = slow\n"
            "sys.exit(cli.main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", code, "fit", str(EXAMPLE), "--no-progress",
                           "--engine", "sequential"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.strip() == "bngfit: terminated (SIGTERM)"


def test_in_process_main_restores_signal_handler_and_streams(tmp_path, capsys):
    from bngfit.cli._main import main

    before = signal.getsignal(signal.SIGTERM)
    stdout, stderr = sys.stdout, sys.stderr
    assert main(["evaluate", str(EXAMPLE), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    assert signal.getsignal(signal.SIGTERM) is before
    assert sys.stdout is stdout and sys.stderr is stderr


# ------------------------------------------------------------------ logging
def test_dask_logging_stays_off_stderr(tmp_path):
    pytest.importorskip("distributed")
    proc = _bngfit("fit", EXAMPLE, "--starts", "2", "--race", "1", "--engine", "dask",
                   "--workers", "1", "--no-progress", "--json", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_finished"] == 2
    assert "Scheduler at" not in proc.stderr and "Nanny" not in proc.stderr, proc.stderr
    assert "distributed" not in proc.stderr, proc.stderr


def test_bngfit_warnings_pass_with_one_prefix(tmp_path):
    point = tmp_path / "point.tsv"
    point.write_text("parameterId\tvalue\nk1\t5\n")  # outside the log10 bounds: a warning
    proc = _bngfit("evaluate", EXAMPLE, "--point", point, "--fill-nominal", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "point.tsv:2" in ln]
    assert lines and all(ln.startswith("bngfit: ") for ln in lines), proc.stderr
    assert "bngfit: bngfit:" not in proc.stderr


def test_plot_without_its_problem_still_draws_what_it_can(tmp_path):
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE.parent, d)
    store = tmp_path / "run.db"
    done = _bngfit("fit", d / "problem.yaml", "--starts", "2", "--race", "1", "--engine",
                   "sequential", "--store", store, "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (d / "parameters.tsv").write_text("parameterId\n")  # the problem no longer loads
    proc = _bngfit("plot", store, "-o", tmp_path / "plots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no longer loads" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["history.png",
                                                                       "waterfall.png"]
    shutil.rmtree(d)  # ... or is gone
    proc = _bngfit("plot", store, "-o", tmp_path / "plots2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "not found" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_outputs_never_overwrite_the_problems_files(tmp_path):
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE.parent, d)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    sim = _bngfit("simulate", d / "problem.yaml", "-o", d / "measurements.tsv", cwd=d)
    _one_paragraph(sim, 2, "-o/--output", "measurements.tsv", "problem's own files")
    fit = _bngfit("fit", d / "problem.yaml", "--best", "parameters.tsv", "--engine",
                  "sequential", "--no-progress", cwd=d)
    _one_paragraph(fit, 2, "--best", "parameters.tsv", "problem's own files")
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


def test_show_and_plot_of_an_archived_read_only_store(tmp_path, read_only):
    archive = tmp_path / "archive"
    archive.mkdir()
    store = archive / "run.db"
    done = _bngfit("fit", EXAMPLE, "--starts", "2", "--race", "1", "--engine", "sequential",
                   "--store", store, "--json", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    best = json.loads(done.stdout)["best_fval"]
    before = store.read_bytes()
    read_only(store)  # (a read-only folder too needs store.py to open read-only)
    shown = _bngfit("show", store, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["best_fval"] == best
    plot = _bngfit("plot", store, "-o", tmp_path / "plots", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr
    assert (tmp_path / "plots" / "waterfall.png").is_file()
    assert store.read_bytes() == before


def test_the_solver_log_never_lands_on_a_problem_file_or_another_output(tmp_path):
    """The fit's solver log is an output too: checked like --best and --store."""
    work = tmp_path / "p"
    shutil.copytree(Path(EXAMPLE).parent, work)
    log = work / "run.db.solver.log"  # the measurement table, named as the log would be
    (work / "problem.yaml").write_text((work / "problem.yaml").read_text().replace(
        "measurements.tsv", log.name))
    (work / "measurements.tsv").rename(log)
    before = log.read_bytes()
    proc = _bngfit("fit", work / "problem.yaml", "--store", work / "run.db", "--engine",
                   "sequential", "--no-progress", cwd=tmp_path)
    _one_paragraph(proc, 2, "solver log", "problem's own files")
    assert log.read_bytes() == before and not (work / "run.db").exists()
    proc = _bngfit("fit", EXAMPLE, "--store", tmp_path / "q.db", "--best",
                   tmp_path / "q.db.solver.log", "--engine", "sequential", "--no-progress",
                   cwd=tmp_path)
    _one_paragraph(proc, 2, "solver log", "--best", "same file")


def test_every_option_is_documented_with_its_choices_and_default():
    import argparse

    from bngfit.cli._main import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"validate", "evaluate", "simulate", "check-grad", "fit",
                                "show", "plot", "bootstrap", "profile"}
    for name, command in sub.choices.items():
        assert command.description, name
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = (name, action.option_strings or action.dest)
            assert action.help, where
            if action.choices:
                assert all(str(c) in action.help for c in action.choices), where
            flag = isinstance(action, argparse._StoreTrueAction)
            if action.option_strings and not flag:
                assert "default" in action.help or "required" in action.help, where
