"""A bootstrap in the fit's own store: its settings and one row per finished replicate.

Each finished replicate is written in its own transaction (with the
bootstrap's wall time so far), like a fit's starts: a bootstrap killed at any
moment loses no finished replicate, and running it again computes only the
missing ones. The settings that decide what a replicate computes (seed, starts
per replicate, threshold, the fit's best point) are stored with the first one;
continuing with other values is refused, and ``replace`` drops the stored
replicates instead. A store without a bootstrap reads as having none.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bngfit.errors import InputError

from ._bootstrap import DEFAULT_LEVEL, BootstrapResult, Replicate, ReplicateStatus
from ._store import Store
from ._store_files import damaged
from ._store_meta import add_wall, check_continues, read_meta, tables, write_meta

BOOTSTRAP_SCHEMA = """
CREATE TABLE IF NOT EXISTS bootstrap_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replicates (
    idx INTEGER PRIMARY KEY, weights TEXT NOT NULL, x TEXT NOT NULL, fval REAL,
    threshold REAL, status TEXT NOT NULL, n_fval INTEGER, wall_s REAL, message TEXT
);
"""
BOOTSTRAP_FORMAT = "bngfit-bootstrap-1"
#: Settings a continued bootstrap must share with the stored one (the others,
#: ``n`` and ``level``, may change: more replicates, another interval).
FIXED_SETTINGS = ("seed", "starts", "max_fval", "max_fval_offsets", "strata", "estimate",
                  "race")



def has_bootstrap(store: Store) -> bool:
    """Whether the store holds a bootstrap (its settings)."""
    return "bootstrap_meta" in tables(store) and bool(bootstrap_meta(store))


def bootstrap_meta(store: Store) -> dict:
    """The stored bootstrap's settings (empty: none); a damaged value is an InputError."""
    return read_meta(store, "bootstrap_meta", "bootstrap")


def open_bootstrap(store: Store, settings: dict, *, replace: bool = False) -> dict:
    """Begin the store's bootstrap, or check that ``settings`` continue the stored one.

    Parameters
    ----------
    store : Store
        Open for writing, holding the fit.
    settings : dict
        JSON-ready: ``n``, ``level`` and every key of :data:`FIXED_SETTINGS`.
    replace : bool
        Drop a stored bootstrap (its replicates) and begin this one.

    Returns
    -------
    dict
        The settings in force (``n`` the larger of the stored and given).

    Raises
    ------
    InputError
        A stored bootstrap with other fixed settings (each named with both
        values), unless ``replace``.
    """
    with store.conn:
        store.conn.executescript(BOOTSTRAP_SCHEMA)
    stored = bootstrap_meta(store)
    ours = json.loads(json.dumps(settings))
    if stored and replace:
        with store.conn:
            store.conn.execute("DELETE FROM replicates")
            store.conn.execute("DELETE FROM bootstrap_meta")
        stored = {}
    if stored:
        check_continues(store, stored, ours, FIXED_SETTINGS, "a bootstrap")
        ours = {**stored, "n": max(int(stored["n"]), int(ours["n"])), "level": ours["level"]}
    values = {"format": BOOTSTRAP_FORMAT, "wall_s": stored.get("wall_s", 0.0), **ours}
    write_meta(store, "bootstrap_meta", values)
    return values



def add_replicate(store: Store, r: Replicate, wall_s: float = 0.0) -> None:
    """Write one finished replicate and the bootstrap's wall time since the last write."""
    with store.conn:
        add_wall(store, "bootstrap_meta", wall_s)
        store.conn.execute(
            "INSERT OR REPLACE INTO replicates VALUES (?,?,?,?,?,?,?,?,?)",
            (r.index, json.dumps([int(v) for v in r.weights]),
             json.dumps([float(v) for v in r.x]), float(r.fval), float(r.threshold),
             r.status.value, int(r.n_fval), float(r.wall_s), r.message))


def add_bootstrap_wall(store: Store, wall_s: float) -> None:
    """Add wall time to the bootstrap's total."""
    with store.conn:
        add_wall(store, "bootstrap_meta", wall_s)



def replicates(store: Store, n_x: int) -> list[Replicate]:
    """Every stored replicate, in index order (each value checked)."""
    if "replicates" not in tables(store):
        return []
    rows = store._read("SELECT idx, weights, x, fval, threshold, status, n_fval, wall_s, "
                       "message FROM replicates ORDER BY idx")
    return [_replicate(store.path, row, n_x) for row in rows]


def _replicate(path: Path, row: tuple, n_x: int) -> Replicate:
    idx = row[0]
    try:
        weights = np.array(json.loads(row[1]), dtype=int)
        x = np.array(json.loads(row[2]), dtype=float)
        if x.shape != (n_x,):
            raise ValueError(f"x has {x.size} values for {n_x} parameters")
        return Replicate(int(idx), weights, x, _real(row[3]), _real(row[4]),
                         ReplicateStatus(row[5]), int(row[6]), _real(row[7]), row[8] or "")
    except (TypeError, ValueError) as err:
        raise damaged(path, f"bootstrap replicate {idx}: {err}") from None


def _real(v: object) -> float:
    """A stored number; NULL is NaN (SQLite stores NaN as NULL), inf stays inf."""
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


def bootstrap_result(store: Store, level: float | None = None) -> BootstrapResult | None:
    """The store's bootstrap as a result (None: the store holds none).

    Parameters
    ----------
    store : Store
    level : float, optional
        Confidence level of the result's intervals; default the stored one.
    """
    meta = bootstrap_meta(store)
    if not meta:
        return None
    run = store.run_meta()
    n_x = len(run["x_names"])
    try:
        estimate = np.array(meta["estimate"], dtype=float).reshape(n_x)
        settings = {k: meta[k] for k in ("starts", "max_fval", "strata", "race", "threshold")
                    if k in meta}
        return BootstrapResult(
            x_names=list(run["x_names"]),
            x_scales=list(run.get("x_scales") or ["lin"] * n_x), estimate=estimate,
            replicates=tuple(replicates(store, n_x)), n_requested=int(meta["n"]),
            seed=int(meta["seed"]),
            level=float(meta.get("level", DEFAULT_LEVEL)) if level is None else level,
            settings=settings, wall_s=float(meta.get("wall_s", 0.0)))
    except (KeyError, TypeError, ValueError) as err:
        raise damaged(store.path, f"bootstrap settings: {err}") from None


def load_bootstrap(path: str | Path, level: float | None = None) -> BootstrapResult:
    """Read the bootstrap of a store file, without changing it.

    Parameters
    ----------
    path : str or Path
    level : float, optional
        Confidence level of the result's intervals; default the stored one.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    InputError
        The file is missing, no bngfit store, damaged, or holds no bootstrap.
    """
    with Store(path, readonly=True) as store:
        result = bootstrap_result(store, level)
    if result is None:
        raise InputError("the store holds no bootstrap; run bngfit bootstrap STORE -n N",
                         file=str(path))
    return result


__all__ = ["BOOTSTRAP_FORMAT", "add_bootstrap_wall", "add_replicate", "bootstrap_meta",
           "bootstrap_result", "has_bootstrap", "load_bootstrap", "open_bootstrap",
           "replicates"]
