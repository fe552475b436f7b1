"""The result store: one SQLite file per run, crash-safe and transactional.

Each finished start is written in its own transaction, so a run killed at any
moment loses no finished start; a resumed run skips them. The problem's
fingerprint (a hash of its files) is stored, and resuming onto a different
problem is refused. Reading a store never changes it, and every value read is
checked: a foreign or damaged file is an :class:`~bngfit.errors.InputError`
("not a bngfit store: ..." / "damaged store: ..."), never a traceback (see
:mod:`bngfit.result._store_files`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.problem._problem import Problem

from ._fingerprint import VERSIONS, fingerprint, fingerprint_v2
from ._store_files import (
    check_for_writing,
    check_writable,
    damaged,
    not_a_store,
    open_readonly,
    probe_connection,
)
from ._types import FitResult, StartResult, StartStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS starts (
    idx INTEGER PRIMARY KEY, x0 TEXT NOT NULL, x TEXT NOT NULL, fval REAL,
    grad_norm REAL, n_fval INTEGER, wall_s REAL, status TEXT, message TEXT,
    trace TEXT, eval_s REAL, detail TEXT
);
CREATE TABLE IF NOT EXISTS gradchecks (which TEXT PRIMARY KEY, tbl TEXT NOT NULL);
"""
FORMAT = "bngfit-store-3"  # 2: starts.detail; 3: fingerprint over the problem's dataclasses
READABLE = ("bngfit-store-1", "bngfit-store-2", FORMAT)
START_COLUMNS = ("idx", "x0", "x", "fval", "grad_norm", "n_fval", "wall_s", "status",
                 "message", "trace", "eval_s")  # and "detail" from format 2
META_KEYS = ("format", "fingerprint", "problem", "x_names", "optimizer", "seed",
             "n_starts", "settings", "wall_s")


def _vec(a: np.ndarray | list[float]) -> str:
    return json.dumps([float(v) for v in np.asarray(a, dtype=float)])


class Store:
    """An open result store.

    Parameters
    ----------
    path : str or Path
        The SQLite file.
    readonly : bool
        Open for reading only (the file must be a bngfit store, and is never
        changed). Otherwise the file is created if missing; an existing file
        must be a bngfit store, and one that cannot be written is refused at
        once (InputError), before any start is computed.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            self.conn = open_readonly(self.path)
            return
        check_for_writing(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
        except sqlite3.OperationalError as err:
            raise InputError(f"cannot create the store ({err}); check that its folder "
                             "exists and can be written, or give another --store",
                             file=str(path)) from None
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            probe_connection(self.path, self.conn)
            self._check_format()
            self.conn.executescript(SCHEMA)
            self._upgrade()
        except sqlite3.OperationalError as err:
            self.conn.close()
            raise InputError(f"cannot write the store ({err}); check the permissions of the "
                             "file and of its folder, or give another --store",
                             file=str(path)) from None
        except sqlite3.DatabaseError as err:
            self.conn.close()
            raise damaged(self.path, str(err)) from None
        except BaseException:
            self.conn.close()
            raise

    def _check_format(self) -> None:
        """Refuse, before changing anything, a store of a format this version does not write."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        if "meta" in tables and self._raw_meta().get("format") is not None:
            self.run_meta()

    def _upgrade(self) -> None:
        """Give a store of format 1 the column of format 2 (nothing else changed).

        Format 3 changed only how the fingerprint is computed: a store of format
        1 or 2 is brought to format 3 by :meth:`check_same_problem`, once it has
        been shown to be the same problem by the old algorithm.
        """
        if "detail" not in self._columns():
            with self.conn:
                self.conn.execute("ALTER TABLE starts ADD COLUMN detail TEXT")
                if self._raw_meta().get("format") == json.dumps(READABLE[0]):
                    self.conn.execute("UPDATE meta SET value = ? WHERE key = 'format'",
                                      (json.dumps(READABLE[1]),))

    def _columns(self) -> list[str]:
        return [r[1] for r in self.conn.execute("PRAGMA table_info(starts)")]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, sql: str, args: tuple = ()) -> list:
        """Rows of a query; a damaged file is an InputError naming the store."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            raise damaged(self.path, str(err)) from None

    # --------------------------------------------------------------- meta
    def _raw_meta(self) -> dict:
        return dict(self._read("SELECT key, value FROM meta"))

    def meta(self) -> dict:
        """All metadata (decoded JSON values); a damaged value is an InputError."""
        out = {}
        for k, v in self._raw_meta().items():
            try:
                out[k] = json.loads(v)
            except (TypeError, ValueError):
                raise damaged(self.path, f"metadata '{k}' is not valid JSON") from None
        return out

    def run_meta(self) -> dict:
        """The metadata of the recorded run, checked.

        Raises
        ------
        InputError
            No run recorded, a format this version does not read, a missing or
            mistyped entry.
        """
        meta = self.meta()
        fmt = meta.get("format")
        if fmt is None:
            raise not_a_store(self.path, "no run recorded in it")
        if fmt not in READABLE:
            if isinstance(fmt, str) and fmt.startswith("bngfit-store-"):
                raise InputError(f"the store has format {fmt}, made by a newer bngfit; this "
                                 f"version reads {', '.join(READABLE)}: upgrade bngfit",
                                 file=str(self.path))
            raise not_a_store(self.path, f"unknown format {fmt!r}")
        missing = [k for k in META_KEYS if k not in meta]
        if missing:
            raise damaged(self.path, f"metadata missing: {', '.join(missing)}")
        _check_meta_types(self.path, meta)
        return meta

    def is_new(self) -> bool:
        """Whether the store holds no run yet."""
        return "format" not in self.meta()

    def init_run(self, *, fp: str, problem_path: str, x_names: list[str],
                 x_scales: list[str], optimizer: str, seed: int | None, n_starts: int,
                 settings: dict, user_starts: list | None = None,
                 bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Record what defines the run (once, when the store is new).

        The problem's path is kept relative to the store's folder (a folder
        moved or copied with its store still finds it) and absolute (a store
        moved alone still finds it); see :meth:`problem_path`. ``bounds``,
        ``(lb, ub)`` in optimizer space, lets a summary flag parameters at a
        bound without loading the problem.
        """
        absolute = os.path.abspath(problem_path)
        try:
            relative = os.path.relpath(absolute, self.path.resolve().parent)
        except ValueError:  # another drive (Windows): no relative path exists
            relative = absolute
        values = {
            "format": FORMAT, "fingerprint": fp, "problem": relative,
            "problem_abs": absolute,
            "x_names": x_names, "x_scales": x_scales, "optimizer": optimizer, "seed": seed,
            "n_starts": n_starts, "user_starts_x": user_starts or [],
            "settings": settings, "created": time.time(), "wall_s": 0.0,
        }
        if bounds is not None:
            # JSON has no infinity: an unbounded side is null
            values["x_bounds"] = [[float(v) if np.isfinite(v) else None for v in side]
                                  for side in bounds]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  [(k, json.dumps(v)) for k, v in values.items()])

    def problem_path(self) -> str:
        """The fitted problem's file: beside the store as recorded, else where it was.

        A relative path is taken from the store's folder; when no file is
        there, the absolute path recorded at the start of the run is tried.
        Stores written before relative paths hold an absolute one.
        """
        meta = self.run_meta()
        recorded = meta["problem"]
        if os.path.isabs(recorded):
            return recorded
        beside = os.path.normpath(os.path.join(self.path.resolve().parent, recorded))
        absolute = meta.get("problem_abs")
        if not os.path.isfile(beside) and isinstance(absolute, str) and os.path.isfile(
                absolute):
            return absolute
        return beside

    def set_n_starts(self, n_starts: int) -> None:
        """Raise the run's number of starts (a resumed run given more starts)."""
        meta = self.run_meta()
        if n_starts < int(meta["n_starts"]):
            raise ValueError("a run's number of starts can only grow")
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              ("n_starts", json.dumps(int(n_starts))))

    def check_same_problem(self, problem: Problem) -> None:
        """Refuse a store made for another problem.

        The problem's fingerprint is computed the way the store's format made
        it; a store of an older format that matches is then given the current
        format and fingerprint (unless the store is open read-only).

        Parameters
        ----------
        problem : Problem
            The problem about to be resumed onto this store.
        """
        meta = self.run_meta()
        made_with = VERSIONS.get(meta["format"], fingerprint)
        if meta["fingerprint"] != made_with(problem):
            raise InputError(
                f"the store was made for a different problem ({meta['problem']}: its files "
                "or free parameters differ from this one); resume only onto the same "
                "problem, or give a new --store", file=str(self.path))
        if meta["format"] != FORMAT and not self.readonly:
            with self.conn:
                self.conn.executemany("UPDATE meta SET value = ? WHERE key = ?", [
                    (json.dumps(fingerprint(problem)), "fingerprint"),
                    (json.dumps(FORMAT), "format")])

    def _add_wall(self, seconds: float) -> None:
        (total,) = self.conn.execute("SELECT value FROM meta WHERE key = 'wall_s'").fetchone()
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'wall_s'",
                          (json.dumps(json.loads(total) + seconds),))

    def add_wall(self, seconds: float) -> None:
        """Add wall time to the run's total (summed over sessions)."""
        with self.conn:
            self._add_wall(seconds)

    # ------------------------------------------------------------- starts
    def add_start(self, s: StartResult, wall_s: float = 0.0) -> None:
        """Write one finished start and the run's wall time since the last write,
        in one transaction.
        """
        with self.conn:
            self._add_wall(wall_s)
            self.conn.execute(
                f"INSERT OR REPLACE INTO starts ({', '.join(START_COLUMNS)}, detail) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (s.index, _vec(s.x0), _vec(s.x), float(s.fval), float(s.grad_norm),
                 int(s.n_fval), float(s.wall_s), s.status.value, s.message,
                 _vec(s.trace), float(s.eval_s), s.detail))

    def finished(self) -> set[int]:
        """Indices of the finished starts."""
        return {r[0] for r in self._read("SELECT idx FROM starts")}

    def starts(self) -> list[StartResult]:
        """All finished starts, in index order (each value checked)."""
        have = [r[1] for r in self._read("PRAGMA table_info(starts)")]
        missing = [c for c in START_COLUMNS if c not in have]
        if missing:
            raise not_a_store(self.path, f"its starts table lacks {', '.join(missing)}")
        cols = list(START_COLUMNS) + (["detail"] if "detail" in have else [])
        sql = f"SELECT {', '.join(cols)} FROM starts ORDER BY idx"
        x_names = self.meta().get("x_names")
        n_x = len(x_names) if isinstance(x_names, list) else None
        return [_start_of(self.path, row, n_x) for row in self._read(sql)]

    # --------------------------------------------------------- gradchecks
    def add_gradcheck(self, which: str, table: pd.DataFrame) -> None:
        """Store a gradient-check table under ``which`` (``start``, ``best``)."""
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO gradchecks VALUES (?, ?)",
                              (which, table.to_json(orient="split", double_precision=15)))

    def gradchecks(self) -> dict[str, pd.DataFrame]:
        """Stored gradient-check tables by name."""
        names = {r[0] for r in self._read("SELECT name FROM sqlite_master WHERE type='table'")}
        if "gradchecks" not in names:  # a read-only view of a store from an early writer
            return {}
        out = {}
        for which, text in self._read("SELECT which, tbl FROM gradchecks"):
            try:
                df = pd.read_json(StringIO(text), orient="split")
            except (TypeError, ValueError) as err:
                raise damaged(self.path, f"gradient check '{which}': {err}") from None
            df.index.name = "parameterId"
            out[which] = df
        return out

    # ------------------------------------------------------------- result
    def result(self) -> FitResult:
        """The FitResult as stored (finished or not)."""
        meta = self.run_meta()
        starts = sorted(self.starts(), key=lambda s: (not np.isfinite(s.fval), s.fval,
                                                      s.index))
        settings = dict(meta["settings"])
        settings["problem"] = self.problem_path()
        bounds = _bounds_of(meta.get("x_bounds"), len(meta["x_names"]))
        if bounds is not None:
            settings["x_bounds"] = bounds
        settings["x_scales"] = meta.get("x_scales")
        return FitResult(
            x_names=list(meta["x_names"]), starts=tuple(starts), optimizer=meta["optimizer"],
            seed=meta["seed"], n_starts=int(meta["n_starts"]), wall_s=float(meta["wall_s"]),
            settings=settings, gradchecks=self.gradchecks())


def _bounds_of(recorded: object, n_x: int) -> list[list[float]] | None:
    """The recorded bounds ``[lb, ub]`` (null sides infinite), or None where unusable.

    Bounds only flag parameters at a bound; a store whose entry is missing or
    hand-edited into something else reads as one that never recorded them.
    """
    if not (isinstance(recorded, list) and len(recorded) == 2 and all(
            isinstance(b, list) and len(b) == n_x for b in recorded)):
        return None
    try:
        return [[default if v is None else float(v) for v in side]
                for side, default in zip(recorded, (-np.inf, np.inf), strict=True)]
    except (TypeError, ValueError):
        return None


def _check_meta_types(path: Path, meta: dict) -> None:
    """Refuse metadata of the wrong type (a hand-edited or damaged store)."""
    def number(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    checks = {
        "fingerprint": isinstance(meta["fingerprint"], str),
        "problem": isinstance(meta["problem"], str),
        "x_names": isinstance(meta["x_names"], list)
        and all(isinstance(n, str) for n in meta["x_names"]),
        "optimizer": isinstance(meta["optimizer"], str),
        "seed": meta["seed"] is None or (isinstance(meta["seed"], int)
                                         and not isinstance(meta["seed"], bool)),
        "n_starts": isinstance(meta["n_starts"], int) and meta["n_starts"] >= 1,
        "settings": isinstance(meta["settings"], dict),
        "wall_s": number(meta["wall_s"]),
        "x_scales": meta.get("x_scales") is None or isinstance(meta["x_scales"], list),
        "user_starts_x": isinstance(meta.get("user_starts_x", []), list),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise damaged(path, f"metadata of the wrong type: {', '.join(bad)}")


def _start_of(path: Path, row: tuple, n_x: int | None) -> StartResult:
    """One stored start, every field checked."""
    idx = row[0]
    try:
        if not isinstance(idx, int):
            raise ValueError(f"index {idx!r} is not an integer")
        x0, x = _points(row[1], "x0", n_x), _points(row[2], "x", n_x)
        trace = _points(row[9], "trace", None)
        n_fval = row[5]
        if not isinstance(n_fval, int) or n_fval < 0:
            raise ValueError(f"n_fval {n_fval!r} is not a count")
        for name, v in (("message", row[8]),) + ((("detail", row[11]),) if len(row) > 11
                                                  else ()):
            if v is not None and not isinstance(v, str):
                raise ValueError(f"{name} is not text")
        try:
            status = StartStatus(row[7])
        except ValueError:
            raise ValueError(f"unknown status {row[7]!r}") from None
        return StartResult(idx, x0, x, _real(row[3], "fval"), _real(row[4], "grad_norm"),
                           n_fval, _real(row[6], "wall_s"), status, row[8] or "", trace,
                           _real(row[10], "eval_s"),
                           (row[11] or "") if len(row) > 11 else "")
    except ValueError as err:
        raise damaged(path, f"start {idx}: {err}") from None


def _real(v: object, name: str) -> float:
    """A stored number; NULL is NaN (SQLite stores NaN as NULL)."""
    if v is None:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{name} {v!r} is not a number")
    return float(v)


def _points(text: object, name: str, n: int | None) -> np.ndarray:
    """A stored vector (JSON list of numbers), of length ``n`` when given."""
    try:
        values = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a JSON list of numbers") from None
    if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} is not a list of numbers")
    if n is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} parameters")
    return np.array(values, dtype=float)


def load_result(path: str | Path) -> FitResult:
    """Read a FitResult back from a store file, without changing it.

    Raises
    ------
    InputError
        If the file is missing, is no bngfit store, or is damaged.
    """
    with Store(path, readonly=True) as store:
        return store.result()


__all__ = ["FORMAT", "Store", "check_writable", "fingerprint", "fingerprint_v2", "load_result"]
