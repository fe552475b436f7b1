"""``bngfit bootstrap``, ``fit --bootstrap`` and ``show``'s bootstrap; resume after SIGKILL."""

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

import bngfit
from bngfit.cli import main
from tests.helpers import EXAMPLE


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """``bngfit fit --bootstrap 20`` on the conversion example: (folder, store, stdout)."""
    root = tmp_path_factory.mktemp("bootcli")
    shutil.copytree(EXAMPLE.parent, root / "conversion")
    db = root / "fit.db"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["fit", str(root / "conversion" / "problem.yaml"), "--starts", "2", "--race",
                   "1", "--engine", "sequential", "-o", str(db), "--best",
                   str(root / "best.tsv"), "--bootstrap", "20", "--no-progress"])
    assert rc == 0
    return root, db, out.getvalue()


def _copy(db, tmp_path, name="copy.db"):
    out = tmp_path / name
    shutil.copy(db, out)
    return out


def test_fit_with_bootstrap_prints_and_writes_the_intervals(fitted):
    _, db, stdout = fitted
    assert "bootstrap: 20 of 20 replicates accepted" in stdout
    assert "95% percentile intervals" in stdout
    table = pd.read_csv(f"{db}.bootstrap.tsv", sep="\t")
    assert table.shape == (4, 8)
    assert list(table["parameterId"]) == ["k1", "k2", "scale_B", "sigma_B"]
    assert (table["n_replicates"] == 20).all() and (table["level"] == 0.95).all()
    assert (table["lower"] <= table["median"]).all() and (table["median"] <= table["upper"]).all()
    best = bngfit.load_result(db).best_parameters()
    np.testing.assert_allclose(table["estimate"], best.to_numpy(), rtol=1e-9)
    for pid in ("k1", "k2"):  # the fitted value lies inside its interval
        row = table.set_index("parameterId").loc[pid]
        assert row.lower < row.estimate < row.upper


def test_show_includes_the_stored_bootstrap(fitted, capsys):
    _, db, _ = fitted
    assert main(["show", str(db)]) == 0
    assert "bootstrap: 20 of 20 replicates accepted" in capsys.readouterr().out
    assert main(["show", str(db), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    boot = record["bootstrap"]
    assert boot["n_accepted"] == 20 and len(boot["replicates"]) == 20
    assert set(boot["intervals"]) == {"k1", "k2", "scale_B", "sigma_B"}
    assert all(r["status"] == "accepted" for r in boot["replicates"])


def test_bootstrap_command_continues_with_another_level(fitted, tmp_path, capsys):
    _, db, _ = fitted
    store = _copy(db, tmp_path)
    assert main(["bootstrap", str(store), "-n", "22", "--level", "0.9", "--engine",
                 "sequential", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_accepted"] == 22 and out["level"] == 0.9
    table = pd.read_csv(out["table"], sep="\t")
    assert (table["level"] == 0.9).all() and (table["n_replicates"] == 22).all()
    # the first 20 are the fit's own, unchanged
    before = bngfit.load_bootstrap(db)
    after = bngfit.load_bootstrap(store)
    for a, b in zip(before.replicates, after.replicates[:20], strict=True):
        np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize(("args", "text"), [
    (["-n", "0"], "replicates must be an integer of at least 1"),
    (["-n", "3", "--level", "1"], "strictly between 0 and 1"),
    (["-n", "3", "--starts", "0"], "starts must be an integer of at least 1"),
    (["-n", "3", "--max-fval", "nan"], "must be a finite number"),
])
def test_bad_options_exit_2_before_any_work(fitted, tmp_path, capsys, args, text):
    _, db, _ = fitted
    store = _copy(db, tmp_path)
    assert main(["bootstrap", str(store), *args]) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
    assert bngfit.load_bootstrap(store).n_accepted == 20  # untouched


def test_other_settings_on_a_stored_bootstrap_exit_2(fitted, tmp_path, capsys):
    _, db, _ = fitted
    store = _copy(db, tmp_path)
    assert main(["bootstrap", str(store), "-n", "20", "--seed", "99", "--engine", "sequential",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "seed: stored" in err and "replace" in err and str(store) in err


def test_a_missing_store_exits_2(tmp_path, capsys):
    assert main(["bootstrap", str(tmp_path / "none.db"), "-n", "2"]) == 2
    assert "not found" in capsys.readouterr().err


def _stored(db) -> dict[int, tuple]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            rows = conn.execute("SELECT idx, x, fval FROM replicates").fetchall()
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    return {i: (x, f) for i, x, f in rows}


@pytest.mark.slow
def test_resume_after_sigkill_loses_no_replicate(fitted, tmp_path):
    _, db, _ = fitted
    killed, clean = _copy(db, tmp_path, "killed.db"), _copy(db, tmp_path, "clean.db")
    for store in (killed, clean):  # a new bootstrap in each: other seed, replaced
        with sqlite3.connect(store) as conn:
            conn.execute("DELETE FROM replicates")
            conn.execute("DELETE FROM bootstrap_meta")
    cmd = [sys.executable, "-m", "bngfit.cli", "bootstrap", str(killed), "-n", "40",
           "--seed", "5", "--engine", "sequential", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(_stored(killed)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = _stored(killed)
    assert 3 <= len(survived) < 40, len(survived)
    assert main(["bootstrap", str(killed), "-n", "40", "--seed", "5", "--engine",
                 "sequential", "--no-progress"]) == 0
    done = _stored(killed)
    assert len(done) == 40
    assert all(done[i] == survived[i] for i in survived)  # kept as they were
    assert main(["bootstrap", str(clean), "-n", "40", "--seed", "5", "--engine", "process",
                 "--workers", "2", "--no-progress"]) == 0
    assert _stored(clean) == done  # the same replicates as an uninterrupted run
