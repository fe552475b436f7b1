"""Pre-equilibration against a closed form: values and gradients.

Model: production -> A <-> B -> degradation, linear,

    A' = k0 u - k1 A + k2 B,    B' = k1 A - (k2 + k3) B,

steady state x*(u) = u c with c = (k0 (k2+k3) / (k1 k3), k0 / k3). The
pre-equilibration condition has u = 1, the measured one u = 3, so the measured
phase starts at x0 = c (or at B = B_reset where the condition sets the species)
and follows x(t) = 3c + expm(M t) (x0 - 3c), M = [[-k1, k2], [k1, -(k2+k3)]].
Derivatives: dc/dp by hand, d expm(M t)/dp by the Frechet derivative
(scipy.linalg.expm_frechet, exact to rounding). Model and closed form are
``helpers.PREEQ_MODEL`` and ``helpers.preeq_closed_form`` (shared with
test_shared_preeq.py; the model is not the plain conversion: it has production
and degradation). Both bngfit routes are covered:
carrying sensitivities across the phase boundary (same parameters in both
phases, no species set) and restarting from x_ss with initial-condition
sensitivities (the condition sets B, to a free parameter).
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
    preeq_closed_form,
)


def _problem(writer, reset_b: bool, name: str):
    cond = {"conditionId": "dose", "u": U_MAIN}
    if reset_b:
        cond["B"] = "B_reset"
    p = {k: v for k, v in PREEQ_THETA.items()}
    truth, _ = preeq_closed_form(p, reset_b)
    rng = np.random.default_rng(3)
    meas = []
    for obs, col in (("obs_A", 0), ("obs_B", 1)):
        for i, t in enumerate(PREEQ_TIMES):
            meas.append({"observableId": obs, "preequilibrationConditionId": "pre",
                         "simulationConditionId": "dose", "time": t,
                         "measurement": truth[i, col] * (1 + 0.05 * rng.standard_normal())})
    return writer(
        name,
        model=PREEQ_MODEL,
        parameters=[{"parameterId": k, "parameterScale": "log10", "lowerBound": v / 100,
                     "upperBound": v * 100, "nominalValue": v, "estimate": 1}
                    for k, v in PREEQ_THETA.items() if reset_b or k != "B_reset"],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": PREEQ_SIGMA},
                     {"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": PREEQ_SIGMA}],
        measurements=meas,
        conditions=[{"conditionId": "pre", "u": U_PRE}, cond],
    )


@pytest.mark.parametrize("reset_b", [False, True], ids=["carry", "species_reset"])
def test_preequilibration_matches_closed_form(problem_writer, reset_b):
    problem = bngfit.load_problem(_problem(problem_writer, reset_b, f"p{int(reset_b)}"))
    names = problem.x_names
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(11)
    x = problem.x_nominal + rng.uniform(-0.2, 0.2, len(names))
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message

    p = dict(zip(names, 10.0**x, strict=True))
    p.setdefault("B_reset", PREEQ_THETA["B_reset"])
    states, dstates = preeq_closed_form(p, reset_b)
    cols = [PREEQ_FREE.index(n) for n in names]
    meas = problem.measurements
    col = np.array([0 if o == "obs_A" else 1 for o in meas.observable])
    row = np.searchsorted(PREEQ_TIMES, meas.time)
    h = states[row, col]
    dh = dstates[row, col][:, cols]
    np.testing.assert_allclose(ev.simulation, h, rtol=1e-8)

    r = (h - meas.value) / PREEQ_SIGMA
    fval = float(np.sum(0.5 * np.log(2 * np.pi * PREEQ_SIGMA**2) + 0.5 * r**2))
    grad = (r / PREEQ_SIGMA) @ dh * (10.0**x * np.log(10.0))
    assert ev.fval == pytest.approx(fval, rel=1e-9)
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-7, atol=1e-9 * np.abs(grad).max())
    np.testing.assert_allclose(ev.sres[: len(h)], (dh / PREEQ_SIGMA) * (10.0**x * np.log(10.0)),
                               rtol=1e-7, atol=1e-9 * np.abs(dh).max() / PREEQ_SIGMA)


def test_preequilibration_without_steady_state_fails_cleanly(problem_writer):
    model = PREEQ_MODEL.replace("deg: B -> ; k3*B;", "")  # nothing leaves: A + B grows forever
    path = problem_writer(
        "grow",
        model=model,
        parameters=[{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": 0.8, "estimate": 1}],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": PREEQ_SIGMA}],
        measurements=[{"observableId": "obs_A", "preequilibrationConditionId": "pre",
                       "simulationConditionId": "dose", "time": 1.0, "measurement": 1.0}],
        conditions=[{"conditionId": "pre", "u": U_PRE}, {"conditionId": "dose", "u": U_MAIN}],
    )
    problem = bngfit.load_problem(path)
    obj = bngfit.Objective(problem)
    for sensi in (0, 1):
        obj.clear_cache()
        ev = obj(problem.x_nominal, sensi=sensi)
        assert ev.status == "simulation_failed"
        assert "pre-equilibration did not reach a steady state" in ev.message
        assert "'pre'" in ev.message
