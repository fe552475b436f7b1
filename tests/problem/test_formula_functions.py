"""Every PEtab v1 math function in a formula: a value and an exact gradient, never a crash.

Each function is put into an observable (or noise) formula of a small problem
and the objective's gradient is compared with central differences of its
value computed here, at a point away from kinks. At kinks the gradient must
be finite and a valid subgradient: between the one-sided differences. A
division by zero or a log of zero is an invalid evaluation with a message,
never an exception. (PEtab v1's grammar has no floor or ceil: libpetab refuses
them as unknown functions, which bngfit reports as a parse error.)
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.optimize._local import STATIONARY_RTOL, OptimizerName, minimize, projected_gradient
from bngfit.result._types import StartStatus
from tests.helpers import conversion_model, write_problem

TIMES = (0.5, 1.0, 2.0, 4.0)
# With k1 = 0.8, k2 = 0.6: A(t) falls from 0.71 to 0.43 over TIMES, B = 1 - A.
P, Q = 0.7, 0.35
RTOL, ATOL = 1e-11, 1e-13


def _problem(folder, formula, noise="0.1", p=P, p_bounds=(-5, 5)):
    pars = [{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 0.01,
             "upperBound": 10, "nominalValue": 0.8, "estimate": 1},
            {"parameterId": "p", "parameterScale": "lin", "lowerBound": p_bounds[0],
             "upperBound": p_bounds[1], "nominalValue": p, "estimate": 1},
            {"parameterId": "q", "parameterScale": "lin", "lowerBound": -5, "upperBound": 5,
             "nominalValue": Q, "estimate": 1}]
    meas = [{"observableId": "o", "simulationConditionId": "c0", "time": t,
             "measurement": m} for t, m in zip(TIMES, (0.61, 0.47, 0.52, 0.38), strict=True)]
    y = write_problem(folder, model=conversion_model(), parameters=pars,
                      observables=[{"observableId": "o", "observableFormula": formula,
                                    "noiseFormula": noise}], measurements=meas)
    return bngfit.Objective(bngfit.load_problem(y), rtol=RTOL, atol=ATOL)


def _point(p=P, q=Q):
    return np.array([np.log10(0.8), p, q])


def _central(obj, x, h=1e-5):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (obj(x + e).fval - obj(x - e).fval) / (2 * h)
    return g


def _one_sided(obj, x, i, h=1e-6):
    e = np.zeros_like(x)
    e[i] = h
    f0 = obj(x).fval
    return (f0 - obj(x - e).fval) / h, (obj(x + e).fval - f0) / h


# Observable formulas, away from kinks and inside every function's domain at
# the point (p*A in (0.30, 0.50), p - B > 0, ...).
OBSERVABLE_FORMULAS = [
    "abs(p - B) * A", "sign(p - B) * A + q * B", "min(p * A, q)", "max(p * A, q)",
    "min(q, p * A) + max(q * B, 0.1)",
    "piecewise(p * A, p * A > q, q * B)",
    "piecewise(A, B < q && p > 0.5, p * B, !(p < 0.5) || q > 1, q * A)",
    "piecewise(p * A, q, B)",  # a number as the condition: true where nonzero
    "exp(p * B)", "log(p + B)", "log(p + A, q + 2)", "log10(p * A)", "log2(p * A)",
    "ln(q + B)", "sqrt(p * A)", "pow(A, p)", "A^p", "(q + B)^(p * A)",
    "sin(p * A)", "cos(p * A)", "tan(p * A)", "sec(p * A)", "csc(p * A)", "cot(p * A)",
    "sinh(p * A)", "cosh(p * A)", "tanh(p * A)", "sech(p * A)", "csch(p * A)",
    "coth(p * A)", "arcsin(p * A)", "arccos(p * A)", "arctan(p * A)",
    "arcsec(1 + p * A)", "arccsc(1 + p * A)", "arccot(p * A)", "arcsinh(p * A)",
    "arccosh(1 + p * A)", "arctanh(p * A)", "arcsech(p * A)", "arccsch(p * A)",
    "arccoth(1 + p * A)",
]
NOISE_FORMULAS = [
    "0.05 + abs(q - B)", "0.05 + max(q * A, p * B)", "0.05 + min(q, p * A)",
    "piecewise(0.1, B < q, 0.2 * p)", "0.05 + 0.1 * abs(sin(p * B)) * sign(q)",
]


def _check_gradient(obj, x):
    ev = obj(x)
    assert ev.ok, ev.message
    fd = _central(obj, x)
    np.testing.assert_allclose(ev.grad, fd, rtol=2e-5, atol=1e-6 * (1 + np.abs(fd).max()))
    return ev


@pytest.mark.parametrize("formula", OBSERVABLE_FORMULAS)
def test_observable_formula_gradient(tmp_path, formula):
    obj = _problem(tmp_path, formula)
    ev = _check_gradient(obj, _point())
    assert np.any(ev.grad[1:] != 0)  # the formula's own parameters move the objective


@pytest.mark.parametrize("noise", NOISE_FORMULAS)
def test_noise_formula_gradient(tmp_path, noise):
    obj = _problem(tmp_path, "p * A + q * B", noise=noise)
    _check_gradient(obj, _point())


# At a kink of the formula in p (p = 0.7): finite, between the one-sided differences.
KINKS = [
    ("abs(p - 0.7) * A + B", P), ("abs(p) * A + B", 0.0),
    ("max(p, 0.7) * A", P), ("max(0.7, p) * A", P), ("min(p, 0.7) * A", P),
    ("min(0.7, p) * A", P), ("piecewise(p * A, p < 0.7, 0.7 * A)", P),
    ("piecewise(p * A, p >= 0.7, 0.7 * A)", P),
]


@pytest.mark.parametrize(("formula", "p"), KINKS)
def test_subgradient_at_a_kink(tmp_path, formula, p):
    obj = _problem(tmp_path, formula, p=p)
    x = _point(p=p)
    ev = obj(x)
    assert ev.ok, ev.message
    assert np.isfinite(ev.grad).all()
    left, right = _one_sided(obj, x, 1)
    assert abs(left - right) > 1e-3  # the point really is a kink of the objective
    slack = 1e-4 * (1 + abs(left) + abs(right))
    assert min(left, right) - slack <= ev.grad[1] <= max(left, right) + slack


def test_sign_at_zero_has_a_zero_derivative(tmp_path):
    obj = _problem(tmp_path, "sign(p - 0.7) * A + A", p=P)
    ev = obj(_point())
    assert ev.ok and np.isfinite(ev.grad).all() and ev.grad[1] == 0.0


# ------------------------------------------------ division by zero, log of zero
@pytest.mark.parametrize(("formula", "noise", "p"), [
    ("A / p", "0.1", 0.0), ("A * p^(-1)", "0.1", 0.0), ("log(p) + A", "0.1", 0.0),
    ("ln(p) * A", "0.1", 0.0), ("log10(p) + A", "0.1", 0.0), ("log(p) + A", "0.1", -0.5),
    ("sqrt(p) + A", "0.1", -0.5), ("A", "1 / p", 0.0), ("A", "p", 0.0),
    ("A", "log(p)", 0.0), ("q / (p - 0.7) + A", "0.1", P),
])
def test_a_zero_division_is_an_invalid_evaluation(tmp_path, formula, noise, p):
    obj = _problem(tmp_path, formula, noise=noise, p=p)
    for sensi in (1, 0):
        obj.clear_cache()
        ev = obj(_point(p=p), sensi=sensi)
        assert not ev.ok
        assert ev.status in ("invalid_value", "invalid_gradient")
        assert "'o'" in ev.message or "'p'" in ev.message
        assert ev.message


def test_the_optimizer_steps_back_from_a_log_of_a_negative_number(tmp_path):
    # h = A * log(p); the data are near p = 1.5; p in [-1, 2]: L-BFGS-B's first
    # step toward the lower bound leaves log's domain
    obj = _problem(tmp_path, "A * log(p) + q", p=1.5, p_bounds=(-1, 2))
    lb, ub = np.array([-2.0, -1.0, -5.0]), np.array([1.0, 2.0, 5.0])
    for optimizer in OptimizerName:
        obj.clear_cache()
        local, f = minimize(obj, np.array([np.log10(0.8), 1.9, 0.0]), lb, ub, optimizer)
        end = f.best
        assert end is not None and end.ok and end.x[1] > 0
        pg = np.abs(projected_gradient(end.x, end.grad, lb, ub)).max()
        if local.status is StartStatus.CONVERGED:
            assert pg <= STATIONARY_RTOL * (1 + abs(end.fval))


def test_floor_is_no_petab_v1_function(tmp_path):
    with pytest.raises(InputError, match="floor"):
        _problem(tmp_path, "floor(A)")
