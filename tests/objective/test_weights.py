"""Per-point weights in the data's likelihood (bootstrap resamples).

Oracles, none from the code under test: integer weights are the data set with
point ``i`` written ``w_i`` times, so the weighted value, gradient and chi2 equal
those of an unweighted objective on the repeated table; gradients and residual
Jacobians against central differences; the closed forms of a constant model (the
weighted mean) and of the closed-form noise scale (the weighted root mean square).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import bngfit
from bngfit.errors import InputError
from bngfit.objective._hierarchical import ProfiledObjective, noise_profile
from tests.catalogue import BUILDERS
from tests.helpers import (
    ATOL_SOLVER,
    RTOL_SOLVER,
    assert_close,
    central_grad,
    central_res_jac,
    par,
    random_point,
    write_problem,
)

# fused Gaussian path with sigma rows; one log transform; the general path with
# mixed transforms? (log10), Laplace noise (no residuals)
CASES = ["noise_parameters", "transform_log", "transform_log10", "laplace_lin", "replicates"]


def repeated(problem, w):
    """The problem with measurement ``i`` written ``w[i]`` times (integer weights)."""
    m = problem.measurements
    idx = np.repeat(np.arange(len(m)), np.asarray(w, int))

    def take(seq):
        return tuple(seq[i] for i in idx.tolist())

    meas = dataclasses.replace(
        m, observable=take(m.observable), preeq=take(m.preeq), condition=take(m.condition),
        time=m.time[idx], value=m.value[idx], observable_params=take(m.observable_params),
        noise_params=take(m.noise_params), rows=take(m.rows),
        dataset_id=take(m.dataset_id) if m.dataset_id else ())
    return dataclasses.replace(problem, measurements=meas)


def weights_with_zeros_and_twos(n, rng):
    w = rng.integers(0, 4, size=n).astype(float)
    w[0], w[1 % n] = 0.0, 2.0  # always a dropped point and a doubled one
    if n > 2:
        w[2] = 1.0
    return w


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    out = {}
    for name in CASES:
        rng = np.random.default_rng(sum(map(ord, name)))
        path, _ = BUILDERS[name](lambda n, **kw: write_problem(root / n, **kw), name, rng)
        problem = bngfit.load_problem(path)
        w = weights_with_zeros_and_twos(len(problem.measurements), rng)
        obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER, weights=w)
        out[name] = (problem, obj, w, random_point(problem, rng))
    return out


@pytest.mark.parametrize("name", CASES)
def test_integer_weights_are_the_repeated_data_set(name, cases):
    problem, obj, w, x = cases[name]
    rep = bngfit.Objective(repeated(problem, w), rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
    ev, ref = obj(x, sensi=1), rep(x, sensi=1)
    assert ev.ok and ref.ok, (ev.message, ref.message)
    # (to solver accuracy: the repeated table's output grid has repeated times)
    assert ev.fval == pytest.approx(ref.fval, rel=1e-10)
    assert ev.chi2 == pytest.approx(ref.chi2, rel=1e-10)
    np.testing.assert_allclose(ev.grad, ref.grad, rtol=1e-8, atol=1e-10)
    if obj.has_residuals:  # same sum of squares, fewer rows
        assert 0.5 * ev.res @ ev.res == pytest.approx(0.5 * ref.res @ ref.res, rel=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_weighted_gradient_matches_finite_differences(name, cases):
    _, obj, _, x = cases[name]
    ev = obj(x, sensi=1)
    assert_close(ev.grad, central_grad(obj, x), obj.x_names, f"{name}: weighted grad vs FD")


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("laplace")])
def test_weighted_residual_jacobian_matches_finite_differences(name, cases):
    _, obj, w, x = cases[name]
    ev = obj(x, sensi=1)
    assert obj.has_residuals
    assert_close(ev.sres, central_res_jac(obj, x), obj.x_names, f"{name}: sres vs FD")
    assert_close(ev.grad, ev.sres.T @ ev.res, obj.x_names, f"{name}: grad vs sres.T res",
                 rtol=1e-9)
    n = len(w)
    assert np.all(ev.res[:n][w == 0] == 0) and np.all(ev.sres[:n][w == 0] == 0)
    # 0.5 ||res||^2 - fval is one constant: the residuals carry the whole value
    x2 = x + 0.05
    ev2 = obj(x2, sensi=0)
    assert 0.5 * ev.res @ ev.res - ev.fval == pytest.approx(
        0.5 * ev2.res @ ev2.res - ev2.fval, rel=1e-10)


def test_unit_weights_change_nothing(cases):
    problem, obj, _, x = cases["noise_parameters"]
    plain = obj.reweighted(None)(x, sensi=1)
    ones = obj.reweighted(np.ones(len(problem.measurements)))(x, sensi=1)
    assert ones.fval == pytest.approx(plain.fval, rel=1e-14)
    np.testing.assert_allclose(ones.grad, plain.grad, rtol=1e-13)
    np.testing.assert_allclose(ones.sres, plain.sres, rtol=1e-13)


def test_a_weight_zero_point_is_not_checked(cases):
    # a point of weight 0 may have no value (log of a negative simulation): unused
    problem, _, _, x = cases["transform_log"]
    n = len(problem.measurements)
    m = problem.measurements
    bad = dataclasses.replace(m, value=np.where(np.arange(n) == 0, -1.0, m.value))
    obj = bngfit.Objective(dataclasses.replace(problem, measurements=bad),
                           weights=np.r_[0.0, np.ones(n - 1)])
    assert obj(x, sensi=1).ok


# --------------------------------------------------- closed-form noise scale
def test_closed_form_scale_is_the_weighted_root_mean_square(cases):
    problem, obj, w, x = cases["noise_parameters"]
    prof = noise_profile(obj)
    assert prof is not None
    red = ProfiledObjective(obj, prof)
    ev = red(x[prof.keep], sensi=1)
    assert ev.ok, ev.message
    full = ev.full
    for k, rows in enumerate(prof.rows):
        e = full.simulation[rows] - problem.measurements.value[rows]
        want = np.sqrt(np.sum(w[rows] * e**2) / np.sum(w[rows]))
        xk = full.x[prof.index[k]]
        assert (xk if prof.codes[k] == 0 else 10**xk) == pytest.approx(want, rel=1e-12)
    xr = x[prof.keep]
    assert_close(ev.grad, central_grad(red, xr), red.x_names, "weighted reduced grad vs FD")
    assert_close(ev.sres, central_res_jac(red, xr), red.x_names, "weighted reduced sres vs FD")


# ------------------------------------------- constant model: weighted mean
CONSTANT = "model konst\n  species X; X = 0;\n  mu = 1;\nend\n"


@pytest.mark.parametrize("family", ["normal", "laplace"])
def test_constant_model_optimum_is_the_weighted_mean_or_median(tmp_path, family):
    values = [0.3, 1.1, 2.0, 4.5, 0.7, 1.6]
    meas = [{"observableId": "y", "simulationConditionId": "c0", "time": float(i + 1),
             "measurement": v} for i, v in enumerate(values)]
    path = write_problem(
        tmp_path, model=CONSTANT, parameters=[par("mu", 1.0, "lin", lb=-10, ub=10)],
        observables=[{"observableId": "y", "observableFormula": "mu", "noiseFormula": 0.5,
                      "noiseDistribution": family}], measurements=meas)
    problem = bngfit.load_problem(path)
    w = np.array([0.0, 2.0, 1.0, 0.0, 2.0, 1.0])
    obj = bngfit.Objective(problem, weights=w)
    best = minimize_scalar(lambda m: obj([m], sensi=0).fval, bounds=(-10, 10),
                           method="bounded", options={"xatol": 1e-10})
    v = np.array(values)
    if family == "normal":
        want = np.sum(w * v) / np.sum(w)  # d/dmu sum w (mu - v)^2 = 0
    else:  # the weighted median: 1.1 x2, 2.0, 0.7 x2, 1.6 -> sorted 0.7 0.7 1.1 1.1 1.6 2.0
        want = 1.1
    assert best.x == pytest.approx(want, abs=1e-6)
    if family == "normal":
        assert obj([want], sensi=1).grad[0] == pytest.approx(0.0, abs=1e-9)
        # the value itself: sum w (0.5 log(2 pi 0.25) + 0.5 ((mu - v)/0.5)^2)
        fval = np.sum(w * (0.5 * np.log(2 * np.pi * 0.25) + 0.5 * ((want - v) / 0.5) ** 2))
        assert obj([want], sensi=0).fval == pytest.approx(fval, rel=1e-12)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(("w", "text"), [
    ([1.0, 2.0], "one entry per measurement"),
    (None, "finite and >= 0"),
    ("zeros", "at least one weight"),
])
def test_bad_weights_are_refused(cases, w, text):
    problem, obj, _, _ = cases["noise_parameters"]
    n = len(problem.measurements)
    if w is None:
        w = np.ones(n)
        w[3] = -1.0
    elif w == "zeros":
        w = np.zeros(n)
    with pytest.raises(InputError, match=text):
        obj.reweighted(w)
