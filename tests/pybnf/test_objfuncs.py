"""PyBNF objective functions that estimate or transform the noise: closed-form checks.

Parabola demo (SBML): x(t) = t - 10, y = v1 x^2 + v2 x + v3. Expected values come
from that closed form and the numbers of par1.exp.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bngfit
from bngfit.cli._main import main
from tests.helpers import shared_path

LN10 = np.log(10.0)


def _demo(tmp_path, objfunc: str, extra: str = "", y_only: bool = False):
    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    table = np.loadtxt(d / "par1.exp", comments="#")
    if y_only:  # time, y, y_SD
        rows = [f"{t:g} {float(y)!r} {float(s)!r}" for t, y, s in table[:, [0, 2, 4]]]
        (d / "par1.exp").write_text("# time y y_SD\n" + "\n".join(rows) + "\n")
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("objfunc = chi_sq", f"objfunc = {objfunc}")
                    + extra)
    return conf, table


def _model(v, t):
    x = t - 10.0
    y = v[0] * x**2 + v[1] * x + v[2]
    dy = np.stack([x**2, x, np.ones_like(x)], axis=1)
    return x, y, dy


def test_lognormal_is_gaussian_in_log10(tmp_path):
    conf, table = _demo(tmp_path, "lognormal", y_only=True)
    v = np.array([0.6, 0.8, 3.5])
    ev = bngfit.Objective(bngfit.load_problem(conf), rtol=1e-10, atol=1e-12)(v)
    t, ym, s = table[:, 0], table[:, 2], table[:, 4]
    _, y, dy = _model(v, t)
    r = (np.log10(y) - np.log10(ym)) / s
    # density of the measurement: Gaussian in log10 times |d log10(m) / dm|
    f = np.sum(0.5 * np.log(2 * np.pi * s**2) + 0.5 * r**2 + np.log(ym * LN10))
    g = ((r / s) / (y * LN10)) @ dy
    assert ev.fval == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_chi_sq_dynamic_estimates_sigma(tmp_path):
    conf, table = _demo(tmp_path, "chi_sq_dynamic",
                        extra="loguniform_var = sigma__FREE 0.01 100\n")
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["v1", "v2", "v3", "sigma__FREE"]
    v = np.array([0.6, 0.8, 3.5, np.log10(2.5)])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    sig = 2.5
    t, xm, ym = table[:, 0], table[:, 1], table[:, 2]
    x, y, dy = _model(v, t)
    res = np.concatenate([x - xm, y - ym])
    f = res.size * 0.5 * np.log(2 * np.pi * sig**2) + 0.5 * np.sum(res**2) / sig**2
    g = np.append(((y - ym) / sig**2) @ dy,
                  (res.size / sig - np.sum(res**2) / sig**3) * sig * LN10)
    assert ev.fval == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_laplace_estimates_its_scale(tmp_path):
    conf, table = _demo(tmp_path, "laplace", extra="uniform_var = b__FREE 0.1 10\n")
    problem = bngfit.load_problem(conf)
    v = np.array([0.6, 0.8, 3.5, 1.7])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    b = 1.7
    t, xm, ym = table[:, 0], table[:, 1], table[:, 2]
    x, y, dy = _model(v, t)
    res = np.concatenate([x - xm, y - ym])
    f = np.sum(np.log(2 * b) + np.abs(res) / b)
    g = np.append((np.sign(y - ym) / b) @ dy, res.size / b - np.sum(np.abs(res)) / b**2)
    assert ev.fval == pytest.approx(f, rel=1e-9)
    # x is simulated exactly equal to its data: |r| has a kink there, where the
    # subgradient 0 is taken; y residuals are away from their kinks.
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7, atol=1e-9)
    assert ev.res is None  # Laplace has no residual form


@pytest.mark.parametrize(
    ("objfunc", "extra", "match", "where"),
    [("chi_sq_dynamic", "", "declare sigma__FREE", "demo_xml.conf:"),
     ("laplace", "", "declare b__FREE", "demo_xml.conf:")],
)
def test_missing_noise_parameter_is_named(tmp_path, capsys, objfunc, extra, match, where):
    conf, _ = _demo(tmp_path, objfunc, extra)
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert match in err and where in err and "Traceback" not in err


def test_lognormal_refuses_non_positive_data(tmp_path, capsys):
    conf, _ = _demo(tmp_path, "lognormal")  # x crosses zero
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "needs positive data" in err and "par1.exp:" in err


def test_normalization_peak_of_one_column(tmp_path):
    conf, table = _demo(tmp_path, "sos", extra="normalization = peak : (par1.exp: y)\n")
    problem = bngfit.load_problem(conf)
    v = np.array([0.6, 0.8, 3.5])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    t, xm, ym = table[:, 0], table[:, 1], table[:, 2]
    x, y, dy = _model(v, t)
    _, y_grid, dy_grid = _model(v, np.arange(0.0, 21.0))  # time_course time 20, step 1
    k = int(np.argmax(y_grid))
    yn = y / y_grid[k]
    dyn = dy / y_grid[k] - (y / y_grid[k] ** 2)[:, None] * dy_grid[k][None, :]
    f = 0.5 * np.sum((x - xm) ** 2) + 0.5 * np.sum((yn - ym) ** 2) \
        + 2 * len(t) * 0.5 * np.log(2 * np.pi)
    g = (yn - ym) @ dyn
    assert ev.fval == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_normalization_init_applies_to_every_column(tmp_path):
    conf, table = _demo(tmp_path, "sos", extra="normalization = init\n")
    problem = bngfit.load_problem(conf)
    assert {n.observable for n in problem.normalizations} == {"x", "y"}
    v = np.array([0.6, 0.8, 3.5])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    t = table[:, 0]
    x, y, _ = _model(v, t)
    x0, y0 = -10.0, v[0] * 100 - v[1] * 10 + v[2]
    rows_x = np.array([o == "x" for o in problem.measurements.observable])
    np.testing.assert_allclose(ev.simulation[rows_x], x / x0, rtol=1e-9)
    np.testing.assert_allclose(ev.simulation[~rows_x], y / y0, rtol=1e-9)


def test_normalization_of_an_unknown_column_names_the_line(tmp_path, capsys):
    conf, _ = _demo(tmp_path, "sos", extra="normalization = peak : (par1.exp: z)\n")
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "no observable column" in err and "demo_xml.conf:" in err


@pytest.mark.parametrize(("objfunc", "extra", "r_of"),
                         [("neg_bin", "neg_bin_r = 5\n", lambda v: 5.0),
                          ("neg_bin", "", lambda v: 24.0),
                          ("neg_bin_dynamic", "loguniform_var = r__FREE 0.1 100\n",
                           lambda v: 10 ** v[3])])
def test_negative_binomial_objfuncs(tmp_path, objfunc, extra, r_of):
    from scipy import stats

    conf, table = _demo(tmp_path, objfunc, extra=extra, y_only=True)
    problem = bngfit.load_problem(conf)
    v = np.array([0.6, 0.8, 3.5] + ([np.log10(7.0)] if "r__FREE" in extra else []))
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    ev = obj(v)
    assert ev.ok, ev.message
    t, ym = table[:, 0], table[:, 2]
    _, y, _ = _model(v, t)
    r = r_of(v)
    # continuous extension of the pmf in the count (par1.exp has half-integers)
    from scipy.special import gammaln
    expected = -np.sum(gammaln(ym + r) - gammaln(r) - gammaln(ym + 1)
                       + r * np.log(r / (r + y)) + ym * np.log(y / (r + y)))
    integer = ym == np.round(ym)
    np.testing.assert_allclose(
        -stats.nbinom.logpmf(ym[integer], r, r / (r + y[integer])).sum(),
        -np.sum((gammaln(ym + r) - gammaln(r) - gammaln(ym + 1)
                 + r * np.log(r / (r + y)) + ym * np.log(y / (r + y)))[integer]), rtol=1e-10)
    assert ev.fval == pytest.approx(expected, rel=1e-9)
    h = 1e-6
    fd = np.array([(obj(v + h * e).fval - obj(v - h * e).fval) / (2 * h)
                   for e in np.eye(v.size)])
    np.testing.assert_allclose(ev.grad, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("value", ["-3", "0"])
def test_neg_bin_r_must_be_positive(tmp_path, capsys, value):
    conf, _ = _demo(tmp_path, "neg_bin", extra=f"neg_bin_r = {value}\n", y_only=True)
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "neg_bin_r" in err and "demo_xml.conf:27" in err and "Traceback" not in err


def test_sod_is_laplace_with_unit_scale(tmp_path):
    conf, table = _demo(tmp_path, "sod")
    problem = bngfit.load_problem(conf)
    v = np.array([0.6, 0.8, 3.5])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    t, xm, ym = table[:, 0], table[:, 1], table[:, 2]
    x, y, dy = _model(v, t)
    res = np.concatenate([x - xm, y - ym])
    # PyBNF's sod is sum |sim - data|; as a density: Laplace with b = 1
    assert ev.fval == pytest.approx(np.sum(np.abs(res)) + res.size * np.log(2.0), rel=1e-9)
    np.testing.assert_allclose(ev.grad, np.sign(y - ym) @ dy, rtol=1e-7, atol=1e-9)


def test_normal_and_lognormal_vars_are_start_distributions(tmp_path):
    from scipy import stats

    from bngfit.optimize._multistart import sample_starts

    conf, _ = _demo(tmp_path, "chi_sq")
    text = conf.read_text()
    text = text.replace("uniform_var = v1 0 10", "lognormal_var = v1 -0.3 0.2")
    text = text.replace("uniform_var = v3 0 10", "normal_var = v3 3 1")
    conf.write_text(text)
    problem = bngfit.load_problem(conf)
    v1, v3 = problem.free[0], problem.free[2]
    assert (v1.lb, v1.ub, v1.scale.value) == (0.0, np.inf, "log10")
    assert (v3.lb, v3.ub, v3.scale.value) == (0.0, np.inf, "lin")
    priors = [p.init_prior for p in problem.free]
    x = sample_starts(problem.lb, problem.ub, 3000, np.random.default_rng(1), "uniform",
                      priors, problem.x_scales)
    # log10 v1 ~ N(-0.3, 0.2); v3 ~ N(3, 1) truncated at 0 (PyBNF's normal_var)
    assert stats.kstest(x[:, 0], stats.norm(-0.3, 0.2).cdf).pvalue > 1e-3
    trunc = stats.truncnorm(-3.0, np.inf, loc=3.0, scale=1.0)
    assert stats.kstest(x[:, 2], trunc.cdf).pvalue > 1e-3
    result = bngfit.fit(problem, n_starts=3, rng=0, engine="sequential")
    np.testing.assert_allclose(10 ** result.best.x[0], 0.5, rtol=1e-6)
    np.testing.assert_allclose(result.best.x[1:], [1.0, 3.0], rtol=1e-6)


def test_neg_bin_dynamic_differences_cum_columns(tmp_path):
    # PyBNF differences a neg_bin_dynamic column named *_Cum* over the action's output
    # grid: x_Cum(t) = k t sampled at step 1 gives increments k after t = 0.
    antimony = pytest.importorskip("antimony")
    assert antimony.loadAntimonyString(
        "model cum\n  species x_Cum;\n  x_Cum = 0;\n  k = 1;\n  J: -> x_Cum; k;\nend\n") >= 0
    (tmp_path / "cum.xml").write_text(antimony.getSBMLString("cum"))
    (tmp_path / "c.exp").write_text("# time x_Cum\n" + "".join(
        f"{t} {c}\n" for t, c in ((1, 2), (2, 3), (4, 2), (7, 3), (10, 1))))
    (tmp_path / "job.conf").write_text(
        "model = cum.xml : c.exp\nobjfunc = neg_bin_dynamic\n"
        "uniform_var = k 0.1 10\nloguniform_var = r__FREE 0.1 100\n"
        "time_course = time: 10, suffix: c\n")
    problem = bngfit.load_problem(tmp_path / "job.conf")
    assert [n.kind.value for n in problem.normalizations] == ["incident"]
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    v = np.array([2.5, np.log10(7.0)])
    ev = obj(v)
    assert ev.ok, ev.message
    np.testing.assert_allclose(ev.simulation, 2.5, rtol=1e-8)
    from scipy import stats

    counts = np.array([2.0, 3.0, 2.0, 3.0, 1.0])
    assert ev.fval == pytest.approx(-stats.nbinom.logpmf(counts, 7.0, 7.0 / 9.5).sum(),
                                    rel=1e-8)
    h = 1e-6
    fd = np.array([(obj(v + h * e).fval - obj(v - h * e).fval) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(ev.grad, fd, rtol=1e-6, atol=1e-8)
