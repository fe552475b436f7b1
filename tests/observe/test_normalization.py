"""Trajectory normalization (init, peak, zero, unit): closed-form values, exact gradients.

A <-> B with A(0) = 1, B(0) = 0: A(t) = a_inf + (1 - a_inf) exp(-(k1 + k2) t),
a_inf = k2 / (k1 + k2), B = 1 - A. Statistics are taken over the reference grid
0, 1, ..., 10; expected values are computed here from the closed form, and
gradients are checked against central differences. Model, rates and closed form
are ``helpers.NORM_MODEL``, ``K1``, ``K2`` and ``closed_a`` (shared with the
penalty tests).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import bngfit
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._problem import Normalization, NormKind
from tests.helpers import K1, K2, NORM_MODEL, NORM_TIMES, central_grad, closed_a, conversion_b

GRID = tuple(float(t) for t in range(11))


def _problem(problem_writer, kind, observable, preeq=""):
    meas = [{"observableId": o, "preequilibrationConditionId": preeq,
             "simulationConditionId": "c0", "time": t, "measurement": 0.3 + 0.1 * i}
            for o in ("obs_A", "obs_B") for i, t in enumerate(NORM_TIMES)]
    params = [{"parameterId": p, "parameterScale": "log10", "lowerBound": 1e-3,
               "upperBound": 1e3, "nominalValue": v, "estimate": 1}
              for p, v in (("k1", K1), ("k2", K2))]
    conds = [{"conditionId": "c0"}] + ([{"conditionId": preeq}] if preeq else [])
    path = problem_writer(
        f"norm_{kind}_{observable}_{preeq or 'none'}", model=NORM_MODEL, parameters=params,
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "0.1"},
                     {"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": "0.1"}],
        measurements=meas, conditions=conds)
    problem = bngfit.load_problem(path)
    if preeq:  # a fixed-duration pre-phase with k2 raised, k1 as estimated
        conditions = dict(problem.conditions)
        conditions[preeq] = Condition(preeq, (Mutation("k2", MutationOp.SET, 2.0),),
                                      duration=1.5)
        problem = dataclasses.replace(problem, conditions=conditions)
    norm = Normalization(NormKind(kind), observable, preeq, "c0", GRID)
    return dataclasses.replace(problem, normalizations=(norm,))


def _expected(kind, traj_at):
    """Normalized values at NORM_TIMES of a trajectory function, with GRID statistics."""
    ref, v = traj_at(np.array(GRID)), traj_at(np.array(NORM_TIMES))
    if kind == "init":
        return v / ref[0]
    if kind == "peak":
        return v / ref.max()
    if kind == "zero":
        return (v - ref.mean()) / ref.std()
    if ref.max() > ref[0]:  # unit, rising
        return (v - ref[0]) / (ref.max() - ref[0])
    return (v - ref[0]) / (ref[0] - ref.min())


CASES = [("init", "obs_A"), ("peak", "obs_B"), ("zero", "obs_A"), ("zero", "obs_B"),
         ("unit", "obs_B"), ("unit", "obs_A")]


@pytest.mark.parametrize(("kind", "observable"), CASES)
def test_normalized_values_match_closed_form_and_gradient_is_exact(problem_writer, kind,
                                                                   observable):
    problem = _problem(problem_writer, kind, observable)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    traj = closed_a if observable == "obs_A" else (lambda t: 1.0 - closed_a(t))
    m = problem.measurements
    rows = np.array([o == observable for o in m.observable])
    np.testing.assert_allclose(ev.simulation[rows], _expected(kind, traj), rtol=1e-8)
    other = ~rows  # the other observable stays as simulated
    other_traj = (lambda t: 1.0 - closed_a(t)) if observable == "obs_A" else closed_a
    np.testing.assert_allclose(ev.simulation[other], other_traj(np.array(NORM_TIMES)), rtol=1e-8)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)
    # sres stays the Jacobian of res (the design convention) under the transform
    np.testing.assert_allclose(ev.grad, ev.sres.T @ ev.res, rtol=1e-10, atol=1e-12)


def test_normalization_after_a_prephase(problem_writer):
    problem = _problem(problem_writer, "peak", "obs_B", preeq="pre")
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    # after 1.5 time units with k2 = 2, the measured phase relaxes from there
    a_pre = closed_a(1.5, K1, 2.0)

    def b(t):
        return conversion_b(t, K1, K2, a0=a_pre, b0=1.0 - a_pre)

    rows = np.array([o == "obs_B" for o in problem.measurements.observable])
    np.testing.assert_allclose(ev.simulation[rows], _expected("peak", b), rtol=1e-8)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


def test_zero_divisor_is_a_defined_failure(problem_writer):
    problem = _problem(problem_writer, "init", "obs_B")  # B(0) = 0
    ev = bngfit.Objective(problem)(np.log10([K1, K2]), sensi=1)
    assert not ev.ok and ev.fval == float("inf")
    assert "normalization init" in ev.message and "divides by 0" in ev.message


def test_incident_from_cumulative(problem_writer):
    # B is cumulative (it only grows here): incident = B(t) - B(previous grid time)
    meas_times = [1.0, 2.0, 3.0, 7.0]
    problem = _problem(problem_writer, "init", "obs_B")  # replaced below
    m = problem.measurements
    rows = np.array([o == "obs_B" for o in m.observable])
    norm = Normalization(NormKind.INCIDENT, "obs_B", "", "c0", GRID)
    problem = dataclasses.replace(
        problem, normalizations=(norm,),
        measurements=dataclasses.replace(m, time=np.where(rows, np.resize(meas_times, len(rows)),
                                                          m.time)))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    t = problem.measurements.time[rows]
    b = 1.0 - closed_a(t)
    prev = 1.0 - closed_a(t - 1.0)  # the grid is 0, 1, ..., 10
    np.testing.assert_allclose(ev.simulation[rows], b - prev, rtol=1e-8)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)
