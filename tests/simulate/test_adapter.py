"""The bngsim engine adapter: same numbers on and off, and its safety nets fire."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import bngfit
from bngfit.simulate import _adapter, _run_check
from tests.catalogue import every_problem
from tests.helpers import central_grad, meas_rows, par


def _evaluate(problem, x):
    ev = bngfit.Objective(problem)(x, sensi=1)
    assert ev.ok, ev.message
    return ev


@pytest.fixture
def adapter_off(monkeypatch):
    """Run the block with the adapter off; restore it after."""

    def off():
        monkeypatch.setenv(_adapter.SWITCH, "0")
        _adapter.uninstall()

    yield off
    monkeypatch.delenv(_adapter.SWITCH, raising=False)
    _adapter.STATE.refused = None
    _adapter.install()


def test_gradients_are_unchanged_on_the_whole_catalogue(problem_writer, tmp_path, adapter_off):
    assert _adapter.install(), "the adapter should be active on the verified bngsim"
    cases = every_problem(problem_writer, tmp_path)
    on = {name: _evaluate(problem, x) for name, problem, x in cases}
    adapter_off()
    assert not _adapter.install()
    for name, problem, x in cases:
        a, b = on[name], _evaluate(problem, x)
        assert a.fval == pytest.approx(b.fval, rel=1e-12, abs=0), name
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=0, err_msg=name)
        if b.res is not None:
            np.testing.assert_allclose(a.sres, b.sres, rtol=1e-12, atol=0, err_msg=name)
    assert len(cases) >= 40


DERIVED_IC = """
model derived
  species A, B;
  A0 = 1; A := 2*A0 + k2;
  B = 0;
  k1 = 0.8; k2 = 0.6;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
end
""".replace("A := 2*A0 + k2;", "A = 2*A0 + k2;")


def _derived_ic_problem(problem_writer):
    rng = np.random.default_rng(7)
    path = problem_writer(
        "derived", model=DERIVED_IC,
        parameters=[par("A0", 1.0), par("k1", 0.8), par("k2", 0.6)],
        observables=[{"observableId": "obs_B", "observableFormula": "B", "noiseFormula": 0.1}],
        measurements=meas_rows(rng, "obs_B", "c0"))
    return bngfit.load_problem(path)


def _prepare_keys():
    return [k for k in _adapter.STATE.cache if k[0] == "_prepare"]


def test_a_kept_parse_that_differs_from_a_fresh_one_turns_it_off(problem_writer, adapter_off):
    problem = _derived_ic_problem(problem_writer)
    _adapter.uninstall()
    assert _adapter.install()
    _adapter.STATE.compiled = False  # bngsim's own partials: they reuse the parse
    reference = _evaluate(problem, problem.x_nominal)  # fills the cache
    keys = _prepare_keys()
    assert keys, "the model's initial amount of A is derived"
    result, _ = _adapter.STATE.cache[keys[0]]
    planted = (result[0]._replace(sym_expr=result[0].sym_expr * 2), result[1])
    _adapter.STATE.cache[keys[0]] = (planted, False)
    again = _evaluate(problem, problem.x_nominal)
    assert not _adapter.STATE.active and _adapter.STATE.refused
    np.testing.assert_array_equal(again.grad, reference.grad)


def test_a_compiled_partial_that_differs_from_bngsims_turns_it_off(problem_writer, adapter_off):
    problem = _derived_ic_problem(problem_writer)
    _adapter.uninstall()
    assert _adapter.install() and _adapter.STATE.compiled
    reference = _evaluate(problem, problem.x_nominal)
    keys = [k for k in _adapter.STATE.cache if k[0] == "partials"]
    assert keys
    (referenced, partials), _ = _adapter.STATE.cache[keys[0]]
    wrong = tuple((name, lambda *a, f=f: 1.000001 * f(*a)) for name, f in partials)
    _adapter.STATE.cache[keys[0]] = ((referenced, wrong), False)
    again = _evaluate(problem, problem.x_nominal + 1e-3)
    assert not _adapter.STATE.active and _adapter.STATE.refused
    off = bngfit.Objective(problem)(problem.x_nominal + 1e-3, sensi=1)
    np.testing.assert_array_equal(again.grad, off.grad)
    assert not np.array_equal(again.grad, reference.grad)


def test_the_derived_initial_amount_gradient_matches_finite_differences(problem_writer):
    problem = _derived_ic_problem(problem_writer)
    assert _adapter.install()
    obj = bngfit.Objective(problem)
    x = problem.x_nominal
    obj(x, sensi=1)
    ev = obj(x, sensi=1)  # the second run reads the kept parse
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-5, atol=1e-6)


def test_a_run_that_differs_unpatched_turns_it_off(adapter_off):
    _adapter.uninstall()
    assert _adapter.install()
    _adapter.STATE.run_checked = False
    calls = iter([(np.ones(3), np.zeros((3, 2))), (np.ones(3), np.ones((3, 2)))])
    y, dy = _run_check.checked(lambda: next(calls))
    np.testing.assert_array_equal(dy, np.zeros((3, 2)))  # the unpatched run's
    assert not _adapter.STATE.active and _adapter.STATE.refused


def test_the_switch_turns_it_off():
    code = ("import bngfit, bngsim._codegen as c; from bngfit.simulate import _adapter;"
            "print(_adapter.install(), c._prepare_derived_expr.__module__)")
    env_off = {"BNGFIT_ENGINE_ADAPTER": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env_off}, check=True).stdout.split()
    assert out == ["False", "bngsim._codegen"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "BNGFIT_ENGINE_ADAPTER"},
                         check=True).stdout.split()
    assert out == ["True", "bngfit.simulate._adapter"]


def test_only_bngsims_default_namespace_parses_are_kept(adapter_off):
    from sympy.parsing.sympy_parser import parse_expr

    _adapter.uninstall()
    assert _adapter.install()
    parse_expr("a_from_bngfit + 1")
    import sympy

    sympy.sympify("b_from_sympify * 2")
    assert not [k for k in _adapter.STATE.cache if k[0] == "parse"]
    # as bngsim calls it: from a bngsim module, sympy's default namespace
    namespace = {"__name__": "bngsim._switch_sensitivity", "parse_expr": parse_expr}
    exec("first = parse_expr('c_in_bngsim < 2', evaluate=True)", namespace)
    exec("again = parse_expr('c_in_bngsim < 2', evaluate=True)", namespace)
    assert ("parse", "c_in_bngsim < 2", True) in _adapter.STATE.cache
    assert namespace["again"] is namespace["first"]
    assert namespace["first"] == sympy.Lt(sympy.Symbol("c_in_bngsim"), 2)
    # a kept parse that differs from a fresh one turns the adapter off
    _adapter.STATE.cache[("parse", "d_in_bngsim", True)] = (sympy.Symbol("wrong"), False)
    exec("planted = parse_expr('d_in_bngsim', evaluate=True)", namespace)
    assert namespace["planted"] == sympy.Symbol("d_in_bngsim")
    assert not _adapter.STATE.active and _adapter.STATE.refused


def test_exact_mode_keeps_only_the_exact_memos():
    code = ("import bngfit; from bngfit.simulate import _adapter;"
            "print(_adapter.install(), _adapter.STATE.compiled)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "BNGFIT_ENGINE_ADAPTER": "exact"},
                         check=True).stdout.split()
    assert out == ["True", "False"]


def test_condition_scans_are_kept_and_checked(adapter_off):
    from bngsim import _switch_sensitivity

    _adapter.uninstall()
    assert _adapter.install()
    text = "if((A > 1) && (B < 2), k1, k2) + if(time >= tau, 1, 0)"
    plain = tuple(_adapter.STATE.originals["_iter_condition_atoms"](text))
    assert len(plain) == 3
    assert tuple(_switch_sensitivity._iter_condition_atoms(text)) == plain
    assert tuple(_switch_sensitivity._iter_condition_atoms(text)) == plain  # confirmed
    _adapter.STATE.cache[("_iter_condition_atoms", "if(C > 3, 1, 0)")] = (("wrong",), False)
    assert tuple(_switch_sensitivity._iter_condition_atoms("if(C > 3, 1, 0)")) != ("wrong",)
    assert not _adapter.STATE.active and _adapter.STATE.refused


SWITCHED = """
model switched
  species A, B;
  A = 1; B = 0;
  k1 = 0.8; k2 = 0.3; tau = 1.5;
  kf := piecewise(k1, time < 2*tau, k2);
  fwd: A -> B; kf*A;
end
"""


def test_a_model_with_a_time_switch_is_equal_on_and_off(problem_writer, adapter_off):
    rng = np.random.default_rng(11)
    path = problem_writer(
        "switched", model=SWITCHED,
        parameters=[par("k1", 0.8), par("k2", 0.3), par("tau", 1.5)],
        observables=[{"observableId": "obs_B", "observableFormula": "B", "noiseFormula": 0.1}],
        measurements=meas_rows(rng, "obs_B", "c0", times=(0.5, 1.0, 2.0, 4.0, 6.0)))
    problem = bngfit.load_problem(path)
    _adapter.uninstall()
    assert _adapter.install()
    # tight tolerances: the finite differences straddle the switch at t = 2*tau
    tight = {"rtol": 1e-12, "atol": 1e-14}
    obj = bngfit.Objective(problem, **tight)
    x = problem.x_nominal
    obj(x, sensi=1)
    on = obj(x + 1e-3, sensi=1)  # kept steps, confirmed
    kept = [k for k in _adapter.STATE.cache if k[0] == "_iter_condition_atoms"]
    assert _adapter.STATE.active and kept
    np.testing.assert_allclose(on.grad, central_grad(obj, x + 1e-3), rtol=1e-5, atol=1e-6)
    crossing = [k for k in _adapter.STATE.cache if k[0] == "crossing"]
    # tau moved between the two points: the verdict was asked again, not reused
    assert len({k[3] for k in crossing if k[2] == crossing[0][2]}) >= 2
    adapter_off()
    off = bngfit.Objective(problem, **tight)(x + 1e-3, sensi=1)
    np.testing.assert_allclose(on.grad, off.grad, rtol=1e-12, atol=0)


def _scope(values, derived=None):
    from types import SimpleNamespace

    names = ("k1", "k2", "tau", "onset")
    derived = {"onset": "2*tau"} if derived is None else derived
    return SimpleNamespace(
        clocks={}, clock_symbols=frozenset({"time"}), param_names=names,
        param_pats={n: __import__("re").compile(rf"\b{n}\b") for n in names},
        primary_names=frozenset(names) - set(derived), derived_exprs=derived,
        param_idx={n: i for i, n in enumerate(names)}, values=tuple(values),
        run_constants=frozenset(), function_names=frozenset())


def test_a_crossing_key_holds_every_value_the_atom_can_read():
    from bngfit.simulate._crossings import ScopeKeys

    keys = ScopeKeys()
    base = keys.key("crossing", "time() < onset", _scope([0.8, 0.3, 1.5, 3.0]))
    # k1 and k2 are not reachable from the atom: the same key
    assert keys.key("crossing", "time() < onset", _scope([0.1, 0.9, 1.5, 3.0])) == base
    # tau is, through the derived onset; onset's own slot too
    assert keys.key("crossing", "time() < onset", _scope([0.8, 0.3, 1.6, 3.0])) != base
    assert keys.key("crossing", "time() < onset", _scope([0.8, 0.3, 1.5, 3.1])) != base
    # a different parameter graph is a different structure
    other = _scope([0.8, 0.3, 1.5, 3.0], derived={"onset": "2*k1"})
    assert keys.key("crossing", "time() < onset", other) != base
    # -0.0 and 0.0 are different bytes: no value is rounded into another's key
    assert (keys.key("crossing", "time() < tau", _scope([0, 0, 0.0, 0]))
            != keys.key("crossing", "time() < tau", _scope([0, 0, -0.0, 0])))


def test_a_kept_crossing_verdict_that_differs_turns_it_off(adapter_off):
    from bngsim import _switch_sensitivity

    _adapter.uninstall()
    assert _adapter.install()
    scope = _scope([0.8, 0.3, 1.5, 3.0])
    key = _adapter.STATE.scopes.key("crossing", "time() < tau", scope)
    _adapter.STATE.cache[key] = ("planted", False)
    _switch_sensitivity.clock_crossing_compensated("time() < tau", scope)
    assert not _adapter.STATE.active and _adapter.STATE.refused
