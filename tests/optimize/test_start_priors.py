"""Start points drawn from PEtab initialization priors: the distributions, truncated to the bounds.

Expected distributions come from scipy.stats (Kolmogorov-Smirnov tests).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bngfit.optimize._multistart import sample_starts
from bngfit.problem._priors import InitPrior
from bngfit.problem._scales import Scale

LN10 = np.log(10.0)


def _draw(prior, scale, lb=-10.0, ub=10.0, n=4000, method="uniform"):
    x = sample_starts(np.array([lb]), np.array([ub]), n, np.random.default_rng(5), method,
                      [prior], [scale])
    return x[:, 0]


@pytest.mark.parametrize("method", ["uniform", "lhs"])
def test_scale_normal_draws(method):
    x = _draw((InitPrior.PS_NORMAL, 0.5, 0.2), Scale.LOG10, method=method)
    assert stats.kstest(x, stats.norm(0.5, 0.2).cdf).pvalue > 1e-3


def test_log_normal_draws_on_a_log10_parameter():
    # native = exp(N(mu, sd)): log10 of it is N(mu / ln10, sd / ln10)
    x = _draw((InitPrior.LOG_NORMAL, -1.0, 0.3), Scale.LOG10)
    assert stats.kstest(x, stats.norm(-1.0 / LN10, 0.3 / LN10).cdf).pvalue > 1e-3


def test_native_uniform_on_a_log_parameter():
    x = _draw((InitPrior.UNIFORM, 1.0, 100.0), Scale.LOG10, lb=-3, ub=3)
    assert stats.kstest(10**x, stats.uniform(1.0, 99.0).cdf).pvalue > 1e-3


def test_priors_are_truncated_to_the_bounds():
    # no mass inside the bounds: every start at the bound nearer the prior
    x = _draw((InitPrior.PS_NORMAL, 50.0, 1.0), Scale.LIN, lb=0.0, ub=1.0, n=50)
    assert (x == 1.0).all()
    # a native normal on a log10 parameter in [0.01, 100]: the truncated normal
    x = _draw((InitPrior.NORMAL, 0.5, 1.0), Scale.LOG10, lb=-2.0, ub=2.0)
    assert (x >= -2.0).all() and (x <= 2.0).all()
    expected = stats.truncnorm((0.01 - 0.5) / 1.0, (100 - 0.5) / 1.0, loc=0.5, scale=1.0)
    assert stats.kstest(10**x, expected.cdf).pvalue > 1e-3
