"""A model bngsim cannot differentiate (a delayed event) is refused up front for gradients.

Values are still computed (checked against the closed form of the conversion
reaction, reset by the event); an evaluation with a gradient, a fit and a
gradient check refuse it with bngsim's reason before any simulation.
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.errors import UnsupportedError
from tests.helpers import conversion_a, conversion_b, par

MODEL = """model delayed
  compartment cell = 1;
  species A in cell, B in cell;
  A = 1; B = 0; k1 = 0.8; k2 = 0.6;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
  E1: at 1 after (time > 2): A = 5;
end
"""
TIMES = (0.5, 1.0, 2.0, 2.9, 3.1, 4.0, 6.0)


def _problem(problem_writer):
    path = problem_writer(
        "delayed", model=MODEL, parameters=[par("k1", 0.8), par("k2", 0.6)],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1}],
        measurements=[{"observableId": "obs_A", "simulationConditionId": "c0", "time": t,
                       "measurement": 1.0} for t in TIMES])
    return bngfit.load_problem(path)


def test_values_are_right_and_gradients_are_refused_up_front(problem_writer, monkeypatch):
    problem = _problem(problem_writer)
    (w,) = [w for w in problem.warnings if "no gradient" in w.format()]
    assert "'E1'" in w.format() and "delay" in w.format()
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    ev = obj(problem.x_nominal, sensi=0)
    assert ev.ok, ev.message
    # the event fires at t = 2 + 1: A is set to 5, B goes on from where it was
    t = np.array(TIMES)
    b3 = conversion_b(3.0, 0.8, 0.6)
    expected = np.where(t < 3.0, conversion_a(t, 0.8, 0.6),
                        conversion_a(t - 3.0, 0.8, 0.6, a0=5.0, b0=b3))
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-7)
    from bngfit.simulate._engine import Engine

    def no_run(*args, **kwargs):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr(Engine, "run", no_run)
    with pytest.raises(UnsupportedError, match="E1"):
        obj(problem.x_nominal + 0.1, sensi=1)
    with pytest.raises(UnsupportedError, match="E1"):
        bngfit.fit(problem, n_starts=2, rng=0)


# The trigger's crossing time 2 + sin(ton) moves with a fitted parameter through a
# function bngsim cannot differentiate: it refuses the sensitivities of ton (only
# when ton is fitted, so the model loads without a warning).
SWITCHED = MODEL.replace("E1: at 1 after (time > 2)", "E1: at (time > 2 + sin(ton))").replace(
    "k2 = 0.6;", "k2 = 0.6; ton = 0.5;")


def _switched(problem_writer, estimate_ton: int):
    path = problem_writer(
        f"switched{estimate_ton}", model=SWITCHED,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ton", 0.5, "lin", estimate_ton, 0, 1)],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1}],
        measurements=[{"observableId": "obs_A", "simulationConditionId": "c0", "time": t,
                       "measurement": 1.0} for t in TIMES])
    return bngfit.load_problem(path)


def test_a_gradient_bngsim_refuses_for_the_request_ends_the_fit_before_any_start(
        problem_writer, tmp_path):
    problem = _switched(problem_writer, 1)
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    ev = obj(problem.x_nominal, sensi=0)
    assert ev.ok, ev.message
    t, fire = np.array(TIMES), 2 + np.sin(0.5)
    b_fire = conversion_b(fire, 0.8, 0.6)
    expected = np.where(t < fire, conversion_a(t, 0.8, 0.6),
                        conversion_a(t - fire, 0.8, 0.6, a0=5.0, b0=b_fire))
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-7)
    with pytest.raises(UnsupportedError, match="E1.*ton"):
        obj(problem.x_nominal, sensi=1)
    for opts in ({}, {"rtol": 1e-9}):  # chosen tolerances, or given ones
        db = tmp_path / f"run{len(opts)}.db"
        with pytest.raises(UnsupportedError, match="E1.*ton"):
            bngfit.fit(problem, n_starts=2, rng=0, store=db, objective_opts=opts)
        assert not db.exists()


def test_the_same_event_with_its_switch_time_fixed_has_a_right_gradient(problem_writer):
    problem = _switched(problem_writer, 0)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = problem.x_nominal + np.array([0.05, -0.05])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    h = 1e-5
    fd = [(obj(x + h * e, sensi=0).fval - obj(x - h * e, sensi=0).fval) / (2 * h)
          for e in np.eye(2)]
    np.testing.assert_allclose(ev.grad, fd, rtol=1e-5)
