"""Pre-equilibration against a closed form: values and gradients.

Model: production -> A <-> B -> degradation, linear,

    A' = k0 u - k1 A + k2 B,    B' = k1 A - (k2 + k3) B,

steady state x*(u) = u c with c = (k0 (k2+k3) / (k1 k3), k0 / k3). The
pre-equilibration condition has u = 1, the measured one u = 3, so the measured
phase starts at x0 = c (or at B = B_reset where the condition sets the species)
and follows x(t) = 3c + expm(M t) (x0 - 3c), M = [[-k1, k2], [k1, -(k2+k3)]].
Derivatives: dc/dp by hand, d expm(M t)/dp by the Frechet derivative
(scipy.linalg.expm_frechet, exact to rounding). Both bngfit routes are covered:
carrying sensitivities across the phase boundary (same parameters in both
phases, no species set) and restarting from x_ss with initial-condition
sensitivities (the condition sets B, to a free parameter).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm, expm_frechet

import bngfit

MODEL = """
model preeq
  compartment cell = 1;
  species A in cell, B in cell;
  A = 0; B = 0;
  k0 = 2; k1 = 0.8; k2 = 0.3; k3 = 0.5; u = 1; B_reset = 0.25;
  prod: -> A; k0*u;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
  deg: B -> ; k3*B;
end
"""

TIMES = (0.0, 0.3, 1.0, 2.5, 6.0, 15.0)
SIGMA = 0.05
U_PRE, U_MAIN = 1.0, 3.0
FREE = ("k0", "k1", "k2", "k3", "B_reset")
THETA = {"k0": 2.0, "k1": 0.8, "k2": 0.3, "k3": 0.5, "B_reset": 0.25}


def _steady(p):
    """c = x*(u=1) and dc/dp (2, 5) in FREE order."""
    k0, k1, k2, k3 = p["k0"], p["k1"], p["k2"], p["k3"]
    a = k0 * (k2 + k3) / (k1 * k3)
    b = k0 / k3
    da = [(k2 + k3) / (k1 * k3), -a / k1, k0 / (k1 * k3), -k0 * k2 / (k1 * k3**2), 0.0]
    db = [1 / k3, 0.0, 0.0, -k0 / k3**2, 0.0]
    return np.array([a, b]), np.array([da, db])


def _matrix(p):
    k1, k2, k3 = p["k1"], p["k2"], p["k3"]
    m = np.array([[-k1, k2], [k1, -(k2 + k3)]])
    dm = {  # d M / d p for each free parameter
        "k0": np.zeros((2, 2)),
        "k1": np.array([[-1.0, 0.0], [1.0, 0.0]]),
        "k2": np.array([[0.0, 1.0], [0.0, -1.0]]),
        "k3": np.array([[0.0, 0.0], [0.0, -1.0]]),
        "B_reset": np.zeros((2, 2)),
    }
    return m, dm


def closed_form(p, reset_b: bool):
    """States (n_t, 2) and their derivatives (n_t, 2, 5) in the measured phase."""
    c, dc = _steady(p)
    m, dm = _matrix(p)
    x0 = U_PRE * c
    dx0 = U_PRE * dc
    if reset_b:
        x0 = np.array([x0[0], p["B_reset"]])
        dx0 = dx0.copy()
        dx0[1] = 0.0
        dx0[1, FREE.index("B_reset")] = 1.0
    xs = U_MAIN * c
    dxs = U_MAIN * dc
    out = np.empty((len(TIMES), 2))
    dout = np.empty((len(TIMES), 2, len(FREE)))
    for i, t in enumerate(TIMES):
        e = expm(m * t)
        out[i] = xs + e @ (x0 - xs)
        for j, name in enumerate(FREE):
            de = expm_frechet(m * t, dm[name] * t, compute_expm=False)
            dout[i, :, j] = dxs[:, j] + de @ (x0 - xs) + e @ (dx0[:, j] - dxs[:, j])
    return out, dout


def _problem(writer, reset_b: bool, name: str):
    cond = {"conditionId": "dose", "u": U_MAIN}
    if reset_b:
        cond["B"] = "B_reset"
    p = {k: v for k, v in THETA.items()}
    truth, _ = closed_form(p, reset_b)
    rng = np.random.default_rng(3)
    meas = []
    for obs, col in (("obs_A", 0), ("obs_B", 1)):
        for i, t in enumerate(TIMES):
            meas.append({"observableId": obs, "preequilibrationConditionId": "pre",
                         "simulationConditionId": "dose", "time": t,
                         "measurement": truth[i, col] * (1 + 0.05 * rng.standard_normal())})
    return writer(
        name,
        model=MODEL,
        parameters=[{"parameterId": k, "parameterScale": "log10", "lowerBound": v / 100,
                     "upperBound": v * 100, "nominalValue": v, "estimate": 1}
                    for k, v in THETA.items() if reset_b or k != "B_reset"],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": SIGMA},
                     {"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": SIGMA}],
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
    p.setdefault("B_reset", THETA["B_reset"])
    states, dstates = closed_form(p, reset_b)
    cols = [FREE.index(n) for n in names]
    meas = problem.measurements
    col = np.array([0 if o == "obs_A" else 1 for o in meas.observable])
    row = np.searchsorted(TIMES, meas.time)
    h = states[row, col]
    dh = dstates[row, col][:, cols]
    np.testing.assert_allclose(ev.simulation, h, rtol=1e-8)

    r = (h - meas.value) / SIGMA
    fval = float(np.sum(0.5 * np.log(2 * np.pi * SIGMA**2) + 0.5 * r**2))
    grad = (r / SIGMA) @ dh * (10.0**x * np.log(10.0))
    assert ev.fval == pytest.approx(fval, rel=1e-9)
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-7, atol=1e-9 * np.abs(grad).max())
    np.testing.assert_allclose(ev.sres[: len(h)], (dh / SIGMA) * (10.0**x * np.log(10.0)),
                               rtol=1e-7, atol=1e-9 * np.abs(dh).max() / SIGMA)


def test_preequilibration_without_steady_state_fails_cleanly(problem_writer):
    model = MODEL.replace("deg: B -> ; k3*B;", "")  # nothing leaves: A + B grows forever
    path = problem_writer(
        "grow",
        model=model,
        parameters=[{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": 0.8, "estimate": 1}],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": SIGMA}],
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
