"""Start points of a multistart: uniform or Latin hypercube in the scaled bounds,
or a parameter's initialization prior (truncated to its bounds)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAMPLERS = ("uniform", "lhs")


def sample_starts(lb: np.ndarray, ub: np.ndarray, n: int, rng: np.random.Generator,
                  method: str = "uniform", priors: Sequence | None = None,
                  scales: Sequence | None = None) -> np.ndarray:
    """Start points in the box [lb, ub] (optimizer space).

    Parameters
    ----------
    lb, ub : ndarray, shape (n_x,)
    n : int
        Number of points.
    rng : numpy.random.Generator
    method : {"uniform", "lhs"}
        Independent uniform draws, or a Latin hypercube (one point per stratum
        and dimension).
    priors : sequence, optional
        Per parameter an initialization prior ``(InitPrior, a, b)`` or None
        (uniform in the bounds); a prior is truncated to the bounds.
    scales : sequence of Scale, optional
        The parameters' scales (needed for priors on native values).

    Returns
    -------
    ndarray, shape (n, n_x)
    """
    d = lb.size
    if method == "uniform":
        u = rng.random((n, d))
    elif method == "lhs":
        u = np.empty((n, d))
        for j in range(d):
            u[:, j] = (rng.permutation(n) + rng.random(n)) / n
    else:
        raise ValueError(f"unknown start sampler '{method}': use one of {', '.join(SAMPLERS)}")
    with np.errstate(invalid="ignore"):  # an unbounded column gets its prior below
        x = lb + u * (ub - lb)
    for j, prior in enumerate(priors or ()):
        if prior is not None:
            from bngfit.problem._priors import draw

            v = draw(prior, u[:, j], scales[j], lb[j], ub[j])
            x[:, j] = np.clip(np.where(np.isnan(v), lb[j], v), lb[j], ub[j])
    return x
