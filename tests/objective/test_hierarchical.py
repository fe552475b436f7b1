"""Noise parameters in closed form (bngfit.objective._hierarchical).

Which parameters qualify (and why others do not); that the value set is the
optimum, checked against the closed form computed here from the simulation and
the data, and against a 1-D numerical minimization of the full objective; and
the reduced objective's gradient and residual Jacobian against finite
differences (the oracle of test_gradients.py) on every gradient-oracle case
(``BUILDERS`` of tests/catalogue.py) that has such a parameter, at tight solver tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import bngfit
from bngfit.objective._hierarchical import ProfiledObjective, find_noise_profile, noise_profile
from tests.catalogue import BUILDERS, CONVERSION, SPEC_NAMES, SPECS, write_spec
from tests.helpers import (
    ATOL_SOLVER,
    GRAD_RTOL,
    RTOL_SOLVER,
    H,
    assert_close,
    assert_close_to_max,
    central_grad,
    central_res_jac,
    meas_rows,
    par,
    perturbed_point,
    random_point,
    richardson_grad_and_jac,
    write_problem,
)


def _objective(path):
    problem = bngfit.load_problem(path)
    return bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)


def _two_observables(writer, name, *, noise_b="sigma_B", formula_b="B", noise_a=0.1,
                     family_a="normal", sigma=None):
    rng = np.random.default_rng(3)
    params = [par("k1", 0.8), par("k2", 0.6), sigma or par("sigma_B", 0.2)]
    return writer(
        name, model=CONVERSION, parameters=params,
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": noise_a, "noiseDistribution": family_a},
                     {"observableId": "obs_B", "observableFormula": formula_b,
                      "noiseFormula": noise_b}],
        measurements=meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_B", "c0"),
    )


# ------------------------------------------------------------ which qualify
def test_a_plain_noise_parameter_qualifies(problem_writer):
    obj = _objective(_two_observables(problem_writer, "plain"))
    prof, why = find_noise_profile(obj.problem, obj.plan)
    assert prof.names == ("sigma_B",) and why == {}
    assert obj.x_names[prof.index[0]] == "sigma_B"
    assert [obj.x_names[i] for i in prof.keep] == ["k1", "k2"]
    meas = obj.problem.measurements
    assert [meas.observable[i] for i in prof.rows[0]] == ["obs_B"] * 5


@pytest.mark.parametrize(("kw", "reason"), [
    ({"formula_b": "sigma_B * B"}, "it enters an observable formula"),
    ({"noise_b": "k2"}, "it enters the model"),
    ({"noise_a": "sigma_B", "family_a": "laplace"},
     "do not all have normal or all Laplace noise"),
    ({"sigma": par("sigma_B", 0.2, "lin", lb=0, ub=5)}, "not > 0"),
])
def test_parameters_that_do_not_qualify_say_why(problem_writer, kw, reason):
    obj = _objective(_two_observables(problem_writer, f"no_{sorted(kw)[0]}", **kw))
    prof, why = find_noise_profile(obj.problem, obj.plan)
    assert prof is None
    assert any(reason in text for text in why.values()), why


def test_a_noise_formula_with_more_than_the_parameter_does_not_qualify(problem_writer):
    obj = _objective(_two_observables(problem_writer, "formula", noise_b="sigma_B + 0.01 * B"))
    assert noise_profile(obj) is None


# ------------------------------------------------------- the value it takes
@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Every gradient-oracle case whose problem has a closed-form noise parameter."""
    out = {}
    root = tmp_path_factory.mktemp("hier")

    def writer(name, **kw):
        return write_problem(root / name, **kw)

    for name, build in BUILDERS.items():
        rng = np.random.default_rng(sum(map(ord, name)) * 7919)
        path, _ = build(writer, name, rng)
        problem = path if isinstance(path, bngfit.Problem) else bngfit.load_problem(path)
        obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
        prof = noise_profile(obj)
        if prof is not None:
            x = random_point(problem, rng)
            out[name] = (obj, prof, x)
    return out


EXPECTED = ["noise_parameters", "transform_log", "transform_log10", "laplace_lin",
            "laplace_log", "laplace_log10", "replicates", "time_specific_overrides"]


def test_the_oracle_cases_include_every_kind(cases):
    assert set(EXPECTED) <= set(cases)
    kinds = set()
    for _obj, prof, _ in cases.values():
        kinds |= {("laplace" if lap else "normal", int(c)) for lap, c in
                  zip(prof.laplace, prof.codes, strict=True)}
    # normal and Laplace noise; parameters on lin and log10 scales
    assert {("normal", 2), ("laplace", 2), ("normal", 0)} <= kinds


def _transformed(problem, values, rows):
    out = []
    for i in rows.tolist():
        tr = problem.observables[problem.measurements.observable[i]].transform.value
        v = values[i]
        out.append(v if tr == "lin" else np.log(v) if tr == "log" else np.log10(v))
    return np.array(out)


@pytest.mark.parametrize("name", EXPECTED)
def test_the_scale_is_the_closed_form_optimum(name, cases):
    obj, prof, x = cases[name]
    red = ProfiledObjective(obj, prof)
    ev = red(x[prof.keep], sensi=1)
    assert ev.ok, ev.message
    full = ev.full
    problem = obj.problem
    for k, rows in enumerate(prof.rows):
        e = (_transformed(problem, full.simulation, rows)
             - _transformed(problem, problem.measurements.value, rows))
        want = np.mean(np.abs(e)) if prof.laplace[k] else np.sqrt(np.mean(e**2))
        j = prof.index[k]
        native = full.x[j] if prof.codes[k] == 0 else 10 ** full.x[j]
        assert native == pytest.approx(want, rel=1e-12)
        # and no value of that one coordinate does better on the full objective
        def along(v, j=j):
            xx = full.x.copy()
            xx[j] = v
            return obj(xx, sensi=1).fval

        lo, hi = problem.lb[j], problem.ub[j]
        best = minimize_scalar(along, bounds=(lo, hi), method="bounded",
                               options={"xatol": 1e-10})
        assert full.fval <= best.fun + 1e-9
        assert best.x == pytest.approx(full.x[j], abs=1e-4)
    assert ev.fval == full.fval == pytest.approx(obj(full.x, sensi=1).fval, rel=1e-14)


def test_a_scale_beyond_its_bound_is_clipped(problem_writer):
    # data far from the model: the root mean square residual exceeds the bound
    sigma = par("sigma_B", 0.2, lb=0.01, ub=0.5)
    obj = _objective(_two_observables(problem_writer, "clip", formula_b="10 * B",
                                      sigma=sigma))
    prof = noise_profile(obj)
    red = ProfiledObjective(obj, prof)
    x = np.log10([0.8, 0.6])
    ev = red(x)
    assert ev.full.x[prof.index[0]] == pytest.approx(np.log10(0.5), abs=0)
    g, jac = richardson_grad_and_jac(red, x)
    assert_close_to_max(ev.grad, g, GRAD_RTOL, red.x_names, "clipped: grad vs FD")
    assert_close_to_max(ev.sres, jac, GRAD_RTOL, red.x_names, "clipped: sres vs FD")


# ------------------------------------------------- derivatives: the oracle
@pytest.fixture(scope="module")
def fd(cases):
    out = {}
    for name, (obj, prof, x) in cases.items():
        red = ProfiledObjective(obj, prof)
        xr = x[prof.keep]
        out[name] = (red, red(xr, sensi=1), *richardson_grad_and_jac(red, xr))
    return out


def test_every_profiled_case_is_checked(cases):
    assert len(cases) >= len(EXPECTED)


@pytest.mark.parametrize("name", sorted(set(EXPECTED)))
def test_reduced_grad_matches_finite_differences(name, fd):
    red, ev, g, _ = fd[name]
    assert ev.grad.shape == (len(red.x_names),)
    assert_close_to_max(ev.grad, g, GRAD_RTOL, red.x_names, "reduced grad vs FD of fval")


def test_all_profiled_cases_match_finite_differences(fd):
    for name, (red, ev, g, jac) in fd.items():
        assert_close_to_max(ev.grad, g, GRAD_RTOL, red.x_names, f"{name}: grad vs FD")
        if jac is not None:
            assert_close_to_max(ev.sres, jac, GRAD_RTOL, red.x_names, f"{name}: sres vs FD")
            assert_close_to_max(ev.grad, ev.sres.T @ ev.res, 1e-9, red.x_names,
                          f"{name}: grad vs sres.T @ res")


@pytest.mark.parametrize("name", ["noise_parameters", "transform_log", "transform_log10"])
def test_reduced_residual_jacobian_matches_finite_differences(name, fd):
    red, ev, _, jac = fd[name]
    assert red.has_residuals
    # half the sum of squares of the residuals is fval up to a constant, so TRF
    # minimizes the reduced objective
    assert_close_to_max(ev.sres, jac, GRAD_RTOL, red.x_names, "reduced sres vs FD of res")


def test_the_jacobian_oracle_catches_a_missing_scale_term(fd, monkeypatch):
    """Planted bug: the residuals' dependence through sigma*(x_r) left out."""
    from bngfit.objective import _hierarchical as hierarchical

    red, _, _, jac = fd["noise_parameters"]
    red.clear_cache()
    monkeypatch.setattr(hierarchical.NoiseProfile, "reduce_jacobian",
                        lambda self, x, theta, res, sres, weights=None: sres[:, self.keep])
    ev = red(fd["noise_parameters"][1].x)
    with pytest.raises(pytest.fail.Exception):
        assert_close_to_max(ev.sres, jac, GRAD_RTOL, red.x_names, "planted")


# ------------------------------------- combined features (the catalogue)
@pytest.fixture(scope="module")
def combos(tmp_path_factory):
    """Catalogue problems (``SPECS`` of tests/catalogue.py) with closed-form noise parameters."""
    out = {}
    for name in SPEC_NAMES:
        rng = np.random.default_rng(2000 + SPEC_NAMES.index(name))
        spec = SPECS[name](rng)
        problem = bngfit.load_problem(write_spec(tmp_path_factory.mktemp(name), spec))
        obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
        prof = noise_profile(obj)
        if prof is not None:
            out[name] = (ProfiledObjective(obj, prof), perturbed_point(problem, rng)[prof.keep])
    return out


def test_catalogue_problems_with_closed_form_noise_match_finite_differences(combos):
    assert len(combos) >= 12, sorted(combos)
    for name, (red, x) in combos.items():
        ev = red(x, sensi=1)
        assert ev.ok, f"{name}: {ev.message}"
        assert_close(ev.grad, central_grad(red, x, h=H), red.x_names, f"{name}: grad vs FD")
        if red.has_residuals:
            assert_close(ev.sres, central_res_jac(red, x), red.x_names, f"{name}: sres vs FD")
            assert_close(ev.grad, ev.sres.T @ ev.res, red.x_names, f"{name}: grad vs sres.T @ res",
                   rtol=1e-9)
