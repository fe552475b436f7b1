"""Profile likelihoods: closed-form intervals, classes, bound flags, better points, resume.

Expected values come from outside the code under test: the linear model's
estimate and covariance from numpy's least squares on its design matrix (the
negative log-likelihood is exactly quadratic in (a, b), so the profile of a
parameter is the quadratic with the Schur-complement variance), the product
model's open and crossed sides from where k2 meets its bound, the resumed run
from an uninterrupted one.
"""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from scipy.stats import chi2

import bngfit
from bngfit.errors import InputError
from bngfit.result import ProfileClass, SideEnd
from tests.helpers import LINEAR_DATA, LINEAR_SIGMA, LINEAR_TIMES, linear_problem

Q = float(np.sqrt(chi2.ppf(0.95, 1)))


def _closed_form():
    """Estimate and covariance of (a, b) by linear least squares (numpy)."""
    design = np.column_stack([np.ones_like(LINEAR_TIMES), LINEAR_TIMES]) / LINEAR_SIGMA
    theta, *_ = np.linalg.lstsq(design, LINEAR_DATA / LINEAR_SIGMA, rcond=None)
    return theta, np.linalg.inv(design.T @ design)


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    root = tmp_path_factory.mktemp("prof")
    problem = bngfit.load_problem(linear_problem(root / "lin"))
    db = root / "fit.db"
    bngfit.fit(problem, n_starts=2, engine="sequential", store=db, rng=0)
    return problem, db


@pytest.fixture(scope="module")
def linear_profile(linear, tmp_path_factory):
    _, db = linear
    copy = tmp_path_factory.mktemp("profcopy") / "fit.db"
    shutil.copy(db, copy)
    return bngfit.profile(copy), copy


def test_intervals_match_the_closed_form(linear_profile):
    result, _ = linear_profile
    theta, cov = _closed_form()
    assert result.threshold == pytest.approx(chi2.ppf(0.95, 1) / 2, rel=1e-12)
    for k, name in enumerate(["a", "b"]):
        p = result[name]
        sd = np.sqrt(cov[k, k])  # the profile sd: the Schur complement of the other
        assert p.profile_class is ProfileClass.IDENTIFIABLE
        assert (p.lower_end, p.upper_end) == (SideEnd.CROSSED, SideEnd.CROSSED)
        assert abs(p.lower - (theta[k] - Q * sd)) < 1e-3
        assert abs(p.upper - (theta[k] + Q * sd)) < 1e-3
        table = result.intervals().set_index("parameterId")
        assert table.loc[name, "lower"] == pytest.approx(theta[k] - Q * sd, abs=1e-3)
        assert table.loc[name, "upper"] == pytest.approx(theta[k] + Q * sd, abs=1e-3)


def test_profile_points_lie_on_the_closed_form_profile(linear_profile):
    # each point: the rise is (s - theta)^2 / (2 sd^2), and the other parameter
    # sits at its conditional optimum theta_o + cov_ok / cov_kk (s - theta_k)
    result, _ = linear_profile
    theta, cov = _closed_form()
    for k, o, name in ((0, 1, "a"), (1, 0, "b")):
        pts = result[name].points
        assert len(pts) >= 6 and {q.direction for q in pts} == {-1, 1}
        for q in pts:
            rise = (q.value - theta[k]) ** 2 / (2 * cov[k, k])
            assert q.fval - result.fval_best == pytest.approx(rise, abs=1e-5)
            other = theta[o] + cov[o, k] / cov[k, k] * (q.value - theta[k])
            assert q.x[o] == pytest.approx(other, abs=1e-4)
            assert q.x[k] == q.value and q.native == q.value  # lin scale
            assert q.at_bounds == ()
    assert result.better_point is None


def test_a_parameter_no_observable_reads_is_flat(linear_profile):
    result, _ = linear_profile
    p = result["c"]
    assert p.profile_class is ProfileClass.STRUCTURALLY_FLAT
    assert (p.lower, p.upper) == (None, None)
    assert (p.lower_end, p.upper_end) == (SideEnd.BOUND, SideEnd.BOUND)
    assert p.points[0].value == -2.0 and p.points[-1].value == 2.0  # both log10 bounds
    row = result.intervals().set_index("parameterId").loc["c"]
    assert np.isnan(row["lower"]) and np.isnan(row["upper"])


def test_a_product_is_open_until_the_other_factor_meets_its_bound(tmp_path):
    # slope = k1 * k2, both in [0.01, 100]: k1 is free down to its lower bound
    # (k2 = b / k1 <= 100); upwards k2 meets 0.01 at k1 = b_hat / 0.01, after
    # which the slope is 0.01 * k1 and the rise is the slope's profile
    problem = bngfit.load_problem(linear_problem(tmp_path / "prod", product=True))
    db = tmp_path / "fit.db"
    bngfit.fit(problem, n_starts=2, engine="sequential", store=db, rng=0)
    result = bngfit.profile(db, ["k1"])
    theta, cov = _closed_form()
    p = result["k1"]
    assert p.profile_class is ProfileClass.PRACTICALLY_NON_IDENTIFIABLE
    assert (p.lower_end, p.upper_end) == (SideEnd.BOUND, SideEnd.CROSSED)
    assert p.lower is None
    assert p.native(p.upper) == pytest.approx((theta[1] + Q * np.sqrt(cov[1, 1])) / 0.01,
                                              rel=1e-3)
    flagged = [q for q in p.points if "k2" in q.at_bounds]
    assert flagged and all(q.x[2] == pytest.approx(-2.0, abs=1e-3) for q in flagged)
    assert all(q.native >= theta[1] / 0.01 * 0.99 for q in flagged)
    assert [q.parameter for q in result.profiles] == ["k1"]


def test_a_point_below_the_fit_is_reported(linear, tmp_path):
    problem, _ = linear
    db = tmp_path / "short.db"
    fitted = bngfit.fit(problem, n_starts=1, engine="sequential", store=db, rng=0,
                        max_evals=2)
    result = bngfit.profile(db, ["a"])
    theta, _ = _closed_form()
    assert result.fval_best == fitted.best_fval
    b = result.better_point
    assert b is not None and b.parameter == "a"
    assert b.fval < fitted.best_fval - result.better_tol
    assert "below_best_by" in str(result.summary_dict()["better_point"])


def _stored(db):
    with sqlite3.connect(db) as conn:
        return {(p, d, s): (x, f) for p, d, s, x, f in conn.execute(
            "SELECT parameter, direction, seq, x, fval FROM profile_points")}


def test_an_interrupted_profile_resumes_without_losing_points(linear, linear_profile,
                                                              tmp_path):
    _, db = linear
    whole, _ = linear_profile
    killed = tmp_path / "killed.db"
    shutil.copy(db, killed)
    seen = []

    def stop_after_seven(point):
        seen.append(point)
        if len(seen) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bngfit.profile(killed, callback=stop_after_seven)
    survived = _stored(killed)
    assert len(survived) == 7
    again = bngfit.profile(killed)
    done = _stored(killed)
    assert all(done[k] == survived[k] for k in survived)  # kept as they were
    assert len(done) == sum(len(p.points) for p in whole.profiles)
    for p, q in zip(again.profiles, whole.profiles, strict=True):
        assert [u.value for u in p.points] == pytest.approx([u.value for u in q.points],
                                                            rel=1e-9, abs=1e-12)
        assert (p.lower, p.upper) == pytest.approx((q.lower, q.upper), rel=1e-9) \
            if q.lower is not None else (p.lower, p.upper) == (None, None)
    n = len(done)
    bngfit.profile(killed)  # finished: nothing more to compute
    assert len(_stored(killed)) == n


def test_bad_input_is_refused(linear, tmp_path):
    problem, db = linear
    copy = tmp_path / "c.db"
    shutil.copy(db, copy)
    with pytest.raises(InputError, match="alpha"):
        bngfit.profile(copy, alpha=1.5)
    with pytest.raises(InputError, match="'zz'.*free parameters are a, b, c"):
        bngfit.profile(copy, ["zz"])
    with pytest.raises(InputError, match="no parameter to profile"):
        bngfit.profile(copy, [])
    bngfit.profile(copy, ["c"])
    with pytest.raises(InputError, match="other settings.*alpha"):
        bngfit.profile(copy, ["c"], alpha=0.9)
    assert bngfit.profile(copy, ["c"], alpha=0.9, replace=True).alpha == 0.9


def _march(side, fval_of, steps=None):
    """Run one side's march on a synthetic profile ``fval_of(s)`` (no model)."""
    from bngfit.optimize._profile import ProfileSteps, next_point
    from bngfit.result import ProfilePoint

    pts = []
    while not isinstance(nxt := next_point(side, pts, steps or ProfileSteps()), SideEnd):
        s, x = nxt
        pts.append(ProfilePoint("p", side.direction, len(pts), s, s, fval_of(s),
                                np.array([s])))
    return pts, nxt


@pytest.mark.parametrize("direction", [-1, 1])
def test_the_march_finds_a_quadratic_crossing_and_stops_at_failures(direction):
    from bngfit.optimize._profile import crossing, side_of

    thr = chi2.ppf(0.95, 1) / 2
    lb, ub = np.array([-10.0]), np.array([10.0])
    side = side_of(0, direction, np.array([0.5]), 0.0, lb, ub, thr)
    pts, end = _march(side, lambda s: (s - 0.5) ** 2 / (2 * 0.3**2))
    assert end is SideEnd.CROSSED and len(pts) < 40
    assert crossing(side, pts) == pytest.approx(0.5 + direction * Q * 0.3, abs=1e-4)
    # a failed re-optimization ends the side, open: it brackets nothing
    pts, end = _march(side, lambda s: np.inf if abs(s - 0.5) > 0.4 else 0.0)
    assert end is SideEnd.FAILED and crossing(side, pts) is None
    # a flat profile reaches the bound
    pts, end = _march(side, lambda s: 0.0)
    assert end is SideEnd.BOUND and pts[-1].value == (lb if direction < 0 else ub)[0]


def test_profile_plots_draw_each_profile_its_threshold_and_interval(linear_profile,
                                                                    tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from bngfit.result._plot_profile import (
        PROFILE_FILES,
        intervals_figure,
        plot_profiles,
        profiles_figure,
    )

    result, _ = linear_profile
    fig = profiles_figure(result)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == [p.parameter
                                                                for p in result.profiles]
    theta, cov = _closed_form()
    for ax, p in zip(panels, result.profiles, strict=True):
        # the dashed threshold line sits at chi2.ppf(0.95, 1) / 2
        (dashed,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert dashed.get_ydata()[0] == pytest.approx(chi2.ppf(0.95, 1) / 2)
        # the curve passes through the fit's best point at rise 0
        curve = ax.get_lines()[0]
        assert 0.0 in set(np.round(curve.get_ydata(), 12))
        if p.parameter in ("a", "b"):  # the shaded interval is the closed-form one
            i = "ab".index(p.parameter)
            (span,) = ax.patches
            x0, x1 = span.get_x(), span.get_x() + span.get_width()
            np.testing.assert_allclose([min(x0, x1), max(x0, x1)],
                                       theta[i] + np.array([-1, 1]) * Q * np.sqrt(cov[i, i]),
                                       rtol=1e-6)
    plt.close(fig)
    fig = intervals_figure(result)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["a", "b"]
    plt.close(fig)
    files = plot_profiles(result, tmp_path / "plots")
    assert [f.name for f in files] == list(PROFILE_FILES)
    assert all(f.stat().st_size > 5000 for f in files)
