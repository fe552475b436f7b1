"""Noise kernels of bngfit.likelihood._noise against scipy.stats and finite differences.

Expected values come from scipy.stats densities (normal, Laplace, log-normal,
log-Laplace) and from central differences of the kernels themselves; nothing is
taken from bngfit as a reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bngfit.likelihood._noise import (
    FAMILY_CODE,
    KERNELS,
    kernel_terms,
    laplace,
    log_jacobian_term,
    normal,
    transform,
)
from bngfit.problem._problem import NoiseFamily

N = 500
RTOL = 1e-10
LN10 = np.log(10.0)


@pytest.fixture
def points():
    """Random (z, zm, sigma) triples: locations over decades, sigma > 0."""
    rng = np.random.default_rng(1234)
    z = rng.normal(0.0, 3.0, N)
    zm = z + rng.normal(0.0, 2.0, N)
    sigma = 10.0 ** rng.uniform(-2.0, 1.0, N)
    return z, zm, sigma


@pytest.fixture
def positive_points():
    """Random (h, m, sigma) with positive simulation h and measurement m."""
    rng = np.random.default_rng(98765)
    h = 10.0 ** rng.uniform(-3.0, 3.0, N)
    m = h * np.exp(rng.normal(0.0, 1.0, N))
    sigma = 10.0 ** rng.uniform(-1.5, 0.5, N)
    return h, m, sigma


# ------------------------------------------------------------------ values, lin
def test_normal_matches_scipy(points):
    z, zm, sigma = points
    nllh, _, _ = normal(z, zm, sigma)
    np.testing.assert_allclose(nllh, -stats.norm.logpdf(zm, loc=z, scale=sigma), rtol=RTOL,
                               atol=0)
    # Symmetric in simulation and measurement.
    np.testing.assert_allclose(nllh, -stats.norm.logpdf(z, loc=zm, scale=sigma), rtol=RTOL,
                               atol=0)


def test_laplace_matches_scipy(points):
    z, zm, sigma = points
    nllh, _, _ = laplace(z, zm, sigma)
    np.testing.assert_allclose(nllh, -stats.laplace.logpdf(zm, loc=z, scale=sigma),
                               rtol=RTOL, atol=0)


def test_kernel_terms_dispatches_each_point_to_its_family(points):
    z, zm, sigma = points
    codes = np.arange(N) % 2
    fam = {v: k for k, v in FAMILY_CODE.items()}
    assert {fam[0], fam[1]} == {NoiseFamily.NORMAL, NoiseFamily.LAPLACE}
    nllh, d_dz, d_ds = kernel_terms(codes, z, zm, sigma)
    expected = np.where(
        np.array([fam[c] for c in codes]) == NoiseFamily.NORMAL,
        -stats.norm.logpdf(zm, loc=z, scale=sigma),
        -stats.laplace.logpdf(zm, loc=z, scale=sigma),
    )
    np.testing.assert_allclose(nllh, expected, rtol=RTOL, atol=0)
    for c in (0, 1):
        sel = codes == c
        _, gz, gs = KERNELS[fam[c]](z[sel], zm[sel], sigma[sel])
        np.testing.assert_allclose(d_dz[sel], gz, rtol=RTOL, atol=0)
        np.testing.assert_allclose(d_ds[sel], gs, rtol=RTOL, atol=0)


# --------------------------------------------------- values with a transformation
def _nllh_of_measurement(kernel, h, m, sigma, code):
    """Full nllh of measurement m: kernel on transformed values + change of variables."""
    codes = np.full(h.shape, code)
    z, _ = transform(h, codes)
    zm, _ = transform(m, codes)
    nllh, _, _ = kernel(z, zm, sigma)
    return nllh + log_jacobian_term(m, codes)


def test_lognormal_matches_scipy_lognorm(positive_points):
    h, m, sigma = positive_points
    got = _nllh_of_measurement(normal, h, m, sigma, 1)
    expected = -stats.lognorm.logpdf(m, s=sigma, scale=h)  # scale = exp(mu), mu = log h
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_log10_normal_matches_independent_density(positive_points):
    """log10(m) ~ N(log10 h, sigma)  <=>  ln(m) ~ N(ln h, sigma ln10): a log-normal."""
    h, m, sigma = positive_points
    got = _nllh_of_measurement(normal, h, m, sigma, 2)
    expected = -stats.lognorm.logpdf(m, s=sigma * LN10, scale=h)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    # Same density written out by hand: phi((log10 m - log10 h)/sigma)/sigma * 1/(m ln10).
    by_hand = -(stats.norm.logpdf(np.log10(m), loc=np.log10(h), scale=sigma)
                - np.log(m * LN10))
    np.testing.assert_allclose(got, by_hand, rtol=RTOL, atol=0)


def test_log_laplace_matches_scipy_loglaplace(positive_points):
    """ln(m) ~ Laplace(ln h, b)  <=>  m ~ loglaplace(c=1/b, scale=h)."""
    h, m, sigma = positive_points
    got = _nllh_of_measurement(laplace, h, m, sigma, 1)
    expected = -stats.loglaplace.logpdf(m, c=1.0 / sigma, scale=h)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_log10_laplace_matches_scipy_loglaplace(positive_points):
    h, m, sigma = positive_points
    got = _nllh_of_measurement(laplace, h, m, sigma, 2)
    expected = -stats.loglaplace.logpdf(m, c=1.0 / (sigma * LN10), scale=h)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_transformed_density_integrates_to_one():
    """The change-of-variables term makes a proper density in m (quadrature check)."""
    from scipy.integrate import quad

    for kernel in (normal, laplace):
        for code in (1, 2):
            h, sigma = 2.5, 0.3

            def dens(u, kernel=kernel, code=code, h=h, sigma=sigma):
                # density in m times dm/du, with m = exp(u)
                m = np.exp(u)
                return m * np.exp(-_nllh_of_measurement(kernel, np.array([h]), np.array([m]),
                                                        np.array([sigma]), code)[0])

            width = 80.0 * sigma * LN10  # the tails beyond hold < exp(-80)
            lo, _ = quad(dens, np.log(h) - width, np.log(h), limit=200, epsrel=1e-11)
            hi, _ = quad(dens, np.log(h), np.log(h) + width, limit=200, epsrel=1e-11)
            total = lo + hi
            assert total == pytest.approx(1.0, rel=1e-7)


def test_transform_values_and_derivative(positive_points):
    h, _, _ = positive_points
    for code, fun in ((0, lambda v: v), (1, np.log), (2, np.log10)):
        codes = np.full(h.shape, code)
        z, dz = transform(h, codes)
        np.testing.assert_allclose(z, fun(h), rtol=RTOL, atol=0)
        step = 1e-6 * h
        fd = (fun(h + step) - fun(h - step)) / (2 * step)
        np.testing.assert_allclose(dz, fd, rtol=1e-7, atol=0)


def test_transform_rejects_non_positive_under_log():
    v = np.array([-1.0, 0.0, 2.0])
    for code in (1, 2):
        z, _ = transform(v, np.full(3, code))
        assert np.isnan(z[0]) and not np.isfinite(z[1]) and np.isfinite(z[2])
    z, _ = transform(v, np.zeros(3, dtype=int))
    np.testing.assert_array_equal(z, v)


# ------------------------------------------------------------------ derivatives
def _central(f, x, step):
    return (f(x + step) - f(x - step)) / (2.0 * step)


@pytest.mark.parametrize("kernel", [normal, laplace], ids=["normal", "laplace"])
def test_kernel_derivatives_match_central_differences(kernel, points):
    z, zm, sigma = points
    if kernel is laplace:
        # Stay away from the kink at z == zm, where only a subgradient exists.
        keep = np.abs(z - zm) > 1e-3
        z, zm, sigma = z[keep], zm[keep], sigma[keep]
        assert z.size > 0.9 * N
    _, d_dz, d_ds = kernel(z, zm, sigma)
    hz = 1e-6 * np.maximum(1.0, np.abs(z))
    fd_z = _central(lambda v: kernel(v, zm, sigma)[0], z, hz)
    hs = 1e-6 * sigma
    fd_s = _central(lambda s: kernel(z, zm, s)[0], sigma, hs)
    scale_z = np.abs(fd_z) + 1.0 / sigma
    scale_s = np.abs(fd_s) + 1.0 / sigma
    assert np.max(np.abs(d_dz - fd_z) / scale_z) < 1e-7
    assert np.max(np.abs(d_ds - fd_s) / scale_s) < 1e-7


@pytest.mark.parametrize("kernel", [normal, laplace], ids=["normal", "laplace"])
@pytest.mark.parametrize("code", [0, 1, 2], ids=["lin", "log", "log10"])
def test_chain_through_transform_matches_central_differences(kernel, code,
                                                             positive_points):
    """d nllh / d h = d_dz * dz/dh, against differences of the full nllh in h."""
    h, m, sigma = positive_points
    if kernel is laplace:
        keep = np.abs(np.log(h / m)) > 1e-4
        h, m, sigma = h[keep], m[keep], sigma[keep]
    codes = np.full(h.shape, code)
    z, dz_dh = transform(h, codes)
    zm, _ = transform(m, codes)
    _, d_dz, _ = kernel(z, zm, sigma)
    step = 1e-7 * h
    fd = _central(lambda v: _nllh_of_measurement(kernel, v, m, sigma, code), h, step)
    got = d_dz * dz_dh
    np.testing.assert_allclose(got, fd, rtol=2e-6, atol=1e-8 * np.max(np.abs(fd)))


def test_laplace_subgradient_at_kink_is_zero():
    z = np.array([1.0, -2.0])
    _, d_dz, d_ds = laplace(z, z.copy(), np.array([0.5, 2.0]))
    np.testing.assert_array_equal(d_dz, 0.0)
    np.testing.assert_allclose(d_ds, [1 / 0.5, 1 / 2.0], rtol=RTOL)
