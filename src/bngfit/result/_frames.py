"""Fit results as pandas tables and notebook displays.

What :class:`~bngfit.result.FitResult` and :class:`~bngfit.result.StartResult`
show of themselves: a DataFrame of the starts (:func:`starts_frame`), the best
point in native values (:func:`native_values`), the best-parameter table in
PEtab's columns (:func:`parameter_table`, the one ``bngfit fit`` writes), and
their short text and HTML (:func:`fit_repr`, :func:`fit_html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.files._html import fmt, html_fields, html_table
from bngfit.problem._problem import Problem
from bngfit.problem._scales import Scale, scale_codes, unscale

if TYPE_CHECKING:  # types only: _types imports this module
    from ._types import FitResult, StartResult

#: Starts listed in a fit's HTML display, best first.
SHOWN_STARTS = 10
#: The columns of a start's row before the parameters (:func:`starts_frame`).
START_COLUMNS = ("index", "fval", "status", "n_fval", "wall_s", "grad_norm", "message")
#: The columns of a PEtab parameter table as ``bngfit fit`` writes it.
PARAMETER_COLUMNS = ("parameterId", "parameterScale", "lowerBound", "upperBound",
                     "nominalValue", "estimate")


def starts_frame(r: FitResult) -> pd.DataFrame:
    """One row per finished start, best first: its numbers, then ``x`` by parameter id.

    Parameters
    ----------
    r : FitResult

    Returns
    -------
    pandas.DataFrame
        Columns :data:`START_COLUMNS` (``status`` as text), then one column per
        free parameter (optimizer space, named by id); one row per start in
        ``r.starts`` order.
    """
    rows = [{"index": s.index, "fval": float(s.fval), "status": s.status.value,
             "n_fval": int(s.n_fval), "wall_s": float(s.wall_s),
             "grad_norm": float(s.grad_norm), "message": s.message,
             **{n: float(v) for n, v in zip(r.x_names, s.x, strict=True)}}
            for s in r.starts]
    return pd.DataFrame(rows, columns=[*START_COLUMNS, *r.x_names])


def native_values(x: np.ndarray, scales: Sequence[str]) -> np.ndarray:
    """Native values of an optimizer-space point.

    Parameters
    ----------
    x : ndarray, shape (n_x,)
    scales : sequence of str
        Each parameter's scale (``lin``, ``log``, ``log10``).

    Returns
    -------
    ndarray, shape (n_x,)
    """
    return unscale(np.asarray(x, float), scale_codes([Scale.parse(s) for s in scales]))


def best_native(r: FitResult) -> pd.Series:
    """The best start's point as native values, indexed by parameter id.

    Parameters
    ----------
    r : FitResult

    Returns
    -------
    pandas.Series
        Named ``"value"``; float values.

    Raises
    ------
    ValueError
        No start finished with a finite fval, or the result does not record the
        parameters' scales (a store written before they were kept).
    """
    if r.best is None or not np.isfinite(r.best_fval):
        raise ValueError("no start finished with a finite fval: there is no best point")
    scales = r.x_scales
    if scales is None:
        raise ValueError("this result does not record its parameters' scales (an early "
                         "store); use best_parameter_table(problem) instead")
    return pd.Series(native_values(r.best.x, scales), index=pd.Index(r.x_names,
                                                                      name="parameterId"),
                     name="value")


def parameter_table(problem: Problem, x: np.ndarray) -> pd.DataFrame:
    """The problem's parameter table with each free parameter's nominal value at ``x``.

    Parameters
    ----------
    problem : Problem
    x : ndarray, shape (n_x,)
        Optimizer space, in ``problem.x_names`` order.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PARAMETER_COLUMNS`, one row per problem parameter in the
        problem's order; ``nominalValue`` native (fixed parameters keep theirs),
        ``estimate`` 0 or 1. Written as TSV it is a PEtab parameter table.
    """
    native = dict(zip(problem.x_names, problem.to_native(x), strict=True))
    rows = [(p.id, p.scale.value, p.lb, p.ub, float(native.get(p.id, p.nominal)),
             int(p.estimate)) for p in problem.parameters]
    return pd.DataFrame(rows, columns=list(PARAMETER_COLUMNS))


def best_table(r: FitResult, problem: Problem) -> pd.DataFrame:
    """:func:`parameter_table` at ``r``'s best point (checked against the problem).

    Raises
    ------
    ValueError
        No finite best point.
    InputError
        ``problem``'s free parameters are not the result's.
    """
    if r.best is None or not np.isfinite(r.best_fval):
        raise ValueError("no start finished with a finite fval: there is no best point")
    if list(problem.x_names) != list(r.x_names):
        raise InputError(
            f"the problem's free parameters ({', '.join(problem.x_names)}) are not the "
            f"fit's ({', '.join(r.x_names)}): pass the problem that was fitted (with the "
            "same fixed parameters)", file=str(problem.source))
    return parameter_table(problem, r.best.x)


def start_repr(s: StartResult) -> str:
    """``StartResult(index=3, fval=12.5, status=converged, n_fval=120, ...)``."""
    return (f"StartResult(index={s.index}, fval={fmt(float(s.fval), 10)}, "
            f"status={s.status.value}, n_fval={s.n_fval}, wall_s={s.wall_s:.3g}, "
            f"grad_norm={fmt(float(s.grad_norm), 3)})")


def _statuses(r: FitResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in r.status_counts().items()) or "-"


def fit_repr(r: FitResult) -> str:
    """One line: best fval, starts by status, converged count, optimizer, effort."""
    if r.best is None:
        return (f"FitResult(no start finished of {r.n_starts}, optimizer {r.optimizer}, "
                f"seed {r.seed})")
    return (f"FitResult(best fval {fmt(r.best_fval, 10)}, {len(r.starts)} of {r.n_starts} "
            f"starts ({_statuses(r)}), {r.n_converged()} within 0.01 of the best, "
            f"optimizer {r.optimizer}, seed {r.seed}, {r.n_fval} evaluations, "
            f"{r.wall_s:.1f} s)")


def fit_html(r: FitResult) -> str:
    """A summary table, then the best starts (at most :data:`SHOWN_STARTS`)."""
    summary = html_fields("FitResult", [
        ("best fval", r.best_fval if r.best is not None else None),
        ("starts finished", f"{len(r.starts)} of {r.n_starts}"),
        ("statuses", _statuses(r)),
        ("within 0.01 of the best", r.n_converged()),
        ("optimizer", r.optimizer), ("seed", r.seed),
        ("evaluations", r.n_fval), ("wall time (s)", round(r.wall_s, 2))])
    rows = [(s.index, float(s.fval), s.status.value, s.n_fval, round(s.wall_s, 2),
             float(s.grad_norm)) for s in r.starts[:SHOWN_STARTS]]
    title = f"best {len(rows)} of {len(r.starts)} starts" if rows else "no start finished"
    starts = html_table(rows, ("index", "fval", "status", "n_fval", "wall_s", "grad_norm"),
                        caption=title)
    return summary + starts


def start_html(s: StartResult) -> str:
    """A two-column HTML table of a start's numbers and message."""
    return html_fields(f"StartResult {s.index}", [
        ("fval", float(s.fval)), ("status", s.status.value), ("n_fval", s.n_fval),
        ("wall_s", round(s.wall_s, 3)), ("grad_norm", float(s.grad_norm)),
        ("message", s.message)])


__all__ = ["PARAMETER_COLUMNS", "SHOWN_STARTS", "START_COLUMNS", "best_native", "best_table",
           "fit_html", "fit_repr", "native_values", "parameter_table", "start_html",
           "start_repr", "starts_frame"]
