"""The result store: one SQLite file per run, crash-safe and transactional.

Each finished start is written in its own transaction, so a run killed at any
moment loses no finished start; a resumed run skips them. The problem's
fingerprint (a hash of its files) is stored, and resuming onto a different
problem is refused.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .problem import Problem
from .results import FitResult, StartResult, StartStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS starts (
    idx INTEGER PRIMARY KEY, x0 TEXT NOT NULL, x TEXT NOT NULL, fval REAL,
    grad_norm REAL, n_fval INTEGER, wall_s REAL, status TEXT, message TEXT,
    trace TEXT, eval_s REAL
);
CREATE TABLE IF NOT EXISTS gradchecks (which TEXT PRIMARY KEY, tbl TEXT NOT NULL);
"""
FORMAT = "bngfit-store-1"


def fingerprint(problem: Problem) -> str:
    """SHA-256 over the problem's files and its compiled content.

    Every file (the problem file too: a PyBNF ``.conf`` alone sets bounds,
    scales and the objective) by contents, and the problem as read: parameters,
    observables, conditions, measurements, normalizations and constraints. So
    an edited file, or a problem changed in memory, gives another fingerprint.
    """
    h = hashlib.sha256()
    for role in sorted(problem.files):
        for path in problem.files[role].split(";"):
            h.update(role.encode())
            p = Path(path)
            h.update(p.read_bytes() if p.is_file() else path.encode())
    h.update(_content(problem).encode())
    return h.hexdigest()


def _content(problem: Problem) -> str:
    """A canonical text of what the problem computes (no file paths)."""
    m = problem.measurements
    parts = [
        [(p.id, p.scale.value, repr(p.lb), repr(p.ub), repr(p.nominal), p.estimate,
          repr(p.init_prior)) for p in problem.parameters],
        [(o.id, o.formula.text, o.noise.text, o.transform.value, o.family.value,
          repr(o.shape)) for o in problem.observables.values()],
        [(c.id, [(u.target, u.op.value, repr(u.value)) for u in c.mutations],
          repr(c.duration)) for c in problem.conditions.values()],
        [list(m.observable), list(m.preeq), list(m.condition), m.time.tolist(),
         m.value.tolist(), repr(m.observable_params), repr(m.noise_params)],
        [(n.kind.value, n.observable, n.preeq, n.condition, list(n.times))
         for n in problem.normalizations],
        [(q.label, list(q.names), q.preeq, q.condition, list(q.times))
         for q in problem.penalties],
    ]
    return json.dumps(parts, default=str)


def _vec(a) -> str:
    return json.dumps([float(v) for v in np.asarray(a, dtype=float)])


def _unvec(text: str) -> np.ndarray:
    return np.array(json.loads(text), dtype=float)


class Store:
    """An open result store.

    Parameters
    ----------
    path : str or Path
        The SQLite file (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise InputError(f"not a bngfit result store ({err})", file=str(path)) from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------- meta
    def meta(self) -> dict:
        """All metadata (decoded JSON values)."""
        rows = self.conn.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def is_new(self) -> bool:
        """Whether the store holds no run yet."""
        return "format" not in self.meta()

    def init_run(self, *, fp: str, problem_path: str, x_names: list[str],
                 x_scales: list[str], optimizer: str, seed: int | None, n_starts: int,
                 settings: dict, user_starts: list | None = None) -> None:
        """Record what defines the run (once, when the store is new)."""
        values = {
            "format": FORMAT, "fingerprint": fp, "problem": problem_path,
            "x_names": x_names, "x_scales": x_scales, "optimizer": optimizer, "seed": seed,
            "n_starts": n_starts, "user_starts_x": user_starts or [],
            "settings": settings, "created": time.time(), "wall_s": 0.0,
        }
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  [(k, json.dumps(v)) for k, v in values.items()])

    def check_same_problem(self, fp: str) -> None:
        """Refuse a store made for another problem."""
        meta = self.meta()
        if meta.get("format") != FORMAT:
            raise InputError("not a bngfit result store (no run recorded)",
                             file=str(self.path))
        if meta["fingerprint"] != fp:
            raise InputError(
                f"the store was made for a different problem ({meta['problem']}: its files "
                "or free parameters differ from this one); resume only onto the same "
                "problem, or give a new --store", file=str(self.path))

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
        in one transaction."""
        with self.conn:
            self._add_wall(wall_s)
            self.conn.execute(
                "INSERT OR REPLACE INTO starts VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (s.index, _vec(s.x0), _vec(s.x), float(s.fval), float(s.grad_norm),
                 int(s.n_fval), float(s.wall_s), s.status.value, s.message,
                 _vec(s.trace), float(s.eval_s)))

    def finished(self) -> set[int]:
        """Indices of the finished starts."""
        return {r[0] for r in self.conn.execute("SELECT idx FROM starts")}

    def starts(self) -> list[StartResult]:
        """All finished starts, in index order."""
        rows = self.conn.execute("SELECT * FROM starts ORDER BY idx").fetchall()
        return [
            StartResult(idx, _unvec(x0), _unvec(x), fval, grad_norm, n_fval, wall_s,
                        StartStatus(status), message, _unvec(trace), eval_s)
            for idx, x0, x, fval, grad_norm, n_fval, wall_s, status, message, trace, eval_s
            in rows
        ]

    # --------------------------------------------------------- gradchecks
    def add_gradcheck(self, which: str, table: pd.DataFrame) -> None:
        """Store a gradient-check table under ``which`` (``start``, ``best``)."""
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO gradchecks VALUES (?, ?)",
                              (which, table.to_json(orient="split", double_precision=15)))

    def gradchecks(self) -> dict[str, pd.DataFrame]:
        """Stored gradient-check tables by name."""
        out = {}
        for which, text in self.conn.execute("SELECT which, tbl FROM gradchecks"):
            df = pd.read_json(StringIO(text), orient="split")
            df.index.name = "parameterId"
            out[which] = df
        return out

    # ------------------------------------------------------------- result
    def result(self) -> FitResult:
        """The FitResult as stored (finished or not)."""
        meta = self.meta()
        if meta.get("format") != FORMAT:
            raise InputError("not a bngfit result store (no run recorded)",
                             file=str(self.path))
        starts = sorted(self.starts(), key=lambda s: (not np.isfinite(s.fval), s.fval,
                                                      s.index))
        settings = dict(meta["settings"])
        settings["problem"] = meta["problem"]
        settings["x_scales"] = meta.get("x_scales")
        return FitResult(
            x_names=list(meta["x_names"]), starts=tuple(starts), optimizer=meta["optimizer"],
            seed=meta["seed"], n_starts=int(meta["n_starts"]), wall_s=float(meta["wall_s"]),
            settings=settings, gradchecks=self.gradchecks())


def load_result(path: str | Path) -> FitResult:
    """Read a FitResult back from a store file.

    Raises
    ------
    InputError
        If the file is missing or is no bngfit store.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("result store not found", file=str(path))
    with Store(path) as store:
        return store.result()
