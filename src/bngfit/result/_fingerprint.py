"""The fingerprint of a problem: what a store was made for.

A resumed fit must run the same problem as the run that made the store. The
fingerprint hashes every file of the problem by content, and the problem as
read, canonically: every field of its dataclasses, recursively, except what
only says where things are (paths, the file table, the warnings' locations).
The problem's folder is cut from the text (labels that name a file for
messages, such as a ``.prop`` penalty's ``file:line``, must not make a copied
problem another problem). It is derived from the dataclasses themselves, so a field added to
:class:`~bngfit.problem.Problem` or to any type it holds is covered without
touching this module.

:func:`fingerprint_v2` is the algorithm of store formats 1 and 2, kept unchanged
so that stores written by bngfit 0.1 keep resuming; it missed
``Condition.previous`` and ``Condition.model``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import sympy as sp

from bngfit.problem._problem import Problem

# Fields that say where the problem's parts are, not what it computes: the
# files are hashed by content instead, so a copied or moved problem keeps its
# fingerprint.
_WHERE = frozenset({"source", "files", "path", "warnings"})
# Fields added to the problem's types after format 3 was fixed: left out while
# they hold their default, so a store made before them keeps its fingerprint.
_LATER = frozenset({"objective_prior", "no_gradient", "amount_compartments"})


def _hash_files(problem: Problem, h: hashlib._Hash) -> None:
    """Every file of every role, by content (a missing one by its name)."""
    for role in sorted(problem.files):
        for path in problem.files[role].split(";"):
            h.update(role.encode())
            p = Path(path)
            h.update(p.read_bytes() if p.is_file() else path.encode())


def _canonical(value: object) -> object:
    """A JSON-able canonical form of a problem's value (dataclasses field by field)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__name__,
                **{f.name: _canonical(getattr(value, f.name))
                   for f in dataclasses.fields(value) if f.compare and f.name not in _WHERE
                   and not (f.name in _LATER and getattr(value, f.name) == f.default)}}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.ndarray):
        return [_canonical(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, sp.Basic):
        return sp.srepr(value)
    if isinstance(value, Path) or callable(value):
        return None
    return value if isinstance(value, str | int | bool | None) else repr(value)


def fingerprint(problem: Problem) -> str:
    """SHA-256 over the problem's files and every field of what was read (format 3).

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256(b"bngfit-fingerprint-3\0")
    _hash_files(problem, h)
    text = json.dumps(_canonical(problem), sort_keys=True)
    # as given and resolved: a problem loaded by a relative path is the same
    for home in sorted({str(Path(problem.source).resolve().parent), str(problem.source.parent)},
                       key=len, reverse=True):
        text = text.replace(json.dumps(os.path.join(home, ""))[1:-1], "")
    h.update(text.encode())
    return h.hexdigest()


def fingerprint_v2(problem: Problem) -> str:
    """The fingerprint of store formats 1 and 2 (bngfit 0.1), unchanged.

    Every file by content, and a canonical text of parameters, observables,
    conditions (without ``previous`` and ``model``), measurements,
    normalizations and penalties; 64 hexadecimal digits, as :func:`fingerprint`.
    """
    h = hashlib.sha256()
    _hash_files(problem, h)
    h.update(_content_v2(problem).encode())
    return h.hexdigest()


def _content_v2(problem: Problem) -> str:
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


VERSIONS: dict[str, Callable[[Problem], str]] = {
    "bngfit-store-1": fingerprint_v2,
    "bngfit-store-2": fingerprint_v2,
    "bngfit-store-3": fingerprint,
}
"""Store format -> the fingerprint algorithm its ``fingerprint`` was made with."""
