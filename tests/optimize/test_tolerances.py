"""ODE tolerances chosen per problem: the choice, its record, and an outside check of it.

The outside reference is a solve at rtol 1e-12 / atol 1e-14, tighter than any
the choice itself uses (it compares with a solve 100 times tighter than the
step it checks).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

import bngfit
from bngfit.optimize._multistart import fit
from bngfit.optimize._tolerances import STEPS, choose_tolerances, probe_points
from tests.helpers import recovery_problem, shared_path


def test_given_tolerances_are_used_as_given(problem_writer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    c = choose_tolerances(problem, {"rtol": 1e-7})
    assert (c.rtol, c.atol, c.reason) == (1e-7, STEPS[0][1], "given")
    r = fit(problem, n_starts=1, engine="sequential", objective_opts={"atol": 1e-9})
    assert r.tolerances() == {"rtol": STEPS[0][0], "atol": 1e-9, "chosen": "given"}


def test_a_well_resolved_problem_keeps_the_default(problem_writer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    r = fit(problem, n_starts=1, engine="sequential")
    tol = r.tolerances()
    assert (tol["rtol"], tol["atol"]) == STEPS[0]
    assert tol["chosen"].startswith("the default: values and gradients agree")
    assert r.settings["objective_opts"] == {"rtol": STEPS[0][0], "atol": STEPS[0][1]}


def test_a_resumed_run_keeps_its_tolerances_even_from_an_older_store(problem_writer,
                                                                      tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    fit(problem, n_starts=1, rng=0, engine="sequential", store=db, max_time=1e-9,
        objective_opts={"rtol": 1e-7})
    # an older store: no tolerances recorded, no rtol/atol in its objective settings
    with sqlite3.connect(db) as conn:
        settings = json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'settings'").fetchone()[0])
        settings.pop("tolerances")
        settings["objective_opts"] = {}
        conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'",
                     (json.dumps(settings),))
    # resumed without a new choice (which would differ from the stored settings)
    r = fit(problem, engine="sequential", store=db, resume=True)
    assert r.tolerances() == {"rtol": STEPS[0][0], "atol": STEPS[0][1],
                              "chosen": "the defaults"}
    assert len(r.starts) == 1


def _value_and_gradient_gaps(obj: bngfit.Objective, ref: bngfit.Objective,
                             x: np.ndarray) -> tuple[float, float]:
    """|value with - without sensitivities| (relative) and the largest relative
    gradient error against ``ref`` over entries above 1e-2."""
    plain, sens, tight = obj(x, sensi=0), obj(x, sensi=1), ref(x, sensi=1)
    assert plain.ok and sens.ok and tight.ok
    dv = abs(plain.fval - sens.fval) / max(1.0, abs(sens.fval))
    big = np.abs(tight.grad) > 1e-2
    dg = float(np.max(np.abs(sens.grad[big] - tight.grad[big]) / np.abs(tight.grad[big])))
    return dv, dg


def test_tightened_where_the_default_is_not_accurate_and_right_after():
    problem = bngfit.load_problem(shared_path("benchmarks", "petab", "Brannmark_JBC2010",
                                              "Brannmark_JBC2010.yaml"))
    choice = choose_tolerances(problem, {})
    assert (choice.rtol, choice.atol) == STEPS[1], choice
    assert "tightened" in choice.reason and "gradient entry differs" in choice.reason
    ref = bngfit.Objective(problem, rtol=1e-12, atol=1e-14, threads=1)
    chosen = bngfit.Objective(problem, rtol=choice.rtol, atol=choice.atol, threads=1)
    default = bngfit.Objective(problem, rtol=STEPS[0][0], atol=STEPS[0][1], threads=1)
    points = probe_points(problem)
    # the default is off by more than 1e-3 somewhere...
    assert max(_value_and_gradient_gaps(default, ref, x)[1] for x in points) > 1e-3
    # ...the choice is right to 1e-3 (gradients) and 1e-6 (values) at every probe point
    for x in points:
        dv, dg = _value_and_gradient_gaps(chosen, ref, x)
        assert dv <= 1e-6 and dg <= 1e-3, (dv, dg)


@pytest.mark.parametrize(("verdicts", "chosen", "head"), [
    # per step, what the probe finds (None: agreement)
    ([None], STEPS[0], "the default"),
    (["values differ", None], STEPS[1], "tightened"),
    (["values differ", "a gradient entry differs", "a gradient entry differs"], STEPS[1],
     "no step makes every gradient entry agree, so the loosest at which values agree"),
    (["a gradient entry differs"] * 3, STEPS[0], "no step makes every gradient entry"),
    (["values differ"] * 3, STEPS[2], "no step makes every gradient entry"),
])
def test_the_rule_where_steps_fail(problem_writer, monkeypatch, verdicts, chosen, head):
    from bngfit.optimize import _tolerances

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    calls: dict[float, int] = {}

    def verdict(obj, ref, x):
        k = [r for r, _ in STEPS].index(obj.settings.rtol)
        calls[k] = calls.get(k, 0) + 1
        return verdicts[k]

    monkeypatch.setattr(_tolerances, "_disagreement", verdict)
    c = choose_tolerances(problem, {})
    assert (c.rtol, c.atol) == chosen and c.reason.startswith(head), c
    assert set(calls) == set(range(len(verdicts)))


def test_a_model_failing_at_every_probe_point_is_not_said_to_agree(problem_writer):
    # dX/dt = k X^2 blows up at t = 1/k: with data up to t = 2, every k > 0.5
    # fails; the nominal k = 5 and the points drawn +-0.3 decades around it all do.
    from tests.helpers import blowup_problem

    problem = blowup_problem(problem_writer, nominal=5.0)
    assert all(10 ** x[0] > 0.5 for x in probe_points(problem))
    c = choose_tolerances(problem, {})
    assert (c.rtol, c.atol) == STEPS[0]
    assert "nothing to compare: the model fails at every probe point" in c.reason
    assert "agree" not in c.reason
