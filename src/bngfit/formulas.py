"""Formulas from input files: parsed by a grammar, compiled with their partials.

Text from files is parsed by libpetab's grammar-based parser
(:func:`petab.v1.math.sympify_petab`), which accepts arithmetic, functions and
names and refuses anything else; it is never passed to ``eval``. The sympy tree
is then differentiated symbolically and compiled to vectorised numpy functions,
so every formula comes with exact partial derivatives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import InputError


@dataclass(frozen=True)
class Formula:
    """A parsed formula with its compiled value and partial derivatives.

    Attributes
    ----------
    text : str
        The formula as written.
    symbols : tuple of str
        The free names of the formula, in a fixed order (sorted).
    """

    text: str
    expr: sp.Expr = field(repr=False)
    symbols: tuple[str, ...]
    _value: Callable = field(repr=False, compare=False)
    _partials: tuple[Callable, ...] = field(repr=False, compare=False)

    @property
    def constant(self) -> float | None:
        """The formula's value if it has no free names, else None."""
        return float(self.expr) if not self.symbols else None

    def evaluate(self, args: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Value and partials at ``n`` points.

        Parameters
        ----------
        args : list of ndarray
            One array of shape (n,) per entry of :attr:`symbols`.
        n : int
            Number of points.

        Returns
        -------
        value : ndarray, shape (n,)
        partials : ndarray, shape (n, len(symbols))
            d value / d symbol_j at each point.
        """
        with np.errstate(all="ignore"):
            value = np.broadcast_to(np.asarray(self._value(*args), dtype=float), (n,))
            partials = np.empty((n, len(self.symbols)))
            for j, d in enumerate(self._partials):
                partials[:, j] = d(*args)
        return value, partials


def parse_formula(
    text: object,
    *,
    file: str | None = None,
    row: int | None = None,
    id: str | None = None,  # noqa: A002
    what: str = "formula",
) -> Formula:
    """Parse and compile one formula.

    Parameters
    ----------
    text : str or number
        The formula as written in the file.
    file, row, id
        Location, for the error message.
    what : str
        What the formula is (``"observableFormula"``, ...), for the message.

    Raises
    ------
    InputError
        If the text does not parse, uses operators that do not give a number
        (comparisons, logic at top level), or is empty.
    """
    from petab.v1.math import sympify_petab

    raw = "" if text is None else str(text).strip()
    if raw == "" or raw.lower() == "nan":
        raise InputError(f"{what} is empty", file=file, row=row, id=id, value=raw)
    try:
        expr = sympify_petab(raw)
    except Exception as err:  # the parser raises several types; all mean "bad text"
        detail = str(err).split("\n")[0] or type(err).__name__
        raise InputError(
            f"{what} does not parse ({detail}); formulas may contain numbers, names, "
            "+ - * / ^, parentheses and functions such as exp, log, sqrt, piecewise",
            file=file,
            row=row,
            id=id,
            value=raw,
        ) from None
    if isinstance(expr, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not (
        isinstance(expr, sp.Expr)
    ):
        raise InputError(
            f"{what} is a condition, not a number", file=file, row=row, id=id, value=raw
        )
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise InputError(f"{what} is not finite", file=file, row=row, id=id, value=raw)
    return compile_expr(raw, expr)


def compile_expr(text: str, expr: sp.Expr) -> Formula:
    """Compile a sympy expression and its partial derivatives to numpy functions."""
    names = tuple(sorted(str(s) for s in expr.free_symbols))
    syms = [sp.Symbol(n) for n in names]
    # Free symbols from the parser may carry assumptions; rebuild them plain so
    # that differentiation by name matches.
    expr = expr.xreplace({s: sp.Symbol(str(s)) for s in expr.free_symbols})
    value = sp.lambdify(syms, expr, modules="numpy", dummify=True)
    partials = tuple(
        sp.lambdify(syms, sp.diff(expr, s), modules="numpy", dummify=True) for s in syms
    )
    return Formula(text, expr, names, value, partials)


def numeric_or_name(text: object) -> float | str | None:
    """Classify a table cell: a number, an id, or None for empty/NaN.

    Returns
    -------
    float, str or None
    """
    if text is None:
        return None
    if isinstance(text, (int, float, np.floating, np.integer)):
        v = float(text)
        return None if np.isnan(v) else v
    s = str(text).strip()
    if s == "" or s.lower() == "nan":
        return None
    try:
        return float(s)
    except ValueError:
        return s
