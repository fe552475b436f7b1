"""One start of a multistart, as a worker runs it: :class:`StartTask` in, result out.

A task is picklable (no bngsim objects): the worker rebuilds the problem from
its files once per process and keeps the objective (:func:`objective_for`).
A start point where the objective fails is replaced by a draw of the start's
own generator, and a sampled start races further candidate points
(:mod:`bngfit.optimize._racing`); both generators depend only on the run's seed and the
start's index, so every engine computes the same start.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass

import numpy as np

from bngfit.objective._hierarchical import Space, noise_profile
from bngfit.objective._objective import Objective
from bngfit.problem._load import load_problem
from bngfit.result._types import StartResult, StartStatus

from ._ladder import LADDER, LadderStep, laddered_result
from ._limits import Allowance, LimitReached, StartLimits
from ._local import Counted, OptimizerName, minimize
from ._progress import Reporting, begin_start
from ._racing import Race, candidate_rng, run_race
from ._sampling import Sampler, sample_starts

log = logging.getLogger(__name__)

#: Replacement start points drawn at most where the objective fails at a start.
MAX_RESAMPLE = 20


@dataclass(frozen=True)
class StartTask:
    """Everything one start needs, picklable (no bngsim objects).

    ``resample`` is the seed of this start's own generator of replacement
    start points, used when the objective fails at ``x0`` (``None``: user
    start points, never replaced). It depends only on the run's seed and the
    start's index, so every engine draws the same replacements; a race draws
    its candidates from a generator of the same two numbers (user start points
    are not raced). ``fixed`` holds the parameters fixed in memory
    (:meth:`Problem.fix <bngfit.problem.Problem.fix>`) as ``(id, native value)``
    pairs: a worker applies them to the problem its files give. ``weights``
    (shape (n_meas,)): the measurements' multiplicities of a bootstrap
    replicate (:mod:`bngfit.optimize._bootstrap`); None: every point once.
    """

    problem_path: str
    objective_opts: dict
    optimizer: OptimizerName
    optimizer_opts: dict
    index: int
    x0: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    resample: tuple[int, int] | None = None
    fingerprint: str = ""
    priors: tuple = ()
    scales: tuple = ()
    sampler: Sampler = Sampler.UNIFORM
    race: Race = Race(candidates=1)
    hierarchical: bool = False
    limits: StartLimits = StartLimits()
    fixed: tuple[tuple[str, float], ...] = ()
    weights: np.ndarray | None = None


# ------------------------------------------------------------ objectives
_OBJECTIVES: dict = {}
_KEEP_OBJECTIVES = 4  # per process: enough for a few problems, bounded for notebooks


def _key(path: str, fingerprint: str, opts: dict) -> tuple:
    # Keyed by process id (a forked worker must build its own model, not use a
    # copy of the parent's native solver state) and by the files' fingerprint
    # (an edited problem file is read again).
    return (os.getpid(), path, fingerprint, tuple(sorted(opts.items())))


def _remember(key: tuple, obj: Objective) -> None:
    """Cache an objective, forgetting the least recently stored beyond the limit."""
    _OBJECTIVES.pop(key, None)
    _OBJECTIVES[key] = obj
    while len(_OBJECTIVES) > _KEEP_OBJECTIVES:
        _OBJECTIVES.pop(next(iter(_OBJECTIVES)))


def register_objective(path: str, fingerprint: str, opts: dict, objective: Objective) -> None:
    """Have the starts of this process use ``objective`` for the problem at ``path``.

    The sequential engine fits the problem passed in (which may differ from
    its files in memory), not the one its files give.
    """
    _remember(_key(path, fingerprint, opts), objective)


def objective_for(path: str, opts: dict, fingerprint: str = "",
                  fixed: tuple[tuple[str, float], ...] = ()) -> Objective:
    """One objective per problem file and settings per process (model loaded once).

    ``fixed``: ``(id, native value)`` pairs fixed on the problem the files give
    (the fingerprint, part of the key, covers them).
    """
    key = _key(path, fingerprint, opts)
    obj = _OBJECTIVES.get(key)
    if obj is None:
        problem = load_problem(path)
        obj = Objective(problem.fix(dict(fixed)) if fixed else problem, **opts)
        _remember(key, obj)
    return obj


# ------------------------------------------------------------- one start
def _usable_start(obj: Counted, task: StartTask, space: Space) -> tuple[np.ndarray, str]:
    """x0, or a replacement drawn when the objective fails there.

    Returns the start point (full space) and a note for the message ('' if x0
    was kept).
    """
    x0 = task.x0
    ev = obj(space.reduce(x0))
    if ev.ok or task.resample is None:
        return x0, ""
    rng = np.random.default_rng(list(task.resample))
    first = ev.message
    for k in range(1, MAX_RESAMPLE + 1):
        x0 = sample_starts(task.lb, task.ub, 1, rng, Sampler.UNIFORM, task.priors or None,
                           task.scales or None)[0]
        if obj(space.reduce(x0)).ok:
            return x0, f"start point redrawn {k} time(s): the objective failed at the " \
                       f"first one ({first[:200]}); "
    return task.x0, ""


def _candidates(task: StartTask) -> np.ndarray:
    """The start's further race candidates, shape (candidates - 1, n_x), full space.

    Drawn from the run's start distribution with a generator of the run's seed
    and the start's index.
    """
    return sample_starts(task.lb, task.ub, task.race.candidates - 1,
                         candidate_rng(*task.resample), task.sampler, task.priors or None,
                         task.scales or None)


def _not_set_up(task: StartTask, err: Exception, seconds: float) -> StartResult:
    log.debug("start %d could not be set up", task.index, exc_info=True)
    return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), 0, seconds,
                       StartStatus.NOT_RUN, f"{type(err).__name__}: {err}", np.zeros(0),
                       detail=traceback.format_exc())


def _raised(task: StartTask, err: Exception, counted: Counted | None,
            seconds: float) -> StartResult:
    log.debug("start %d raised", task.index, exc_info=True)
    trace = np.array(counted.trace if counted is not None else [], dtype=float)
    return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), trace.size,
                       seconds, StartStatus.ERROR, f"{type(err).__name__}: {err}", trace,
                       counted.eval_s if counted is not None else 0.0,
                       detail=traceback.format_exc())


def run_start(task: StartTask) -> StartResult:
    """Run one start; never raises (a failure is recorded in the result).

    The start's ``wall_s`` begins once the worker has its model: loading it
    (once per worker process) is the engine's setup, not this start's work.
    A worker that cannot build the problem gives a ``not_run`` result (not
    stored: a resumed run tries the start again); an error while the start
    runs gives an ``error`` result with the error's message and traceback.
    A start that fails because the objective cannot be evaluated (the ODE
    solver fails at every point it tries) is retried up the tolerance
    ladder (:mod:`bngfit.optimize._ladder`), each step recorded in its message.
    """
    t0 = time.perf_counter()
    begin_start(task.index)  # progress: this start's evaluations, every attempt's
    try:
        objective = objective_for(task.problem_path, task.objective_opts, task.fingerprint,
                                  task.fixed)
        if task.weights is not None:  # a bootstrap replicate: same models, weighted data
            objective = objective.reweighted(task.weights)
    except Exception as err:  # noqa: BLE001 - a failing start must not stop the others
        return _not_set_up(task, err, time.perf_counter() - t0)
    t0 = time.perf_counter()
    allowance = None if task.limits.unlimited else Allowance(task.limits, t0)
    result = _attempt(task, objective, allowance, t0)
    for step in LADDER:
        if result.status is not StartStatus.ERROR or result.detail or (
                allowance is not None and allowance.stopped):
            break  # a start that ran, raised (a bug, not the solver's) or used its limits
        try:
            looser = _ladder_objective(task, objective, step)
        except Exception:  # noqa: BLE001 - the start's own failure stands
            log.debug("ladder objective for start %d could not be built", task.index,
                      exc_info=True)
            break
        retry = _attempt(task, looser, allowance, t0)
        result = laddered_result(result, retry, step, objective, _space(task, objective))
    return result


def _space(task: StartTask, objective: Objective) -> Space:
    # Noise parameters set in closed form leave the optimizer the others
    # (x0 stays the full point as drawn; its noise values are not used).
    return Space(objective, noise_profile(objective) if task.hierarchical else None)


def _ladder_objective(task: StartTask, objective: Objective, step: LadderStep) -> Objective:
    """The objective of ``objective``'s problem at the ladder step's looser settings.

    Built from the same problem object (the sequential engine's may exist only
    in memory), kept like the others.
    """
    opts = step.apply(task.objective_opts)
    key = (*_key(task.problem_path, task.fingerprint, opts), "ladder")
    obj = _OBJECTIVES.get(key)
    if obj is None:
        obj = Objective(objective.problem, **opts)
        _remember(key, obj)
    return obj if objective.weights is None else obj.reweighted(objective.weights)


def _attempt(task: StartTask, objective: Objective, allowance: Allowance | None,
             t0: float) -> StartResult:
    """One local optimization of the start on ``objective``; never raises."""
    counted = None
    try:
        space = _space(task, objective)
        # Reporting: each evaluation counts towards the run's progress (PROGRESS_S)
        counted = Counted(Reporting(space.objective), allowance=allowance)
        return _optimize(task, space, counted, t0)
    except Exception as err:  # noqa: BLE001 - a failing start must not stop the others
        return _raised(task, err, counted, time.perf_counter() - t0)


def _optimize(task: StartTask, space: Space, counted: Counted, t0: float) -> StartResult:
    """The start's local optimization (raced where it is a sampled start)."""
    try:
        x0, note = _usable_start(counted, task, space)
    except LimitReached as stop:
        x0, note = task.x0, f"{stop}, before a start point was found; "
    optimizer = OptimizerName(task.optimizer)
    lb, ub = space.reduce(task.lb), space.reduce(task.ub)
    if task.race.plain or task.resample is None:
        local, counted = minimize(counted, space.reduce(x0), lb, ub, optimizer,
                                  task.optimizer_opts)
    else:
        points = _candidates(task)
        won, local, more = run_race(counted, space.reduce(x0), space.reduce(points), lb, ub,
                                    optimizer, task.optimizer_opts, task.race)
        x0 = x0 if won == 0 else points[won - 1]
        note += more
    counted.allowance = None  # the end point is evaluated whatever the limits
    best = counted.best
    end = best if best is not None and np.array_equal(best.x, local.x) else counted(local.x)
    end = space.full(end)
    fval = end.fval if end.ok else float("inf")
    gnorm = float(np.linalg.norm(end.grad)) if end.ok else float("nan")
    trace = np.array(counted.trace, dtype=float)
    # the reasons evaluations failed along a run that ended somewhere (a start
    # that failed says why in its own message)
    status, message = local.status, local.message + counted.failures.summary()
    if not end.ok:
        status, message = StartStatus.ERROR, end.message
    return StartResult(task.index, x0, end.x, fval, gnorm, counted.n_fval,
                       time.perf_counter() - t0, status, note + message, trace,
                       counted.eval_s)


def lost_start(task: StartTask, message: str) -> StartResult:
    """The result of a start whose worker process died running it (status ``error``)."""
    log.warning("start %d: %s (killed, out of memory, or a crash in the solver); it is "
                "recorded as failed and the run goes on", task.index, message)
    return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), 0, 0.0,
                       StartStatus.ERROR, message, np.zeros(0))
