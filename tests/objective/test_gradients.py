"""Finite-difference oracle for every gradient term of the objective.

Each case is a small PEtab problem exercising one feature (formula partials,
overrides, noise parameters, transformations, Laplace noise, pre-equilibration,
species/compartment overrides, parameter scales, replicates, time-point-specific
overrides, condition mutation operators): the catalogue ``BUILDERS`` of
``tests/catalogue.py``. At a random, non-optimal point and
tight solver tolerances, ``ev.grad`` is compared with Richardson-extrapolated
central differences of ``ev.fval`` and ``ev.sres`` with differences of
``ev.res``. The differences (``helpers.richardson_grad_and_jac``) are written
in the tests, independent of ``bngfit.objective._gradcheck``.
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.problem._problem import NoiseFamily
from tests.catalogue import BUILDERS, Case
from tests.helpers import (
    ATOL_SOLVER,
    GRAD_RTOL,
    RTOL_SOLVER,
    assert_close_to_max,
    native,
    random_point,
    richardson_grad_and_jac,
)

_BUILT: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def _built_cache():
    yield _BUILT
    _BUILT.clear()


@pytest.fixture
def built(problem_writer, _built_cache):
    """Build a case once per module: (case, objective, evaluation, fd_grad, fd_jac).

    The problem files live under the first requesting test's tmp_path, which
    pytest keeps for the whole session.
    """

    def get(name):
        if name not in _BUILT:
            rng = np.random.default_rng(sum(map(ord, name)) * 7919)
            out, extra = BUILDERS[name](problem_writer, name, rng)
            problem = out if isinstance(out, bngfit.Problem) else bngfit.load_problem(out)
            case = Case(problem, random_point(problem, rng), **extra)
            obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            ev = obj(case.x, sensi=1)
            assert ev.ok, ev.message
            g, jac = richardson_grad_and_jac(obj, case.x)
            _BUILT[name] = (case, obj, ev, g, jac)
        return _BUILT[name]

    return get


NAMES = list(BUILDERS)
NORMAL = [n for n in NAMES if not n.startswith("laplace")]


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_finite_differences(name, built):
    case, obj, ev, fd_g, _ = built(name)
    assert np.all(np.isfinite(ev.grad))
    assert_close_to_max(ev.grad, fd_g, GRAD_RTOL, obj.x_names, "grad vs FD of fval")
    # Every free parameter must reach the objective (else the check proves little).
    for i, pid in enumerate(obj.x_names):
        if pid not in case.may_vanish:
            assert abs(fd_g[i]) > 1e-6 * np.max(np.abs(fd_g)), f"{pid} has no effect"
    if case.check is not None:
        case.check(case.problem, obj, ev)


@pytest.mark.parametrize("name", NORMAL)
def test_sres_matches_finite_differences(name, built):
    case, obj, ev, _, fd_jac = built(name)
    assert obj.has_residuals
    assert ev.res is not None and ev.sres is not None
    assert ev.sres.shape == (ev.res.size, case.x.size)
    assert_close_to_max(ev.sres, fd_jac, GRAD_RTOL, obj.x_names, "sres vs FD of res")


@pytest.mark.parametrize("name", NORMAL)
def test_grad_equals_sres_transpose_res(name, built):
    """Convention pin: grad = J^T rho (with the sigma residuals where sigma varies)."""
    _, obj, ev, _, _ = built(name)
    assert_close_to_max(ev.grad, ev.sres.T @ ev.res, 1e-9, obj.x_names, "grad vs sres.T @ res")


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("laplace")])
def test_laplace_has_no_residuals(name, built):
    _, obj, ev, _, _ = built(name)
    assert not obj.has_residuals
    assert ev.res is None and ev.sres is None
    assert all(o.family is NoiseFamily.LAPLACE for o in obj.problem.observables.values())


@pytest.mark.parametrize("name", ["formula_partial", "parameter_scales", "mutation_chain"])
def test_residuals_are_weighted_differences(name, built):
    """Fixed sigma: res == (h - m)/sigma exactly, one per measurement."""
    case, obj, ev, _, _ = built(name)
    meas = case.problem.measurements
    sig = np.array([float(case.problem.observables[o].noise.constant)
                    for o in meas.observable])
    assert ev.res.size == len(meas)
    np.testing.assert_allclose(ev.res, (ev.simulation - meas.value) / sig, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("name", ["formula_partial", "transform_log10", "noise_parameters",
                                  "laplace_log"])
def test_fval_is_closed_form_nllh(name, built):
    """fval = full nllh with constants, computed here from the simulation and sigma."""
    case, obj, ev, _, _ = built(name)
    meas = case.problem.measurements
    obs = case.problem.observables
    h, m, s = ev.simulation, meas.value, ev.sigma
    total = 0.0
    for i, oid in enumerate(meas.observable):
        tr = obs[oid].transform.value
        fam = obs[oid].family.value
        if tr == "lin":
            z, zm, jac = h[i], m[i], 0.0
        elif tr == "log":
            z, zm, jac = np.log(h[i]), np.log(m[i]), np.log(m[i])
        else:
            z, zm, jac = np.log10(h[i]), np.log10(m[i]), np.log(m[i] * np.log(10.0))
        if fam == "normal":
            term = 0.5 * np.log(2 * np.pi * s[i] ** 2) + 0.5 * ((z - zm) / s[i]) ** 2
        else:
            term = np.log(2 * s[i]) + abs(z - zm) / s[i]
        total += term + jac
    assert ev.fval == pytest.approx(total, rel=1e-12)
    # And the sigmas are the ones the tables give (numbers, or the point's values).
    theta = dict(zip(obj.x_names, native(case.problem, ev.x), strict=True))
    for i, oid in enumerate(meas.observable):
        c = obs[oid].noise.constant
        if c is not None:
            assert s[i] == pytest.approx(c, rel=1e-15)
        if meas.noise_params[i]:
            v = meas.noise_params[i][0]
            if isinstance(v, str):
                v = theta[v]
            assert s[i] == pytest.approx(v, rel=1e-13)
