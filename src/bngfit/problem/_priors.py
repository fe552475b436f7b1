"""PEtab v1 priors: where start points are drawn from, and the objective's priors.

PEtab's ``initializationPriorType`` / ``initializationPriorParameters`` say how
a multistart should draw each parameter's start: ``parameterScaleUniform``
(the default: uniform between the bounds, on the parameter's scale),
``parameterScaleNormal`` / ``parameterScaleLaplace`` (on the scale), or
``uniform``, ``normal``, ``laplace``, ``logNormal``, ``logLaplace`` (on the
native value; the log forms in natural log). Draws go through each
distribution's quantile function, so a Latin hypercube of uniforms stays one.

The same types and parameters, in the columns ``objectivePriorType`` /
``objectivePriorParameters``, are priors of the objective (terms of the negative
log-posterior, :mod:`bngfit.likelihood._priors`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from ._scales import Scale, scale_codes, to_scale, unscale


class InitPrior(StrEnum):
    """PEtab v1 prior types (initialization and objective priors alike)."""

    PS_UNIFORM = "parameterScaleUniform"
    PS_NORMAL = "parameterScaleNormal"
    PS_LAPLACE = "parameterScaleLaplace"
    UNIFORM = "uniform"
    NORMAL = "normal"
    LAPLACE = "laplace"
    LOG_NORMAL = "logNormal"
    LOG_LAPLACE = "logLaplace"


def parse_prior(kind: str, params: str, column: str = "initialization"
                ) -> tuple[InitPrior, float, float] | None:
    """The prior of a parameter-table row, or None for the default.

    ``column``: ``"initialization"`` or ``"objective"`` (the columns
    ``{column}PriorType`` and ``{column}PriorParameters``, for messages).
    ``parameterScaleUniform`` without parameters (between the bounds) is None.

    Raises
    ------
    ValueError
        An unknown type, parameters that are not two numbers ``a;b``, a
        non-positive spread, or uniform bounds not increasing.
    """
    kind = kind.strip()
    if not kind:
        if params.strip():
            raise ValueError(f"{column}PriorParameters given without {column}PriorType")
        return None
    try:
        prior = InitPrior(kind)
    except ValueError:
        raise ValueError(f"unknown {column}PriorType; use one of "
                         f"{', '.join(p.value for p in InitPrior)}") from None
    if not params.strip():
        if prior is InitPrior.PS_UNIFORM:
            return None  # between the bounds
        raise ValueError(f"{prior.value} needs {column}PriorParameters 'a;b'")
    parts = params.split(";")
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{column}PriorParameters must be two numbers 'a;b'") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{column}PriorParameters must be finite")
    if prior in (InitPrior.PS_UNIFORM, InitPrior.UNIFORM):
        if not a < b:
            raise ValueError("a uniform prior needs lower < upper")
    elif not b > 0:
        raise ValueError("the spread (second number) must be positive")
    return prior, a, b


def draw(prior: tuple[InitPrior, float, float], u: np.ndarray, scale: Scale,
         lb: float = -np.inf, ub: float = np.inf) -> np.ndarray:
    """Start values (optimizer space) for uniforms ``u`` in (0, 1), shape (n,).

    The prior is truncated to the bounds ``lb``, ``ub`` (optimizer space):
    ``u`` is mapped into the prior's probability mass between them, then
    through its quantile function.
    """
    from scipy.stats import laplace, norm, uniform

    kind, a, b = prior
    if kind in (InitPrior.PS_UNIFORM, InitPrior.UNIFORM):
        dist = uniform(loc=a, scale=b - a)
    elif kind in (InitPrior.PS_NORMAL, InitPrior.NORMAL, InitPrior.LOG_NORMAL):
        dist = norm(loc=a, scale=b)
    else:
        dist = laplace(loc=a, scale=b)
    on_scale = kind in (InitPrior.PS_UNIFORM, InitPrior.PS_NORMAL, InitPrior.PS_LAPLACE)
    logged = kind in (InitPrior.LOG_NORMAL, InitPrior.LOG_LAPLACE)
    codes = scale_codes([scale])

    def to_prior_space(x: float) -> float:
        """A bound (optimizer space) in the prior's own variable."""
        if on_scale:
            return x
        if np.isfinite(x):
            native = float(unscale(np.array([x]), codes)[0])
        elif x > 0:
            native = np.inf
        else:  # -inf: native 0 on a log scale
            native = 0.0 if codes[0] else -np.inf
        if logged:
            return float(np.log(native)) if native > 0 else -np.inf
        return native

    lo, hi = dist.cdf(to_prior_space(lb)), dist.cdf(to_prior_space(ub))
    if not hi - lo > 0.0:  # no prior mass inside the bounds: start at the nearer one
        return np.full(u.shape, ub if to_prior_space(ub) < dist.median() else lb)
    v = dist.ppf(lo + u * (hi - lo))
    if on_scale:
        return v
    if logged:
        v = np.exp(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return to_scale(v, scale_codes([scale] * v.size))
