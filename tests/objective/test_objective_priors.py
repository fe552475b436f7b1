"""Objective priors (PEtab objectivePriorType): the negative log-posterior and its gradient.

On the shipped conversion example, one prior family per free parameter, on
native values and on parameter scales; references: scipy.stats densities of
the same values (the prior part) and central differences (the gradient).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

import bngfit
from tests.helpers import EXAMPLE, central_grad, copy_into

TIGHT = {"rtol": 1e-11, "atol": 1e-13}

# parameter -> (objectivePriorType, objectivePriorParameters), and the scipy density of
# the value it reads (native, or on the parameter's scale) at native theta
PRIORS = {
    "k1": ("logNormal", "-2.0;0.8", lambda th: stats.lognorm(s=0.8, scale=np.exp(-2.0))
           .logpdf(th)),
    "k2": ("parameterScaleNormal", "-1.2;0.5", lambda th: stats.norm(-1.2, 0.5)
           .logpdf(np.log10(th))),
    "scale_B": ("laplace", "1.5;0.7", lambda th: stats.laplace(1.5, 0.7).logpdf(th)),
    "sigma_B": ("parameterScaleLaplace", "-1;0.4", lambda th: stats.laplace(-1, 0.4)
                .logpdf(np.log10(th))),
}


def _with_priors(tmp_path, priors, name="pri"):
    d = copy_into(EXAMPLE.parent, tmp_path / name)
    path = d / "parameters.tsv"
    rows = list(csv.reader(path.open(), delimiter="\t"))
    rows[0] += ["objectivePriorType", "objectivePriorParameters"]
    for r in rows[1:]:
        r += list(priors.get(r[0], ("", "")))[:2]
    with path.open("w") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
    return bngfit.load_problem(d / "problem.yaml")


def test_the_posterior_is_the_likelihood_plus_the_priors(tmp_path):
    problem = _with_priors(tmp_path, PRIORS)
    plain = bngfit.load_problem(EXAMPLE)
    x = plain.x_nominal + np.random.default_rng(7).uniform(-0.3, 0.3, len(plain.x_names))
    post = bngfit.Objective(problem, **TIGHT)(x)
    like = bngfit.Objective(plain, **TIGHT)(x)
    theta = dict(zip(problem.x_names, problem.to_native(x), strict=True))
    log_prior = sum(float(f(theta[p])) for p, (_, _, f) in PRIORS.items())
    assert post.llh == pytest.approx(like.llh, rel=1e-12)
    assert post.prior == pytest.approx(-log_prior, rel=1e-12)
    assert post.fval == pytest.approx(like.fval - log_prior, rel=1e-12)
    assert post.log_posterior == pytest.approx(like.llh + log_prior, rel=1e-12)
    obj = bngfit.Objective(problem, **TIGHT)
    np.testing.assert_allclose(post.grad, central_grad(obj, x), rtol=1e-5,
                               atol=1e-6 * np.abs(post.grad).max())
    # the prior's own gradient against differences of scipy's densities
    h = 1e-6
    for i, p in enumerate(problem.x_names):
        f = PRIORS[p][2]
        step = np.zeros_like(x)
        step[i] = h
        up = dict(zip(problem.x_names, problem.to_native(x + step), strict=True))[p]
        down = dict(zip(problem.x_names, problem.to_native(x - step), strict=True))[p]
        d_prior = -(f(up) - f(down)) / (2 * h)
        assert post.grad[i] - like.grad[i] == pytest.approx(d_prior, rel=1e-6, abs=1e-8), p


def test_uniform_priors_and_the_bounds(tmp_path):
    # parameterScaleUniform without parameters: uniform between the bounds, on the scale
    problem = _with_priors(tmp_path, {"k1": ("parameterScaleUniform", ""),
                                      "k2": ("uniform", "0.01;0.5")})
    spec = {p.id: p for p in problem.parameters}
    assert spec["k1"].objective_prior[1:] == pytest.approx((-3.0, 2.0))
    plain = bngfit.load_problem(EXAMPLE)
    x = plain.x_nominal
    ev = bngfit.Objective(problem)(x)
    assert ev.prior == pytest.approx(np.log(5.0) + np.log(0.49), rel=1e-12)
    like = bngfit.Objective(plain)(x)
    np.testing.assert_allclose(ev.grad, like.grad, rtol=1e-12)  # flat inside
    # outside the uniform's range: no density, said with the parameter
    out = bngfit.Objective(problem)(np.where(np.array(problem.x_names) == "k2", 0.0, x))
    assert not out.ok and "'k2'" in out.message


def test_a_prior_on_a_fixed_parameter_is_a_warning_and_a_noise_scale_with_a_prior_stays(
        tmp_path):
    from bngfit.objective._hierarchical import noise_profile

    problem = _with_priors(tmp_path, {"sigma_A": ("normal", "0.1;0.05"),
                                      "sigma_B": ("parameterScaleNormal", "-1;0.3")})
    (w,) = problem.warnings
    assert "sigma_A" in w.format() and "not estimated" in w.format()
    obj = bngfit.Objective(problem)
    profile = noise_profile(obj)
    assert profile is None or "sigma_B" not in profile.names
    plain = noise_profile(bngfit.Objective(bngfit.load_problem(EXAMPLE)))
    assert plain is not None and "sigma_B" in plain.names  # the prior is what stops it


def test_a_bad_prior_names_its_line(tmp_path):
    with pytest.raises(bngfit.InputError) as exc:
        _with_priors(tmp_path, {"k2": ("normal", "0.1")})
    text = str(exc.value)
    assert "parameters.tsv:3" in text and "'k2'" in text and "objectivePriorParameters" in text


def test_evaluate_reports_the_likelihood_without_the_priors_and_the_posterior(tmp_path,
                                                                             capsys):
    import json

    from bngfit.cli import main

    problem = _with_priors(tmp_path, PRIORS)
    assert main(["evaluate", str(problem.source), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    like = bngfit.Objective(bngfit.load_problem(EXAMPLE))(problem.x_nominal)
    assert out["llh"] == pytest.approx(like.llh, rel=1e-9)
    assert out["log_posterior"] == pytest.approx(-out["fval"], rel=1e-12)
    assert out["log_posterior"] == pytest.approx(out["llh"] + out["log_prior"], rel=1e-12)
    assert main(["evaluate", str(problem.source)]) == 0
    text = capsys.readouterr().out
    assert "negative log-posterior" in text and "log-prior" in text
