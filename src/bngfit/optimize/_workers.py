"""Setting up a local worker process: tied to its parent, quiet, one BLAS thread.

A worker must not outlive the run that started it: a fit killed with SIGKILL
cannot clean up, so each worker arranges its own death. On Linux the kernel's
parent-death signal does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere
a watchdog thread polls the parent's process id as well, which also covers a
parent that died before the signal was armed.

A worker must not write on the run's standard output either (``--json``
prints one object there): the ODE solver prints its ``[WARNING] ... CVode``
lines from C++, below Python's ``sys.stdout``, so file descriptors 1 and 2
themselves are pointed at the solver log (or fd 1 at fd 2 without one).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

from bngfit.objective._lanes import THREADS

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_S = 0.5  # how often the watchdog looks at the parent (seconds)


def setup_worker(parent_pid: int, solver_log: str | None) -> None:
    """Everything a local worker process does before its first task.

    Parameters
    ----------
    parent_pid : int
        Process id of the run's process (the one that started this worker).
    solver_log : str, optional
        File receiving the worker's standard output and error; without it
        standard output goes to standard error.
    """
    reset_signals()
    die_with_parent(parent_pid)
    redirect_output(solver_log)
    limit_threads()


def reset_signals() -> None:
    """Default SIGTERM, ignored SIGINT.

    A forked worker inherits the parent's Python handlers: the command line's
    SIGTERM handler would turn a ``kill`` of the worker into an exception
    reported as the start's result. Ctrl-C reaches the whole foreground
    process group; the run's process handles it and ends its workers.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def die_with_parent(parent_pid: int) -> None:
    """End this process when the process ``parent_pid`` ends.

    Arms the Linux parent-death signal where it exists and starts a watchdog
    thread everywhere. The signal fires when the *thread* that forked this
    process ends, which is why the pool starts its workers from the thread
    that runs the fit and waits for them there.
    """
    if sys.platform.startswith("linux"):
        _arm_pdeathsig()
    watch_parent(parent_pid)


def _arm_pdeathsig() -> None:
    """Ask Linux to kill this process when its parent thread ends (prctl)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as err:  # no libc with prctl: the watchdog remains
        log.debug("no parent-death signal: %s", err)


def watch_parent(parent_pid: int) -> None:
    """Exit at once if ``parent_pid`` is not this process's parent, or once it is not.

    A daemon thread checks every ``WATCHDOG_S`` seconds (between the
    interpreter's bytecodes: a long stretch of C++ holding the interpreter
    lock delays it, the parent-death signal does not wait).
    """
    if os.getppid() != parent_pid:  # the parent died before we could watch it
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True,
                     name="bngfit-parent-watchdog").start()


def _watch(parent_pid: int) -> None:
    """The watchdog thread: exit once ``parent_pid`` is no longer the parent."""
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_S)
    os._exit(1)  # the parent is gone: nobody will read this worker's result


def redirect_output(solver_log: str | None) -> None:
    """Point file descriptors 1 and 2 at ``solver_log`` (appending).

    Without a solver log only fd 1 is pointed at fd 2, so the standard output
    of the run carries nothing but what the run itself prints.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    if solver_log:
        try:
            fd = os.open(solver_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:  # the log is a convenience: never fail a worker for it
            log.warning("solver log %s cannot be written (%s); solver messages go to "
                        "standard error", solver_log, err)
        else:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            return
    try:
        os.dup2(2, 1)
    except OSError:  # no standard error (a daemon's parent closed it): discard instead
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)


def limit_threads() -> None:
    """A worker's threads: BLAS one (:func:`limit_blas_threads`), an evaluation one.

    A fit's workers take the cores, one start each: an evaluation spreading its
    experiments over threads (:mod:`bngfit.objective._lanes`) would only compete
    with the other workers. ``BNGFIT_THREADS`` set by the user is kept.
    """
    limit_blas_threads()
    os.environ.setdefault(THREADS, "1")


def limit_blas_threads() -> None:
    """Let this process's BLAS (OpenBLAS, MKL, ...) use one thread.

    A forked worker inherits the parent's BLAS with one thread per core, so
    ``k`` workers run ``k`` times as many BLAS threads as there are cores, and
    OpenBLAS threads busy-wait between calls, which can double a fit's wall
    time; the small matrices of a local optimization gain nothing from threads.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
