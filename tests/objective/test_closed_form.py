"""The conversion reaction A <-> B against its closed-form solution.

A(t) = A0 (k2 + k1 exp(-(k1+k2) t)) / (k1+k2),  B(t) = A0 - A(t)  (B(0) = 0).

The objective value, residuals, residual Jacobian and gradient are computed
here from this solution (derivatives by sympy, on log10-scale parameters, so
the scale chain d theta / d x = theta ln 10 is checked too) and compared with
bngfit's Evaluation.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import bngfit
from tests.helpers import conversion_model

MODEL = conversion_model(a0_param=True)  # A(0) = A0 = 1, k1 = 0.8, k2 = 0.6

TIMES = (0.0, 0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 8.0)
SIGMA_A = 0.1
RTOL = 1e-7

# Closed form and its derivatives with respect to the native parameters.
_t, _k1, _k2, _a0, _s, _sig = sp.symbols("t k1 k2 A0 scale_B sigma_B", positive=True)
_A = _a0 * (_k2 + _k1 * sp.exp(-(_k1 + _k2) * _t)) / (_k1 + _k2)
_OBS = {"obs_A": _A, "obs_B": _s * (_a0 - _A)}
_ARGS = (_t, _k1, _k2, _a0, _s)
_NAMES = ("k1", "k2", "A0", "scale_B")
_H = {o: sp.lambdify(_ARGS, e, "numpy") for o, e in _OBS.items()}
_DH = {o: {n: sp.lambdify(_ARGS, sp.diff(e, sym), "numpy")
           for n, sym in zip(_NAMES, (_k1, _k2, _a0, _s), strict=True)}
       for o, e in _OBS.items()}


def _par(pid, nominal, estimate=1):
    return {"parameterId": pid, "parameterScale": "log10", "lowerBound": nominal / 100,
            "upperBound": nominal * 100, "nominalValue": nominal, "estimate": estimate}


VARIANTS = {
    # A0 estimated, one condition, fixed sigmas.
    "A0_estimated": dict(
        free=("k1", "k2", "A0", "scale_B"), doses={"c0": None}, sigma_b=0.2),
    # A0 fixed per condition by the condition table.
    "A0_fixed": dict(free=("k1", "k2", "scale_B"), doses={"low": 1.0, "high": 3.0},
                     sigma_b=0.2),
    # k2 fixed by the parameter table at a value other than the model's default.
    "k2_fixed_by_table": dict(free=("k1", "A0", "scale_B"), doses={"c0": None},
                              sigma_b=0.2, k2_fixed=0.45),
    # A0 estimated and sigma_B estimated too (log-sigma term in fval and gradient).
    "sigma_estimated": dict(free=("k1", "k2", "A0", "scale_B", "sigma_B"),
                            doses={"c0": None}, sigma_b=None),
}


@pytest.fixture(params=list(VARIANTS))
def setup(request, problem_writer):
    name = request.param
    v = VARIANTS[name]
    rng = np.random.default_rng(20240611 + len(name))
    k2 = v.get("k2_fixed")
    params = [_par("k1", 0.8), _par("k2", 0.6) if k2 is None else _par("k2", k2, 0),
              _par("scale_B", 2.0)]
    if "A0" in v["free"]:
        params.append(_par("A0", 1.0))
    if v["sigma_b"] is None:
        params.append(_par("sigma_B", 0.15))
    conds = [{"conditionId": c, **({} if d is None else {"A0": d})}
             for c, d in v["doses"].items()]
    meas = []
    for c in v["doses"]:
        for o in ("obs_A", "obs_B"):
            for t in TIMES:
                meas.append({"observableId": o, "simulationConditionId": c, "time": t,
                             "measurement": round(float(rng.uniform(0.0, 2.0)), 6)})
    y = problem_writer(
        name, model=MODEL, parameters=params, conditions=conds, measurements=meas,
        observables=[
            {"observableId": "obs_A", "observableFormula": "A", "noiseFormula": SIGMA_A},
            {"observableId": "obs_B", "observableFormula": "scale_B * B",
             "noiseFormula": v["sigma_b"] if v["sigma_b"] is not None else "sigma_B"},
        ],
    )
    problem = bngfit.load_problem(y)
    assert problem.x_names == [p["parameterId"] for p in params if p["estimate"]]
    # A random point away from the data's optimum, in log10 space.
    x = problem.x_nominal + rng.uniform(-0.3, 0.3, len(problem.x_names))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    return name, v, problem, obj, x


def _expected(v, problem, x):
    """fval, grad, res (data part), sres (data part) from the closed form."""
    names = problem.x_names
    theta = {"k2": v.get("k2_fixed"), **dict(zip(names, 10.0 ** x, strict=True))}
    meas = problem.measurements
    n, nx = len(meas), len(names)
    res = np.empty(n)
    jac_native = np.zeros((n, nx))  # d h / d theta
    sig = np.empty(n)
    dsig = np.zeros((n, nx))
    for i in range(n):
        o, t, cond = meas.observable[i], meas.time[i], meas.condition[i]
        dose = v["doses"][cond]
        a0 = theta["A0"] if dose is None else dose
        args = (t, theta["k1"], theta["k2"], a0, theta["scale_B"])
        h = _H[o](*args)
        if o == "obs_A":
            sig[i] = SIGMA_A
        elif v["sigma_b"] is not None:
            sig[i] = v["sigma_b"]
        else:
            sig[i] = theta["sigma_B"]
            dsig[i, names.index("sigma_B")] = 1.0
        res[i] = (h - meas.value[i]) / sig[i]
        for j, pid in enumerate(names):
            if pid in _DH[o] and not (pid == "A0" and dose is not None):
                jac_native[i, j] = _DH[o][pid](*args)
    chain = 10.0 ** x * np.log(10.0)  # d theta / d x on log10 scale
    fval = float(np.sum(0.5 * np.log(2 * np.pi * sig**2) + 0.5 * res**2))
    # d fval / d theta = sum_i res_i/sig_i dh_i + (1 - res_i^2)/sig_i dsig_i
    g_native = (res / sig) @ jac_native + ((1.0 - res**2) / sig) @ dsig
    sres = ((jac_native - res[:, None] * dsig) / sig[:, None]) * chain[None, :]
    return fval, g_native * chain, res, sres


def test_closed_form_value_gradient_residuals(setup):
    name, v, problem, obj, x = setup
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    fval, grad, res, sres = _expected(v, problem, x)
    n = len(problem.measurements)
    assert ev.fval == pytest.approx(fval, rel=RTOL)
    np.testing.assert_allclose(ev.grad, grad, rtol=RTOL, atol=RTOL * np.max(np.abs(grad)))
    np.testing.assert_allclose(ev.res[:n], res, rtol=RTOL, atol=RTOL * np.max(np.abs(res)))
    np.testing.assert_allclose(ev.sres[:n], sres, rtol=RTOL,
                               atol=RTOL * np.max(np.abs(sres)))
    assert ev.chi2 == pytest.approx(float(np.sum(res**2)), rel=RTOL)
    if v["sigma_b"] is not None:
        # Fixed sigma: the residuals are the data residuals only.
        assert ev.res.shape == (n,) and ev.sres.shape == (n, len(x))
    else:
        # Estimated sigma: one extra residual per data point whose sigma varies.
        n_sig = sum(o == "obs_B" for o in problem.measurements.observable)
        assert ev.res.shape == (n + n_sig,)
    # Value-only evaluation agrees with the sensitivity run.
    obj2 = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    ev0 = obj2(x, sensi=0)
    assert ev0.grad is None
    assert ev0.fval == pytest.approx(fval, rel=RTOL)


def test_closed_form_simulation(setup):
    """ev.simulation is the closed form at every measurement."""
    _, v, problem, obj, x = setup
    ev = obj(x, sensi=1)
    theta = {"k2": v.get("k2_fixed"), **dict(zip(problem.x_names, 10.0 ** x, strict=True))}
    meas = problem.measurements
    for i in range(len(meas)):
        dose = v["doses"][meas.condition[i]]
        a0 = theta["A0"] if dose is None else dose
        h = _H[meas.observable[i]](meas.time[i], theta["k1"], theta["k2"], a0,
                                   theta["scale_B"])
        assert ev.simulation[i] == pytest.approx(h, rel=1e-8, abs=1e-12)


def test_residuals_read_after_pickling_match_closed_form(setup):
    """res/sres are built on first read; a pickled evaluation carries them."""
    import pickle

    _, v, problem, obj, x = setup
    obj.clear_cache()
    ev = pickle.loads(pickle.dumps(obj(x, sensi=1)))
    _, _, res, sres = _expected(v, problem, x)
    n = len(problem.measurements)
    np.testing.assert_allclose(ev.res[:n], res, rtol=RTOL, atol=RTOL * np.max(np.abs(res)))
    np.testing.assert_allclose(ev.sres[:n], sres, rtol=RTOL, atol=RTOL * np.max(np.abs(sres)))
    # Value only: residuals, no Jacobian.
    obj.clear_cache()
    ev0 = obj(x, sensi=0)
    assert ev0.sres is None
    np.testing.assert_allclose(ev0.res[:n], res, rtol=RTOL, atol=RTOL * np.max(np.abs(res)))
