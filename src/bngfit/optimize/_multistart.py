"""Multistart fitting: start points, one task per start, results into the store.

Start points are drawn in the main process from a seeded generator (uniform or
Latin hypercube in the scaled bounds), so the same seed gives the same starts
on every engine. Each start is a picklable :class:`StartTask`; the worker
rebuilds the problem from its file once per process (:func:`run_start`). By
default each sampled start is a race of several candidate points
(:mod:`bngfit.optimize._racing`), drawn from a generator of the run's seed and the start's
index, so it too gives the same result on every engine; and noise parameters with
a closed-form optimum are set to it at each evaluation (:mod:`bngfit.objective._hierarchical`).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.objective._hierarchical import Space, noise_profile
from bngfit.objective._objective import Objective
from bngfit.problem._problem import Problem
from bngfit.result._store import Store, fingerprint
from bngfit.result._types import FitResult, StartResult, StartStatus

from ._executors import ExecutorName, parse_executor, run_unordered
from ._local import NEEDS_RESIDUALS, Counted, OptimizerName, minimize, parse_optimizer
from ._racing import Race, candidate_rng, check_race, run_race
from ._sampling import SAMPLERS, sample_starts  # noqa: F401 - kept importable from here
from ._settings import (  # noqa: F401 - kept importable from here
    LEGACY_SETTINGS,
    FitSettings,
    _check_settings_match,
    _seed_of,
    json_roundtrip,
)

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class StartTask:
    """Everything one start needs, picklable (no bngsim objects).

    ``resample`` is the seed of this start's own generator of replacement
    start points, used when the objective fails at ``x0`` (``None``: user
    start points, never replaced). It depends only on the run's seed and the
    start's index, so every engine draws the same replacements; a race draws
    its candidates from a generator of the same two numbers (user start points
    are not raced).
    """

    problem_path: str
    objective_opts: dict
    optimizer: str
    optimizer_opts: dict
    index: int
    x0: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    resample: tuple[int, int] | None = None
    fingerprint: str = ""
    priors: tuple = ()
    scales: tuple = ()
    sampler: str = "uniform"
    race: Race = Race(candidates=1)
    hierarchical: bool = False


MAX_RESAMPLE = 20


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
        x0 = sample_starts(task.lb, task.ub, 1, rng, "uniform", task.priors or None,
                           task.scales or None)[0]
        if obj(space.reduce(x0)).ok:
            return x0, f"start point redrawn {k} time(s): the objective failed at the " \
                       f"first one ({first[:200]}); "
    return task.x0, ""


_OBJECTIVES: dict = {}
_KEEP_OBJECTIVES = 4  # per process: enough for a few problems, bounded for notebooks


def _remember(key: tuple, obj: Objective) -> None:
    """Cache an objective, forgetting the least recently stored beyond the limit."""
    _OBJECTIVES.pop(key, None)
    _OBJECTIVES[key] = obj
    while len(_OBJECTIVES) > _KEEP_OBJECTIVES:
        _OBJECTIVES.pop(next(iter(_OBJECTIVES)))


def _objective_for(path: str, opts: dict, fingerprint: str = "") -> Objective:
    """One objective per problem file and settings per process (model loaded once)."""
    from bngfit.problem._load import load_problem

    # Keyed by process id (a forked worker must build its own model, not use a
    # copy of the parent's native solver state) and by the files' fingerprint
    # (an edited problem file is read again).
    key = (os.getpid(), path, fingerprint, tuple(sorted(opts.items())))
    obj = _OBJECTIVES.get(key)
    if obj is None:
        obj = Objective(load_problem(path), **opts)
        _remember(key, obj)
    return obj


def _candidates(task: StartTask) -> np.ndarray:
    """The start's further race candidates, shape (candidates - 1, n_x), full space.

    Drawn from the run's start distribution with a generator of the run's seed
    and the start's index.
    """
    return sample_starts(task.lb, task.ub, task.race.candidates - 1,
                         candidate_rng(*task.resample), task.sampler, task.priors or None,
                         task.scales or None)


def run_start(task: StartTask) -> StartResult:
    """Run one start; never raises (a failure is recorded in the result).

    The start's ``wall_s`` begins once the worker has its model: loading it
    (once per worker process) is the engine's setup, not this start's work.
    A worker that cannot build the problem gives a ``not_run`` result (not
    stored: a resumed run tries the start again); an error while the start
    runs gives an ``error`` result with the error's message and traceback.
    """
    t0 = time.perf_counter()
    try:
        objective = _objective_for(task.problem_path, task.objective_opts, task.fingerprint)
    except Exception as err:  # noqa: BLE001 - a failing start must not stop the others
        log.debug("start %d could not be set up", task.index, exc_info=True)
        return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), 0,
                           time.perf_counter() - t0, StartStatus.NOT_RUN,
                           f"{type(err).__name__}: {err}", np.zeros(0),
                           detail=traceback.format_exc())
    t0 = time.perf_counter()
    counted = None
    try:
        # Noise parameters set in closed form leave the optimizer the others
        # (x0 stays the full point as drawn; its noise values are not used).
        space = Space(objective, noise_profile(objective) if task.hierarchical else None)
        counted = Counted(space.objective)
        x0, note = _usable_start(counted, task, space)
        optimizer = OptimizerName(task.optimizer)
        lb, ub = space.reduce(task.lb), space.reduce(task.ub)
        if task.race.plain or task.resample is None:
            local, counted = minimize(counted, space.reduce(x0), lb, ub, optimizer,
                                      task.optimizer_opts)
        else:
            points = _candidates(task)
            won, local, more = run_race(counted, space.reduce(x0), space.reduce(points), lb,
                                        ub, optimizer, task.optimizer_opts, task.race)
            x0 = x0 if won == 0 else points[won - 1]
            note += more
        best = counted.best
        end = best if best is not None and np.array_equal(best.x, local.x) else counted(local.x)
        end = space.full(end)
        fval = end.fval if end.ok else float("inf")
        gnorm = float(np.linalg.norm(end.grad)) if end.ok else float("nan")
        trace = np.array(counted.trace, dtype=float)
        status, message = local.status, local.message
        if not end.ok:
            status, message = StartStatus.ERROR, end.message
        return StartResult(task.index, x0, end.x, fval, gnorm, counted.n_fval,
                           time.perf_counter() - t0, status, note + message, trace,
                           counted.eval_s)
    except Exception as err:  # noqa: BLE001 - a failing start must not stop the others
        log.debug("start %d raised", task.index, exc_info=True)
        trace = np.array(counted.trace if counted is not None else [], dtype=float)
        return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"),
                           trace.size, time.perf_counter() - t0, StartStatus.ERROR,
                           f"{type(err).__name__}: {err}", trace,
                           counted.eval_s if counted is not None else 0.0,
                           detail=traceback.format_exc())


def lost_start(task: StartTask, message: str) -> StartResult:
    """The result of a start whose worker process died running it (status ``error``)."""
    log.warning("start %d: %s (killed, out of memory, or a crash in the solver); it is "
                "recorded as failed and the run goes on", task.index, message)
    return StartResult(task.index, task.x0, task.x0, float("inf"), float("nan"), 0, 0.0,
                       StartStatus.ERROR, message, np.zeros(0))


def fit(
    problem: Problem,
    *,
    optimizer: str | None = None,
    n_starts: int | None = None,
    rng: int | np.random.Generator | None = None,
    engine: str = "process",
    workers: int | None = None,
    scheduler: str | None = None,
    starts: Sequence[Sequence[float]] | None = None,
    sampler: str | None = None,
    race: int | None = None,
    race_budget: int | None = None,
    hierarchical: bool | None = None,
    store: str | Path | None = None,
    resume: bool = False,
    check_gradient: bool = False,
    objective_opts: dict | None = None,
    optimizer_opts: dict | None = None,
    progress: Callable[[StartResult], None] | None = None,
) -> FitResult:
    """Fit a problem by multistart local optimization.

    Parameters
    ----------
    problem : Problem
        Read from a file. The sequential engine fits it as it is; worker
        processes rebuild it from its files, so a problem changed in memory is
        refused for them.
    optimizer : {"least_squares", "lbfgsb", "fides"}, optional
        Default ``least_squares`` (or the stored run's, when resuming).
    n_starts : int, optional
        Number of starts (user ``starts`` first, then sampled ones); default 10
        (or the stored run's).
    rng : int, numpy.random.Generator or None
        Seed or generator for the start points; the seed used is recorded (a
        resumed run takes the stored one unless given).
    engine : {"process", "sequential", "dask"}
    workers : int, optional
        Worker processes; default: the available cores.
    scheduler : str, optional
        Dask scheduler address (``engine="dask"``); default: a local cluster.
    starts : array_like, shape (n_user, n_x), optional
        User start points, optimizer space.
    sampler : {"uniform", "lhs"}, optional
        Default ``uniform`` (or the stored run's).
    race : int, optional
        Candidate points per sampled start (:mod:`bngfit.optimize._racing`): each gets
        a short run of ``race_budget`` evaluations and the best one is
        continued to convergence. Default 5 (``Race().candidates``, or the
        stored run's); 1 is the plain multistart. User start points are never
        raced.
    race_budget : int, optional
        Objective evaluations of each candidate's short run; default 35 (or
        the stored run's).
    hierarchical : bool, optional
        Set noise parameters that have a closed-form optimum (the whole noise
        scale of normal or Laplace data, entering nothing else) to it at every
        evaluation, and optimize the others (:mod:`bngfit.objective._hierarchical`).
        Default True (or the stored run's). Results hold every parameter.
    store : path, optional
        SQLite result store; each finished start is committed at once.
    resume : bool
        Continue the run in ``store``, skipping finished starts.
    check_gradient : bool
        Run a multi-step gradient check at the first start point (before
        fitting) and at the best optimum (after); both tables are kept.
    objective_opts : dict, optional
        ``rtol``, ``atol``, ``preeq_tmax`` of the :class:`Objective`.
    optimizer_opts : dict, optional
        Tolerances and budgets of the optimizer.
    progress : callable, optional
        Called with each finished :class:`StartResult`.

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        Bad settings, an optimizer that does not fit the problem, a store of
        another problem — all before any simulation.
    """
    # Resuming: what the caller leaves unset comes from the stored run.
    stored: dict = {}
    if resume and store is not None and Path(store).is_file() and Path(store).stat().st_size:
        with Store(store, readonly=True) as previous:
            stored = previous.meta()
            if stored:
                stored = previous.run_meta()
    optimizer = optimizer or stored.get("optimizer", "least_squares")
    n_starts = n_starts if n_starts is not None else stored.get("n_starts", 10)
    sset = {**LEGACY_SETTINGS, **stored.get("settings", {})} if stored else {}
    sampler = sampler or sset.get("sampler", "uniform")
    race_spec = check_race(race if race is not None else sset.get("race", Race().candidates),
                           race_budget if race_budget is not None
                           else sset.get("race_budget", Race().budget))
    if hierarchical is None:
        hierarchical = bool(sset.get("hierarchical", True))
    if rng is None and "seed" in stored:
        rng = stored["seed"]
    opt = parse_optimizer(optimizer)
    eng = parse_executor(engine)
    if sampler not in SAMPLERS:
        raise InputError(f"unknown start sampler '{sampler}': use one of {', '.join(SAMPLERS)}")
    if n_starts < 1:
        raise InputError("the number of starts must be at least 1", value=str(n_starts))
    objective_opts = dict(objective_opts or {})
    obj = Objective(problem, **objective_opts)  # compiles the plan: no simulation yet
    if opt in NEEDS_RESIDUALS and not obj.has_residuals:
        families = sorted({o.family.value for o in problem.observables.values()} - {"normal"})
        why = [f"{', '.join(families)} noise"] if families else []
        if problem.penalties:
            why.append("qualitative constraints")
        raise UnsupportedError(
            f"optimizer '{opt.value}' needs a sum-of-squares objective, but this problem has "
            f"{' and '.join(why)}, which have no residual form; use 'fides' or 'lbfgsb' "
            "instead", file=str(problem.source))
    n_x = len(problem.x_names)
    if starts is None and stored:  # a resumed run keeps its user start points
        starts = stored.get("user_starts_x") or None
    user = np.zeros((0, n_x)) if starts is None else np.atleast_2d(np.asarray(starts, float))
    if user.shape[1:] != (n_x,) and user.size:
        raise InputError(f"user start points must have {n_x} columns", value=str(user.shape))
    lb, ub = problem.lb, problem.ub
    outside = ~((user >= lb) & (user <= ub)).all(axis=1) if user.size else np.zeros(0, bool)
    if outside.any():
        raise InputError("user start point outside the bounds", value=str(user[outside][0]))
    n_starts = max(n_starts, user.shape[0])
    seed = _seed_of(rng)
    profile = noise_profile(obj) if hierarchical else None
    settings = FitSettings(opt.value, n_starts, seed, sampler, objective_opts,
                           dict(optimizer_opts or {}), int(user.shape[0]), race_spec,
                           bool(hierarchical), profile.names if profile else (),
                           tuple(w.format() for w in problem.warnings if w.affects_result))

    if eng is ExecutorName.DASK and scheduler:
        from ._dask import check_scheduler

        check_scheduler(scheduler)  # before the store is created
    fp = fingerprint(problem)
    _check_workers_see_it(problem, fp, eng, obj, objective_opts)
    st = Store(store) if store is not None else None
    try:
        if st is not None:
            _open_run(st, problem, fp, settings, user, resume)
    except BaseException:
        if st is not None:
            st.close()
        raise
    try:
        return _run(problem, obj, settings, user, eng, workers, scheduler, st,
                    check_gradient, progress, fp)
    finally:
        if st is not None:
            st.close()


def _check_workers_see_it(problem: Problem, fp: str, eng, obj: Objective,
                          objective_opts: dict) -> None:
    """Make sure every engine fits the problem passed in.

    The sequential engine uses it as it is (its objective is registered for
    this process); worker processes read the problem's files again, so those
    must give the same problem (no change in memory or on disk since loading).
    """
    from bngfit.problem._load import load_problem

    from ._executors import ExecutorName

    if eng is ExecutorName.SEQUENTIAL:
        key = (os.getpid(), str(problem.source), fp, tuple(sorted(objective_opts.items())))
        _remember(key, obj)
        return
    if fingerprint(load_problem(problem.source)) != fp:
        raise InputError(
            "the problem passed differs from what its files give now (changed in memory, or "
            "the files were edited since it was loaded); worker processes read the files: "
            "reload the problem, or use engine='sequential'", file=str(problem.source))


def _open_run(st: Store, problem: Problem, fp: str, s: FitSettings, user: np.ndarray,
              resume: bool) -> None:
    """Start a run in a new store, or check that resuming continues the stored one."""
    if resume and not st.is_new():
        st.check_same_problem(problem)
        _check_settings_match(st, s)
        n_x = len(problem.x_names)
        stored_user = np.array(st.meta().get("user_starts_x", []), float).reshape(-1, n_x)
        if user.size and not np.array_equal(stored_user, user):
            raise InputError("these user start points differ from the stored run's; "
                             "resume with the same ones", file=str(st.path))
    elif not st.is_new():
        raise InputError("the store already holds a run; resume it or choose another "
                         "store file", file=str(st.path))
    else:
        st.init_run(fp=fp, problem_path=str(Path(problem.source).resolve()),
                    x_names=problem.x_names,
                    x_scales=[sc.value for sc in problem.x_scales], optimizer=s.optimizer,
                    seed=s.seed, n_starts=s.n_starts, settings=json_roundtrip(s.as_dict()),
                    user_starts=user.tolist())


def _run(problem, obj, s: FitSettings, user, eng, workers, scheduler, st, check_gradient,
         progress, fp) -> FitResult:
    from bngfit.objective._gradcheck import check_grad_multi_eps

    t0 = time.perf_counter()
    lb, ub = problem.lb, problem.ub
    rng = np.random.default_rng(s.seed)
    priors = [p.init_prior for p in problem.free]
    sampled = sample_starts(lb, ub, s.n_starts - user.shape[0], rng, s.sampler, priors,
                            problem.x_scales)
    x0s = np.vstack([user, sampled])
    done = st.finished() if st is not None else set()
    gradchecks = st.gradchecks() if st is not None else {}
    if check_gradient and "start" not in gradchecks:
        gradchecks["start"] = _gradcheck(check_grad_multi_eps, obj, x0s[0])
        if st is not None:
            st.add_gradcheck("start", gradchecks["start"])
    n_user = user.shape[0]
    tasks = [
        StartTask(str(problem.source), s.objective_opts, s.optimizer, s.optimizer_opts, i,
                  x0s[i], lb, ub, None if i < n_user else (s.seed, i), fp, tuple(priors),
                  tuple(problem.x_scales), s.sampler, s.race, s.hierarchical)
        for i in range(s.n_starts) if i not in done
    ]
    results: list[StartResult] = st.starts() if st is not None else []
    last = t0  # wall time up to here is already in the store
    not_run: set[str] = set()
    try:
        solver_log = None if st is None else f"{st.path}.solver.log"
        # closing(): an exception here (Ctrl-C, a termination signal) ends the
        # engine's workers at once, not when the generator is collected.
        with closing(run_unordered(run_start, tasks, engine=eng, workers=workers,
                                   scheduler=scheduler, solver_log=solver_log,
                                   lost=lost_start)) as finished:
            for res in finished:
                if res.status is StartStatus.NOT_RUN:
                    # Not committed: a resumed run tries it again. Said once per cause.
                    if res.message not in not_run:
                        not_run.add(res.message)
                        log.warning("start %d could not run in its worker (%s); it is not "
                                    "stored and a resumed run tries it again", res.index,
                                    res.message)
                elif st is not None:
                    now = time.perf_counter()
                    st.add_start(res, now - last)
                    last = now
                results.append(res)
                if progress is not None:
                    progress(res)
    finally:
        if st is not None:
            st.add_wall(time.perf_counter() - last)
    ordered = sorted(results, key=lambda r: (not np.isfinite(r.fval), r.fval, r.index))
    if check_gradient and ordered and np.isfinite(ordered[0].fval):
        # At an optimum the gradient is ~0 and relative errors are noise: pick
        # each parameter's step by the absolute error there.
        gradchecks["best"] = _gradcheck(check_grad_multi_eps, obj, ordered[0].x, "abs_err")
        if st is not None:
            st.add_gradcheck("best", gradchecks["best"])
    if st is not None:
        return st.result()
    return FitResult(problem.x_names, tuple(ordered), s.optimizer, s.seed, s.n_starts,
                     time.perf_counter() - t0,
                     {**s.as_dict(), "problem": str(problem.source),
                      "x_scales": [sc.value for sc in problem.x_scales]}, gradchecks)


def _gradcheck(fn, obj, x, label="rel_err"):
    try:
        return fn(obj, x, label=label)
    except RuntimeError as err:  # the objective fails at x: record why, do not abort
        import pandas as pd

        log.warning("gradient check skipped: %s", err)
        return pd.DataFrame({"message": [str(err)]})


__all__ = ["ExecutorName", "FitSettings", "StartTask", "fit", "lost_start", "run_start",
           "sample_starts"]
