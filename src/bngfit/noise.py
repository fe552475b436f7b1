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

from .problem import NoiseFamily, Transform

LOG_2PI = float(np.log(2.0 * np.pi))
LN10 = float(np.log(10.0))

TRANSFORM_CODE = {Transform.LIN: 0, Transform.LOG: 1, Transform.LOG10: 2}


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


def normal(z, zm, sigma):
    """Gaussian: 0.5 log(2 pi sigma^2) + 0.5 ((z - zm)/sigma)^2.

    Returns
    -------
    nllh, d_dz, d_dsigma : ndarray, shape (n,)
    """
    r = (z - zm) / sigma
    nllh = 0.5 * LOG_2PI + np.log(sigma) + 0.5 * r**2
    return nllh, r / sigma, (1.0 - r**2) / sigma


def laplace(z, zm, sigma):
    """Laplace with scale sigma: log(2 sigma) + |z - zm| / sigma.

    Returns
    -------
    nllh, d_dz, d_dsigma : ndarray, shape (n,)
        At z == zm the derivative in z is taken as 0 (a subgradient).
    """
    a = np.abs(z - zm)
    nllh = np.log(2.0 * sigma) + a / sigma
    return nllh, np.sign(z - zm) / sigma, (1.0 - a / sigma) / sigma


KERNELS = {NoiseFamily.NORMAL: normal, NoiseFamily.LAPLACE: laplace}
FAMILY_CODE = {f: i for i, f in enumerate(KERNELS)}
CODE_KERNEL = {i: KERNELS[f] for f, i in FAMILY_CODE.items()}

# Offset of the sigma residuals: 0.5 * (2 log sigma + C) reproduces the log sigma
# term of the Gaussian nllh up to a constant; C keeps the root real for
# sigma > exp(-C/2) ~ 1e-26.
SIGMA_RES_OFFSET = 120.0


def kernel_terms(family_codes, z, zm, sigma):
    """Apply each point's noise kernel.

    Returns
    -------
    nllh, d_dz, d_dsigma : ndarray, shape (n,)
    """
    nllh = np.empty_like(z)
    dz = np.empty_like(z)
    ds = np.empty_like(z)
    for code, kernel in CODE_KERNEL.items():
        sel = family_codes == code
        if sel.any():
            nllh[sel], dz[sel], ds[sel] = kernel(z[sel], zm[sel], sigma[sel])
    return nllh, dz, ds
