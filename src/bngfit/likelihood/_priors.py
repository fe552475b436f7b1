"""Negative log-densities of PEtab v1 objective priors, with their derivatives.

Each prior is a density in its own variable ``v``, as PEtab tools (pyPESTO)
evaluate them: the parameter on its scale for the ``parameterScale*`` types,
the native value otherwise; no change-of-variables term is added when the
optimizer works on another scale (the density is a function of the point, and
the chain rule to the optimizer's coordinates is applied by the objective).

=========================  ==========================================  =================
type (a; b)                -log p(v)                                   d/dv
=========================  ==========================================  =================
uniform (lower; upper)     log(b - a) on [a, b], inf outside           0
normal (mean; sd)          log(2 pi b^2)/2 + (v - a)^2 / (2 b^2)       (v - a) / b^2
laplace (location; scale)  log(2 b) + |v - a| / b                      sign(v - a) / b
logNormal (mu; sigma)      log(sqrt(2 pi) b v) + (ln v - a)^2/(2 b^2)  (1 + (ln v - a)/b^2) / v
logLaplace (mu; scale)     log(2 b v) + |ln v - a| / b                 (1 + sign(ln v - a)/b) / v
=========================  ==========================================  =================

The ``parameterScale*`` types are the uniform, normal and Laplace rows on the
parameter's scale. At the kink of a Laplace density the derivative is taken
as 0 (a subgradient).
"""

from __future__ import annotations

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def uniform(v: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """-log p and d/dv of the uniform density on [a, b], shape of ``v``."""
    inside = (v >= a) & (v <= b)
    return np.where(inside, np.log(b - a), np.inf), np.zeros_like(v)


def normal(v: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """-log p and d/dv of the normal density with mean a and standard deviation b."""
    r = (v - a) / b
    return 0.5 * LOG_2PI + np.log(b) + 0.5 * r * r, r / b


def laplace(v: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """-log p and d/dv of the Laplace density with location a and scale b."""
    return np.log(2.0 * b) + np.abs(v - a) / b, np.sign(v - a) / b


def log_normal(v: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """-log p and d/dv of the log-normal density (ln v ~ normal(a, b)), v > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log(v)
        r = (lv - a) / b
        value = 0.5 * LOG_2PI + np.log(b) + lv + 0.5 * r * r
        return np.where(v > 0, value, np.inf), (1.0 + r / b) / v


def log_laplace(v: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """-log p and d/dv of the log-Laplace density (ln v ~ Laplace(a, b)), v > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log(v)
        value = np.log(2.0 * b) + lv + np.abs(lv - a) / b
        return np.where(v > 0, value, np.inf), (1.0 + np.sign(lv - a) / b) / v
