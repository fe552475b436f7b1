"""Experiments of one evaluation in threads: the same numbers as on one thread."""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.errors import SimulationFailure
from bngfit.objective import _lanes
from bngfit.simulate._engine import Engine
from tests.catalogue import every_problem


def test_assign_keeps_groups_together_and_balances():
    groups = [[0, 1], [2], [3], [4, 5, 6]]
    weights = [1, 1, 5, 1, 1, 1, 1]
    lanes = _lanes.assign(groups, weights, 2)
    assert sorted(i for lane in lanes for i in lane) == list(range(7))
    for group in groups:  # each group on exactly one lane
        assert sum(set(group) <= set(lane) for lane in lanes) == 1
    loads = sorted(sum(weights[i] for i in lane) for lane in lanes)
    assert loads == [5, 6]  # {2} alone against the rest: the best split
    # never more lanes than groups, never an empty one
    assert len(_lanes.assign([[0], [1]], [1, 1], 8)) == 2
    assert _lanes.assign([[0, 1]], [1, 1], 4) == ((0, 1),)


def test_decide_splits_only_where_it_gains():
    groups = [[0], [1], [2]]
    assert _lanes.decide(groups, [0.004, 0.004, 0.004], 2, forced=False) is not None
    # too short to gain from threads, unless asked
    assert _lanes.decide(groups, [1e-4, 1e-4, 1e-4], 2, forced=False) is None
    assert _lanes.decide(groups, [1e-4, 1e-4, 1e-4], 2, forced=True) is not None
    # one experiment takes almost everything: no gain
    assert _lanes.decide(groups, [0.1, 0.001, 0.001], 2, forced=False) is None
    assert _lanes.decide([[0, 1, 2]], [0.1, 0.1, 0.1], 4, forced=True) is None


def test_available_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv(_lanes.THREADS, "3")
    assert _lanes.available_threads() == 3
    monkeypatch.setenv(_lanes.THREADS, "0")
    assert _lanes.available_threads() == 1
    monkeypatch.setenv(_lanes.THREADS, "many")
    assert _lanes.available_threads() == 1
    monkeypatch.delenv(_lanes.THREADS)
    assert _lanes.available_threads() >= 1


def _catalogue(problem_writer, tmp_path):
    cases = every_problem(problem_writer, tmp_path)
    # more than one experiment: something to spread over threads
    return [c for c in cases if len(bngfit.Objective(c[1]).plan.experiments) > 1]


def test_threads_give_the_same_numbers_bit_for_bit(problem_writer, tmp_path):
    cases = _catalogue(problem_writer, tmp_path)
    threaded = 0
    for name, problem, x in cases:
        one, three = (bngfit.Objective(problem, threads=1),
                      bngfit.Objective(problem, threads=3))
        for obj in (one, three):  # two one-thread evaluations of each kind, timed
            for k, sensi in enumerate((0, 0, 1, 1)):
                obj(x + 1e-4 * k, sensi=sensi)
        for sensi in (1, 0):
            a, b = one(x + 1e-3, sensi=sensi), three(x + 1e-3, sensi=sensi)
            assert a.status == b.status and a.message == b.message, name
            assert np.array_equal(a.fval, b.fval, equal_nan=True), name
            if sensi and a.ok:
                assert np.array_equal(a.grad, b.grad), name
            if a.res is not None:
                assert np.array_equal(a.res, b.res), name
        assert one._plans.get(True) is None and one._plans.get(False) is None
        threaded += three._plans[True] is not None
        # one pre-equilibration's experiments share a lane
        if three._plans[True] is not None:
            lane_of = {i: k for k, lane in enumerate(three._plans[True]) for i in lane}
            for i, e in enumerate(three.plan.experiments):
                for j, f in enumerate(three.plan.experiments):
                    if e.pre and f.pre and (e.model, e.preeq_id) == (f.model, f.preeq_id):
                        assert lane_of[i] == lane_of[j], name
    assert threaded >= 10, "the catalogue should exercise threads on many problems"


def test_the_first_failure_in_the_problems_order_is_reported(problem_writer, tmp_path,
                                                            monkeypatch):
    cases = [c for c in _catalogue(problem_writer, tmp_path)
             if len({e.condition_id for e in bngfit.Objective(c[1]).plan.experiments}) >= 3]
    name, problem, x = cases[0]
    one, three = bngfit.Objective(problem, threads=1), bngfit.Objective(problem, threads=3)
    for obj in (one, three):
        obj(x), obj(x + 1e-4)
    # experiments 1.. fail (found by their grid objects, one per experiment)
    failing = {id(e.grid) for obj in (one, three) for e in obj.plan.experiments[1:]}
    run = Engine.run

    def flaky(self, outputs, grid, *args):
        if id(grid) in failing:
            raise SimulationFailure("planted failure")
        return run(self, outputs, grid, *args)

    monkeypatch.setattr(Engine, "run", flaky)
    a, b = one(x + 1e-3), three(x + 1e-3)
    assert len(three._plans[True]) > 1, name
    assert not a.ok and not b.ok and a.status == b.status and a.message == b.message
    assert f"condition '{one.plan.experiments[1].condition_id}'" in a.message


def test_bngsims_caches_answer_a_reader_whose_key_was_just_cleared():
    from bngfit.simulate._thread_guards import GUARDED, TwoGenerationCache, guard_caches

    cache = TwoGenerationCache({("a", 1.0): 2.5})
    assert ("a", 1.0) in cache
    cache.clear()  # another thread, between a reader's `in` and its `[]`
    assert ("a", 1.0) not in cache and len(cache) == 0
    assert cache[("a", 1.0)] == 2.5
    with pytest.raises(KeyError):
        cache[("b", 2.0)]
    cache[("c", 3.0)] = 1.0
    cache.clear()
    with pytest.raises(KeyError):  # two generations, not all of them
        cache[("a", 1.0)]
    guard_caches()
    import importlib

    for module, attr in GUARDED:
        assert isinstance(getattr(importlib.import_module(module), attr), TwoGenerationCache)
    assert guard_caches() == 0  # idempotent
