"""``bngfit profile``: the interval table, JSON, continuing, resume after SIGKILL, refusals."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

import bngfit
from bngfit.cli import main
from bngfit.result import Store
from tests.helpers import LINEAR_DATA, LINEAR_SIGMA, LINEAR_TIMES, linear_problem

CLI = [sys.executable, "-m", "bngfit.cli"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The linear problem fitted into a store: (folder, store)."""
    root = tmp_path_factory.mktemp("profcli")
    problem = bngfit.load_problem(linear_problem(root / "lin"))
    db = root / "fit.db"
    bngfit.fit(problem, n_starts=2, engine="sequential", store=db, rng=0)
    return root, db


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _stored(db) -> dict:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            rows = conn.execute("SELECT parameter, direction, seq, x, fval "
                                "FROM profile_points").fetchall()
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    return {(p, d, s): (x, f) for p, d, s, x, f in rows}


def test_profile_prints_and_writes_the_intervals(fitted, tmp_path):
    _, db = fitted
    store = tmp_path / "fit.db"
    shutil.copy(db, store)
    rc, out, err = _run(["profile", str(store), "--parameters", "b,c"])
    assert rc == 0, err
    assert "identifiable" in out and "structurally_flat" in out and "open (bound)" in out
    table = pd.read_csv(f"{store}.profiles.tsv", sep="\t")
    assert list(table["parameterId"]) == ["b", "c"]
    assert list(table["class"]) == ["identifiable", "structurally_flat"]
    design = np.column_stack([np.ones_like(LINEAR_TIMES), LINEAR_TIMES]) / LINEAR_SIGMA
    theta, *_ = np.linalg.lstsq(design, LINEAR_DATA / LINEAR_SIGMA, rcond=None)
    sd = np.sqrt(np.linalg.inv(design.T @ design)[1, 1])
    half = np.sqrt(chi2.ppf(0.95, 1)) * sd
    assert table.loc[0, "lower"] == pytest.approx(theta[1] - half, abs=1e-3)
    assert table.loc[0, "upper"] == pytest.approx(theta[1] + half, abs=1e-3)
    assert np.isnan(table.loc[1, "lower"]) and np.isnan(table.loc[1, "upper"])
    n = len(_stored(store))
    rc, out, _ = _run(["profile", str(store), "--parameters", "b,c", "--json"])
    assert rc == 0
    summary = json.loads(out)
    assert summary["alpha"] == 0.95 and summary["better_point"] is None
    assert [r["parameterId"] for r in summary["intervals"]] == ["b", "c"]
    assert summary["intervals"][1]["lower"] is None
    assert len(_stored(store)) == n  # continued: nothing recomputed


def test_a_killed_profile_resumes_without_losing_points(fitted, tmp_path):
    _, db = fitted
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    shutil.copy(db, killed)
    shutil.copy(db, clean)
    cmd = [*CLI, "profile", str(killed)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(_stored(killed)) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = _stored(killed)
    assert len(survived) >= 5
    assert _run(["profile", str(killed)])[0] == 0
    assert _run(["profile", str(clean)])[0] == 0
    done = _stored(killed)
    assert all(done[k] == survived[k] for k in survived)  # kept as they were
    assert done.keys() == _stored(clean).keys()
    a = pd.read_csv(f"{killed}.profiles.tsv", sep="\t")
    b = pd.read_csv(f"{clean}.profiles.tsv", sep="\t")
    pd.testing.assert_frame_equal(a, b, rtol=1e-8)


def _refused(argv, *pieces):
    proc = subprocess.run([*CLI, *map(str, argv)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for piece in pieces:
        assert piece in proc.stderr, proc.stderr


def test_bad_input_is_refused_in_one_paragraph(fitted, tmp_path):
    _, db = fitted
    _refused(["profile", db, "--alpha", "1.5"], "--alpha", "1.5")
    _refused(["profile", db, "--parameters", "a,zz"], "'zz'", "a, b, c")
    empty = tmp_path / "empty.db"
    with Store(empty):  # a store in which no fit was run
        pass
    _refused(["profile", empty], str(empty))
    _refused(["profile", tmp_path / "missing.db"], "not found")
