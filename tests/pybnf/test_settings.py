"""Every PyBNF run setting is mapped onto the problem's FitRequest or reported as not used.

Expected values come from PyBNF's documented meaning of each key (docs/config_keys.rst,
its config.py defaults) and bngfit's decisions in ``pybnf/build/_settings.py``'s module
doc, not from the code under test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.optimize._local import OptimizerName
from bngfit.problem._sampling import Sampler
from bngfit.pybnf._results import sorted_params_text
from bngfit.pybnf.build._settings import (
    GRADIENT_METHODS,
    NO_COUNTERPART,
    READ_ELSEWHERE,
    _Reading,
    fit_request,
    unused_issue,
)
from bngfit.pybnf.conf._conf import read_conf
from bngfit.pybnf.conf._keys import FIT_TYPES, IGNORED_KEYS, RUN_KEYS
from tests.helpers import EDITION2, copy_into, shared_path

BASE = """model = parabola.xml : par1.exp
time_course = time:20, suffix:par1
objfunc = chi_sq
uniform_var = v1 0 10
uniform_var = v2 0 10
uniform_var = v3 0 10
"""


@pytest.fixture
def demo(tmp_path):
    return copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)


def _job(demo: Path, settings: str, name: str = "job.conf") -> Path:
    """A copy of the SBML demo with ``settings`` from line 7 on."""
    conf = demo / name
    conf.write_text(BASE + settings)
    return conf


def _request(demo: Path, settings: str):
    return fit_request(read_conf(_job(demo, settings)))


def _unused(demo: Path, settings: str) -> str:
    issue = unused_issue(read_conf(_job(demo, settings)))
    return "" if issue is None else issue.message


# ------------------------------------------------------------------ fit_type
@pytest.mark.parametrize(("fit_type", "optimizer"), [("trf", "least_squares"),
                                                     ("lbfgs", "lbfgsb"), ("gntr", "fides")])
def test_gradient_fit_types_map_to_the_optimizer_of_their_kind(demo, fit_type, optimizer):
    r = _request(demo, f"fit_type = {fit_type}\n")
    assert r.optimizer == optimizer
    assert r.asked("optimizer") == f"fit_type = {fit_type}"
    assert "fit_type" not in _unused(demo, f"fit_type = {fit_type}\n")


@pytest.mark.parametrize("fit_type", ["de", "ss", "pso", "mh", "sim", "cmaes", "check"])
def test_other_fit_types_are_reported_and_leave_the_default(demo, fit_type):
    r = _request(demo, f"fit_type = {fit_type}\n")
    assert r.optimizer is None
    assert r.asked("optimizer") == f"fit_type = {fit_type}: no gradient method of that kind"
    line = _unused(demo, f"fit_type = {fit_type}\n")
    assert f"fit_type = {fit_type} (line 7)" in line and "default optimizer" in line


def test_every_pybnf_fit_type_has_a_decision_and_every_mapping_is_an_optimizer():
    assert set(GRADIENT_METHODS) | set(NO_COUNTERPART) == set(FIT_TYPES)
    assert not set(GRADIENT_METHODS) & set(NO_COUNTERPART)
    assert set(GRADIENT_METHODS.values()) <= {o.value for o in OptimizerName}


def test_edition2_job_type_maps_like_fit_type():
    r = bngfit.load_problem(EDITION2 / "job.conf").request
    assert (r.optimizer, r.max_iterations) == ("lbfgsb", 200)
    assert r.asked("optimizer") == "job_type = lbfgs"


# ----------------------------------------------------------- other run keys
def test_mapped_settings_fill_the_request(demo):
    r = _request(demo, "fit_type = lbfgs\npopulation_size = 7\nrandom_seed = 42\n"
                       "initialization = lh\nparallel_count = 3\nnum_to_output = 2\n"
                       "output_dir = runs/a\nmax_iterations = 50\n")
    assert (r.optimizer, r.n_starts, r.seed, r.sampler, r.workers, r.table_rows,
            r.max_iterations) == ("lbfgsb", 7, 42, Sampler.LHS.value, 3, 2, 50)
    # relative to the configuration's folder, like its model and data paths
    assert r.output_dir == (demo / "runs" / "a").resolve()
    assert r.line_of("random_seed") == 9 and r.unused == ()


def test_wall_time_fit_is_the_runs_time_budget_and_zero_is_none(demo):
    assert _request(demo, "wall_time_fit = 60\n").max_time == 60
    assert _request(demo, "wall_time_fit = 0\n").max_time is None


def test_initialization_rand_is_the_uniform_sampler(demo):
    assert _request(demo, "initialization = rand\n").sampler == Sampler.UNIFORM.value


def test_a_gradient_methods_own_iteration_budget_takes_the_place_of_max_iterations(demo):
    text = "fit_type = trf\nmax_iterations = 50\ntrf_max_iterations = 9\n" \
           "lbfgs_max_iterations = 4\n"
    r = _request(demo, text)
    assert r.max_iterations == 9
    line = _unused(demo, text)
    assert "max_iterations = 50 (line 8): trf_max_iterations takes its place" in line
    assert "lbfgs_max_iterations = 4 (line 10): the budget of fit_type lbfgs" in line


def test_max_iterations_of_a_global_search_is_not_an_iteration_limit(demo):
    # for de it counts generations: 30 of them say nothing about a local run
    r = _request(demo, "fit_type = de\nmax_iterations = 30\n")
    assert r.max_iterations is None
    assert "max_iterations = 30 (line 8): it counts the iterations" in _unused(
        demo, "fit_type = de\nmax_iterations = 30\n")


def test_every_run_key_is_decided(demo):
    decided = _Reading(read_conf(_job(demo, "fit_type = de\n"))).decided
    assert set(RUN_KEYS) <= decided | READ_ELSEWHERE


def test_one_line_lists_every_setting_not_used_with_its_line_and_reason(demo):
    text = ("fit_type = pso\nverbosity = 2\ndelete_old_files = 1\nmutation_rate = 0.5\n"
            "cognitive = 1.5\nsocial = 1.5\nn_starts = 3\nbng_command = /x/BNG2.pl\n")
    line = _unused(demo, text)
    assert line.startswith("PyBNF settings not used: fit_type = pso (line 7)")
    assert "verbosity = 2 (line 8): bngfit's terminal output" in line
    # keys with one reason are listed together, then the reason once
    assert f"cognitive = 1.5 (line 11), social = 1.5 (line 12): {IGNORED_KEYS['social']}" in line
    assert f"mutation_rate = 0.5 (line 10): {IGNORED_KEYS['mutation_rate']}" in line
    assert "n_starts = 3 (line 13)" in line and "bng_command = /x/BNG2.pl (line 14)" in line


def test_the_problem_warns_once_and_the_reader_no_more(demo):
    conf = _job(demo, "fit_type = de\nmutation_rate = 0.5\nobjfnc = sos\n")
    assert [w.message for w in read_conf(conf).warnings] == [
        "unknown key(s), not read: objfnc (line 9)"]
    problem = bngfit.load_problem(conf)
    unused = [w for w in problem.warnings if "PyBNF settings not used" in w.message]
    assert len(unused) == 1 and not unused[0].affects_result
    assert "mutation_rate" in unused[0].message and "fit_type = de" in unused[0].message
    assert not [w for w in problem.warnings if "no effect" in w.message]


def test_a_job_that_uses_everything_has_no_line(demo):
    assert unused_issue(read_conf(_job(demo, "fit_type = trf\npopulation_size = 4\n"))) is None


def test_initialization_distribution_bounds_with_a_normal_start_distribution(demo):
    conf = _job(demo, "initialization_distribution = bounds\n")
    conf.write_text(conf.read_text().replace("uniform_var = v3 0 10", "normal_var = v3 3 1"))
    assert "initialization_distribution = bounds (line 7): bngfit draws the starts of v3" \
        in unused_issue(read_conf(conf)).message


# ------------------------------------------------------------------ bad values
@pytest.mark.parametrize(("line", "message"), [
    ("random_seed = -1", "at least 0"),
    ("random_seed = 9223372036854775808", "2\\*\\*63-1"),
    ("population_size = 0", "at least 1"),
    ("population_size = 2000000", "more starts than bngfit runs"),
    ("max_iterations = 0", "at least 1"),
    ("trf_max_iterations = 1.5", "integer"),
    ("initialization = sobol", "rand, lh"),
    ("num_to_output = 0", "at least 1"),
])
def test_bad_values_are_refused_naming_file_line_and_key(demo, line, message):
    key = line.split()[0]
    with pytest.raises(InputError, match=message) as err:
        bngfit.load_problem(_job(demo, line + "\n"))
    assert re.search(rf"job\.conf:7, id '{key}'", str(err.value)), str(err.value)


# -------------------------------------------------------- sorted parameter table
def test_sorted_params_has_pybnfs_layout():
    text = sorted_params_text(["b", "a"], [("start0", 3.5, [2.0, 1.0]),
                                           ("start1", float("nan"), [5.0, 6.0]),
                                           ("start2", 1.25, [0.1, 1e-9])])
    assert text.splitlines() == [
        "#\tSimulation\tObj\ta\tb",            # names in alphabetical order
        "\tstart2\t1.25\t1e-09\t0.1",          # best first, values follow the names
        "\tstart0\t3.5\t1.0\t2.0",
        "\tstart1\tinf\t6.0\t5.0",             # NaN sorts as infinity, as PyBNF does
    ]
    assert len(sorted_params_text(["a"], [("s0", 2.0, [1.0]), ("s1", 1.0, [2.0])],
                                  max_rows=1).splitlines()) == 2
