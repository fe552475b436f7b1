"""Stores written before the package was laid out by stage keep working.

The golden values below were recorded with bngfit 0.1.0 as of commit f399215
(the flat layout), before any restructuring: the fingerprint algorithm of
store format 2 must keep giving exactly these digests, or every store a user
wrote with that version would refuse to resume. ``data/store_v2_conversion.db``
is a store that version wrote (``bngfit fit examples/conversion/problem.yaml
--starts 4 --seed 3 --engine sequential``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

import bngfit
from bngfit.result._fingerprint import fingerprint
from bngfit.result._store import FORMAT
from tests.helpers import REPO, shared_path

DATA = REPO / "tests" / "data"
GOLDEN_V2 = {
    "examples/conversion/problem.yaml":
        "1f3b58125d83a716df71bdbedcb5684094796cc9cdf862fc01e3cdfc48783d61",
}
# Format 2 hashed a .prop penalty's label, which holds the file's path: the
# golden value of a PyBNF job with a .prop file would depend on where the clone
# is, so the PyBNF goldens are jobs without one.
GOLDEN_V2_SHARED = {
    ("petab_test_suite", "v1", "0001", "_0001.yaml"):
        "19ac6435ec7ad6168a4df9ca1512370d33f987a4959d8771d4d81b0e5c63cc63",
    ("benchmarks", "pybnf", "demo", "demo_xml.conf"):
        "fdebd6a93935a49052d7121f35f92b06b42dc626695f905a569f7bb1f1b7f6db",
    ("benchmarks", "pybnf", "demo", "demo_bng.conf"):
        "308a1457a3ed015c3664b0500d4469b10a23c16e3ad75699a2d9580e28046a32",
}


def _v2_fingerprint(problem):
    # The format-2 algorithm, wherever it lives after the restructuring.
    from bngfit.result import _store as store_mod
    fn = getattr(store_mod, "fingerprint_v2", None) or store_mod.fingerprint
    return fn(problem)


@pytest.mark.parametrize("rel", sorted(GOLDEN_V2))
def test_format2_fingerprint_is_unchanged(rel):
    problem = bngfit.load_problem(REPO / rel)
    assert _v2_fingerprint(problem) == GOLDEN_V2[rel]


@pytest.mark.parametrize("parts", sorted(GOLDEN_V2_SHARED))
def test_format2_fingerprint_of_shared_problems(parts):
    path = shared_path(*parts)
    if parts[-1] == "demo_bng.conf":
        pytest.importorskip("bionetgen")
    assert _v2_fingerprint(bngfit.load_problem(path)) == GOLDEN_V2_SHARED[parts]


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "bngfit.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def old_store(tmp_path):
    shutil.copytree(REPO / "examples" / "conversion", tmp_path / "conversion")
    store = tmp_path / "old.db"
    shutil.copy(DATA / "store_v2_conversion.db", store)
    return tmp_path, store


def test_old_store_loads_and_shows(old_store):
    tmp_path, store = old_store
    result = bngfit.load_result(store)
    assert len(result.starts) == 4
    assert result.best.fval == pytest.approx(-34.19525807, abs=1e-6)
    out = _cli("show", store, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "4" in out.stdout and "-34.19" in out.stdout


def test_old_store_resumes(old_store):
    tmp_path, store = old_store
    before = {s.index: s.fval for s in bngfit.load_result(store).starts}
    # A run killed after three of its four starts: drop the last one's row.
    with sqlite3.connect(store) as conn:
        conn.execute("DELETE FROM starts WHERE idx = 3")
    assert len(bngfit.load_result(store).starts) == 3
    out = _cli("fit", tmp_path / "conversion" / "problem.yaml", "--store", store, "--resume",
               "--starts", "4", "--seed", "3", "--engine", "sequential", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    after = {s.index: s.fval for s in bngfit.load_result(store).starts}
    assert sorted(after) == [0, 1, 2, 3]
    # the resumed store now has the current format and fingerprint
    with sqlite3.connect(store) as conn:
        meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    problem = bngfit.load_problem(tmp_path / "conversion" / "problem.yaml")
    assert meta["format"] == FORMAT
    assert meta["fingerprint"] == fingerprint(problem)
    assert meta["fingerprint"] != GOLDEN_V2["examples/conversion/problem.yaml"]
    # the same seed redoes the missing start exactly; the kept ones are untouched
    for i in range(4):
        assert after[i] == pytest.approx(before[i], rel=1e-9, abs=1e-9)


def test_old_store_plots(old_store):
    pytest.importorskip("matplotlib")
    tmp_path, store = old_store
    out = _cli("plot", store, "-o", tmp_path / "plots", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "plots").glob("*.png"))) >= 2


def test_old_store_of_another_problem_is_refused(old_store):
    tmp_path, store = old_store
    meas = tmp_path / "conversion" / "measurements.tsv"
    meas.write_text(meas.read_text().replace("\t0.5\t", "\t0.6\t", 1))
    out = _cli("fit", tmp_path / "conversion" / "problem.yaml", "--store", store, "--resume",
               "--starts", "4", "--seed", "3", "--engine", "sequential", cwd=tmp_path)
    assert out.returncode == 2
    assert "made for a different problem" in out.stderr
