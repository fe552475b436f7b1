"""The store: read without changing any file, foreign and damaged files refused
with their name, write access checked before any start is computed.

Permission tests run their command in a child process without the capabilities
that let root ignore file modes (when the tests run as root), so a read-only
file or folder is read-only there as for any user.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bngfit
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.files._outputs import check_output_dir, check_output_file
from bngfit.optimize._multistart import fit
from bngfit.result._fingerprint import fingerprint_v2
from bngfit.result._store import Store, check_writable, load_result
from tests.helpers import EXAMPLE, recovery_problem

_PR_CAPBSET_DROP = 24
_DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


# ------------------------------------------------------------------ helpers
def _drop_file_powers() -> None:  # runs in the child between fork and exec
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in _DAC_CAPS:
            if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                os._exit(99)


def _unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python args...`` as a user for whom file modes hold."""
    run = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                         timeout=300, preexec_fn=_drop_file_powers)
    if run.returncode == 99:
        pytest.skip("cannot drop the capabilities that override file modes")
    return run


@pytest.fixture(scope="module")
def modes_hold(tmp_path_factory) -> None:
    """Skip unless a read-only file is read-only for the child processes."""
    d = tmp_path_factory.mktemp("modes")
    f = d / "ro.txt"
    f.write_text("x")
    f.chmod(0o444)
    run = _unprivileged(["-c", f"open({str(f)!r}, 'a')"], d)
    f.chmod(0o644)
    if run.returncode == 0:
        pytest.skip("file modes do not bind here (no way to drop root's powers)")


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of ``folder``: content hash and modification time."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A finished store of 3 starts (fitted once for the module)."""
    d = tmp_path_factory.mktemp("stored")
    shutil.copytree(EXAMPLE.parent, d / "problem")
    db = d / "run.db"
    fit(bngfit.load_problem(d / "problem" / "problem.yaml"), optimizer="least_squares",
        n_starts=3, rng=1, race=1, engine="sequential", store=db)
    return db


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "copy.db"
    shutil.copy(db, out)
    return out


# ------------------------------------------------- reading changes nothing
@pytest.mark.parametrize("content, match", [
    (b"", "not a bngfit store: the file is empty"),
    (b"hello, not sqlite at all\n" * 100, "not a bngfit store: not an SQLite database"),
    (None, "not a bngfit store: an SQLite database without bngfit's tables"),
])
def test_foreign_files_are_refused_and_left_alone(tmp_path, capsys, content, match):
    f = tmp_path / "other.db"
    if content is None:  # somebody else's database
        with sqlite3.connect(f) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
            conn.execute("INSERT INTO people VALUES ('ada')")
        conn.close()
    else:
        f.write_bytes(content)
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match=match) as info:
        load_result(f)
    assert str(f) in str(info.value)
    assert main(["show", str(f)]) == 2
    err = capsys.readouterr().err
    assert "not a bngfit store" in err and str(f) in err and "Traceback" not in err
    assert main(["plot", str(f), "-o", str(tmp_path / "plots")]) == 2
    assert _snapshot(tmp_path) == before  # no table written, no file created


def test_reading_a_store_changes_no_file(stored, tmp_path):
    db = _copy(stored, tmp_path)
    before = _snapshot(tmp_path)
    result = load_result(db)
    assert len(result.starts) == 3
    with Store(db, readonly=True) as st:
        assert len(st.starts()) == 3
    assert _snapshot(tmp_path) == before  # neither the store nor -wal/-shm files beside it


def test_a_store_being_written_is_read_with_its_log(stored, tmp_path):
    db = _copy(stored, tmp_path)
    writer = Store(db)  # a fit in progress: its last start is only in the write-ahead log
    try:
        first = load_result(db).starts[0]
        writer.add_start(bngfit.StartResult(7, first.x0, first.x, 123.0, 0.1, 5, 1.0,
                                            bngfit.StartStatus.CONVERGED, "late",
                                            np.array([123.0])))
        assert Path(f"{db}-wal").stat().st_size > 0
        assert 7 in {s.index for s in load_result(db).starts}
    finally:
        writer.close()


def test_a_read_only_store_in_a_read_only_folder_is_shown(stored, tmp_path, modes_hold):
    folder = tmp_path / "archive"
    db = _copy(stored, folder)
    before = _snapshot(folder)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        run = _unprivileged(["-m", "bngfit.cli", "show", "--json", str(db)], tmp_path)
        denied = _unprivileged(["-c", f"open({str(folder / 'x')!r}, 'w')"], tmp_path)
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert denied.returncode != 0, "the folder was writable after all"
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_finished"] == 3
    assert _snapshot(folder) == before


# ------------------------------------------------------ damaged contents
DAMAGES = [
    ("UPDATE starts SET x = '[1, 2' WHERE idx = 0", r"start 0: x is not a JSON list"),
    ("UPDATE starts SET x0 = '[1.0]' WHERE idx = 1", r"start 1: x0 has 1 values for 4 parameters"),
    ("UPDATE starts SET status = 'bogus' WHERE idx = 2", r"start 2: unknown status 'bogus'"),
    ("UPDATE starts SET n_fval = 'many' WHERE idx = 0", r"start 0: n_fval 'many'"),
    ("UPDATE starts SET fval = 'low' WHERE idx = 0", r"start 0: fval 'low' is not a number"),
    ("UPDATE starts SET trace = '{\"a\": 1}' WHERE idx = 0", r"start 0: trace is not a list"),
    ("UPDATE meta SET value = '{' WHERE key = 'settings'",
     r"metadata 'settings' is not valid JSON"),
    ("UPDATE meta SET value = '\"ten\"' WHERE key = 'n_starts'",
     r"metadata of the wrong type: n_starts"),
    ("UPDATE meta SET value = '[1, 2]' WHERE key = 'x_names'",
     r"metadata of the wrong type: x_names"),
    ("DELETE FROM meta WHERE key = 'optimizer'", r"metadata missing: optimizer"),
    ("INSERT INTO gradchecks VALUES ('best', 'not json')", r"gradient check 'best'"),
]


@pytest.mark.parametrize("sql, match", DAMAGES)
def test_a_damaged_field_is_named(stored, tmp_path, capsys, sql, match):
    db = _copy(stored, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    conn.close()
    with pytest.raises(InputError, match="damaged store: " + match) as info:
        load_result(db)
    assert str(db) in str(info.value)
    assert main(["show", str(db)]) == 2
    assert "damaged store" in capsys.readouterr().err


@pytest.mark.parametrize("sql, match", [
    ("UPDATE meta SET value = '\"bngfit-store-99\"' WHERE key = 'format'; "
     "DROP TABLE gradchecks", "format bngfit-store-99, made by a newer bngfit"),
    ("UPDATE meta SET value = '\"something-else\"' WHERE key = 'format'",
     "not a bngfit store: unknown format"),
    ("DELETE FROM meta", "not a bngfit store: no run recorded"),
    ("DROP TABLE starts", "not a bngfit store: .*missing: starts"),
])
def test_future_or_foreign_formats_are_refused(stored, tmp_path, sql, match):
    db = _copy(stored, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.executescript(sql)
    conn.close()
    with pytest.raises(InputError, match=match):
        load_result(db)
    if "newer" in match:  # not written to either (no table added, no column)
        schema = _schema(db)
        with pytest.raises(InputError, match=match):
            Store(db)
        assert _schema(db) == schema


def _schema(db: Path) -> list:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT * FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_truncated_store_is_refused(stored, tmp_path, capsys, keep):
    db = tmp_path / "cut.db"
    data = stored.read_bytes()
    assert len(data) > 4096 * 3
    db.write_bytes(data[: int(len(data) * keep) // 4096 * 4096])
    with pytest.raises(InputError, match="damaged store|not a bngfit store") as info:
        load_result(db)
    assert str(db) in str(info.value)
    assert main(["show", str(db)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_store_of_the_first_format_is_read_and_resumed(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "old.db"
    fit(problem, optimizer="least_squares", n_starts=3, rng=2, race=1, engine="sequential",
        store=db)
    with sqlite3.connect(db) as conn:  # what bngfit wrote before starts.detail existed
        conn.execute("ALTER TABLE starts DROP COLUMN detail")
        conn.execute("UPDATE meta SET value = '\"bngfit-store-1\"' WHERE key = 'format'")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'fingerprint'",
                     (json.dumps(fingerprint_v2(problem)),))  # format 1's algorithm
        conn.execute("DELETE FROM starts WHERE idx = 2")
    conn.close()
    assert {s.index for s in load_result(db).starts} == {0, 1}
    again = fit(problem, engine="sequential", store=db, resume=True)
    assert {s.index for s in again.starts} == {0, 1, 2}
    with Store(db, readonly=True) as st:
        assert st.meta()["format"] == "bngfit-store-3"


# ---------------------------------------------------------------- writing
def test_fit_refuses_to_write_into_a_foreign_database(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    f = tmp_path / "other.db"
    with sqlite3.connect(f) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    conn.close()
    before = _snapshot(tmp_path)
    for resume in (False, True):
        with pytest.raises(InputError, match="not a bngfit store"):
            fit(problem, n_starts=1, engine="sequential", store=f, resume=resume)
    assert _snapshot(tmp_path) == before


RESUME = """
import sys
import bngfit
from bngfit.optimize._multistart import fit
try:
    fit(bngfit.load_problem(sys.argv[1]), engine="sequential", store=sys.argv[2],
        resume=True, progress=lambda e: e.finished is not None and print(
            "computed start", e.finished.index, flush=True))
except bngfit.InputError as err:
    print("refused:", err)
"""


def test_resume_into_a_read_only_store_computes_nothing(stored, tmp_path, modes_hold):
    folder = tmp_path / "ro"
    db = _copy(stored, folder)
    with sqlite3.connect(db) as conn:  # a killed run: one start to compute on resume
        conn.execute("DELETE FROM starts WHERE idx = 2")
    conn.close()
    before = _snapshot(folder)
    script = tmp_path / "resume.py"
    script.write_text(RESUME)
    problem = stored.parent / "problem" / "problem.yaml"
    db.chmod(0o444)
    try:
        run = _unprivileged([str(script), str(problem), str(db)], tmp_path)
        cli = _unprivileged(["-m", "bngfit.cli", "fit", str(problem), "--store", str(db),
                             "--resume", "--engine", "sequential", "--no-progress",
                             "--best", str(tmp_path / "best.tsv")], tmp_path)
        check = _unprivileged(["-c", "from bngfit.result._store import check_writable; "
                               f"check_writable({str(db)!r}, resume=True)"], tmp_path)
    finally:
        db.chmod(0o644)
    assert "computed start" not in run.stdout, run.stdout
    assert "refused:" in run.stdout and "cannot write the store" in run.stdout, run.stdout
    assert cli.returncode == 2, cli.stderr
    assert "cannot write the store" in cli.stderr
    assert check.returncode != 0 and "cannot write the store" in check.stderr
    assert _snapshot(folder) == before


def test_check_writable(stored, tmp_path):
    before = _snapshot(tmp_path)
    check_writable(tmp_path / "new.db")  # a new store in a writable folder
    db = _copy(stored, tmp_path / "s")
    check_writable(db, resume=True)
    assert _snapshot(tmp_path) == before  # nothing created
    with pytest.raises(InputError, match="the folder .*missing does not exist") as info:
        check_writable(tmp_path / "missing" / "run.db")
    assert str(tmp_path / "missing") in str(info.value)
    with pytest.raises(InputError, match="already exists; continue it with --resume"):
        check_writable(db)
    with pytest.raises(InputError, match="nothing to resume"):
        check_writable(tmp_path / "none.db", resume=True)
    (tmp_path / "text.db").write_text("hello")
    with pytest.raises(InputError, match="not a bngfit store"):
        check_writable(tmp_path / "text.db", resume=True)
    with pytest.raises(InputError, match="not a folder"):
        check_writable(tmp_path / "text.db" / "run.db")


def test_check_writable_in_a_read_only_folder(tmp_path, modes_hold):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = _unprivileged(["-c", "from bngfit.result._store import check_writable; "
                             f"check_writable({str(folder / 'run.db')!r})"], tmp_path)
    finally:
        folder.chmod(0o755)
    assert run.returncode != 0
    assert "cannot write the store: no permission to write in the folder" in run.stderr
    assert "no new file can be created there" in run.stderr


def test_check_output_paths(tmp_path):
    check_output_file(tmp_path / "best.tsv")
    check_output_dir(tmp_path / "plots" / "deeper")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="the folder .*nowhere does not exist"):
        check_output_file(tmp_path / "nowhere" / "best.tsv", "the --best table")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="it names a folder, not a file"):
        check_output_file(tmp_path / "d", "the --best table")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="it names a file, not a folder"):
        check_output_dir(tmp_path / "f", "the plot folder")
    with pytest.raises(InputError, match="not a folder"):
        check_output_dir(tmp_path / "f" / "plots", "the plot folder")


def test_a_killed_runs_store_in_a_read_only_folder_is_shown(stored, tmp_path, modes_hold):
    work = tmp_path / "work"
    db = _copy(stored, work)
    writer = Store(db)  # a fit killed with its last start only in the write-ahead log
    first = load_result(db).starts[0]
    writer.add_start(bngfit.StartResult(7, first.x0, first.x, 123.0, 0.1, 5, 1.0,
                                        bngfit.StartStatus.CONVERGED, "late",
                                        np.array([123.0])))
    folder = tmp_path / "archive"
    folder.mkdir()
    for name in ("copy.db", "copy.db-wal"):  # archived without SQLite's shared memory
        shutil.copy(work / name, folder / name)
    writer.close()
    before = _snapshot(folder)
    folder.chmod(0o555)
    try:
        run = _unprivileged(["-m", "bngfit.cli", "show", "--json", str(folder / "copy.db")],
                            tmp_path)
    finally:
        folder.chmod(0o755)
    assert run.returncode == 0, run.stderr
    # SQLite cannot share the log without its shared-memory file: the store is
    # read without it, and the user is told
    assert json.loads(run.stdout)["n_finished"] == 3
    assert "write-ahead log cannot be read here" in run.stderr
    assert _snapshot(folder) == before


def test_hand_edited_bounds_read_as_not_recorded(tmp_path):
    import json
    import sqlite3

    import bngfit
    from bngfit.result import load_result
    from tests.helpers import EXAMPLE

    db = tmp_path / "run.db"
    bngfit.fit(bngfit.load_problem(EXAMPLE), n_starts=1, engine="sequential", race=1,
               store=db)
    assert load_result(db).settings["x_bounds"][1][0] == 2.0  # log10(100)
    for bad in ([["a", 0, 0, 0], [1, 1, 1, 1]], [[0, 0], [1, 1]], "x"):
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'x_bounds'", (json.dumps(bad),))
        result = load_result(db)
        assert "x_bounds" not in result.settings and result.at_bounds() == {}
