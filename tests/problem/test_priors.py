"""PEtab initialization priors: parsing, and the table's columns read into a fit.

The distributions the starts are drawn from: optimize/test_start_priors.py.
"""

from __future__ import annotations

import shutil

import pytest

import bngfit
from bngfit.cli._main import main
from bngfit.problem._priors import InitPrior, parse_prior
from tests.helpers import EXAMPLE


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


def _with_prior_columns(tmp_path, kind, params):
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
