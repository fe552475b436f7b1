"""Noise families with a shape parameter: Student-t and negative binomial.

Kernels against scipy.stats at rtol 1e-10 and their derivatives against central
differences; then the objective on a model with a closed-form solution, with
the shape parameter fixed or estimated, against scipy and finite differences.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

import bngfit
from bngfit.likelihood._noise import neg_binomial, student_t
from bngfit.problem._problem import NoiseFamily
from tests.helpers import central_grad, conversion_a, conversion_model

RNG = np.random.default_rng(7)


def _fd(fun, args, k, h=1e-5):
    up = list(args)
    dn = list(args)
    up[k] = args[k] + h
    dn[k] = args[k] - h
    return (fun(*up)[0] - fun(*dn)[0]) / (2 * h)


def test_student_t_matches_scipy_and_finite_differences():
    n = 400
    z = RNG.normal(0, 3, n)
    zm = z + RNG.standard_t(3, n) * 2
    sigma = RNG.uniform(0.2, 3, n)
    nu = RNG.uniform(0.5, 30, n)
    nllh, dz, ds, dnu = student_t(z, zm, sigma, nu)
    np.testing.assert_allclose(nllh, -stats.t.logpdf(zm, df=nu, loc=z, scale=sigma),
                               rtol=1e-10)
    args = (z, zm, sigma, nu)
    for k, d in ((0, dz), (2, ds), (3, dnu)):
        np.testing.assert_allclose(d, _fd(student_t, args, k), rtol=1e-6, atol=1e-7)


def test_neg_binomial_matches_scipy_and_finite_differences():
    n = 400
    mean = RNG.uniform(0.5, 80, n)
    r = RNG.uniform(0.3, 50, n)
    m = stats.nbinom.rvs(r, r / (r + mean), random_state=RNG).astype(float)
    nllh, dz, ds, dr = neg_binomial(mean, m, np.ones(n), r)
    np.testing.assert_allclose(nllh, -stats.nbinom.logpmf(m, r, r / (r + mean)), rtol=1e-10)
    assert not ds.any()
    args = (mean, m, np.ones(n), r)
    for k, d in ((0, dz), (3, dr)):
        np.testing.assert_allclose(d, _fd(neg_binomial, args, k), rtol=1e-6, atol=1e-7)


MODEL = conversion_model(a0=40, k1=0.5, k2=0.3, compartment=False)
TIMES = [0.5, 1.0, 2.0, 3.0, 5.0, 8.0]
COUNTS = [33.0, 27.0, 21.0, 18.0, 17.0, 14.0]


def _problem(problem_writer, family: NoiseFamily, shape, extra_params=()):
    params = [{"parameterId": p, "parameterScale": "log10", "lowerBound": 1e-3,
               "upperBound": 1e3, "nominalValue": v, "estimate": 1}
              for p, v in (("k1", 0.5), ("k2", 0.3), *extra_params)]
    path = problem_writer(
        f"fam_{family.value}_{shape}", model=MODEL, parameters=params,
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "2.5"}],
        measurements=[{"observableId": "obs_A", "simulationConditionId": "c0", "time": t,
                       "measurement": m} for t, m in zip(TIMES, COUNTS, strict=True)])
    problem = bngfit.load_problem(path)
    obs = dataclasses.replace(problem.observables["obs_A"], family=family, shape=shape)
    return dataclasses.replace(problem, observables={"obs_A": obs})


@pytest.mark.parametrize(
    ("family", "shape", "extra"),
    [(NoiseFamily.STUDENT_T, 4.0, ()),
     (NoiseFamily.STUDENT_T, "nu", (("nu", 3.0),)),
     (NoiseFamily.NEG_BINOMIAL, 12.0, ()),
     (NoiseFamily.NEG_BINOMIAL, "r", (("r", 8.0),))],
    ids=["t-fixed", "t-estimated", "nb-fixed", "nb-estimated"],
)
def test_objective_with_shape_families(problem_writer, family, shape, extra):
    problem = _problem(problem_writer, family, shape, extra)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-12)
    k1, k2 = 0.6, 0.35
    x = np.log10([k1, k2, *(v * 1.3 for _, v in extra)])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    a = conversion_a(TIMES, k1, k2, a0=40.0)
    k = 10 ** x[2] if extra else shape
    if family is NoiseFamily.STUDENT_T:
        expected = -np.sum(stats.t.logpdf(COUNTS, df=k, loc=a, scale=2.5))
    else:
        expected = -np.sum(stats.nbinom.logpmf(COUNTS, k, k / (k + a)))
    assert ev.fval == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x, h=1e-6), rtol=1e-6, atol=1e-8)
    assert ev.res is None  # no residual form


def test_negative_binomial_mean_must_be_positive(problem_writer):
    problem = _problem(problem_writer, NoiseFamily.NEG_BINOMIAL, -1.0)
    ev = bngfit.Objective(problem)(np.log10([0.5, 0.3]))
    assert not ev.ok and "not finite" in ev.message
