"""Verdicts on gradient-check tables: agrees, unresolved or mismatch, and their lines.

The tables come from :mod:`bngfit.objective._gradcheck` (the gradient against
differences of the value) and :mod:`bngfit.objective._rescheck` (the residual
Jacobian against differences of the residuals); both carry the columns
:data:`COLUMNS`, so one set of rules judges both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ["grad", "fd_f", "fd_b", "fd_c", "fd_err", "abs_err", "rel_err"]


def relative_error(abs_err: float, grad: float, fd_c: float) -> float:
    """``abs_err / max(|grad|, |fd_c|)``, and 0 where both are 0.

    Relative to the larger of the two numbers compared, so it lies between 0
    and 2 (1: one of them is 0, or they differ by their own size) and never
    explodes where a difference quotient is exactly 0 (a noise parameter set in
    closed form, a parameter the value does not depend on). Non-finite inputs
    give a non-finite result.

    Parameters
    ----------
    abs_err : float
        ``|grad - fd_c|``.
    grad, fd_c : float
        The derivative and its central difference.

    Returns
    -------
    float
    """
    if not (np.isfinite(abs_err) and np.isfinite(grad) and np.isfinite(fd_c)):
        return float("inf") if np.isfinite(grad) or np.isinf(grad) else float("nan")
    size = max(abs(grad), abs(fd_c))
    return abs_err / size if size > 0 else 0.0


class Agreement(enum.Enum):
    """How a gradient entry compares with its finite differences."""

    AGREES = "agrees"  # rel_err below the tolerance
    UNRESOLVED = "unresolved"  # the differences cannot tell: error within their own spread
    MISMATCH = "mismatch"  # the differences are consistent and the gradient is off


@dataclass(frozen=True)
class GradCheckSummary:
    """Per-parameter verdict of a gradient-check table.

    Attributes
    ----------
    verdict : dict of str to Agreement
        Parameter id -> verdict, in table order.
    tol : float
        The relative tolerance used for ``AGREES``.
    """

    verdict: dict[str, Agreement]
    tol: float

    def ids(self, kind: Agreement) -> list[str]:
        """Parameter ids with one verdict.

        Parameters
        ----------
        kind : Agreement

        Returns
        -------
        list of str
            In table order.
        """
        return [k for k, v in self.verdict.items() if v is kind]


MARGIN = 10.0  # how far beyond the differences' own error a mismatch must lie


def summarize(table: pd.DataFrame, fval: float | None = None, *, tol: float = 1e-4,
              eps: float | None = None) -> GradCheckSummary:
    """Judge each row of a gradient-check table: agrees, mismatch or unresolved.

    A row whose gradient entry is NaN or inf is a *mismatch*. A row *agrees*
    when ``rel_err < tol``. Otherwise it is a *mismatch* only when the finite
    differences are sharp enough to tell: at some step the gradient is more
    than :data:`MARGIN` times the differences' own error estimate away from the
    central difference. Everything else is *unresolved*: the differences can
    neither confirm nor refute the gradient (typically a component that is
    about 0, at an optimum, or solver noise at loose tolerances).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`check_grad` or :func:`check_grad_multi_eps`: indexed by
        parameter id, with the columns ``grad, fd_f, fd_b, fd_c, fd_err,
        abs_err, rel_err`` (:data:`COLUMNS`) and optionally ``eps``. A
        :func:`check_grad_multi_eps` table carries every step's rows
        (``table.attrs["steps"]``) and is judged on all of them.
    fval : float, optional
        Objective value at the check point, for the round-off floor of the
        differences (``|fval|`` below 1, NaN or inf count as 1).
    tol : float, default 1e-4
        Relative tolerance for agreement, compared with ``rel_err``.
    eps : float, optional
        The step of a single-step table without an ``eps`` column (default
        1e-5, :func:`check_grad`'s).

    Returns
    -------
    GradCheckSummary
        One :class:`Agreement` per parameter, in table order, and ``tol``.

    Raises
    ------
    ValueError
        If ``table`` lacks one of the columns read.

    See Also
    --------
    check_grad, check_grad_multi_eps : Make the table.
    describe : Lines for humans from a summary.

    Notes
    -----
    The error estimate of the differences at a step is the largest of: the
    spread of the one-sided quotients (``fd_err``: truncation and solver
    noise); the round-off floor of a quotient, ``16 * machine_eps *
    max(|fval|, 1) / eps``; and, for a multi-step table, the change of the
    central difference from the next larger step (where a truncation error
    shows).

    Examples
    --------
    >>> import bngfit
    >>> problem = bngfit.load_problem("examples/conversion/problem.yaml")
    >>> obj = bngfit.Objective(problem)
    >>> x = problem.x_nominal
    >>> table = bngfit.check_grad_multi_eps(obj, x)
    >>> summary = summarize(table, obj(x).fval)
    >>> summary.ids(Agreement.MISMATCH)
    []
    """
    missing = [c for c in ("grad", "fd_c", "fd_err", "abs_err", "rel_err")
               if c not in table.columns]
    if missing:
        raise ValueError(f"a gradient-check table needs the columns {', '.join(missing)}")
    scale = max(abs(fval), 1.0) if fval is not None and np.isfinite(fval) else 1.0
    steps = table.attrs.get("steps")
    out: dict[str, Agreement] = {}
    for pid, row in table.iterrows():
        if not np.isfinite(row["grad"]):
            # A NaN/inf gradient entry is wrong whatever the differences say.
            out[str(pid)] = Agreement.MISMATCH
            continue
        if row["rel_err"] < tol:
            out[str(pid)] = Agreement.AGREES
            continue
        if steps is not None:
            rows = steps.loc[[pid]].sort_values("eps", ascending=False)
        else:
            rows = pd.DataFrame([row])
            if "eps" not in rows:
                rows["eps"] = eps if eps else 1e-5
        out[str(pid)] = (Agreement.MISMATCH if _sharp_disagreement(rows, scale, tol)
                         else Agreement.UNRESOLVED)
    return GradCheckSummary(verdict=out, tol=tol)


def _sharp_disagreement(rows: pd.DataFrame, scale: float, tol: float) -> bool:
    """Whether the gradient lies beyond MARGIN times the differences' error at some step.

    ``rows`` are one parameter's rows, sorted by decreasing ``eps``; the error
    estimate is the one of :func:`summarize`.
    """
    fd_c, step = rows["fd_c"].to_numpy(), rows["eps"].to_numpy()
    abs_err, fd_err = rows["abs_err"].to_numpy(), rows["fd_err"].to_numpy()
    rel_err = rows["rel_err"].to_numpy()
    for k in range(len(rows)):
        err = max(fd_err[k], 16.0 * np.finfo(float).eps * scale / step[k])
        if len(rows) > 1:
            if k == 0:
                continue  # no larger step to see its truncation error against
            err = max(err, abs(fd_c[k] - fd_c[k - 1]))
        if rel_err[k] >= tol and abs_err[k] > MARGIN * err:
            return True
    return False


def judged(table: pd.DataFrame, fval: float | None = None, *,
           tol: float = 1e-4) -> GradCheckSummary:
    """The verdicts of a table: its own ``verdict`` column where it has one.

    A table made by :func:`~bngfit.objective._gradcheck.check_grad_multi_eps`
    was judged on every step's rows; a stored copy keeps only the best row per
    parameter, so its stored verdicts are the ones to show. Older tables
    without the column are judged again by :func:`summarize`.

    Parameters
    ----------
    table : pandas.DataFrame
    fval : float, optional
        As for :func:`summarize`.
    tol : float, default 1e-4
        As for :func:`summarize` (used when the table has no verdicts).

    Returns
    -------
    GradCheckSummary
    """
    if "verdict" in table.columns:
        try:
            return GradCheckSummary({str(k): Agreement(v) for k, v in
                                     table["verdict"].items()}, tol)
        except ValueError:
            pass  # an unknown word: judge the numbers again
    return summarize(table, fval, tol=tol)


def headline(summary: GradCheckSummary, table: pd.DataFrame) -> str:
    """The first line of a check: verdict counts, then the largest error that means something.

    The largest ``rel_err`` is taken over the parameters that agree or
    mismatch only: an unresolved row's error is within the differences' own
    error, so it says nothing about the gradient.

    Parameters
    ----------
    summary : GradCheckSummary
        From :func:`summarize`.
    table : pandas.DataFrame
        The table it judged.

    Returns
    -------
    str
        For example ``gradient check of 9 parameters: 8 agree, 1 unresolved,
        0 mismatch; largest rel_err 2.1e-07 (k1)``.
    """
    counts = {a: len(summary.ids(a)) for a in Agreement}
    text = (f"{len(summary.verdict)} parameters: {counts[Agreement.AGREES]} agree, "
            f"{counts[Agreement.UNRESOLVED]} unresolved, {counts[Agreement.MISMATCH]} "
            "mismatch")
    decided = summary.ids(Agreement.AGREES) + summary.ids(Agreement.MISMATCH)
    errs = table.loc[decided, "rel_err"].to_numpy(float) if decided else np.empty(0)
    if errs.size and not np.isnan(errs).all():
        k = int(np.nanargmax(errs))
        text += f"; largest rel_err {errs[k]:.1e} ({decided[k]})"
    return text


def tighter(tolerances: tuple[float, float] | None) -> str:
    """Tolerances to advise for a sharper check, tighter than those used.

    Parameters
    ----------
    tolerances : (rtol, atol) or None
        The ODE tolerances of the check (None: unknown).

    Returns
    -------
    str
        Command-line options, or a sentence when the tolerances are already
        at the solver's limit.
    """
    if tolerances is None:
        return "--rtol 1e-12 --atol 1e-14"
    rtol, atol = tolerances
    if rtol <= 1e-12:
        return ("the tolerances are already at the solver's limit (rtol "
                f"{rtol:g}); try --multi-eps or another point")
    return f"--rtol {max(rtol / 100, 1e-12):g} --atol {max(atol / 100, 1e-16):g}"


def describe(summary: GradCheckSummary, table: pd.DataFrame,
             tolerances: tuple[float, float] | None = None) -> list[str]:
    """Human-readable lines for a :class:`GradCheckSummary` (the CLI prints them).

    Parameters
    ----------
    summary : GradCheckSummary
        From :func:`summarize`.
    table : pandas.DataFrame
        The table it judged.
    tolerances : (rtol, atol), optional
        ODE tolerances of the check, so that the advice names tighter ones.

    Returns
    -------
    list of str
        The :func:`headline` first.
    """
    lines = [headline(summary, table)]
    advice = tighter(tolerances)
    unresolved = summary.ids(Agreement.UNRESOLVED)
    if unresolved:
        lines.append("not resolved by the finite differences (their own error is as large "
                     "as abs_err): " + ", ".join(
                         f"{p} (abs_err {table.loc[p, 'abs_err']:.1e}, fd_err "
                         f"{table.loc[p, 'fd_err']:.1e})" for p in unresolved))
        lines.append(f"  tighter solver tolerances make the differences sharper: {advice}")
    bad = summary.ids(Agreement.MISMATCH)
    if bad:
        lines.append("MISMATCH (differences consistent, gradient off; or the gradient "
                     "is not finite): " + ", ".join(
                         f"{p} (grad {table.loc[p, 'grad']:.6e}, fd_c "
                         f"{table.loc[p, 'fd_c']:.6e})" for p in bad))
        # values carry the solver's own error too, smooth in the parameters
        # where a switch or event time moves: differences of them can agree
        # with each other and still be off (Beer 2014: 2% at rtol 1e-10, 5e-6
        # at 1e-12, the gradient the same at both)
        if np.isfinite(table.loc[bad, "grad"].to_numpy(float)).any():
            lines.append(f"  before trusting it, check these again at tighter solver "
                         f"tolerances ({advice}): the values' own solver error can bias "
                         "the differences")
    return lines
