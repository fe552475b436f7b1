"""Running a bootstrap: :func:`bootstrap` (the API) and :func:`run_bootstrap`.

What a replicate is and computes: :mod:`bngfit.optimize._bootstrap`. Here the
replicates run on the fit's engine in waves (the indices that would give ``n``
accepted replicates if every new one were accepted), each committed to the
store as it finishes; a run started again (after a kill, or with a larger
``n``) computes only the indices not yet stored, so the replicates, and the
intervals, do not depend on interruptions or on the engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import closing, nullcontext
from pathlib import Path

import numpy as np

from bngfit.errors import BngfitError, InputError
from bngfit.objective._objective import Objective
from bngfit.problem._problem import Problem
from bngfit.result._bootstrap import DEFAULT_LEVEL, BootstrapResult, Replicate, ReplicateStatus
from bngfit.result._store import Store, fingerprint
from bngfit.result._store_bootstrap import (
    add_bootstrap_wall,
    add_replicate,
    bootstrap_result,
    open_bootstrap,
    replicates,
)
from bngfit.result._types import FitResult, StartStatus

from ._bootstrap import (
    MAX_DISCARDS_IN_A_ROW,
    STRATA,
    BootstrapSettings,
    _replicate_task,
    experiment_strata,
    lost_replicate,
    run_replicate,
)
from ._capture import SolverLog
from ._executors import run_unordered
from ._fitted import fitted_source
from ._multistart import _check_workers_see_it
from ._progress import FitProgress, ProgressBar, ProgressTracker
from ._settings import FitSettings

log = logging.getLogger(__name__)


def bootstrap(
    source: Problem | str | Path,
    n: int | None = None,
    *,
    problem: Problem | None = None,
    store: str | Path | None = None,
    seed: int | None = None,
    starts: int = 1,
    level: float = DEFAULT_LEVEL,
    max_fval: float | None = None,
    engine: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | Callable[[FitProgress], None] | None = False,
    replace: bool = False,
    fit_opts: dict | None = None,
) -> BootstrapResult:
    """Refit resampled data ``n`` times; percentile intervals of the parameters.

    See :mod:`bngfit.optimize._bootstrap` for what a replicate is.

    Parameters
    ----------
    source : Problem, str or Path
        A result store holding a fit (the replicates are committed to it and
        start from its best point), or a problem, which is fitted first
        (:func:`bngfit.fit` with ``fit_opts`` and ``store``).
    n : int, optional
        Accepted replicates; default the problem's request (a PyBNF job's
        ``bootstrap``), which must then be > 0. A store's bootstrap run again
        with a larger ``n`` adds replicates; its stored ones are kept.
    problem : Problem, optional
        With a store: the fitted problem, where its recorded path no longer
        gives it (or it was fitted with parameters fixed in memory); checked
        against the store's fingerprint.
    store : path, optional
        With a problem: the store of its fit and bootstrap (default: none,
        results in memory only).
    seed : int, optional
        Seed of the resamples (and extra starts); default the fit's seed. The
        same seed gives the same replicates on every engine.
    starts : int
        Starts per replicate: the fit's best point, then ``starts - 1`` drawn
        like the fit's; the best end point counts. Default 1.
    level : float
        Confidence level of the intervals, in (0, 1); default 0.95.
    max_fval : float, optional
        Replicates ending above it (bngfit's fval: the negative log-likelihood
        of the resampled data, constants included) are discarded and
        replaced. Default: the problem's request (a PyBNF job's
        ``bootstrap_max_obj``, on PyBNF's scale, converted), else none.
    engine, workers, scheduler
        Where replicates run, as for :func:`bngfit.fit` (default: process pool).
    progress : bool or callable
        True: a bar of finished replicates; a callable receives
        :class:`~bngfit.optimize._progress.FitProgress` events (``n_starts``:
        the replicates).
    replace : bool
        Drop a stored bootstrap with other settings and begin anew.
    fit_opts : dict, optional
        With a problem: keywords of :func:`bngfit.fit`.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    InputError
        Bad values (``n`` < 1, a level outside (0, 1), ...), a store without a
        fit with a finite best point, a stored bootstrap with other settings.
    """
    problem, fitted, path = fitted_source(source, problem, store, fit_opts, "bootstrap's")
    settings = bootstrap_settings(problem, fitted, n=n, seed=seed, starts=starts, level=level,
                                  max_fval=max_fval)
    fs = replicate_fit_settings(problem, fitted, engine=engine, workers=workers,
                                scheduler=scheduler)
    return run_bootstrap(problem, fitted, settings, fs, store=path, replace=replace,
                         progress=progress)


def bootstrap_settings(problem: Problem, fitted: FitResult, *, n: int | None,
                       seed: int | None, starts: int = 1, level: float = DEFAULT_LEVEL,
                       max_fval: float | None = None) -> BootstrapSettings:
    """The bootstrap's settings: each one given, else the problem's request or the fit's.

    Raises
    ------
    InputError
        No ``n`` given and none requested, or a bad value.
    """
    request = problem.request
    if n is None:
        if not request.bootstrap:
            raise InputError("give the number of bootstrap replicates (the problem asks "
                             "for none)", id="n", value="None")
        n = request.bootstrap
    offsets, note = None, ""
    if max_fval is None and request.bootstrap_max_obj is not None:
        max_fval, offsets = request_threshold(problem)
        note = (f"bootstrap_max_obj {request.bootstrap_max_obj:g}" + (
            " (PyBNF's objective)" if request.bootstrap_obj_scale is not None else ""))
    return BootstrapSettings.checked(
        n=n, seed=fitted.seed if seed is None and fitted.seed is not None else
        (0 if seed is None else seed), starts=starts, level=level, max_fval=max_fval,
        max_fval_offsets=offsets, threshold_note=note)


def request_threshold(problem: Problem) -> tuple[float | None, tuple[float, ...] | None]:
    """A PyBNF job's ``bootstrap_max_obj`` on bngfit's scale: ``(max_fval, offsets)``.

    The reader records PyBNF's objective of a replicate with weights ``w`` as
    ``(fval - c @ w) / a`` (:attr:`FitRequest.bootstrap_obj_scale
    <bngfit.problem.FitRequest>`), so ``fval <= a T + c @ w`` is PyBNF's
    ``objective <= T``.
    """
    request = problem.request
    if request.bootstrap_max_obj is None:
        return None, None
    scale = request.bootstrap_obj_scale
    if scale is None:
        return float(request.bootstrap_max_obj), None
    factor, offsets = scale
    return float(factor) * float(request.bootstrap_max_obj), tuple(offsets)


def replicate_fit_settings(problem: Problem, fitted: FitResult, *, engine: str | None = None,
                           workers: int | None = None, scheduler: str | None = None
                           ) -> FitSettings:
    """The fit's own settings (optimizer, tolerances, ...) for the replicates' refits."""
    stored = {"optimizer": fitted.optimizer, "n_starts": fitted.n_starts,
              "seed": fitted.seed, "settings": dict(fitted.settings), "user_starts_x": []}
    return FitSettings.resolve(problem, stored=stored, engine=engine, workers=workers,
                               scheduler=scheduler)


def run_bootstrap(problem: Problem, fitted: FitResult, b: BootstrapSettings,
                  fs: FitSettings, *, store: str | Path | None = None, replace: bool = False,
                  progress: bool | Callable[[FitProgress], None] | None = False
                  ) -> BootstrapResult:
    """Run (or continue) a bootstrap with resolved settings; see :func:`bootstrap`.

    Parameters
    ----------
    problem : Problem
    fitted : FitResult
        The fit: its best point is where replicates start.
    b : BootstrapSettings
    fs : FitSettings
        The refits' settings (:func:`replicate_fit_settings`).
    store : path, optional
        The fit's store; replicates are committed to it as they finish.
    replace : bool
        Drop a stored bootstrap with other settings.
    progress : bool or callable
        As for :func:`bootstrap`.

    Returns
    -------
    BootstrapResult
    """
    best = fitted.best
    if best is None or not np.isfinite(best.fval):
        raise InputError("the fit has no start with a finite fval: nothing to bootstrap",
                         file=None if store is None else str(store))
    if list(fitted.x_names) != list(problem.x_names):
        raise InputError("the fit's parameters are not the problem's",
                         value=", ".join(fitted.x_names))
    fp = fingerprint(problem)
    # the sequential engine fits this problem object; workers rebuild it from its files
    fixed = _check_workers_see_it(problem, fp, fs, Objective(problem, **fs.objective_opts))
    record = {"n": b.n, "level": b.level, "seed": b.seed, "starts": b.starts,
              "max_fval": b.max_fval, "max_fval_offsets": b.max_fval_offsets,
              "strata": STRATA, "estimate": [float(v) for v in best.x],
              "race": fs.race.candidates if b.starts > 1 else 1,
              "threshold": b.threshold_note or (
                  "" if b.max_fval is None else f"max_fval {b.max_fval:g}")}
    t0 = time.perf_counter()
    with Store(store) if store is not None else nullcontext() as st:
        done: dict[int, Replicate] = {}
        if st is not None:
            st.check_same_problem(problem)
            record = open_bootstrap(st, record, replace=replace)
            done = {r.index: r for r in replicates(st, len(problem.x_names))}
        n = int(record["n"])
        strata = experiment_strata(problem)
        bar = ProgressBar(n, _n_accepted(done), unit="replicate") if progress is True \
            else None
        callback = bar if bar is not None else progress or None
        tracker = None if callback is None else ProgressTracker(
            callback, n, [r for r in done.values()
                          if r.status is ReplicateStatus.ACCEPTED], t0)  # type: ignore[misc]
        solver = SolverLog(None if st is None else f"{st.path}.solver.log")
        last = t0
        not_run: list[Replicate] = []
        try:
            while (todo := _next_wave(done, n)):
                tasks = [_replicate_task(i, problem, strata, fs, b, best.x, fp, fixed)
                         for i in todo]
                with closing(run_unordered(
                        run_replicate, tasks, engine=fs.engine, workers=fs.workers,
                        scheduler=fs.scheduler, solver_log=solver.path, lost=lost_replicate,
                        progress=None if tracker is None else tracker.running)) as finished:
                    for rep in finished:
                        if rep.message.startswith(f"{StartStatus.NOT_RUN.value}:"):
                            not_run.append(rep)  # never ran: not stored, retried
                            continue
                        done[rep.index] = rep
                        if st is not None:
                            now = time.perf_counter()
                            add_replicate(st, rep, now - last)
                            last = now
                        solver.relay()
                        if tracker is not None and rep.status is ReplicateStatus.ACCEPTED:
                            tracker.finished(rep)  # type: ignore[arg-type]
                if not_run:  # the same indices would come again: say why instead
                    raise BngfitError(
                        f"bootstrap replicate {not_run[0].index} could not be set up in its "
                        f"worker ({not_run[0].message}); the finished replicates are stored "
                        "and running the bootstrap again retries the others")
        finally:
            solver.close()
            if bar is not None:
                bar.close()
            if st is not None:
                add_bootstrap_wall(st, time.perf_counter() - last)
        if st is not None:
            result = bootstrap_result(st, b.level)
            assert result is not None  # opened above
            return result
    return BootstrapResult(
        x_names=list(problem.x_names), x_scales=[s.value for s in problem.x_scales],
        estimate=np.asarray(best.x, float), replicates=tuple(done[i] for i in sorted(done)),
        n_requested=n, seed=b.seed, level=b.level,
        settings={k: record[k] for k in ("starts", "max_fval", "strata", "race",
                                          "threshold")},
        wall_s=time.perf_counter() - t0)


def _n_accepted(done: dict[int, Replicate]) -> int:
    return sum(r.status is ReplicateStatus.ACCEPTED for r in done.values())


def _next_wave(done: dict[int, Replicate], n: int) -> list[int]:
    """The replicate indices to run next (empty: finished, or stopped).

    Those below ``n`` plus the discarded count that are not done: if every one
    is accepted, the first ``n`` accepted indices are complete. Stops (with a
    warning) after :data:`MAX_DISCARDS_IN_A_ROW` discarded indices in a row.
    """
    if _n_accepted(done) >= n:
        return []
    run = longest = 0
    previous = -2
    for i in sorted(done):
        if done[i].status is ReplicateStatus.ACCEPTED:
            run = 0
        else:  # a discarded index continues a run only right after another
            run = run + 1 if i == previous + 1 else 1
        previous = i
        longest = max(longest, run)
    if longest >= MAX_DISCARDS_IN_A_ROW:
        log.warning("bootstrap stopped: %d replicates in a row were discarded (above the "
                    "threshold or failed); %d of %d accepted. The threshold (max_fval / "
                    "bootstrap_max_obj) may be too low", longest, _n_accepted(done), n)
        return []
    m = n + sum(r.status is not ReplicateStatus.ACCEPTED for r in done.values())
    return [i for i in range(m) if i not in done]


__all__ = ["bootstrap", "bootstrap_settings", "replicate_fit_settings", "request_threshold",
           "run_bootstrap"]
