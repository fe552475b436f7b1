"""A local process pool that knows which task each worker runs.

``concurrent.futures.ProcessPoolExecutor`` cannot say which task a dead worker
was running: it marks every pending future broken and ends the other workers
too. A fit needs better: a worker killed by the kernel's out-of-memory killer,
by a crash in the solver's C++ or by a user must cost the one start it was
running, which is then recorded as such, and nothing else. So each worker here
has its own pipe and runs one task at a time; the pool always knows the task
in flight in every worker, replaces a dead worker and goes on.

Every way out of the pool other than finishing (an exception in the caller's
loop, Ctrl-C, a termination signal turned into an exception, closing the
generator) kills the workers at once instead of waiting for their tasks.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from bngfit.errors import BngfitError

from ._progress import Report, set_sender
from ._workers import setup_worker

log = logging.getLogger(__name__)

JOIN_S = 5.0  # how long a finished pool waits for a worker to leave by itself
MAX_REFUSED = 5  # workers in a row dead before their first task: give up


class WorkerDied(BngfitError):
    """A worker process died while running a task (no ``lost`` handler given)."""


def died_message(exitcode: int | None) -> str:
    """How a worker process ended, in words: ``worker process died (signal 9: SIGKILL)``."""
    if exitcode is None:
        return "worker process died (exit status unknown)"
    if exitcode < 0:
        try:
            name = f": {signal.Signals(-exitcode).name}"
        except ValueError:
            name = ""
        return f"worker process died (signal {-exitcode}{name})"
    return f"worker process died (exit code {exitcode})"


@dataclass(eq=False)
class _Worker:
    """A worker process, its end of the pipe, and the task it runs."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    task: tuple[int, object] | None = field(default=None)  # (key, task) in flight


def run_pool(
    fn: Callable,
    tasks: Iterable,
    *,
    workers: int,
    solver_log: str | None = None,
    lost: Callable[[object, str], object] | None = None,
    progress: Callable[[Report], None] | None = None,
) -> Iterator:
    """Apply ``fn`` to every task in ``workers`` processes; yield results as they finish.

    Parameters
    ----------
    fn : callable
        Function of one task. With the 'fork' start method (Linux) it is
        inherited, not pickled; elsewhere it must be a module-level function.
    tasks : iterable
        Picklable tasks.
    workers : int
        Worker processes.
    solver_log : str, optional
        File receiving the workers' standard output and error (see
        :func:`bngfit.optimize._workers.setup_worker`).
    lost : callable, optional
        ``lost(task, message)`` gives the result of a task whose worker died
        running it. Without it such a death raises :class:`WorkerDied`.
    progress : callable, optional
        Receives the progress reports a task sends while it runs
        (:mod:`bngfit.optimize._progress`), over its worker's pipe; without it
        workers send none.

    Raises
    ------
    Exception
        Whatever ``fn`` raised in a worker (re-raised here).
    WorkerDied
        A worker died running a task and ``lost`` is None.
    """
    pool = _Pool(fn, deque(enumerate(tasks)), solver_log, lost, progress)
    finished = False
    try:
        pool.grow(workers)
        while pool.pending or pool.busy():
            pool.dispatch()
            yield from pool.collect()
        finished = True
    finally:
        pool.close(gently=finished)


class _Pool:
    """The workers, the tasks not yet handed out, and what each worker runs."""

    def __init__(self, fn: Callable[[object], object], pending: deque[tuple[int, object]],
                 solver_log: str | None, lost: Callable[[object, str], object] | None,
                 progress: Callable[[Report], None] | None = None) -> None:
        methods = multiprocessing.get_all_start_methods()
        # 'fork' where it exists: unlike 'spawn' it does not re-import the
        # caller's __main__, so scripts and notebooks need no main guard. The
        # workers do not reuse the parent's bngsim objects (see
        # bngfit.optimize._multistart.run_start).
        self.ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.fn, self.pending, self.solver_log, self.lost = fn, pending, solver_log, lost
        self.progress = progress
        self.parent = os.getpid()
        self.workers: list[_Worker] = []
        self.refused = 0  # workers in a row that died before taking a task

    def grow(self, n: int) -> None:
        """Start workers up to ``n`` (no more than there are tasks)."""
        while len(self.workers) < min(n, len(self.pending)):
            self.workers.append(self._start())

    def _start(self) -> _Worker:
        """Start one worker process, with a pipe of its own."""
        mine, theirs = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main,
                                args=(self.fn, theirs, self.parent, self.solver_log,
                                      self.progress is not None),
                                daemon=True, name="bngfit-worker")
        proc.start()
        theirs.close()  # the worker's end lives in the worker only: its death is EOF here
        return _Worker(proc, mine)

    def busy(self) -> bool:
        """Whether any worker runs a task."""
        return any(w.task is not None for w in self.workers)

    def dispatch(self) -> None:
        """Hand the next tasks to the idle workers."""
        for i, w in enumerate(self.workers):
            if w.task is None and self.pending:
                try:
                    w.conn.send(self.pending[0])
                except (BrokenPipeError, ConnectionResetError, EOFError):
                    # Dead before its task reached it: replace it, send the task again.
                    _reap(w)
                    self.refused += 1
                    if self.refused > MAX_REFUSED:
                        raise WorkerDied(f"worker processes die before taking a task "
                                         f"({died_message(w.process.exitcode)})") from None
                    self.workers[i] = self._start()
                    continue
                self.refused = 0
                w.task = self.pending.popleft()

    def collect(self) -> Iterator:
        """Wait for results or deaths; yield the results, replace dead workers."""
        watched = {}
        for w in self.workers:
            watched[w.conn] = w
            watched[w.process.sentinel] = w
        done: list[_Worker] = []
        for obj in wait(list(watched)):
            if watched[obj] not in done:
                done.append(watched[obj])
        for w in done:
            message = _receive(w)
            if message is not None and message[0] == "progress":
                if self.progress is not None:  # a running task's report, not its end
                    self.progress(message[1])
                continue
            if message is not None:
                key, w.task = w.task[0], None
                status, payload, tb = message
                if status == "err":
                    log.debug("task %s raised in its worker:\n%s", key, tb)
                    raise payload
                yield payload
                continue
            # The worker is gone, and the task it ran (if any) with it.
            _reap(w)
            self.workers.remove(w)
            if self.pending:
                self.workers.append(self._start())
            if w.task is not None:
                text = died_message(w.process.exitcode)
                log.debug("task %d: %s", w.task[0], text)
                if self.lost is None:
                    raise WorkerDied(f"{text} while running task {w.task[0]}")
                yield self.lost(w.task[1], text)

    def close(self, gently: bool) -> None:
        """End every worker: asked to leave after a finished run, killed otherwise."""
        for w in self.workers:
            if gently:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
            else:
                w.process.kill()
        for w in self.workers:
            w.process.join(JOIN_S if gently else 1.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1.0)
            w.conn.close()


def _receive(w: _Worker) -> tuple[str, object, str] | None:
    """The worker's message ``(status, payload, traceback)``, or None when it has died.

    A worker that sent its result and then died is read first; its death is
    seen on the next wait, with no task in flight.
    """
    try:
        if w.conn.poll():
            return w.conn.recv()
    except (EOFError, OSError):
        pass
    return None


def _reap(w: _Worker) -> None:
    """Collect a dead worker's exit status and close its pipe."""
    w.process.join(1.0)
    w.conn.close()


def _worker_main(fn: Callable[[object], object], conn: Connection, parent: int,
                 solver_log: str | None, report: bool = False) -> None:
    """A worker's life: set up, then run tasks until told to stop.

    With ``report`` a running task's progress reports go to the parent over
    the pipe, as ``("progress", report, "")`` before the task's own message.
    """
    setup_worker(parent, solver_log)
    set_sender((lambda r: conn.send(("progress", r, ""))) if report else None)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        key, task = item
        try:
            out = ("ok", fn(task), "")
        except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises
            out = ("err", _portable(err), traceback.format_exc())
        try:
            conn.send(out)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as err:  # noqa: BLE001 - the result itself cannot be pickled
            conn.send(("err", RuntimeError(f"the result of task {key} cannot be sent to "
                                           f"the parent process: {err}"), ""))


def _portable(err: BaseException) -> BaseException:
    """``err``, or a RuntimeError with its text when it does not survive pickling."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any failure means: send the text instead
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err
