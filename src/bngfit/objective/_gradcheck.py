"""Gradient checks against finite differences (pyPESTO-style tables).

Difference quotients are taken in optimizer coordinates with exactly the
solver settings of the gradient: every point, shifted or not, is evaluated
with sensitivities on (``sensi=1``), because a run with sensitivities and one
without differ at solver-tolerance level, which would show as a spurious
``fd_err``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._objective import Objective
from ._status import EvalStatus

COLUMNS = ["grad", "fd_f", "fd_b", "fd_c", "fd_err", "abs_err", "rel_err"]
DEFAULT_MULTI_EPS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
_TINY = np.finfo(float).tiny


def _fval(obj: Objective, x: np.ndarray) -> float:
    return obj(x, sensi=1).fval


def check_grad(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    eps: float = 1e-5,
    *,
    x_indices: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Compare the gradient with forward, backward and central differences.

    Parameters
    ----------
    obj : Objective
    x : array_like, shape (n_x,)
        Point in optimizer space.
    eps : float
        Step in optimizer coordinates (a log-scale parameter steps in log).
    x_indices : sequence of int, optional
        Parameters to check (default: all).

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter id, columns ``grad, fd_f, fd_b, fd_c, fd_err,
        abs_err, rel_err``. ``rel_err = abs_err / max(|fd_c|, tiny)``.

    Raises
    ------
    RuntimeError
        If the objective fails at ``x`` itself (a finite value with a NaN/inf
        gradient is checked: those rows read NaN/inf in ``grad``).
    """
    x = np.array(x, dtype=float)
    base = obj(x, sensi=1)
    # A non-finite gradient next to a finite value is what a check must show
    # (its rows are mismatches); any other failure leaves nothing to compare.
    if not base.ok and base.status != EvalStatus.INVALID_GRADIENT:
        raise RuntimeError(f"objective fails at the check point: {base.message}")
    idx = range(x.size) if x_indices is None else list(x_indices)
    rows = []
    names = []
    for i in idx:
        xp = x.copy()
        xp[i] += eps
        xm = x.copy()
        xm[i] -= eps
        fp, fm = _fval(obj, xp), _fval(obj, xm)
        fd_f = (fp - base.fval) / eps
        fd_b = (base.fval - fm) / eps
        fd_c = (fp - fm) / (2 * eps)
        g = base.grad[i]
        # a shifted point where the model fails gives inf quotients: the row
        # then reads inf/NaN (never the best step) rather than warning
        with np.errstate(invalid="ignore"):
            abs_err = abs(g - fd_c)
            rows.append([g, fd_f, fd_b, fd_c, abs(fd_f - fd_b), abs_err,
                         abs_err / max(abs(fd_c), _TINY)])
        names.append(obj.x_names[i])
    # Re-evaluate the base point last so the objective's one-point cache holds x.
    obj(x, sensi=1)
    return pd.DataFrame(rows, index=pd.Index(names, name="parameterId"), columns=COLUMNS)


def check_grad_multi_eps(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    multi_eps: Sequence[float] | None = None,
    label: str = "rel_err",
    *,
    x_indices: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Run :func:`check_grad` at several steps; keep the best row per parameter.

    Parameters
    ----------
    obj, x, x_indices
        As for :func:`check_grad`.
    multi_eps : sequence of float, optional
        Steps to try (default 1e-1 ... 1e-7).
    label : str
        Column whose smallest value picks the step (``rel_err``, ``abs_err``,
        ``fd_err``).

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`check_grad` plus ``eps``, one row per parameter.
    """
    if label not in COLUMNS:
        raise ValueError(f"label must be one of {', '.join(COLUMNS)}, not '{label}'")
    steps = list(multi_eps) if multi_eps else list(DEFAULT_MULTI_EPS)
    tables = []
    for eps in steps:
        t = check_grad(obj, x, eps, x_indices=x_indices)
        t["eps"] = eps
        tables.append(t)
    allt = pd.concat(tables)
    best = allt.reset_index().sort_values(label, kind="stable").groupby("parameterId",
                                                                        sort=False).head(1)
    order = tables[0].index
    out = best.set_index("parameterId").loc[order]
    # every step's rows, for summarize(): whether the differences converged
    out.attrs["steps"] = allt
    return out


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


def describe(summary: GradCheckSummary, table: pd.DataFrame) -> list[str]:
    """Human-readable lines for a :class:`GradCheckSummary` (the CLI prints them).

    Parameters
    ----------
    summary : GradCheckSummary
        From :func:`summarize`.
    table : pandas.DataFrame
        The table it judged.

    Returns
    -------
    list of str
    """
    n = len(summary.verdict)
    lines = [f"rel_err < {summary.tol:g}: {len(summary.ids(Agreement.AGREES))} of {n} "
             "parameters"]
    unresolved = summary.ids(Agreement.UNRESOLVED)
    if unresolved:
        lines.append("not resolved by the finite differences (their own error is as large "
                     "as abs_err): " + ", ".join(
                         f"{p} (abs_err {table.loc[p, 'abs_err']:.1e}, fd_err "
                         f"{table.loc[p, 'fd_err']:.1e})" for p in unresolved))
        lines.append("  tighter solver tolerances make the differences sharper: "
                     "--rtol 1e-12 --atol 1e-14")
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
            lines.append("  before trusting it, check these again at tighter solver "
                         "tolerances (--rtol 1e-12 --atol 1e-14): the values' own solver "
                         "error can bias the differences")
    return lines
