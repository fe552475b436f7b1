"""Settings tables of the analyses that follow a fit in its store (bootstrap, profiles).

Each analysis keeps its settings as ``key -> JSON value`` rows in its own
``*_meta`` table, with a ``wall_s`` total. These helpers read, check, write and
add to such a table; the caller names the table and what it holds (for
messages).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from bngfit.errors import InputError

from ._store import Store
from ._store_files import damaged


def tables(store: Store) -> set[str]:
    """The names of the store's tables."""
    return {r[0] for r in store._read("SELECT name FROM sqlite_master WHERE type='table'")}


def read_meta(store: Store, table: str, what: str) -> dict:
    """The settings in ``table`` (empty: none yet); a damaged value is an InputError.

    ``what`` names the analysis in messages (``bootstrap``, ``profile``).
    """
    if table not in tables(store):
        return {}
    out = {}
    for k, v in store._read(f"SELECT key, value FROM {table}"):  # noqa: S608 - our names
        try:
            out[k] = json.loads(v)
        except (TypeError, ValueError):
            raise damaged(store.path, f"{what} setting '{k}' is not valid JSON") from None
    return out


def check_continues(store: Store, stored: dict, ours: dict, fixed: Iterable[str],
                    held: str) -> None:
    """Refuse settings ``ours`` that differ from ``stored`` in a ``fixed`` key.

    ``held`` says what the store holds, e.g. ``"a bootstrap"`` or ``"profiles"``.

    Raises
    ------
    InputError
        Naming each differing key with both values.
    """
    diff = [k for k in fixed if stored.get(k) != ours.get(k)]
    if diff:
        detail = "; ".join(f"{k}: stored {_short(stored.get(k))}, given {_short(ours.get(k))}"
                           for k in diff)
        them = "it" if held.startswith("a ") else "them"
        raise InputError(f"the store holds {held} with other settings; continue {them} "
                         f"with the same ones, or replace {them} ({detail})",
                         file=str(store.path))


def write_meta(store: Store, table: str, values: dict) -> None:
    """Write (or overwrite) the settings ``values`` into ``table``."""
    with store.conn:
        store.conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",  # noqa: S608
                               [(k, json.dumps(v)) for k, v in values.items()])


def add_wall(store: Store, table: str, wall_s: float) -> None:
    """Add to the ``wall_s`` total of ``table`` (inside the caller's transaction)."""
    (total,) = store.conn.execute(
        f"SELECT value FROM {table} WHERE key = 'wall_s'").fetchone()  # noqa: S608
    store.conn.execute(f"UPDATE {table} SET value = ? WHERE key = 'wall_s'",  # noqa: S608
                       (json.dumps(json.loads(total) + wall_s),))


def _short(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
