"""Profiles in the fit's own store: their settings and one row per finished point.

Each finished profile point is written in its own transaction, like a
bootstrap's replicates: a profile killed at any moment loses no finished point,
and running it again continues each (parameter, direction) from its stored
points (the march is a function of them alone). The settings that decide what
a point computes (alpha, the step settings, the fit's best point, the
optimizer) are stored with the first point; continuing with other values is
refused, and ``replace`` drops the stored points instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._profile import ProfilePoint
from ._store import Store
from ._store_files import damaged
from ._store_meta import add_wall, check_continues, read_meta, tables, write_meta

PROFILE_SCHEMA = """
CREATE TABLE IF NOT EXISTS profile_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profile_points (
    parameter TEXT NOT NULL, direction INTEGER NOT NULL, seq INTEGER NOT NULL,
    value REAL NOT NULL, native REAL, fval REAL, x TEXT NOT NULL, at_bounds TEXT NOT NULL,
    n_fval INTEGER, wall_s REAL, message TEXT,
    PRIMARY KEY (parameter, direction, seq)
);
"""
PROFILE_FORMAT = "bngfit-profile-1"
#: Settings a continued profile must share with the stored one.
FIXED_SETTINGS = ("alpha", "estimate", "fval_best", "optimizer", "step")



def profile_meta(store: Store) -> dict:
    """The stored profile settings (empty: none); a damaged value is an InputError."""
    return read_meta(store, "profile_meta", "profile")


def open_profile(store: Store, settings: dict, *, replace: bool = False) -> dict:
    """Begin the store's profiles, or check that ``settings`` continue the stored ones.

    Parameters
    ----------
    store : Store
        Open for writing, holding the fit.
    settings : dict
        JSON-ready, with every key of :data:`FIXED_SETTINGS`.
    replace : bool
        Drop stored profiles (their points) and begin anew.

    Returns
    -------
    dict
        The settings in force.

    Raises
    ------
    InputError
        Stored profiles with other settings (each named with both values),
        unless ``replace``.
    """
    with store.conn:
        store.conn.executescript(PROFILE_SCHEMA)
    stored = profile_meta(store)
    ours = json.loads(json.dumps(settings))
    if stored and replace:
        with store.conn:
            store.conn.execute("DELETE FROM profile_points")
            store.conn.execute("DELETE FROM profile_meta")
        stored = {}
    if stored:
        check_continues(store, stored, ours, FIXED_SETTINGS, "profiles")
    values = {"format": PROFILE_FORMAT, "wall_s": stored.get("wall_s", 0.0), **ours}
    write_meta(store, "profile_meta", values)
    return values



def add_point(store: Store, p: ProfilePoint, wall_s: float = 0.0) -> None:
    """Write one finished point and the profiles' wall time since the last write."""
    with store.conn:
        add_wall(store, "profile_meta", wall_s)
        store.conn.execute(
            "INSERT OR REPLACE INTO profile_points VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (p.parameter, int(p.direction), int(p.seq), float(p.value), float(p.native),
             float(p.fval) if np.isfinite(p.fval) else None,
             json.dumps([float(v) for v in p.x]), json.dumps(list(p.at_bounds)),
             int(p.n_fval), float(p.wall_s), p.message))


def add_profile_wall(store: Store, wall_s: float) -> None:
    """Add wall time to the profiles' total."""
    with store.conn:
        add_wall(store, "profile_meta", wall_s)



def profile_points(store: Store, n_x: int) -> list[ProfilePoint]:
    """Every stored point, by parameter, direction and seq (each value checked).

    A failed point (fval stored as NULL) reads as ``inf``.
    """
    if "profile_points" not in tables(store):
        return []
    rows = store._read("SELECT parameter, direction, seq, value, native, fval, x, at_bounds, "
                       "n_fval, wall_s, message FROM profile_points "
                       "ORDER BY parameter, direction, seq")
    return [_point(store.path, row, n_x) for row in rows]


def _point(path: Path, row: tuple, n_x: int) -> ProfilePoint:
    try:
        x = np.array(json.loads(row[6]), dtype=float)
        if x.shape != (n_x,):
            raise ValueError(f"x has {x.size} values for {n_x} parameters")
        if int(row[1]) not in (-1, 1):
            raise ValueError(f"direction {row[1]}")
        return ProfilePoint(str(row[0]), int(row[1]), int(row[2]), float(row[3]),
                            float("nan") if row[4] is None else float(row[4]),
                            float("inf") if row[5] is None else float(row[5]), x,
                            tuple(str(s) for s in json.loads(row[7])), int(row[8] or 0),
                            float(row[9] or 0.0), row[10] or "")
    except (TypeError, ValueError) as err:
        raise damaged(path, f"profile point {row[0]}/{row[1]}/{row[2]}: {err}") from None


__all__ = ["PROFILE_FORMAT", "add_point", "add_profile_wall", "open_profile", "profile_meta",
           "profile_points"]
