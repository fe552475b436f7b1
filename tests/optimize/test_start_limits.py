"""Per-start limits (max_evals, max_start_time), the failure record, the retry ladder."""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.errors import InputError, SimulationFailure
from bngfit.optimize._ladder import LADDER, LadderStep
from bngfit.optimize._limits import Allowance, FailureLog, LimitReached, StartLimits
from bngfit.optimize._multistart import fit
from bngfit.simulate._engine import Engine
from tests.helpers import blowup_problem, recovery_problem


def _finite_min(trace: np.ndarray) -> float:
    t = np.asarray(trace, float)
    return float(t[np.isfinite(t)].min())


@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_max_evals_caps_every_start_race_included(problem_writer, engine):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    free = fit(problem, n_starts=2, rng=3, engine="sequential", race=3)
    assert min(s.n_fval for s in free.starts) > 12  # the cap below bites
    # 12: the start point's own run converges, the race is cut short;
    # 5: the own run is stopped too
    for cap, status in ((12, "converged"), (5, "max_iter")):
        capped = fit(problem, n_starts=2, rng=3, engine=engine, workers=2, race=3,
                     max_evals=cap)
        for s in capped.starts:
            assert s.n_fval <= cap, s
            assert s.status.value == status
            assert f"race of 3 candidates, cut short by the start's limit of {cap} " \
                   "evaluations (max_evals)" in s.message
            # the start ends at the best point it evaluated
            assert s.fval == _finite_min(s.trace)
        assert capped.settings["max_evals"] == cap


def test_max_start_time_stops_each_start(problem_writer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    r = fit(problem, n_starts=2, rng=3, engine="sequential", max_start_time=1e-9)
    for s in r.starts:
        assert s.status.value == "max_iter"
        assert "time limit of 1e-09 s (max_start_time)" in s.message
        # nothing but the end point (the start point) was evaluated
        assert s.n_fval == 1 and np.isfinite(s.fval)


def test_limits_are_recorded_and_a_resume_must_keep_them(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    fit(problem, n_starts=2, rng=0, engine="sequential", max_evals=8, store=db)
    with pytest.raises(InputError, match="max_evals: stored 8, given 9"):
        fit(problem, n_starts=2, engine="sequential", max_evals=9, store=db, resume=True)
    more = fit(problem, engine="sequential", store=db, resume=True)  # takes the stored 8
    assert len(more.starts) == 2 and all(s.n_fval <= 8 for s in more.starts)


@pytest.mark.parametrize("kwargs", [{"max_evals": 0}, {"max_evals": 2.5},
                                    {"max_evals": True}, {"max_start_time": 0},
                                    {"max_start_time": -1.0},
                                    {"max_start_time": float("nan")},
                                    {"max_start_time": float("inf")}])
def test_bad_limits_are_refused_before_any_simulation(problem_writer, kwargs):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    with pytest.raises(InputError, match="limit of a start"):
        fit(problem, n_starts=1, engine="sequential", **kwargs)


def test_allowance_counts_evaluations_across_its_users():
    a = Allowance(StartLimits(max_evals=2))
    a.charge()
    a.charge()
    with pytest.raises(LimitReached, match="2 evaluations"):
        a.charge()
    assert StartLimits().unlimited and not StartLimits(max_seconds=1.0).unlimited


def test_failure_log_counts_reasons_in_order():
    log = FailureLog()
    assert log.summary() == ""
    for why in ["a  b", "c", "a b", "d", "e"]:
        log.add(why)
    assert log.total == 5
    assert log.summary() == ("; 5 evaluation(s) failed: 2 x a b; 1 x c; 1 x d; and 1 other "
                             "reason(s)")


def test_failed_evaluations_are_named_in_the_start_message(problem_writer):
    problem = blowup_problem(problem_writer)
    # From k = 0.45 least squares steps beyond k = 0.5 (where X blows up before
    # t = 2) and gets a failed evaluation there before it turns back.
    r = fit(problem, optimizer="lbfgsb", n_starts=1, engine="sequential",
            starts=[[np.log10(0.45)]], optimizer_opts={})
    s = r.starts[0]
    assert s.status.value == "converged"
    assert "evaluation(s) failed:" in s.message
    assert "condition 'c0'" in s.message


# ------------------------------------------------------------------ the ladder
def test_ladder_steps_loosen_atol_then_steps():
    assert LADDER[0].apply({"rtol": 1e-8}) == {"rtol": 1e-8, "atol": pytest.approx(1e-8)}
    assert LADDER[1].apply({"atol": 1e-12}) == {"atol": pytest.approx(1e-10),
                                                "max_steps": 100_000}
    assert LadderStep(1e2, 10).apply({"atol": 1e-12, "max_steps": 50}) == {
        "atol": pytest.approx(1e-10), "max_steps": 500}


# Tolerances given: the run makes no probe solves to choose them (the patched
# engines below would fail those, or count them).
GIVEN = {"rtol": 1e-8, "atol": 1e-10}


def _failing_below(monkeypatch, atol: float, fails_left: list[int] | None = None) -> None:
    """Engines with an absolute tolerance below ``atol`` fail every run
    (the first ``fails_left[0]`` runs only, when given)."""
    real = Engine.run

    def run(self, *args, **kwargs):
        if self.settings.atol < atol and (fails_left is None or fails_left[0] > 0):
            if fails_left is not None:
                fails_left[0] -= 1
            raise SimulationFailure("CVODE flag -3: too much accuracy requested (test)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "run", run)


def test_a_start_the_solver_kills_is_retried_at_a_looser_atol(problem_writer, monkeypatch):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    _failing_below(monkeypatch, 1e-9)
    r = fit(problem, n_starts=1, rng=0, engine="sequential", race=1, objective_opts=GIVEN)
    s = r.starts[0]
    assert s.status.value == "converged", s.message
    assert "too much accuracy requested" in s.message  # the first attempt's reason
    assert "retried at atol 1e-08:" in s.message
    # its value could not be computed at the run's own atol here: the looser one is kept
    assert "the value is the looser one" in s.message
    looser = bngfit.Objective(problem, atol=1e-8)(s.x)
    assert s.fval == looser.fval
    assert s.n_fval == len(s.trace) and np.isinf(s.trace[0])


def test_a_retried_start_reports_its_value_at_the_run_tolerances(problem_writer,
                                                                 monkeypatch):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    own = bngfit.Objective(problem)  # built before the patch: the oracle
    # the gradient at nominal that fit makes before any start (refusals that
    # depend on what is fitted), then the start point: each fails once
    _failing_below(monkeypatch, 1e-9, fails_left=[2])
    r = fit(problem, n_starts=1, rng=0, engine="sequential", race=1, starts=[[0.1] * 3],
            objective_opts=GIVEN)
    s = r.starts[0]
    assert "retried at atol 1e-08:" in s.message
    assert "value at the run's own tolerances" in s.message
    monkeypatch.undo()
    ev = own(s.x)
    assert s.fval == ev.fval
    assert s.grad_norm == pytest.approx(float(np.linalg.norm(ev.grad)), rel=1e-12)


def test_the_ladder_ends_with_more_steps_and_records_every_step(problem_writer):
    problem = blowup_problem(problem_writer)
    # k = 5: X blows up at t = 0.2 whatever the tolerances; a user start point
    # is never redrawn, so the ladder runs to its end and the start fails.
    r = fit(problem, optimizer="least_squares", n_starts=1, engine="sequential",
            starts=[[np.log10(5.0)]], objective_opts=GIVEN)
    s = r.starts[0]
    assert s.status.value == "error" and s.fval == float("inf")
    assert "retried at atol 1e-08:" in s.message
    assert "retried at atol 1e-08 and 100000 steps per output interval:" in s.message
    assert s.n_fval == 3  # one evaluation of the start point per attempt


def test_a_start_that_raised_is_not_retried(problem_writer, monkeypatch):
    problem = bngfit.load_problem(recovery_problem(problem_writer))

    def broken(self, *args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(Engine, "run", broken)
    r = fit(problem, n_starts=1, rng=0, engine="sequential", race=1, objective_opts=GIVEN)
    s = r.starts[0]
    assert s.status.value == "error" and "KeyError" in s.message
    assert "retried" not in s.message and s.detail
