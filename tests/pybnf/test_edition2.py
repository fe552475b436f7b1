"""Edition-2 PyBNF configurations: experiments, conditions, pre-equilibration, noise models.

Parabola demo: x(t) = t - 10, y = v1 x^2 + v2 x + v3 (SBML parabola.xml, BNGL
parabola.bngl), data written by the tests from that closed form; a decay model
A' = kp*on - k*A for pre-equilibration, whose steady state is kp/k (on = 1).
The first tests use bngfit's record forms (``objective: sos``); those after
"PyBNF's own syntax" use the forms PyBNF's documentation writes
(``objective = sos``, ``uniform_var``, ``noise_model OBS = ...``), each checked
against a closed form or against central differences of an independent
reference (scipy.stats densities on the closed-form trajectories).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import stats

import bngfit
from bngfit.cli._main import main
from tests.helpers import needs_bng, shared_path

LN2PI = np.log(2 * np.pi)
TIMES = np.arange(21.0)


def _demo(tmp_path):
    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    return d


def _parabola(w, t=TIMES):
    """x, y and dy/dw (n, 3) of the parabola with coefficients w."""
    x = t - 10.0
    y = w[0] * x**2 + w[1] * x + w[2]
    return x, y, np.stack([x**2, x, np.ones_like(x)], axis=1)


def _write_exp(path, w, shift=0.0, sd=1.0):
    """Data of the parabola w (plus ``shift``, so residuals are not 0), SD columns."""
    x, y, _ = _parabola(w)
    rows = [f"{t:g} {float(a + shift)!r} {float(b - shift)!r} {sd:g} {sd:g}"
            for t, a, b in zip(TIMES, x, y, strict=True)]
    path.write_text("# time x y x_SD y_SD\n" + "\n".join(rows) + "\n")


def _gauss(v, path, jac=None, sigma=(1.0, 1.0)):
    """Gaussian nllh of x and y of one file at parameters v (w = model coefficients)."""
    data = np.loadtxt(path, comments="#")
    jac = np.eye(3) if jac is None else jac
    w = jac @ v
    x, y, dy = _parabola(w, data[:, 0])
    sx, sy = sigma
    rx, ry = x - data[:, 1], y - data[:, 2]
    f = np.sum(LN2PI + np.log(sx * sy) + 0.5 * (rx / sx) ** 2 + 0.5 * (ry / sy) ** 2)
    return f, jac.T @ ((ry / sy**2) @ dy)


def _write_conf(d, lines, name="job.conf"):
    conf = d / name
    conf.write_text("edition = 2\n" + "\n".join(lines) + "\n")
    return conf


SBML_HEAD = ["model: parabola.xml",
             "parameter: v1, lower: 0, upper: 10",
             "parameter: v2, lower: 0, upper: 10",
             "parameter: v3, lower: 0, upper: 10, initial: 4"]
V = np.array([0.7, 1.3, 2.1])
TRUTH = np.array([0.5, 1.0, 3.0])


def _evaluate(conf, x):
    ev = bngfit.Objective(bngfit.load_problem(conf), rtol=1e-10, atol=1e-12)(x, sensi=1)
    assert ev.ok, ev.message
    return ev


def test_plain_experiment_with_replicates_matches_closed_form(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.3)
    _write_exp(d / "r2.exp", TRUTH, -0.2)
    conf = _write_conf(d, [*SBML_HEAD, "objective: chi_sq",
                           "experiment: growth, data: r1.exp, r2.exp"])
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["v1", "v2", "v3"]
    assert problem.free[2].nominal == 4.0
    assert set(problem.measurements.condition) == {"growth"}
    assert set(problem.measurements.preeq) == {""}
    ev = _evaluate(conf, V)
    f1, g1 = _gauss(V, d / "r1.exp")
    f2, g2 = _gauss(V, d / "r2.exp")
    assert ev.fval == pytest.approx(f1 + f2, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g1 + g2, rtol=1e-7)


def test_conditions_with_perturbations_match_closed_form(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "wt.exp", TRUTH, 0.1)
    _write_exp(d / "dbl.exp", TRUTH * [2, 1, 1], 0.2)
    _write_exp(d / "tied.exp", [0.5, 1.0, 1.0], -0.1)
    conf = _write_conf(d, [*SBML_HEAD, "objective: sos",
                           "condition: dbl, perturbations: v1 * 2, v3 = 5",
                           "condition: tied, perturbations: v3 = v2",
                           "experiment: wt, data: wt.exp",
                           "experiment: e_dbl, condition: dbl, data: dbl.exp",
                           "experiment: e_tied, condition: tied, data: tied.exp"])
    problem = bngfit.load_problem(conf)
    assert [(m.target, m.op.value, m.value) for m in problem.conditions["e_dbl"].mutations
            ] == [("v1", "*", 2.0), ("v3", "=", 5.0)]
    assert [(m.target, m.op.value, m.value) for m in problem.conditions["e_tied"].mutations
            ] == [("v3", "=", "v2")]
    ev = _evaluate(conf, V)
    f, g = _gauss(V, d / "wt.exp")
    # v3 = 5 is a constant: w = (2 v1, v2, 5) = J v + (0, 0, 5)
    data = np.loadtxt(d / "dbl.exp", comments="#")
    x, y, dy = _parabola([2 * V[0], V[1], 5.0], data[:, 0])
    rx, ry = x - data[:, 1], y - data[:, 2]
    f += np.sum(LN2PI + 0.5 * rx**2 + 0.5 * ry**2)
    g += np.diag([2.0, 1.0, 0.0]) @ (ry @ dy)
    ft, gt = _gauss(V, d / "tied.exp", jac=np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0]]))
    assert ev.fval == pytest.approx(f + ft, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g + gt, rtol=1e-7)


def test_estimated_noise_parameter_matches_closed_form(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.4)
    conf = _write_conf(d, [*SBML_HEAD, "parameter: s, scale: log10, lower: 0.01, upper: 100",
                           "objective: sos",
                           "noise_model: normal, observable: y, sigma: fit s",
                           "experiment: growth, data: r1.exp"])
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["v1", "v2", "v3", "s"]
    s = 2.5
    ev = _evaluate(conf, np.append(V, np.log10(s)))
    data = np.loadtxt(d / "r1.exp", comments="#")
    x, y, dy = _parabola(V, data[:, 0])
    rx, ry = x - data[:, 1], y - data[:, 2]
    n = ry.size
    f = np.sum(0.5 * LN2PI + 0.5 * rx**2) + n * 0.5 * np.log(2 * np.pi * s**2) \
        + 0.5 * np.sum(ry**2) / s**2
    g = np.append((ry / s**2) @ dy, (n / s - np.sum(ry**2) / s**3) * s * np.log(10.0))
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


@needs_bng
def test_bngl_template_experiment_matches_closed_form(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.3)
    conf = _write_conf(d, ["model: parabola.bngl",
                           *(f"parameter: v{i}__FREE, lower: 0, upper: 10" for i in (1, 2, 3)),
                           "objective: chi_sq", "experiment: growth, data: r1.exp"])
    ev = _evaluate(conf, V)
    f, g = _gauss(V, d / "r1.exp")
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


DECAY = """begin model
begin parameters
  kp 1
  k 0.5
  on 1
  kon kp*on
end parameters
begin molecule types
  A()
end molecule types
begin seed species
  A() 0
end seed species
begin observables
  Molecules Atot A()
end observables
begin reaction rules
  0 -> A() kon
  A() -> 0 k
end reaction rules
end model
"""


@needs_bng
def test_preequilibrated_experiment_matches_closed_form(tmp_path):
    # Equilibrate with on = 1 (A = kp/k), switch off (on = 0): A = kp/k exp(-k t).
    (tmp_path / "decay.bngl").write_text(DECAY)
    t = np.arange(6.0)
    data = 2.0 * np.exp(-0.5 * t) + 0.05 * np.cos(t)
    rows = [f"{a:g} {float(b)!r}" for a, b in zip(t, data, strict=True)]
    (tmp_path / "washout.exp").write_text("# time Atot\n" + "\n".join(rows) + "\n")
    conf = _write_conf(tmp_path, ["model: decay.bngl",
                                  "parameter: kp, lower: 0.01, upper: 10",
                                  "parameter: k, lower: 0.01, upper: 10",
                                  "objective: sos",
                                  "condition: stim, perturbations: on = 1",
                                  "condition: wash, perturbations: on = 0",
                                  "experiment: washout, preequilibrate: stim, condition: wash, "
                                  "data: washout.exp"])
    problem = bngfit.load_problem(conf)
    pre = problem.conditions["washout__preeq"]
    assert pre.duration is None
    assert [(m.target, m.value) for m in problem.conditions["washout"].mutations
            ] == [("on", 1.0), ("on", 0.0)]
    assert set(problem.measurements.preeq) == {"washout__preeq"}
    kp, k = 1.7, 0.8
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(np.array([kp, k]), sensi=1)
    assert ev.ok, ev.message
    a = kp / k * np.exp(-k * t)
    da = np.stack([a / kp, -a / k - t * a], axis=1)
    r = a - data
    assert ev.fval == pytest.approx(np.sum(0.5 * LN2PI + 0.5 * r**2), rel=1e-7)
    np.testing.assert_allclose(ev.grad, r @ da, rtol=1e-6)



# ------------------------------------------------------------ PyBNF's own syntax
def _ref_grad(fun, x, h=1e-6):
    """Central differences of an independent reference function (not bngfit's)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


def _assert_grad(actual, desired, rtol=1e-6):
    """Gradients agree per component, small components up to rtol of the largest."""
    np.testing.assert_allclose(actual, desired, rtol=rtol,
                               atol=rtol * float(np.abs(desired).max()))


def _columns(path):
    return np.loadtxt(path, comments="#", ndmin=2)


def test_tutorial_syntax_with_laplace_override_matches_closed_form(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.3)
    _write_exp(d / "r2.exp", TRUTH, -0.2)
    conf = _write_conf(d, ["model: parabola.xml", "job_type = de", "objective = chi_sq",
                           "noise_model y = laplace, scale = fit b   # robust for y",
                           "experiment: growth, data: r1.exp, r2.exp",
                           "uniform_var = v1 0 10", "normal_var = v2 1 0.5",
                           "parameter: v3, parameter_scale: log10, lower: 0.1, upper: 10, "
                           "initial_value: 4",
                           "loguniform_var = b 0.01 100"])
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["v1", "v2", "v3", "b"]
    assert [s.value for s in problem.x_scales] == ["lin", "lin", "log10", "log10"]
    v2 = problem.free[1]
    assert (v2.lb, v2.ub, v2.nominal) == (-np.inf, np.inf, 1.0)  # edition 2: not truncated
    assert problem.free[2].nominal == 4.0
    v, b = np.array([0.7, 1.3, 2.1]), 0.8
    ev = _evaluate(conf, np.array([0.7, 1.3, np.log10(2.1), np.log10(b)]))
    f, g = 0.0, np.zeros(4)
    for name in ("r1.exp", "r2.exp"):
        data = _columns(d / name)
        x, y, dy = _parabola(v, data[:, 0])
        rx, ry = x - data[:, 1], y - data[:, 2]
        f += np.sum(0.5 * LN2PI + 0.5 * rx**2 + np.log(2 * b) + np.abs(ry) / b)
        g[:3] += (np.sign(ry) / b) @ dy
        g[3] += np.sum(1 / b - np.abs(ry) / b**2)
    g[2] *= v[2] * np.log(10)
    g[3] *= b * np.log(10)
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_student_t_fixed_and_estimated_df_match_scipy(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.4, sd=0.5)
    conf = _write_conf(d, ["model: parabola.xml", "job_type = lbfgs",
                           "noise_model = student_t, sigma = read_exp_file _SD",
                           "noise_model y = student_t, sigma = fix_at 2, df = fit nu",
                           "experiment: growth, data: r1.exp",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3)),
                           "loguniform_var = nu 0.5 50"])
    problem = bngfit.load_problem(conf)
    assert [(o.family.value, o.shape) for o in problem.observables.values()] == [
        ("student_t", 4.0), ("student_t", "nu")]
    data = _columns(d / "r1.exp")

    def reference(z):
        x, y, _ = _parabola(z[:3], data[:, 0])
        return -(stats.t.logpdf(data[:, 1], 4.0, loc=x, scale=0.5).sum()
                 + stats.t.logpdf(data[:, 2], 10 ** z[3], loc=y, scale=2.0).sum())

    z = np.append(V, np.log10(3.0))
    ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-10)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-6)


def test_normalizations_most_specific_rule_wins(tmp_path):
    # normalization = init (default) < normalization y = peak < normalization e2.y = zero
    d = _demo(tmp_path)
    _write_exp(d / "e1.exp", TRUTH * 0.01, 0.05)
    _write_exp(d / "e2.exp", TRUTH * 0.01, -0.05)
    conf = _write_conf(d, ["model: parabola.xml", "objective = sos",
                           "normalization = init", "normalization y = peak",
                           "normalization e2.y = zero",
                           "experiment: e1, data: e1.exp", "experiment: e2, data: e2.exp",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3))])
    problem = bngfit.load_problem(conf)
    assert sorted((n.condition, n.observable, n.kind.value)
                  for n in problem.normalizations) == [
        ("e1", "x", "init"), ("e1", "y", "peak"), ("e2", "x", "init"), ("e2", "y", "zero")]

    def reference(v):
        f = 0.0
        for name, ynorm in (("e1.exp", lambda y: y / y.max()),
                            ("e2.exp", lambda y: (y - y.mean()) / y.std())):
            data = _columns(d / name)
            x, y, _ = _parabola(v, data[:, 0])  # data times = the grid 0..20
            r = np.concatenate([x / x[0] - data[:, 1], ynorm(y) - data[:, 2]])
            f += np.sum(0.5 * LN2PI + 0.5 * r**2)
        return f

    ev = _evaluate(conf, V)
    assert ev.fval == pytest.approx(reference(V), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, V), 1e-6)


def test_cumulative_observable_differences_from_the_t0_baseline(tmp_path):
    d = _demo(tmp_path)
    t = np.arange(1.0, 21.0)  # no t = 0 row: the first increment is y(1) - y(0)
    x, y, _ = _parabola(TRUTH, t)
    rows = [f"{a:g} {float(b)!r} {float(c)!r}" for a, b, c in zip(t, x, np.diff(y, prepend=3),
                                                                   strict=True)]
    (d / "inc.exp").write_text("# time x y\n" + "\n".join(rows) + "\n")
    conf = _write_conf(d, ["model: parabola.xml", "objective = sos",
                           "noise_model y = normal, sigma = fix_at 2, cumulative",
                           "experiment: counts, data: inc.exp",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3))])
    data = _columns(d / "inc.exp")

    def reference(v):
        x, y, _ = _parabola(v, np.arange(0.0, 21.0))
        inc = np.diff(y)
        return -(stats.norm.logpdf(data[:, 1], x[1:], 1.0).sum()
                 + stats.norm.logpdf(data[:, 2], inc, 2.0).sum())

    ev = _evaluate(conf, V)
    assert ev.fval == pytest.approx(reference(V), rel=1e-10)
    _assert_grad(ev.grad, _ref_grad(reference, V), 1e-6)


def test_constraints_in_experiments_with_data_and_alone(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.3)
    (d / "cap.prop").write_text("y < 40 always weight 2\n")
    conf = _write_conf(d, ["model: parabola.xml", "objective = chi_sq",
                           "experiment: growth, data: r1.exp, cap.prop",
                           "experiment: early, data: cap.prop, t_end: 8, n_steps: 16",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3))])
    problem = bngfit.load_problem(conf)
    grids = {p.condition: p.times for p in problem.penalties}
    assert grids["growth"] == tuple(TIMES) and grids["early"] == tuple(np.arange(17) / 2)
    ev = _evaluate(conf, V)
    f, g = _gauss(V, d / "r1.exp")
    # worst miss of y - 40: at t = 20 (x = 10) on 0..20, at t = 0 (x = -10) on 0..8
    for xw in (10.0, -10.0):
        f += 2 * (V @ [xw**2, xw, 1] - 40)
        g = g + 2 * np.array([xw**2, xw, 1])
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_observable_records_formula_noise_and_lnnormal_match_scipy(tmp_path):
    d = _demo(tmp_path)
    x, y, _ = _parabola(TRUTH)
    rows = [f"{a:g} {float(b) + 0.2!r} {float(1.5 * c) * 1.1!r} 1"
            for a, b, c in zip(TIMES, x, y, strict=True)]
    (d / "obs.exp").write_text("# time xm ys xm_SD\n" + "\n".join(rows) + "\n")
    conf = _write_conf(d, ["model: parabola.xml", "objective = chi_sq",
                           "observable: x, column: xm", "observable: ys, formula: s * y",
                           "noise_model x = normal, sigma = formula 0.5 * s",
                           "noise_model ys = lnnormal, sigma = prediction_formula 0.1 + 0.01*y",
                           "experiment: growth, data: obs.exp",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3)),
                           "loguniform_var = s 0.1 10"])
    problem = bngfit.load_problem(conf)
    assert problem.observables["ys"].transform.value == "log"
    data = _columns(d / "obs.exp")

    def reference(z):
        s = 10 ** z[3]
        x, y, _ = _parabola(z[:3], data[:, 0])
        return -(stats.norm.logpdf(data[:, 1], x, 0.5 * s).sum()
                 + stats.lognorm.logpdf(data[:, 2], 0.1 + 0.01 * y, scale=s * y).sum())

    z = np.append(V, np.log10(1.3))
    ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-10)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-6)


@needs_bng
def test_fixed_length_preequilibration_with_species_setting(tmp_path):
    # Run 2 time units with on = 1 from A = 3 ("A()" = 3), then wash (on = 0):
    # A(T) = a + (3 - a) exp(-k T), a = kp/k; then A(T) exp(-k t).
    (tmp_path / "decay.bngl").write_text(DECAY)
    t = np.arange(6.0)
    data = 2.0 * np.exp(-0.5 * t) + 0.05 * np.cos(t)
    rows = [f"{a:g} {float(b)!r}" for a, b in zip(t, data, strict=True)]
    (tmp_path / "washout.exp").write_text("# time Atot\n" + "\n".join(rows) + "\n")
    conf = _write_conf(tmp_path, ["model: decay.bngl", "job_type = lbfgs", "objective = sos",
                                  "condition: stim, perturbations: \"A()\" = 3, on = 1",
                                  "condition: wash, perturbations: on = 0",
                                  "experiment: washout, preequilibrate: stim, equil_t_end: 2, "
                                  "condition: wash, data: washout.exp",
                                  "loguniform_var = kp 0.01 10", "loguniform_var = k 0.01 10"])
    problem = bngfit.load_problem(conf)
    assert problem.conditions["washout__preeq"].duration == 2.0

    def reference(z):
        kp, k = 10 ** z
        a_t = kp / k + (3 - kp / k) * np.exp(-2 * k)
        return np.sum(0.5 * LN2PI + 0.5 * (a_t * np.exp(-k * t) - data) ** 2)

    z = np.log10([1.7, 0.8])
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(z, sensi=1)
    assert ev.ok, ev.message
    assert ev.fval == pytest.approx(reference(z), rel=1e-7)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-5)


def test_lognormal_with_estimated_sigma_matches_scipy(tmp_path):
    """Estimated sigma + log-normal noise: value and gradient against scipy.stats."""
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.0)
    data = _columns(d / "r1.exp")
    # positive y data only (the parabola is > 0 everywhere for TRUTH): perturb it
    data[:, 2] *= np.exp(0.1 * np.sin(data[:, 0]))
    rows = [f"{a:g} {float(b)!r} {float(c)!r} 1 1" for a, b, c in data[:, :3]]
    (d / "r1.exp").write_text("# time x y x_SD y_SD\n" + "\n".join(rows) + "\n")
    conf = _write_conf(d, ["model: parabola.xml", "objective = chi_sq",
                           "noise_model y = lognormal, sigma = fit s",
                           "experiment: growth, data: r1.exp",
                           *(f"uniform_var = v{i} 0 10" for i in (1, 2, 3)),
                           "loguniform_var = s 0.01 10"])

    def reference(z):
        x, y, _ = _parabola(z[:3], data[:, 0])
        s = 10 ** z[3]
        # PyBNF's lognormal is Gaussian in log10 of the data
        return -(stats.norm.logpdf(data[:, 1], x, 1.0).sum()
                 + stats.norm.logpdf(np.log10(data[:, 2]), np.log10(y), s).sum()
                 - np.log(data[:, 2] * np.log(10.0)).sum())

    z = np.append(V, np.log10(0.2))
    ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-6)


def test_start_value_record_is_an_unbounded_parameter(tmp_path):
    """``parameter: v1, initial_value: X`` (no bounds, no prior): PyBNF's start value."""
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH, 0.3)
    conf = _write_conf(d, ["model: parabola.xml", "objective = chi_sq",
                           "parameter: v1, initial_value: 0.7", *SBML_HEAD[2:],
                           "experiment: base, data: r1.exp"])
    problem = bngfit.load_problem(conf)
    v1 = problem.free[0]
    assert (v1.lb, v1.ub, v1.nominal) == (-np.inf, np.inf, 0.7)
    ev = _evaluate(conf, V)
    f, g = _gauss(V, d / "r1.exp")
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


# ------------------------------------------------------------------ refusals
REFUSALS = [
    ("condition: c, perturbations: v1 * 2\n"
     "experiment: e, preequilibrate: c, data: r1.exp", "absolute '=' perturbations"),
    ("condition: c, perturbations: v9 = 2\nexperiment: e, condition: c, data: r1.exp",
     "'v9' is no parameter or species"),
    ("condition: c, perturbations: v1 = k9\nexperiment: e, condition: c, data: r1.exp",
     "neither a number nor a declared free parameter"),
    ("condition: c, perturbations: x * 2\nexperiment: e, condition: c, data: r1.exp",
     "'*' on the species 'x' is not supported"),
    ('condition: c, perturbations: "Q()" = 5\nexperiment: e, condition: c, data: r1.exp',
     "no species of the model's network"),
    ("condition: c, perturbations: v1 = 2*v2", "does not evaluate expressions"),
    ("noise_model: neg_bin, observable: y, dispersion: relative", "not supported yet"),
    ("noise_model: neg_bin, observable: y, dispersion: fix_at 5", "noise_location = mean"),
    ("noise_model y = neg_bin, dispersion = fix_at 5", "noise_location = mean"),
    ("noise_model: lognormal, observable: y, sigma: read_exp_file _SD, location: mean",
     "prediction as its mean"),
    ("noise_model y = lnnormal, sigma = fix_at 1, location = mean", "prediction as its mean"),
    ("noise_model: normal, observable: z, sigma: fix_at 1", "'z', which is no data column"),
    ("noise_model y = normal, sigma = fix_at 1, time_error = uniform, sigma_t = fix_at 1",
     "time_error"),
    ("noise_model y = student_t, sigma = fix_at 1, df = relative", "df is fix_at NUMBER"),
    ("noise_model = normal, sigma = fix_at 1, cumulative", "cumulative applies to one"),
    ("noise_model y = normal, sigma = fix_at 1, cumulative\nnormalization y = peak",
     "both normalized and cumulative"),
    ("experiment: q, data: c.prop", "add 't_end: T'"),
    ("experiment: q, data: r1.exp, method: ssa", "ODEs (method: ode) only"),
    ("experiment: q, data: r1.exp, type: parameter_scan", "parameter_scan experiment"),
    ("experiment: q, data: r1.exp, measurement_params: m.tsv", "measurement_params"),
    ("experiment: q, data: c.prop, t_start: 2, t_end: 5", "t_start other than 0"),
    ("experiment: q, data: r1.exp, equil_t_end: 5", "give 'preequilibrate: CONDITION'"),
    ("normalization = init: r1.exp", "keys normalization by observable"),
    ("normalization y = floor 0.03, scale", "chains"),
    ("normalization nope = init", "'nope', which is no data column"),
    ("normalization other.y = init", "experiment 'other'"),
    ("observable: w, column: wm", "no experiment's data has a column 'wm'"),
    ("observable: y, formula: y + nope", "'nope' is no output or parameter"),
    ("noise_model y = normal, sigma = formula 0.1 * nope", "'nope' is no output or parameter"),
    ("gamma_var = v9 2 1", "prior family 'gamma'"),
    ("parameter: v9, prior: laplace, location: 0, scale: 1", "prior family 'laplace'"),
    ("parameter: v9, parameter_scale: log, lower: 1, upper: 2", "'log' is ambiguous"),
    ("profile_objective = wasserstein", "profile_objective"),
    ("qualitative_scale = fit qs", "qualitative_scale"),
    ("generate_network = max_stoich=>{A=>4}", "generate_network"),
    ("job_type = magic", "'magic'"),
    ("mode: weight = 0.5, mean = 0 0", "analytical test objective"),
    ("objfunc = sos", "objective = NAME"),
]


@pytest.mark.parametrize(("text", "match"), REFUSALS)
def test_refusals_name_file_and_line(tmp_path, capsys, text, match):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    (d / "c.prop").write_text("x < 100 always\n")
    lines = [*SBML_HEAD, "objective: chi_sq", "experiment: base, data: r1.exp", *text.split("\n")]
    conf = _write_conf(d, lines)
    # the line at fault is one of the added ones, +1 for the edition line
    first = len(lines) - text.count("\n") + 1
    at_fault = {f"job.conf:{first + k}" for k in range(text.count("\n") + 1)}
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert match in err and any(a in err for a in at_fault), err


@pytest.mark.parametrize("objective", ["objective = banana, a = 1, b = 100",
                                       "objective = kl", "objective = expression"])
def test_analytical_and_column_objectives_are_refused(tmp_path, capsys, objective):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    conf = _write_conf(d, [*SBML_HEAD, "experiment: base, data: r1.exp", objective])
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert f"job.conf:{len(SBML_HEAD) + 3}" in err and "objective" in err, err


def test_constraints_alone_are_refused(tmp_path, capsys):
    d = _demo(tmp_path)
    (d / "c.prop").write_text("x < 100 always\n")
    conf = _write_conf(d, [*SBML_HEAD, "objective = sos",
                           "experiment: q, data: c.prop, t_end: 5"])
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "constraints alone" in err and "job.conf" in err, err


def test_objective_is_required_and_single(tmp_path, capsys):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    conf = _write_conf(d, [*SBML_HEAD, "experiment: base, data: r1.exp"])
    assert main(["evaluate", str(conf)]) == 2
    assert "no objective" in capsys.readouterr().err
    conf = _write_conf(d, [*SBML_HEAD, "objective = sos", "experiment: base, data: r1.exp",
                           "noise_model = normal, sigma = fix_at 1"])
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and f"job.conf:{len(SBML_HEAD) + 4}" in err, err


def test_unknown_keys_warn_once(tmp_path):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    conf = _write_conf(d, [*SBML_HEAD, "objective = sos", "experiment: base, data: r1.exp",
                           "fancy_key = 1", "other_key = x"])
    from bngfit.pybnf.build._problem import check_pybnf
    from bngfit.simulate._models import MODEL_ACCESS

    problem, issues = check_pybnf(conf, MODEL_ACCESS)
    assert problem is not None
    (w,) = [i for i in issues if "unknown" in i.message]
    assert "fancy_key (line 8)" in w.message and "other_key (line 9)" in w.message
