"""The store fingerprint covers every field of the problem, and no location."""

from __future__ import annotations

import dataclasses
import shutil

import bngfit
from bngfit.result._fingerprint import fingerprint
from tests.helpers import REPO


def _problem():
    return bngfit.load_problem(REPO / "examples" / "conversion" / "problem.yaml")


def _with_condition(problem, cid, **changes):
    conditions = dict(problem.conditions)
    conditions[cid] = dataclasses.replace(conditions[cid], **changes)
    return dataclasses.replace(problem, conditions=conditions)


def test_fields_the_old_fingerprint_missed_change_it():
    problem = _problem()
    base = fingerprint(problem)
    cid = next(iter(problem.conditions))
    assert fingerprint(_with_condition(problem, cid, previous="other")) != base
    assert fingerprint(_with_condition(problem, cid, model="other")) != base


def test_every_parameter_field_changes_it():
    problem = _problem()
    base = fingerprint(problem)
    p0 = problem.parameters[0]
    for change in ({"lb": p0.lb / 2}, {"ub": p0.ub * 2}, {"nominal": p0.nominal * 1.5},
                   {"estimate": not p0.estimate}):
        params = (dataclasses.replace(p0, **change), *problem.parameters[1:])
        assert fingerprint(dataclasses.replace(problem, parameters=params)) != base, change


def test_a_copied_problem_keeps_its_fingerprint(tmp_path):
    shutil.copytree(REPO / "examples" / "conversion", tmp_path / "elsewhere")
    moved = bngfit.load_problem(tmp_path / "elsewhere" / "problem.yaml")
    assert fingerprint(moved) == fingerprint(_problem())


def test_an_edited_file_changes_it(tmp_path):
    shutil.copytree(REPO / "examples" / "conversion", tmp_path / "p")
    before = fingerprint(bngfit.load_problem(tmp_path / "p" / "problem.yaml"))
    obs = tmp_path / "p" / "observables.tsv"
    obs.write_text(obs.read_text() + "\n")  # same table, other bytes
    assert fingerprint(bngfit.load_problem(tmp_path / "p" / "problem.yaml")) != before


def test_a_copied_pybnf_job_with_a_prop_file_keeps_its_fingerprint(tmp_path):
    # its penalties' labels name the .prop file, with its path
    src = REPO / "examples" / "pybnf_edition2"
    shutil.copytree(src, tmp_path / "job")
    here = bngfit.load_problem(src / "job.conf")
    there = bngfit.load_problem(tmp_path / "job" / "job.conf")
    assert here.penalties and str(src) in here.penalties[0].label
    assert fingerprint(there) == fingerprint(here)


def test_relative_and_absolute_paths_give_one_fingerprint(monkeypatch):
    monkeypatch.chdir(REPO)
    rel = bngfit.load_problem("examples/pybnf_edition2/job.conf")
    absolute = bngfit.load_problem(REPO / "examples" / "pybnf_edition2" / "job.conf")
    assert fingerprint(rel) == fingerprint(absolute)
