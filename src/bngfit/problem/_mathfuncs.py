"""The non-smooth PEtab math functions, with derivatives numpy can evaluate.

sympy differentiates ``Abs`` of a symbol of unknown sign into ``re``/``im``
derivatives, ``sign`` into an unevaluated ``Derivative`` and ``Min``/``Max``
into ``Heaviside`` terms; none of these print to numpy code. Before a formula
is differentiated or compiled, :func:`prepare` replaces them with the real
functions below, each with a numpy implementation and an explicit derivative:

- ``abs(u)``: derivative ``sign(u)`` (0 at ``u = 0``, a subgradient);
- ``sign(u)``: derivative 0 (everywhere but at 0, where none exists);
- ``max(a, b)`` / ``min(a, b)``: the derivative of the active argument
  (``a`` on a tie), a subgradient at the kink;
- conditions written as numbers or names (``piecewise(x, b, y)``,
  ``b && c``; libpetab keeps a name as is and turns other numbers into a
  boolean-valued Piecewise) become the comparison ``b != 0``.

``piecewise`` itself differentiates branch by branch (the active branch's
derivative).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.relational import Relational
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import BooleanAtom


class RealAbs(sp.Function):
    """``|u|`` for real ``u``."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return RealSign(self.args[0])


class RealSign(sp.Function):
    """``sign(u)`` for real ``u`` (0 at 0), derivative 0."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class Step(sp.Function):
    """1 where ``u >= 0`` else 0, derivative 0."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class RealMax(sp.Function):
    """``max(a, b)``; the derivative follows ``a`` on a tie."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        a, b = self.args
        return Step(a - b) if argindex == 1 else 1 - Step(a - b)


class RealMin(sp.Function):
    """``min(a, b)``; the derivative follows ``a`` on a tie."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        a, b = self.args
        return Step(b - a) if argindex == 1 else 1 - Step(b - a)


def _step(u: np.ndarray | float) -> np.ndarray:
    """1.0 where ``u >= 0`` else 0.0, elementwise."""
    return np.where(np.asarray(u) >= 0, 1.0, 0.0)


# numpy implementations, by function name (for lambdify)
NUMPY = {
    "RealAbs": np.abs,
    "RealSign": np.sign,
    "Step": _step,
    "RealMax": np.maximum,
    "RealMin": np.minimum,
}
MODULES = [NUMPY, "numpy"]


def _as_condition(pw: sp.Piecewise) -> sp.Basic | None:
    """The condition a boolean-valued Piecewise stands for (None if it is numeric)."""
    if not all(isinstance(e, BooleanAtom) for e, _ in pw.args):
        return None
    terms, earlier = [], []
    for e, c in pw.args:
        if e == sp.true:
            terms.append(sp.And(c, *[sp.Not(x) for x in earlier]))
        earlier.append(c)
    return sp.Or(*terms)


def _truth(c: sp.Basic) -> sp.Basic:
    """A condition: a number or name ``c`` (true where nonzero) becomes ``c != 0``."""
    if isinstance(c, sp.Expr) and not isinstance(c, (Relational, BooleanAtom)):
        return sp.Ne(c, 0)
    return c


def prepare(expr: sp.Basic) -> sp.Basic:
    """``expr`` with the non-smooth functions replaced by their real versions."""
    def walk(node: sp.Basic) -> sp.Basic:
        if not node.args:
            return node
        args = [walk(a) for a in node.args]
        if isinstance(node, sp.Piecewise):
            cond = _as_condition(node)
            if cond is not None:
                return walk(cond) if cond != node else node
        if isinstance(node, ExprCondPair):
            args[1] = _truth(args[1])
            return ExprCondPair(*args)
        if isinstance(node, (sp.And, sp.Or, sp.Not, sp.Xor)):
            return node.func(*[_truth(a) for a in args])
        if isinstance(node, sp.Abs):
            return RealAbs(*args)
        if isinstance(node, sp.sign):
            return RealSign(*args)
        if isinstance(node, (sp.Max, sp.Min)):
            real = RealMax if isinstance(node, sp.Max) else RealMin
            out = args[0]
            for a in args[1:]:
                out = real(out, a)
            return out
        return node.func(*args) if tuple(args) != node.args else node

    return walk(expr)


def lambdify(syms: list[sp.Symbol], expr: sp.Basic | list[sp.Basic], **kwargs: object
             ) -> Callable[..., Any]:
    """``sympy.lambdify`` with the real functions of this module (``expr`` prepared).

    The function returned evaluates ``expr`` (a list of expressions: a list of
    values) at numbers or numpy arrays given in the order of ``syms``.
    """
    return sp.lambdify(syms, expr, modules=MODULES, dummify=True, **kwargs)
