"""Avoiding Python work bngsim repeats inside every sensitivity run.

bngsim 0.16 re-derives, inside each ``Simulator.run`` with sensitivities, the
initial-condition sensitivity seeds of every derived initial condition: each
call parses the expression string with sympy (``parse_expr`` with a fresh
namespace), then differentiates and evaluates it at the current parameters.
The parse depends only on the expression and the model's parameter names, never
on parameter values, and sympy expressions are immutable, so its result can be
kept. Its switch detection (``state_switch_conditions``, run before every
sensitivity run of a model with conditional rate laws) likewise re-parses each
condition's text with ``sympy.parse_expr`` and sympy's default namespace, which
``parse_expr`` rebuilds with ``from sympy import *`` on every call. No public
bngsim API or flag avoids the repetition, so bngfit memoises two pure steps,
keyed on every argument they read:

- ``bngsim._codegen._prepare_derived_expr`` (expression, parameter names);
- ``sympy.parse_expr`` called from bngsim's modules with sympy's default
  namespace and transformations (text, ``evaluate``); a call from anywhere
  else, or with a namespace of its own, goes to sympy untouched;
- ``bngsim._switch_sensitivity._iter_condition_atoms``, the relational atoms
  of a rate law's text (a string scan, kept as a tuple per text). What reads
  parameter values (the clock probe, threshold evaluation) is not memoised.

Beyond these exact memos, the partial derivatives of derived initial conditions
are compiled once (:mod:`bngfit.simulate._compiled_seeds`): bngsim substitutes
values into sympy derivatives in every run, seconds per run on closed-form
steady-state initial amounts. Those agree with bngsim's own values to 1e-12
relative, not bit for bit; ``BNGFIT_ENGINE_ADAPTER=exact`` keeps only the exact
memos (and then the run check is bit for bit).

Safety, in layers:

- applied only to the bngsim versions it was verified on (:data:`VERIFIED`);
  any other version runs unpatched;
- ``BNGFIT_ENGINE_ADAPTER=0`` turns it off;
- the first reuse of every cached parse is compared with a fresh call of the
  original (same referenced names, aliases and expression), the first use of
  every compiled partial with bngsim's own value, and the first sensitivity run
  of each process is repeated unpatched and compared (outputs and
  sensitivities, :func:`verify_run`); a difference turns the adapter off for
  the process, with a warning.

What it saves is measured by ``bench/engine_adapter.py``; drop this module when
bngsim stops repeating the work upstream.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import _compiled_seeds

log = logging.getLogger(__name__)

#: bngsim versions the memo was checked on (outputs and sensitivities bit-identical).
VERIFIED = ("0.16.0",)
#: The environment variable that turns the adapter off ("0", "off", "no", "false").
SWITCH = "BNGFIT_ENGINE_ADAPTER"
#: At most this many parsed expressions are kept (a cache, not a leak).
MAX_ENTRIES = 20_000

_lock = threading.Lock()
_DEFAULT = object()  # parse_expr's own default transformations, passed on unchanged


class _State:
    """What this process's adapter does (one instance, :data:`STATE`)."""

    def __init__(self) -> None:
        self.original: Callable[..., Any] | None = None
        self.original_parse: Callable[..., Any] | None = None
        self.original_partials: Callable[..., Any] | None = None
        self.original_atoms: Callable[..., Any] | None = None
        self.compiled = False
        self.cache: dict[tuple, tuple[Any, bool]] = {}
        self.active = False
        self.run_checked = False
        self.refused: str | None = None


STATE = _State()


def _switched_off() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() in ("0", "off", "no", "false")


def _exact_only() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() == "exact"


def _same(a: Any, b: Any) -> bool:
    """Whether two results of ``_prepare_derived_expr`` are the same."""
    if a is None or b is None or a[0] is None or b[0] is None:
        return a == b
    pa, pb = a[0], b[0]
    return (a[1] == b[1] and list(pa.referenced) == list(pb.referenced)
            and dict(pa.sym_name_of) == dict(pb.sym_name_of)
            and pa.sym_expr == pb.sym_expr)


def _kept(key: tuple, compute: Callable[[], Any], same: Callable[[Any, Any], bool],
          what: str) -> Any:
    """The value kept under ``key``, computed on a miss and confirmed on its first reuse.

    The first reuse computes the value afresh and compares (``same``): a
    difference turns the adapter off and the fresh value is returned.
    """
    with _lock:
        hit = STATE.cache.get(key)
    if hit is None:
        result = compute()
        with _lock:
            if len(STATE.cache) >= MAX_ENTRIES:
                STATE.cache.clear()
            STATE.cache[key] = (result, False)
        return result
    result, confirmed = hit
    if not confirmed:
        fresh = compute()
        if not same(result, fresh):
            _refuse(f"a kept {what} differs from a fresh one")
            return fresh
        with _lock:
            STATE.cache[key] = (result, True)
    return result


def _memo(*args: Any, **kwargs: Any) -> Any:
    """``_prepare_derived_expr`` with its result kept, keyed on all it reads."""
    original = STATE.original
    if original is None or not STATE.active:
        return original(*args, **kwargs)
    try:
        key = _key(*args, **kwargs)
    except TypeError:  # an argument we cannot key on: do not guess
        return original(*args, **kwargs)
    return _kept(key, lambda: original(*args, **kwargs), _same, "derived-expression parse")


def _parse_memo(s: str, local_dict: Any = None, transformations: Any = _DEFAULT,
                global_dict: Any = None, evaluate: bool = True) -> Any:
    """``sympy.parse_expr``; kept for bngsim's calls in sympy's default namespace."""
    original = STATE.original_parse
    plain = (local_dict is None and global_dict is None and transformations is _DEFAULT
             and isinstance(s, str) and STATE.active
             and sys._getframe(1).f_globals.get("__name__", "").startswith("bngsim"))
    if not plain:
        kwargs: dict[str, Any] = {"local_dict": local_dict, "global_dict": global_dict,
                                  "evaluate": evaluate}
        if transformations is not _DEFAULT:
            kwargs["transformations"] = transformations
        return original(s, **kwargs)
    return _kept(("parse", s, bool(evaluate)), lambda: original(s, evaluate=evaluate),
                 lambda a, b: a == b and type(a) is type(b), "sympy parse")


def _atoms(expr: str) -> Any:
    """``_iter_condition_atoms`` (a generator in bngsim) as a kept tuple per text."""
    original = STATE.original_atoms
    if not STATE.active or not isinstance(expr, str):
        return original(expr)
    return _kept(("atoms", expr), lambda: tuple(original(expr)), lambda a, b: a == b,
                 "condition scan")


def _partials(expr: str, primary_names: Any, derived_names: Any, param_idx: dict,
              param_values: list, warn_on_failure: bool) -> tuple:
    """``_direct_derived_partials_numeric`` from compiled derivatives, checked on first use."""
    original = STATE.original_partials
    args = (expr, primary_names, derived_names, param_idx, param_values, warn_on_failure)
    if not (STATE.active and STATE.compiled):
        return original(*args)
    try:
        key = ("partials", expr, frozenset(primary_names), frozenset(derived_names))
    except TypeError:
        return original(*args)
    with _lock:
        hit = STATE.cache.get(key)
    if hit is None:
        from bngsim import _codegen

        hit = (_compiled_seeds.compile_partials(_codegen._prepare_derived_expr, expr,
                                                primary_names, derived_names), False)
        with _lock:
            STATE.cache[key] = hit
    compiled, confirmed = hit
    value = _compiled_seeds.evaluate(compiled, param_idx, param_values)
    if value is False:
        return original(*args)
    if not confirmed:
        reference, reason = original(*args)
        if reason is not None or not _compiled_seeds.agree(value, reference):
            _refuse("a compiled initial-condition partial differs from bngsim's own")
            return reference, reason
        with _lock:
            STATE.cache[key] = (compiled, True)
    return value, None


def _key(expr: str, primary_names: Any, derived_names: Any,
         allow_no_reference: bool = False) -> tuple:
    return (expr, frozenset(primary_names), frozenset(derived_names), bool(allow_no_reference))


def _refuse(why: str) -> None:
    """Turn the adapter off for this process, saying why."""
    if STATE.refused is None:
        log.warning("bngsim engine adapter off for this process: %s (results are computed "
                    "by bngsim unchanged)", why)
    STATE.refused = why
    uninstall()


def install() -> bool:
    """Apply the adapter where it is verified and allowed; whether it is active.

    Returns
    -------
    bool
        True when the memo is in place.
    """
    with _lock:
        if STATE.active:
            return True
        if STATE.refused is not None or _switched_off():
            return False
        import bngsim
        from bngsim import _codegen

        if bngsim.__version__ not in VERIFIED:
            return False
        from sympy.parsing import sympy_parser

        original = getattr(_codegen, "_prepare_derived_expr", None)
        if original is None or original is _memo:
            return False
        STATE.original = original
        STATE.original_parse = sympy_parser.parse_expr
        STATE.original_partials = _codegen._direct_derived_partials_numeric
        STATE.compiled = not _exact_only()
        _codegen._prepare_derived_expr = _memo
        sympy_parser.parse_expr = _parse_memo
        _codegen._direct_derived_partials_numeric = _partials
        from bngsim import _switch_sensitivity

        STATE.original_atoms = _switch_sensitivity._iter_condition_atoms
        _switch_sensitivity._iter_condition_atoms = _atoms
        STATE.active = True
        return True


def uninstall() -> None:
    """Put bngsim back as it was and forget what was kept."""
    with _lock:
        if STATE.original is not None:
            from bngsim import _codegen

            if _codegen._prepare_derived_expr is _memo:
                _codegen._prepare_derived_expr = STATE.original
            if _codegen._direct_derived_partials_numeric is _partials:
                _codegen._direct_derived_partials_numeric = STATE.original_partials
        if STATE.original_atoms is not None:
            from bngsim import _switch_sensitivity

            if _switch_sensitivity._iter_condition_atoms is _atoms:
                _switch_sensitivity._iter_condition_atoms = STATE.original_atoms
        if STATE.original_parse is not None:
            from sympy.parsing import sympy_parser

            if sympy_parser.parse_expr is _parse_memo:
                sympy_parser.parse_expr = STATE.original_parse
        STATE.active = False
        STATE.cache.clear()


@contextmanager
def bypassed() -> Iterator[None]:
    """Run bngsim unpatched inside the block (for the run check)."""
    was = STATE.active
    STATE.active = False
    try:
        yield
    finally:
        STATE.active = was and STATE.refused is None


def needs_run_check() -> bool:
    """Whether this process's first sensitivity run still has to be checked."""
    return STATE.active and not STATE.run_checked


def checked(run: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
    """``run()``; the first time in a process, also unpatched, compared (see :func:`verify_run`).

    Parameters
    ----------
    run : callable
        One sensitivity run from the same start, returning ``(y, dy)``.

    Returns
    -------
    tuple of ndarray
        The run's ``(y, dy)`` (the unpatched one where they differ).
    """
    if not needs_run_check():
        return run()
    with bypassed():
        plain = run()
    adapted = run()
    return adapted if verify_run(plain, adapted) else plain


def verify_run(plain: tuple[Any, Any], adapted: tuple[Any, Any]) -> bool:
    """Compare an unpatched run's (outputs, sensitivities) with the adapted one's.

    Bit for bit with the exact memos only; to 1e-12 relative with compiled
    partials (:mod:`bngfit.simulate._compiled_seeds`).

    Parameters
    ----------
    plain, adapted : tuple of ndarray
        ``(y, dy)`` of the same run without and with the adapter.

    Returns
    -------
    bool
        Whether they agree; otherwise the adapter is turned off.
    """
    import numpy as np

    STATE.run_checked = True
    rtol = _compiled_seeds.RTOL if STATE.compiled else 0.0

    def close(a: Any, b: Any) -> bool:
        # relative to each entry and to the array's largest entry: a sensitivity
        # that is 0 in exact arithmetic comes out as rounding noise of the others
        a, b = np.asarray(a, float), np.asarray(b, float)
        if a.shape != b.shape:
            return False
        scale = float(np.nanmax(np.abs(b), initial=0.0))
        return bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True))

    same = all(close(a, b) for a, b in zip(plain, adapted, strict=True))
    if not same:
        _refuse("a sensitivity run with it differs from the same run without it")
    return same
