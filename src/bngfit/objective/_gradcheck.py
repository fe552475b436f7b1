"""Gradient checks against finite differences (pyPESTO-style tables).

Difference quotients are taken in optimizer coordinates at the solver
settings of the gradient. How the values at the shifted points are computed
is a choice (:class:`FdValues`): with sensitivities on, exactly as the
gradient's own run (a run with sensitivities and one without differ at
solver-tolerance level, which can show as a spurious ``fd_err``), or value
only, which costs one state solve per point instead of ``1 + n_x``: on a
model with a hundred parameters, the difference between minutes and hours.
Value-only differences use a value-only base point too, so every quotient
compares values of one kind.

The verdict rules live in :mod:`bngfit.objective._verdicts`; their names stay
importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from ._evaluation import Evaluation
from ._objective import Objective
from ._status import EvalStatus
from ._verdicts import (
    COLUMNS,
    MARGIN,
    Agreement,
    GradCheckSummary,
    describe,
    headline,
    judged,
    relative_error,
    summarize,
    tighter,
)

__all__ = ["COLUMNS", "DEFAULT_MULTI_EPS", "MARGIN", "PLAIN_FROM", "Agreement", "FdValues",
           "GradCheckSummary", "Progress", "check_grad", "check_grad_multi_eps", "check_res",
           "check_res_multi_eps", "describe", "fd_sensi",
           "headline", "judged", "relative_error", "summarize", "tighter"]

DEFAULT_MULTI_EPS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
#: From this many free parameters, ``FdValues.AUTO`` takes value-only differences:
#: a sensitivity solve then costs roughly ten state solves or more.
PLAIN_FROM = 10

#: ``progress(done, total, what)``: called after each shifted evaluation.
Progress = Callable[[int, int, str], None]


class FdValues(StrEnum):
    """How the values at the shifted points of a check are computed."""

    AUTO = "auto"  # value only from PLAIN_FROM free parameters on, else with sensitivities
    SENSI = "sensi"  # with sensitivities on, as the gradient's own run
    PLAIN = "plain"  # value only (one state solve per point)


def fd_sensi(obj: Objective, values: FdValues | str) -> int:
    """The ``sensi`` flag of the shifted evaluations for ``values`` (0 or 1).

    Parameters
    ----------
    obj : Objective
    values : FdValues or str

    Returns
    -------
    int
    """
    values = FdValues(values)
    if values is FdValues.AUTO:
        return 0 if len(obj.x_names) >= PLAIN_FROM else 1
    return int(values is FdValues.SENSI)


class _Kind(StrEnum):
    """What a check differentiates."""

    FVAL = "fval"  # the value, against the gradient
    RES = "res"  # the residuals, against their Jacobian


def _vector(ev: Evaluation, kind: _Kind, n: int) -> np.ndarray:
    """The checked vector of an evaluation: (fval,) or the residuals (inf where missing)."""
    if kind is _Kind.FVAL:
        return np.array([ev.fval])
    res = ev.res if ev.ok else None
    return np.asarray(res, dtype=float) if res is not None and len(res) == n else np.full(
        n, np.inf)


def _base(obj: Objective, x: np.ndarray, kind: _Kind) -> tuple[float, np.ndarray, np.ndarray]:
    """fval, the checked vector (n_v,) and its derivative (n_v, n_x) at ``x``.

    Raises RuntimeError when nothing can be compared.
    """
    base = obj(x, sensi=1)
    # A non-finite gradient next to a finite value is what a check must show
    # (its rows are mismatches); any other failure leaves nothing to compare.
    if not base.ok and base.status != EvalStatus.INVALID_GRADIENT:
        raise RuntimeError(f"objective fails at the check point: {base.message}")
    if kind is _Kind.FVAL:
        return base.fval, np.array([base.fval]), np.asarray(base.grad, dtype=float)[None, :]
    if base.res is None or base.sres is None:
        raise ValueError("the objective has no residual form (a sum of squares) to check")
    return base.fval, np.asarray(base.res, float), np.asarray(base.sres, float)


def _plain(obj: Objective, x: np.ndarray, kind: _Kind, n: int) -> np.ndarray:
    """A value-only evaluation at ``x`` itself (not the cached one with sensitivities)."""
    obj.clear_cache()
    return _vector(obj(x, sensi=0), kind, n)


def check_grad(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    eps: float = 1e-5,
    *,
    x_indices: Sequence[int] | None = None,
    values: FdValues | str = FdValues.AUTO,
    progress: Progress | None = None,
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
    values : FdValues or str, default "auto"
        How the values at the shifted points are computed: value only from
        :data:`PLAIN_FROM` free parameters on (:func:`fd_sensi`).
    progress : callable, optional
        ``progress(done, total, what)`` after each shifted evaluation.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter id, columns ``grad, fd_f, fd_b, fd_c, fd_err,
        abs_err, rel_err`` and ``verdict`` (:class:`Agreement` value, from
        :func:`summarize`). ``rel_err`` is :func:`relative_error`: ``abs_err /
        max(|grad|, |fd_c|)``, 0 where both are 0. ``attrs`` holds ``fval``
        and ``values`` (``"sensi"`` or ``"plain"``).

    Raises
    ------
    RuntimeError
        If the objective fails at ``x`` itself (a finite value with a NaN/inf
        gradient is checked: those rows read NaN/inf in ``grad``).
    """
    return _single(obj, x, eps, x_indices, values, progress, _Kind.FVAL)


def _single(obj: Objective, x: Sequence[float] | np.ndarray, eps: float,
            x_indices: Sequence[int] | None, values: FdValues | str,
            progress: Progress | None, kind: _Kind) -> pd.DataFrame:
    """One step's table with its verdicts."""
    return _sharpened(obj, x, x_indices, values, lambda idx, sensi: _single_at(
        obj, x, eps, idx, sensi, progress, kind))


def _single_at(obj: Objective, x: Sequence[float] | np.ndarray, eps: float,
               x_indices: Sequence[int] | None, sensi: int, progress: Progress | None,
               kind: _Kind) -> pd.DataFrame:
    x = np.array(x, dtype=float)
    base = _base_of(obj, x, kind, sensi)
    table = _table(obj, x, eps, x_indices, base, progress, (0, 1), kind)
    # Re-evaluate the base point last so the objective's one-point cache holds x.
    obj(x, sensi=1)
    table.insert(len(COLUMNS), "verdict", [v.value for v in summarize(
        table, table.attrs["scale"], eps=eps).verdict.values()])
    return table


@dataclass(frozen=True)
class _Base:
    """What every step of a check compares against, computed once per check."""

    fval: float
    deriv: np.ndarray  # (n_v, n_x): the gradient as one row, or the residual Jacobian
    values: np.ndarray  # (n_v,): the differenced values at x, of the shifted points' kind
    scale: float  # for the round-off floor of summarize()
    sensi: int  # how the shifted points are solved


def _base_of(obj: Objective, x: np.ndarray, kind: _Kind, sensi: int) -> _Base:
    fval, v0, deriv = _base(obj, x, kind)
    values = v0 if sensi else _plain(obj, x, kind, v0.size)
    scale = fval if kind is _Kind.FVAL else float(np.max(np.abs(v0), initial=0.0))
    return _Base(fval, deriv, values, scale, sensi)


def _table(obj: Objective, x: np.ndarray, eps: float, x_indices: Sequence[int] | None,
           base: _Base, progress: Progress | None, part: tuple[int, int],
           kind: _Kind = _Kind.FVAL) -> pd.DataFrame:
    """The rows of one step; ``part`` = (this step's number, steps in all) for progress.

    For a vector (the residuals), each parameter's row shows the entry whose
    derivative is furthest from its central difference (``entry``), and
    ``rel_err`` is that distance over the column's largest magnitude.
    """
    deriv, f0, sensi = base.deriv, base.values, base.sensi
    n = f0.size
    idx = range(x.size) if x_indices is None else list(x_indices)
    total = 2 * len(idx) * part[1]
    done = 2 * len(idx) * part[0]
    rows, names = [], []
    for i in idx:
        shifted = []
        for sign in (1.0, -1.0):
            xs = x.copy()
            xs[i] += sign * eps
            shifted.append(_vector(obj(xs, sensi=sensi), kind, n))
            done += 1
            if progress is not None:
                progress(done, total, f"{obj.x_names[i]}, step {eps:g}")
        fp, fm = shifted
        # a shifted point where the model fails gives inf quotients: the row
        # then reads inf/NaN (never the best step) rather than warning
        with np.errstate(invalid="ignore"):
            fd_f, fd_b, fd_c = (fp - f0) / eps, (f0 - fm) / eps, (fp - fm) / (2 * eps)
            g = deriv[:, i]
            err = np.abs(g - fd_c)
            r = int(np.nanargmax(err)) if not np.isnan(err).all() else 0
            size = max(float(np.nanmax(np.abs(g), initial=0.0)),
                       float(np.nanmax(np.abs(fd_c), initial=0.0)))
            rel = relative_error(err[r], g[r], fd_c[r]) if n == 1 else (
                err[r] / size if size > 0 and np.isfinite(err[r]) else
                relative_error(err[r], g[r], fd_c[r]))
            rows.append([g[r], fd_f[r], fd_b[r], fd_c[r], abs(fd_f[r] - fd_b[r]), err[r], rel,
                         r])
        names.append(obj.x_names[i])
    out = pd.DataFrame([row[:-1] for row in rows], columns=COLUMNS,
                       index=pd.Index(names, name="parameterId"))
    if kind is _Kind.RES:
        out["entry"] = [row[-1] for row in rows]
    # the round-off floor of summarize() scales with the values differenced
    out.attrs.update(fval=base.fval, scale=base.scale, values="sensi" if sensi else "plain",
                     kind=kind.value)
    return out


def check_grad_multi_eps(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    multi_eps: Sequence[float] | None = None,
    label: str = "rel_err",
    *,
    x_indices: Sequence[int] | None = None,
    values: FdValues | str = FdValues.AUTO,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run :func:`check_grad` at several steps; keep the best row per parameter.

    Parameters
    ----------
    obj, x, x_indices, values, progress
        As for :func:`check_grad` (progress counts over all steps).
    multi_eps : sequence of float, optional
        Steps to try (default 1e-1 ... 1e-7).
    label : str
        Column whose smallest value picks the step (``rel_err``, ``abs_err``,
        ``fd_err``).

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`check_grad` plus ``eps``, one row per parameter; the
        verdict judges every step's rows (``attrs["steps"]``).
    """
    return _multi(obj, x, multi_eps, label, x_indices, values, progress, _Kind.FVAL)


def _multi(obj: Objective, x: Sequence[float] | np.ndarray, multi_eps: Sequence[float] | None,
           label: str, x_indices: Sequence[int] | None, values: FdValues | str,
           progress: Progress | None, kind: _Kind) -> pd.DataFrame:
    """Tables at several steps, the best row per parameter, verdicts on all steps."""
    if label not in COLUMNS:
        raise ValueError(f"label must be one of {', '.join(COLUMNS)}, not '{label}'")
    return _sharpened(obj, x, x_indices, values, lambda idx, sensi: _multi_at(
        obj, x, multi_eps, label, idx, sensi, progress, kind))


def _multi_at(obj: Objective, x: Sequence[float] | np.ndarray,
              multi_eps: Sequence[float] | None, label: str, x_indices: Sequence[int] | None,
              sensi: int, progress: Progress | None, kind: _Kind) -> pd.DataFrame:
    x = np.array(x, dtype=float)
    steps = list(multi_eps) if multi_eps else list(DEFAULT_MULTI_EPS)
    base = _base_of(obj, x, kind, sensi)
    tables = []
    for k, eps in enumerate(steps):
        t = _table(obj, x, eps, x_indices, base, progress, (k, len(steps)), kind)
        t["eps"] = eps
        tables.append(t)
    # Re-evaluate the base point last so the objective's one-point cache holds x.
    obj(x, sensi=1)
    allt = pd.concat(tables)
    best = allt.reset_index().sort_values(label, kind="stable").groupby("parameterId",
                                                                        sort=False).head(1)
    order = tables[0].index
    out = best.set_index("parameterId").loc[order]
    # every step's rows, for summarize(): whether the differences converged
    out.attrs.update(tables[0].attrs)
    out.attrs["steps"] = allt
    out.insert(len(COLUMNS), "verdict", [
        v.value for v in summarize(out, out.attrs["scale"]).verdict.values()])
    return out


def _sharpened(obj: Objective, x: Sequence[float] | np.ndarray,
               x_indices: Sequence[int] | None, values: FdValues | str,
               run: Callable[[Sequence[int] | None, int], pd.DataFrame]) -> pd.DataFrame:
    """``run(x_indices, sensi)``; for ``auto``, rows that do not agree again with sensitivities.

    Value-only solves carry the solver's state error control only, so their
    differences are blunter than those of solves with sensitivities: where a
    gradient entry is tiny (at an optimum) they often cannot resolve it, and
    where the values carry a large solver error they can disagree with a
    right gradient. The automatic choice therefore checks every parameter
    value-only first and every one that does not agree again as the gradient
    itself is solved: a parameter agrees when either kind of differences
    agrees with its gradient entry to ``tol``, every other verdict is that of
    ``sensi``, and the check is as cheap as ``plain`` where that suffices
    (Bachmann 2011, 113 parameters, away from its optimum: 15 s against 144 s).
    """
    sensi = fd_sensi(obj, values)
    table = run(x_indices, sensi)
    if FdValues(values) is not FdValues.AUTO or sensi:
        return table
    names = list(obj.x_names)
    # only agreement is taken from value-only differences: a gradient that
    # agrees with blunt differences to tol is right; a mismatch or an
    # unresolved row may be their bluntness (Giordano 2020 at a random point:
    # 36 mismatches value-only, 9 with sensitivities), so it is checked again
    again = [names.index(str(p)) for p, v in table["verdict"].items()
             if v != Agreement.AGREES.value]
    if not again:
        return table
    sharp = run(again, 1)
    out = table.copy()
    out.loc[sharp.index, :] = sharp[out.columns]
    out.attrs = dict(table.attrs)
    if "steps" in table.attrs:
        steps = table.attrs["steps"]
        out.attrs["steps"] = pd.concat([steps[~steps.index.isin(sharp.index)],
                                        sharp.attrs["steps"]])
    out.attrs["sensi_for"] = [str(p) for p in sharp.index]
    return out


def check_res(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    eps: float = 1e-5,
    *,
    x_indices: Sequence[int] | None = None,
    values: FdValues | str = FdValues.AUTO,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Compare the residual Jacobian ``sres`` with differences of the residuals ``res``.

    The Jacobian is what ``least_squares`` and Fides' Gauss-Newton Hessian
    use; it is checked column by column.

    Parameters
    ----------
    obj, x, eps, x_indices, values, progress
        As for :func:`check_grad`.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, the columns of :func:`check_grad` for the
        residual whose derivative is furthest from its central difference,
        whose position (0-based, in the order of ``res``) is ``entry``;
        ``rel_err`` is ``abs_err`` over the largest magnitude in the column
        (of ``sres`` or of the differences).

    Raises
    ------
    ValueError
        If the objective has no residual form.
    RuntimeError
        If the objective fails at ``x``.
    """
    return _single(obj, x, eps, x_indices, values, progress, _Kind.RES)


def check_res_multi_eps(
    obj: Objective,
    x: Sequence[float] | np.ndarray,
    multi_eps: Sequence[float] | None = None,
    label: str = "rel_err",
    *,
    x_indices: Sequence[int] | None = None,
    values: FdValues | str = FdValues.AUTO,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """:func:`check_res` at several steps, the best row per parameter.

    Parameters
    ----------
    obj, x, multi_eps, label, x_indices, values, progress
        As for :func:`check_grad_multi_eps`.

    Returns
    -------
    pandas.DataFrame
        As :func:`check_res`, plus ``eps``.
    """
    return _multi(obj, x, multi_eps, label, x_indices, values, progress, _Kind.RES)
