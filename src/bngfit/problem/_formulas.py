"""Formulas from input files, parsed by a grammar.

Text from files is parsed by libpetab's grammar-based parser
(:func:`petab.v1.math.sympify_petab`), which accepts arithmetic, functions and
names and refuses anything else; it is never passed to ``eval``. The sympy tree
is differentiated symbolically and compiled to vectorised numpy functions where
it is evaluated (:mod:`bngfit.observe._kernels`), so every formula comes with exact
partial derivatives.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from bngfit.errors import InputError

# The placeholder convention of observable and noise formulas (PEtab's, which
# every reader produces): ``observableParameter{n}_{observableId}`` and
# ``noiseParameter{n}_{observableId}`` are filled per measurement row.
PLACEHOLDER = re.compile(r"^(observableParameter|noiseParameter)([0-9]+)_(.+)$")
TIME_SYMBOL = "time"


def placeholder(kind: str, n: int, observable: str) -> str:
    """The placeholder name ``{kind}Parameter{n}_{observable}`` (kind: observable, noise)."""
    return f"{kind}Parameter{n}_{observable}"


@dataclass(frozen=True)
class Formula:
    """A parsed formula.

    Its value and partial derivatives are compiled where it is evaluated, for
    the operands that need them (:func:`bngfit.observe._kernels.compile_kernel`).

    Attributes
    ----------
    text : str
        The formula as written.
    expr : sympy.Expr
        The parsed expression, its symbols plain (no assumptions).
    symbols : tuple of str
        The free names of the formula, in a fixed order (sorted).
    """

    text: str
    expr: sp.Expr = field(repr=False)
    symbols: tuple[str, ...]

    @property
    def constant(self) -> float | None:
        """The formula's value if it has no free names, else None."""
        return float(self.expr) if not self.symbols else None


def _petab_parser() -> Callable[..., sp.Expr]:
    """The grammar-based formula parser of libpetab, imported on first use.

    ``import petab`` imports all of libpetab: jsonschema (whose format checker
    compiles the IRI grammars of the optional ``rfc3987_syntax`` at import, about
    4 s), ``scipy.stats`` (its distributions, about 1 s) and matplotlib (its
    visualization, about 0.5 s), none of which parsing a formula uses. The
    grammar package ``petab.v1.math`` depends on sympy, numpy and its own
    generated parser only, so unless petab is loaded already it is imported
    alone, as a private copy: under stand-ins for its two parent packages, all
    of it removed from ``sys.modules`` again, so that a later ``import petab``
    (the user's) imports the whole package as usual. Where that does not work,
    petab is imported whole, with the IRI grammars hidden unless jsonschema is
    already loaded (jsonschema then leaves the two IRI formats unchecked, which
    no PEtab v1 file bngfit reads uses).
    """
    global _SYMPIFY
    if _SYMPIFY is None:
        try:
            _SYMPIFY = _math_alone()
        except ImportError:
            _import_petab_whole()
            from petab.v1.math import sympify_petab

            _SYMPIFY = sympify_petab
    return _SYMPIFY


_SYMPIFY: Callable[..., sp.Expr] | None = None


def _math_alone() -> Callable[..., sp.Expr]:
    """``sympify_petab`` from ``petab.v1.math`` imported without ``petab``'s initializers."""
    if any(n == "petab" or n.startswith("petab.") for n in sys.modules):
        raise ImportError("petab is loaded already")
    spec = importlib.util.find_spec("petab")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("petab is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    for name, path in (("petab", root), ("petab.v1", root / "v1")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
    try:
        return importlib.import_module("petab.v1.math").sympify_petab
    except Exception as err:  # noqa: BLE001 - any failure: the whole package instead
        raise ImportError(str(err)) from err
    finally:
        for name in [n for n in sys.modules if n == "petab" or n.startswith("petab.")]:
            del sys.modules[name]


def _import_petab_whole() -> None:
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment] - an ImportError
        try:
            import petab.v1.math  # noqa: F401
        finally:
            if sys.modules.get("rfc3987_syntax", False) is None:
                del sys.modules["rfc3987_syntax"]


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
    sympify_petab = _petab_parser()
    raw = "" if text is None else str(text).strip()
    where = {"file": file, "row": row, "id": id, "value": raw or "(empty)"}
    if raw == "" or raw.lower() == "nan":
        raise InputError(f"{what} is empty or NaN", **where)
    try:
        # First without evaluation: constant parts are sized in floating point
        # before sympy computes them exactly (9^9^9^9 would never finish).
        _check_magnitudes(sympify_petab(raw, evaluate=False))
        expr = sympify_petab(raw)
    except _Overflow:
        raise InputError(f"{what} has a constant part that is infinite or beyond double "
                         "precision", **where) from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply", **where) from None
    except Exception as err:  # the parser raises several types; all mean "bad text"
        if isinstance(err, ZeroDivisionError):
            detail = "division by zero"
        else:
            detail = " ".join(str(err).split()) or type(err).__name__
            if "Syntax error at" in detail:  # drop the parser's echo of the text
                detail = detail[detail.index("Syntax error at"):]
        if "not real-valued" in detail:
            raise InputError(f"{what} is not real-valued ({detail})", **where) from None
        hint = "; write powers as a^b, not a**b" if "**" in raw else ""
        raise InputError(
            f"{what} does not parse ({detail}){hint}; formulas may contain numbers, names, "
            "+ - * / ^, parentheses and functions such as exp, log, sqrt, piecewise",
            **where,
        ) from None
    if isinstance(expr, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not (
        isinstance(expr, sp.Expr)
    ):
        raise InputError(f"{what} is a condition, not a number", **where)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or any(
        not np.isfinite(float(a)) for a in expr.atoms(sp.Number)
    ):
        raise InputError(f"{what} is not finite (or has a number beyond double precision)",
                         **where)
    return compile_expr(raw, expr)


class _Overflow(Exception):
    """A constant part of a formula does not fit in a double."""


_NOT_NUMERIC = (sp.Piecewise, sp.logic.boolalg.Boolean, sp.core.relational.Relational,
                sp.functions.elementary.piecewise.ExprCondPair)


def _check_magnitudes(expr: sp.Basic) -> float | None:
    """Value of a constant (sub)expression as a float, or None if it has names.

    Works bottom-up on an unevaluated tree, so each constant node is computed
    from floats (cheap) and an overflow is caught before sympy would compute a
    tower of powers exactly. Raises :class:`_Overflow` for non-finite values.
    """
    vals = [_check_magnitudes(a) for a in expr.args]
    if isinstance(expr, sp.Number):
        v = float(expr)
    elif not expr.args or isinstance(expr, _NOT_NUMERIC) or any(x is None for x in vals):
        return None
    else:
        try:
            v = complex(expr.func(*[sp.Float(x) for x in vals])).real
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        except OverflowError:
            raise _Overflow from None
    if not np.isfinite(v):
        raise _Overflow
    return v


def compile_expr(text: str, expr: sp.Expr) -> Formula:
    """The :class:`Formula` of a parsed expression: its names sorted, its symbols plain.

    Parameters
    ----------
    text : str
        The formula as written.
    expr : sympy.Expr
        Its parse.

    Returns
    -------
    Formula
    """
    names = tuple(sorted(str(s) for s in expr.free_symbols))
    # Free symbols from the parser may carry assumptions; rebuild them plain so
    # that differentiation by name matches.
    expr = expr.xreplace({s: sp.Symbol(str(s)) for s in expr.free_symbols})
    return Formula(text, expr, names)


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
