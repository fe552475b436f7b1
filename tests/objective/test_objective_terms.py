"""The objective as a sum of terms, and the types around it.

- The fused Gaussian path of the data likelihood equals its general path to
  1e-12 (relative) in fval, gradient, residuals and residual Jacobian over the
  gradient catalogue (``SPECS`` of ``tests/catalogue.py``; each entry made Gaussian
  without transformation, which is where the fused path applies), with and
  without sensitivities, and both fail alike.
- A further term with a residual form is summed, its residuals stacked and its
  derivatives taken to optimizer space once: against closed forms.
- ``Problem.to_native`` against the closed form of each scale.
- ``Evaluation``: built by keyword only, frozen, residuals built once on first
  read and pickled built.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

import bngfit
from bngfit.objective._evaluation import Evaluation, LazyResiduals
from bngfit.objective._status import STATUS_MESSAGES, EvalStatus, status_message
from bngfit.objective._terms import Contribution
from bngfit.observe._kernels import KERNEL_KINDS, KernelKind
from bngfit.problem._problem import NoiseFamily, Transform
from tests.catalogue import POINTS, SPEC_NAMES, SPECS, write_spec
from tests.helpers import ATOL_SOLVER, RTOL_SOLVER, native, perturbed_point

RTOL = 1e-12


def _gaussian(problem, transform=Transform.LIN):
    """The problem with every observable Gaussian, under one transformation."""
    obs = {k: dataclasses.replace(o, family=NoiseFamily.NORMAL, transform=transform,
                                  shape=None)
           for k, o in problem.observables.items()}
    return dataclasses.replace(problem, observables=obs)


def _same(got, want, what):
    """``got`` equals ``want`` to RTOL relative to the largest |entry| of ``want``."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if not want.size:
        return
    scale = float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got - want)))
    assert err <= RTOL * scale, f"{what}: off by {err:.3g} (scale {scale:.3g})"


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """Fused and general objectives of each catalogue entry, Gaussian, one transformation."""
    cache = {}

    def get(name, transform=Transform.LIN):
        if (name, transform) not in cache:
            rng = np.random.default_rng(3000 + SPEC_NAMES.index(name))
            spec = SPECS[name](rng)
            problem = _gaussian(bngfit.load_problem(
                write_spec(tmp_path_factory.mktemp(name), spec)), transform)
            fused = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            general = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            general.likelihood.fused = False
            points = {"nominal": problem.x_nominal, "perturbed": perturbed_point(problem, rng)}
            cache[name, transform] = (problem, fused, general, points)
        return cache[name, transform]

    return get


@pytest.mark.parametrize("transform", [Transform.LIN, Transform.LOG, Transform.LOG10])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("name", SPEC_NAMES)
def test_fused_gaussian_path_equals_the_general_path(name, point, transform, paths,
                                                     monkeypatch):
    problem, fused, general, points = paths(name, transform)
    assert fused.likelihood.fused and fused.has_residuals
    x = points[point]
    general.clear_cache()
    if not general(x, sensi=1).ok:
        # an observable <= 0 under a log: the fused path hands over, the result is the same
        assert transform is not Transform.LIN
        fused.clear_cache()
        a, b = fused(x, sensi=1), general(x, sensi=1)
        assert not a.ok and (a.status, a.message) == (b.status, b.message)
        return

    def general_path_taken(*args):
        raise AssertionError("the fused objective took the general path")

    monkeypatch.setattr(fused.likelihood, "general", general_path_taken)
    x = points[point]
    for sensi in (1, 0):
        fused.clear_cache()
        general.clear_cache()
        a, b = fused(x, sensi=sensi), general(x, sensi=sensi)
        assert a.ok and b.ok, (a.message, b.message)
        assert a.fval == pytest.approx(b.fval, rel=RTOL, abs=0)
        assert a.chi2 == pytest.approx(b.chi2, rel=RTOL, abs=0)
        _same(a.res, b.res, f"{name}@{point} res (sensi={sensi})")
        if sensi:
            _same(a.grad, b.grad, f"{name}@{point} grad")
            _same(a.sres, b.sres, f"{name}@{point} sres")
            # every column of the Jacobian carries information here
            assert np.all(np.any(b.sres != 0.0, axis=0)) or name in _VANISHING
        else:
            assert a.grad is None and b.grad is None and a.sres is None and b.sres is None
    # the residual rows of estimated noise scales are compared too
    assert a.res.size == len(problem.measurements) + fused.plan.sigma_rows.size


# Entries with a free parameter overridden away everywhere (its column is zero).
_VANISHING = {n for n in SPEC_NAMES if SPECS[n](np.random.default_rng(0)).may_vanish}


def test_both_paths_fail_alike(paths):
    """A negative sigma: the fused path hands over, the general path says where."""
    problem, fused, general, _ = paths("scales_obspars_noisepars")
    # noise 'noiseParameter1 * (1 + b_rel * C)' with b_rel far below its bound
    x = problem.x_from_native({"b_rel": -50.0})
    a, b = fused(x), general(x)
    assert a.status == b.status == EvalStatus.INVALID_VALUE
    assert a.message == b.message
    assert a.message.startswith(STATUS_MESSAGES[EvalStatus.INVALID_VALUE])
    assert "noise of observable 'obs_C'" in a.message and "sigma must be finite" in a.message


# ------------------------------------------------------------- a further term
class Anchor:
    """``0.5 * sum(((theta - c) / s)^2)`` with its residual form: a test term."""

    has_residuals = True

    def __init__(self, c, s):
        self.c, self.s = np.asarray(c, float), np.asarray(s, float)
        self.built = 0

    def evaluate(self, observation, sensi):
        r = (observation.theta - self.c) / self.s

        def residuals():
            self.built += 1
            return r, (np.diag(1.0 / self.s) if sensi else None)

        return Contribution(fval=0.5 * float(r @ r), grad=r / self.s if sensi else None,
                            residuals=residuals)


def _dtheta_dx(problem, theta):
    factor = {"lin": 1.0, "log": 1.0, "log10": np.log(10.0)}
    return np.array([1.0 if p.scale.value == "lin" else theta[i] * factor[p.scale.value]
                     for i, p in enumerate(problem.free)])


def test_a_further_term_is_summed_stacked_and_chained_once(tmp_path):
    """Mixed lin/log/log10 scales; data residuals with sigma rows, then the term's."""
    name = "scales_obspars_noisepars"
    spec = SPECS[name](np.random.default_rng(1000 + SPEC_NAMES.index(name)))
    problem = bngfit.load_problem(write_spec(tmp_path, spec))
    assert {p.scale.value for p in problem.free} == {"lin", "log", "log10"}
    base = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
    obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
    n = len(problem.free)
    c = np.linspace(0.1, 1.0, n)
    s = np.linspace(0.5, 2.0, n)
    term = Anchor(c, s)
    obj.add_term(term)
    assert obj.has_residuals
    x = perturbed_point(problem, np.random.default_rng(5))
    ev, data = obj(x), base(x)
    assert ev.ok, ev.message
    theta = native(problem, x)
    r = (theta - c) / s
    chain = _dtheta_dx(problem, theta)
    assert ev.fval == pytest.approx(data.fval + 0.5 * float(r @ r), rel=1e-13)
    assert ev.chi2 == data.chi2
    np.testing.assert_allclose(ev.grad, data.grad + r / s * chain, rtol=1e-12, atol=1e-14)
    assert term.built == 0  # residuals are built when read, once
    np.testing.assert_allclose(ev.res, np.concatenate((data.res, r)), rtol=1e-13)
    np.testing.assert_allclose(ev.sres, np.vstack((data.sres, np.diag(chain / s))),
                               rtol=1e-12, atol=1e-14)
    assert term.built == 1
    # the convention pin holds for the sum: grad = sres.T @ res
    np.testing.assert_allclose(ev.grad, ev.sres.T @ ev.res, rtol=1e-9, atol=1e-12)
    # a term without a residual form takes the objective's away
    obj.add_term(_NoResiduals())
    assert not obj.has_residuals
    assert obj(x).res is None


@dataclasses.dataclass
class _NoResiduals:
    has_residuals: bool = False

    def evaluate(self, observation, sensi):
        return Contribution(fval=1.0, grad=np.zeros(observation.theta.size) if sensi else None)


def test_a_term_that_fails_fails_the_evaluation(tmp_path):
    name = "scales_obspars_noisepars"
    spec = SPECS[name](np.random.default_rng(1000 + SPEC_NAMES.index(name)))
    problem = bngfit.load_problem(write_spec(tmp_path, spec))
    obj = bngfit.Objective(problem)

    class Broken:
        has_residuals = True

        def evaluate(self, observation, sensi):
            return Contribution.invalid("the anchor is undefined here")

    obj.add_term(Broken())
    ev = obj(problem.x_nominal)
    assert ev.status == EvalStatus.INVALID_VALUE and ev.fval == np.inf
    assert ev.message == status_message(EvalStatus.INVALID_VALUE, "the anchor is undefined here")
    assert np.isnan(ev.grad).all() and ev.res is None


# ---------------------------------------------------------------- to_native
def test_to_native_is_the_closed_form_of_each_scale(tmp_path):
    name = "scales_obspars_noisepars"
    spec = SPECS[name](np.random.default_rng(0))
    problem = bngfit.load_problem(write_spec(tmp_path, spec))
    x = np.linspace(-1.5, 1.5, len(problem.free))
    want = [v if p.scale.value == "lin" else (np.exp(v) if p.scale.value == "log" else 10.0**v)
            for v, p in zip(x, problem.free, strict=True)]
    np.testing.assert_allclose(problem.to_native(x), want, rtol=1e-15)
    np.testing.assert_allclose(problem.to_native(problem.x_nominal),
                               [p.nominal for p in problem.free], rtol=1e-14)
    with pytest.raises(ValueError, match="shape"):
        problem.to_native(x[:-1])


# ------------------------------------------------------------------ types
def _evaluation(**kw):
    base = {"x": np.zeros(2), "fval": 1.0, "grad": np.ones(2), "chi2": 0.5,
            "simulation": np.zeros(3), "sigma": np.ones(3)}
    return Evaluation(**{**base, **kw})


def test_evaluation_is_built_by_keyword_and_frozen():
    with pytest.raises(TypeError):
        Evaluation(np.zeros(2), 1.0, np.ones(2), 0.5, np.zeros(3), np.ones(3))
    ev = _evaluation()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.fval = 2.0
    assert ev.ok and ev.res is None and ev.sres is None
    bad = ev.rejected(EvalStatus.INVALID_GRADIENT, "why")
    assert not bad.ok and bad.message == "why" and bad.grad is ev.grad


def test_lazy_residuals_are_built_once_on_read_and_pickle_built():
    calls = []
    res, sres = np.arange(3.0), np.eye(3)[:, :2]

    def build():
        calls.append(1)
        return res, sres

    ev = _evaluation(residuals=LazyResiduals(build))
    assert not calls
    back = pickle.loads(pickle.dumps(ev))  # the closure stays behind
    assert len(calls) == 1
    np.testing.assert_array_equal(back.res, res)
    np.testing.assert_array_equal(back.sres, sres)
    assert ev.res is ev.residuals.get()[0] and len(calls) == 1
    assert ev.rejected(EvalStatus.INVALID_GRADIENT, "why").res is None


def test_vocabularies_have_a_sentence_each():
    assert set(STATUS_MESSAGES) == set(EvalStatus)
    assert set(KERNEL_KINDS) == set(KernelKind)
    for status in EvalStatus:
        assert status.sentence and status_message(status, "d") == f"{status.sentence}: d"
    assert all(k.sentence for k in KernelKind)


def test_the_prop_reader_builds_the_format_free_constraint_types():
    # (that the penalty math imports no reader is an import contract, checked in CI)
    from bngfit.problem import _constraints as constraint_types
    from bngfit.pybnf.bpsl import _prop as pybnf_prop

    assert pybnf_prop.Constraint is constraint_types.Constraint
