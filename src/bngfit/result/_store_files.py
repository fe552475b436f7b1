"""Opening a store file: read-only for reading, checked before writing.

Reading (``show``, ``plot``, :func:`bngfit.load_result`) never changes a file:
the store is opened with SQLite's ``mode=ro``, and a foreign, empty or damaged
file is refused before SQLite is asked anything that could write. Writing (a
fit) refuses any existing file that is not a bngfit store, and a store it
cannot write, before the first start is computed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote

from bngfit.errors import InputError
from bngfit.files._outputs import probe_file, probe_folder

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
TABLES = ("meta", "starts")  # a bngfit store has at least these


def not_a_store(path: Path, why: str) -> InputError:
    """The error refusing ``path``, which is not a bngfit store, saying ``why``."""
    return InputError(f"not a bngfit store: {why}", file=str(path))


def damaged(path: Path, why: str) -> InputError:
    """The error refusing a damaged store, saying ``why`` and what to do."""
    return InputError(f"damaged store: {why}; restore it from a copy or start a new store",
                      file=str(path))


def check_header(path: Path) -> None:
    """Refuse a missing path, a folder, an empty file, a file that is not SQLite."""
    if not path.exists():
        raise InputError("result store not found", file=str(path))
    if not path.is_file():
        raise not_a_store(path, "not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as err:
        raise InputError(f"cannot read the store ({err.strerror or err})",
                         file=str(path)) from None
    if not head:
        raise not_a_store(path, "the file is empty")
    if head != SQLITE_HEADER:
        raise not_a_store(path, "not an SQLite database")


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the store ``path``, its tables checked.

    A store with a write-ahead log beside it (a fit is writing it, or was
    killed) is read through the log, which SQLite's read-only mode does
    without changing the store. A store without one is opened as immutable,
    so SQLite leaves no shared-memory or log files beside it either.
    """
    check_header(path)
    uri = "file:" + quote(str(path.absolute()))
    wal = Path(f"{path}-wal").exists()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro" if wal else f"{uri}?mode=ro&immutable=1",
                               uri=True, timeout=30.0)
        _check_tables(path, conn)
    except sqlite3.OperationalError as err:
        if not wal:
            raise damaged(path, str(err)) from None
        # A log left by a killed fit in a folder this user cannot write: SQLite
        # cannot share it, so the store is read without its last transactions.
        log.warning("%s: its write-ahead log cannot be read here (%s); reading the store "
                    "without it: starts finished last may be missing", path, err)
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        _check_tables(path, conn)
    return conn


def _check_tables(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse (closing ``conn``) a database without bngfit's tables, or a damaged one."""
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table'")}
    except sqlite3.OperationalError:
        conn.close()
        raise
    except sqlite3.DatabaseError as err:
        conn.close()
        raise damaged(path, str(err)) from None
    missing = [t for t in TABLES if t not in names]
    if missing:
        conn.close()
        held = ", ".join(sorted(names)) or "none"
        raise not_a_store(path, f"an SQLite database without bngfit's tables (missing: "
                                f"{', '.join(missing)}; tables: {held})")


def check_for_writing(path: Path) -> None:
    """Refuse an existing file that is not a bngfit store, or that cannot be written,
    before SQLite opens it for writing (which would leave its journal files
    beside a store it then finds read-only).

    A missing or empty file is fine (a new store).
    """
    if path.is_dir():
        raise not_a_store(path, "it is a folder")
    if not path.exists() or path.stat().st_size == 0:
        return
    open_readonly(path).close()
    probe_file(path, "the store")


def check_writable(path: str | Path, *, resume: bool = False, what: str = "the store") -> None:
    """Check up front that a fit can write its store at ``path``.

    Without ``resume`` the store must not exist yet and its folder must take a
    new file; with ``resume`` it must be a bngfit store that can be written,
    in a folder where SQLite can create its journal. Nothing is modified.

    Parameters
    ----------
    path : str or Path
    resume : bool
    what : str
        How messages name the store (the command line adds its option).

    Raises
    ------
    InputError
        Naming the file or folder and what to do.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"cannot write {what}: it names a folder, not a file", file=str(path))
    if not resume:
        if path.exists():
            raise InputError("the store already exists; continue it with --resume or give "
                             "another --store", file=str(path))
        probe_folder(folder, what)
        return
    if not path.exists():
        raise InputError("nothing to resume: the store does not exist", file=str(path))
    open_readonly(path).close()
    probe_file(path, what)
    probe_folder(folder, f"{what} (SQLite writes its journal beside it)")


def probe_connection(path: Path, conn: sqlite3.Connection) -> None:
    """Write nothing new but make SQLite write: refuse a store it cannot write."""
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA user_version = {int(version)}")
    except sqlite3.OperationalError as err:
        raise InputError(f"cannot write the store ({err}); check the permissions of the file "
                         "and of its folder (SQLite writes a journal beside it), or give "
                         "another --store", file=str(path)) from None
