"""Derived initial conditions' partial derivatives, compiled once per process.

bngsim 0.16 seeds the sensitivities of a derived initial condition (an initial
amount written as an expression of parameters) in every run by differentiating
the parsed expression with sympy and substituting the current parameter values
into each derivative (``deriv.subs(values).evalf()``). On a model whose initial
amounts are closed-form steady states (Fiedler 2016: expressions of 700-1,500
characters) that substitution takes seconds per run, while the value it yields
is a plain function of the parameters.

Here each derivative is taken once and compiled to a float function with
``sympy.lambdify``; a run then only calls it. This is not bit-identical to
sympy's arbitrary-precision ``evalf`` (it rounds in double precision), so it is
checked: the first use of every expression also runs bngsim's own computation,
and each partial must agree to :data:`RTOL`, or the adapter turns itself off.
Anything this does not handle the same way (a parameter without a value, a
derivative sympy leaves unevaluated, a non-finite value) goes to bngsim's own
code for that call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: Agreement required between a compiled partial and bngsim's own value.
RTOL = 1e-12

# expression key -> (referenced names, [(name, compiled function)]) or None (use bngsim's)
Compiled = tuple[tuple[str, ...], tuple[tuple[str, Callable[..., float]], ...]] | None


def compile_partials(prepare: Callable[..., Any], expr: str, primary_names: Any,
                     derived_names: Any) -> Compiled:
    """Differentiate ``expr`` by each parameter it names and compile each partial.

    Parameters
    ----------
    prepare : callable
        bngsim's ``_prepare_derived_expr`` (parse and alias the names).
    expr : str
        The derived expression.
    primary_names, derived_names : iterable of str
        The model's parameter names, as bngsim passes them.

    Returns
    -------
    tuple or None
        The referenced names and the compiled nonzero partials, or None where
        bngsim's own code must run (nothing to differentiate, a derivative sympy
        cannot evaluate or that does not compile).
    """
    import sympy as sp
    from bngsim import _codegen

    prep, _reason = prepare(expr, primary_names, derived_names)
    if prep is None:
        return None
    symbols = [prep.sym_map[prep.sym_name_of[p]] for p in prep.referenced]
    out = []
    for name in prep.referenced:
        deriv = sp.diff(prep.sym_expr, prep.sym_map[prep.sym_name_of[name]])
        if deriv == 0:
            continue
        if _codegen._derivative_is_unevaluated(deriv):
            return None
        try:
            out.append((name, sp.lambdify(symbols, deriv, modules="math")))
        except Exception:  # noqa: BLE001 - not compilable: bngsim computes it
            return None
    return tuple(prep.referenced), tuple(out)


def evaluate(compiled: Compiled, param_idx: dict, param_values: list
             ) -> dict[str, float] | None | bool:
    """The nonzero partials at the current parameters, as bngsim returns them.

    Returns
    -------
    dict or None or False
        Name -> partial (None where every partial is zero), or False where
        bngsim's own code must run (a referenced parameter without a value, a
        value that is not a finite float).
    """
    if compiled is None:
        return False
    referenced, partials = compiled
    if any(p not in param_idx for p in referenced):
        return False
    args = [param_values[param_idx[p]] for p in referenced]
    out: dict[str, float] = {}
    for name, function in partials:
        try:
            value = float(function(*args))
        except (ArithmeticError, TypeError, ValueError):
            return False
        if not math.isfinite(value):
            return False
        if value != 0.0:
            out[name] = value
    return out or None


def agree(compiled: dict[str, float] | None, reference: dict[str, float] | None) -> bool:
    """Whether compiled partials match bngsim's own to :data:`RTOL`."""
    a, b = compiled or {}, reference or {}
    # a partial that rounds to exactly 0 in one and not the other is fine if tiny
    for name in set(a) | set(b):
        x, y = a.get(name, 0.0), b.get(name, 0.0)
        if abs(x - y) > RTOL * max(abs(x), abs(y)) and abs(x - y) > 1e-300:
            return False
    return True
