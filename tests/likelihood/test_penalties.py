"""Trajectory penalties (the hook for qualitative constraints): values and exact gradients.

The penalty here is a smooth function of the sampled trajectories, so the
objective's total can be checked against the closed form of A <-> B and its
gradient against central differences; also through a normalization and in an
experiment that has no measurements of its own.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import bngfit
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._problem import Normalization, NormKind, TrajectoryPenalty
from tests.helpers import K1, K2, NORM_MODEL, NORM_TIMES, central_grad, closed_a

GRID = tuple(float(t) for t in np.linspace(0.0, 6.0, 13))
C = 3.0


def quadratic(t, series):
    """C * sum((A - 0.3)^2) over the grid, and its derivative by each sample."""
    a = series["A"]
    return C * float(np.sum((a - 0.3) ** 2)), {"A": 2 * C * (a - 0.3)}


def peak_b_below(t, series):
    """C * sum(max(0, B_norm - 0.5)^2): smooth enough for differences."""
    b = series["B"]
    over = np.maximum(b - 0.5, 0.0)
    return C * float(np.sum(over**2)), {"B": 2 * C * over}


def _base(problem_writer, name):
    meas = [{"observableId": "obs_B", "simulationConditionId": "c0", "time": t,
             "measurement": 0.3 + 0.1 * i} for i, t in enumerate(NORM_TIMES)]
    params = [{"parameterId": p, "parameterScale": "log10", "lowerBound": 1e-3,
               "upperBound": 1e3, "nominalValue": v, "estimate": 1}
              for p, v in (("k1", K1), ("k2", K2))]
    path = problem_writer(
        name, model=NORM_MODEL, parameters=params,
        observables=[{"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": "0.1"}],
        measurements=meas, conditions=[{"conditionId": "c0"}, {"conditionId": "c1"}])
    return bngfit.load_problem(path)


def test_penalty_value_and_gradient(problem_writer):
    problem = _base(problem_writer, "pen")
    plain = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    pen = TrajectoryPenalty(("A",), "", "c0", GRID, quadratic, "test:1")
    problem = dataclasses.replace(problem, penalties=(pen,))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    assert not obj.has_residuals
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    expected = C * np.sum((closed_a(np.array(GRID)) - 0.3) ** 2)
    assert ev.fval == pytest.approx(plain(x).fval + expected, rel=1e-9)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


def test_penalty_reads_the_normalized_output(problem_writer):
    problem = _base(problem_writer, "pen_norm")
    norm = Normalization(NormKind.PEAK, "obs_B", "", "c0", GRID)
    pen = TrajectoryPenalty(("B",), "", "c0", GRID, peak_b_below, "test:2")
    problem = dataclasses.replace(problem, normalizations=(norm,), penalties=(pen,))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    b = 1.0 - closed_a(np.array(GRID))
    bn = b / b.max()
    assert (bn > 0.5).any()  # the penalty is active
    without = bngfit.Objective(dataclasses.replace(problem, penalties=()),
                               rtol=1e-11, atol=1e-13)(x).fval
    assert ev.fval - without == pytest.approx(C * np.sum(np.maximum(bn - 0.5, 0) ** 2),
                                              rel=1e-8)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


def test_penalty_in_an_experiment_without_data(problem_writer):
    problem = _base(problem_writer, "pen_nodata")
    conditions = dict(problem.conditions)
    conditions["c1"] = Condition("c1", (Mutation("k2", MutationOp.MUL, 2.0),))
    pen = TrajectoryPenalty(("A",), "", "c1", GRID, quadratic, "test:3")
    problem = dataclasses.replace(problem, conditions=conditions, penalties=(pen,))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.log10([K1, K2])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    without = bngfit.Objective(dataclasses.replace(problem, penalties=()),
                               rtol=1e-11, atol=1e-13)(x).fval
    expected = C * np.sum((closed_a(np.array(GRID), K1, 2 * K2) - 0.3) ** 2)
    assert ev.fval - without == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


def test_division_by_a_parameter_at_zero_is_a_defined_failure(problem_writer):
    problem = _base(problem_writer, "div0")
    z = dataclasses.replace(problem.parameters[0], id="z", scale=bngfit.problem.Scale.LIN,
                            lb=0.0, ub=1.0, nominal=0.0)
    conditions = {"c0": Condition("c0", (Mutation("k1", MutationOp.DIV, "z"),)),
                  "c1": problem.conditions["c1"]}
    problem = dataclasses.replace(problem, parameters=(*problem.parameters, z),
                                  conditions=conditions)
    ev = bngfit.Objective(problem)(np.array([np.log10(K1), np.log10(K2), 0.0]))
    assert not ev.ok and ev.fval == float("inf")
