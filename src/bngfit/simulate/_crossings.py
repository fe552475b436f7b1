"""Keys for bngsim's clock-crossing verdicts, built from everything they read.

bngsim 0.16 decides, before every sensitivity run of a model with conditional
rate laws, which relational atoms of the (inlined) rate laws are clock
thresholds it compensates itself (``_switch_sensitivity.clock_crossing_compensated``).
The verdict is a sympy round trip per atom and per occurrence: on Giordano 2020
(13 distinct atoms occurring 246 times) it is most of an evaluation. It reads
the atom's text and a ``SwitchConditionScope``: clock symbols found by probing
the right-hand side, the parameter graph (names, derived expressions, primary
names, run constants, function names, name patterns) and the parameter values.

The structure is the same from run to run of one model, but the values change
with every point of a fit, so the verdict may be kept only keyed on the values
it can read. It evaluates expressions over parameter names, so it reads at most
the values of the names in the atom's text and, through derived parameters, in
their expressions (the closure computed here). A key is therefore: the whole
structural part of the scope (interned to a number once per scope object), the
atom, and the bytes of the values of that closure. The same key serves the
crossing terms (``_threshold_crossing_terms``: the threshold's value and its
partial derivatives, read by the switch-time detector before every run), which
read the same scope. Anything else a future bngsim might read is caught by the
adapter's first-reuse check.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_lock = threading.Lock()


class ScopeKeys:
    """Interned structural digests and per-atom name closures (one per adapter)."""

    def __init__(self) -> None:
        self._digests: dict[tuple, int] = {}
        self._last: tuple[Any, int, np.ndarray] | None = None
        self._closures: dict[tuple[int, str], np.ndarray] = {}
        self._maps: dict[tuple, int] = {}
        self._recent: list[tuple[Any, int]] = []  # the last few mapping objects seen

    def clear(self) -> None:
        """Forget everything kept."""
        with _lock:
            self._digests.clear()
            self._closures.clear()
            self._last = None
            self._maps.clear()
            self._recent = []

    def mapping_id(self, mapping: Any) -> int:
        """A number for a name -> text mapping's content, computed once per mapping object.

        bngsim builds such a mapping (function bodies, time aliases) once per run
        and passes it to every call of a text function in that run.
        """
        for seen, mid in self._recent:
            if seen is mapping:
                return mid
        digest = tuple(mapping.items())
        with _lock:
            mid = self._maps.setdefault(digest, len(self._maps))
            # held, so an object's id cannot be reused while it is listed here
            self._recent = [(mapping, mid), *self._recent[:3]]
        return mid

    def _scope(self, scope: Any) -> tuple[int, np.ndarray]:
        """(structural id, values array) of a scope, computed once per scope object."""
        last = self._last
        if last is not None and last[0] is scope:
            return last[1], last[2]
        names = tuple(scope.param_names)
        digest = (
            tuple(sorted(scope.clocks.items())),
            frozenset(scope.clock_symbols),
            names,
            tuple(scope.param_pats[n].pattern for n in names),
            frozenset(scope.primary_names),
            tuple(sorted(scope.param_idx.items())),
            tuple(sorted(scope.derived_exprs.items())),
            frozenset(scope.run_constants),
            frozenset(scope.function_names),
        )
        values = np.asarray(scope.values, dtype=float)
        with _lock:
            sid = self._digests.setdefault(digest, len(self._digests))
            self._last = (scope, sid, values)
        return sid, values

    def _closure(self, sid: int, atom: str, scope: Any) -> np.ndarray:
        """Indices of the parameter values ``atom`` can read (names, then derived ones)."""
        hit = self._closures.get((sid, atom))
        if hit is not None:
            return hit
        derived, idx = scope.derived_exprs, scope.param_idx
        seen: set[str] = set()
        todo = _NAME.findall(atom)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in derived:
                todo.extend(_NAME.findall(str(derived[name])))
        found = np.array(sorted(idx[n] for n in seen if n in idx), dtype=np.intp)
        with _lock:
            self._closures[(sid, atom)] = found
        return found

    def key(self, tag: Any, atom: str, scope: Any) -> tuple:
        """The memo key of a function ``tag`` of ``(atom, scope)``: the verdict, the terms.

        Raises
        ------
        TypeError, KeyError, AttributeError, IndexError, ValueError
            When the scope is not what this was written for (then do not keep).
        """
        sid, values = self._scope(scope)
        read = self._closure(sid, atom, scope)
        return (tag, sid, atom, values[read].tobytes())
