"""Which parameters of a point sit at, or within a tolerance of, a bound.

A parameter that ends at a bound is a fact a modeler must see: the optimum
may lie beyond the bound (a bound set too tight), or the parameter may be
practically non-identifiable. The summary, the JSON outputs and the parameter
plot all flag these through :func:`near_bounds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

#: Default closeness, as a fraction of the bound interval's width in optimizer
#: space (for a log10 parameter bounded by 1e-5 and 1e5, 1e-3 of 10 decades).
BOUND_RTOL = 1e-3


class BoundSide(StrEnum):
    """Which bound a parameter sits at."""

    LOWER = "lower"
    UPPER = "upper"


def near_bounds(x: np.ndarray | Sequence[float], lb: np.ndarray | Sequence[float],
                ub: np.ndarray | Sequence[float], names: Sequence[str], *,
                rtol: float = BOUND_RTOL) -> dict[str, BoundSide]:
    """Parameters within ``rtol`` of the bound interval's width of a bound.

    Parameters
    ----------
    x, lb, ub : array_like, shape (n_x,)
        Point and bounds, optimizer space (bounds may be infinite: an
        infinite side is never flagged; with one infinite side, the
        closeness is ``rtol * max(1, |bound|)``).
    names : sequence of str, length n_x
        Parameter ids.
    rtol : float, default :data:`BOUND_RTOL`
        Closeness as a fraction of ``ub - lb``.

    Returns
    -------
    dict of str to BoundSide
        Only the flagged parameters, in the order of ``names``.

    Examples
    --------
    >>> near_bounds([0.0, 2.9995, 1.0], [0, 0, 0], [3, 3, 3], ["a", "b", "c"])
    {'a': <BoundSide.LOWER: 'lower'>, 'b': <BoundSide.UPPER: 'upper'>}
    """
    x, lb, ub = (np.asarray(v, dtype=float) for v in (x, lb, ub))
    out: dict[str, BoundSide] = {}
    for i, name in enumerate(names):
        if not np.isfinite(x[i]):
            continue
        width = ub[i] - lb[i]
        if np.isfinite(width):
            close = rtol * width
        else:
            finite = lb[i] if np.isfinite(lb[i]) else ub[i]
            close = rtol * max(1.0, abs(finite)) if np.isfinite(finite) else 0.0
        if np.isfinite(lb[i]) and x[i] - lb[i] <= close:
            out[str(name)] = BoundSide.LOWER
        elif np.isfinite(ub[i]) and ub[i] - x[i] <= close:
            out[str(name)] = BoundSide.UPPER
    return out
