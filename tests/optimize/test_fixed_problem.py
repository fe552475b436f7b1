"""A problem with parameters fixed in memory (``Problem.fix``) fits on every engine, and a
store remembers which parameters were fixed."""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from tests.helpers import recovery_problem


def _fixed(problem_writer):
    problem = bngfit.load_problem(recovery_problem(problem_writer))
    return problem, problem.fix({"k2": 0.7})  # not the file's nominal value 1


def test_fixed_problem_fits_alike_on_every_engine(problem_writer):
    pytest.importorskip("distributed")
    _, fixed = _fixed(problem_writer)
    runs = {eng: bngfit.fit(fixed, optimizer="least_squares", n_starts=3, rng=2, engine=eng,
                            workers=2, race=1)
            for eng in ("sequential", "process", "dask")}
    obj = bngfit.Objective(fixed)
    ref = {s.index: s for s in runs["sequential"].starts}
    for eng, r in runs.items():
        assert r.x_names == ["k1", "scale"], eng
        assert {s.index for s in r.starts} == {0, 1, 2}
        for s in r.starts:
            # the start's value is the fixed problem's at its point: k2 was 0.7 there
            assert s.fval == pytest.approx(obj(s.x).fval, rel=1e-12), eng
            np.testing.assert_allclose(s.x, ref[s.index].x, rtol=1e-10, atol=1e-12)
            assert s.n_fval == ref[s.index].n_fval
        table = r.best_parameter_table(fixed).set_index("parameterId")
        assert table.loc["k2", "nominalValue"] == 0.7 and table.loc["k2", "estimate"] == 0


def test_process_engine_still_refuses_other_changes_in_memory(problem_writer):
    import dataclasses

    problem, _ = _fixed(problem_writer)
    changed = dataclasses.replace(problem, parameters=tuple(
        dataclasses.replace(p, ub=50.0) for p in problem.parameters))
    with pytest.raises(bngfit.InputError, match="other than by fixing parameters"):
        bngfit.fit(changed, n_starts=1, engine="process", workers=1, race=1)


def test_resume_refuses_a_differently_fixed_problem(problem_writer, tmp_path):
    problem, fixed = _fixed(problem_writer)
    db = tmp_path / "run.db"
    first = bngfit.fit(fixed, optimizer="least_squares", n_starts=2, engine="sequential",
                       race=1, store=db, max_time=1e-9)  # stops after its first start
    assert len(first.starts) == 1
    for other in (problem, problem.fix({"k2": 0.5}), problem.fix({"k1": 0.7})):
        with pytest.raises(bngfit.InputError, match="made for a different problem"):
            bngfit.fit(other, engine="sequential", store=db, resume=True)
    # the same fixes: the process engine's worker fits the second start with them
    r = bngfit.fit(problem.fix({"k2": 0.7}), engine="process", workers=1, store=db,
                   resume=True)
    assert sorted(s.index for s in r.starts) == [0, 1]
    obj = bngfit.Objective(fixed)
    assert all(s.fval == pytest.approx(obj(s.x).fval, rel=1e-12) for s in r.starts)
