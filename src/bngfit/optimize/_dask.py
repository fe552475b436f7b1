"""The Dask engine: tasks on a running Dask scheduler, or on a local cluster.

A local cluster's workers are set up like the process pool's (standard output
and error into the solver log, one BLAS thread, a watchdog on the parent) by a
worker plugin, so a worker the nanny restarts is set up too. A remote
cluster's workers only get the one BLAS thread: their output is theirs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bngfit.errors import InputError, MissingExtraError

from ._progress import Report, set_sender
from ._workers import limit_threads, redirect_output, watch_parent

if TYPE_CHECKING:  # an optional extra, imported where it is used
    from distributed import Client, Worker
    from distributed.diagnostics.plugin import WorkerPlugin

log = logging.getLogger(__name__)

CONNECT_S = 10  # seconds to reach a given scheduler before giving up
#: The Dask event topic of running starts' progress reports.
PROGRESS_TOPIC = "bngfit-progress"
POLL_S = 0.1  # how often the run's process looks for reports while no start finishes


def run_dask(fn: Callable, tasks: list, n: int, scheduler: str | None,
             solver_log: str | None = None,
             lost: Callable[[object, str], object] | None = None,
             progress: Callable[[Report], None] | None = None) -> Iterator:
    """Apply ``fn`` to ``tasks`` on Dask; yield results as they finish.

    Parameters
    ----------
    fn, tasks
        As in :func:`bngfit.optimize._executors.run_unordered`.
    n : int
        Workers of a local cluster.
    scheduler : str, optional
        Address of a running scheduler; without it a local cluster is started.
    solver_log : str, optional
        File receiving a local worker's standard output and error.
    lost : callable, optional
        ``lost(task, message)`` gives the result of a task whose workers kept
        dying (Dask's ``KilledWorker``); without it the error is raised.
    progress : callable, optional
        Receives the progress reports of running tasks: workers log them as
        Dask events (:data:`PROGRESS_TOPIC`), which the scheduler passes to
        this client; they are handed to ``progress`` in this thread.

    Raises
    ------
    MissingExtraError
        dask.distributed is not installed.
    InputError
        The scheduler cannot be reached within ``CONNECT_S`` seconds.
    """
    try:
        from distributed import Client, KilledWorker, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise MissingExtraError(
            "the Dask engine needs dask.distributed; install it with: "
            "pip install 'bngfit[dask]'") from None
    cluster = None
    if scheduler:
        check_scheduler(scheduler)
        client = connect(Client, scheduler)
    else:
        with warnings.catch_warnings():
            # Dask moves its nanny's port when the default is taken: news, not trouble.
            warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        if cluster is not None:
            client.register_plugin(local_worker_setup(solver_log), name="bngfit-local-worker")
        client.run(limit_threads)  # remote workers too (see limit_threads)
        reports: queue.SimpleQueue | None = None
        if progress is not None:
            reports = queue.SimpleQueue()
            client.register_plugin(progress_sender(), name="bngfit-progress")
            # the handler runs in the client's event-loop thread: only queue there
            client.subscribe_topic(PROGRESS_TOPIC, lambda event: reports.put(event[1]))
        futures = client.map(fn, tasks, pure=False)
        task_of = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in _completed(dask_completed(futures), reports, progress):
            try:
                yield fut.result()
            except KilledWorker:
                if lost is None:
                    raise
                # Dask retried the task on other workers, which died too.
                yield lost(task_of[fut.key], "worker process died (on every Dask worker "
                                             "that tried the task)")
    finally:
        if progress is not None and cluster is None:
            # a running scheduler keeps plugins for later clients: take ours back
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin("bngfit-progress")
        client.close()
        if cluster is not None:
            cluster.close()


def _completed(finished: Iterator, reports: queue.SimpleQueue | None,
               progress: Callable[[Report], None] | None) -> Iterator:
    """Dask's finished futures; meanwhile, queued progress reports go to ``progress``."""
    if reports is None or progress is None:
        yield from finished
        return

    def deliver() -> None:
        while True:
            try:
                report = reports.get_nowait()
            except queue.Empty:
                return
            progress((int(report[0]), int(report[1]), float(report[2])))

    while not finished.is_empty():
        if finished.has_ready():
            fut = next(finished)
            deliver()  # a start's reports before its end
            yield fut
        else:
            deliver()
            time.sleep(POLL_S)


def progress_sender() -> WorkerPlugin:
    """A worker plugin: the worker's running starts send their reports as Dask events."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class ProgressSender(WorkerPlugin):
        """Reports of running starts as events of :data:`PROGRESS_TOPIC`."""

        def setup(self, worker: Worker) -> None:  # runs in the worker process
            # log_event is safe from a task's thread; lists survive msgpack
            set_sender(lambda report: worker.log_event(PROGRESS_TOPIC, list(report)))

        def teardown(self, worker: Worker) -> None:
            set_sender(None)

    return ProgressSender()


PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")  # what Dask's comm layer speaks


def parse_scheduler(address: str) -> tuple[str, str, int]:
    """``(protocol, host, port)`` of a Dask scheduler address; tcp when none is given.

    Raises
    ------
    InputError
        For anything but ``[PROTOCOL://]HOST:PORT`` with one of Dask's protocols
        and a port from 1 to 65535.
    """
    scheme, sep, rest = address.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", address.strip()
    host, colon, port = rest.rstrip("/").rpartition(":")
    host = host.strip("[]")  # an IPv6 literal
    if scheme not in PROTOCOLS or not colon or not host or any(c.isspace() for c in host) \
            or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"not a Dask scheduler address: use PROTOCOL://HOST:PORT, e.g. "
                         f"tcp://127.0.0.1:8786 (protocols: {', '.join(PROTOCOLS)}; "
                         "ports 1 to 65535)", value=address)
    return scheme, host, int(port)


def check_scheduler(address: str) -> None:
    """Refuse a scheduler address that is malformed or, for TCP, refuses connections.

    A plain TCP connection is tried (at most ``CONNECT_S`` seconds): a refused
    or unroutable address fails at once instead of after Dask's own retries,
    and before a fit has created its store. Other protocols are only parsed.

    Raises
    ------
    InputError
        Naming the address and what to do.
    """
    import socket

    scheme, host, port = parse_scheduler(address)
    if scheme not in ("tcp", "ws"):
        return
    try:
        socket.create_connection((host, port), timeout=CONNECT_S).close()
    except OSError as err:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({err.strerror or err}); check "
            "the address and that the scheduler and its workers run (dask scheduler; dask "
            "worker ADDRESS), or leave out --scheduler to run a local cluster",
            value=address) from None


def connect(client_cls: type[Client], address: str) -> Client:
    """A client of the scheduler at ``address`` (InputError if it cannot be reached)."""
    try:
        return client_cls(address, timeout=f"{CONNECT_S}s")
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_S} s ({err}); "
            "check the address (tcp://HOST:PORT) and that the scheduler and its workers run "
            "(dask scheduler; dask worker ADDRESS), or leave out --scheduler to run a local "
            "cluster", value=address) from None


def local_worker_setup(solver_log: str | None) -> WorkerPlugin:
    """A worker plugin that sets up each worker of a local cluster as it starts.

    Parameters
    ----------
    solver_log : str, optional
        File receiving the worker's standard output and error.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class LocalWorkerSetup(WorkerPlugin):
        """Output into the solver log, one BLAS thread, a watchdog on the parent."""

        def setup(self, worker: Worker) -> None:  # runs in the worker process
            redirect_output(solver_log)
            limit_threads()
            # A watchdog only: the parent-death signal fires when the forking
            # *thread* ends, and Dask starts its workers from threads of its own.
            parent = os.getppid()
            if parent != 1:
                watch_parent(parent)

    return LocalWorkerSetup()
