"""Gradient checks against finite differences (pyPESTO-style tables).

Difference quotients are taken in optimizer coordinates with exactly the
solver settings of the gradient: every point, shifted or not, is evaluated
with sensitivities on (``sensi=1``), because a run with sensitivities and one
without differ at solver-tolerance level, which would show as a spurious
``fd_err``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .objective import Objective

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
        If the objective fails at ``x`` itself.
    """
    x = np.array(x, dtype=float)
    base = obj(x, sensi=1)
    if not base.ok:
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
    return best.set_index("parameterId").loc[order]
