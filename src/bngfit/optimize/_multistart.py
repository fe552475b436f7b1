"""Multistart fitting: settings resolved, start points drawn, starts run, results stored.

:func:`fit` resolves its settings (:class:`~bngfit.optimize._settings.FitSettings`:
every default and the resume rules live there) and runs them with
:func:`run_fit`, which the command line calls too. Start points are drawn in
the main process from the run's seed (uniform or Latin hypercube in the scaled
bounds), so the same seed gives the same starts on every engine. Each start is
a picklable :class:`~bngfit.optimize._start_runner.StartTask` that a worker runs
(:func:`~bngfit.optimize._start_runner.run_start`); by default each sampled start is a
race of several candidate points (:mod:`bngfit.optimize._racing`), and noise parameters
with a closed-form optimum are set to it at each evaluation
(:mod:`bngfit.objective._hierarchical`). Each finished start is committed to the store at
once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import closing, nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.objective._gradcheck import check_grad_multi_eps
from bngfit.objective._objective import Objective
from bngfit.problem._describe import fixes_between
from bngfit.problem._load import load_problem
from bngfit.problem._problem import Problem
from bngfit.result._store import Store, fingerprint
from bngfit.result._types import FitResult, StartResult, StartStatus

from ._capture import Redirect, SolverLog
from ._dask import check_scheduler
from ._executors import ExecutorName, run_unordered
from ._local import NEEDS_RESIDUALS
from ._progress import FitProgress, ProgressBar, ProgressTracker
from ._sampling import SAMPLERS, sample_starts
from ._settings import LEGACY_SETTINGS, FitSettings, json_roundtrip, stored_run
from ._start_runner import MAX_RESAMPLE, StartTask, lost_start, register_objective, run_start

log = logging.getLogger(__name__)


def fit(
    problem: Problem,
    *,
    optimizer: str | None = None,
    n_starts: int | None = None,
    rng: int | np.random.Generator | None = None,
    engine: str | None = None,
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
    progress: bool | Callable[[FitProgress], None] | None = False,
    max_time: float | None = None,
    max_evals: int | None = None,
    max_start_time: float | None = None,
    max_iterations: int | None = None,
) -> FitResult:
    """Fit a problem by multistart local optimization.

    Every setting left unset takes the stored run's value when resuming, else
    what the problem file asks for (:attr:`Problem.request
    <bngfit.problem.Problem.request>`: a PyBNF job's ``fit_type``,
    ``population_size``, ``random_seed``, ...), else its default
    (:mod:`bngfit.optimize._settings` lists them); ``bngfit fit`` resolves its
    options the same way, so a notebook gets the run the command line gets.
    Where the outputs go (a job's ``output_dir``) is the command line's
    business: this function writes only the ``store`` it is given.

    Parameters
    ----------
    problem : Problem
        Read from a file, possibly with parameters fixed
        (:meth:`Problem.fix <bngfit.problem.Problem.fix>`). The sequential
        engine fits it as it is; worker processes rebuild it from its files and
        apply the same fixes, so any other change in memory is refused for them.
    optimizer : {"least_squares", "lbfgsb", "fides"}, optional
        Default: least_squares where the objective has a residual form (a sum
        of squares), else fides. The result records which one ran.
    n_starts : int, optional
        Number of starts (user ``starts`` first, then sampled ones); default 10.
    rng : int, numpy.random.Generator or None
        Seed of the start points, or a generator to draw one from. Default: the
        stored run's seed when resuming, else 0, so the same call gives the same
        fit. The seed used is recorded in the result and the store; pass
        ``numpy.random.default_rng()`` for a fresh random one.
    engine : {"process", "sequential", "dask"}, optional
        Default process. A resumed run may use another engine.
    workers : int, optional
        Worker processes; default: the available cores.
    scheduler : str, optional
        Dask scheduler address (``engine="dask"``); default: a local cluster.
    starts : array_like, shape (n_user, n_x), optional
        User start points, optimizer space.
    sampler : {"uniform", "lhs"}, optional
        Default uniform.
    race : int, optional
        Candidate points per sampled start (:mod:`bngfit.optimize._racing`): each gets
        a short run of ``race_budget`` evaluations and the best one is
        continued to convergence. Default 5 (``Race().candidates``); 1 is the
        plain multistart. User start points are never raced.
    race_budget : int, optional
        Objective evaluations of each candidate's short run; default 35.
    hierarchical : bool, optional
        Set noise parameters that have a closed-form optimum (the whole noise
        scale of normal or Laplace data, entering nothing else) to it at every
        evaluation, and optimize the others (:mod:`bngfit.objective._hierarchical`).
        Default True. Results hold every parameter.
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
    progress : bool or callable
        True: a progress bar (``tqdm.auto``: a widget in a notebook) of the
        starts done, with the evaluations so far and the best fval; it moves
        while starts run. A callable receives a
        :class:`~bngfit.optimize._progress.FitProgress` at least every
        ``PROGRESS_S`` seconds of a running start that evaluates (on every
        engine; Dask's reports travel through its scheduler) and at each
        finished start (its ``finished`` field then holds the
        :class:`StartResult`).
        Default False: nothing.
    max_time : float, optional
        A budget of wall seconds for the run (:func:`run_fit`).
    max_evals : int, optional
        Objective evaluations allowed to each start, race candidates included;
        a start that reaches it ends at its best point so far (status
        ``max_iter``). Default: no limit beyond the optimizer's own budget.
    max_start_time : float, optional
        Wall seconds allowed to each start, likewise (checked before each
        evaluation). Default: no limit.
    max_iterations : int, optional
        Iterations allowed to each local run, on whichever optimizer runs
        (:mod:`bngfit.optimize._iterations`); it replaces the optimizer's own
        iteration option in ``optimizer_opts``. Default: the optimizer's own
        budget.

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        Bad settings, an optimizer that does not fit the problem, a store of
        another problem or a resume with other settings; all before any
        simulation.
    """
    settings = FitSettings.resolve(
        problem, stored=stored_run(store, resume), optimizer=optimizer, n_starts=n_starts,
        rng=rng, sampler=sampler, race=race, race_budget=race_budget, max_evals=max_evals,
        max_start_time=max_start_time, max_iterations=max_iterations,
        hierarchical=hierarchical, starts=starts,
        engine=engine, workers=workers, scheduler=scheduler, objective_opts=objective_opts,
        optimizer_opts=optimizer_opts)
    return run_fit(problem, settings, store=store, resume=resume,
                   check_gradient=check_gradient, progress=progress, max_time=max_time)


def run_fit(
    problem: Problem,
    settings: FitSettings,
    *,
    store: str | Path | None = None,
    resume: bool = False,
    check_gradient: bool = False,
    progress: bool | Callable[[FitProgress], None] | None = False,
    max_time: float | None = None,
) -> FitResult:
    """Run a fit with resolved settings (:meth:`FitSettings.resolve`).

    Parameters are those of :func:`fit`; ``settings`` must have been resolved
    for ``problem`` (and, when resuming, from ``store``'s run). ``max_time``:
    once this many wall seconds have passed, as a start finishes, the run stops:
    the finished starts are kept (and stored), starts still running in workers
    are ended, the others not begun; with a store, ``resume`` continues it.
    Unset, the problem file's budget applies (:attr:`FitRequest.max_time
    <bngfit.problem.FitRequest>`, a PyBNF job's ``wall_time_fit``). One
    engine's start runs to its end (the sequential engine), so a run may exceed
    the budget by a start. Not a setting of the run: a resume may give another.

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        An unreachable Dask scheduler, a problem its files no longer give, a
        store of another problem or of a run with other settings; all before
        any start runs.
    """
    if max_time is None and problem.request.max_time:  # the problem file's time budget
        max_time = problem.request.max_time
        log.info("time budget of the run: %g s (%s)", max_time,
                 problem.request.asked("max_time"))
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise InputError("progress must be True, False or a callable receiving FitProgress "
                         "events", value=repr(progress))
    obj = Objective(problem, **settings.objective_opts)
    if settings.engine is ExecutorName.DASK and settings.scheduler:
        check_scheduler(settings.scheduler)  # before the store is created
    fp = fingerprint(problem)
    fixed = _check_workers_see_it(problem, fp, settings, obj)
    with (Store(store) if store is not None else nullcontext()) as st:
        if st is not None:
            _open_run(st, problem, fp, settings, resume)
        return _run(problem, obj, settings, st, check_gradient, progress, fp, max_time,
                    fixed)


def _check_workers_see_it(problem: Problem, fp: str, s: FitSettings,
                          obj: Objective) -> tuple[tuple[str, float], ...]:
    """Make sure every engine fits the problem passed in; the fixes workers apply.

    The sequential engine uses it as it is (its objective is registered for
    this process); worker processes read the problem's files again and apply
    the parameters fixed in memory (:meth:`Problem.fix`), so the files and
    those fixes must give the same problem (no other change in memory or on
    disk since loading). Returns the fixes as ``(id, native value)`` pairs.
    """
    if s.engine is ExecutorName.SEQUENTIAL:
        register_objective(str(problem.source), fp, s.objective_opts, obj)
        return ()
    loaded = load_problem(problem.source)
    fixed = fixes_between(problem, loaded)
    if fingerprint(loaded.fix(fixed) if fixed else loaded) != fp:
        raise InputError(
            "the problem passed differs from what its files give now (changed in memory "
            "other than by fixing parameters with Problem.fix, or the files were edited "
            "since it was loaded); worker processes read the files: reload the problem, or "
            "use engine='sequential'", file=str(problem.source))
    return tuple(fixed.items())


def _open_run(st: Store, problem: Problem, fp: str, s: FitSettings, resume: bool) -> None:
    """Start a run in a new store, or check that resuming continues the stored one."""
    if resume and not st.is_new():
        st.check_same_problem(problem)
        s.check_resume(st.meta(), st.path)
        if s.n_starts > int(st.meta()["n_starts"]):
            st.set_n_starts(s.n_starts)  # more starts: the stored ones stay the first
    elif not st.is_new():
        raise InputError("the store already holds a run; resume it or choose another "
                         "store file", file=str(st.path))
    else:
        st.init_run(fp=fp, problem_path=str(Path(problem.source).resolve()),
                    x_names=problem.x_names,
                    x_scales=[sc.value for sc in problem.x_scales],
                    optimizer=s.optimizer.value, seed=s.seed, n_starts=s.n_starts,
                    settings=json_roundtrip(s.as_dict()),
                    user_starts=s.user_points(len(problem.x_names)).tolist(),
                    bounds=(problem.lb, problem.ub))


def start_points(problem: Problem, s: FitSettings) -> np.ndarray:
    """The run's start points, shape (n_starts, n_x): the user's, then drawn ones."""
    user = s.user_points(len(problem.x_names))
    rng = np.random.default_rng(s.seed)
    priors = [p.init_prior for p in problem.free]
    sampled = sample_starts(problem.lb, problem.ub, s.n_starts - user.shape[0], rng,
                            s.sampler, priors, problem.x_scales)
    return np.vstack([user, sampled])


def _tasks(problem: Problem, s: FitSettings, x0s: np.ndarray, done: set[int],
           fp: str, fixed: tuple[tuple[str, float], ...] = ()) -> list[StartTask]:
    """One task per start not finished yet (``fixed``: the fixes workers apply)."""
    priors = tuple(p.init_prior for p in problem.free)
    return [
        StartTask(str(problem.source), s.objective_opts, s.optimizer, s.optimizer_opts, i,
                  x0s[i], problem.lb, problem.ub, None if i < s.user_starts else (s.seed, i),
                  fp, priors, tuple(problem.x_scales), s.sampler, s.race, s.hierarchical,
                  s.limits, fixed)
        for i in range(s.n_starts) if i not in done
    ]


def _run(problem: Problem, obj: Objective, s: FitSettings, st: Store | None,
         check_gradient: bool, progress: bool | Callable[[FitProgress], None] | None,
         fp: str, max_time: float | None = None,
         fixed: tuple[tuple[str, float], ...] = ()) -> FitResult:
    """Draw the start points, run the starts not finished yet, collect the result."""
    t0 = time.perf_counter()
    x0s = start_points(problem, s)
    done = st.finished() if st is not None else set()
    gradchecks = st.gradchecks() if st is not None else {}
    results: list[StartResult] = st.starts() if st is not None else []
    bar = ProgressBar(s.n_starts, len(results)) if progress is True else None
    callback = bar if bar is not None else progress or None
    tracker = None if callback is None else ProgressTracker(callback, s.n_starts, results, t0)
    solver = SolverLog(None if st is None else f"{st.path}.solver.log")
    try:
        if check_gradient and "start" not in gradchecks:
            with Redirect(solver.path):
                _gradcheck(gradchecks, "start", obj, x0s[0], "rel_err", st)
        tasks = _tasks(problem, s, x0s, done, fp, fixed)
        results += _run_tasks(tasks, s, st, tracker, t0,
                              None if max_time is None else t0 + max_time, solver)
        ordered = sorted(results, key=lambda r: (not np.isfinite(r.fval), r.fval, r.index))
        if check_gradient and ordered and np.isfinite(ordered[0].fval):
            # At an optimum the gradient is ~0 and relative errors are noise: pick
            # each parameter's step by the absolute error there.
            with Redirect(solver.path):
                _gradcheck(gradchecks, "best", obj, ordered[0].x, "abs_err", st)
    finally:
        solver.close()
        if bar is not None:
            bar.close()
    if st is not None:
        return st.result()
    return FitResult(problem.x_names, tuple(ordered), s.optimizer.value, s.seed, s.n_starts,
                     time.perf_counter() - t0,
                     {**s.as_dict(), "problem": str(problem.source),
                      "x_scales": [sc.value for sc in problem.x_scales],
                      "x_bounds": [problem.lb.tolist(), problem.ub.tolist()]}, gradchecks)


def _run_tasks(tasks: list[StartTask], s: FitSettings, st: Store | None,
               tracker: ProgressTracker | None, since: float,
               deadline: float | None = None,
               solver: SolverLog | None = None) -> list[StartResult]:
    """Run the tasks on the run's engine; commit each finished start to the store.

    ``since`` is when the run's wall time not yet in the store began; past
    ``deadline`` (``time.perf_counter`` seconds) no further start is waited for.
    What the solver prints goes to ``solver`` (relayed to logging after each
    start; the caller closes it).
    """
    results = []
    last = since
    not_run: set[str] = set()
    try:
        # closing(): an exception here (Ctrl-C, a termination signal) ends the
        # engine's workers at once, not when the generator is collected.
        with closing(run_unordered(
                run_start, tasks, engine=s.engine, workers=s.workers, scheduler=s.scheduler,
                solver_log=None if solver is None else solver.path, lost=lost_start,
                progress=None if tracker is None else tracker.running)) as finished:
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
                if solver is not None:
                    solver.relay()
                if tracker is not None:
                    tracker.finished(res)
                if deadline is not None and time.perf_counter() >= deadline:
                    log.warning("the run's time budget is spent: %d start(s) finished in "
                                "this run; the others are not run (a stored run continues "
                                "with resume)", len(results))
                    break
    finally:
        if st is not None:
            st.add_wall(time.perf_counter() - last)
    return results


def _gradcheck(tables: dict, which: str, obj: Objective, x: np.ndarray, label: str,
               st: Store | None) -> None:
    """Check the gradient at ``x`` into ``tables[which]`` (and the store).

    Where the objective fails at ``x`` the table records why; the fit goes on.
    """
    try:
        table = check_grad_multi_eps(obj, x, label=label)
    except RuntimeError as err:
        log.warning("gradient check skipped: %s", err)
        table = pd.DataFrame({"message": [str(err)]})
    tables[which] = table
    if st is not None:
        st.add_gradcheck(which, table)


__all__ = ["LEGACY_SETTINGS", "MAX_RESAMPLE", "NEEDS_RESIDUALS", "SAMPLERS", "ExecutorName",
           "FitProgress", "FitSettings", "StartTask", "fit", "lost_start", "run_fit", "run_start",
           "sample_starts", "start_points"]
