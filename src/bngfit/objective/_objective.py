"""The objective: a sum of terms, with exact gradients, residuals and Jacobian.

``Objective(problem)(x, sensi=1)`` maps ``x`` (optimizer space) to native
parameter values ``theta`` (:meth:`Problem.to_native
<bngfit.problem.Problem.to_native>`), runs one bngsim simulation per experiment
(with forward sensitivities when ``sensi=1``), computes the observables and
noise scales at the measurements (normalized where asked), and sums its terms
(:mod:`bngfit.objective._terms`): the likelihood of the data, the trajectory
penalties. Each term gives its value and derivatives with respect to theta; the
chain rule to optimizer space, ``d theta / d x``, is applied once, here, to
the summed gradient and the stacked residual Jacobian.

Conventions (``../shared/docs/design.md``): residuals ``rho = (z - zm)/sigma``,
``J = d rho / d x``, gradient ``J^T rho`` of ``0.5*||rho||^2``; the reported
``fval`` is the full negative log-likelihood.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bngfit.errors import SimulationFailure, UnsupportedError
from bngfit.likelihood._noise import (
    CODE_KERNEL,
    FAMILY_CODE,
    LN10,
    LOG_2PI,
    SIGMA_RES_OFFSET,
    TRANSFORM_CODE,
)
from bngfit.observe._transforms import normalize
from bngfit.plan._compile import compile_plan
from bngfit.problem._problem import SHAPE_FAMILIES, Problem
from bngfit.problem._scales import dtheta_dx, scale_codes
from bngfit.simulate._engine import Engine, SolverSettings

from ._data import DataLikelihood
from ._describe import objective_html, objective_repr
from ._evaluation import Evaluation, LazyResiduals, ResidualPair
from ._lanes import Lanes, available_threads, decide
from ._priors import ObjectivePriors
from ._status import EvalStatus, nonfinite_message, status_message
from ._terms import Contribution, Observation, Term, TrajectoryPenalties

if TYPE_CHECKING:
    from ._hierarchical import NoiseProfile

# Evaluation and the noise constants stay importable from here.
__all__ = ["CODE_KERNEL", "FAMILY_CODE", "LN10", "LOG_2PI", "SHAPE_FAMILIES",
           "SIGMA_RES_OFFSET", "TRANSFORM_CODE", "Evaluation", "Objective"]

log = logging.getLogger(__name__)


def _concat(parts: list[np.ndarray], empty_shape: tuple[int, ...]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.empty(empty_shape)
    return np.concatenate(parts)


def _new_engines(paths: tuple, settings: SolverSettings) -> tuple[Engine, ...]:
    """Engines of their own for a lane (one per model)."""
    return tuple(Engine(path, settings) for path in paths)


class _Failed(Exception):
    """No observation at this point: a simulation failed or a normalization is undefined."""

    def __init__(self, status: EvalStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _stacked(builders: list[Callable[[], ResidualPair]],
             chain: np.ndarray | None) -> ResidualPair:
    """The terms' residuals one after the other, the Jacobian in optimizer space."""
    pairs = [build() for build in builders]
    if len(pairs) == 1:
        res, sres = pairs[0]
    else:
        res = np.concatenate([r for r, _ in pairs])
        sres = None if chain is None else np.concatenate([s for _, s in pairs])
    return res, (None if chain is None else sres * chain)


class Objective:
    """Negative log-likelihood of a problem's data, plus its penalties, in optimizer space.

    Parameters
    ----------
    problem : Problem
    rtol, atol : float
        ODE solver tolerances (used identically by gradient checks).
    preeq_tmax : float
        Pre-equilibration horizon, model time units.
    max_steps : int, optional
        CVODE's internal steps allowed per output interval (default: bngsim's,
        10000).
    threads : int, optional
        Threads over the experiments of one evaluation (each with its own copy
        of the models, :mod:`bngfit.objective._lanes`); default: ``BNGFIT_THREADS``
        or the usable cores. ``1``: one thread. Results do not depend on it.
    weights : array_like, shape (n_meas,), optional
        Multiplicity of each measurement in the data's likelihood (a bootstrap
        resample; see :mod:`bngfit.objective._data`). Constraint penalties and
        priors are not data points and are never weighted. None: every point once.

    Attributes
    ----------
    engines : tuple of Engine
        One simulation engine per model of the problem, in
        :attr:`Problem.models <bngfit.problem.Problem.models>` order.
    engine : Engine
        The first (for single-model problems, the only) one.
    likelihood : DataLikelihood
        The data's term.
    terms : tuple of Term
        Every term summed, the likelihood first (:mod:`bngfit.objective._terms`).
    has_residuals : bool
        Every term has a residual form: evaluations carry ``res`` and ``sres``.
    """

    def __init__(
        self,
        problem: Problem,
        *,
        rtol: float = 1e-8,
        atol: float = 1e-10,
        preeq_tmax: float = 1e6,
        max_steps: int | None = None,
        threads: int | None = None,
        weights: object = None,
    ) -> None:
        self.problem = problem
        self.threads = threads
        #: Why no gradient can be computed (a model's events), or None.
        self.no_gradient = next((f"{m.path.name}: {m.no_gradient}" for m in
                                 problem.models.values() if m.no_gradient), None)
        self.settings = SolverSettings(rtol=rtol, atol=atol, preeq_tmax=preeq_tmax,
                                       max_steps=max_steps)
        self.plan = compile_plan(problem)
        # One engine per model (``engine`` is the first model's); each
        # experiment's run function is looked up once here, not per evaluation.
        paths = tuple(m.path for m in problem.models.values())
        self.engines = _new_engines(paths, self.settings)
        self.engine = self.engines[0]
        self._shares_pre = any(e.pre for e in self.plan.experiments)
        self._codes = scale_codes(problem.x_scales)
        self._all_log10 = bool(np.all(self._codes == 2))
        self._n_x = len(problem.x_names)
        self.likelihood = DataLikelihood(problem, self.plan, weights)
        terms: list[Term] = [self.likelihood]
        if self.plan.penalties:
            terms.append(TrajectoryPenalties(self.plan.penalties))
        self.priors = ObjectivePriors(problem) if any(
            p.objective_prior is not None for p in problem.free) else None
        if self.priors is not None:
            terms.append(self.priors)
        self.terms: tuple[Term, ...] = tuple(terms)
        self.has_residuals = all(t.has_residuals for t in self.terms)
        self._cache: tuple[np.ndarray, int, Evaluation] | None = None
        self._lanes = Lanes(functools.partial(_new_engines, paths, self.settings))
        # per kind (sensi): one-thread evaluations timed so far, their last
        # per-experiment times, and the lanes decided from them
        self._timed = {False: 0, True: 0}
        self._seconds: dict[bool, np.ndarray] = {}
        self._plans: dict[bool, tuple[tuple[int, ...], ...] | None] = {}

    @property
    def x_names(self) -> list[str]:
        """Free parameter ids, length n_x."""
        return self.problem.x_names

    @property
    def weights(self) -> np.ndarray | None:
        """The measurements' weights, shape (n_meas,) (None: every point once)."""
        return self.likelihood.weights

    def reweighted(self, weights: object) -> Objective:
        """A copy of the objective with other weights on the measurements (see ``weights``).

        The copy shares the models and their engines (no model is loaded
        again), so use one of the two at a time; terms added with
        :meth:`add_term` are kept.

        Parameters
        ----------
        weights : array_like, shape (n_meas,), or None
            None: every point once.

        Returns
        -------
        Objective
        """
        other = copy.copy(self)
        other.likelihood = DataLikelihood(self.problem, self.plan, weights)
        other.terms = (other.likelihood, *self.terms[1:])
        other._cache = None
        return other

    def __repr__(self) -> str:
        return objective_repr(self)

    def _repr_html_(self) -> str:
        return objective_html(self)

    def add_term(self, term: Term) -> None:
        """Add a term to the sum (it follows the problem's own terms).

        Parameters
        ----------
        term : Term
            Its derivatives are with respect to native parameter values; the
            objective takes them to optimizer space. Noise parameters set in
            closed form (:mod:`bngfit.objective._hierarchical`) assume the term does not
            depend on them.
        """
        self.terms = (*self.terms, term)
        self.has_residuals = self.has_residuals and term.has_residuals
        self._cache = None

    def __call__(self, x: Sequence[float] | np.ndarray, sensi: int = 1) -> Evaluation:
        """Evaluate at ``x`` (optimizer space).

        Parameters
        ----------
        x : array_like, shape (n_x,)
        sensi : {0, 1}
            0: value only; 1: also gradient and residual Jacobian.

        Returns
        -------
        Evaluation
            Never raises on simulation failure: ``fval`` is inf and
            ``status``/``message`` say why.
        """
        x = np.array(x, dtype=float)
        if x.shape != (self._n_x,):
            raise ValueError(f"x must have shape ({self._n_x},), got {x.shape}")
        if sensi and self.no_gradient is not None:
            raise UnsupportedError(f"no gradient can be computed: {self.no_gradient}")
        if self._cache is not None:
            cx, cs, cev = self._cache
            # (a value-only call does not get an evaluation made invalid by its gradient)
            if cs >= sensi and np.array_equal(cx, x) and (
                    sensi or cev.status != EvalStatus.INVALID_GRADIENT):
                return cev
        ev = self._evaluate(x, bool(sensi))
        self._cache = (x.copy(), int(sensi), ev)
        return ev

    def clear_cache(self) -> None:
        """Forget the last evaluation (the one-point cache)."""
        self._cache = None

    def evaluate_profiled(self, x: Sequence[float] | np.ndarray, sensi: int,
                          profile: NoiseProfile) -> Evaluation:
        """Evaluate with some noise scales set to their optimum (no caching).

        Parameters
        ----------
        x : array_like, shape (n_x,)
            The point; the values of ``profile``'s parameters are replaced.
        sensi : {0, 1}
        profile : NoiseProfile
            See :mod:`bngfit.objective._hierarchical`.

        Returns
        -------
        Evaluation
            At ``x`` with those parameters at their optimum (``Evaluation.x``).
        """
        return self._evaluate(np.array(x, dtype=float), bool(sensi), profile)

    def simulate(self, x: Sequence[float] | np.ndarray) -> Evaluation:
        """Evaluate without sensitivities (for simulation tables).

        Parameters
        ----------
        x : array_like, shape (n_x,)

        Returns
        -------
        Evaluation
        """
        return self(x, sensi=0)

    # ----------------------------------------------------------------- core
    def _evaluate(self, x: np.ndarray, sensi: bool,
                  profile: NoiseProfile | None = None) -> Evaluation:
        theta = self.problem.to_native(x)
        try:
            observed = self._observe(theta, sensi)
        except _Failed as failure:
            return self._failed(x, sensi, failure.status, failure.detail)
        if profile is not None:
            # The simulation does not depend on these scales: set them from it.
            x = profile.at_optimum(x, observed.h, observed.sigma, self.likelihood.measured,
                                   self.likelihood.transform_codes, self.weights)
            theta = self.problem.to_native(x)
            observed = observed._replace(theta=theta,
                                         sigma=profile.noise_scales(theta, observed.sigma))
        parts = []
        for term in self.terms:
            part = term.evaluate(observed, sensi)
            if not part.ok:
                return self._failed(x, sensi, part.status, part.message)
            parts.append(part)
        return self._combine(x, observed, parts, sensi)

    def _observe(self, theta: np.ndarray, sensi: bool) -> Observation:
        """Simulate every experiment and compute the observables at the measurements.

        Raises :class:`_Failed` where a simulation fails or a normalization is
        undefined.
        """
        plan = self.plan
        theta_list = theta.tolist()
        nth = plan.n_theta
        lanes_of = self._lanes_of(sensi)
        if self._shares_pre:
            for engine in self._lanes.all_engines(self.engines):
                engine.new_point()
        inputs = [(exp.main.inputs(theta, theta_list, sensi),
                   tuple([p.inputs(theta, theta_list, sensi) for p in exp.pre]) if exp.pre
                   else ()) for exp in plan.experiments]
        if lanes_of is None:
            seconds = np.zeros(len(inputs))
            results = self._run_lane(range(len(inputs)), self.engines, inputs, sensi, seconds)
            if len(results) == len(inputs):
                self._timed[sensi] += 1
                self._seconds[sensi] = seconds
        else:
            engines = [self._lanes.engines(k, self.engines) for k in range(len(lanes_of))]
            results = {}
            for part in self._lanes.map(len(lanes_of), lambda k: self._run_lane(
                    lanes_of[k], engines[k], inputs, sensi)):
                if isinstance(part, Exception):
                    raise part
                results.update(part)
        failed = [i for i, r in results.items() if isinstance(r, SimulationFailure)]
        if failed:
            i = min(failed)  # the first in the problem's order, as on one thread
            exp = plan.experiments[i]
            where = f"condition '{exp.condition_id}'" + (
                f" (pre-equilibration '{exp.preeq_id}')" if exp.preeq_id else "") + (
                f" of model '{list(self.problem.models)[exp.model]}'"
                if len(self.engines) > 1 else "")
            raise _Failed(EvalStatus.SIMULATION_FAILED, f"{where}: {results[i]}")
        ys = [results[i][0].reshape(-1) for i in range(len(inputs))]
        dys = [results[i][1].reshape(-1, nth) for i in range(len(inputs))] if sensi else []
        y_flat = _concat(ys, (0,))
        dy_flat = _concat(dys, (0, nth)) if sensi else None
        h, dh, sig, dsig = plan.observe(y_flat, dy_flat, theta)
        if plan.normalizations:
            h, dh, why = normalize(plan.normalizations, h, dh, y_flat, dy_flat)
            if why is not None:
                raise _Failed(EvalStatus.INVALID_VALUE, why)
        return Observation(theta=theta, y=y_flat, dy=dy_flat, h=h, dh=dh, sigma=sig,
                           dsigma=dsig)

    def _run_lane(self, indices: Sequence[int], engines: tuple[Engine, ...], inputs: list,
                  sensi: bool, seconds: np.ndarray | None = None
                  ) -> dict[int, tuple | SimulationFailure]:
        """Run these experiments in order on these engines; stop at a failure.

        ``seconds``, where given, receives each experiment's wall time.
        """
        out: dict[int, tuple | SimulationFailure] = {}
        nth = self.plan.n_theta
        for i in indices:
            exp = self.plan.experiments[i]
            main, pre = inputs[i]
            start = time.perf_counter()
            try:
                out[i] = engines[exp.model].run(exp.outputs, exp.grid, main, pre,
                                                exp.sens_params, nth, sensi)
            except SimulationFailure as err:
                out[i] = err
                break
            if seconds is not None:
                seconds[i] = time.perf_counter() - start
        return out

    def _lanes_of(self, sensi: bool) -> tuple[tuple[int, ...], ...] | None:
        """The experiments of each thread for an evaluation of this kind; None: one thread.

        Decided once per kind, after two one-thread evaluations of it were timed
        (:func:`bngfit.objective._lanes.decide`).
        """
        if sensi in self._plans:
            return self._plans[sensi]
        n = self.threads if self.threads is not None else available_threads()
        if n < 2 or self._timed[sensi] < 2:
            return None
        groups: dict[tuple, list[int]] = {}
        for i, e in enumerate(self.plan.experiments):
            # one pre-equilibration's experiments stay together (computed once)
            groups.setdefault((e.model, e.preeq_id) if e.pre else ("alone", i), []).append(i)
        self._plans[sensi] = decide(list(groups.values()), self._seconds[sensi].tolist(), n,
                                    forced=self.threads is not None)
        return self._plans[sensi]

    def _chain(self, theta: np.ndarray) -> np.ndarray:
        """Diagonal of d theta / d x, shape (n_x,)."""
        return theta * LN10 if self._all_log10 else dtheta_dx(theta, self._codes)

    def _combine(self, x: np.ndarray, observed: Observation, parts: list[Contribution],
                 sensi: bool) -> Evaluation:
        """Sum the terms' contributions and take their derivatives to optimizer space.

        The one place the scale chain ``d theta / d x`` is applied: to the summed
        gradient and to the stacked residual Jacobian.
        """
        fval, grad, chi2 = parts[0].fval, parts[0].grad, parts[0].chi2
        for part in parts[1:]:
            fval += part.fval
            chi2 += part.chi2
            if sensi:
                grad = grad + part.grad
        chain = None
        if sensi:
            chain = self._chain(observed.theta)
            grad = grad * chain
        residuals = None
        if self.has_residuals:
            builders = [part.residuals for part in parts]
            residuals = LazyResiduals(lambda: _stacked(builders, chain))
        prior = sum(part.fval for term, part in zip(self.terms, parts, strict=True)
                    if term is self.priors)
        ev = Evaluation(x=x, fval=fval, grad=grad, chi2=chi2, simulation=observed.h,
                        sigma=observed.sigma, residuals=residuals, prior=prior)
        if sensi and not np.isfinite(grad).all():
            # A finite value with a NaN/inf gradient is no direction to follow.
            why = nonfinite_message("gradient", grad, self.x_names)
            log.debug("evaluation invalid at x=%s: %s", x, why)
            return ev.rejected(EvalStatus.INVALID_GRADIENT, why)
        return ev

    def _failed(self, x: np.ndarray, sensi: bool, status: EvalStatus,
                detail: str) -> Evaluation:
        n = self.plan.n_meas
        message = status_message(status, detail)
        log.debug("evaluation failed at x=%s: %s", x, message)
        return Evaluation(x=x, fval=float("inf"), grad=np.full(x.size, np.nan) if sensi else None,
                          chi2=float("inf"), simulation=np.full(n, np.nan),
                          sigma=np.full(n, np.nan), status=status, message=message)
