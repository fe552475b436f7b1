"""Bootstrap: resampling, seeding, engines, thresholds, the store, intervals.

Expected values come from outside the code under test: the weights' sums from
the experiments' sizes, the threshold's verdicts from an unthresholded run of
the same replicates, the intervals from numpy percentiles of the replicates'
native values computed here, the PyBNF scale from the weighted chi2.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.optimize import _bootstrap_run as boot_run
from bngfit.optimize._bootstrap import experiment_strata, resample_weights
from bngfit.result import ReplicateStatus
from tests.helpers import EXAMPLE


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The conversion example fitted (2 plain starts) into a store; the store's path."""
    root = tmp_path_factory.mktemp("boot")
    shutil.copytree(EXAMPLE.parent, root / "conversion")
    problem = bngfit.load_problem(root / "conversion" / "problem.yaml")
    db = root / "fit.db"
    bngfit.fit(problem, n_starts=2, race=1, engine="sequential", store=db, rng=3)
    return problem, db


def _copy(db, tmp_path, name="copy.db"):
    out = tmp_path / name
    shutil.copy(db, out)
    return out


def test_weights_resample_each_experiment_to_its_size(fitted):
    problem, _ = fitted
    strata = experiment_strata(problem)
    sizes = np.bincount(strata)
    assert len(sizes) == len(problem.conditions) >= 2
    seen = set()
    for k in range(20):
        w = resample_weights(strata, 7, k)
        assert w.dtype.kind == "i" and (w >= 0).all()
        np.testing.assert_array_equal(np.bincount(strata, weights=w), sizes)
        np.testing.assert_array_equal(w, resample_weights(strata, 7, k))  # seeded
        seen.add(w.tobytes())
        assert (w == 0).any() and (w >= 2).any()  # drawn with replacement
    assert len(seen) == 20
    assert not np.array_equal(resample_weights(strata, 8, 0), resample_weights(strata, 7, 0))


def test_same_seed_same_replicates_on_every_engine(fitted, tmp_path):
    problem, db = fitted
    a = bngfit.bootstrap(_copy(db, tmp_path, "a.db"), 4, engine="sequential", seed=11)
    b = bngfit.bootstrap(_copy(db, tmp_path, "b.db"), 4, engine="process", workers=2, seed=11)
    c = bngfit.bootstrap(_copy(db, tmp_path, "c.db"), 4, engine="sequential", seed=12)
    assert [r.index for r in a.replicates] == [0, 1, 2, 3] == [r.index for r in b.replicates]
    for ra, rb in zip(a.replicates, b.replicates, strict=True):
        np.testing.assert_array_equal(ra.weights, rb.weights)
        np.testing.assert_array_equal(ra.x, rb.x)
        assert ra.fval == rb.fval
    assert not np.array_equal(a.replicates[0].weights, c.replicates[0].weights)
    # the default seed is the fit's
    d = bngfit.bootstrap(_copy(db, tmp_path, "d.db"), 1, engine="sequential")
    assert d.seed == bngfit.load_result(db).seed == 3


def test_replicate_end_point_is_the_weighted_optimum(fitted, tmp_path):
    problem, db = fitted
    res = bngfit.bootstrap(_copy(db, tmp_path), 2, engine="sequential", seed=1)
    fit = bngfit.load_result(db)
    for r in res.replicates:
        obj = bngfit.Objective(problem, weights=r.weights, **fit.settings["objective_opts"])
        ev = obj(r.x, sensi=1)
        assert ev.fval == pytest.approx(r.fval, rel=1e-9)
        # a local optimum of the resampled data (k1, k2, scale_B inside their bounds;
        # sigma_B is set in closed form)
        assert np.all(np.abs(ev.grad[:3]) < 1e-3 * (1 + abs(ev.fval)))
        assert not np.allclose(r.x, fit.best.x)  # the resample moved it


def test_intervals_are_percentiles_of_native_replicate_values(fitted, tmp_path):
    problem, db = fitted
    res = bngfit.bootstrap(_copy(db, tmp_path), 12, engine="process", workers=2, seed=0)
    assert res.complete and res.n_accepted == 12
    native = np.array([10.0 ** r.x for r in res.replicates])  # every scale is log10 here
    for level in (0.95, 0.8):
        table = res.intervals(level)
        assert list(table.columns) == ["parameterId", "parameterScale", "estimate", "lower",
                                       "upper", "median", "n_replicates", "level"]
        q = np.percentile(native, [50 * (1 - level), 50 * (1 + level)], axis=0)
        np.testing.assert_allclose(table["lower"], q[0], rtol=1e-12)
        np.testing.assert_allclose(table["upper"], q[1], rtol=1e-12)
        np.testing.assert_allclose(table["estimate"], 10.0 ** bngfit.load_result(db).best.x)
    wide, narrow = res.intervals(0.95), res.intervals(0.8)
    assert (wide["lower"] <= narrow["lower"]).all() and (wide["upper"] >= narrow["upper"]).all()
    # the fitted rate constants lie inside their 95% intervals
    for pid in ("k1", "k2"):
        row = wide.set_index("parameterId").loc[pid]
        assert row.lower < row.estimate < row.upper


def test_threshold_discards_and_replaces_replicates(fitted, tmp_path):
    problem, db = fitted
    free = bngfit.bootstrap(_copy(db, tmp_path, "free.db"), 10, engine="sequential", seed=4)
    fvals = np.array([r.fval for r in free.replicates])
    cut = float(np.median(fvals))
    res = bngfit.bootstrap(_copy(db, tmp_path, "cut.db"), 3, engine="sequential", seed=4,
                           max_fval=cut)
    # the same replicates (same seed): accepted exactly where the free run's fval <= cut
    ok = [i for i, f in enumerate(fvals) if f <= cut][:3]
    assert [r.index for r in res.accepted] == ok
    discarded = [r.index for r in res.replicates if r.status is ReplicateStatus.ABOVE_MAX]
    assert discarded == [i for i in range(ok[-1]) if fvals[i] > cut]
    assert res.n_discarded == len(discarded) > 0
    assert all(r.fval == pytest.approx(fvals[r.index], rel=1e-12) for r in res.replicates)


def test_too_many_discards_in_a_row_stop_the_run(fitted, tmp_path, monkeypatch):
    _, db = fitted
    monkeypatch.setattr(boot_run, "MAX_DISCARDS_IN_A_ROW", 3)
    res = bngfit.bootstrap(_copy(db, tmp_path), 2, engine="sequential", max_fval=-1e9)
    assert not res.complete and res.n_accepted == 0
    # waves of (n + discarded) indices: 0-1, then 2-3, and then the run stops
    assert [r.status for r in res.replicates] == [ReplicateStatus.ABOVE_MAX] * 4
    assert res.intervals()["lower"].isna().all()


def test_continuing_adds_replicates_and_other_settings_are_refused(fitted, tmp_path):
    _, db = fitted
    store = _copy(db, tmp_path)
    first = bngfit.bootstrap(store, 2, engine="sequential", seed=2)
    more = bngfit.bootstrap(store, 4, engine="sequential", seed=2)
    assert more.n_accepted == 4
    for a, b in zip(first.replicates, more.replicates[:2], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(InputError, match="seed: stored 2, given 9"):
        bngfit.bootstrap(store, 4, engine="sequential", seed=9)
    again = bngfit.bootstrap(store, 1, engine="sequential", seed=9, replace=True)
    assert again.seed == 9 and len(again.replicates) == 1
    assert bngfit.load_bootstrap(store).seed == 9


def test_a_problem_as_source_is_fitted_first(fitted, tmp_path):
    problem, _ = fitted
    res = bngfit.bootstrap(problem, 2, engine="sequential",
                           fit_opts={"n_starts": 1, "race": 1, "engine": "sequential"})
    assert res.n_accepted == 2 and res.x_names == problem.x_names


@pytest.mark.parametrize(("kw", "text"), [
    ({"n": 0}, "n must be an integer >= 1"),
    ({"n": 2, "level": 1.5}, "strictly between 0 and 1"),
    ({"n": 2, "starts": 0}, "starts must be an integer >= 1"),
    ({"n": 2, "max_fval": float("nan")}, "max_fval must be a number"),
    ({"n": None}, "give the number of bootstrap replicates"),
])
def test_bad_values_are_refused_before_any_refit(fitted, tmp_path, kw, text):
    _, db = fitted
    store = _copy(db, tmp_path)
    n = kw.pop("n")
    with pytest.raises(InputError, match=text):
        bngfit.bootstrap(store, n, engine="sequential", **kw)
    assert bngfit.load_result(store).starts  # the fit is untouched
    with pytest.raises(InputError, match="holds no bootstrap"):
        bngfit.load_bootstrap(store)


def test_a_replicate_its_worker_cannot_set_up_is_not_stored(fitted, tmp_path, monkeypatch):
    from bngfit.errors import BngfitError
    from bngfit.optimize import _bootstrap
    from bngfit.result import StartResult, StartStatus

    def not_set_up(task):
        return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), 0, 0.0,
                           StartStatus.NOT_RUN, "OSError: model file gone", np.zeros(0))

    _, db = fitted
    store = _copy(db, tmp_path)
    monkeypatch.setattr(_bootstrap, "run_start", not_set_up)
    with pytest.raises(BngfitError, match="could not be set up in its worker"):
        bngfit.bootstrap(store, 2, engine="sequential")
    assert bngfit.load_bootstrap(store).replicates == ()  # a new run retries them
