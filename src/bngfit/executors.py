"""Where the starts run: in this process, a local process pool, or a Dask cluster.

Every executor maps one picklable function over picklable tasks and yields
results as they finish (any order). bngsim objects cannot be pickled, so tasks
carry the problem's file path and each worker process rebuilds the model once
(see :func:`bngfit.multistart.run_start`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from enum import StrEnum

from .errors import MissingExtraError, parse_choice

log = logging.getLogger(__name__)


class ExecutorName(StrEnum):
    """The execution engines of a multistart."""

    SEQUENTIAL = "sequential"
    PROCESS = "process"
    DASK = "dask"


def parse_executor(name: str) -> ExecutorName:
    """The engine named ``name`` (InputError listing the choices otherwise)."""
    return parse_choice(ExecutorName, name, "engine")


def default_workers() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_unordered(
    fn: Callable,
    tasks: Iterable,
    *,
    engine: ExecutorName = ExecutorName.PROCESS,
    workers: int | None = None,
    scheduler: str | None = None,
    solver_log: str | None = None,
) -> Iterator:
    """Apply ``fn`` to every task; yield results as they finish.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function of one task.
    tasks : iterable
        Picklable task objects.
    engine : ExecutorName
    workers : int, optional
        Worker processes (process pool, local Dask cluster); default: cores.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); without it
        the Dask engine starts a local cluster.
    solver_log : str, optional
        File that receives what the solver prints on the workers' standard
        error (SUNDIALS reports every rejected trial point there); local
        worker processes only. Default: the terminal.
    """
    tasks = list(tasks)
    if not tasks:
        return
    if engine is ExecutorName.SEQUENTIAL:
        for t in tasks:
            yield fn(t)
        return
    n = min(workers or default_workers(), len(tasks))
    if engine is ExecutorName.PROCESS:
        # 'fork' where it exists: unlike 'spawn' it does not re-import the
        # caller's __main__, so scripts and notebooks need no main guard. The
        # workers do not reuse the parent's bngsim objects (see run_start).
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                 initargs=(solver_log,)) as pool:
            futures = [pool.submit(fn, t) for t in tasks]
            try:
                for fut in as_completed(futures):
                    yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()
        return
    yield from _run_dask(fn, tasks, n, scheduler)


def _init_worker(solver_log: str | None) -> None:
    """Set up a local worker process: one BLAS thread, the solver log."""
    limit_blas_threads()
    if solver_log:
        _redirect_stderr(solver_log)


def limit_blas_threads() -> None:
    """Let this process's BLAS (OpenBLAS, MKL, ...) use one thread.

    A forked worker inherits the parent's BLAS with one thread per core, so
    ``k`` workers run ``k`` times as many BLAS threads as there are cores, and
    OpenBLAS threads busy-wait between calls. On Boehm et al. 2014 (10 starts,
    2 workers on 2 cores) L-BFGS-B's fit took 11.0 s with them and 5.4 s
    without. The small matrices of a local optimization gain nothing from
    threads.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _redirect_stderr(path: str) -> None:
    """Point a worker process's file descriptor 2 at ``path`` (appending).

    The solver writes from C++, below Python's ``sys.stderr``, so the file
    descriptor itself is redirected.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def _run_dask(fn, tasks, n, scheduler) -> Iterator:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise MissingExtraError(
            "the Dask engine needs dask.distributed; install it with: "
            "pip install 'bngfit[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        client.run(limit_blas_threads)  # the workers there now (see limit_blas_threads)
        futures = client.map(fn, tasks, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
