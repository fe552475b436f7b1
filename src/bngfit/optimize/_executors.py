"""Where the starts run: in this process, a local process pool, or a Dask cluster.

Every executor maps one function over picklable tasks and yields results as
they finish (any order). bngsim objects cannot be pickled, so tasks carry the
problem's file path and each worker process rebuilds the model once (see
:func:`bngfit.optimize._start_runner.run_start`).

Leaving the loop over the results early, by an exception of the caller's
(Ctrl-C's ``KeyboardInterrupt``, :class:`Terminated` from a signal handler, a
bug) ends the workers at once; they also end by themselves when the process
running the fit dies (see :mod:`bngfit.optimize._workers`).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from enum import StrEnum
from types import FrameType

from bngfit.errors import parse_choice

from ._capture import Redirect
from ._dask import run_dask
from ._pool import run_pool
from ._progress import Report, set_sender

log = logging.getLogger(__name__)


class ExecutorName(StrEnum):
    """The execution engines of a multistart (see :data:`EXECUTOR_TEXT`)."""

    SEQUENTIAL = "sequential"
    PROCESS = "process"
    DASK = "dask"


#: Where each engine runs the starts, for help texts and messages.
EXECUTOR_TEXT = {
    ExecutorName.SEQUENTIAL: "one start after another in this process",
    ExecutorName.PROCESS: "a pool of local worker processes",
    ExecutorName.DASK: "a Dask cluster, local or reached through a running scheduler's "
                       "address",
}


class Terminated(BaseException):
    """The run was asked to stop by a signal (SIGTERM, SIGHUP, ...).

    A :class:`BaseException`, like ``KeyboardInterrupt``: no ``except
    Exception`` on the way (a start's own error handling) swallows it.

    Parameters
    ----------
    signum : int
        The signal received.

    Attributes
    ----------
    signum : int
    exit_code : int
        ``128 + signum``, the shell's convention (143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        try:
            name = signal.Signals(self.signum).name
        except ValueError:
            name = f"signal {self.signum}"
        super().__init__(f"terminated by {name}")

    @property
    def exit_code(self) -> int:
        """The shell's exit code for this signal, ``128 + signum``."""
        return 128 + self.signum


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    """Signal handler raising :class:`Terminated` in the main thread.

    Install with ``signal.signal(signal.SIGTERM, raise_terminated)``: a fit
    then stops its workers, keeps every finished start in its store and lets
    the exception through.
    """
    raise Terminated(signum)


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
    lost: Callable[[object, str], object] | None = None,
    progress: Callable[[Report], None] | None = None,
) -> Iterator:
    """Apply ``fn`` to every task; yield results as they finish.

    Parameters
    ----------
    fn : callable
        A function of one task (module-level, hence picklable, for Dask and
        where processes are spawned rather than forked).
    tasks : iterable
        Picklable task objects.
    engine : ExecutorName
    workers : int, optional
        Worker processes (process pool, local Dask cluster); default: cores.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); without it
        the Dask engine starts a local cluster.
    solver_log : str, optional
        File that receives what local worker processes write on their standard
        output and error (SUNDIALS reports every rejected trial point there,
        from C++). Without it their standard output goes to standard error:
        the run's own standard output carries only what the run prints. The
        sequential engine points this process's descriptors 1 and 2 away while
        each task runs and puts the solver's lines into it, any others back on
        standard error (:class:`bngfit.optimize._capture.Redirect`).
    lost : callable, optional
        ``lost(task, message)`` gives the result of a task whose worker process
        died running it (killed, out of memory, a crash in C++); the run goes
        on with a new worker. Without it such a death raises
        :class:`bngfit.optimize._pool.WorkerDied`.
    progress : callable, optional
        Receives the reports of running tasks (:mod:`bngfit.optimize._progress`)
        in this process, from every engine.
    """
    tasks = list(tasks)
    if not tasks:
        return
    if engine is ExecutorName.SEQUENTIAL:
        for t in tasks:
            with Redirect(solver_log) if solver_log else nullcontext() as redirect:
                set_sender(_unredirected(progress, redirect))
                try:
                    out = fn(t)
                finally:
                    set_sender(None)
            yield out  # outside the redirect: the caller's own work prints as usual
        return
    n = min(workers or default_workers(), len(tasks))
    if engine is ExecutorName.PROCESS:
        yield from run_pool(fn, tasks, workers=n, solver_log=solver_log, lost=lost,
                            progress=progress)
        return
    yield from run_dask(fn, tasks, n, scheduler, solver_log, lost, progress)


def _unredirected(progress: Callable[[Report], None] | None,
                  redirect: Redirect | None) -> Callable[[Report], None] | None:
    """What a running start's reports do in this process.

    ``progress`` is called with the process's own descriptors (a bar drawn on
    the terminal); each report also sorts what the redirect caught so far
    (:meth:`Redirect.paused`), so other output reaches standard error while
    the start runs, not only after it.
    """
    if redirect is None:
        return progress

    def send(report: Report) -> None:
        with redirect.paused():
            if progress is not None:
                progress(report)

    return send
