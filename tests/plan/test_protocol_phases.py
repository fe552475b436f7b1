"""A pre-phase of fixed duration (a protocol's equilibration step) before the measured one.

A <-> B with total mass A0 + B0: A(t) = A_inf + (A(0) - A_inf) exp(-(k1 + k2) t),
A_inf = total * k2 / (k1 + k2). The pre-phase runs T with k2 = k2_pre, then the
measured phase starts from its end state with k2 = k2_main. Values come from
that closed form (``helpers.conversion_a``); gradients are checked against
central differences.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import bngfit
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from tests.helpers import central_grad, conversion_a, conversion_model

MODEL = conversion_model(k1=0.5, k2=0.3, compartment=False)
T_PRE = 2.0
K2_PRE, K2_MAIN = 0.3, 1.1
TIMES = [0.0, 0.5, 1.0, 2.0, 4.0]


def _problem(problem_writer, main_sets_b: bool):
    meas = [{"observableId": "obs_A", "preequilibrationConditionId": "pre",
             "simulationConditionId": "main", "time": t, "measurement": 0.4 + 0.05 * i}
            for i, t in enumerate(TIMES)]
    params = [{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 1e-3,
               "upperBound": 1e3, "nominalValue": 0.5, "estimate": 1},
              {"parameterId": "b_main", "parameterScale": "lin", "lowerBound": 0,
               "upperBound": 5, "nominalValue": 0.2, "estimate": 1}]
    path = problem_writer(
        "phases", model=MODEL, parameters=params,
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "0.1"}],
        measurements=meas,
        conditions=[{"conditionId": "pre"}, {"conditionId": "main"}],
    )
    problem = bngfit.load_problem(path)
    main = [Mutation("k2", MutationOp.SET, K2_MAIN)]
    if main_sets_b:
        main.append(Mutation("B", MutationOp.SET, "b_main"))
    conditions = {
        "pre": Condition("pre", (Mutation("k2", MutationOp.SET, K2_PRE),), duration=T_PRE),
        "main": Condition("main", tuple(main)),
    }
    return dataclasses.replace(problem, conditions=conditions)


@pytest.mark.parametrize("main_sets_b", [False, True], ids=["carry", "restart"])
def test_fixed_duration_prephase_values_and_gradient(problem_writer, main_sets_b):
    problem = _problem(problem_writer, main_sets_b)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.array([np.log10(0.7), 0.35])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    k1 = 0.7
    a_pre = conversion_a(T_PRE, k1, K2_PRE)  # A at the end of the pre-phase
    b_start = 0.35 if main_sets_b else 1.0 - a_pre
    expected = conversion_a(np.array(TIMES), k1, K2_MAIN, a0=a_pre, b0=b_start)
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-8)
    grad_fd = central_grad(obj, x)
    np.testing.assert_allclose(ev.grad, grad_fd, rtol=1e-6, atol=1e-8)
    if not main_sets_b:
        assert ev.grad[1] == 0.0  # b_main is unused when the main phase keeps B


def test_prephase_without_duration_still_runs_to_steady_state(problem_writer):
    problem = _problem(problem_writer, False)
    steady = dataclasses.replace(
        problem, conditions={**problem.conditions,
                             "pre": dataclasses.replace(problem.conditions["pre"],
                                                        duration=None)})
    ev = bngfit.Objective(steady, rtol=1e-11, atol=1e-13)(np.array([np.log10(0.7), 0.35]))
    a_ss = 0.3 / (0.7 + 0.3)
    expected = conversion_a(np.array(TIMES), 0.7, K2_MAIN, a0=a_ss, b0=1.0 - a_ss)
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-7)


# ---------------------------------------------------------------- chains
T_MID, K2_MID = 1.5, 2.0


def _chain_problem(problem_writer, mid_sets_b: bool, first_steady: bool):
    """pre (k2 = K2_PRE) -> mid (k2 = K2_MID, optionally B = b_main) -> main."""
    problem = _problem(problem_writer, False)
    mid = [Mutation("k2", MutationOp.SET, K2_MID)]
    if mid_sets_b:
        mid.append(Mutation("B", MutationOp.SET, "b_main"))
    conditions = {
        "pre": Condition("pre", (Mutation("k2", MutationOp.SET, K2_PRE),),
                         duration=None if first_steady else T_PRE),
        "mid": Condition("mid", tuple(mid), duration=T_MID, previous="pre"),
        "main": Condition("main", (Mutation("k2", MutationOp.SET, K2_MAIN),)),
    }
    meas = dataclasses.replace(problem.measurements,
                               preeq=tuple("mid" for _ in problem.measurements.preeq))
    return dataclasses.replace(problem, conditions=conditions, measurements=meas)


@pytest.mark.parametrize("mid_sets_b", [False, True], ids=["carry", "restart"])
@pytest.mark.parametrize("first_steady", [False, True], ids=["fixed", "steady"])
def test_three_phase_chain_values_and_gradient(problem_writer, mid_sets_b, first_steady):
    """Two pre-phases: the closed form phase by phase; gradient by central differences."""
    problem = _chain_problem(problem_writer, mid_sets_b, first_steady)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.array([np.log10(0.7), 0.35])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    k1 = 0.7
    a1 = (K2_PRE / (k1 + K2_PRE) if first_steady
          else conversion_a(T_PRE, k1, K2_PRE))
    b1 = 0.35 if mid_sets_b else 1.0 - a1
    a2 = conversion_a(T_MID, k1, K2_MID, a0=a1, b0=b1)
    expected = conversion_a(np.array(TIMES), k1, K2_MAIN, a0=a2, b0=a1 + b1 - a2)
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-8)
    grad_fd = central_grad(obj, x)
    np.testing.assert_allclose(ev.grad, grad_fd, rtol=1e-6, atol=1e-8)
    if not mid_sets_b:
        assert ev.grad[1] == 0.0
    # value-only runs take the same phases
    obj.clear_cache()
    np.testing.assert_allclose(obj(x, sensi=0).simulation, expected, rtol=1e-8)


def test_pre_phase_cycle_is_refused(problem_writer):
    problem = _chain_problem(problem_writer, False, False)
    loop = dataclasses.replace(problem.conditions["pre"], previous="mid")
    bad = dataclasses.replace(problem, conditions={**problem.conditions, "pre": loop})
    with pytest.raises(bngfit.errors.UnsupportedError, match="cycle"):
        bngfit.Objective(bad)
