"""Edition-2 PyBNF configurations: experiments, conditions, pre-equilibration, noise models.

Parabola demo: x(t) = t - 10, y = v1 x^2 + v2 x + v3 (SBML parabola.xml, BNGL
parabola.bngl), data written by the tests from that closed form; a decay model
A' = kp*on - k*A for pre-equilibration, whose steady state is kp/k (on = 1).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bngfit
from bngfit.cli import main

from .conftest import shared_path
from .test_pybnf_problem import needs_bng

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


# ------------------------------------------------------------------ refusals
REFUSALS = [
    ("parameter: v9, initial: 1", "start value without bounds"),
    ("condition: c, perturbations: v1 * 2\n"
     "experiment: e, preequilibrate: c, data: r1.exp", "absolute '=' perturbations"),
    ("condition: c, perturbations: v9 = 2\nexperiment: e, condition: c, data: r1.exp",
     "'v9' is no parameter or species"),
    ("condition: c, perturbations: v1 = k9\nexperiment: e, condition: c, data: r1.exp",
     "neither a number nor a declared free parameter"),
    ("condition: c, perturbations: x * 2\nexperiment: e, condition: c, data: r1.exp",
     "'*' on the species 'x' is not supported"),
    ("noise_model: neg_bin, observable: y, dispersion: relative", "not supported yet"),
    ("noise_model: neg_bin, observable: y, dispersion: fix_at 5", "noise_location = mean"),
    ("noise_model: lognormal, observable: y, sigma: read_exp_file _SD, location: mean",
     "prediction as its mean"),
    ("noise_model: normal, observable: z, sigma: fix_at 1", "'z', which is no data column"),
    ("experiment: q, data: c.prop", ".prop constraint file in experiment 'q'"),
    ("normalization = init", "normalization in an edition-2"),
]


@pytest.mark.parametrize(("text", "match"), REFUSALS)
def test_refusals_name_file_and_line(tmp_path, capsys, text, match):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    (d / "c.prop").write_text("x < 100 always\n")
    lines = [*SBML_HEAD, "objective: chi_sq", "experiment: base, data: r1.exp", *text.split("\n")]
    conf = _write_conf(d, lines)
    # the line at fault is the first added one (records of the refusal), +1 for edition
    first = len(lines) - text.count("\n") + 1
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert match in err and f"job.conf:{first}" in err, err


def test_objective_is_required_and_single(tmp_path, capsys):
    d = _demo(tmp_path)
    _write_exp(d / "r1.exp", TRUTH)
    conf = _write_conf(d, [*SBML_HEAD, "experiment: base, data: r1.exp"])
    assert main(["evaluate", str(conf)]) == 2
    assert "no objective" in capsys.readouterr().err
    conf = _write_conf(d, [*SBML_HEAD, "objective: sos", "experiment: base, data: r1.exp",
                           "noise_model: normal, sigma: fix_at 1"])
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and f"job.conf:{len(SBML_HEAD) + 4}" in err, err
