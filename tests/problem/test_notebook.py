"""Problems in a notebook: a short repr, an escaped HTML table, ``fix`` and ``sample_starts``;
and the reprs of objectives and evaluations."""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.optimize._multistart import start_points
from bngfit.optimize._settings import FitSettings
from tests.helpers import EXAMPLE, par


def test_problem_repr_is_one_short_line():
    p = bngfit.load_problem(EXAMPLE)
    assert repr(p) == ("Problem('problem.yaml', model model.ant (ant), 4 free / 1 fixed "
                       "parameters, 2 conditions, 2 observables, 32 measurements)")


def test_problem_html_is_a_compact_escaped_table(problem_writer):
    path = problem_writer(
        "esc", model="model m\n  species A; A = 1; k = 1;\n  J: A -> ; k*A\nend\n",
        parameters=[par("k", 1.0)],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "0.1"}],
        measurements=[{"observableId": "obs_A", "simulationConditionId": "c0", "time": 1,
                       "measurement": 0.4}],
        conditions=[{"conditionId": "c0"}])
    p = bngfit.load_problem(path)
    page = p._repr_html_()
    assert page.count("<table") == 2 and len(page) < 5000
    assert "free parameters</td>" in page and ">k</td>" in page
    # an id with markup in it is shown as text
    q = p.fix({})
    object.__setattr__(q, "conditions", {"<i>c0</i>": p.conditions["c0"]})
    assert "&lt;i&gt;c0&lt;/i&gt;" in q._repr_html_() and "<i>" not in q._repr_html_()


def test_fix_returns_a_new_problem_with_the_value_fixed():
    p = bngfit.load_problem(EXAMPLE)
    q = p.fix({"k1": 0.3, "sigma_A": 0.2})
    assert q is not p and p.x_names == ["k1", "k2", "scale_B", "sigma_B"]
    assert q.x_names == ["k2", "scale_B", "sigma_B"]
    spec = {s.id: s for s in q.parameters}
    assert spec["k1"].nominal == 0.3 and not spec["k1"].estimate
    assert spec["sigma_A"].nominal == 0.2
    assert repr(q).count("3 free / 2 fixed") == 1


@pytest.mark.parametrize("values, match", [
    ({"kx": 1.0}, r"cannot fix 'kx': no parameter of the problem has this id"),
    ({"k1": float("nan")}, r"cannot fix 'k1' at nan: the value must be a finite number"),
    ({"k1": float("inf")}, r"cannot fix 'k1' at inf"),
    ({"k1": "fast"}, r"cannot fix 'k1' at 'fast'"),
    ({"k1": True}, r"cannot fix 'k1' at True"),
    ({"k1": 1000.0}, r"cannot fix 'k1' at 1000\.0: outside its bounds \[0\.001, 100\.0\]"),
    ({"k1": 0.0001}, r"cannot fix 'k1' at 0\.0001: outside its bounds"),
])
def test_fix_refuses_bad_ids_and_values(values, match):
    p = bngfit.load_problem(EXAMPLE)
    with pytest.raises(bngfit.InputError, match=match) as info:
        p.fix(values)
    assert info.value.issues[0].id == next(iter(values))


@pytest.mark.parametrize("sampler", ["uniform", "lhs"])
def test_sample_starts_are_the_points_fit_starts_from(sampler):
    p = bngfit.load_problem(EXAMPLE)
    settings = FitSettings.resolve(p, stored=None, n_starts=6, rng=11, sampler=sampler)
    expected = start_points(p, settings)
    got = p.sample_starts(6, 11, sampler)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (6, 4) and (got >= p.lb).all() and (got <= p.ub).all()
    gen = np.random.default_rng(11)
    np.testing.assert_array_equal(p.sample_starts(6, gen, sampler), expected)


def test_sample_starts_of_a_fit_match_its_x0(problem_writer):
    p = bngfit.load_problem(EXAMPLE)
    r = bngfit.fit(p, n_starts=3, rng=5, engine="sequential", race=1)
    x0 = np.array([s.x0 for s in sorted(r.starts, key=lambda s: s.index)])
    np.testing.assert_array_equal(x0, p.sample_starts(3, 5))


def test_objective_and_evaluation_reprs_are_short():
    p = bngfit.load_problem(EXAMPLE)
    obj = bngfit.Objective(p)
    assert repr(obj) == ("Objective('problem.yaml', n_x=4, 32 measurements, terms: data "
                         "likelihood, rtol=1e-08, atol=1e-10, residuals)")
    assert "<td" in obj._repr_html_() and "data likelihood" in obj._repr_html_()
    ev = obj(p.x_nominal)
    text = repr(ev)
    assert text.startswith(f"Evaluation(fval={ev.fval:.8g}, |grad|=")
    assert f"|grad|={np.linalg.norm(ev.grad):.3g}, status=ok, n_x=4" in text
    assert len(text) < 200
    assert ev.res.size == 48  # built on first read: then its size is shown
    assert repr(ev).endswith(f"n_res={ev.res.size})")
    page = ev._repr_html_()
    assert ">fval</td>" in page and ">ok</td>" in page
