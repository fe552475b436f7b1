"""Progress of a fit while its starts run: events, their sources, and a progress bar.

A start can take minutes (a race of several local runs on a large model), so
reporting only finished starts leaves a bar at 0 for a long time. Progress is
therefore reported from inside the starts:

- where a start runs, each objective evaluation is noted (:class:`Reporting`
  wraps the start's objective); at most every :data:`PROGRESS_S` seconds (and
  at a start's first evaluation) a small message ``(start index, evaluations
  so far, best fval so far)`` goes to the run's process: directly in the
  sequential engine, over the worker's pipe in the process pool
  (:mod:`bngfit.optimize._pool`), as a Dask event (``Worker.log_event``, topic
  :data:`bngfit.optimize._dask.PROGRESS_TOPIC`) on Dask.
- in the run's process a :class:`ProgressTracker` adds them up with the
  finished starts and calls the user's callback with a :class:`FitProgress`.
- :class:`ProgressBar` draws the events with tqdm (``tqdm.auto``: a widget in a
  notebook); ``bngfit.fit(..., progress=True)`` and ``bngfit fit`` use it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from bngfit.result._types import StartResult

log = logging.getLogger(__name__)

#: Seconds between two progress messages of one running start (its first
#: evaluation is always reported).
PROGRESS_S = 0.5


@dataclass(frozen=True)
class FitProgress:
    """Where a fit stands: what a progress callback receives.

    Attributes
    ----------
    n_starts : int
        Starts of the run.
    n_done : int
        Starts finished, those of a resumed store included.
    n_fval : int
        Objective evaluations so far over all starts: the finished starts'
        (as their results count them) plus those reported by running starts.
        After the last start it equals the result's ``FitResult.n_fval``.
    best_fval : float
        Lowest fval seen so far, in finished starts and in running starts'
        evaluations (``inf`` before any valid evaluation).
    elapsed_s : float
        Wall seconds since this session's fit began.
    running : int
        Starts that have reported evaluations and not finished yet.
    finished : StartResult or None
        The start whose end this event reports; None for an update from
        running starts.
    """

    n_starts: int
    n_done: int
    n_fval: int
    best_fval: float
    elapsed_s: float
    running: int = 0
    finished: StartResult | None = None


#: What a running start reports: (start index, evaluations so far, best fval so far).
Report = tuple[int, int, float]


class ProgressTracker:
    """Adds up finished and running starts; calls ``callback`` with each new state.

    Parameters
    ----------
    callback : callable
        ``callback(FitProgress)``. If it raises, a warning is logged with the
        traceback and it is not called again (the fit goes on).
    n_starts : int
        Starts of the run.
    stored : sequence of StartResult
        Starts finished before this session (a resumed store).
    t0 : float, optional
        ``time.perf_counter()`` at the start of the session; default now.
    """

    def __init__(self, callback: Callable[[FitProgress], None], n_starts: int,
                 stored: Sequence[StartResult] = (), t0: float | None = None) -> None:
        self.callback: Callable[[FitProgress], None] | None = callback
        self.n_starts = n_starts
        self.t0 = time.perf_counter() if t0 is None else t0
        self.n_done = len(stored)
        self.done_fval = sum(s.n_fval for s in stored)
        self.best = min((s.fval for s in stored if np.isfinite(s.fval)), default=np.inf)
        self.live: dict[int, int] = {}  # running start index -> its evaluations so far
        self.ended: set[int] = set()  # a late report of these (Dask's events) is dropped

    def _emit(self, finished: StartResult | None) -> None:
        if self.callback is None:
            return
        event = FitProgress(
            self.n_starts, self.n_done, self.done_fval + sum(self.live.values()),
            float(self.best), time.perf_counter() - self.t0, len(self.live), finished)
        try:
            self.callback(event)
        except Exception:  # noqa: BLE001 - a display must not cost the fit its starts
            # (called inside a running start, its error would end that start)
            log.warning("the progress callback raised; it is not called again in this "
                        "fit", exc_info=True)
            self.callback = None

    def running(self, report: Report) -> None:
        """A running start's report (:data:`Report`)."""
        index, n_fval, best = report
        if int(index) in self.ended:
            return
        self.live[int(index)] = int(n_fval)
        if best < self.best:
            self.best = float(best)
        self._emit(None)

    def finished(self, result: StartResult) -> None:
        """A start has finished (its result replaces what it reported while running)."""
        self.live.pop(result.index, None)
        self.ended.add(result.index)
        self.n_done += 1
        self.done_fval += int(result.n_fval)
        if np.isfinite(result.fval) and result.fval < self.best:
            self.best = float(result.fval)
        self._emit(result)


# ------------------------------------------------- where the starts run
_sender: Callable[[Report], None] | None = None


def set_sender(send: Callable[[Report], None] | None) -> None:
    """Where this process's running starts send their reports (None: nowhere).

    The sequential engine sets the tracker's :meth:`ProgressTracker.running`
    while its starts run; a pool worker sets a send over its pipe.
    """
    global _sender
    _sender = send


@dataclass
class _Counts:
    index: int = -1
    n_fval: int = 0
    best: float = np.inf
    sent: float = -np.inf  # time.perf_counter() of the last report


# per thread: a Dask worker may run several starts at once in threads
_local = threading.local()


def begin_start(index: int) -> None:
    """Count the evaluations of start ``index`` from zero (every attempt of it adds up)."""
    _local.counts = _Counts(index)


class Reporting:
    """An objective that notes each evaluation for the progress of its start.

    Everything but the call is the wrapped objective's (``x_names``,
    ``has_residuals``, ...), so optimizers see no difference.

    Parameters
    ----------
    objective : callable
        ``objective(x, sensi) -> Evaluation``.
    """

    def __init__(self, objective: Any) -> None:
        self._objective = objective

    def __getattr__(self, name: str) -> Any:
        return getattr(self._objective, name)

    def __call__(self, x: np.ndarray, sensi: int = 1) -> Any:
        """Evaluate, count, and report when :data:`PROGRESS_S` has passed."""
        ev = self._objective(x, sensi)
        c = getattr(_local, "counts", None)
        if c is None:  # not inside a start (run_start sets it up)
            return ev
        c.n_fval += 1
        if ev.ok and ev.fval < c.best:
            c.best = float(ev.fval)
        now = time.perf_counter()
        if _sender is not None and (c.n_fval == 1 or now - c.sent >= PROGRESS_S):
            c.sent = now
            _sender((c.index, c.n_fval, c.best))
        return ev


# ----------------------------------------------------------- the bar
class ProgressBar:
    """A tqdm bar of finished starts with ``evals=... best=...``; a progress callback.

    Parameters
    ----------
    total : int
        Starts of the run.
    initial : int
        Starts already finished (a resumed store).
    file : file object, optional
        Where a terminal bar is drawn (default: tqdm's, standard error).
    notebook : bool
        Use ``tqdm.auto`` (a widget in a notebook, text elsewhere); False: the
        plain text bar (the command line).
    unit : str
        What is counted (``start``; a bootstrap's ``replicate``).
    """

    def __init__(self, total: int, initial: int = 0, *, file: IO[str] | None = None,
                 notebook: bool = True, unit: str = "start") -> None:
        # imported here: tqdm costs ~80 ms, and only a bar needs it
        from tqdm import tqdm as std_tqdm
        from tqdm.auto import tqdm as auto_tqdm

        cls = auto_tqdm if notebook else std_tqdm
        # no monitor thread: worker processes are forked while the bar exists
        std_tqdm.monitor_interval = 0
        cls.monitor_interval = 0
        self.bar = cls(total=total, initial=initial, unit=unit, file=file,
                       dynamic_ncols=True)

    def __call__(self, event: FitProgress) -> None:
        """Draw ``event``."""
        best = f"{event.best_fval:.6g}" if np.isfinite(event.best_fval) else "-"
        self.bar.n = event.n_done
        self.bar.set_postfix_str(f"evals={event.n_fval} best={best}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        """Close the bar (leaves the last state on screen)."""
        self.bar.close()


__all__ = ["PROGRESS_S", "FitProgress", "ProgressBar", "ProgressTracker", "Reporting",
           "begin_start", "set_sender"]
