"""The retry ladder: a start the ODE solver kills is run again at looser settings.

From a wild start point the solver may fail at every point the optimizer
tries (too tight an absolute tolerance for states that pass through ~0, or
too few internal steps for a stiff transient): the start ends with status
``error`` and nothing to show. Such a start is retried, from the same start
point and with the same race, one :data:`LADDER` step after another until one
runs:

1. the absolute tolerance 100 times looser;
2. that, and 10 times the internal steps per output interval.

Every step taken is recorded in the start's message. The start's end point is
then evaluated again at the run's own settings, so the value reported (and
compared with the other starts) is the run's; where that evaluation fails the
looser value is kept, and the message says so. A start that raised (a bug,
with a traceback) is not retried: looser settings do not fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bngfit.objective._hierarchical import Space
from bngfit.objective._objective import Objective
from bngfit.result._types import StartResult, StartStatus

#: bngsim's default internal steps per output interval (``Simulator.set_max_steps``).
BNGSIM_MAX_STEPS = 10_000
#: The run's absolute tolerance where its settings give none (the Objective's default).
DEFAULT_ATOL = 1e-10


@dataclass(frozen=True)
class LadderStep:
    """One step of the ladder: factors on the run's absolute tolerance and step limit."""

    atol_factor: float
    steps_factor: int = 1

    def apply(self, objective_opts: dict) -> dict:
        """The objective settings of this step, from the run's."""
        out = dict(objective_opts)
        out["atol"] = float(objective_opts.get("atol", DEFAULT_ATOL)) * self.atol_factor
        if self.steps_factor != 1:
            steps = objective_opts.get("max_steps") or BNGSIM_MAX_STEPS
            out["max_steps"] = int(steps) * self.steps_factor
        return out

    def describe(self, objective_opts: dict) -> str:
        """What the step changes, in words."""
        opts = self.apply(objective_opts)
        text = f"atol {opts['atol']:g}"
        if "max_steps" in opts and opts.get("max_steps") != objective_opts.get("max_steps"):
            text += f" and {opts['max_steps']} steps per output interval"
        return text


#: The steps, in order.
LADDER = (LadderStep(1e2), LadderStep(1e2, 10))


def laddered_result(first: StartResult, retry: StartResult, step: LadderStep,
                    objective: Objective, space: Space) -> StartResult:
    """The start's result after the retry ``retry`` at ``step``.

    Parameters
    ----------
    first : StartResult
        The start so far (failed: status ``error``).
    retry : StartResult
        The same start run on the step's objective. Its ``wall_s`` counts from
        the start's beginning (both runs share one clock).
    step : LadderStep
    objective : Objective
        The run's own objective (its settings: ``objective.settings``).
    space : Space
        The run's optimizer coordinates on ``objective``.

    Returns
    -------
    StartResult
        Evaluations, traces and objective time of both runs; the retry's end,
        its value and gradient norm at the run's settings where they can be
        computed.
    """
    opts = {"atol": objective.settings.atol, "max_steps": objective.settings.max_steps}
    where = step.describe(opts)
    merged = replace(retry, n_fval=first.n_fval + retry.n_fval,
                     trace=np.concatenate([first.trace, retry.trace]),
                     eval_s=first.eval_s + retry.eval_s)
    head = f"{first.message}; retried at {where}: "
    if retry.status is StartStatus.ERROR:
        return replace(merged, message=head + retry.message)
    ev = space.objective(space.reduce(retry.x), sensi=1)
    if not ev.ok:
        return replace(merged, message=head + retry.message + "; its value at the run's "
                       f"own tolerances could not be computed ({ev.message[:200]}): the "
                       "value is the looser one")
    end = space.full(ev)
    return replace(merged, x=end.x, fval=end.fval, grad_norm=float(np.linalg.norm(end.grad)),
                   message=head + retry.message + "; value at the run's own tolerances")
