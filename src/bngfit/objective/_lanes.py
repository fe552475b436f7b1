"""The conditions of one evaluation run in threads, one set of engines per thread.

bngsim releases the GIL while it integrates, so the experiments of one
evaluation can run at the same time in threads; a bngsim model is not shared
between threads, so each thread (a *lane*) has engines of its own (loaded on
first use) and a fixed share of the experiments. Experiments that share a
pre-equilibration go to the same lane, so its steady state is computed once per
lane and point as on one thread; the shares are balanced on each experiment's
measured one-thread time.

How many lanes: ``BNGFIT_THREADS`` when set (``1`` turns threads off), otherwise
the cores this process may use, never more than the groups of experiments. A
fit's worker processes set ``BNGFIT_THREADS=1`` (their cores are the starts').
The first two evaluations of each kind (value, value with gradient) run on one
thread (the first loads the models and runs the engine's checks in order) and
are timed per experiment; the lanes are then balanced on those times, and not
used at all where the evaluation is too short or too uneven to gain
(:func:`decide`), unless the objective was given ``threads`` explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: The environment variable that sets the number of threads of an evaluation.
THREADS = "BNGFIT_THREADS"


def available_threads() -> int:
    """Threads an evaluation may use: ``BNGFIT_THREADS`` or the usable cores (>= 1)."""
    text = os.environ.get(THREADS, "").strip()
    if text:
        try:
            return max(1, int(text))
        except ValueError:
            return 1  # not a number: do not guess a parallel setting
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def assign(groups: Sequence[Sequence[int]], weights: Sequence[float],
           n_lanes: int) -> tuple[tuple[int, ...], ...]:
    """Experiments per lane: whole groups, heaviest first onto the lightest lane.

    Parameters
    ----------
    groups : sequence of sequence of int
        Experiment indices that must share a lane (one pre-equilibration).
    weights : sequence of float, shape (n_experiments,)
        Estimated work per experiment.
    n_lanes : int

    Returns
    -------
    tuple of tuple of int
        Per lane, its experiments in increasing order; no lane is empty.
    """
    n = max(1, min(n_lanes, len(groups)))
    load = [0.0] * n
    lanes: list[list[int]] = [[] for _ in range(n)]
    for group in sorted(groups, key=lambda g: -sum(weights[i] for i in g)):
        k = min(range(n), key=lambda j: load[j])
        lanes[k].extend(group)
        load[k] += sum(weights[i] for i in group)
    return tuple(tuple(sorted(lane)) for lane in lanes if lane)


#: An evaluation shorter than this (seconds, on one thread) is not split: the
#: hand-over to threads would cost more than it saves.
MIN_SECONDS = 2e-3
#: Split only where the busiest lane is expected to take at most this share of
#: the one-thread time (1/1.25).
MIN_GAIN = 1.25


def decide(groups: Sequence[Sequence[int]], seconds: Sequence[float], n_lanes: int,
           forced: bool) -> tuple[tuple[int, ...], ...] | None:
    """The lanes of an evaluation kind from its experiments' one-thread times, or None.

    Parameters
    ----------
    groups : sequence of sequence of int
        Experiments that must share a lane.
    seconds : sequence of float, shape (n_experiments,)
        Each experiment's wall time in a one-thread evaluation of this kind.
    n_lanes : int
        Threads available.
    forced : bool
        The caller asked for threads: split whenever there are two groups.

    Returns
    -------
    tuple of tuple of int or None
        See :func:`assign`; None for one thread.
    """
    lanes = assign(groups, seconds, n_lanes)
    if len(lanes) < 2:
        return None
    if forced:
        return lanes
    total = float(sum(seconds))
    busiest = max(sum(seconds[i] for i in lane) for lane in lanes)
    if total < MIN_SECONDS or busiest * MIN_GAIN > total:
        return None
    return lanes


class Lanes:
    """Threads and per-thread engines for running experiments side by side.

    Parameters
    ----------
    make_engines : callable
        ``make_engines()`` -> a new tuple of engines (one per model), for a lane;
        lane 0 runs in the calling thread with the objective's own engines.
    """

    def __init__(self, make_engines: Callable[[], tuple[Any, ...]]) -> None:
        self._make = make_engines
        self._engines: list[tuple[Any, ...]] = []  # lanes 1, 2, ...
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0

    def engines(self, lane: int, own: tuple[Any, ...]) -> tuple[Any, ...]:
        """The engines of ``lane`` (lane 0: ``own``); made here, on the calling thread."""
        if lane == 0:
            return own
        while len(self._engines) < lane:
            self._engines.append(self._make())
        return self._engines[lane - 1]

    def all_engines(self, own: tuple[Any, ...]) -> list[Any]:
        """Every engine of every lane made so far."""
        return [*own, *(e for engines in self._engines for e in engines)]

    def map(self, n: int, work: Callable[[int], Any]) -> list[Any]:
        """``[work(lane) for lane in range(n)]``, lanes 1.. in threads and lane 0 here.

        Exceptions are returned in place of results, for the caller to order.
        """
        if self._pool is None or self._size < n - 1:
            self.close()
            self._pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="bngfit-lane")
            self._size = n - 1
        futures = [self._pool.submit(_catching, work, k) for k in range(1, n)]
        first = _catching(work, 0)
        return [first, *(f.result() for f in futures)]

    def close(self) -> None:
        """Stop the threads (engines are kept)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __getstate__(self) -> dict:
        # threads and models do not travel: a copy starts its own
        return {"make_engines": self._make}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["make_engines"])


def _catching(work: Callable[[int], Any], lane: int) -> Any:
    try:
        return work(lane)
    except Exception as err:  # noqa: BLE001 - handed back to the caller, which raises
        return err
