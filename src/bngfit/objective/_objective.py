"""The objective: negative log-likelihood, exact gradient, residuals and Jacobian.

``Objective(problem)(x, sensi=1)`` runs one bngsim simulation per experiment
(with forward sensitivities when ``sensi=1``) and returns an
:class:`Evaluation`. Conventions (``../shared/docs/design.md``): residuals
``rho = (z - zm)/sigma``, ``J = d rho / d x``, gradient ``J^T rho`` of
``0.5*||rho||^2``; the reported ``fval`` is the full negative log-likelihood.
The scale chain ``d theta / d x`` is applied once, at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from bngfit.errors import SimulationFailure
from bngfit.likelihood._noise import (
    CODE_KERNEL,
    FAMILY_CODE,
    LN10,
    LOG_2PI,
    SIGMA_RES_OFFSET,
    TRANSFORM_CODE,
    kernel_terms,
    log_jacobian_term,
    transform,
    transform_one,
)
from bngfit.observe._transforms import normalize, normalize_values
from bngfit.plan._compile import compile_plan
from bngfit.problem._problem import SHAPE_FAMILIES, NoiseFamily, Problem
from bngfit.problem._scales import dtheta_dx, scale_codes, unscale
from bngfit.simulate._engine import Engine, SolverSettings

from ._evaluation import Evaluation
from ._status import EvalStatus, nonfinite_message

log = logging.getLogger(__name__)


def _shape_vectors(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Each measurement's noise shape parameter: constants, and free-parameter indices.

    Returns
    -------
    const : ndarray, shape (n_meas,)
        The value where it is fixed (1.0 where the family has no shape).
    idx : ndarray of int, shape (n_meas,)
        Index into theta where it is a free parameter, else -1.

    Raises
    ------
    UnsupportedError
        A shape family without a shape, or a shape naming no problem parameter.
    """
    from bngfit.errors import UnsupportedError

    free = {p.id: i for i, p in enumerate(problem.free)}
    nominal = {p.id: p.nominal for p in problem.parameters}
    per_obs = {}
    for o in problem.observables.values():
        if o.family in SHAPE_FAMILIES and o.shape is None:
            raise UnsupportedError(f"noise family {o.family.value} needs a shape parameter",
                                   id=o.id)
        shape = 1.0 if o.shape is None else o.shape
        if isinstance(shape, str):
            if shape in free:
                per_obs[o.id] = (0.0, free[shape])
            elif shape in nominal:
                per_obs[o.id] = (float(nominal[shape]), -1)
            else:
                raise UnsupportedError(f"shape parameter '{shape}' is no problem parameter",
                                       id=o.id, value=shape)
        else:
            per_obs[o.id] = (float(shape), -1)
    pairs = [per_obs[o] for o in problem.measurements.observable]
    return (np.array([c for c, _ in pairs], dtype=float),
            np.array([i for _, i in pairs], dtype=int))


def _concat(parts: list[np.ndarray], empty_shape: tuple[int, ...]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.empty(empty_shape)
    return np.concatenate(parts)


class Objective:
    """Negative log-likelihood of a problem's data in optimizer space.

    Parameters
    ----------
    problem : Problem
    rtol, atol : float
        ODE solver tolerances (used identically by gradient checks).
    preeq_tmax : float
        Pre-equilibration horizon, model time units.

    Attributes
    ----------
    engines : tuple of Engine
        One simulation engine per model of the problem, in
        :attr:`Problem.models <bngfit.problem.Problem.models>` order.
    engine : Engine
        The first (for single-model problems, the only) one.
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
        # One engine per model (``engine`` is the first model's); each
        # experiment's run function is looked up once here, not per evaluation.
        self.engines = tuple(Engine(m.path, self.settings) for m in problem.models.values())
        self.engine = self.engines[0]
        self._runs = tuple(self.engines[e.model].run for e in self.plan.experiments)
        self._shares_pre = any(e.pre for e in self.plan.experiments)
        meas = problem.measurements
        obs = problem.observables
        self._codes = scale_codes(problem.x_scales)
        self._tcode = np.array([TRANSFORM_CODE[obs[o].transform] for o in meas.observable],
                               dtype=int)
        self._fcode = np.array([FAMILY_CODE[obs[o].family] for o in meas.observable],
                               dtype=int)
        self._zm, _ = transform(meas.value, self._tcode)
        self._const = float(np.sum(log_jacobian_term(meas.value, self._tcode)))
        # Trajectory penalties (qualitative constraints) are no sum of squares.
        self.has_residuals = (all(o.family is NoiseFamily.NORMAL for o in obs.values())
                              and not problem.penalties)
        self._n_x = len(problem.x_names)
        # Fast paths (same numbers): no transform at all, one noise family.
        self._all_lin = not np.any(self._tcode)
        tcodes = set(self._tcode.tolist())
        self._tuniform = tcodes.pop() if len(tcodes) == 1 else None
        self._all_log10 = bool(np.all(self._codes == 2))
        families = set(self._fcode.tolist())
        self._kernel = CODE_KERNEL.get(families.pop()) if len(families) == 1 else None
        self._shape_const, self._shape_idx = _shape_vectors(problem)
        self._has_shape = any(o.family in SHAPE_FAMILIES for o in obs.values())
        # The commonest case, Gaussian noise on untransformed observables, has a
        # fused path with fewer array passes; the general path stays the
        # reference and diagnoses invalid values.
        self._gauss_lin = self._all_lin and self.has_residuals
        self._gauss_const = 0.5 * LOG_2PI * len(meas) + self._const
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
        if x.shape != (self._n_x,):
            raise ValueError(f"x must have shape ({self._n_x},), got {x.shape}")
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

    def evaluate_profiled(self, x, sensi: int, profile) -> Evaluation:
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

    # ----------------------------------------------------------------- core
    def _evaluate(self, x: np.ndarray, sensi: bool, profile=None) -> Evaluation:
        plan = self.plan
        theta = 10.0**x if self._all_log10 else unscale(x, self._codes)
        theta_list = theta.tolist()
        nth = plan.n_theta
        ys = []
        dys = []
        if self._shares_pre:
            for engine in self.engines:
                engine.new_point()
        for exp, run in zip(plan.experiments, self._runs, strict=True):
            main = exp.main.inputs(theta, theta_list, sensi)
            pre = tuple([p.inputs(theta, theta_list, sensi) for p in exp.pre]) if exp.pre else ()
            try:
                y, dy = run(exp.outputs, exp.grid, main, pre, exp.sens_params, nth, sensi)
            except SimulationFailure as err:
                where = f"condition '{exp.condition_id}'" + (
                    f" (pre-equilibration '{exp.preeq_id}')" if exp.preeq_id else "") + (
                    f" of model '{list(self.problem.models)[exp.model]}'"
                    if len(self.engines) > 1 else "")
                return self._failed(x, sensi, EvalStatus.SIMULATION_FAILED,
                                    f"{where}: {err}")
            ys.append(y.reshape(-1))
            if sensi:
                dys.append(dy.reshape(-1, nth))
        y_flat = _concat(ys, (0,))
        dy_flat = _concat(dys, (0, nth)) if sensi else None
        h, dh, sig, dsig = plan.observe(y_flat, dy_flat, theta)
        if plan.normalizations:
            h, dh, why = normalize(plan.normalizations, h, dh, y_flat, dy_flat)
            if why is not None:
                return self._failed(x, sensi, EvalStatus.INVALID_VALUE, why)
        if profile is not None:
            # The simulation does not depend on these scales: set them from it.
            profile.set_optimum(x, theta, h, sig, self._zm, self._tcode)
        ev = self._likelihood(x, theta, h, dh, sig, dsig, sensi)
        if plan.penalties and ev.ok:
            ev = self._add_penalties(ev, theta, y_flat, dy_flat, sensi)
        if sensi and ev.ok and not np.isfinite(ev.grad).all():
            # A finite value with a NaN/inf gradient is no direction to follow.
            why = nonfinite_message("gradient", ev.grad, self.x_names)
            log.debug("evaluation invalid at x=%s: %s", x, why)
            return dataclasses.replace(ev, _res=None, _sres=None, _deferred=None,
                                       status=EvalStatus.INVALID_GRADIENT, message=why)
        return ev

    def _add_penalties(self, ev: Evaluation, theta, y, dy, sensi) -> Evaluation:
        """Add the trajectory penalties (and their gradients) to an evaluation."""
        total = 0.0
        g = np.zeros(theta.size) if sensi else None
        for spec in self.plan.penalties:
            series, dseries = {}, {}
            for name, ref, norm in zip(spec.names, spec.refs, spec.norms, strict=True):
                v = y[ref]
                dv = dy[ref] if sensi else None
                if norm is not None:
                    kind, nref = norm
                    v, dv, why = normalize_values(kind, y[nref], dy[nref] if sensi else None,
                                                  v, dv, f"'{name}' in {spec.penalty.label}")
                    if why is not None:
                        return self._failed(ev.x, sensi, EvalStatus.INVALID_VALUE, why)
                series[name], dseries[name] = v, dv
            value, dvalue = spec.penalty.evaluate(spec.t, series)
            if not np.isfinite(value):
                return self._failed(ev.x, sensi, EvalStatus.INVALID_VALUE,
                                    f"{spec.penalty.label}: the penalty is {value}")
            total += float(value)
            if sensi:
                for name, d in dvalue.items():
                    g += np.asarray(d, float) @ dseries[name]
        grad = None
        if sensi:
            chain = theta * LN10 if self._all_log10 else dtheta_dx(theta, self._codes)
            grad = ev.grad + g * chain
        return dataclasses.replace(ev, fval=ev.fval + total, grad=grad)

    def _failed(self, x, sensi, status, message) -> Evaluation:
        n = self.plan.n_meas
        nan = np.full(x.size, np.nan) if sensi else None
        log.debug("evaluation failed at x=%s: %s", x, message)
        return Evaluation(x, float("inf"), nan, None, None, float("inf"), np.full(n, np.nan),
                          np.full(n, np.nan), status, message)

    def _likelihood(self, x, theta, h, dh, sig, dsig, sensi) -> Evaluation:
        if self._gauss_lin:
            ev = self._likelihood_gauss(x, theta, h, dh, sig, dsig, sensi)
            if ev is not None:
                return ev
        return self._likelihood_general(x, theta, h, dh, sig, dsig, sensi)

    def _likelihood_gauss(self, x, theta, h, dh, sig, dsig, sensi) -> Evaluation | None:
        """Gaussian noise, no transforms: sum(log sigma + rho^2/2) + const.

        The gradient is ``sres.T @ res`` (the convention pin) written out:
        ``(rho/sigma) @ dh + ((1 - rho^2)/sigma) @ dsigma``, the second term
        being the residual rows ``rho`` and the sigma rows
        ``sqrt(2 log sigma + c)`` together. ``res`` and ``sres`` themselves
        are built only when read. Returns None where a value is invalid (the
        general path says which).
        """
        if not (sig.size and sig.min() > 0.0):  # also False for NaN
            return None
        inv = 1.0 / sig
        rho = (h - self._zm) * inv
        chi2 = float(rho @ rho)
        logsig = np.log(sig)
        fval = 0.5 * chi2 + float(logsig.sum()) + self._gauss_const
        if not math.isfinite(fval):
            return None
        rows = self.plan.sigma_rows
        grad = chain = None
        if sensi:
            chain = theta * LN10 if self._all_log10 else dtheta_dx(theta, self._codes)
            a = rho * inv
            g = a @ dh
            if rows.size:  # dsigma is zero outside these rows
                g += (inv - a * rho) @ dsig
            grad = g * chain

        def residuals():
            res = rho
            sres = None
            if rows.size:
                sr = np.sqrt(2.0 * logsig[rows] + SIGMA_RES_OFFSET)
                res = np.concatenate((rho, sr))
            if chain is not None:
                drho = (dh - rho[:, None] * dsig) * inv[:, None]
                if rows.size:
                    # d sr = d sigma / (sigma sr): sr * d sr is the log sigma term's gradient
                    drho = np.concatenate((drho, dsig[rows] * (inv[rows] / sr)[:, None]))
                sres = drho * chain
            return res, sres

        return Evaluation(x, fval, grad, None, None, chi2, h, sig, _deferred=residuals)

    def _likelihood_general(self, x, theta, h, dh, sig, dsig, sensi) -> Evaluation:
        meas = self.problem.measurements
        if self._all_lin:
            z, dz_dh = h, None
        elif self._tuniform is not None:
            z, dz_dh = transform_one(h, self._tuniform, bool(sensi))
        else:
            z, dz_dh = transform(h, self._tcode)
        if not np.isfinite(z).all():
            i = int(np.nonzero(~np.isfinite(z))[0][0])
            why = ("its formula has no finite value there" if not np.isfinite(h[i])
                   else "not valid under its transformation")
            return self._failed(x, sensi, EvalStatus.INVALID_VALUE,
                                f"observable '{meas.observable[i]}' is {h[i]:.6g} at "
                                f"measurement line {meas.rows[i]}, {why}")
        if not (np.isfinite(sig).all() and (sig > 0).all()):
            i = int(np.nonzero(~(np.isfinite(sig) & (sig > 0)))[0][0])
            return self._failed(x, sensi, EvalStatus.INVALID_VALUE,
                                f"noise of observable '{meas.observable[i]}' is {sig[i]:.6g} "
                                f"at measurement line {meas.rows[i]}; sigma must be finite and > 0")
        zm = self._zm
        d_dk = None
        if self._has_shape:
            idx = self._shape_idx
            shape = np.where(idx >= 0, theta[np.maximum(idx, 0)], self._shape_const)
            with np.errstate(all="ignore"):
                nllh, d_dz, d_ds, d_dk = kernel_terms(self._fcode, z, zm, sig, shape)
        elif self._kernel is not None:
            nllh, d_dz, d_ds = self._kernel(z, zm, sig)
        else:
            nllh, d_dz, d_ds = kernel_terms(self._fcode, z, zm, sig)
        fval = float(nllh.sum()) + self._const
        if not math.isfinite(fval):
            i = int(np.nonzero(~np.isfinite(nllh))[0][0])
            return self._failed(x, sensi, EvalStatus.INVALID_VALUE,
                                f"the likelihood of observable '{meas.observable[i]}' at "
                                f"measurement line {meas.rows[i]} is not finite (simulated "
                                f"{h[i]:.6g}; a negative-binomial mean and every shape "
                                "parameter must be > 0)")
        rho = (z - zm) / sig
        chi2 = float(rho @ rho)
        grad = chain = None
        if sensi:
            chain = theta * LN10 if self._all_log10 else dtheta_dx(theta, self._codes)
            # d nllh/dz * dz/dh folded into one weight vector: d_dz @ (dz_dh * dh)
            w = d_dz if dz_dh is None else d_dz * dz_dh
            g_theta = w @ dh + d_ds @ dsig
            if d_dk is not None:
                free = self._shape_idx >= 0
                np.add.at(g_theta, self._shape_idx[free], d_dk[free])
            grad = g_theta * chain
        if not self.has_residuals:
            return Evaluation(x, fval, grad, None, None, chi2, h, sig)
        sigma_rows = self.plan.sigma_rows

        def residuals():
            res = rho
            sres = None
            if sigma_rows.size:
                sr = np.sqrt(2.0 * np.log(sig[sigma_rows]) + SIGMA_RES_OFFSET)
                res = np.concatenate((rho, sr))
            if chain is not None:
                dz = dh if dz_dh is None else dz_dh[:, None] * dh
                drho = (dz - rho[:, None] * dsig) / sig[:, None]
                if sigma_rows.size:
                    dsr = dsig[sigma_rows] / (sig[sigma_rows] * sr)[:, None]
                    drho = np.concatenate((drho, dsr))
                sres = drho * chain[None, :]
            return res, sres

        return Evaluation(x, fval, grad, None, None, chi2, h, sig, _deferred=residuals)

    # ------------------------------------------------------------- helpers
    def simulate(self, x) -> Evaluation:
        """Evaluate without sensitivities (for simulation tables)."""
        return self(x, sensi=0)
