"""Steady-state measurements (PEtab ``time = inf``) against the closed form and differences.

The model of the pre-equilibration tests (``helpers.PREEQ_MODEL``: production ``k0*u``,
``A <-> B``, degradation of B) has one steady state, ``x* = u * c(k)`` with ``c`` and
``dc/dk`` in closed form (``helpers._preeq_steady``), whatever the state it starts from.
Measured at ``time = inf`` under the main condition (``u = U_MAIN``): alone, mixed with a
time course in one condition, after a pre-equilibration, and with the condition setting a
species to a free parameter (which the steady state then does not depend on).
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from tests.helpers import (
    PREEQ_FREE,
    PREEQ_MODEL,
    PREEQ_SIGMA,
    PREEQ_THETA,
    PREEQ_TIMES,
    U_MAIN,
    U_PRE,
    _preeq_steady,
    central_grad,
    preeq_closed_form,
)

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def _problem(writer, name, *, preeq: bool, time_course: bool, reset_b: bool):
    rng = np.random.default_rng(sum(map(ord, name)))
    meas = []
    base = {"simulationConditionId": "main"}
    if preeq:
        base["preequilibrationConditionId"] = "pre"
    for obs in ("obs_A", "obs_B"):
        for _ in range(2):  # replicates at the steady state
            meas.append({**base, "observableId": obs, "time": "inf",
                         "measurement": round(float(rng.uniform(2, 12)), 6)})
        if time_course:
            for t in PREEQ_TIMES:
                meas.append({**base, "observableId": obs, "time": t,
                             "measurement": round(float(rng.uniform(1, 10)), 6)})
    conditions = [{"conditionId": "main", "u": U_MAIN, "B": "B_reset" if reset_b else None}]
    if preeq:
        conditions.append({"conditionId": "pre", "u": U_PRE, "B": None})
    path = writer(
        name, model=PREEQ_MODEL,
        parameters=[{"parameterId": k, "parameterScale": "log10", "lowerBound": v / 100,
                     "upperBound": v * 100, "nominalValue": v, "estimate": 1}
                    for k, v in PREEQ_THETA.items()],
        observables=[{"observableId": o, "observableFormula": s, "noiseFormula": PREEQ_SIGMA}
                     for o, s in (("obs_A", "A"), ("obs_B", "B"))],
        measurements=meas, conditions=conditions)
    return bngfit.load_problem(path)


def _expected(problem, x, *, preeq: bool, reset_b: bool):
    """fval and gradient (optimizer space) from the closed form."""
    names = problem.x_names
    p = dict(zip(names, 10.0**x, strict=True))
    cols = [PREEQ_FREE.index(n) for n in names]
    c, dc = _preeq_steady(p)
    course, dcourse = preeq_closed_form(p, reset_b) if preeq else (None, None)
    meas = problem.measurements
    h = np.empty(len(meas.value))
    dh = np.empty((len(meas.value), len(names)))
    for i in range(len(meas.value)):
        col = 0 if meas.observable[i] == "obs_A" else 1
        if np.isinf(meas.time[i]):
            h[i], dh[i] = U_MAIN * c[col], U_MAIN * dc[col][cols]
        else:
            k = PREEQ_TIMES.index(meas.time[i])
            h[i], dh[i] = course[k, col], dcourse[k, col][cols]
    r = (h - meas.value) / PREEQ_SIGMA
    fval = float(np.sum(0.5 * np.log(2 * np.pi * PREEQ_SIGMA**2) + 0.5 * r**2))
    return h, fval, (r / PREEQ_SIGMA) @ dh * (10.0**x * np.log(10.0))


@pytest.mark.parametrize("preeq,time_course,reset_b", [
    (False, False, False),  # steady state alone
    (False, False, True),   # the condition sets B to a free parameter first
    (True, False, False),   # after a pre-equilibration
    (True, True, False),    # mixed with a time course, after a pre-equilibration
    (True, True, True),     # ... with B reset at the start of the condition
])
def test_steady_state_measurements_match_the_closed_form(problem_writer, preeq, time_course,
                                                         reset_b):
    name = f"ss_{int(preeq)}{int(time_course)}{int(reset_b)}"
    problem = _problem(problem_writer, name, preeq=preeq, time_course=time_course,
                       reset_b=reset_b)
    obj = bngfit.Objective(problem, **TIGHT)
    x = problem.x_nominal + np.random.default_rng(4).uniform(-0.2, 0.2, len(problem.x_names))
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    h, fval, grad = _expected(problem, x, preeq=preeq, reset_b=reset_b)
    np.testing.assert_allclose(ev.simulation, h, rtol=1e-8)
    assert ev.fval == pytest.approx(fval, rel=1e-9)
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-6, atol=1e-8 * np.abs(grad).max())
    # an independent oracle too: central differences of the objective itself
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-5,
                               atol=1e-6 * np.abs(grad).max())
    # and the value without sensitivities is the same
    obj.clear_cache()
    assert obj(x, sensi=0).fval == pytest.approx(ev.fval, rel=1e-9)


def test_steady_state_time_is_listed_as_inf_and_minus_inf_is_refused(problem_writer):
    problem = _problem(problem_writer, "ss_inf", preeq=False, time_course=True, reset_b=False)
    assert np.isinf(problem.measurements.time).sum() == 4
    folder = problem_writer("ss_neg", model=PREEQ_MODEL,
                            parameters=[{"parameterId": "k0", "parameterScale": "lin",
                                         "lowerBound": 0, "upperBound": 5,
                                         "nominalValue": 2, "estimate": 1}],
                            observables=[{"observableId": "obs_A", "observableFormula": "A",
                                          "noiseFormula": 1}],
                            measurements=[{"observableId": "obs_A", "simulationConditionId":
                                           "c0", "time": "-inf", "measurement": 1}])
    with pytest.raises(bngfit.InputError) as err:
        bngfit.load_problem(folder)
    assert "-inf" in str(err.value) and "measurements.tsv" in str(err.value)
