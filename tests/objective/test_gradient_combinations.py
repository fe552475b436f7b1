"""Finite-difference oracle on problems that combine several features at once.

``test_gradients.py`` checks one feature per problem. Here every problem of a
fixed catalogue (``SPECS`` of ``tests/catalogue.py``) mixes three or more of:
parameter scales lin/log/log10, observable parameters overridden per
measurement (numbers and ids), noise formulas with estimated parameters, normal
and Laplace noise, log and log10 observable transformations, condition-table
overrides of parameters, species initial values and compartment sizes
(numbers, estimated and fixed parameter ids), pre-equilibration together with
condition overrides (the path that carries sensitivities and the path that
restarts from the pre-equilibrated state), replicates and time-point-specific
overrides.

All problems share one Antimony model (compiled code is cached by structure).
Each is checked at its nominal point and at a seeded perturbation inside the
bounds: ``ev.grad`` against central differences of ``fval`` (helpers'
``central_grad``, solver settings of the gradient), and for Gaussian problems
``ev.sres`` against central differences of ``ev.res`` and the convention pin
``grad = sres.T @ res``; runs without sensitivities must give the same value.
Closed-form checks make sure the overrides act (a gradient that is consistent
with a wrongly simulated problem passes every difference check), libpetab's
linter confirms that every problem is valid PEtab v1, and two valid problems
outside the catalogue pin a refusal (estimated compartment size) and an
acceptance (a condition value naming a model parameter).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import bngfit
from bngfit.problem._problem import NoiseFamily
from tests.catalogue import COMBO_MODEL, POINTS, SPEC_NAMES, SPECS, Spec, obs, write_spec
from tests.helpers import (
    ATOL_SOLVER,
    RTOL_SOLVER,
    SRES_ATOL_REL,
    H,
    assert_close,
    central_grad,
    central_res_jac,
    conversion_b,
    meas_rows,
    native,
    par,
    perturbed_point,
)


def _laplace_rows(problem):
    fam = {o.id: o.family for o in problem.observables.values()}
    return np.array([fam[o] is NoiseFamily.LAPLACE for o in problem.measurements.observable])


@dataclass
class Built:
    spec: Spec
    problem: bngfit.Problem
    obj: bngfit.Objective
    x: dict  # point name -> x
    ev: dict  # point name -> Evaluation (sensi=1)
    fd: dict  # point name -> central differences of fval


_BUILT: dict[str, Built] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``built(name)``: the catalogue entry's problem, objective, points and FD
    gradients, computed once per module."""

    def get(name: str) -> Built:
        if name not in _BUILT:
            rng = np.random.default_rng(1000 + SPEC_NAMES.index(name))
            spec = SPECS[name](rng)
            yaml = write_spec(tmp_path_factory.mktemp(name), spec)
            problem = bngfit.load_problem(yaml)
            obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            xs = {"nominal": problem.x_nominal, "perturbed": perturbed_point(problem, rng)}
            evs, fds = {}, {}
            for k, x in xs.items():
                ev = obj(x, sensi=1)
                assert ev.ok, ev.message
                evs[k] = ev
                fds[k] = central_grad(obj, x, h=H)
            _BUILT[name] = Built(spec, problem, obj, xs, evs, fds)
        return _BUILT[name]

    yield get
    _BUILT.clear()


CASES = [(n, p) for n in SPEC_NAMES for p in POINTS]
CASE_IDS = [f"{n}-{p}" for n, p in CASES]


# ---------------------------------------------------------------------- tests
def test_catalogue_combines_features():
    """Every entry mixes at least three features, and together they cover the list."""
    rng = np.random.default_rng(0)
    covered = set()
    for name in SPEC_NAMES:
        spec = SPECS[name](rng)
        assert len(set(spec.features)) >= 3, name
        covered |= set(spec.features)
    assert {"scales", "obs_params", "noise_formula_estimated", "noise_params", "laplace",
            "log", "log10", "cond_param_number", "cond_param_id", "cond_species_number",
            "cond_species_id", "cond_compartment_number", "cond_compartment_fixed_id",
            "preeq", "replicates", "time_specific"} <= covered


@pytest.mark.parametrize(("name", "point"), CASES, ids=CASE_IDS)
def test_grad_matches_central_differences(name, point, built):
    b = built(name)
    ev, fd = b.ev[point], b.fd[point]
    assert np.all(np.isfinite(ev.grad))
    assert_close(ev.grad, fd, b.obj.x_names, f"{name}@{point}: grad vs central FD of fval")
    # Every free parameter must reach the objective, else the check proves little.
    top = np.max(np.abs(fd))
    for i, pid in enumerate(b.obj.x_names):
        if pid in b.spec.may_vanish:
            assert abs(ev.grad[i]) <= 1e-9 * top, f"{pid} should have no effect"
        else:
            assert abs(fd[i]) > 1e-6 * top, f"{pid} has no effect on the objective"
    # Laplace terms: the differences must not straddle a kink |z - zm| = 0.
    lap = _laplace_rows(b.problem)
    if lap.any():
        gap = np.abs(ev.simulation - b.problem.measurements.value)[lap]
        assert gap.min() > 1e-3


@pytest.mark.parametrize(("name", "point"), CASES, ids=CASE_IDS)
def test_residual_form(name, point, built):
    """Gaussian problems: sres = central FD of res, and grad = sres.T @ res.

    With constant sigma the residuals are the data's only and the identity is
    the plain least-squares one. Where sigma moves with the parameters the NLL
    has the extra log sigma term, so the data residuals alone do not give the
    gradient; bngfit appends one sigma residual sqrt(2 log sigma + 120) per
    such data point, which restores ``grad = sres.T @ res`` (checked here
    together with sres against differences of res). Laplace (or mixed)
    problems have no residual form.
    """
    b = built(name)
    obj, ev, x = b.obj, b.ev[point], b.x[point]
    n_meas = len(b.problem.measurements)
    if _laplace_rows(b.problem).any():
        assert not obj.has_residuals
        assert ev.res is None and ev.sres is None
        return
    assert obj.has_residuals
    n_sigma = obj.plan.sigma_rows.size
    assert ev.res.shape == (n_meas + n_sigma,)
    assert ev.sres.shape == (n_meas + n_sigma, x.size)
    np.testing.assert_allclose(
        ev.res[:n_meas], (_transformed(b.problem, ev.simulation)
                          - _transformed(b.problem, b.problem.measurements.value)) / ev.sigma,
        rtol=1e-12, atol=1e-14)
    assert_close(ev.sres, central_res_jac(obj, x), obj.x_names,
           f"{name}@{point}: sres vs central FD of res", atol_rel=SRES_ATOL_REL)
    assert_close(ev.grad, ev.sres.T @ ev.res, obj.x_names,
           f"{name}@{point}: grad vs sres.T @ res", rtol=1e-9, atol_rel=1e-12)
    # fval = 0.5 * chi2 of the data + sum 0.5 log(2 pi sigma^2) + log-scale terms
    data = ev.res[:n_meas]
    assert ev.fval == pytest.approx(0.5 * float(data @ data)
                                    + _gauss_const(b.problem, ev.sigma), rel=1e-11)
    if n_sigma:
        rows = obj.plan.sigma_rows
        sr = ev.res[n_meas:]
        assert 0.5 * float(sr @ sr) == pytest.approx(
            float(np.sum(np.log(ev.sigma[rows]))) + 60.0 * n_sigma, rel=1e-12)
        # the data residuals alone miss the log sigma term's gradient
        partial = ev.sres[:n_meas].T @ data
        assert np.max(np.abs(partial - ev.grad)) > 1e-3 * np.linalg.norm(ev.grad)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_value_without_sensitivities_agrees(name, built):
    """fval of a run without sensitivities (another code path in the engine,
    including its own pre-equilibration sharing) equals the sensitivity run's
    to solver accuracy, and repeating the evaluation reproduces it."""
    b = built(name)
    for point in POINTS:
        x = b.x[point]
        b.obj.clear_cache()
        plain = b.obj(x, sensi=0)
        assert plain.ok, plain.message
        assert plain.grad is None
        assert plain.fval == pytest.approx(b.ev[point].fval, rel=1e-8)
        np.testing.assert_allclose(plain.simulation, b.ev[point].simulation, rtol=1e-7,
                                   atol=1e-10)
        b.obj.clear_cache()
        again = b.obj(x, sensi=1)
        assert again.fval == b.ev[point].fval
        np.testing.assert_array_equal(again.grad, b.ev[point].grad)


def _transformed(problem, values):
    tr = [problem.observables[o].transform.value for o in problem.measurements.observable]
    v = np.asarray(values, float)
    return np.array([x if t == "lin" else (np.log(x) if t == "log" else np.log10(x))
                     for x, t in zip(v, tr, strict=True)])


def _gauss_const(problem, sigma):
    """sum 0.5 log(2 pi sigma^2) plus the change-of-variables terms of log scales."""
    m = problem.measurements
    total = float(np.sum(0.5 * np.log(2 * np.pi * sigma**2)))
    for oid, v in zip(m.observable, m.value, strict=True):
        t = problem.observables[oid].transform.value
        total += 0.0 if t == "lin" else (np.log(v) if t == "log" else np.log(v * np.log(10)))
    return total


@pytest.mark.parametrize("name", ["compartment_species_obspars",
                                  "preeq_main_species_overrides",
                                  "initial_value_parameter_in_conditions",
                                  "shared_preeq_many_main_conditions"])
def test_overrides_act(name, built):
    """Closed-form checks that the overrides the gradients go through do act
    (a gradient consistent with a wrongly simulated problem passes FD checks)."""
    b = built(name)
    for point in POINTS:
        b.spec.check(b.problem, b.obj, b.ev[point])


def test_preeq_reaches_the_pre_condition_steady_state(built):
    """t=0 data after pre-equilibration (compartment 2, stim 1) are the steady
    state B = A0 k1/(k1 + k2), C = ksyn B/kdeg (the volume cancels), not the
    model's initial state, although the main condition has stim 3."""
    b = built("preeq_compartment_replicates")
    m = b.problem.measurements
    for point in POINTS:
        ev = b.ev[point]
        th = dict(zip(b.obj.x_names, native(b.problem, ev.x), strict=True))
        b_ss = th["A0"] * th["k1"] / (th["k1"] + th["k2"])
        want = {"obs_B": b_ss, "obs_C": th["scale_C"] * th["ksyn"] * b_ss / th["kdeg"]}
        sel = np.flatnonzero(m.time == 0.0)
        assert sel.size == 6
        for i in sel:
            assert ev.simulation[i] == pytest.approx(want[m.observable[i]], rel=1e-6)


# ------------------------------------------------------- validity and refusals
def _sbml_of_model() -> str:
    antimony = pytest.importorskip("antimony")
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(COMBO_MODEL) >= 0, antimony.getLastError()
    return antimony.getSBMLString("combo")


def _petab_lint(folder, sbml: str) -> bool:
    """True if libpetab's v1 linter reports errors for the problem in ``folder``."""
    pv1 = pytest.importorskip("petab.v1")
    from petab.v1.models.sbml_model import SbmlModel

    with warnings.catch_warnings():  # libpetab's pandas deprecations
        warnings.simplefilter("ignore")
        problem = pv1.Problem(
            model=SbmlModel.from_string(sbml),
            condition_df=pv1.get_condition_df(str(folder / "conditions.tsv")),
            measurement_df=pv1.get_measurement_df(str(folder / "measurements.tsv")),
            observable_df=pv1.get_observable_df(str(folder / "observables.tsv")),
            parameter_df=pv1.get_parameter_df(str(folder / "parameters.tsv")))
        return bool(pv1.lint_problem(problem))


def test_catalogue_is_valid_petab_v1(tmp_path):
    """libpetab's linter accepts every catalogue problem (with the model as SBML),
    and rejects a deliberately broken one (so the check can fail)."""
    sbml = _sbml_of_model()
    for name in SPEC_NAMES:
        spec = SPECS[name](np.random.default_rng(1000 + SPEC_NAMES.index(name)))
        write_spec(tmp_path / name, spec)
        assert not _petab_lint(tmp_path / name, sbml), name
    broken = SPECS[SPEC_NAMES[0]](np.random.default_rng(0))
    broken.parameters.append(par("stim", 1.0))  # also a condition column: invalid
    write_spec(tmp_path / "broken", broken)
    assert _petab_lint(tmp_path / "broken", sbml)


def _small_spec(rng, conditions, parameters):
    return Spec(parameters=[par("k1", 0.8), par("k2", 0.6), *parameters],
                observables=[obs("obs_B", "B", 0.1)],
                conditions=conditions,
                measurements=meas_rows(rng, "obs_B", "c0") + meas_rows(rng, "obs_B", "c1"),
                features=())


def test_estimated_compartment_size_is_refused_clearly(tmp_path):
    """PEtab v1 lets a condition set a compartment size to an estimated parameter;
    bngfit refuses it on purpose (bngsim has no volume sensitivities), before
    any simulation, naming the condition and the compartment."""
    spec = _small_spec(np.random.default_rng(7),
                       [{"conditionId": "c0", "cell": "vol"},
                        {"conditionId": "c1", "cell": 1}], [par("vol", 1.5)])
    yaml = write_spec(tmp_path / "p", spec)
    assert not _petab_lint(tmp_path / "p", _sbml_of_model())
    with pytest.raises(bngfit.UnsupportedError) as err:
        bngfit.Objective(bngfit.load_problem(yaml))
    text = str(err.value)
    assert "cell" in text and "c0" in text and "volume" in text


def test_condition_value_naming_a_model_parameter(tmp_path):
    """PEtab v1 lets a condition value be an id 'defined in the SBML model, the
    parameter table or both': stim is set to the model's kdeg = 0.5 (not in the
    parameter table) in c0 and to a number in c1, with pre-equilibration and an
    estimated noise parameter. (bngfit at a98405a refused this with an
    InputError from petab_io._read_conditions.)"""
    rng = np.random.default_rng(11)
    spec = _small_spec(rng, [{"conditionId": "c0", "stim": "kdeg"},
                             {"conditionId": "c1", "stim": 2}], [par("sig", 0.1)])
    spec.observables = [obs("obs_B", "B", "sig")]
    spec.measurements += meas_rows(rng, "obs_B", "c0", preeq="c1")
    yaml = write_spec(tmp_path / "p", spec)
    assert not _petab_lint(tmp_path / "p", _sbml_of_model())
    problem = bngfit.load_problem(yaml)
    obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
    x = problem.x_nominal
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    assert_close(ev.grad, central_grad(obj, x, h=H), obj.x_names, "grad vs central FD")
    # c0 runs with stim = kdeg = 0.5 (the model's value): B(t) of the conversion
    th = dict(zip(obj.x_names, native(problem, x), strict=True))
    m = problem.measurements
    k1, k2 = 0.5 * th["k1"], th["k2"]
    for i in range(len(m)):
        if m.condition[i] == "c0" and not m.preeq[i]:
            b = conversion_b(m.time[i], k1, k2)
            assert ev.simulation[i] == pytest.approx(b, rel=1e-7)
