"""The objective: negative log-likelihood, exact gradient, residuals and Jacobian.

``Objective(problem)(x, sensi=1)`` runs one bngsim simulation per experiment
(with forward sensitivities when ``sensi=1``) and returns an
:class:`Evaluation`. Conventions (``../shared/docs/design.md``): residuals
``rho = (z - zm)/sigma``, ``J = d rho / d x``, gradient ``J^T rho`` of
``0.5*||rho||^2``; the reported ``fval`` is the full negative log-likelihood.
The scale chain ``d theta / d x`` is applied once, at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .errors import SimulationFailure
from .noise import (
    FAMILY_CODE,
    SIGMA_RES_OFFSET,
    TRANSFORM_CODE,
    kernel_terms,
    log_jacobian_term,
    transform,
)
from .plan import compile_plan, eval_formula
from .problem import NoiseFamily, Problem
from .scales import dtheta_dx, scale_codes, unscale
from .simulate import Engine, PhaseInput, SolverSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating the objective at one point.

    Attributes
    ----------
    x : ndarray, shape (n_x,)
        The point, optimizer space.
    fval : float
        Negative log-likelihood, constants included; ``inf`` on failure.
    grad : ndarray, shape (n_x,), or None
        d fval / d x (``sensi=1``); NaN on failure.
    res : ndarray, shape (n_res,), or None
        Residuals (only where a residual form exists).
    sres : ndarray, shape (n_res, n_x), or None
        d res / d x.
    chi2 : float
        Sum of squared weighted residuals of the data, ``sum(((z-zm)/sigma)^2)``.
    simulation : ndarray, shape (n_meas,)
        Observable values at the measurements (untransformed).
    sigma : ndarray, shape (n_meas,)
    status : str
        ``"ok"``, ``"simulation_failed"`` or ``"invalid_value"``.
    message : str
    """

    x: np.ndarray
    fval: float
    grad: np.ndarray | None
    res: np.ndarray | None
    sres: np.ndarray | None
    chi2: float
    simulation: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    status: str = "ok"
    message: str = ""

    @property
    def llh(self) -> float:
        """Log-likelihood, ``-fval``."""
        return -self.fval

    @property
    def ok(self) -> bool:
        """Whether the evaluation succeeded."""
        return self.status == "ok"


class Objective:
    """Negative log-likelihood of a problem's data in optimizer space.

    Parameters
    ----------
    problem : Problem
    rtol, atol : float
        ODE solver tolerances (used identically by gradient checks).
    preeq_tmax : float
        Pre-equilibration horizon, model time units.
    """

    def __init__(
        self,
        problem: Problem,
        *,
        rtol: float = 1e-8,
        atol: float = 1e-10,
        preeq_tmax: float = 1e6,
    ) -> None:
        self.problem = problem
        self.settings = SolverSettings(rtol=rtol, atol=atol, preeq_tmax=preeq_tmax)
        self.plan = compile_plan(problem)
        self.engine = Engine(problem.model.path, self.settings)
        meas = problem.measurements
        obs = problem.observables
        self._codes = scale_codes(problem.x_scales)
        self._tcode = np.array([TRANSFORM_CODE[obs[o].transform] for o in meas.observable],
                               dtype=int)
        self._fcode = np.array([FAMILY_CODE[obs[o].family] for o in meas.observable],
                               dtype=int)
        self._zm, _ = transform(meas.value, self._tcode)
        self._const = float(np.sum(log_jacobian_term(meas.value, self._tcode)))
        self.has_residuals = all(o.family is NoiseFamily.NORMAL for o in obs.values())
        self._cache: tuple | None = None

    @property
    def x_names(self) -> list[str]:
        """Free parameter ids, length n_x."""
        return self.problem.x_names

    def __call__(self, x, sensi: int = 1) -> Evaluation:
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
        if x.shape != (len(self.x_names),):
            raise ValueError(f"x must have shape ({len(self.x_names)},), got {x.shape}")
        if self._cache is not None:
            cx, cs, cev = self._cache
            if cs >= sensi and np.array_equal(cx, x):
                return cev
        ev = self._evaluate(x, bool(sensi))
        self._cache = (x.copy(), int(sensi), ev)
        return ev

    # ----------------------------------------------------------------- core
    def _evaluate(self, x: np.ndarray, sensi: bool) -> Evaluation:
        plan = self.plan
        theta = unscale(x, self._codes)
        n, nth = plan.n_meas, plan.n_theta
        h = np.empty(n)
        sig = np.empty(n)
        dh = np.zeros((n, nth)) if sensi else None
        dsig = np.zeros((n, nth)) if sensi else None
        for exp in plan.experiments:
            try:
                y, dy = self.engine.run(
                    exp.outputs, exp.times, self._phase(exp.main_params, exp.main_species,
                                                        exp.sens_params, theta),
                    None if exp.preeq_params is None else self._phase(
                        exp.preeq_params, exp.preeq_species, exp.sens_params, theta),
                    exp.sens_params, nth, sensi)
            except SimulationFailure as err:
                where = f"condition '{exp.condition_id}'" + (
                    f" (pre-equilibration '{exp.preeq_id}')" if exp.preeq_id else "")
                return self._failed(x, sensi, "simulation_failed", f"{where}: {err}")
            for b in exp.blocks:
                hv, hg = eval_formula(b.observable.formula, b.formula_args, b, exp.times, y,
                                      dy, theta)
                sv, sg = eval_formula(b.observable.noise, b.noise_args, b, exp.times, y, dy,
                                      theta)
                h[b.rows] = hv
                sig[b.rows] = sv
                if sensi:
                    dh[b.rows] = hg
                    dsig[b.rows] = sg
        return self._likelihood(x, theta, h, dh, sig, dsig, sensi)

    @staticmethod
    def _phase(params, species, sens, theta) -> PhaseInput:
        values = {}
        grads = {}
        for name, q in params.items():
            v, g = q.eval(theta)
            values[name] = v
            if name in sens:
                grads[name] = g
        sp_values = {}
        sp_jac = {}
        for name, q in species.items():
            v, g = q.eval(theta)
            sp_values[name] = v
            if q.deps:
                sp_jac[name] = g
        jac = np.array([grads[s] for s in sens]).reshape(len(sens), theta.size)
        return PhaseInput(values, sp_values, jac, sp_jac)

    def _failed(self, x, sensi, status, message) -> Evaluation:
        n = self.plan.n_meas
        nan = np.full(x.size, np.nan) if sensi else None
        log.debug("evaluation failed at x=%s: %s", x, message)
        return Evaluation(x, float("inf"), nan, None, None, float("inf"), np.full(n, np.nan),
                          np.full(n, np.nan), status, message)

    def _likelihood(self, x, theta, h, dh, sig, dsig, sensi) -> Evaluation:
        meas = self.problem.measurements
        z, dz_dh = transform(h, self._tcode)
        bad = ~np.isfinite(z)
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            return self._failed(x, sensi, "invalid_value",
                                f"observable '{meas.observable[i]}' is {h[i]:.6g} at "
                                f"measurement line {meas.rows[i]}, not valid under its "
                                "transformation")
        badsig = ~(np.isfinite(sig) & (sig > 0))
        if badsig.any():
            i = int(np.nonzero(badsig)[0][0])
            return self._failed(x, sensi, "invalid_value",
                                f"noise of observable '{meas.observable[i]}' is {sig[i]:.6g} "
                                f"at measurement line {meas.rows[i]}; sigma must be > 0")
        zm = self._zm
        nllh, d_dz, d_ds = kernel_terms(self._fcode, z, zm, sig)
        fval = float(np.sum(nllh)) + self._const
        rho = (z - zm) / sig
        chi2 = float(np.sum(rho**2))
        grad = res = sres = None
        sigma_rows = self.plan.sigma_rows
        if self.has_residuals:
            sr = np.sqrt(2.0 * np.log(sig[sigma_rows]) + SIGMA_RES_OFFSET)
            res = np.concatenate([rho, sr])
        if sensi:
            dz = dz_dh[:, None] * dh
            chain = dtheta_dx(theta, self._codes)
            g_theta = d_dz @ dz + d_ds @ dsig
            grad = g_theta * chain
            if self.has_residuals:
                drho = (dz - rho[:, None] * dsig) / sig[:, None]
                dsr = dsig[sigma_rows] / (sig[sigma_rows] * sr)[:, None]
                sres = np.vstack([drho, dsr]) * chain[None, :]
        return Evaluation(x, fval, grad, res, sres, chi2, h, sig)

    # ------------------------------------------------------------- helpers
    def simulate(self, x) -> Evaluation:
        """Evaluate without sensitivities (for simulation tables)."""
        return self(x, sensi=0)
