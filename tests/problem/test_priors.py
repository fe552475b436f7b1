"""PEtab initialization priors: parsing, the drawn start distributions, the table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import bngfit
from bngfit.cli._main import main
from bngfit.optimize._multistart import sample_starts
from bngfit.problem._priors import InitPrior, parse_prior
from bngfit.problem._scales import Scale
from tests.helpers import EXAMPLE

LN10 = np.log(10.0)


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [("", "", None), ("parameterScaleUniform", "", None),
     ("parameterScaleNormal", "0.5;0.2", (InitPrior.PS_NORMAL, 0.5, 0.2)),
     ("logNormal", "-1;0.3", (InitPrior.LOG_NORMAL, -1.0, 0.3))],
)
def test_parse(kind, params, expected):
    assert parse_prior(kind, params) == expected


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [("gaussian", "0;1", "unknown initializationPriorType"),
     ("normal", "", "needs initializationPriorParameters"),
     ("normal", "0;1;2", "two numbers"), ("normal", "0;-1", "must be positive"),
     ("uniform", "2;1", "lower < upper"), ("", "0;1", "without")],
)
def test_parse_errors(kind, params, match):
    with pytest.raises(ValueError, match=match):
        parse_prior(kind, params)


def _draw(prior, scale, lb=-10.0, ub=10.0, n=4000, method="uniform"):
    x = sample_starts(np.array([lb]), np.array([ub]), n, np.random.default_rng(5), method,
                      [prior], [scale])
    return x[:, 0]


@pytest.mark.parametrize("method", ["uniform", "lhs"])
def test_scale_normal_draws(method):
    x = _draw((InitPrior.PS_NORMAL, 0.5, 0.2), Scale.LOG10, method=method)
    assert stats.kstest(x, stats.norm(0.5, 0.2).cdf).pvalue > 1e-3


def test_log_normal_draws_on_a_log10_parameter():
    # native = exp(N(mu, sd)): log10 of it is N(mu / ln10, sd / ln10)
    x = _draw((InitPrior.LOG_NORMAL, -1.0, 0.3), Scale.LOG10)
    assert stats.kstest(x, stats.norm(-1.0 / LN10, 0.3 / LN10).cdf).pvalue > 1e-3


def test_native_uniform_on_a_log_parameter():
    x = _draw((InitPrior.UNIFORM, 1.0, 100.0), Scale.LOG10, lb=-3, ub=3)
    assert stats.kstest(10**x, stats.uniform(1.0, 99.0).cdf).pvalue > 1e-3


def test_priors_are_truncated_to_the_bounds():
    # no mass inside the bounds: every start at the bound nearer the prior
    x = _draw((InitPrior.PS_NORMAL, 50.0, 1.0), Scale.LIN, lb=0.0, ub=1.0, n=50)
    assert (x == 1.0).all()
    # a native normal on a log10 parameter in [0.01, 100]: the truncated normal
    x = _draw((InitPrior.NORMAL, 0.5, 1.0), Scale.LOG10, lb=-2.0, ub=2.0)
    assert (x >= -2.0).all() and (x <= 2.0).all()
    expected = stats.truncnorm((0.01 - 0.5) / 1.0, (100 - 0.5) / 1.0, loc=0.5, scale=1.0)
    assert stats.kstest(10**x, expected.cdf).pvalue > 1e-3


def _with_prior_columns(tmp_path, kind, params):
    import shutil

    d = tmp_path / "p"
    shutil.copytree(EXAMPLE.parent, d)
    table = d / "parameters.tsv"
    lines = table.read_text().splitlines()
    out = [lines[0] + "\tinitializationPriorType\tinitializationPriorParameters"]
    for ln in lines[1:]:
        pid = ln.split("\t")[0]
        out.append(ln + (f"\t{kind}\t{params}" if pid == "k1" else "\t\t"))
    table.write_text("\n".join(out) + "\n")
    return d / "problem.yaml"


def test_fit_draws_starts_from_the_table_prior(tmp_path):
    path = _with_prior_columns(tmp_path, "parameterScaleNormal", "-0.1;0.001")
    problem = bngfit.load_problem(path)
    assert problem.free[0].init_prior == (InitPrior.PS_NORMAL, -0.1, 0.001)
    result = bngfit.fit(problem, n_starts=3, rng=0, engine="sequential")
    k1 = problem.x_names.index("k1")
    for s in result.starts:
        assert s.x0[k1] == pytest.approx(-0.1, abs=0.01)


def test_bad_prior_in_the_table_names_the_line(tmp_path, capsys):
    path = _with_prior_columns(tmp_path, "parameterScaleNormal", "0;-1")
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr()
    assert "parameters.tsv:2" in out.out and "must be positive" in out.out
