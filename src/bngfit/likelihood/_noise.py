"""Noise models: negative log-likelihood terms and their derivatives.

Each family is one vectorised kernel over data points, written once. It takes
the (transformed) simulation ``z``, the (transformed) measurement ``zm`` and the
noise scale ``sigma`` and returns the negative log-likelihood of each point
with its partial derivatives with respect to ``z`` and ``sigma``. Transforms
(log, log10) are applied around the kernel in one place, :func:`transform`,
together with the change-of-variables term that makes the result a density of
the untransformed measurement.
"""

from __future__ import annotations

import numpy as np

from bngfit.problem._problem import NoiseFamily, Transform

LOG_2PI = float(np.log(2.0 * np.pi))
LN10 = float(np.log(10.0))

TRANSFORM_CODE = {Transform.LIN: 0, Transform.LOG: 1, Transform.LOG10: 2}

Terms = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A kernel's nllh per point and its partials by z and sigma, each shape (n,).

Every kernel takes ``z`` (the transformed simulation), ``zm`` (the transformed
measurement) and ``sigma`` (the noise scale, > 0), each shape (n,), and a shape
family also its shape parameter, shape (n,).
"""
ShapeTerms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Those of :data:`Terms` and the partial by the shape parameter."""


def transform(values: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply each point's transform.

    Parameters
    ----------
    values : ndarray, shape (n,)
    codes : ndarray of int, shape (n,)
        0 lin, 1 log, 2 log10.

    Returns
    -------
    z : ndarray, shape (n,)
        Transformed values (NaN where a log meets a non-positive value).
    dz : ndarray, shape (n,)
        d z / d value.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = values > 0
        safe = np.where(pos, values, np.nan)
        z = np.where(codes == 0, values, np.where(codes == 1, np.log(safe), np.log10(safe)))
        dz = np.where(codes == 0, 1.0, np.where(codes == 1, 1.0 / safe, 1.0 / (safe * LN10)))
    return z, dz


def transform_one(values: np.ndarray, code: int,
                  derivative: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`transform` for points that all share one code (the same numbers, faster).

    Returns
    -------
    z : ndarray, shape (n,)
    dz : ndarray, shape (n,), or None without ``derivative``
    """
    if code == 0:
        return values, (np.ones_like(values) if derivative else None)
    safe = np.where(values > 0, values, np.nan)
    if code == 1:
        return np.log(safe), (1.0 / safe if derivative else None)
    return np.log10(safe), (1.0 / (safe * LN10) if derivative else None)


def log_jacobian_term(measurements: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Change-of-variables term of each point's nllh: log|d z / d m|^-1.

    0 for lin, ``log(m)`` for log and ``log(m ln 10)`` for log10: the density of
    the measurement m is the density of z(m) times |dz/dm|.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            codes == 0, 0.0, np.where(codes == 1, np.log(measurements),
                                      np.log(measurements * LN10))
        )


def normal(z: np.ndarray, zm: np.ndarray, sigma: np.ndarray) -> Terms:
    """Gaussian: 0.5 log(2 pi sigma^2) + 0.5 ((z - zm)/sigma)^2 (see :data:`Terms`)."""
    r = (z - zm) / sigma
    nllh = 0.5 * LOG_2PI + np.log(sigma) + 0.5 * r**2
    return nllh, r / sigma, (1.0 - r**2) / sigma


def laplace(z: np.ndarray, zm: np.ndarray, sigma: np.ndarray) -> Terms:
    """Laplace with scale sigma: log(2 sigma) + |z - zm| / sigma (see :data:`Terms`).

    At z == zm the derivative in z is taken as 0 (a subgradient).
    """
    a = np.abs(z - zm)
    nllh = np.log(2.0 * sigma) + a / sigma
    return nllh, np.sign(z - zm) / sigma, (1.0 - a / sigma) / sigma


def student_t(z: np.ndarray, zm: np.ndarray, sigma: np.ndarray,
              nu: np.ndarray) -> ShapeTerms:
    """Student-t with location z, scale sigma and nu degrees of freedom.

    nllh = -log Gamma((nu+1)/2) + log Gamma(nu/2) + log(sqrt(nu pi) sigma)
           + (nu+1)/2 log(1 + r^2/nu),  r = (zm - z)/sigma

    ``nu`` > 0, shape (n,); returns :data:`ShapeTerms` (the last by ``nu``).
    """
    from scipy.special import digamma, gammaln

    r = (zm - z) / sigma
    q = 1.0 + r**2 / nu
    nllh = (gammaln(nu / 2) - gammaln((nu + 1) / 2) + 0.5 * np.log(nu * np.pi)
            + np.log(sigma) + 0.5 * (nu + 1) * np.log(q))
    w = (nu + 1) * r / (nu + r**2)  # d/dr of the last term
    d_dz = -w / sigma  # dr/dz = -1/sigma
    d_dsigma = (1.0 - w * r) / sigma
    d_dnu = (0.5 * digamma(nu / 2) - 0.5 * digamma((nu + 1) / 2) + 0.5 / nu
             + 0.5 * np.log(q) - 0.5 * (nu + 1) * r**2 / (nu**2 * q))
    return nllh, d_dz, d_dsigma, d_dnu


def neg_binomial(z: np.ndarray, zm: np.ndarray, sigma: np.ndarray,
                 r: np.ndarray) -> ShapeTerms:
    """Negative binomial with mean z > 0 and dispersion r (variance z + z^2/r).

    nllh = -[log Gamma(m+r) - log Gamma(r) - log Gamma(m+1)
             + r log(r/(r+z)) + m log(z/(r+z))],  m the measurement
    (the continuous extension in m; sigma is unused).

    ``z`` is the mean (> 0), ``zm`` the count, ``r`` > 0 shape (n,); returns
    :data:`ShapeTerms` (the partial by the unused ``sigma`` is 0, the last by ``r``).
    """
    from scipy.special import digamma, gammaln

    m = zm
    nllh = -(gammaln(m + r) - gammaln(r) - gammaln(m + 1.0)
             + r * np.log(r / (r + z)) + m * np.log(z / (r + z)))
    d_dz = (r + m) / (r + z) - m / z
    d_dr = -(digamma(m + r) - digamma(r) + np.log(r / (r + z)) + (z - m) / (r + z))
    return nllh, d_dz, np.zeros_like(z), d_dr


KERNELS = {NoiseFamily.NORMAL: normal, NoiseFamily.LAPLACE: laplace}
SHAPE_KERNELS = {NoiseFamily.STUDENT_T: student_t, NoiseFamily.NEG_BINOMIAL: neg_binomial}
FAMILY_CODE = {f: i for i, f in enumerate((*KERNELS, *SHAPE_KERNELS))}
CODE_KERNEL = {FAMILY_CODE[f]: k for f, k in KERNELS.items()}
CODE_SHAPE_KERNEL = {FAMILY_CODE[f]: k for f, k in SHAPE_KERNELS.items()}

# Offset of the sigma residuals: 0.5 * (2 log sigma + C) reproduces the log sigma
# term of the Gaussian nllh up to a constant; C keeps the root real for
# sigma > exp(-C/2) ~ 1e-26.
SIGMA_RES_OFFSET = 120.0


def kernel_terms(family_codes: np.ndarray, z: np.ndarray, zm: np.ndarray, sigma: np.ndarray,
                 shape: np.ndarray | None = None) -> Terms | ShapeTerms:
    """Apply each point's noise kernel.

    Parameters
    ----------
    family_codes : ndarray of int, shape (n,)
        Each point's family (:data:`FAMILY_CODE`).
    z, zm, sigma : ndarray, shape (n,)
        Simulation and measurement (transformed), noise scale.
    shape : ndarray, shape (n,), optional
        Shape parameter of each point (used by the shape families only).

    Returns
    -------
    nllh, d_dz, d_dsigma : ndarray, shape (n,)
        And, when ``shape`` is given, ``d_dshape`` (0 for families without one).
    """
    nllh = np.empty_like(z)
    dz = np.empty_like(z)
    ds = np.empty_like(z)
    dk = np.zeros_like(z)
    for code, kernel in CODE_KERNEL.items():
        sel = family_codes == code
        if sel.any():
            nllh[sel], dz[sel], ds[sel] = kernel(z[sel], zm[sel], sigma[sel])
    for code, kernel in CODE_SHAPE_KERNEL.items():
        sel = family_codes == code
        if sel.any():
            nllh[sel], dz[sel], ds[sel], dk[sel] = kernel(z[sel], zm[sel], sigma[sel],
                                                          shape[sel])
    return (nllh, dz, ds) if shape is None else (nllh, dz, ds, dk)
