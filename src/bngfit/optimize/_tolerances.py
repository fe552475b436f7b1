"""The ODE tolerances of a fit, chosen per problem where the user gives none.

bngsim's CVODE controls the error of the states and, in a sensitivity run, of
the sensitivities too: the two runs take different steps, so at a loose
tolerance a value computed with sensitivities differs from the same value
computed without them, and a gradient differs from the one a tighter solve
gives. On the benchmark collection at rtol 1e-8 / atol 1e-10, values differ
by up to 2e-5 relative (Fiedler 2016) and gradients near an optimum by more
than 100% (Crauste 2017).

:func:`choose_tolerances` takes the loosest step of :data:`STEPS` at which,
at every probe point (the nominal point, and :data:`N_DRAWN` points around it,
each coordinate moved by up to :data:`SPREAD` on the optimizer's scale, drawn
with a fixed seed: the same choice for the same problem every time; accuracy
matters most near an optimum, and the nominal point often is one):

- the value with and without sensitivities agree to :data:`VALUE_RTOL`
  relative (of ``max(1, |fval|)``);
- every gradient entry not ~0 (``|g| > GRAD_ZERO``: a change of the
  objective below 0.01 per unit of the optimizer's coordinate, a hundredth of
  a decade on log10 parameters, means nothing statistically) agrees to
  :data:`GRAD_RTOL` relative with the gradient of a solve 100 times tighter.

Where no step passes both, the gradient criterion is out of reach of these
steps (on Crauste 2017 the nominal point lies where a small step makes the
model fail, and its gradient entries change sign from one step to the next):
tightening buys nothing there, so the loosest step at which the values agree
is taken (the tightest if none), and the reason says what still differs.
Tolerances the user gives (``--rtol``/``--atol``, ``objective_opts``) are used
as given, and a resumed run keeps its stored ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.objective._objective import Objective
from bngfit.problem._problem import Problem

log = logging.getLogger(__name__)

#: (rtol, atol) steps, loosest first; the first is the Objective's own default.
STEPS = ((1e-8, 1e-10), (1e-9, 1e-11), (1e-10, 1e-12))
#: The reference solve is this much tighter than the step it checks.
REFERENCE_FACTOR = 100.0
VALUE_RTOL = 1e-6
GRAD_RTOL = 1e-3
GRAD_ZERO = 1e-2
#: Points drawn around the nominal point, how far, and their seed.
N_DRAWN = 2
SPREAD = 0.3
PROBE_SEED = 20261207


@dataclass(frozen=True)
class ToleranceChoice:
    """The tolerances of a run and why.

    Attributes
    ----------
    rtol, atol : float
    reason : str
        How they were chosen (given by the user, kept from the stored run, or
        what the probe found).
    """

    rtol: float
    atol: float
    reason: str

    def as_dict(self) -> dict:
        """The record kept with the run."""
        return {"rtol": self.rtol, "atol": self.atol, "chosen": self.reason}


def probe_points(problem: Problem) -> list[np.ndarray]:
    """The nominal point and the ones drawn around it, inside the bounds, optimizer space."""
    lb, ub = np.asarray(problem.lb, float), np.asarray(problem.ub, float)
    x0 = np.asarray(problem.x_nominal, float)
    rng = np.random.default_rng(PROBE_SEED)
    drawn = [x0 + rng.uniform(-SPREAD, SPREAD, x0.size) for _ in range(N_DRAWN)]
    return [np.clip(x, lb, ub) for x in (x0, *drawn)]


#: What :func:`_disagreement` says of a point where the model fails (it says
#: nothing about accuracy).
NOT_EVALUATED = "not evaluated"


def _disagreement(obj: Objective, ref: Objective, x: np.ndarray) -> str | None:
    """Why ``obj`` is not accurate enough at ``x`` (None: it is; :data:`NOT_EVALUATED`).

    Raises
    ------
    UnsupportedError
        bngsim cannot differentiate the model (the same at every point).
    """
    plain, sens = obj(x, sensi=0), obj(x, sensi=1)
    if not (plain.ok and sens.ok):
        return NOT_EVALUATED
    scale = max(1.0, abs(sens.fval))
    dv = abs(plain.fval - sens.fval) / scale
    if dv > VALUE_RTOL:
        return f"values with and without sensitivities differ by {dv:.2g} relative"
    tight = ref(x, sensi=1)
    if not tight.ok:
        return NOT_EVALUATED
    big = np.abs(tight.grad) > GRAD_ZERO
    if big.any():
        rel = np.abs(sens.grad[big] - tight.grad[big]) / np.abs(tight.grad[big])
        if rel.max() > GRAD_RTOL:
            return (f"a gradient entry differs by {rel.max():.2g} relative from a solve "
                    f"{REFERENCE_FACTOR:g} times tighter")
    return None


def choose_tolerances(problem: Problem, objective_opts: dict,
                      objective: Objective | None = None) -> ToleranceChoice:
    """The run's tolerances: the user's where given, else the loosest step that passes.

    Parameters
    ----------
    problem : Problem
    objective_opts : dict
        The run's objective settings; ``rtol``/``atol`` in them are the user's.
    objective : Objective, optional
        The problem's objective at ``objective_opts``, where the caller has one
        (used for the gradient at nominal when the tolerances are given).

    Returns
    -------
    ToleranceChoice

    Raises
    ------
    UnsupportedError
        bngsim cannot differentiate the model: a fit is refused here, before
        any start, not in each start.
    """
    if "rtol" in objective_opts or "atol" in objective_opts:
        rtol = float(objective_opts.get("rtol", STEPS[0][0]))
        atol = float(objective_opts.get("atol", STEPS[0][1]))
        # one evaluation with a gradient all the same: what bngsim cannot
        # differentiate is refused now, not in every start
        try:
            obj = objective or Objective(problem, threads=1, **objective_opts)
            obj(problem.x_nominal, sensi=1)
        except UnsupportedError:
            raise
        except Exception:  # noqa: BLE001 - the starts meet it again and record it
            log.debug("the gradient at nominal failed", exc_info=True)
        return ToleranceChoice(rtol, atol, "given")
    others = {k: v for k, v in objective_opts.items() if k not in ("rtol", "atol")}
    points = probe_points(problem)
    why = ""
    values_agree = None  # the loosest step at which the values agree everywhere
    built: dict[tuple[float, float], Objective] = {}

    def at(rtol: float, atol: float) -> Objective:
        # one Objective per tolerance pair: a step's reference (100x tighter) is
        # the step two further on, built and compiled once
        key = (rtol, atol)
        if key not in built:
            built[key] = Objective(problem, rtol=rtol, atol=atol, threads=1, **others)
        return built[key]

    for k, (rtol, atol) in enumerate(STEPS):
        obj = at(rtol, atol)
        ref = at(rtol / REFERENCE_FACTOR, atol / REFERENCE_FACTOR)
        said = [_disagreement(obj, ref, x) for x in points]
        found = [(i, w) for i, w in enumerate(said) if w not in (None, NOT_EVALUATED)]
        n_compared = sum(w != NOT_EVALUATED for w in said)
        if n_compared == 0:
            return ToleranceChoice(rtol, atol, f"{why}nothing to compare: the model fails "
                                               f"at every probe point at rtol {rtol:g} / "
                                               f"atol {atol:g}")
        if not found:
            head = "the default" if k == 0 else "tightened"
            return ToleranceChoice(rtol, atol, f"{head}: {why}values and gradients agree at "
                                               f"{n_compared} probe point(s)")
        if values_agree is None and not any(w.startswith("values") for _, w in found):
            values_agree = (rtol, atol)
        i, w = found[0]
        why += f"at rtol {rtol:g} / atol {atol:g} {w} at " + \
            ("the nominal point; " if i == 0 else f"probe point {i}; ")
    rtol, atol = values_agree or STEPS[-1]
    return ToleranceChoice(rtol, atol, f"no step makes every gradient entry agree, so the "
                                       f"loosest at which values agree: {why.rstrip('; ')}")
