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
    assert list(table.columns) == [*COLUMNS, "verdict"]
    assert set(table["verdict"]) == {"agrees"}
    assert list(table.index) == list(problem.x_names)
    oracle = central_grad(obj, x, h=1e-4)
    np.testing.assert_allclose(table["fd_c"], oracle, rtol=1e-12)
    np.testing.assert_allclose(table["grad"], obj(x, sensi=1).grad, rtol=0)
    np.testing.assert_allclose(table["abs_err"], np.abs(table["grad"] - oracle), rtol=1e-9,
                               atol=1e-12)
    # rel_err is relative to the larger of the two numbers compared
    size = np.maximum(np.abs(table["grad"]), np.abs(oracle))
    np.testing.assert_allclose(table["rel_err"], table["abs_err"] / size, rtol=1e-12)


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
    return [grad, fd_f, fd_b, fd_c, abs(fd_f - fd_b), abs_err,
            abs_err / max(abs(grad), abs(fd_c)), eps]


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
    assert "gradient check of 4 parameters: 4 agree, 0 unresolved, 0 mismatch" in out
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


# ------------------------------------------------------------------ rel_err, headline
def test_rel_err_is_bounded_where_a_difference_is_exactly_zero():
    from bngfit.objective._gradcheck import relative_error

    # a noise parameter set in closed form: the value does not move, fd_c is 0
    assert relative_error(0.0, 0.0, 0.0) == 0.0
    assert relative_error(1e-14, 1e-14, 0.0) == 1.0  # not 1e293
    assert relative_error(2.0, 3.0, 1.0) == pytest.approx(2 / 3)
    assert relative_error(2.0, 1.0, -1.0) == 2.0  # opposite signs: the largest value
    assert not np.isfinite(relative_error(np.nan, np.nan, 1.0))


def test_headline_leads_with_counts_and_ignores_unresolved_errors():
    from bngfit.objective._gradcheck import describe, headline, tighter

    rows = {
        "good": _row(1.0, 1.0 + 1e-9, 1.0 - 1e-9, 1e-5),  # rel_err ~0
        "slight": _row(1.0 + 2e-6, 1.0 + 1e-9, 1.0 - 1e-9, 1e-5),  # rel_err 2e-6
        "noisy": _row(1e-6, 3e-5, -2e-5, 1e-3),  # rel_err 0.8, but unresolved
    }
    table = pd.DataFrame(rows.values(), index=list(rows), columns=[*COLUMNS, "eps"])
    s = summarize(table, fval=10.0)
    assert s.ids(Agreement.UNRESOLVED) == ["noisy"]
    line = headline(s, table)
    assert line.startswith("3 parameters: 2 agree, 1 unresolved, 0 mismatch")
    assert "largest rel_err 2.0e-06 (slight)" in line  # not noisy's 0.8
    # the advice names tolerances tighter than those used, or says there are none
    lines = describe(s, table, (1e-12, 1e-14))
    assert "--rtol" not in " ".join(lines) and "already at the solver's limit" in lines[-1]
    assert tighter((1e-8, 1e-10)) == "--rtol 1e-10 --atol 1e-12"


# ------------------------------------------------------------------ value-only differences
class _Counting:
    """Counts evaluations by their ``sensi``."""

    def __init__(self, obj):
        self.obj, self.x_names, self.calls = obj, obj.x_names, {0: 0, 1: 0}

    def __call__(self, x, sensi=0):
        self.calls[int(sensi)] += 1
        return self.obj(x, sensi=sensi)

    def clear_cache(self):
        self.obj.clear_cache()


def test_value_only_differences_match_independent_ones(conversion):
    problem, obj = conversion
    x = np.asarray(problem.x_nominal, float) + 0.1
    counted = _Counting(obj)
    progress = []
    table = bngfit.check_grad(counted, x, eps=1e-4, values="plain",
                              progress=lambda d, t, w: progress.append((d, t, w)))
    n = len(problem.x_names)
    assert counted.calls[0] == 2 * n + 1  # the shifted points and the base, value only
    assert table.attrs["values"] == "plain"
    h = 1e-4
    oracle = [(obj(x + h * e, sensi=0).fval - obj(x - h * e, sensi=0).fval) / (2 * h)
              for e in np.eye(n)]
    np.testing.assert_allclose(table["fd_c"], oracle, rtol=1e-12)
    assert set(table["verdict"]) == {"agrees"}
    # progress: after every shifted evaluation, naming the parameter and step
    assert [p[0] for p in progress] == list(range(1, 2 * n + 1))
    assert {p[1] for p in progress} == {2 * n} and progress[0][2] == "k1, step 0.0001"


def test_auto_takes_value_only_differences_for_many_parameters(conversion):
    from bngfit.objective._gradcheck import PLAIN_FROM, fd_sensi

    problem, obj = conversion
    assert fd_sensi(obj, "auto") == (0 if len(problem.x_names) >= PLAIN_FROM else 1)
    assert fd_sensi(obj, "sensi") == 1 and fd_sensi(obj, "plain") == 0

    class Many:
        x_names = [f"p{i}" for i in range(PLAIN_FROM)]

    assert fd_sensi(Many(), "auto") == 0


def test_multi_eps_progress_counts_every_step(conversion):
    problem, obj = conversion
    seen = []
    bngfit.check_grad_multi_eps(obj, problem.x_nominal, multi_eps=[1e-3, 1e-4],
                                progress=lambda d, t, w: seen.append((d, t)))
    n = len(problem.x_names)
    assert seen[-1] == (4 * n, 4 * n) and len(seen) == 4 * n


# ------------------------------------------------------------------ residual Jacobian
class _WrongJacobian:
    """An objective whose residual Jacobian is off by ``factor`` in one column."""

    def __init__(self, obj, index: int, factor: float):
        self.obj, self.index, self.factor = obj, index, factor
        self.x_names = obj.x_names

    def __call__(self, x, sensi=0):
        ev = self.obj(x, sensi=sensi)
        if ev.sres is None:
            return ev
        from bngfit.objective._evaluation import LazyResiduals

        j = ev.sres.copy()
        j[:, self.index] *= self.factor
        return replace(ev, residuals=LazyResiduals.of(ev.res, j))

    def clear_cache(self):
        self.obj.clear_cache()


def test_residual_jacobian_against_independent_differences(conversion):
    from bngfit.objective._gradcheck import check_res, check_res_multi_eps
    from tests.helpers import central_res_jac

    problem, obj = conversion
    x = np.asarray(problem.x_nominal, float) + 0.1
    table = check_res(obj, x, eps=1e-5, values="sensi")
    oracle = central_res_jac(obj, x, h=1e-5)
    sres = obj(x, sensi=1).sres
    worst = np.abs(sres - oracle).max(axis=0)
    np.testing.assert_allclose(table["abs_err"], worst, rtol=1e-6, atol=1e-14)
    rows = table["entry"].to_numpy()
    np.testing.assert_allclose(table["grad"], sres[rows, range(len(rows))], rtol=0)
    assert set(table["verdict"]) == {"agrees"}
    # a planted error in one column of the Jacobian is a mismatch, in that column only
    bad = check_res_multi_eps(_WrongJacobian(obj, 2, 1.001), x)
    assert list(bad["verdict"]) == ["agrees", "agrees", "mismatch", "agrees"]


def test_residual_check_refuses_an_objective_without_residuals(conversion):
    from bngfit.objective._gradcheck import check_res

    problem, obj = conversion

    class NoRes:
        x_names = obj.x_names

        def __call__(self, x, sensi=0):
            return replace(obj(x, sensi=sensi), residuals=None)

        def clear_cache(self):
            obj.clear_cache()

    with pytest.raises(ValueError, match="no residual form"):
        check_res(NoRes(), problem.x_nominal)


def test_auto_checks_unresolved_parameters_again_with_sensitivities(conversion, monkeypatch):
    from bngfit.objective import _gradcheck

    problem, obj = conversion
    monkeypatch.setattr(_gradcheck, "PLAIN_FROM", 1)  # value-only from one parameter on
    # at the optimum the gradient is ~0; value-only differences leave entries unresolved
    fit = bngfit.fit(problem, n_starts=2, engine="sequential", rng=0)
    x = fit.best.x
    counted = _Counting(obj)
    plain = bngfit.check_grad(counted, x, eps=1e-3, values="plain")
    unresolved = [p for p, v in plain["verdict"].items() if v != "agrees"]
    assert unresolved, plain  # the case this is for
    auto = bngfit.check_grad(obj, x, eps=1e-3, values="auto")
    sensi = bngfit.check_grad(obj, x, eps=1e-3, values="sensi")
    assert auto.attrs["sensi_for"] == unresolved
    for p in problem.x_names:
        expected = sensi if p in unresolved else plain
        np.testing.assert_allclose(auto.loc[p, "fd_c"], expected.loc[p, "fd_c"], rtol=1e-12)
        assert auto.loc[p, "verdict"] == expected.loc[p, "verdict"]
