"""Per-start limits on objective evaluations and wall time, and the record of failures.

A start's limits (:class:`StartLimits`, ``--max-evals`` / ``--max-start-time``)
hold for the whole start: every race candidate's run and the continuation of
the winner draw on one :class:`Allowance`. When it is spent, the next
evaluation raises :class:`LimitReached` inside the optimizer; the local run
then ends at the best point evaluated so far with status ``max_iter`` and
says which limit stopped it (:func:`bngfit.optimize._local.minimize`).

:class:`FailureLog` keeps why evaluations failed during a start (the
objective's own message, counted per distinct reason), so a start's message
says what went wrong at the points the optimizer rejected.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from bngfit.errors import InputError

#: Distinct reasons of failed evaluations a start's message lists (the rest counted).
SHOWN_REASONS = 3


@dataclass(frozen=True)
class StartLimits:
    """Limits of one start (None: no limit).

    Attributes
    ----------
    max_evals : int or None
        Objective evaluations of the whole start, race candidates included.
    max_seconds : float or None
        Wall seconds of the whole start. Checked before each evaluation: a
        start may exceed it by one evaluation.
    """

    max_evals: int | None = None
    max_seconds: float | None = None

    @property
    def unlimited(self) -> bool:
        """Whether neither limit is set."""
        return self.max_evals is None and self.max_seconds is None


def check_limits(max_evals: object, max_seconds: object) -> StartLimits:
    """The limits, checked (InputError naming the bad value)."""
    if max_evals is not None and (isinstance(max_evals, bool) or
                                  not isinstance(max_evals, int) or max_evals < 1):
        raise InputError("the evaluation limit of a start (max_evals) must be a whole "
                         "number of at least 1", value=repr(max_evals))
    if max_seconds is not None:
        ok = not isinstance(max_seconds, bool) and isinstance(max_seconds, int | float)
        if not ok or not max_seconds > 0 or max_seconds == float("inf"):
            raise InputError("the time limit of a start (max_start_time) must be a finite "
                             "number of seconds above 0", value=repr(max_seconds))
        max_seconds = float(max_seconds)
    return StartLimits(max_evals, max_seconds)


class LimitReached(Exception):  # noqa: N818 - a signal, not an error
    """Raised at an evaluation the start's limits do not allow any more."""


@dataclass
class Allowance:
    """What is left of one start's limits; shared by every run of the start."""

    limits: StartLimits
    t0: float = field(default_factory=time.perf_counter)
    used: int = 0
    #: Which limit stopped the start (None while it runs within them).
    stopped: str | None = None

    def charge(self) -> None:
        """Count one evaluation, or raise :class:`LimitReached` if none is left."""
        lim = self.limits
        if lim.max_evals is not None and self.used >= lim.max_evals:
            self.stopped = f"the start's limit of {lim.max_evals} evaluations (max_evals)"
        elif lim.max_seconds is not None and time.perf_counter() - self.t0 >= lim.max_seconds:
            self.stopped = f"the start's time limit of {lim.max_seconds:g} s (max_start_time)"
        if self.stopped is not None:
            raise LimitReached(f"stopped at {self.stopped}")
        self.used += 1


@dataclass
class FailureLog:
    """Why evaluations of one start failed: count per distinct reason, in first-seen order."""

    counts: collections.Counter = field(default_factory=collections.Counter)

    def add(self, message: str) -> None:
        """Record one failed evaluation with the objective's message."""
        self.counts[" ".join(message.split())[:300]] += 1

    @property
    def total(self) -> int:
        """Failed evaluations recorded."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One sentence for the start's message ('' when nothing failed)."""
        if not self.counts:
            return ""
        shown = list(self.counts.items())[:SHOWN_REASONS]
        parts = [f"{n} x {why}" for why, n in shown]
        rest = len(self.counts) - len(shown)
        more = f"; and {rest} other reason(s)" if rest else ""
        return f"; {self.total} evaluation(s) failed: " + "; ".join(parts) + more
