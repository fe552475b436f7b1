"""PyBNF .prop constraints in a fit: the constraint demo, end to end.

parabola.bngl (constraint_demo): a counter x grows at rate 1 from 0, par = a x^2 -
b x + c and line = d x + e; the model's action samples 0..10 in 1000 steps. The
penalty of each constraint is PyBNF's (bngfit.likelihood._penalties, checked against the
docs' formulas in test_prop.py); here it is applied to the closed-form
trajectories, independently of the simulator, and compared with what the
objective adds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import bngfit
from bngfit.likelihood._penalties import penalty
from bngfit.pybnf.bpsl._prop import read_prop
from tests.helpers import needs_bng, shared_path

pytestmark = needs_bng


def _demo():
    return shared_path("benchmarks", "pybnf", "constraint_demo", "parabola.conf")


def test_constraint_penalties_match_the_closed_form_trajectories():
    problem = bngfit.load_problem(_demo())
    lines = (_demo().parent / "par.prop").read_text().splitlines()
    assert len(problem.penalties) == sum(1 for ln in lines if ln.strip()
                                         and not ln.lstrip().startswith("#"))
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-12)
    v = np.array([1.0, 5.0, 4.0, 2.0, 3.0])  # a, b, c, d, e
    ev = obj(v, sensi=1)
    assert ev.ok, ev.message
    data_only = bngfit.Objective(dataclasses.replace(problem, penalties=()),
                                 rtol=1e-11, atol=1e-12)(v).fval
    t = np.linspace(0.0, 10.0, 1001)
    series = {"x": t, "par": v[0] * t**2 - v[1] * t + v[2], "line": v[3] * t + v[4]}
    props = read_prop(_demo().parent / "par.prop")
    expected = sum(penalty(c, t, series)[0] for c in props)
    assert expected > 0  # these parameters violate constraints
    assert ev.fval - data_only == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_constraints_without_data_evaluate_to_the_closed_form_penalty():
    """A problem of constraints only (no measurements) is a valid objective."""
    problem = bngfit.load_problem(_demo())
    m = problem.measurements
    empty = dataclasses.replace(m, **{f.name: getattr(m, f.name)[:0]
                                      for f in dataclasses.fields(m)})
    obj = bngfit.Objective(dataclasses.replace(problem, measurements=empty),
                           rtol=1e-11, atol=1e-12)
    v = np.array([1.0, 5.0, 4.0, 2.0, 3.0])
    ev = obj(v, sensi=1)
    assert ev.ok, ev.message
    t = np.linspace(0.0, 10.0, 1001)
    series = {"x": t, "par": v[0] * t**2 - v[1] * t + v[2], "line": v[3] * t + v[4]}
    expected = sum(penalty(c, t, series)[0] for c in read_prop(_demo().parent / "par.prop"))
    assert ev.fval == pytest.approx(expected, rel=1e-8)
    table = bngfit.check_grad_multi_eps(obj, v)
    assert (table["rel_err"] < 1e-6).all(), table


def test_constraint_gradient_against_finite_differences():
    problem = bngfit.load_problem(_demo())
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-12)
    v = np.array([1.0, 5.0, 4.0, 2.0, 3.0])
    table = bngfit.check_grad_multi_eps(obj, v)
    assert (table["rel_err"] < 1e-6).all(), table


def test_fit_satisfies_data_and_constraints():
    problem = bngfit.load_problem(_demo())
    result = bngfit.fit(problem, optimizer="fides", n_starts=4, rng=0, engine="sequential")
    # three exact data points leave only the Gaussian normalisation, and no penalty
    # (the penalties' kinks stop the optimizer a little short of it)
    assert result.best_fval == pytest.approx(3 * 0.5 * np.log(2 * np.pi), abs=1e-3)
    best = bngfit.Objective(problem)(result.best.x)
    without = bngfit.Objective(dataclasses.replace(problem, penalties=()))(result.best.x)
    assert best.fval - without.fval == pytest.approx(0.0, abs=1e-9)  # constraints hold


def test_constraints_of_a_mutant_read_the_mutant_simulation(tmp_path):
    """``mutant = parabola dbl a__FREE*2 : pardbl.prop`` reads par run on the mutant."""
    import shutil

    d = tmp_path / "demo"
    shutil.copytree(_demo().parent, d)
    (d / "pardbl.prop").write_text("par < 40 always weight 3\npar > line at x=1\n")
    conf = d / "parabola.conf"
    conf.write_text(conf.read_text() + "\nmutant = parabola dbl a__FREE*2 : pardbl.prop\n")
    problem = bngfit.load_problem(conf)
    base = bngfit.load_problem(_demo())
    v = np.array([1.0, 5.0, 4.0, 2.0, 3.0])
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-12)
    ev = obj(v, sensi=1)
    assert ev.ok, ev.message
    plain = bngfit.Objective(base, rtol=1e-11, atol=1e-12)(v).fval
    t = np.linspace(0.0, 10.0, 1001)
    series = {"x": t, "par": 2 * v[0] * t**2 - v[1] * t + v[2], "line": v[3] * t + v[4]}
    expected = sum(penalty(c, t, series)[0] for c in read_prop(d / "pardbl.prop"))
    assert expected > 0  # both constraints are violated here
    assert ev.fval - plain == pytest.approx(expected, rel=1e-8)
    table = bngfit.check_grad_multi_eps(obj, v)
    assert (table["rel_err"] < 1e-6).all(), table
