"""Local optimizers behind one small interface, all fed by the core Evaluation.

Each optimizer minimises the objective from one start point within bounds
(optimizer space) and returns a :class:`LocalResult`. The objective is wrapped
once (:class:`Counted`): it counts evaluations, records the fval trace, and
lets scipy's separate value and Jacobian calls share one sensitivity solve
through the objective's one-point cache.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from bngfit.errors import parse_choice
from bngfit.objective._objective import Evaluation, Objective
from bngfit.objective._status import EvalStatus, nonfinite_message, status_message
from bngfit.result._types import StartStatus

from ._fides_dense import dense_diagonals
from ._limits import Allowance, FailureLog, LimitReached

# STATIONARY_RTOL and projected_gradient are also importable from here (their 0.1.0 home)
from ._stationary import STATIONARY_RTOL, confirm_stationary, projected_gradient  # noqa: F401

log = logging.getLogger(__name__)


class OptimizerName(StrEnum):
    """The optimizers bngfit offers (see :data:`OPTIMIZER_TEXT`)."""

    LEAST_SQUARES = "least_squares"
    LBFGSB = "lbfgsb"
    FIDES = "fides"


#: What each optimizer is, for help texts and messages.
OPTIMIZER_TEXT = {
    OptimizerName.LEAST_SQUARES: "scipy's trust-region reflective least squares on the "
                                 "residuals (needs a sum-of-squares objective)",
    OptimizerName.LBFGSB: "scipy's L-BFGS-B quasi-Newton method on fval and gradient",
    OptimizerName.FIDES: "Fides' interior trust-region method (Gauss-Newton Hessian where "
                         "the objective has residuals, else BFGS)",
}

#: The optimizers that work on residuals: only for objectives with a residual form.
NEEDS_RESIDUALS = {OptimizerName.LEAST_SQUARES}

#: L-BFGS-B's evaluation budget of a run (option ``max_nfev``) by default.
LBFGSB_MAX_NFEV = 2000

# A least-squares round that converged ends the run when restarting it lowered
# the cost by at most this fraction.
RESTART_RTOL = 1e-6


@dataclass(frozen=True)
class LocalResult:
    """What one local optimization returned (before bookkeeping)."""

    x: np.ndarray
    status: StartStatus
    message: str


@dataclass
class Counted:
    """The objective as optimizers see it: counts, trace, failure policy.

    A point where the evaluation is invalid (a failed simulation, a value out
    of its domain, a non-finite gradient or residual Jacobian; any status but
    ``ok``) is a rejected trial point for every optimizer here: least_squares
    and fides get non-finite values and shrink their step, L-BFGS-B gets a
    wall it backtracks from (:func:`_lbfgsb`); none sees an exception and none
    follows a fake gradient.
    """

    objective: Objective
    trace: list[float] = field(default_factory=list)
    best: Evaluation | None = None
    last: Evaluation | None = None
    eval_s: float = 0.0  # wall time inside the objective, seconds
    # Whether the optimizer uses residuals: they are then built inside the
    # timed evaluation (they are objective output, deferred only for the
    # optimizers that do not need them).
    residuals: bool = False
    # The start's limits, shared by every fork (None: unlimited), and why its
    # evaluations failed (shared too: one record per start).
    allowance: Allowance | None = None
    failures: FailureLog = field(default_factory=FailureLog)

    def __call__(self, x: np.ndarray) -> Evaluation:
        """Evaluate at ``x`` with sensitivities (the last point is answered from memory).

        Raises
        ------
        LimitReached
            The start's limits allow no further evaluation.
        """
        if self.last is not None and np.array_equal(self.last.x, x):
            return self.last
        if self.allowance is not None:
            self.allowance.charge()
        t0 = time.perf_counter()
        ev = self.objective(x, sensi=1)
        if self.residuals and ev.ok:
            ev = _finite_residuals(ev, self.objective.x_names)
        self.eval_s += time.perf_counter() - t0
        self.last = ev
        self.trace.append(ev.fval)
        if ev.ok and (self.best is None or ev.fval < self.best.fval):
            self.best = ev
        elif not ev.ok:
            self.failures.add(ev.message)
        return ev

    @property
    def n_fval(self) -> int:
        """The number of evaluations counted."""
        return len(self.trace)

    def fork(self, start: Evaluation | None = None) -> Counted:
        """A fresh counter on the same objective (for one local run of several).

        ``start`` is an evaluation already counted here: the fork answers a
        call at its point from it without counting it again.
        """
        ok = start is not None and start.ok
        return Counted(self.objective, best=start if ok else None, last=start,
                       residuals=self.residuals, allowance=self.allowance,
                       failures=self.failures)

    def merge(self, other: Counted) -> None:
        """Add the evaluations of a fork (after it ran) to this counter."""
        self.trace.extend(other.trace)
        self.eval_s += other.eval_s
        if other.best is not None and (self.best is None or other.best.fval < self.best.fval):
            self.best = other.best
        self.last = other.last


def _least_squares(f: Counted, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                   opts: dict) -> LocalResult:
    from scipy.optimize import least_squares

    f.residuals = True
    n_res = None

    def res(x: np.ndarray) -> np.ndarray:
        nonlocal n_res
        ev = f(x)
        if ev.res is None:
            # Non-finite residuals make TRF reject the step and shrink its radius.
            return np.full(n_res, np.inf)
        n_res = ev.res.size
        return ev.res

    def jac(x: np.ndarray) -> np.ndarray:
        return f(x).sres

    r0 = f(x0)
    if not r0.ok:
        return LocalResult(x0, StartStatus.ERROR, f"objective fails at the start point: "
                                                  f"{r0.message}")
    # scipy's x_scale="jac" divides by the largest Jacobian column norms seen
    # so far in the run. From a wild start point (a noise sd at 1e-5 inflates
    # every column by 1e5) that scaling stays stale for good and TRF crawls
    # with tiny steps until its budget runs out. So TRF runs in rounds of at
    # most `restart_nfev` evaluations, each a restart from the last iterate
    # with fresh scaling; it ends when a round converges and the restart did
    # not lower the cost (one short confirming round at an optimum).
    # The default x_scale "hybrid" scales the first round by the bounds
    # (_bounds_scale: the first steps choose the basin, and "jac" from a wild
    # point picks poor ones) and later rounds by "jac" (fast final
    # convergence): neither "jac" nor "bounds" alone does well on every
    # benchmark (README, Benchmarks).
    x_scale = opts.get("x_scale", "hybrid")
    first_scale = x_scale
    if isinstance(x_scale, str) and x_scale in ("bounds", "hybrid"):
        first_scale = _bounds_scale(lb, ub)
        x_scale = "jac" if x_scale == "hybrid" else first_scale
    budget = opts.get("max_nfev", 1000)
    per_round = opts.get("restart_nfev", 30)  # 0: one plain scipy run
    x, used, prev, rounds = np.asarray(x0, float), 0, np.inf, 0
    while True:
        out = least_squares(
            res, x, jac=jac, bounds=(lb, ub), method=opts.get("method", "trf"),
            ftol=opts.get("ftol", 1e-10), xtol=opts.get("xtol", 1e-10),
            gtol=opts.get("gtol", 1e-10), max_nfev=min(per_round or budget, budget - used),
            x_scale=first_scale if rounds == 0 else x_scale,
        )
        used += out.nfev
        rounds += 1
        x = out.x
        if f.best is not None and np.array_equal(f.best.x, x):
            f.last = f.best  # TRF's iterate is its best point: no new solve to restart
        settled = out.status > 0 and prev - out.cost <= RESTART_RTOL * (1.0 + abs(out.cost))
        if settled or not per_round or out.status < 0 or used >= budget:
            break
        prev = min(prev, out.cost)
    status = (StartStatus.CONVERGED if out.status > 0 else
              StartStatus.MAX_ITER if out.status == 0 else StartStatus.FAILED)
    more = f" ({rounds} rounds)" if rounds > 1 else ""
    return LocalResult(x, status, str(out.message) + more)


def _bounds_scale(lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """TRF's variable scales from the bounds: a tenth of each box width (1 where unbounded).

    On log10 parameters with the usual bounds of +-5 decades this is one
    decade per unit.
    """
    width = np.asarray(ub, float) - np.asarray(lb, float)
    return np.where(np.isfinite(width) & (width > 0), width / 10.0, 1.0)


def _lbfgsb(f: Counted, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
            opts: dict) -> LocalResult:
    from scipy.optimize import minimize

    f.residuals = False
    # The current iterate (x, fval, grad): a failed trial point is answered
    # relative to it (see _wall).
    it: list = []

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        ev = f(x)
        if ev.ok:
            return ev.fval, ev.grad
        return _wall(x, *it[-1])

    def new_iterate(xk: np.ndarray) -> None:
        ev = f(xk)  # the line search's accepted point: the last evaluation
        if ev.ok:
            it.append((ev.x, ev.fval, ev.grad))

    r0 = f(x0)
    if not r0.ok:
        return LocalResult(x0, StartStatus.ERROR, f"objective fails at the start point: "
                                                  f"{r0.message}")
    it.append((r0.x, r0.fval, r0.grad))
    out = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lb, ub, strict=True)),
                   callback=new_iterate,
                   options={"maxiter": opts.get("maxiter", 1000),
                            "maxfun": opts.get("max_nfev", LBFGSB_MAX_NFEV),
                            "ftol": opts.get("ftol", 1e-12), "gtol": opts.get("gtol", 1e-8)})
    msg = str(out.message)
    if out.success:
        status = StartStatus.CONVERGED
    elif "LIMIT" in msg.upper() or "MAX" in msg.upper():
        status = StartStatus.MAX_ITER
    elif "LNSRCH" in msg.upper() or "ABNORMAL" in msg.upper():
        # the line search found no decrease along the step (scipy >= 1.15 says
        # "ABNORMAL", older versions "ABNORMAL_TERMINATION_IN_LNSRCH")
        status = StartStatus.STALLED
    else:
        status = StartStatus.FAILED
    return LocalResult(out.x, status, msg)


def _wall(x: np.ndarray, xi: np.ndarray, fi: float, gi: np.ndarray) -> tuple[float, np.ndarray]:
    """What L-BFGS-B is told at a trial point ``x`` where the objective is invalid.

    scipy's L-BFGS-B handed ``(inf, 0)`` (or any value with a zero gradient)
    interpolates its line search back to the iterate itself, sees no decrease
    and reports convergence there, whatever the gradient. Instead the trial
    point gets the values of a convex quadratic along the step ``d = x - xi``
    from the iterate ``(xi, fi, gi)``: slope ``s = gi.d < 0`` at the iterate,
    value ``fi + |s|`` (above the iterate: the sufficient-decrease test fails
    and the point is never accepted) and slope ``3|s|`` at ``x``. The line
    search's interpolation then backtracks to about a quarter of the step,
    as on a function that rises steeply beyond it.
    """
    d = x - xi
    dd = float(d @ d)
    if dd == 0.0:
        return fi + 1.0 + abs(fi), np.asarray(gi, float).copy()
    rise = abs(float(gi @ d)) + 1e-8 * (1.0 + abs(fi))
    return fi + rise, gi + (4.0 * rise / dd) * d


FIDES_HESSIANS = ("gn", "fx", "gnsbfgs", "bfgs", "sr1")
FIDES_RESIDUAL = ("gn", "fx", "gnsbfgs")  # the Hessians built from the residual Jacobian


def _fides(f: Counted, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
           opts: dict) -> LocalResult:
    import fides

    hessian = opts.get("hessian", "gn")
    if hessian not in FIDES_HESSIANS:
        raise ValueError(f"unknown fides hessian '{hessian}': use one of "
                         f"{', '.join(FIDES_HESSIANS)}")
    if not f.objective.has_residuals and hessian in FIDES_RESIDUAL:
        hessian = "bfgs"  # no residual form: no Gauss-Newton matrix to build on
    f.residuals = hessian in FIDES_RESIDUAL
    n = x0.size
    resfun = hessian in ("gnsbfgs", "fx")
    with_hess = hessian == "gn"

    def fun(x: np.ndarray) -> tuple:
        ev = f(x)
        if resfun:
            if not ev.ok:
                m = f.best.res.size if f.best is not None else 1
                return np.full(m, np.inf), np.full((m, n), np.nan)
            return ev.res, ev.sres
        if not ev.ok:
            nan = np.full(n, np.nan)
            return (np.inf, nan, np.full((n, n), np.nan)) if with_hess else (np.inf, nan)
        if with_hess:
            # Gauss-Newton / Fisher information from the residual Jacobian.
            return ev.fval, ev.grad, ev.sres.T @ ev.sres
        return ev.fval, ev.grad

    r0 = f(x0)
    if not r0.ok:
        return LocalResult(x0, StartStatus.ERROR, f"objective fails at the start point: "
                                                  f"{r0.message}")
    update = {"gn": None, "fx": fides.FX(fides.BFGS()), "gnsbfgs": fides.GNSBFGS(),
              "bfgs": fides.BFGS(), "sr1": fides.SR1()}[hessian]
    options = {
        fides.Options.MAXITER: opts.get("maxiter", 1000),
        fides.Options.FATOL: opts.get("fatol", 1e-10),
        fides.Options.FRTOL: opts.get("frtol", 1e-12),
        fides.Options.GATOL: opts.get("gatol", 1e-8),
        fides.Options.DELTA_INIT: opts.get("delta_init", 1.0),
        fides.Options.SUBSPACE_DIM: opts.get("subspace", "2D"),
        fides.Options.STEPBACK_STRAT: opts.get("stepback", "reflect"),
    }
    opt = fides.Optimizer(fun, ub=np.asarray(ub, float), lb=np.asarray(lb, float),
                          verbose=logging.ERROR, options=options,
                          hessian_update=update, resfun=resfun)
    try:
        # Trial points where the model fails give NaN Hessians; fides rejects
        # them, but numpy would still warn on every one.
        with np.errstate(all="ignore"), warnings.catch_warnings(), \
                (dense_diagonals() if opts.get("dense_diagonals", True) else nullcontext()):
            warnings.simplefilter("ignore", RuntimeWarning)
            opt.minimize(np.asarray(x0, float))
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as err:
        return LocalResult(np.asarray(opt.x_min if opt.x_min is not None else x0),
                           StartStatus.FAILED, f"fides stopped: {err}")
    flag = opt.exitflag
    return LocalResult(np.asarray(opt.x_min, float), fides_status(flag), f"fides: {flag.name}")


def fides_status(flag: Any) -> StartStatus:
    """The start status of a fides exit flag (a ``fides.ExitFlag``)."""
    import fides

    if flag > 0:
        return StartStatus.CONVERGED
    if flag in (fides.ExitFlag.MAXITER, fides.ExitFlag.MAXTIME):
        return StartStatus.MAX_ITER
    if flag == fides.ExitFlag.DELTA_TOO_SMALL:
        return StartStatus.STALLED
    return StartStatus.FAILED


RUNNERS: dict[OptimizerName, Callable[..., LocalResult]] = {
    OptimizerName.LEAST_SQUARES: _least_squares,
    OptimizerName.LBFGSB: _lbfgsb,
    OptimizerName.FIDES: _fides,
}


# The option(s) that cap each optimizer's objective evaluations (fides makes
# one evaluation per iteration; L-BFGS-B counts both).
BUDGET_KEYS = {
    OptimizerName.LEAST_SQUARES: ("max_nfev",),
    OptimizerName.LBFGSB: ("max_nfev", "maxiter"),
    OptimizerName.FIDES: ("maxiter",),
}


def with_budget(optimizer: OptimizerName, options: dict | None, n_eval: int) -> dict:
    """``options`` with the optimizer's evaluation budget lowered to ``n_eval``.

    A smaller budget already in ``options`` is kept. Fides may make one
    evaluation more than its iteration budget (the start point).
    """
    out = dict(options or {})
    for key in BUDGET_KEYS[optimizer]:
        out[key] = min(int(n_eval), int(out.get(key, n_eval)))
    if out.get("switch_maxiter"):
        out["switch_maxiter"] = 0  # a short run is not continued
    return out


def parse_optimizer(name: str) -> OptimizerName:
    """The optimizer named ``name`` (InputError listing the choices otherwise)."""
    return parse_choice(OptimizerName, name, "optimizer")


def minimize(objective: Objective | Counted, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
             optimizer: OptimizerName, options: dict | None = None
             ) -> tuple[LocalResult, Counted]:
    """Run one local optimization.

    Parameters
    ----------
    objective : Objective or Counted
        A Counted objective keeps counting (evaluations made before, e.g. to
        vet the start point, stay in its trace).
    x0, lb, ub : ndarray, shape (n_x,)
        Start point and bounds, optimizer space.
    optimizer : OptimizerName
    options : dict, optional
        Optimizer-specific tolerances and budgets.

    Returns
    -------
    LocalResult
        End point (the best point evaluated), status and message.
    Counted
        The wrapped objective, with the evaluation count and fval trace.
    """
    f = objective if isinstance(objective, Counted) else Counted(objective)
    opts = options or {}
    x0 = np.asarray(x0, float)
    try:
        result = _ended(f, RUNNERS[optimizer](f, x0, lb, ub, opts), lb, ub)
        more = int(opts.get("switch_maxiter", 0))
        if (optimizer is OptimizerName.LEAST_SQUARES and more > 0 and f.best is not None
                and result.status in (StartStatus.MAX_ITER, StartStatus.STALLED)):
            f.last = f.best  # the continuation's first evaluation is the best point's
            then = _fides(f, f.best.x.copy(), lb, ub, {"hessian": "gnsbfgs", "maxiter": more})
            result = _ended(f, LocalResult(then.x, then.status, f"{result.message}; continued "
                                           f"with fides (GNSBFGS Hessian): {then.message}"),
                            lb, ub)
    except LimitReached as stop:
        # The start's limits are spent: this run ends at its best point so far.
        result = _ended(f, LocalResult(x0, StartStatus.MAX_ITER, str(stop)), lb, ub)
    return result, f


# Gauss-Newton (TRF) fails in two ways where the residuals stay large at the
# optimum, so that the curvature it leaves out (residuals times their second
# derivatives) is not small: it crawls until its budget is spent, or it stops
# where its model predicts no decrease while the gradient is not ~0 (STALLED,
# see confirm_stationary). With the least_squares option ``switch_maxiter`` =
# N > 0, such a run goes on from its best point with fides and the
# structured-secant Hessian (Gauss-Newton plus a BFGS estimate of that term)
# for at most N iterations; a run that converged is left as it is, so problems
# where Gauss-Newton does well pay nothing.


def _ended(f: Counted, result: LocalResult, lb: np.ndarray, ub: np.ndarray) -> LocalResult:
    """``result`` at the best point evaluated, its convergence checked.

    Every optimizer here evaluates its end point, and a trial point may have
    been better (L-BFGS-B line searches).
    """
    if f.best is None:
        return result
    result = LocalResult(f.best.x.copy(), result.status, result.message)
    if result.status is StartStatus.CONVERGED:
        result = confirm_stationary(result, f.best, lb, ub)
    return result


def _finite_residuals(ev: Evaluation, names: list[str]) -> Evaluation:
    """``ev`` with its residuals built; not ok where they or their Jacobian are not finite."""
    res, sres = ev.res, ev.sres
    why = None
    if res is not None and not np.isfinite(res).all():
        i = int(np.nonzero(~np.isfinite(res))[0][0])
        why = status_message(EvalStatus.INVALID_GRADIENT, f"residual {i} is {res[i]}")
    elif sres is not None:
        why = nonfinite_message("residual Jacobian", sres, names)
    if why is None:
        return ev
    return ev.rejected(EvalStatus.INVALID_GRADIENT, why)
