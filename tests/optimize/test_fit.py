"""Multistart fitting: recovery with every optimizer, engines, store, failures, refusals.

Recovery uses noise-free data written from the closed-form solution of the
conversion reaction A <-> B (``helpers.recovery_problem``), so the true
parameters are the exact optimum.
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.errors import InputError, UnsupportedError
from bngfit.optimize._multistart import fit, sample_starts
from bngfit.result._store import Store, load_result
from tests.helpers import (
    EXAMPLE,
    RECOVERY_TIMES,
    RECOVERY_TRUE,
    blowup_problem,
    recovery_problem,
    shared_path,
)


@pytest.mark.parametrize("optimizer", ["least_squares", "lbfgsb", "fides"])
def test_recovers_true_parameters(problem_writer, optimizer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    result = fit(problem, optimizer=optimizer, n_starts=3, rng=1, engine="sequential")
    assert result.best is not None
    native = dict(zip(result.x_names, 10 ** result.best.x, strict=True))
    for name, value in RECOVERY_TRUE.items():
        assert native[name] == pytest.approx(value, rel=1e-4), (optimizer, name)
    # Noise-free data: the optimum's fval is the Gaussian normalisation alone.
    const = 2 * len(RECOVERY_TIMES) * (0.5 * np.log(2 * np.pi) + np.log(0.01))
    assert result.best_fval == pytest.approx(const, abs=1e-6)
    assert result.n_converged() >= 1
    assert all(s.n_fval > 0 for s in result.starts)


def test_start_points_are_seeded_and_inside_bounds():
    lb, ub = np.array([-2.0, 0.0]), np.array([2.0, 5.0])
    a = sample_starts(lb, ub, 50, np.random.default_rng(3), "uniform")
    b = sample_starts(lb, ub, 50, np.random.default_rng(3), "uniform")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50, 2) and (a >= lb).all() and (a <= ub).all()
    h = sample_starts(lb, ub, 10, np.random.default_rng(3), "lhs")
    # Latin hypercube: exactly one point in each of the 10 strata per dimension.
    for j in range(2):
        strata = np.floor((h[:, j] - lb[j]) / (ub[j] - lb[j]) * 10).astype(int)
        assert sorted(strata) == list(range(10))


def test_engines_agree(problem_writer):
    distributed = pytest.importorskip("distributed")
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    # A race of 3 candidates with short runs too short to agree: every candidate
    # is drawn and raced, on every engine.
    race = {"race": 3, "race_budget": 4}
    runs = {eng: fit(problem, optimizer="least_squares", n_starts=4, rng=7, engine=eng,
                     workers=2, **race)
            for eng in ("sequential", "process", "dask")}
    # A running scheduler, reached by its address (as on a cluster).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        runs["scheduler"] = fit(problem, optimizer="least_squares", n_starts=4, rng=7,
                                engine="dask", scheduler=cluster.scheduler_address, **race)
    ref = {s.index: s for s in runs["sequential"].starts}
    for eng, r in runs.items():
        assert r.seed == 7
        got = {s.index: s for s in r.starts}
        assert set(got) == set(ref)
        for i, s in got.items():
            np.testing.assert_array_equal(s.x0, ref[i].x0)
            np.testing.assert_allclose(s.x, ref[i].x, rtol=1e-10, atol=1e-12, err_msg=eng)
            assert s.fval == pytest.approx(ref[i].fval, rel=1e-12, abs=1e-12)
            assert s.n_fval == ref[i].n_fval and "race of 3 candidates" in s.message


def test_store_roundtrip_and_gradchecks(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    result = fit(problem, optimizer="fides", n_starts=3, rng=2, engine="sequential",
                 store=db, check_gradient=True)
    back = load_result(db)
    assert [s.index for s in back.starts] == [s.index for s in result.starts]
    for a, b in zip(back.starts, result.starts, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.trace, b.trace)
        assert a.fval == b.fval and a.status == b.status and a.n_fval == b.n_fval
    assert set(back.gradchecks) == {"start", "best"}
    for table in back.gradchecks.values():
        assert list(table.index) == problem.x_names
    assert (back.gradchecks["start"]["rel_err"] < 1e-4).all()
    # At the exact optimum the gradient vanishes: relative errors are noise there,
    # so the absolute error is what must be small.
    assert (back.gradchecks["best"]["abs_err"] < 1e-4).all()
    assert (back.gradchecks["best"]["grad"].abs() < 1e-3).all()
    # The store refuses a second run on top of the first.
    with pytest.raises(InputError, match="already holds a run"):
        fit(problem, n_starts=3, rng=2, engine="sequential", store=db)


def test_resume_refuses_another_problem(problem_writer, tmp_path):
    p1 = bngfit.load_problem(recovery_problem(problem_writer, "one"))
    db = tmp_path / "run.db"
    fit(p1, n_starts=2, rng=0, engine="sequential", store=db)
    path2 = recovery_problem(problem_writer, "two")
    meas = path2.parent / "measurements.tsv"
    meas.write_text(meas.read_text().replace("obs_B\tc0\t8", "obs_B\tc0\t9"))
    p2 = bngfit.load_problem(path2)
    with pytest.raises(InputError, match="different problem"):
        fit(p2, n_starts=2, rng=0, engine="sequential", store=db, resume=True)
    with pytest.raises(InputError, match="stored settings"):
        fit(p1, n_starts=1, rng=0, engine="sequential", store=db, resume=True)


def test_least_squares_refused_without_residual_form(problem_writer, monkeypatch):
    problem = bngfit.load_problem(recovery_problem(problem_writer, noise="laplace"))

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before refusing")

    monkeypatch.setattr("bngfit.simulate.Engine.run", no_simulation)
    with pytest.raises(UnsupportedError, match="fides.*lbfgsb|lbfgsb.*fides"):
        fit(problem, optimizer="least_squares", n_starts=2, engine="sequential")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"optimizer": "newton"}, "unknown optimizer"), ({"engine": "gpu"}, "unknown engine"),
     ({"n_starts": 0}, "at least 1"), ({"sampler": "sobol"}, "unknown start sampler"),
     ({"starts": [[5.0, 0.0, 0.0]]}, "outside the bounds")],
)
def test_bad_fit_settings(problem_writer, kwargs, match):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    with pytest.raises(ValueError, match=match):
        fit(problem, engine=kwargs.pop("engine", "sequential"), **kwargs)


def test_failing_start_is_recorded_and_others_go_on(problem_writer):
    k_true = 0.2
    problem = blowup_problem(problem_writer, k_true)
    # User start points are kept as given, even where the model fails.
    result = fit(problem, optimizer="least_squares", n_starts=2, engine="sequential",
                 starts=[[np.log10(5.0)], [np.log10(0.05)]])
    by_index = {s.index: s for s in result.starts}
    assert by_index[0].status.value == "error"
    assert by_index[0].fval == float("inf")
    assert "condition 'c0'" in by_index[0].message
    assert by_index[1].status.value == "converged"
    assert 10 ** by_index[1].x[0] == pytest.approx(k_true, rel=1e-5)
    assert result.best.index == 1


def test_store_rejects_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_text("hello, not sqlite at all " * 50)
    with pytest.raises(InputError, match="not a bngfit store: not an SQLite database"):
        Store(bad)
    with pytest.raises(InputError, match="not found"):
        load_result(tmp_path / "missing.db")


def test_sampled_start_in_failing_region_is_redrawn_alike_on_every_engine(problem_writer):
    problem = blowup_problem(problem_writer)
    first = sample_starts(problem.lb, problem.ub, 6, np.random.default_rng(11))
    assert (10 ** first[:, 0] > 0.5).any(), "no drawn start falls in the failing region"
    runs = [fit(problem, optimizer="least_squares", n_starts=6, rng=11, engine=eng,
                workers=2) for eng in ("sequential", "process")]
    for r in runs:
        assert all(s.status.value == "converged" for s in r.starts)
        assert all(10 ** s.x0[0] < 0.5 for s in r.starts)
        redrawn = [s for s in r.starts if "redrawn" in s.message]
        assert len(redrawn) == int((10 ** first[:, 0] > 0.5).sum())
        assert r.best_fval == pytest.approx(runs[0].best_fval, rel=1e-12)
    a, b = ({s.index: s.x0 for s in r.starts} for r in runs)
    for i in a:
        np.testing.assert_array_equal(a[i], b[i])


def test_solver_messages_of_workers_go_to_the_store_log(problem_writer, tmp_path, capfd):
    problem = blowup_problem(problem_writer)
    db = tmp_path / "run.db"
    fit(problem, optimizer="least_squares", n_starts=2, engine="process", workers=2,
        store=db, starts=[[np.log10(5.0)], [np.log10(0.05)]])
    log = (tmp_path / "run.db.solver.log").read_text()
    assert "CVode" in log or "ERROR" in log  # the failing start's solver report
    assert "CVode" not in capfd.readouterr().err  # ... not on the terminal
    # where no solver says anything, no empty log is left beside the store
    quiet = tmp_path / "quiet.db"
    fit(bngfit.load_problem(EXAMPLE), n_starts=2, engine="process", workers=2, store=quiet,
        race=1)
    assert quiet.exists() and not (tmp_path / "quiet.db.solver.log").exists()


def test_resume_refuses_an_edited_pybnf_conf(tmp_path):
    import shutil

    d = tmp_path / "demo"
    shutil.copytree(shared_demo(), d)
    conf = d / "demo_xml.conf"
    db = tmp_path / "run.db"
    fit(bngfit.load_problem(conf), n_starts=2, rng=0, engine="sequential", store=db)
    conf.write_text(conf.read_text().replace("uniform_var = v1 0 10", "uniform_var = v1 0 100"))
    with pytest.raises(InputError, match="different problem"):
        fit(bngfit.load_problem(conf), engine="sequential", store=db, resume=True)


def shared_demo():
    return shared_path("benchmarks", "pybnf", "demo")


def test_problem_changed_in_memory(problem_writer):
    import dataclasses

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    m = problem.measurements
    changed = dataclasses.replace(problem, measurements=dataclasses.replace(m, value=m.value * 3))
    result = fit(changed, optimizer="least_squares", n_starts=2, rng=1, engine="sequential")
    # the sequential engine fits the problem passed, not its file
    assert bngfit.Objective(changed)(result.best.x).fval == pytest.approx(result.best_fval)
    with pytest.raises(InputError, match="differs from what its files give"):
        fit(changed, n_starts=2, rng=1, engine="process", workers=2)


def test_library_resume_takes_the_stored_settings(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    first = fit(problem, optimizer="fides", n_starts=3, engine="sequential", store=db)
    with Store(db) as st:  # a killed run: the last start never finished
        with st.conn:
            st.conn.execute("DELETE FROM starts WHERE idx = 2")
    again = fit(problem, engine="sequential", store=db, resume=True)  # no seed, no settings
    assert again.seed == first.seed and again.optimizer == "fides"
    assert {s.index for s in again.starts} == {0, 1, 2}
    for a, b in zip(sorted(again.starts, key=lambda s: s.index),
                    sorted(first.starts, key=lambda s: s.index), strict=True):
        np.testing.assert_array_equal(a.x0, b.x0)


def test_a_start_that_never_ran_is_retried_on_resume(problem_writer, tmp_path, monkeypatch):
    import bngfit.optimize._multistart as ms
    import bngfit.optimize._start_runner as runner

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"

    def broken(*args, **kwargs):
        raise RuntimeError("no C compiler")

    with monkeypatch.context() as m:
        m.setattr(runner, "objective_for", broken)
        m.setattr(ms, "_check_workers_see_it", lambda *a, **k: None)
        r = fit(problem, n_starts=2, rng=0, engine="sequential", store=db)
    assert all(s.status.value == "not_run" and s.n_fval == 0 for s in r.starts)
    assert all("no C compiler" in s.message for s in r.starts)
    assert load_result(db).starts == ()  # nothing committed
    again = fit(problem, engine="sequential", store=db, resume=True)
    assert {s.index for s in again.starts} == {0, 1}
    assert all(s.n_fval > 0 for s in again.starts)


def test_objective_cache_is_bounded(problem_writer):
    import bngfit.optimize._start_runner as runner

    for i in range(runner._KEEP_OBJECTIVES + 3):
        problem = bngfit.load_problem(recovery_problem(problem_writer, f"cache{i}"))
        fit(problem, n_starts=1, rng=0, engine="sequential")
    assert len(runner._OBJECTIVES) <= runner._KEEP_OBJECTIVES


# ------------------------------------------------------------------ races
def _conversion():
    return bngfit.load_problem(EXAMPLE)


def test_race_is_the_same_on_every_engine():
    # budget 4: the short runs cannot agree, so every candidate is raced
    problem = _conversion()
    runs = [fit(problem, optimizer="least_squares", n_starts=3, rng=5, engine=eng, workers=2,
                race=4, race_budget=4) for eng in ("sequential", "process")]
    ref = {s.index: s for s in runs[0].starts}
    for r in runs:
        assert r.settings["race"] == 4 and r.settings["race_budget"] == 4
        for s in r.starts:
            assert "race of 4 candidates" in s.message
            np.testing.assert_array_equal(s.x0, ref[s.index].x0)
            np.testing.assert_allclose(s.x, ref[s.index].x, rtol=1e-10, atol=1e-12)
            assert s.n_fval == ref[s.index].n_fval
            np.testing.assert_array_equal(s.trace, ref[s.index].trace)


def test_race_counts_every_evaluation(monkeypatch):
    from bngfit.objective._objective import Objective

    problem = _conversion()
    solves = []
    real = Objective._evaluate

    def counting(self, x, sensi, profile=None):
        solves.append(np.array(x))
        return real(self, x, sensi, profile)

    monkeypatch.setattr(Objective, "_evaluate", counting)
    # tolerances given: no probe solves choose them before the run, only one
    # gradient at nominal (refusals that depend on what is fitted come first)
    r = fit(problem, optimizer="fides", n_starts=2, rng=3, engine="sequential", race=5,
            race_budget=4, objective_opts={"rtol": 1e-8, "atol": 1e-10})
    np.testing.assert_array_equal(solves[0], problem.x_nominal)
    # every model solve of every candidate is in the starts' counts and traces
    assert r.n_fval == len(solves) - 1
    for s in r.starts:
        assert s.trace.size == s.n_fval > 5 * 4
    # the winner's start point is one of the candidates its start drew
    from bngfit.optimize._racing import candidate_rng

    for s in r.starts:
        drawn = sample_starts(problem.lb, problem.ub, 4, candidate_rng(r.seed, s.index))
        first = sample_starts(problem.lb, problem.ub, 2, np.random.default_rng(r.seed))
        assert any(np.array_equal(s.x0, c) for c in [first[s.index], *drawn])


def test_plain_setting_is_the_plain_multistart():
    from bngfit.objective._objective import Objective
    from bngfit.optimize._local import OptimizerName, minimize

    problem = _conversion()
    r = fit(problem, optimizer="fides", n_starts=3, rng=2, engine="sequential", race=1,
            hierarchical=False)
    assert r.settings["race"] == 1 and r.settings["closed_form_noise"] == []
    x0s = sample_starts(problem.lb, problem.ub, 3, np.random.default_rng(2))
    obj = Objective(problem)
    for s in r.starts:
        assert "race" not in s.message
        np.testing.assert_array_equal(s.x0, x0s[s.index])
        # one local optimization from the start point, nothing else
        local, counted = minimize(obj, x0s[s.index], problem.lb, problem.ub,
                                  OptimizerName.FIDES)
        np.testing.assert_array_equal(s.x, local.x)
        assert s.n_fval == counted.n_fval


def test_default_races_five_candidates_with_noise_in_closed_form():
    r = fit(_conversion(), optimizer="least_squares", n_starts=2, rng=2, engine="sequential")
    assert r.settings["race"] == 5 and r.settings["hierarchical"] is True
    assert r.settings["closed_form_noise"] == ["sigma_B"]
    assert all("race of" in s.message for s in r.starts)


def test_a_raced_start_never_ends_above_the_plain_start_from_its_point():
    """The start point's own run goes to convergence; a candidate replaces it only
    when its continued run ends lower (Perelson 1996: two local optima)."""
    problem = bngfit.load_problem(shared_path("benchmarks", "petab", "Perelson_Science1996",
                                              "Perelson_Science1996.yaml"))
    runs = {race: fit(problem, optimizer="least_squares", n_starts=10, rng=0, workers=2,
                      race=race) for race in (1, 5)}
    plain = {s.index: s for s in runs[1].starts}
    won = 0
    for s in runs[5].starts:
        assert s.fval <= plain[s.index].fval + 1e-9 * abs(plain[s.index].fval)
        won += "candidate" in s.message and "won" in s.message and "own run" not in s.message
        # the plain start's evaluations are the raced start's first ones
        np.testing.assert_array_equal(s.trace[:plain[s.index].n_fval], plain[s.index].trace)
    assert won >= 1, "no candidate won a race: the test checks nothing"
    assert runs[5].n_converged() > runs[1].n_converged()


def test_hierarchical_plain_start_is_one_run_on_the_other_parameters():
    from bngfit.objective._hierarchical import ProfiledObjective, noise_profile
    from bngfit.objective._objective import Objective
    from bngfit.optimize._local import OptimizerName, minimize

    problem = _conversion()
    r = fit(problem, optimizer="least_squares", n_starts=3, rng=2, engine="sequential",
            race=1)
    x0s = sample_starts(problem.lb, problem.ub, 3, np.random.default_rng(2))
    obj = Objective(problem)
    prof = noise_profile(obj)
    assert prof.names == ("sigma_B",)
    reduced = ProfiledObjective(obj, prof)
    j = problem.x_names.index("sigma_B")
    for s in r.starts:
        np.testing.assert_array_equal(s.x0, x0s[s.index])  # as drawn
        local, counted = minimize(reduced, x0s[s.index][prof.keep], problem.lb[prof.keep],
                                  problem.ub[prof.keep], OptimizerName.LEAST_SQUARES)
        np.testing.assert_array_equal(s.x[prof.keep], local.x)
        assert s.n_fval == counted.n_fval
        # the result holds sigma_B at its closed-form optimum: the root mean
        # square of the residuals of its data at the end point
        ev = obj(s.x, sensi=1)  # the solver path of the fit's evaluations
        rows = np.array([i for i, o in enumerate(problem.measurements.observable)
                         if problem.observables[o].noise.symbols == ("sigma_B",)])
        e = (ev.simulation - problem.measurements.value)[rows]
        assert 10 ** s.x[j] == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-12)
        assert s.fval == pytest.approx(ev.fval, rel=1e-13)


def test_race_stops_early_when_the_first_candidates_agree():
    from bngfit.optimize._racing import Race

    r = fit(_conversion(), optimizer="least_squares", n_starts=2, rng=0,
            engine="sequential", race=Race().candidates)
    for s in r.starts:
        assert "stopped early" in s.message
    assert r.n_converged() == 2


def test_race_settings_are_stored_and_checked_on_resume(tmp_path):
    problem = _conversion()
    db = tmp_path / "run.db"
    fit(problem, optimizer="least_squares", n_starts=2, rng=0, engine="sequential",
        store=db, race=3, race_budget=6)
    assert load_result(db).settings["race"] == 3
    with pytest.raises(InputError, match="race: stored 3, given 1"):
        fit(problem, n_starts=2, rng=0, engine="sequential", store=db, resume=True, race=1)
    with pytest.raises(InputError, match="race_budget: stored 6, given 7"):
        fit(problem, engine="sequential", store=db, resume=True, race_budget=7)
    again = fit(problem, engine="sequential", store=db, resume=True)  # the stored race
    assert again.settings["race"] == 3 and again.settings["race_budget"] == 6
    for bad in ({"race": 0}, {"race_budget": 1}, {"race": 2.5}):
        with pytest.raises(InputError, match="race"):
            fit(problem, n_starts=1, engine="sequential", **bad)


def test_a_store_from_before_races_resumes_as_plain(tmp_path):
    import json

    problem = _conversion()
    db = tmp_path / "old.db"
    fit(problem, optimizer="least_squares", n_starts=2, rng=0, engine="sequential",
        store=db, race=1)
    with Store(db) as st:  # what an older bngfit wrote: no race settings
        settings = st.meta()["settings"]
        del settings["race"], settings["race_budget"]
        with st.conn:
            st.conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'",
                            (json.dumps(settings),))
            st.conn.execute("DELETE FROM starts WHERE idx = 1")
    again = fit(problem, engine="sequential", store=db, resume=True)
    assert again.settings.get("race", 1) == 1
    assert all("race" not in s.message for s in again.starts)


def test_least_squares_restarts_in_rounds():
    from bngfit.objective._objective import Objective
    from bngfit.optimize._local import OptimizerName, minimize, with_budget

    problem = _conversion()
    obj = Objective(problem)
    x0 = np.array([1.5, -1.5, 0.5, -1.0])
    ls = OptimizerName.LEAST_SQUARES
    one, c1 = minimize(obj, x0, problem.lb, problem.ub, ls, {"restart_nfev": 0})
    rounds, c2 = minimize(obj, x0, problem.lb, problem.ub, ls, {"restart_nfev": 5})
    assert "rounds" not in one.message and "rounds)" in rounds.message
    assert c2.best.fval == pytest.approx(c1.best.fval, abs=1e-6)
    capped, c3 = minimize(obj, x0, problem.lb, problem.ub, ls,
                          with_budget(ls, {"restart_nfev": 5}, 12))
    assert c3.n_fval <= 12 + 1
    assert with_budget(OptimizerName.FIDES, {"maxiter": 3}, 10) == {"maxiter": 3}
    assert with_budget(OptimizerName.LBFGSB, {}, 10) == {"max_nfev": 10, "maxiter": 10}


def test_optimizer_end_states_map_to_statuses():
    import fides

    from bngfit.optimize._local import fides_status
    from bngfit.result._types import STATUS_TEXT, StartStatus

    assert fides_status(fides.ExitFlag.FTOL) is StartStatus.CONVERGED
    assert fides_status(fides.ExitFlag.GTOL) is StartStatus.CONVERGED
    assert fides_status(fides.ExitFlag.MAXITER) is StartStatus.MAX_ITER
    assert fides_status(fides.ExitFlag.DELTA_TOO_SMALL) is StartStatus.STALLED
    assert fides_status(fides.ExitFlag.NOT_FINITE) is StartStatus.FAILED
    assert set(STATUS_TEXT) == set(StartStatus)


def _blas_threads(_task) -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_worker_processes_use_one_blas_thread():
    from bngfit.optimize._executors import ExecutorName, run_unordered

    seen = list(run_unordered(_blas_threads, [0, 1], engine=ExecutorName.PROCESS, workers=2))
    assert seen and all(counts and set(counts) == {1} for counts in seen), seen


def _raise_in_start_one(real):
    def minimize(counted, x0, *args, **kwargs):
        counted(x0)  # one evaluation, then a bug
        if np.allclose(x0, _RAISING_X0):
            return 1 / 0
        return real(counted, x0, *args, **kwargs)
    return minimize


_RAISING_X0 = np.log10([0.5, 0.5, 1.0])


@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_a_start_that_raises_is_stored_with_its_message(problem_writer, tmp_path,
                                                         monkeypatch, engine):
    import bngfit.optimize._start_runner as runner

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    # forks inherit the patch
    monkeypatch.setattr(runner, "minimize", _raise_in_start_one(runner.minimize))
    db = tmp_path / "run.db"
    starts = [np.log10([2.0, 2.0, 1.0]), _RAISING_X0, np.log10([1.0, 0.3, 3.0])]
    r = fit(problem, optimizer="least_squares", n_starts=3, engine=engine, workers=2,
            starts=starts, store=db)
    by = {s.index: s for s in r.starts}
    assert by[1].status.value == "error"
    assert by[1].message == "ZeroDivisionError: division by zero"
    assert by[1].n_fval == 1 and by[1].fval == float("inf")
    assert "Traceback" in by[1].detail and "1 / 0" in by[1].detail
    stored = {s.index: s for s in load_result(db).starts}
    assert set(stored) == {0, 1, 2}  # nothing vanished
    assert stored[1].message == by[1].message and stored[1].detail == by[1].detail
    assert load_result(db).status_counts() == {"converged": 2, "error": 1}
    assert load_result(db).summary_dict()["statuses"] == {"converged": 2, "error": 1}


def test_a_start_at_a_singular_point_is_stored(problem_writer, tmp_path):
    """``1/k`` in an observable at k = 0 (a lin-scale bound): the start is
    stored as an error, whether the objective raises there or rejects the point."""
    meas = [{"observableId": "obs", "simulationConditionId": "c0", "time": t,
             "measurement": repr(float(np.exp(-0.5 * t) / 0.5))} for t in (0.5, 1, 2)]
    path = problem_writer(
        "singular", model="model m\n  species A; A = 1; k = 0.5;\n  r: A -> ; k*A;\nend\n",
        parameters=[{"parameterId": "k", "parameterScale": "lin", "lowerBound": 0,
                     "upperBound": 2, "nominalValue": 0.5, "estimate": 1}],
        observables=[{"observableId": "obs", "observableFormula": "A / k",
                      "noiseFormula": "0.1"}],
        measurements=meas)
    db = tmp_path / "run.db"
    r = fit(bngfit.load_problem(path), optimizer="lbfgsb", n_starts=2, engine="sequential",
            starts=[[0.0], [0.8]], store=db)
    stored = {s.index: s for s in load_result(db).starts}
    assert set(stored) == {0, 1} == {s.index for s in r.starts}  # none vanished
    assert stored[0].status.value == "error" and stored[0].fval == float("inf")
    assert stored[0].message


@pytest.mark.parametrize("engine", ["sequential", "process"])
def test_a_time_budget_stops_the_run_and_resume_finishes_it(tmp_path, engine):
    problem = bngfit.load_problem(EXAMPLE)
    store = tmp_path / "budget.db"
    first = bngfit.fit(problem, n_starts=6, rng=0, engine=engine, store=store,
                       max_time=1e-6)  # spent when the first start finishes
    assert 1 <= len(first.starts) < 6
    with bngfit.result.Store(store, readonly=True) as st:
        assert len(st.finished()) == len(first.starts)
    # the budget is no setting of the run: resuming without it runs the rest
    done = bngfit.fit(problem, store=store, resume=True, engine=engine)
    assert len(done.starts) == 6 and {s.index for s in done.starts} == set(range(6))
    alone = bngfit.fit(problem, n_starts=6, rng=0, engine="sequential")
    assert sorted(s.fval for s in done.starts) == pytest.approx(
        sorted(s.fval for s in alone.starts), rel=1e-9)


def test_least_squares_run_out_of_budget_continues_with_fides(problem_writer):
    # Noise-free data: the exact optimum is RECOVERY_TRUE, with fval the Gaussian
    # normalisation alone. Three TRF evaluations cannot get there from x0.
    from bngfit.objective._objective import Objective
    from bngfit.optimize._local import OptimizerName, minimize, with_budget
    from bngfit.result._types import StartStatus

    problem = bngfit.load_problem(recovery_problem(problem_writer))
    obj = Objective(problem)
    x0 = np.log10([0.1, 5.0, 0.5])
    ls = OptimizerName.LEAST_SQUARES
    short = {"max_nfev": 3, "restart_nfev": 0}
    alone, c1 = minimize(obj, x0, problem.lb, problem.ub, ls, short)
    assert alone.status is StartStatus.MAX_ITER and "continued" not in alone.message
    on, c2 = minimize(obj, x0, problem.lb, problem.ub, ls, {**short, "switch_maxiter": 200})
    assert "continued with fides (GNSBFGS Hessian)" in on.message
    assert on.status is StartStatus.CONVERGED
    native = dict(zip(problem.x_names, 10 ** on.x, strict=True))
    for name, value in RECOVERY_TRUE.items():
        assert native[name] == pytest.approx(value, rel=1e-4), name
    const = 2 * len(RECOVERY_TIMES) * (0.5 * np.log(2 * np.pi) + np.log(0.01))
    assert c2.best.fval == pytest.approx(const, abs=1e-6)
    assert c1.best.fval > const + 1.0  # the budget alone does not reach it
    # every evaluation of both parts is counted, the first three are TRF's own
    assert c2.n_fval > c1.n_fval and c2.trace[:3] == c1.trace[:3]
    # a run that converges within its budget is not continued
    done, c3 = minimize(obj, x0, problem.lb, problem.ub, ls, {"switch_maxiter": 200})
    assert done.status is StartStatus.CONVERGED and "continued" not in done.message
    # a race's short run is never continued
    assert with_budget(ls, {"switch_maxiter": 200}, 35) == {"max_nfev": 35,
                                                             "switch_maxiter": 0}


def test_a_least_squares_run_that_stalls_continues_with_fides(problem_writer, monkeypatch):
    # A TRF run claiming convergence where the gradient is far from ~0 (STALLED)
    # is continued too: here a runner that stops at once at x0 claims it.
    from bngfit.objective._objective import Objective
    from bngfit.optimize import _local
    from bngfit.result._types import StartStatus

    def claims_at_once(f, x0, lb, ub, opts):
        f(x0)
        return _local.LocalResult(x0, StartStatus.CONVERGED, "claimed")

    monkeypatch.setitem(_local.RUNNERS, _local.OptimizerName.LEAST_SQUARES, claims_at_once)
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    obj = Objective(problem)
    x0 = np.log10([0.1, 5.0, 0.5])
    ls = _local.OptimizerName.LEAST_SQUARES
    stalled, _ = _local.minimize(obj, x0, problem.lb, problem.ub, ls)
    assert stalled.status is StartStatus.STALLED and "not converged" in stalled.message
    on, c = _local.minimize(obj, x0, problem.lb, problem.ub, ls, {"switch_maxiter": 200})
    assert on.status is StartStatus.CONVERGED
    assert on.message.startswith("claimed; not converged") and "continued with fides" in on.message
    native = dict(zip(problem.x_names, 10 ** on.x, strict=True))
    for name, value in RECOVERY_TRUE.items():
        assert native[name] == pytest.approx(value, rel=1e-4), name
