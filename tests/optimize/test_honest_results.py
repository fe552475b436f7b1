"""Honest results: failed trial points, non-finite gradients, claims of convergence.

The reproduction: a model that blows up in finite time for part of the box
(``A' = k A^2 - d A`` with ``A(0) = 1`` explodes before the last data time once
``k`` is large), fitted from starts whose first L-BFGS-B step lands in that
part. Handing L-BFGS-B ``(inf, 0)`` there made it report "converged" at the
start point with gradient norms of 78 and 509 (measured on these two starts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bngfit
from bngfit.objective._evaluation import LazyResiduals
from bngfit.objective._gradcheck import Agreement, check_grad, describe, summarize
from bngfit.objective._objective import Evaluation
from bngfit.objective._status import INVALID, EvalStatus
from bngfit.optimize._local import Counted, OptimizerName, _lbfgsb, minimize
from bngfit.optimize._stationary import STATIONARY_RTOL, confirm_stationary, projected_gradient
from bngfit.result._types import StartStatus
from tests.helpers import conversion_model, write_problem

BLOWUP = """
model blowup
  compartment cell = 1;
  species A in cell;
  A = 1;
  k = 0.3; d = 0.1;
  grow: -> A; k*A^2;
  dec: A -> ; d*A;
end
"""
TIMES = (0.5, 1.0, 1.5, 2.0, 2.5)
K_TRUE, D_TRUE = 0.3, 0.1


def blowup_a(t, k, d):
    """Closed form of A' = k A^2 - d A, A(0) = 1 (Bernoulli equation)."""
    return d / (k + (d - k) * np.exp(d * t))


@pytest.fixture(scope="module")
def blowup(tmp_path_factory):
    pars = [{"parameterId": p, "parameterScale": "log10", "lowerBound": 0.01,
             "upperBound": 10, "nominalValue": v, "estimate": 1}
            for p, v in (("k", K_TRUE), ("d", D_TRUE))]
    y = write_problem(
        tmp_path_factory.mktemp("blowup"), model=BLOWUP, parameters=pars,
        observables=[{"observableId": "o", "observableFormula": "A", "noiseFormula": 0.05}],
        measurements=[{"observableId": "o", "simulationConditionId": "c0", "time": t,
                       "measurement": round(float(blowup_a(t, K_TRUE, D_TRUE)), 8)}
                      for t in TIMES])
    problem = bngfit.load_problem(y)
    return problem, bngfit.Objective(problem)


LB, UB = np.log10([0.01, 0.01]), np.log10([10.0, 10.0])


def assert_honest(local, f, lb=LB, ub=UB):
    """A converged start ends where the projected gradient is small."""
    end = f.best
    assert end is not None and end.ok
    pg = np.abs(projected_gradient(end.x, end.grad, lb, ub)).max()
    if local.status is StartStatus.CONVERGED:
        assert pg <= STATIONARY_RTOL * (1 + abs(end.fval)), (local, pg)


def test_the_box_has_a_failing_part(blowup):
    _, obj = blowup
    # the explosion time 1/k * ln(k/(k-d)) of k = 10, d = 0.01 is ~1e-4: fails
    assert obj(np.log10([10.0, 0.01])).status == EvalStatus.SIMULATION_FAILED
    assert obj(np.log10([K_TRUE, D_TRUE])).ok


@pytest.mark.parametrize("optimizer", list(OptimizerName))
@pytest.mark.parametrize("x0", [(-2.0, -2.0), (-1.5, 0.5)])
def test_failed_trial_points_are_rejected(blowup, optimizer, x0):
    _, obj = blowup
    obj.clear_cache()
    local, f = minimize(obj, np.array(x0), LB, UB, optimizer)
    assert_honest(local, f)
    # the reproduction's starts: a trial point failed, and the fit still found
    # the parameters the data were made from
    assert any(not np.isfinite(v) for v in f.trace)
    assert local.status is StartStatus.CONVERGED, local.message
    np.testing.assert_allclose(10**local.x, [K_TRUE, D_TRUE], rtol=1e-4)


# ---------------------------------------------------------------- a toy objective
class Toy:
    """A smooth bowl that fails (status simulation_failed) where x[0] > limit."""

    x_names = ["a", "b"]
    has_residuals = False

    def __init__(self, limit: float, opt=(1.4, -0.5)):
        self.limit, self.opt = limit, np.array(opt)

    def __call__(self, x, sensi=1):
        x = np.array(x, float)
        if x[0] > self.limit:
            nan = np.full(2, np.nan)
            return Evaluation(x=x, fval=np.inf, grad=nan, chi2=np.inf, simulation=nan,
                              sigma=nan, status=EvalStatus.SIMULATION_FAILED,
                              message="fails here")
        u = x - self.opt
        f = 10 * u[0] ** 2 + u[1] ** 2 + 3 * u[0] ** 4
        g = np.array([20 * u[0] + 12 * u[0] ** 3, 2 * u[1]])
        return Evaluation(x=x, fval=f, grad=g, chi2=f, simulation=np.zeros(1),
                          sigma=np.ones(1))


def test_lbfgsb_backtracks_into_the_valid_part():
    f = Counted(Toy(limit=1.5))
    local = _lbfgsb(f, np.array([-3.0, 2.0]), np.array([-5.0, -5.0]),
                    np.array([5.0, 5.0]), {})
    assert local.status is StartStatus.CONVERGED
    np.testing.assert_allclose(f.best.x, [1.4, -0.5], atol=1e-6)
    assert sum(not np.isfinite(v) for v in f.trace) >= 1  # the first step hit the wall


def test_lbfgsb_with_the_optimum_in_the_failing_part_does_not_converge():
    # the bowl's bottom (a = 1.4) lies where the objective fails (a > 1.39)
    local, f = minimize(Toy(limit=1.39), np.array([-3.0, 2.0]), np.array([-5.0, -5.0]),
                        np.array([5.0, 5.0]), OptimizerName.LBFGSB)
    assert local.status is not StartStatus.CONVERGED
    assert f.best.x[0] <= 1.39


def test_a_claim_of_convergence_against_a_large_gradient_is_stalled():
    from bngfit.optimize._local import LocalResult

    x = np.array([0.0, 0.0])
    ev = Evaluation(x=x, fval=10.0, grad=np.array([500.0, 0.0]), chi2=0.0,
                    simulation=np.zeros(1), sigma=np.ones(1))
    claim = LocalResult(x, StartStatus.CONVERGED, "CONVERGENCE: REL_REDUCTION_OF_F")
    out = confirm_stationary(claim, ev, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    assert out.status is StartStatus.STALLED
    assert "projected gradient" in out.message and "500" in out.message
    # the same gradient pushing out through an active bound is stationary
    at_bound = Evaluation(x=np.array([-1.0, 0.0]), fval=10.0, grad=np.array([500.0, 0.0]),
                          chi2=0.0, simulation=np.zeros(1), sigma=np.ones(1))
    ok = confirm_stationary(claim, at_bound, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    assert ok.status is StartStatus.CONVERGED


def test_projected_gradient():
    g = projected_gradient(np.array([0.0, 1.0, -1.0, 0.5]), np.array([1.0, -2.0, 3.0, -4.0]),
                           np.array([-1.0, -1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0, -4.0])


class NanJacobian(Toy):
    """Finite values and gradient, but a NaN in the residual Jacobian."""

    has_residuals = True

    def __call__(self, x, sensi=1):
        x = np.array(x, float)
        res = np.array([x[0] - 1.0, x[1]])
        sres = np.array([[1.0, 0.0], [0.0, np.nan]])
        return Evaluation(x=x, fval=0.5 * float(res @ res), grad=res.copy(), chi2=0.0,
                          simulation=np.zeros(1), sigma=np.ones(1),
                          residuals=LazyResiduals.of(res, sres))


def test_a_nonfinite_residual_jacobian_is_an_invalid_evaluation():
    f = Counted(NanJacobian(limit=10.0), residuals=True)
    ev = f(np.array([0.5, 0.5]))
    assert not ev.ok and ev.status == EvalStatus.INVALID_GRADIENT
    assert "'b'" in ev.message and "residual Jacobian" in ev.message
    assert f.best is None
    assert EvalStatus.INVALID_GRADIENT in INVALID and EvalStatus.OK not in INVALID


# ----------------------------------------------- non-finite gradients, end to end


@pytest.fixture(scope="module")
def sqrt_problem(tmp_path_factory):
    """h = sqrt(off) * A + B: finite at off = 0, its derivative in off is not."""
    y = write_problem(
        tmp_path_factory.mktemp("sqrt"), model=conversion_model(),
        parameters=[{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": 0.8, "estimate": 1},
                    {"parameterId": "off", "parameterScale": "lin", "lowerBound": 0,
                     "upperBound": 2, "nominalValue": 0.5, "estimate": 1}],
        observables=[{"observableId": "o", "observableFormula": "sqrt(off) * A + B",
                      "noiseFormula": 0.1}],
        measurements=[{"observableId": "o", "simulationConditionId": "c0", "time": t,
                       "measurement": m} for t, m in ((0.5, 0.9), (1.0, 0.8), (2.0, 0.7))])
    return bngfit.Objective(bngfit.load_problem(y))


def test_a_nonfinite_gradient_with_a_finite_value_is_invalid(sqrt_problem):
    obj = sqrt_problem
    ev = obj(np.array([np.log10(0.8), 0.0]))
    assert np.isfinite(ev.fval)
    assert not ev.ok and ev.status == EvalStatus.INVALID_GRADIENT
    assert "'off'" in ev.message and "'k1'" not in ev.message
    assert np.isfinite(ev.grad[0]) and not np.isfinite(ev.grad[1])
    assert ev.res is None and ev.sres is None  # nothing for least squares to follow
    # the value-only evaluation there is valid
    assert obj(np.array([np.log10(0.8), 0.0]), sensi=0).ok


def test_check_grad_shows_a_nonfinite_row_as_a_mismatch(sqrt_problem):
    obj = sqrt_problem
    x = np.array([np.log10(0.8), 0.0])
    table = check_grad(obj, x, 1e-5)
    assert not np.isfinite(table.loc["off", "grad"])
    summary = summarize(table, obj(x).fval)
    assert summary.verdict["off"] is Agreement.MISMATCH
    assert summary.verdict["k1"] is Agreement.AGREES
    lines = describe(summary, table)
    assert any("MISMATCH" in line and "off" in line for line in lines)
    assert not any("not resolved" in line for line in lines)
    # tighter tolerances cannot make a non-finite gradient finite: no such advice
    assert not any("tighter solver tolerances" in line for line in lines)


def test_a_finite_mismatch_is_advised_a_check_at_tighter_tolerances():
    # differences that agree with each other (fd_err 1e-6) and not with the gradient
    table = pd.DataFrame({"grad": [1.0], "fd_f": [1.1], "fd_b": [1.100001], "fd_c": [1.1000005],
                          "fd_err": [1e-6], "abs_err": [0.1000005],
                          "rel_err": [0.1000005 / 1.1000005]}, index=["k"])
    summary = summarize(table, 10.0)
    assert summary.verdict["k"] is Agreement.MISMATCH
    lines = describe(summary, table)
    assert any("--rtol 1e-12 --atol 1e-14" in line and "bias" in line for line in lines)


@pytest.mark.parametrize("optimizer", list(OptimizerName))
def test_optimizers_never_follow_a_nonfinite_gradient(sqrt_problem, optimizer):
    obj = sqrt_problem
    obj.clear_cache()
    local, f = minimize(obj, np.array([np.log10(0.8), 1.5]), np.array([-2.0, 0.0]),
                        np.array([1.0, 2.0]), optimizer)
    assert f.best is not None and f.best.ok
    assert_honest(local, f, np.array([-2.0, 0.0]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("optimizer", ["lbfgsb", "least_squares"])
def test_a_raced_fit_on_the_blowup_model_reports_honest_starts(blowup, optimizer):
    problem, _ = blowup
    result = bngfit.fit(problem, optimizer=optimizer, n_starts=4, rng=3, engine="sequential",
                        race=3, race_budget=10)
    assert len(result.starts) == 4
    for s in result.starts:
        if s.status is StartStatus.CONVERGED:
            # the optimum is inside the box: no active bound at a converged start
            assert s.grad_norm <= STATIONARY_RTOL * (1 + abs(s.fval)), s
    assert result.best.status is StartStatus.CONVERGED
    np.testing.assert_allclose(10**result.best.x, [K_TRUE, D_TRUE], rtol=1e-4)


def test_check_grad_command_shows_the_nonfinite_row(sqrt_problem, tmp_path):
    """The command line reaches the table at such a point (it used to stop at status)."""
    import json
    import subprocess
    import sys

    point = tmp_path / "point.tsv"
    point.write_text(f"parameterId\tvalue\nk1\t{float(np.log10(0.8))!r}\noff\t0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bngfit.cli", "check-grad", str(sqrt_problem.problem.source),
         "--point", str(point), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = {r["parameterId"]: r for r in out["parameters"]}
    assert rows["off"]["grad"] is None  # JSON null: not finite
    assert rows["off"]["verdict"] == "mismatch" and out["verdicts"]["mismatch"] == 1
    assert rows["k1"]["grad"] is not None and rows["k1"]["rel_err"] < 1e-4
