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
from contextlib import nullcontext
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from .errors import parse_choice
from .fides_dense import dense_diagonals
from .objective import Evaluation, Objective
from .results import StartStatus

log = logging.getLogger(__name__)


class OptimizerName(StrEnum):
    """The optimizers bngfit offers."""

    LEAST_SQUARES = "least_squares"
    LBFGSB = "lbfgsb"
    FIDES = "fides"


NEEDS_RESIDUALS = {OptimizerName.LEAST_SQUARES}

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

    A point where the simulation fails gives ``fval = inf`` (and non-finite
    residuals): every optimizer here rejects such a trial step and shrinks its
    step; none sees an exception.
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

    def __call__(self, x: np.ndarray) -> Evaluation:
        if self.last is not None and np.array_equal(self.last.x, x):
            return self.last
        t0 = time.perf_counter()
        ev = self.objective(x, sensi=1)
        if self.residuals:
            ev.sres  # noqa: B018 - materializes res and sres
        self.eval_s += time.perf_counter() - t0
        self.last = ev
        self.trace.append(ev.fval)
        if ev.ok and (self.best is None or ev.fval < self.best.fval):
            self.best = ev
        return ev

    @property
    def n_fval(self) -> int:
        return len(self.trace)

    def fork(self, start: Evaluation | None = None) -> Counted:
        """A fresh counter on the same objective (for one local run of several).

        ``start`` is an evaluation already counted here: the fork answers a
        call at its point from it without counting it again.
        """
        ok = start is not None and start.ok
        return Counted(self.objective, best=start if ok else None, last=start,
                       residuals=self.residuals)

    def merge(self, other: Counted) -> None:
        """Add the evaluations of a fork (after it ran) to this counter."""
        self.trace.extend(other.trace)
        self.eval_s += other.eval_s
        if other.best is not None and (self.best is None or other.best.fval < self.best.fval):
            self.best = other.best
        self.last = other.last


def _least_squares(f: Counted, x0, lb, ub, opts) -> LocalResult:
    from scipy.optimize import least_squares

    f.residuals = True
    n_res = None

    def res(x):
        nonlocal n_res
        ev = f(x)
        if ev.res is None:
            # Non-finite residuals make TRF reject the step and shrink its radius.
            return np.full(n_res, np.inf)
        n_res = ev.res.size
        return ev.res

    def jac(x):
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
    # convergence). Measured, least_squares, noise parameters in closed form,
    # starts reaching the optimum: Boehm 2014 0/30 ("jac"), 4/30 ("bounds"),
    # 4/30 (hybrid); Perelson 1996 20/40, 9/40, 9/40; the PyBNF receptor
    # example (within 0.01) 9/10, 1/10, 9/10.
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


def _lbfgsb(f: Counted, x0, lb, ub, opts) -> LocalResult:
    from scipy.optimize import minimize

    f.residuals = False
    def fun(x):
        ev = f(x)
        if not ev.ok:
            return np.inf, np.zeros_like(x)
        return ev.fval, ev.grad

    r0 = f(x0)
    if not r0.ok:
        return LocalResult(x0, StartStatus.ERROR, f"objective fails at the start point: "
                                                  f"{r0.message}")
    out = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lb, ub, strict=True)),
                   options={"maxiter": opts.get("maxiter", 1000),
                            "maxfun": opts.get("max_nfev", 2000),
                            "ftol": opts.get("ftol", 1e-12), "gtol": opts.get("gtol", 1e-8)})
    msg = str(out.message)
    if out.success:
        status = StartStatus.CONVERGED
    elif "LIMIT" in msg.upper() or "MAX" in msg.upper():
        status = StartStatus.MAX_ITER
    elif "LNSRCH" in msg.upper():
        status = StartStatus.STALLED  # the line search found no decrease along the step
    else:
        status = StartStatus.FAILED
    return LocalResult(out.x, status, msg)


FIDES_HESSIANS = ("gn", "fx", "gnsbfgs", "bfgs", "sr1")
FIDES_RESIDUAL = ("gn", "fx", "gnsbfgs")  # the Hessians built from the residual Jacobian


def _fides(f: Counted, x0, lb, ub, opts) -> LocalResult:
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

    def fun(x):
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


def fides_status(flag) -> StartStatus:
    """The start status of a fides exit flag."""
    import fides

    if flag > 0:
        return StartStatus.CONVERGED
    if flag in (fides.ExitFlag.MAXITER, fides.ExitFlag.MAXTIME):
        return StartStatus.MAX_ITER
    if flag == fides.ExitFlag.DELTA_TOO_SMALL:
        return StartStatus.STALLED
    return StartStatus.FAILED


RUNNERS = {
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
    result = RUNNERS[optimizer](f, np.asarray(x0, float), lb, ub, options or {})
    # Report the best point evaluated: every optimizer here evaluates its end
    # point, and a trial point may have been better (L-BFGS-B line searches).
    if f.best is not None:
        result = LocalResult(f.best.x.copy(), result.status, result.message)
    return result, f
