"""Fit policy: one resolution of defaults and resume rules for the library and the CLI.

Expected values come from the documented rules (design: least_squares needs a
residual form; defaults 10 starts, seed 0, uniform, race 5 x 35, noise in
closed form, process engine on the available cores), not from the resolver.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np
import pytest

import bngfit
from bngfit.cli import _fit as cli_fit
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.optimize._executors import EXECUTOR_TEXT, ExecutorName
from bngfit.optimize._local import OPTIMIZER_TEXT, OptimizerName
from bngfit.optimize._multistart import fit
from bngfit.optimize._racing import Race
from bngfit.optimize._sampling import SAMPLER_TEXT, Sampler, sample_starts
from bngfit.optimize._settings import FitSettings
from bngfit.problem._request import FitRequest
from bngfit.result._store import Store, load_result
from tests.helpers import EDITION2, EXAMPLE, recovery_problem, shared_path

JOB = EDITION2 / "job.conf"


def _cli_settings(argv, problem, store=None):
    """The settings ``bngfit fit ARGV`` resolves (the command's own parser)."""
    parser = argparse.ArgumentParser()
    cli_fit.add_commands(parser.add_subparsers(dest="command"), lambda p: None)
    return cli_fit.fit_settings(parser.parse_args(["fit", *argv]), problem, store)


def _cores():
    return len(os.sched_getaffinity(0))


# ------------------------------------------------------ default optimizer
def test_fit_without_optimizer_runs_fides_where_there_are_no_residuals(problem_writer,
                                                                       tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer, noise="laplace"))
    db = tmp_path / "run.db"
    r = bngfit.fit(problem, n_starts=2, rng=0, engine="sequential", race=1, store=db)
    assert r.optimizer == "fides"
    assert load_result(db).optimizer == "fides"
    with Store(db, readonly=True) as st:
        assert st.meta()["optimizer"] == "fides"
    # fides itself ran every start (its exit flag is in the message)
    assert len(r.starts) == 2 and all("fides: " in s.message for s in r.starts)


def test_fit_of_the_pybnf_example_with_student_t_noise_and_constraints():
    problem = bngfit.load_problem(JOB)
    assert not bngfit.Objective(problem).has_residuals
    # the job's job_type = lbfgs and max_iterations = 200 are honoured
    r = bngfit.fit(problem, n_starts=2, engine="sequential")
    assert r.optimizer == "lbfgsb" and r.seed == 0 and r.settings["max_iterations"] == 200
    assert np.isfinite(r.best_fval)
    # asked for nothing, the same problem gets fides: no residual form
    plain = dataclasses.replace(problem, request=FitRequest())
    assert FitSettings.resolve(plain, engine="sequential").optimizer is OptimizerName.FIDES


def test_least_squares_stays_the_default_where_there_are_residuals():
    problem = bngfit.load_problem(EXAMPLE)
    assert FitSettings.resolve(problem).optimizer is OptimizerName.LEAST_SQUARES


# ---------------------------------------------- library and CLI resolve alike
@pytest.mark.parametrize(("path", "optimizer", "options"), [
    (EXAMPLE, "least_squares", {}),
    # the job's job_type = lbfgs, max_iterations = 200 (L-BFGS-B's evaluation budget kept)
    (JOB, "lbfgsb", {"maxiter": 200, "max_nfev": 2000})], ids=["conversion", "pybnf_edition2"])
def test_api_defaults_and_cli_without_options_resolve_alike(path, optimizer, options):
    problem = bngfit.load_problem(path)
    api = FitSettings.resolve(problem)
    assert _cli_settings([str(path)], problem) == api
    assert api.optimizer == optimizer and api.optimizer_opts == options
    assert (api.n_starts, api.seed, api.sampler) == (10, 0, "uniform")
    assert api.race == Race(candidates=5, budget=35)
    assert api.hierarchical is True and api.start_points == ()
    # the tolerances chosen for the problem are recorded (these need no tightening)
    assert api.objective_opts == {"rtol": 1e-8, "atol": 1e-10}
    assert api.tolerances.reason.startswith("the default: values and gradients agree")
    assert api.engine == "process" and api.workers == _cores() and api.scheduler is None


def test_api_and_cli_options_resolve_alike(tmp_path):
    problem = bngfit.load_problem(EXAMPLE)
    points = tmp_path / "starts.tsv"
    points.write_text("k1\tk2\tscale_B\tsigma_B\n-0.5\t-0.5\t0\t-1\n")
    cli = _cli_settings([str(EXAMPLE), "--optimizer", "lbfgsb", "--starts", "4", "--seed", "9",
                         "--sampler", "lhs", "--race", "3", "--race-budget", "8",
                         "--no-hierarchical", "--start-points", str(points), "--engine",
                         "sequential", "--rtol", "1e-7"], problem)
    api = FitSettings.resolve(problem, optimizer="lbfgsb", n_starts=4, rng=9, sampler="lhs",
                              race=3, race_budget=8, hierarchical=False,
                              starts=[[-0.5, -0.5, 0.0, -1.0]], engine="sequential",
                              objective_opts={"rtol": 1e-7})
    assert cli == api
    assert cli.start_points == ((-0.5, -0.5, 0.0, -1.0),) and cli.user_starts == 1
    assert cli.closed_form_noise == () and cli.workers is None


def test_cli_and_api_without_options_record_the_same_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem = bngfit.load_problem(EXAMPLE)
    api = fit(problem, store=tmp_path / "api.db")
    assert main(["fit", str(EXAMPLE), "--store", "cli.db", "--no-progress"]) == 0
    capsys.readouterr()
    with Store(tmp_path / "api.db", readonly=True) as a, \
            Store(tmp_path / "cli.db", readonly=True) as c:
        ours, theirs = a.meta(), c.meta()
    for meta in (ours, theirs):
        del meta["created"], meta["wall_s"]
    assert ours == theirs
    assert ours["seed"] == 0 and ours["n_starts"] == 10
    cli = load_result(tmp_path / "cli.db")
    assert [(s.index, s.fval, s.n_fval) for s in sorted(cli.starts, key=lambda s: s.index)] \
        == [(s.index, s.fval, s.n_fval) for s in sorted(api.starts, key=lambda s: s.index)]


# ------------------------------------------------------------------- seeds
def test_default_seed_is_zero_and_recorded():
    problem = bngfit.load_problem(EXAMPLE)
    runs = [fit(problem, n_starts=2, engine="sequential", race=1) for _ in range(2)]
    drawn = sample_starts(problem.lb, problem.ub, 2, np.random.default_rng(0))
    for r in runs:
        assert r.seed == 0
        for s in r.starts:
            np.testing.assert_array_equal(s.x0, drawn[s.index])
    assert [s.fval for s in runs[0].starts] == [s.fval for s in runs[1].starts]


def test_a_generator_gives_a_recorded_seed_drawn_from_it():
    problem = bngfit.load_problem(EXAMPLE)
    expected = int(np.random.default_rng(5).integers(2**63))
    assert FitSettings.resolve(problem, rng=np.random.default_rng(5)).seed == expected


# ------------------------------------------------------------------ resume
CONFLICTS = [
    ({"n_starts": 1}, ["--starts", "1"], "n_starts: stored 2, given 1"),
    ({"optimizer": "fides"}, ["--optimizer", "fides"],
     "optimizer: stored 'least_squares', given 'fides'"),
    ({"rng": 4}, ["--seed", "4"], "seed: stored 0, given 4"),
    ({"sampler": "lhs"}, ["--sampler", "lhs"], "sampler: stored 'uniform', given 'lhs'"),
    ({"race": 2}, ["--race", "2"], "race: stored 5, given 2"),
    ({"hierarchical": False}, ["--no-hierarchical"],
     "hierarchical: stored True, given False; closed_form_noise: stored ['sigma_B'], given []"),
    ({"objective_opts": {"rtol": 1e-6}}, ["--rtol", "1e-6"],
     "objective_opts: stored {'rtol': 1e-08, 'atol': 1e-10}, given {'rtol': 1e-06, "
     "'atol': 1e-10}"),
]


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("stored") / "run.db"
    fit(bngfit.load_problem(EXAMPLE), n_starts=2, engine="sequential", store=db)
    return db


@pytest.mark.parametrize(("api", "cli", "detail"), CONFLICTS,
                         ids=[c[1][0] for c in CONFLICTS])
def test_a_conflicting_resume_gets_one_message_from_api_and_cli(stored_run, tmp_path, capsys,
                                                                monkeypatch, api, cli, detail):
    monkeypatch.chdir(tmp_path)
    problem = bngfit.load_problem(EXAMPLE)
    with pytest.raises(InputError) as refused:
        fit(problem, engine="sequential", store=stored_run, resume=True, **api)
    message = str(refused.value)
    assert message == (f"{stored_run}: resume with the stored settings, or start a new store "
                       f"({detail})")
    code = main(["fit", str(EXAMPLE), "--resume", "--store", str(stored_run), "--no-progress",
                 *cli])
    assert code == 2
    assert capsys.readouterr().err == f"bngfit: bad input: {message}\n"
    assert len(load_result(stored_run).starts) == 2  # nothing was added


def test_a_resume_may_change_where_the_starts_run(problem_writer, tmp_path):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    db = tmp_path / "run.db"
    first = fit(problem, n_starts=3, engine="sequential", race=1, store=db)
    with Store(db) as st, st.conn:  # a killed run: the last start never finished
        st.conn.execute("DELETE FROM starts WHERE idx = 2")
    again = fit(problem, engine="process", workers=2, store=db, resume=True)
    assert again.seed == first.seed == 0
    done = {s.index: s for s in again.starts}
    ref = {s.index: s for s in first.starts}
    np.testing.assert_array_equal(done[2].x0, ref[2].x0)
    assert done[2].fval == pytest.approx(ref[2].fval, rel=1e-10)


def test_library_resume_takes_the_stored_tolerances(tmp_path):
    problem = bngfit.load_problem(EXAMPLE)
    db = tmp_path / "run.db"
    fit(problem, n_starts=2, engine="sequential", race=1, store=db,
        objective_opts={"rtol": 1e-6, "atol": 1e-9})
    with Store(db) as st, st.conn:
        st.conn.execute("DELETE FROM starts WHERE idx = 1")
    # unset: the stored ones; one given key replaces only itself
    again = fit(problem, engine="sequential", store=db, resume=True,
                objective_opts={"atol": 1e-9})
    assert again.settings["objective_opts"] == {"rtol": 1e-6, "atol": 1e-9}
    assert len(again.starts) == 2


# ------------------------------------------------------------ vocabularies
@pytest.mark.parametrize(("vocabulary", "texts"), [(OptimizerName, OPTIMIZER_TEXT),
                                                   (ExecutorName, EXECUTOR_TEXT),
                                                   (Sampler, SAMPLER_TEXT)])
def test_every_choice_is_described_in_the_help(vocabulary, texts, capsys):
    assert set(texts) == set(vocabulary)
    assert main(["fit", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for word, text in texts.items():
        assert f"{word.value}: {' '.join(text.split())}" in help_text


def test_an_unknown_sampler_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown start sampler 'sobol': use one of uniform, lhs"):
        sample_starts(np.zeros(1), np.ones(1), 2, np.random.default_rng(0), "sobol")


# ------------------------------------------------------- large problems
def test_large_problems_default_to_fides_with_the_hybrid_hessian(problem_writer):
    from bngfit.optimize._settings import LARGE_OPTIONS, LARGE_PROBLEM, default_optimizer

    obj = bngfit.Objective(bngfit.load_problem(recovery_problem(problem_writer)))
    assert default_optimizer(obj, LARGE_PROBLEM - 1) == ("least_squares", {})
    assert default_optimizer(obj, LARGE_PROBLEM) == ("fides", LARGE_OPTIONS)
    assert LARGE_OPTIONS == {"hessian": "gnsbfgs", "maxiter": 3000}


def test_a_large_problem_records_its_optimizer_options_and_the_user_overrides_them():
    problem = bngfit.load_problem(shared_path("benchmarks", "petab", "Giordano_Nature2020",
                                              "Giordano_Nature2020.yaml"))
    # 50 parameters, 7 of them noise scales in closed form: 43 optimized
    s = FitSettings.resolve(problem, engine="sequential")
    assert (s.optimizer, s.optimizer_opts) == ("fides", {"hessian": "gnsbfgs", "maxiter": 3000})
    mine = FitSettings.resolve(problem, engine="sequential", optimizer_opts={"maxiter": 10})
    assert mine.optimizer_opts == {"hessian": "gnsbfgs", "maxiter": 10}
    chosen = FitSettings.resolve(problem, engine="sequential", optimizer="least_squares")
    assert (chosen.optimizer, chosen.optimizer_opts) == ("least_squares", {})
