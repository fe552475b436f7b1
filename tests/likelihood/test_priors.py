"""Objective prior densities against scipy.stats, derivatives against differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bngfit.likelihood import _priors as densities

# (function, a, b, scipy frozen distribution of the same density, points)
CASES = [
    (densities.uniform, -1.0, 3.0, stats.uniform(loc=-1.0, scale=4.0), [-0.5, 0.0, 2.9]),
    (densities.normal, 0.3, 0.7, stats.norm(loc=0.3, scale=0.7), [-1.2, 0.3, 2.0]),
    (densities.laplace, -0.4, 1.5, stats.laplace(loc=-0.4, scale=1.5), [-3.0, 0.1, 4.0]),
    (densities.log_normal, 0.2, 0.9, stats.lognorm(s=0.9, scale=np.exp(0.2)),
     [0.05, 1.0, 7.5]),
    (densities.log_laplace, -0.3, 0.6, stats.loglaplace(c=1 / 0.6, scale=np.exp(-0.3)),
     [0.1, 0.9, 5.0]),
]


@pytest.mark.parametrize("fn,a,b,dist,points", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_negative_log_density_is_scipys(fn, a, b, dist, points):
    v = np.array(points, float)
    value, deriv = fn(v, a, b)
    np.testing.assert_allclose(value, -dist.logpdf(v), rtol=1e-13, atol=1e-13)
    h = 1e-6
    fd = (fn(v + h, a, b)[0] - fn(v - h, a, b)[0]) / (2 * h)
    np.testing.assert_allclose(deriv, fd, rtol=1e-7, atol=1e-9)


def test_outside_the_support_there_is_no_density():
    assert np.isinf(densities.uniform(np.array([3.5]), -1.0, 3.0)[0][0])
    assert np.isinf(densities.log_normal(np.array([0.0]), 0.0, 1.0)[0][0])
    assert np.isinf(densities.log_laplace(np.array([-1.0]), 0.0, 1.0)[0][0])
