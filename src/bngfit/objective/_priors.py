"""The objective priors of a problem as a term of the objective (the negative log-prior).

With priors (PEtab's ``objectivePriorType``), the objective is the negative
log-posterior, likelihood plus this term; :attr:`Evaluation.prior
<bngfit.objective._evaluation.Evaluation.prior>` keeps the term's value so that
the log-likelihood is reported without it, as PEtab tools do. The densities are
those of :mod:`bngfit.likelihood._priors`, each in its own variable (the
parameter on its scale for ``parameterScale*`` types, the native value
otherwise); the derivatives go to native ``theta`` here, and the objective takes
them to optimizer space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bngfit.likelihood import _priors as densities
from bngfit.problem import Problem
from bngfit.problem._priors import InitPrior
from bngfit.problem._scales import dtheta_dx, scale_codes, to_scale

from ._terms import Contribution, Observation

_DENSITY: dict[InitPrior, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    InitPrior.UNIFORM: densities.uniform,
    InitPrior.PS_UNIFORM: densities.uniform,
    InitPrior.NORMAL: densities.normal,
    InitPrior.PS_NORMAL: densities.normal,
    InitPrior.LAPLACE: densities.laplace,
    InitPrior.PS_LAPLACE: densities.laplace,
    InitPrior.LOG_NORMAL: densities.log_normal,
    InitPrior.LOG_LAPLACE: densities.log_laplace,
}
_ON_SCALE = (InitPrior.PS_UNIFORM, InitPrior.PS_NORMAL, InitPrior.PS_LAPLACE)


class ObjectivePriors:
    """The sum of the free parameters' negative log-priors; no residual form.

    Parameters
    ----------
    problem : Problem
        Its free parameters with an ``objective_prior``.

    Attributes
    ----------
    index : ndarray of int
        Positions (in ``theta``) of the parameters with a prior.
    """

    has_residuals = False

    def __init__(self, problem: Problem) -> None:
        free = problem.free
        self.index = np.array([i for i, p in enumerate(free) if p.objective_prior is not None],
                              dtype=int)
        self._ids = [free[i].id for i in self.index]
        self._priors = [free[i].objective_prior for i in self.index]
        self._codes = scale_codes([free[i].scale for i in self.index])
        self._on_scale = np.array([p[0] in _ON_SCALE for p in self._priors], dtype=bool)

    def evaluate(self, observation: Observation, sensi: bool) -> Contribution:
        """Value and gradient by native theta (see :class:`~bngfit.objective._terms.Term`)."""
        theta = observation.theta[self.index]
        scaled = to_scale(theta, self._codes)
        v = np.where(self._on_scale, scaled, theta)
        values = np.empty(v.size)
        dv = np.empty(v.size)
        for k, (kind, a, b) in enumerate(self._priors):
            val, d = _DENSITY[kind](v[k:k + 1], a, b)
            values[k], dv[k] = val[0], d[0]
        bad = ~np.isfinite(values)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            kind, a, b = self._priors[k]
            return Contribution.invalid(
                f"the objective prior of '{self._ids[k]}' ({kind.value} {a:g};{b:g}) has no "
                f"density at {v[k]:.6g}")
        grad = None
        if sensi:
            # d v / d theta: 1 on the native value, d x / d theta on the parameter's scale
            dv_dtheta = np.where(self._on_scale, 1.0 / dtheta_dx(theta, self._codes), 1.0)
            grad = np.zeros(observation.theta.size)
            grad[self.index] = dv * dv_dtheta
        return Contribution(fval=float(values.sum()), grad=grad)
