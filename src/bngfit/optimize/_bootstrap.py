"""Bootstrap: refits to resampled data, for percentile intervals of the parameters.

After a fit, each replicate ``k`` draws, within every experiment (a
pre-equilibration and condition pair: one PyBNF ``.exp`` file), as many of its
measurements as it has, uniformly with replacement (PyBNF's ``bootstrap``,
``pybnf/data.py``). The draw is an integer weight per measurement (how often it
was drawn; :mod:`bngfit.objective._data` weights the likelihood by it), from a
generator of the run's seed and ``k`` alone: the same seed gives the same
resamples and results on every engine and after any interruption. Constraint
penalties (``.prop`` files) and objective priors are not data points: every
replicate keeps them whole, as PyBNF does.

Each replicate refits from the fit's best point with the fit's optimizer and
settings: the resampled data's optimum lies near the full data's (the resample
moves the objective by O(1/sqrt(n))), so a local run from there finds it at a
fraction of a multistart's cost, and it stays in the fit's basin (random starts
landing in other basins would widen the intervals with the fit's own
multimodality, not the data's uncertainty). ``starts=K`` adds K - 1 starts drawn
like the fit's (from the replicate's generator; raced as the fit was) and keeps
the best, for problems where the basin itself is in doubt.

A replicate whose best fval lies above the threshold (``max_fval``; a PyBNF
job's ``bootstrap_max_obj``) or that failed is discarded and counted, and the next
index takes its place, until ``n`` are accepted; after
:data:`MAX_DISCARDS_IN_A_ROW` discarded replicates in a row the run stops once
the wave under way has finished (PyBNF gives up after as many). Replicates run
in waves over the engine (sequential, process pool, Dask:
:func:`bngfit.optimize._executors.run_unordered`), each committed to the fit's
store as it finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bngfit.errors import InputError
from bngfit.problem._problem import Problem
from bngfit.result._bootstrap import (
    DEFAULT_LEVEL,
    Replicate,
    ReplicateStatus,
    check_level,
)
from bngfit.result._types import StartStatus

from ._sampling import sample_starts
from ._settings import FitSettings
from ._start_runner import StartTask, run_start

log = logging.getLogger(__name__)

#: Tag of the bootstrap's random streams: they never coincide with the fit's.
BOOTSTRAP_STREAM = 0xB0075
#: Discarded replicates in a row (by index) after which the run stops, as PyBNF does.
MAX_DISCARDS_IN_A_ROW = 20
#: How measurements are grouped for resampling (the only rule, named in stores).
STRATA = "experiment"


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings:
    """The settings of a bootstrap (see :func:`bootstrap` for each).

    Attributes
    ----------
    n : int
        Accepted replicates asked for.
    seed : int
    starts : int
        Starts per replicate (the first from the fit's best point).
    level : float
        Confidence level of the intervals.
    max_fval : float or None
        A replicate ending above ``max_fval + max_fval_offsets @ weights`` is
        discarded; None: none is.
    max_fval_offsets : tuple of float or None
        Per measurement, shape (n_meas,): what a drawn point adds to the
        threshold (a PyBNF job's per-point constants); None: nothing.
    threshold_note : str
        The threshold as the user wrote it, for summaries (empty: ``max_fval``).
    """

    n: int
    seed: int
    starts: int = 1
    level: float = DEFAULT_LEVEL
    max_fval: float | None = None
    max_fval_offsets: tuple[float, ...] | None = None
    threshold_note: str = ""

    @classmethod
    def checked(cls, *, n: object, seed: object, starts: object, level: object,
                max_fval: object, max_fval_offsets: Sequence[float] | None = None,
                threshold_note: str = "") -> BootstrapSettings:
        """Settings with every value checked (InputError naming the bad one)."""
        for name, v, least in (("n", n, 1), ("seed", seed, 0), ("starts", starts, 1)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < least:
                raise InputError(f"the bootstrap's {name} must be an integer >= {least}",
                                 id=name, value=repr(v))
        check_level(level)  # type: ignore[arg-type]
        if max_fval is not None and (isinstance(max_fval, bool) or not isinstance(
                max_fval, int | float) or np.isnan(max_fval)):
            raise InputError("max_fval must be a number (or None: no threshold)",
                             id="max_fval", value=repr(max_fval))
        return cls(n=int(n), seed=int(seed), starts=int(starts), level=float(level),
                   max_fval=None if max_fval is None else float(max_fval),
                   max_fval_offsets=None if max_fval_offsets is None else
                   tuple(float(v) for v in max_fval_offsets), threshold_note=threshold_note)

    def threshold(self, weights: np.ndarray) -> float:
        """The largest fval accepted for a replicate with these weights (inf: any)."""
        if self.max_fval is None:
            return float("inf")
        if self.max_fval_offsets is None:
            return self.max_fval
        return self.max_fval + float(np.asarray(self.max_fval_offsets) @ weights)


def experiment_strata(problem: Problem) -> np.ndarray:
    """Each measurement's experiment, as an index (the resampling's groups).

    Returns
    -------
    ndarray of int, shape (n_meas,)
        Equal for measurements of one (pre-equilibration, condition) pair,
        numbered in order of first appearance.
    """
    m = problem.measurements
    ids: dict[tuple[str, str], int] = {}
    return np.array([ids.setdefault(k, len(ids)) for k in zip(m.preeq, m.condition,
                                                                 strict=True)], dtype=int)


def resample_weights(strata: np.ndarray, seed: int, index: int) -> np.ndarray:
    """Replicate ``index``'s draw: within each stratum, its size in draws with replacement.

    Parameters
    ----------
    strata : ndarray of int, shape (n_meas,)
        Group of each measurement (:func:`experiment_strata`).
    seed : int
        The bootstrap's seed.
    index : int
        Replicate number.

    Returns
    -------
    ndarray of int, shape (n_meas,)
        How often each measurement was drawn; each stratum's weights sum to its size.
    """
    rng = np.random.default_rng([seed, BOOTSTRAP_STREAM, index])
    w = np.zeros(strata.size, dtype=int)
    for s in range(int(strata.max()) + 1 if strata.size else 0):
        members = np.nonzero(strata == s)[0]
        np.add.at(w, members[rng.integers(0, members.size, size=members.size)], 1)
    return w


# ----------------------------------------------------------- one replicate
@dataclass(frozen=True)
class ReplicateTask:
    """One replicate, picklable: its weights, threshold and starts (first: the best point)."""

    index: int
    weights: np.ndarray
    threshold: float
    starts: tuple[StartTask, ...]


def run_replicate(task: ReplicateTask) -> Replicate:
    """Refit one resample (each start on the worker's weighted objective); never raises."""
    results = [run_start(t) for t in task.starts]
    done = [r for r in results if r.status is not StartStatus.NOT_RUN]
    best = min(done or results, key=lambda r: (not np.isfinite(r.fval), r.fval, r.index))
    ok = best.status is not StartStatus.NOT_RUN and np.isfinite(best.fval)
    status = (ReplicateStatus.FAILED if not ok else ReplicateStatus.ACCEPTED
              if best.fval <= task.threshold else ReplicateStatus.ABOVE_MAX)
    return Replicate(task.index, task.weights, best.x, float(best.fval), task.threshold,
                     status, sum(r.n_fval for r in results),
                     sum(r.wall_s for r in results), f"{best.status.value}: {best.message}")


def lost_replicate(task: ReplicateTask, message: str) -> Replicate:
    """A replicate whose worker process died running it: failed (a new one replaces it)."""
    log.warning("bootstrap replicate %d: %s; it is recorded as failed", task.index, message)
    return Replicate(task.index, task.weights, task.starts[0].x0, float("inf"),
                     task.threshold, ReplicateStatus.FAILED, 0, 0.0, message)


def _replicate_task(index: int, problem: Problem, strata: np.ndarray, fs: FitSettings,
                    b: BootstrapSettings, x_best: np.ndarray, fp: str,
                    fixed: tuple[tuple[str, float], ...]) -> ReplicateTask:
    """Replicate ``index``: its weights, and its starts (the best point, then drawn ones)."""
    w = resample_weights(strata, b.seed, index)
    priors = tuple(p.init_prior for p in problem.free)
    # the drawn starts' own generators: from the bootstrap's seed and the replicate
    seed_k = int(np.random.SeedSequence([b.seed, BOOTSTRAP_STREAM, index]).generate_state(
        1, np.uint64)[0] >> np.uint64(1))
    extra = sample_starts(problem.lb, problem.ub, b.starts - 1,
                          np.random.default_rng([b.seed, BOOTSTRAP_STREAM, index, 1]),
                          fs.sampler, priors, problem.x_scales) if b.starts > 1 else []
    points = [np.asarray(x_best, float), *extra]

    def start(j: int, x0: np.ndarray) -> StartTask:
        return StartTask(str(problem.source), fs.objective_opts, fs.optimizer,
                         fs.optimizer_opts, index, x0, problem.lb, problem.ub,
                         None if j == 0 else (seed_k, j), fp, priors,
                         tuple(problem.x_scales), fs.sampler, fs.race, fs.hierarchical,
                         fs.limits, fixed, w.astype(float))

    return ReplicateTask(index, w, b.threshold(w), tuple(start(j, x)
                                                         for j, x in enumerate(points)))
