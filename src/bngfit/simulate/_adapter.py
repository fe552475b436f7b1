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
  of a rate law's text (a string scan, kept as a tuple per text);
- ``bngsim._switch_sensitivity.clock_crossing_compensated``, whether bngsim
  compensates an atom's clock crossing itself: it reads parameter values, so it
  is kept keyed on the scope's whole structure, the clocks the right-hand-side
  probe found (the probe itself is not memoised) and the values of every name
  the atom can reach (:mod:`bngfit.simulate._crossings`).

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
  sensitivities, :mod:`bngfit.simulate._run_check`); a difference turns it off for
  the process, with a warning.

What it saves is measured by ``bench/engine_adapter.py``; drop this module when
bngsim stops repeating the work upstream.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import _compiled_seeds, _crossings

log = logging.getLogger(__name__)

#: bngsim versions the memo was checked on (outputs and sensitivities bit-identical).
VERIFIED = ("0.16.0",)
#: The environment variable that turns the adapter off ("0", "off", "no", "false").
SWITCH = "BNGFIT_ENGINE_ADAPTER"
#: At most this many parsed expressions are kept (a cache, not a leak).
MAX_ENTRIES = 20_000

_lock = threading.Lock()
_check_lock = threading.Lock()
_local = threading.local()  # per-thread last results (the initial-condition seed)
_DEFAULT = object()  # parse_expr's own default transformations, passed on unchanged


class _State:
    """What this process's adapter does (one instance, :data:`STATE`)."""

    def __init__(self) -> None:
        # bngsim's (and sympy's) own functions, by the name they are replaced under
        self.originals: dict[str, Callable[..., Any]] = {}
        self.scopes = _crossings.ScopeKeys()
        self.compiled = False
        self.cache: dict[tuple, tuple[Any, bool]] = {}
        self.active = False
        self.run_checked = False
        self.seed_confirmed = False
        # the run check: bngsim's own partials of its unpatched run, by whole input
        self.checking = False
        self.references: dict[tuple, Any] | None = None
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
    original = STATE.originals["_prepare_derived_expr"]
    if not STATE.active:
        return original(*args, **kwargs)
    try:
        key = _key(*args, **kwargs)
    except TypeError:  # an argument we cannot key on: do not guess
        return original(*args, **kwargs)
    return _kept(key, lambda: original(*args, **kwargs), _same, "derived-expression parse")


def _parse_memo(s: str, local_dict: Any = None, transformations: Any = _DEFAULT,
                global_dict: Any = None, evaluate: bool = True) -> Any:
    """``sympy.parse_expr``; kept for bngsim's calls in sympy's default namespace."""
    original = STATE.originals["parse_expr"]
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


def _text_memo(name: str, kind: type) -> Callable[[str], Any]:
    """A replacement for a pure function of one text, kept per text as ``kind``.

    ``kind`` is ``tuple`` for a generator (kept whole, handed out as the tuple)
    or ``list`` for a list result (a fresh copy each time: callers may extend it).
    """
    def memo(expr: str) -> Any:
        original = STATE.originals[name]
        if not STATE.active or not isinstance(expr, str):
            return original(expr)
        kept = _kept((name, expr), lambda: tuple(original(expr)), lambda a, b: a == b,
                     f"text scan {name}")
        return kept if kind is tuple else list(kept)

    memo.__name__ = memo.__qualname__ = f"{name}_memo"
    return memo


def _mapping_memo(name: str, what: str) -> Callable[..., Any]:
    """A replacement for a pure function of (text, name -> text mapping), kept per both.

    Only the two-argument call is kept; a call with further arguments (the
    recursion of ``_inline_functions``) goes to bngsim's function.
    """
    def memo(expr: str, mapping: Any, *rest: Any, **kwargs: Any) -> Any:
        original = STATE.originals[name]
        if (not STATE.active or not isinstance(expr, str) or kwargs
                or rest not in ((), (0,), (0, None))):
            return original(expr, mapping, *rest, **kwargs)
        try:
            key = (name, expr, STATE.scopes.mapping_id(mapping))
        except (TypeError, AttributeError):
            return original(expr, mapping)
        return _kept(key, lambda: original(expr, mapping), lambda a, b: a == b, what)

    memo.__name__ = memo.__qualname__ = f"{name}_memo"
    return memo


def _time_aliases(ctx: Any) -> Any:
    """``_time_alias_bodies`` (reads the function bodies only), a fresh dict per call."""
    original = STATE.originals["_time_alias_bodies"]
    if not STATE.active:
        return original(ctx)
    try:
        key = ("_time_alias_bodies", STATE.scopes.mapping_id(dict(ctx["function_map"])))
    except (TypeError, AttributeError, KeyError):
        return original(ctx)
    kept = _kept(key, lambda: tuple(original(ctx).items()), lambda a, b: a == b,
                 "time aliases")
    return dict(kept)


def _ic_seed(core: Any) -> Any:
    """``compute_ic_param_sens_seed``, kept keyed on all it reads.

    Where every initial condition refers to a primary parameter directly, the
    seeds are the references, their divisors and the compartment seeds (no
    parameter value enters): kept across runs under those. Otherwise (derived
    initial conditions) they depend on every parameter value, and bngsim computes
    them twice in every run (to seed, then to report) with nothing changed in
    between: the last result per thread is kept under every input the function
    reads (references, divisors, compartment seeds, parameter names, expressions
    and values), and a hit is compared with a fresh computation once per process.
    """
    original = STATE.originals["compute_ic_param_sens_seed"]
    refs = core.species_ic_param_refs
    if not STATE.active or not refs:
        return original(core)
    try:
        refs = tuple(map(tuple, refs))
        is_expr = tuple(core.param_is_expression)
        base = (refs, tuple(map(tuple, getattr(core, "compartment_ic_sens_seeds", ()))),
                tuple(getattr(core, "species_ic_param_ref_divisors", ())))
        if not any(is_expr[p] for _, p in refs):
            kept = _kept(("ic_direct", *base), lambda: tuple(original(core)), _same_repr,
                         "initial-condition seed")
            return list(kept)
        names = tuple(core.param_names)
        key = (*base, names, is_expr, tuple(core.param_expressions),
               _float_bytes([core.get_param(n) for n in names]))
    except (TypeError, AttributeError, ValueError, RuntimeError, IndexError):
        return original(core)
    last = getattr(_local, "seed", None)
    if last is not None and last[0] is core and last[1] == key:
        if STATE.seed_confirmed:
            return list(last[2])
        fresh = original(core)
        if not _same_repr(list(last[2]), fresh):
            _refuse("a kept initial-condition seed differs from a fresh one")
            return fresh
        STATE.seed_confirmed = True
        return fresh
    seeds = original(core)
    _local.seed = (core, key, tuple(seeds))
    return seeds


def _float_bytes(values: list[float]) -> bytes:
    import numpy as np

    return np.asarray(values, dtype=float).tobytes()


def _same_repr(a: Any, b: Any) -> bool:
    # repr: exact for floats (and NaN equals itself), dict order included
    return type(a) is type(b) and repr(a) == repr(b)


def _crossing(atom: str, scope: Any) -> Any:
    """``clock_crossing_compensated``, kept keyed on everything it reads."""
    original = STATE.originals["clock_crossing_compensated"]
    if not STATE.active or not isinstance(atom, str):
        return original(atom, scope)
    try:
        key = STATE.scopes.key("crossing", atom, scope)
    except (TypeError, KeyError, AttributeError, IndexError, ValueError):
        return original(atom, scope)
    return _kept(key, lambda: original(atom, scope), _same_repr, "clock-crossing verdict")


def _terms(threshold_expr: str, scope: Any, own_names: Any = frozenset()) -> Any:
    """``_threshold_crossing_terms``, kept keyed on everything it reads."""
    original = STATE.originals["_threshold_crossing_terms"]
    if not STATE.active or not isinstance(threshold_expr, str):
        return original(threshold_expr, scope, own_names)
    try:
        key = STATE.scopes.key(("terms", frozenset(own_names)), threshold_expr, scope)
    except (TypeError, KeyError, AttributeError, IndexError, ValueError):
        return original(threshold_expr, scope, own_names)
    kept = _kept(key, lambda: original(threshold_expr, scope, own_names), _same_repr,
                 "clock-crossing terms")
    # a fresh dict of partials: the kept one must not be changed by a caller
    return kept if kept is None else kept._replace(partials=dict(kept.partials))


def _partials(expr: str, primary_names: Any, derived_names: Any, param_idx: dict,
              param_values: list, warn_on_failure: bool) -> tuple:
    """``_direct_derived_partials_numeric`` from compiled derivatives, checked on first use."""
    original = STATE.originals["_direct_derived_partials_numeric"]
    args = (expr, primary_names, derived_names, param_idx, param_values, warn_on_failure)
    if not (STATE.active and STATE.compiled):
        if STATE.references is None or not STATE.checking:
            return original(*args)
        # the run check's unpatched run: bngsim's own values, kept to confirm the
        # compiled ones next; a repeat of the same whole input (bngsim asks for the
        # seeds twice per run) is answered from them, not computed again
        try:
            vkey = _value_key(args)
        except (TypeError, ValueError):
            return original(*args)
        known = STATE.references.get(vkey)
        if known is None:
            result = original(*args)
            known = STATE.references[vkey] = (dict(result[0]), result[1])
        return dict(known[0]), known[1]
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
        known = None
        if STATE.references:
            with contextlib.suppress(TypeError, ValueError):
                known = STATE.references.get(_value_key(args))
        reference, reason = known if known is not None else original(*args)
        if reason is not None or not _compiled_seeds.agree(value, reference):
            _refuse("a compiled initial-condition partial differs from bngsim's own")
            return reference, reason
        with _lock:
            STATE.cache[key] = (compiled, True)
    return value, None


def _value_key(args: tuple) -> tuple:
    """A partials call's whole input: expression, names and the parameter values."""
    expr, primary_names, derived_names, param_idx, param_values, _ = args
    return (expr, frozenset(primary_names), frozenset(derived_names),
            tuple(sorted(param_idx.items())), _float_bytes(list(param_values)))


def _key(expr: str, primary_names: Any, derived_names: Any,
         allow_no_reference: bool = False) -> tuple:
    return ("_prepare", expr, frozenset(primary_names), frozenset(derived_names),
            bool(allow_no_reference))


def _refuse(why: str) -> None:
    """Turn the adapter off for this process, saying why."""
    if STATE.refused is None:
        log.warning("bngsim engine adapter off for this process: %s (results are computed "
                    "by bngsim unchanged)", why)
    STATE.refused = why
    uninstall()


def _patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(module, attribute, replacement) for everything the adapter replaces."""
    from bngsim import _codegen, _jacobian, _switch_sensitivity
    from sympy.parsing import sympy_parser

    patches: list[tuple[Any, str, Callable[..., Any]]] = [
        (_codegen, "_prepare_derived_expr", _memo),
        (sympy_parser, "parse_expr", _parse_memo),
        (_switch_sensitivity, "_iter_condition_atoms", _TEXT["_iter_condition_atoms"]),
        (_switch_sensitivity, "_iter_if_conditions", _TEXT["_iter_if_conditions"]),
        (_switch_sensitivity, "_split_logical_atoms", _TEXT["_split_logical_atoms"]),
        (_switch_sensitivity, "clock_crossing_compensated", _crossing),
        (_switch_sensitivity, "_threshold_crossing_terms", _terms),
        (_switch_sensitivity, "_time_alias_bodies", _time_aliases),
        (_switch_sensitivity, "_inline_time_aliases", _MAPPED["_inline_time_aliases"]),
        (_jacobian, "_inline_functions", _MAPPED["_inline_functions"]),
        (_codegen, "compute_ic_param_sens_seed", _ic_seed),
    ]
    if STATE.compiled:
        patches.append((_codegen, "_direct_derived_partials_numeric", _partials))
    return patches


_MAPPED = {"_inline_time_aliases": _mapping_memo("_inline_time_aliases", "time-alias inlining"),
           "_inline_functions": _mapping_memo("_inline_functions", "function inlining")}
_TEXT = {"_iter_condition_atoms": _text_memo("_iter_condition_atoms", tuple),
         "_iter_if_conditions": _text_memo("_iter_if_conditions", tuple),
         "_split_logical_atoms": _text_memo("_split_logical_atoms", list)}


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

        if bngsim.__version__ not in VERIFIED:
            return False
        STATE.compiled = not _exact_only()
        patches = _patches()
        if any(not callable(getattr(module, attr, None)) or getattr(module, attr) is new
               for module, attr, new in patches):
            return False  # not the functions it was written for, or patched twice
        for module, attr, new in patches:
            STATE.originals[attr] = getattr(module, attr)
            setattr(module, attr, new)
        STATE.active = True
        return True


def uninstall() -> None:
    """Put bngsim back as it was and forget what was kept."""
    with _lock:
        if STATE.originals:
            for module, attr, new in _patches():
                if getattr(module, attr, None) is new:
                    setattr(module, attr, STATE.originals[attr])
        STATE.active = False
        STATE.cache.clear()
        STATE.scopes.clear()
        STATE.seed_confirmed = False
        _local.seed = None


@contextmanager
def bypassed() -> Iterator[None]:
    """Run bngsim unpatched inside the block (for the run check)."""
    was = STATE.active
    STATE.active = False
    try:
        yield
    finally:
        STATE.active = was and STATE.refused is None
