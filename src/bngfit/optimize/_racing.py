"""Racing starts: each start also tries a few other points briefly, and continues the best.

A plain multistart spends a whole local optimization on every start point. On a
problem where most of the start distribution drains into poor basins, most of
that work is wasted. A race gives each start ``candidates - 1`` further points, drawn from
the same start distribution: each gets a short run of ``budget`` evaluations
with the same optimizer. The start point's own run goes to convergence as in a
plain start; a candidate whose short run already ends below that value is
heading for a lower basin, and the lowest such candidate is continued to
convergence and reported instead:

- a raced start never ends above the plain start from the same point (its
  first evaluations are the plain start's);
- short runs separate basins well once the first wild steps are over, so the
  chance that a start reaches the best basin rises from ``p`` towards
  ``1 - (1 - p)**candidates``.

When the own run and the first short runs (:data:`AGREE` in all) end at the
same value (within :data:`AGREE_TOL`), they went into the same basin: the
problem looks unimodal from here, and the race stops early with the own run,
so easy problems pay the plain run and two short ones per start.

Every sampled start races :attr:`Race.candidates` = 5 candidates by default
(``fit(..., race=1)``, ``bngfit fit --race 1``: the plain multistart); what
races gain on multimodal problems, and cost, is measured by
``bench/fit_boehm.py`` (numbers in the README's Benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.errors import InputError
from bngfit.result._types import StartStatus

from ._local import Counted, LocalResult, OptimizerName, minimize, with_budget

AGREE = 3  # first candidates whose short runs, ending at one value, end a race
AGREE_TOL = 0.01  # their spread in fval (a negative log-likelihood), like n_converged
RACE_STREAM = 1  # third word of a start's candidate seed [seed, index, RACE_STREAM]


@dataclass(frozen=True)
class Race:
    """How each start races its candidates (the defaults: the setting measured).

    Attributes
    ----------
    candidates : int
        Candidate points per start, the start point included; 1 is the plain
        multistart (one local optimization from the start point).
    budget : int
        Objective evaluations of each candidate's short run.
    """

    candidates: int = 5
    budget: int = 35

    @property
    def plain(self) -> bool:
        """Whether this is the plain multistart (no race)."""
        return self.candidates <= 1


def check_race(candidates: int, budget: int) -> Race:
    """The race settings, checked (InputError naming the bad value)."""
    for name, value, least in (("race candidates", candidates, 1), ("race budget", budget, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InputError(f"the {name} must be an integer of at least {least}",
                             value=repr(value))
    return Race(int(candidates), int(budget))


def candidate_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of one start's candidates.

    It depends on the run's seed and the start's index alone, so every engine
    draws the same candidates.
    """
    return np.random.default_rng([seed, index, RACE_STREAM])


def run_race(counted: Counted, x0: np.ndarray, points: np.ndarray, lb: np.ndarray,
             ub: np.ndarray, optimizer: OptimizerName, options: dict,
             race: Race) -> tuple[int, LocalResult, str]:
    """Run ``x0`` to convergence, race drawn points against where it ended.

    The start point's own run is the plain start's, to convergence. The other
    candidates get short runs of ``race.budget`` evaluations; the lowest of
    those that end below the own run's value is continued to convergence and
    reported instead. So a raced start never ends above the plain start from
    the same point.

    Parameters
    ----------
    counted : Counted
        The start's counter; every evaluation of every candidate is added to
        it, in order (its last evaluation may be the one at ``x0``).
    x0 : ndarray, shape (n_x,)
        The start point, the first candidate.
    points : ndarray, shape (race.candidates - 1, n_x)
        The further candidates, in the order they race.
    lb, ub : ndarray, shape (n_x,)
    optimizer : OptimizerName
    options : dict
        The optimizer's options (the short runs get a lowered budget).
    race : Race

    Returns
    -------
    int
        Which candidate's run is reported: 0 the start point, ``i`` ``points[i - 1]``.
    LocalResult
        The end of that run.
    str
        A note for the start's message.
    """
    # The start point was evaluated while vetting it: reuse that evaluation.
    own = counted.fork(counted.last)
    own_local, _ = minimize(own, x0, lb, ub, optimizer, options)
    counted.merge(own)
    # The mark a candidate must beat: where the start point's own run ended
    # (a short run already below it is heading for a lower basin).
    entry = np.inf if own.best is None else own.best.fval
    short = with_budget(optimizer, options, race.budget)
    ends = [entry]
    winner = None  # (candidate number, its counter, its short result)
    n_run = 1
    agreed = False
    for k, x in enumerate(points, start=2):
        run = counted.fork()
        local, _ = minimize(run, x, lb, ub, optimizer, short)
        counted.merge(run)
        n_run = k
        if run.best is None:
            continue  # the model fails at this candidate: it drops out
        ends.append(run.best.fval)
        if run.best.fval < min(entry, np.inf if winner is None else winner[1].best.fval):
            winner = (k, run, local)
        if _agree(ends):
            agreed = True
            break
    note = f"race of {n_run} candidates"
    if counted.allowance is not None and counted.allowance.stopped:
        note += f", cut short by {counted.allowance.stopped}"
    if agreed:
        note += f" (stopped early: the first {n_run} reached one value)"
    if own.best is None and winner is None:
        if counted.allowance is not None and counted.allowance.stopped:
            return 0, LocalResult(x0, StartStatus.MAX_ITER, "nothing evaluated"), note + "; "
        return 0, LocalResult(x0, StartStatus.ERROR, "the objective fails along the start "
                                                     "point's run"), note + "; "
    if winner is None or (agreed and own.best is not None):
        # Nothing ended lower, or all went into one basin: the own run, converged, stands.
        return 0, own_local, note + ": the start point's own run won; "
    k, run, local = winner
    if local.status is not StartStatus.CONVERGED:
        # Continue from the winner's best point, already evaluated and counted.
        cont = counted.fork(run.best)
        local, _ = minimize(cont, run.best.x, lb, ub, optimizer, options)
        counted.merge(cont)
    return k - 1, local, note + f": candidate {k} won; "


def _agree(ends: list[float]) -> bool:
    """Whether the first AGREE candidates (the own run, then short runs) ended at one value."""
    if len(ends) != AGREE:
        return False
    return max(ends) - min(ends) <= AGREE_TOL
