"""Conditions that share a pre-equilibration run it once per evaluation, exactly.

Three measured conditions after the same pre-equilibration condition: the first
runs it and carries its sensitivities; the others restart from its end state,
seeded with its dx/dtheta, one of them setting a species to a free parameter.
Values, gradients and residual Jacobians are checked against the closed form of
test_preeq_accuracy.py (``helpers.preeq_closed_form``), and the
pre-equilibration is counted.
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.simulate._engine import Engine
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

# condition id -> whether it resets B to the free parameter B_reset
CONDITIONS = {"dose": False, "dose_reset": True, "dose_again": False}


@pytest.fixture()
def shared_problem(problem_writer):
    rng = np.random.default_rng(5)
    meas = []
    for cid, reset_b in CONDITIONS.items():
        truth, _ = preeq_closed_form(dict(PREEQ_THETA), reset_b)
        for obs, col in (("obs_A", 0), ("obs_B", 1)):
            for i, t in enumerate(PREEQ_TIMES):
                meas.append({"observableId": obs, "preequilibrationConditionId": "pre",
                             "simulationConditionId": cid, "time": t,
                             "measurement": truth[i, col] * (1 + 0.05 * rng.standard_normal())})
    conditions = [{"conditionId": "pre", "u": U_PRE, "B": None}]
    conditions += [{"conditionId": cid, "u": U_MAIN, "B": "B_reset" if reset else None}
                   for cid, reset in CONDITIONS.items()]
    path = problem_writer(
        "shared",
        model=PREEQ_MODEL,
        parameters=[{"parameterId": k, "parameterScale": "log10", "lowerBound": v / 100,
                     "upperBound": v * 100, "nominalValue": v, "estimate": 1}
                    for k, v in PREEQ_THETA.items()],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": PREEQ_SIGMA},
                     {"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": PREEQ_SIGMA}],
        measurements=meas,
        conditions=conditions,
    )
    return bngfit.load_problem(path)


def _expected(problem, x):
    """fval, grad and sres of the problem at x from the closed form."""
    names = problem.x_names
    p = dict(zip(names, 10.0**x, strict=True))
    cols = [PREEQ_FREE.index(n) for n in names]
    meas = problem.measurements
    h = np.empty(len(meas.value))
    dh = np.empty((len(meas.value), len(names)))
    for cid, reset_b in CONDITIONS.items():
        states, dstates = preeq_closed_form(p, reset_b)
        rows = np.flatnonzero(np.asarray(meas.condition) == cid)
        col = np.array([0 if meas.observable[i] == "obs_A" else 1 for i in rows])
        k = np.searchsorted(PREEQ_TIMES, meas.time[rows])
        h[rows] = states[k, col]
        dh[rows] = dstates[k, col][:, cols]
    r = (h - meas.value) / PREEQ_SIGMA
    chain = 10.0**x * np.log(10.0)
    fval = float(np.sum(0.5 * np.log(2 * np.pi * PREEQ_SIGMA**2) + 0.5 * r**2))
    return h, fval, (r / PREEQ_SIGMA) @ dh * chain, dh / PREEQ_SIGMA * chain


def test_shared_preequilibration_matches_closed_form(shared_problem):
    problem = shared_problem
    assert sorted(set(problem.measurements.condition)) == sorted(CONDITIONS)
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    x = problem.x_nominal + np.random.default_rng(2).uniform(-0.2, 0.2, len(problem.x_names))
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    h, fval, grad, sres = _expected(problem, x)
    np.testing.assert_allclose(ev.simulation, h, rtol=1e-8)
    assert ev.fval == pytest.approx(fval, rel=1e-9)
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-7, atol=1e-9 * np.abs(grad).max())
    np.testing.assert_allclose(ev.sres, sres, rtol=1e-7, atol=1e-9 * np.abs(sres).max())
    obj.clear_cache()
    ev0 = obj(x, sensi=0)
    np.testing.assert_allclose(ev0.simulation, h, rtol=1e-8)


def test_preequilibration_runs_once_per_evaluation(shared_problem, monkeypatch):
    runs = []
    original = Engine._preeq_grid

    def counting(self, phase=None):
        runs.append(phase)
        return original(self, phase)

    monkeypatch.setattr(Engine, "_preeq_grid", counting)
    obj = bngfit.Objective(shared_problem)
    x = np.asarray(shared_problem.x_nominal, float)
    for sensi in (1, 0, 1):
        obj.clear_cache()
        runs.clear()
        assert obj(x, sensi=sensi).ok
        # one pre-equilibration per evaluation, not one per condition; and a new
        # evaluation at the same point runs it again (evaluations never share)
        assert len(runs) == 1


def test_shared_and_separate_runs_agree(shared_problem, monkeypatch):
    """Sharing changes which route runs, not the answer (to solver tolerance)."""
    x = shared_problem.x_nominal + 0.1
    shared = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13)(x, sensi=1)
    monkeypatch.setattr(Engine, "_remember", lambda self, *args: None)
    alone = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13)(x, sensi=1)
    assert shared.fval == pytest.approx(alone.fval, rel=1e-10)
    np.testing.assert_allclose(shared.grad, alone.grad, rtol=1e-6,
                               atol=1e-9 * np.abs(alone.grad).max())


def test_sharing_falls_back_when_bngsim_cannot_seed_the_species(shared_problem, monkeypatch):
    import bngsim

    x = shared_problem.x_nominal + 0.1
    expected = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13)(x, sensi=1)
    original = Engine._restart
    calls = []

    def refuse_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first restart is a shared one (condition 2 of 3)
            raise bngsim.SensitivityUnsupportedError("no IC sensitivity for this species")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "_restart", refuse_first)
    obj = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13)
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    assert not obj.engine._share_pre
    assert ev.fval == pytest.approx(expected.fval, rel=1e-10)
    np.testing.assert_allclose(ev.grad, expected.grad, rtol=1e-6,
                               atol=1e-9 * np.abs(expected.grad).max())


def test_restarts_seed_the_parameter_columns_not_extra_ones(shared_problem, monkeypatch):
    """A restart declares dx0/dtheta as its parameter columns' start (no species columns);
    forcing species columns instead gives the same numbers, to solver tolerance."""
    from bngfit.simulate import _engine

    x = shared_problem.x_nominal + 0.1
    obj = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13, threads=1)
    declared = obj(x, sensi=1)
    assert declared.ok
    species_cols = [key for key in obj.engine._sims if key[0] is not None and key[1]]
    assert not species_cols, "no Simulator with initial-value columns was built"
    monkeypatch.setattr(_engine, "declared_rows", lambda *args, **kwargs: None)
    forced = bngfit.Objective(shared_problem, rtol=1e-11, atol=1e-13, threads=1)
    columns = forced(x, sensi=1)
    assert [key for key in forced.engine._sims if key[0] is not None and key[1]]
    assert declared.fval == pytest.approx(columns.fval, rel=1e-10)
    np.testing.assert_allclose(declared.grad, columns.grad, rtol=1e-6,
                               atol=1e-9 * np.abs(columns.grad).max())


def test_declared_rows_only_where_the_columns_carry_every_theta():
    from bngfit.simulate._sensitivities import declared_rows

    dx0 = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    rows = declared_rows(["A", "B"], dx0, np.array([2, 0]), ("kb", "ka"), 3)
    assert rows == {"A": {"kb": 2.0, "ka": 1.0}, "B": {}}
    assert declared_rows(["A", "B"], dx0, None, ("kb", "ka"), 3) is None
    # theta 2 moves A but no parameter column is theta 2's
    assert declared_rows(["A", "B"], dx0, np.array([0, 1]), ("ka", "kc"), 3) is None
