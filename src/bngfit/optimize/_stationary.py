"""Whether an optimizer's claim of convergence holds: the projected gradient at its end point."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from bngfit.result._types import StartStatus

if TYPE_CHECKING:
    from bngfit.objective._objective import Evaluation

    from ._local import LocalResult


# A start is reported converged only where the projected gradient's largest
# entry is at most this fraction of (1 + |fval|). Every optimizer's own
# tolerances are far tighter (1e-8 on the gradient, 1e-10 to 1e-12 relative
# on fval); this catches a claim of convergence the gradient contradicts.
STATIONARY_RTOL = 1e-3


def projected_gradient(x: np.ndarray, grad: np.ndarray, lb: np.ndarray,
                       ub: np.ndarray) -> np.ndarray:
    """The gradient with the entries zeroed that push ``x`` out through an active bound."""
    x, g = np.asarray(x, float), np.asarray(grad, float)
    out = g.copy()
    out[(x <= np.asarray(lb, float)) & (g > 0)] = 0.0
    out[(x >= np.asarray(ub, float)) & (g < 0)] = 0.0
    return out


def confirm_stationary(result: LocalResult, end: Evaluation, lb: np.ndarray,
                       ub: np.ndarray) -> LocalResult:
    """``result``, or STALLED where its end point's projected gradient is large."""
    pg = float(np.max(np.abs(projected_gradient(end.x, end.grad, lb, ub)), initial=0.0))
    limit = STATIONARY_RTOL * (1.0 + abs(end.fval))
    if pg <= limit:
        return result
    return dataclasses.replace(
        result, status=StartStatus.STALLED,
        message=f"{result.message}; not converged: the projected gradient at the end point "
                f"has an entry of {pg:.3g} (> {limit:.3g}, {STATIONARY_RTOL:g} * (1 + |fval|))")
