"""The gradient-check report: tables against an independent oracle, and its verdicts.

The verdict (agrees / not resolved by the differences / mismatch) is what a user
reads first, so it must flag a planted gradient error and must not flag noise.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import bngfit
from bngfit.cli import _main as cli
from bngfit.objective._gradcheck import COLUMNS, Agreement, summarize
from tests.helpers import EXAMPLE, central_grad, shared_path


@pytest.fixture(scope="module")
def conversion():
    problem = bngfit.load_problem(EXAMPLE)
    return problem, bngfit.Objective(problem, rtol=1e-11, atol=1e-13)


class _WrongGradient:
    """An objective whose gradient is off by ``factor`` in one component."""

    def __init__(self, obj, index: int, factor: float):
        self.obj, self.index, self.factor = obj, index, factor
        self.x_names = obj.x_names

    def __call__(self, x, sensi=0):
        ev = self.obj(x, sensi=sensi)
        if ev.grad is None:
            return ev
        g = ev.grad.copy()
        g[self.index] *= self.factor
        return replace(ev, grad=g)


def test_table_against_independent_differences(conversion):
    problem, obj = conversion
    x = np.asarray(problem.x_nominal, float) + 0.1
    table = bngfit.check_grad(obj, x, eps=1e-4)
    assert list(table.columns) == COLUMNS
    assert list(table.index) == list(problem.x_names)
    oracle = central_grad(obj, x, h=1e-4)
    np.testing.assert_allclose(table["fd_c"], oracle, rtol=1e-12)
    np.testing.assert_allclose(table["grad"], obj(x, sensi=1).grad, rtol=0)
    np.testing.assert_allclose(table["abs_err"], np.abs(table["grad"] - oracle), rtol=1e-9,
                               atol=1e-12)


def test_correct_gradient_agrees(conversion):
    problem, obj = conversion
    x = np.asarray(problem.x_nominal, float) + 0.1
    table = bngfit.check_grad_multi_eps(obj, x)
    s = summarize(table, obj(x, sensi=1).fval)
    assert s.ids(Agreement.AGREES) == list(problem.x_names)


@pytest.mark.parametrize("factor", [1.001, -1.0, 0.0])
def test_planted_gradient_error_is_a_mismatch(conversion, factor):
    problem, obj = conversion
    x = np.asarray(problem.x_nominal, float) + 0.1
    bad = _WrongGradient(obj, 1, factor)
    table = bngfit.check_grad_multi_eps(bad, x)
    s = summarize(table, obj(x, sensi=1).fval)
    assert s.ids(Agreement.MISMATCH) == [problem.x_names[1]]
    assert len(s.ids(Agreement.AGREES)) == len(problem.x_names) - 1


def _row(grad, fd_f, fd_b, eps):
    fd_c = 0.5 * (fd_f + fd_b)
    abs_err = abs(grad - fd_c)
    return [grad, fd_f, fd_b, fd_c, abs(fd_f - fd_b), abs_err, abs_err / abs(fd_c), eps]


def test_verdict_rules_on_hand_made_rows():
    rows = {
        "close": _row(1.0, 1.0 + 1e-7, 1.0 - 1e-7, 1e-5),  # rel_err 0
        "noisy": _row(1e-6, 3e-5, -2e-5, 1e-3),  # off, but fd_f and fd_b disagree more
        "roundoff": _row(3e-12, 1e-11, 1e-11, 1e-2),  # below 16*eps_mach*|f|/eps
        "wrong": _row(2.0, 1.0 + 1e-9, 1.0 - 1e-9, 1e-5),  # differences agree, grad off
    }
    table = pd.DataFrame(rows.values(), index=list(rows), columns=[*COLUMNS, "eps"])
    s = summarize(table, fval=500.0, tol=1e-4)
    assert s.verdict == {"close": Agreement.AGREES, "noisy": Agreement.UNRESOLVED,
                         "roundoff": Agreement.UNRESOLVED, "wrong": Agreement.MISMATCH}
    # the round-off floor scales with |fval|: at fval 1 the same row is a mismatch
    assert summarize(table, fval=1.0).verdict["roundoff"] is Agreement.MISMATCH


def test_cli_prints_the_verdict(capsys):
    assert cli.main(["check-grad", str(EXAMPLE), "--multi-eps", "--rtol", "1e-11",
                     "--atol", "1e-13"]) == 0
    out = capsys.readouterr().out
    assert "rel_err < 0.0001: 4 of 4 parameters" in out
    assert "MISMATCH" not in out


def test_cli_names_unresolved_parameters_at_an_optimum(capsys):
    # Perelson 1996 at its nominal point: the gradients of c and delta are ~1e-11, below
    # what differences of an fval of 432 can resolve; they must not read as mismatches.
    yaml = shared_path("benchmarks", "petab", "Perelson_Science1996",
                       "Perelson_Science1996.yaml")
    assert cli.main(["check-grad", str(yaml), "--multi-eps"]) == 0
    out = capsys.readouterr().out
    assert "not resolved by the finite differences" in out
    assert "MISMATCH" not in out
