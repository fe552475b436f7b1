"""Racing starts: each start tries several candidate points briefly, then continues the best.

A plain multistart spends a whole local optimization on every start point. On a
problem where most of the start distribution drains into poor basins (Boehm et
al. 2014: about 95% of uniform starts end on plateaus with a rate at its bound)
most of that work is wasted. A race spends a short budget of ``budget``
evaluations on each of ``candidates`` points drawn from the same start
distribution, with the same optimizer, and continues only the candidate with
the lowest objective value to convergence. Short runs separate the basins well
once the first wild steps are over (on Boehm, after 30 evaluations the runs
bound for the global optimum are the lowest ones), so the chance that a start
reaches the best basin rises from ``p`` to about ``1 - (1 - p)**candidates``
for about ``candidates * budget`` evaluations plus one local run.

When the short runs of the first :data:`AGREE` candidates all end at the same
value (within :data:`AGREE_TOL`), they went into the same basin: the problem
looks unimodal from here, and the race stops early, so easy problems pay a few
local runs per start, not ``candidates`` of them. (On Boehm, three short runs
agree in about one race of 400.)

Every sampled start races :attr:`Race.candidates` = 5 candidates by default
(``fit(..., race=1)``, ``bngfit fit --race 1``: the plain multistart). Measured
with 10 starts, seed 0, noise parameters in closed form (:mod:`bngfit.hierarchical`):

- Boehm et al. 2014: starts reaching the optimum, plain -> race 5,
  least_squares 3/10 -> 6/10 and fides 2/10 -> 5/10, for 2-5 times the
  evaluations (25 candidates: fides 6/10 for 3x more again);
- Perelson 1996: 4/10 -> 8/10 (least_squares), 2/10 -> 6/10 (fides);
- PyBNF constraint demo (fides): 4/10 -> 9/10;
- unimodal problems (the conversion example, PyBNF demo): 10/10 either way,
  the race stopping after three agreeing short runs: 2.5-3.5 times the
  evaluations of a plain start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .optimizers import Counted, LocalResult, OptimizerName, minimize, with_budget
from .results import StartStatus

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
    """The generator of one start's candidates: the run's seed and the start's index
    alone, so every engine draws the same candidates."""
    return np.random.default_rng([seed, index, RACE_STREAM])


def run_race(counted: Counted, x0: np.ndarray, draw: Callable[[int], np.ndarray],
             lb: np.ndarray, ub: np.ndarray, optimizer: OptimizerName, options: dict,
             race: Race) -> tuple[np.ndarray, LocalResult, str]:
    """Race ``x0`` and ``race.candidates - 1`` drawn points; continue the winner.

    Parameters
    ----------
    counted : Counted
        The start's counter; every evaluation of every candidate is added to
        it, in order (its last evaluation may be the one at ``x0``).
    x0 : ndarray, shape (n_x,)
        The start point, the first candidate.
    draw : callable
        ``draw(n)`` returns ``n`` further candidates, shape (n, n_x).
    lb, ub : ndarray, shape (n_x,)
    optimizer : OptimizerName
    options : dict
        The optimizer's options (the short runs get a lowered budget).
    race : Race

    Returns
    -------
    x0 : ndarray
        The winning candidate's start point.
    LocalResult
        The end of the winner's run.
    str
        A note for the start's message.
    """
    points = np.vstack([x0, draw(race.candidates - 1)])
    short = with_budget(optimizer, options, race.budget)
    winner, ends = None, []  # winner: (candidate, its counter, its short result)
    for k, x in enumerate(points):
        # The first candidate's start was evaluated while vetting x0: reuse it.
        run = counted.fork(counted.last if k == 0 else None)
        local, _ = minimize(run, x, lb, ub, optimizer, short)
        counted.merge(run)
        if run.best is None:
            continue  # the model fails at this candidate: it drops out
        ends.append(run.best.fval)
        if winner is None or run.best.fval < winner[1].best.fval:
            winner = (k, run, local)
        if _agree(ends):
            break
    n_run = k + 1
    if winner is None:
        return x0, LocalResult(x0, StartStatus.ERROR, "the objective fails at every race "
                                                      "candidate"), ""
    k, run, local = winner
    note = f"race: candidate {k + 1} of {n_run} won"
    if n_run < len(points):
        note += f" (stopped early: the first {n_run} reached one value)"
    if local.status is not StartStatus.CONVERGED:
        # Continue from the winner's best point, already evaluated and counted.
        cont = counted.fork(run.best)
        local, _ = minimize(cont, run.best.x, lb, ub, optimizer, options)
        counted.merge(cont)
    return points[k], local, note + "; "


def _agree(ends: list[float]) -> bool:
    """Whether the short runs of the first AGREE candidates ended at one value."""
    if len(ends) != AGREE:
        return False
    return max(ends) - min(ends) <= AGREE_TOL
