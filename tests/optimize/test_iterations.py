"""max_iterations: one iteration limit of each local run, honoured by every optimizer.

Also the precedence of a problem file's request (a PyBNF job's settings): the
caller beats the stored run, which beats the request, which beats the default.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.optimize._iterations import ITERATION_KEYS, with_iterations
from bngfit.optimize._local import OptimizerName
from bngfit.optimize._multistart import fit
from bngfit.optimize._settings import FitSettings
from bngfit.problem._request import FitRequest
from bngfit.result._store import load_result
from bngfit.result._types import StartStatus
from tests.helpers import recovery_problem


@pytest.mark.parametrize("optimizer", ["least_squares", "lbfgsb", "fides"])
def test_every_optimizer_stops_at_the_iteration_limit(problem_writer, tmp_path, optimizer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    r = fit(problem, optimizer=optimizer, n_starts=1, race=1, rng=2, engine="sequential",
            max_iterations=2, store=db, hierarchical=False)
    [start] = r.starts
    # two iterations cannot reach the optimum of this problem from a random start
    assert start.status is StartStatus.MAX_ITER, start.message
    assert start.n_fval < 30  # line searches may take several evaluations per iteration
    assert load_result(db).settings["max_iterations"] == 2
    with pytest.raises(InputError, match="max_iterations: stored 2, given 3"):
        fit(problem, engine="sequential", store=db, resume=True, max_iterations=3)


def test_the_limit_replaces_each_optimizers_own_option():
    assert with_iterations(OptimizerName.FIDES, {"maxiter": 3000, "hessian": "gnsbfgs"}, 7) \
        == {"maxiter": 7, "hessian": "gnsbfgs"}
    # L-BFGS-B's evaluation budget must not end the run before its iterations
    assert with_iterations(OptimizerName.LBFGSB, {}, 5000) == {"maxiter": 5000,
                                                               "max_nfev": 10000}
    assert with_iterations(OptimizerName.LEAST_SQUARES, {"switch_maxiter": 300}, 50) == {
        "max_nfev": 50, "switch_maxiter": 50}
    assert with_iterations(OptimizerName.LBFGSB, {"maxiter": 9}, None) == {"maxiter": 9}
    assert set(ITERATION_KEYS) == set(OptimizerName)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_bad_limit_is_refused(problem_writer, bad):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    with pytest.raises(InputError, match="max_iterations"):
        FitSettings.resolve(problem, max_iterations=bad, engine="sequential")


# ---------------------------------------------------------------- precedence
def _requesting(problem_writer, **fields):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    origin = tuple((k, f"key_of_{k} = {v}") for k, v in fields.items())
    return dataclasses.replace(problem, request=FitRequest(**fields, origin=origin))


def test_the_request_beats_the_defaults_and_the_caller_beats_the_request(problem_writer,
                                                                         caplog):
    problem = _requesting(problem_writer, optimizer="lbfgsb", n_starts=4, seed=11,
                          sampler="lhs", max_iterations=40, workers=2)
    with caplog.at_level(logging.INFO, logger="bngfit"):
        s = FitSettings.resolve(problem)
    assert (s.optimizer, s.n_starts, s.seed, s.sampler, s.max_iterations, s.workers) == (
        "lbfgsb", 4, 11, "lhs", 40, 2)
    assert s.optimizer_opts["maxiter"] == 40
    [line] = [r.getMessage() for r in caplog.records if "run settings from" in r.getMessage()]
    assert "optimizer lbfgsb (key_of_optimizer = lbfgsb)" in line and "4 starts" in line
    given = FitSettings.resolve(problem, optimizer="fides", n_starts=2, rng=5,
                                sampler="uniform", max_iterations=3, workers=1)
    assert (given.optimizer, given.n_starts, given.seed, given.sampler, given.max_iterations,
            given.workers) == ("fides", 2, 5, "uniform", 3, 1)


def test_a_stored_run_beats_the_request(problem_writer, tmp_path):
    plain = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    fit(plain, n_starts=2, race=1, engine="sequential", store=db)
    problem = _requesting(problem_writer, optimizer="lbfgsb", n_starts=5, seed=11,
                          max_iterations=40)
    again = fit(problem, engine="sequential", store=db, resume=True)
    assert (again.optimizer, again.seed, again.n_starts) == ("least_squares", 0, 2)
    assert again.settings["max_iterations"] is None


def test_a_requested_least_squares_without_residuals_falls_back_and_says_so(problem_writer,
                                                                            caplog):
    problem = bngfit.load_problem(recovery_problem(problem_writer, noise="laplace"))
    problem = dataclasses.replace(problem, request=FitRequest(
        optimizer="least_squares", origin=(("optimizer", "fit_type = trf"),)))
    with caplog.at_level(logging.INFO, logger="bngfit"):
        s = FitSettings.resolve(problem)
    assert s.optimizer == "fides"
    [line] = [r.getMessage() for r in caplog.records if "run settings from" in r.getMessage()]
    assert "optimizer fides instead (fit_type = trf: least_squares needs a sum-of-squares" \
        in line


def test_the_requested_time_budget_stops_the_run(problem_writer):
    # a PyBNF job's wall_time_fit: spent at the first finished start
    problem = _requesting(problem_writer, max_time=1e-9)
    r = fit(problem, n_starts=3, race=1, engine="sequential")
    assert len(r.starts) == 1 and r.n_starts == 3
