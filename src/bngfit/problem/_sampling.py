"""Start points of a multistart: uniform or Latin hypercube in the scaled bounds,
or a parameter's initialization prior (truncated to its bounds).

The start distribution is part of what a problem states (its bounds, scales
and initialization priors), so the sampler lives in the problem stage:
:meth:`Problem.sample_starts <bngfit.problem.Problem.sample_starts>` and the
multistart (:mod:`bngfit.optimize._multistart`) draw with this one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from bngfit.errors import parse_choice

from ._priors import draw
from ._scales import Scale


class Sampler(StrEnum):
    """How the start points of a multistart are drawn (see :data:`SAMPLER_TEXT`)."""

    UNIFORM = "uniform"
    LHS = "lhs"


#: What each sampler does, for help texts and messages.
SAMPLER_TEXT = {
    Sampler.UNIFORM: "independent uniform draws in the scaled bounds",
    Sampler.LHS: "a Latin hypercube, one point per stratum of each parameter's scaled bounds",
}

#: The samplers' names.
SAMPLERS = tuple(s.value for s in Sampler)


def parse_sampler(name: str) -> Sampler:
    """The sampler named ``name`` (InputError listing the choices otherwise)."""
    return parse_choice(Sampler, name, "start sampler")


def sample_starts(lb: np.ndarray, ub: np.ndarray, n: int, rng: np.random.Generator,
                  method: str = Sampler.UNIFORM, priors: Sequence | None = None,
                  scales: Sequence[Scale] | None = None) -> np.ndarray:
    """Start points in the box [lb, ub] (optimizer space).

    Parameters
    ----------
    lb, ub : ndarray, shape (n_x,)
    n : int
        Number of points.
    rng : numpy.random.Generator
    method : Sampler or str
        A :class:`Sampler`: independent uniform draws, or a Latin hypercube
        (one point per stratum and dimension).
    priors : sequence, optional
        Per parameter an initialization prior ``(InitPrior, a, b)`` or None
        (uniform in the bounds); a prior is truncated to the bounds.
    scales : sequence of Scale, optional
        The parameters' scales (needed for priors on native values).

    Returns
    -------
    ndarray, shape (n, n_x)

    Raises
    ------
    InputError
        An unknown ``method`` (a ``ValueError``).
    """
    sampler = parse_sampler(method)
    d = lb.size
    if sampler is Sampler.UNIFORM:
        u = rng.random((n, d))
    else:
        u = np.empty((n, d))
        for j in range(d):
            u[:, j] = (rng.permutation(n) + rng.random(n)) / n
    with np.errstate(invalid="ignore"):  # an unbounded column gets its prior below
        x = lb + u * (ub - lb)
    for j, prior in enumerate(priors or ()):
        if prior is not None:
            v = draw(prior, u[:, j], scales[j], lb[j], ub[j])
            x[:, j] = np.clip(np.where(np.isnan(v), lb[j], v), lb[j], ub[j])
    return x
