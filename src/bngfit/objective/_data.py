"""The likelihood of the data: one term of the objective (:mod:`bngfit.objective._terms`).

Each data point's observable ``h`` is transformed (lin, log, log10) to ``z`` and
scored by its noise family's kernel (:mod:`bngfit.likelihood._noise`) against the
transformed measurement ``zm`` with scale ``sigma``. The value is the full
negative log-likelihood of the untransformed measurements, constants included;
for Gaussian noise the residuals are ``rho = (z - zm) / sigma``, with one more
residual ``sqrt(2 log sigma + C)`` per point whose sigma moves with the
parameters, so that ``0.5 * ||res||^2`` reproduces the value up to a constant
and ``sres.T @ res`` its gradient (``../shared/docs/design.md``).

Gaussian noise on untransformed observables, the commonest case, has a fused
path (:meth:`DataLikelihood.gaussian`) with fewer array passes; the general path
(:meth:`DataLikelihood.general`) is the reference, gives the same numbers, and
says why a value is invalid.

Weights: each data point may carry a multiplicity ``w_i >= 0`` (a bootstrap
resample drawn with replacement is integer weights, :mod:`bngfit.optimize._bootstrap`).
The value is then ``sum_i w_i nllh_i`` with every per-point constant weighted
too, so integer weights give exactly the likelihood of the data set with point
``i`` written ``w_i`` times; the gradient is its derivative, ``chi2`` the
weighted sum ``sum w_i rho_i^2``, and every residual (the sigma rows too) is
scaled by ``sqrt(w_i)``, so ``0.5 ||res||^2`` and ``sres.T @ res`` still
reproduce the value (up to a constant) and the gradient. A point of weight 0
takes no part at all: its simulated value is not checked either.
"""

from __future__ import annotations

import math

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.likelihood._noise import (
    CODE_KERNEL,
    FAMILY_CODE,
    LOG_2PI,
    SIGMA_RES_OFFSET,
    TRANSFORM_CODE,
    kernel_terms,
    log_jacobian_term,
    transform,
    transform_one,
)
from bngfit.plan._compile import Plan
from bngfit.problem._problem import SHAPE_FAMILIES, NoiseFamily, Problem

from ._evaluation import ResidualPair
from ._terms import Contribution, Observation


def shape_vectors(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Each measurement's noise shape parameter: constants, and free-parameter indices.

    Parameters
    ----------
    problem : Problem

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


def check_weights(weights: object, n_meas: int) -> np.ndarray:
    """Per-point weights as a float array, checked.

    Parameters
    ----------
    weights : array_like, shape (n_meas,)
        Multiplicity of each measurement (problem order), each finite and >= 0,
        at least one > 0.
    n_meas : int

    Returns
    -------
    ndarray, shape (n_meas,)
        A read-only copy.

    Raises
    ------
    InputError
        Wrong length, a negative or non-finite weight (the first one's index is
        named), or all weights 0.
    """
    w = np.array(weights, dtype=float).reshape(-1)
    if w.shape != (n_meas,):
        raise InputError(f"weights must have one entry per measurement ({n_meas}), got "
                         f"{w.size}", id="weights", value=str(np.shape(weights)))
    bad = np.nonzero(~(np.isfinite(w) & (w >= 0)))[0]
    if bad.size:
        raise InputError(f"weight of measurement {int(bad[0])} must be finite and >= 0",
                         id="weights", value=repr(float(w[bad[0]])))
    if not w.any():
        raise InputError("at least one weight must be > 0 (nothing would be fitted)",
                         id="weights", value="all 0")
    w.flags.writeable = False
    return w


class DataLikelihood:
    """Negative log-likelihood of a problem's measurements: the data's term.

    A :class:`~bngfit.objective._terms.Term`.

    Parameters
    ----------
    problem : Problem
    plan : Plan
        Its compiled evaluation plan (:attr:`Plan.sigma_rows`: the points whose
        sigma moves with theta).
    weights : array_like, shape (n_meas,), optional
        Multiplicity of each data point (see the module notes; checked by
        :func:`check_weights`). None: every point once.

    Attributes
    ----------
    has_residuals : bool
        Every observable has Gaussian noise.
    fused : bool
        :meth:`evaluate` takes the fused Gaussian path (Gaussian noise, no
        transformation); set it False for the general path alone.
    measured : ndarray, shape (n_meas,)
        The measurements, transformed (``zm``).
    transform_codes : ndarray of int, shape (n_meas,)
        Each point's transformation (0 lin, 1 log, 2 log10).
    weights : ndarray, shape (n_meas,), or None
        The points' weights (None: all 1).
    """

    def __init__(self, problem: Problem, plan: Plan, weights: object = None) -> None:
        meas = problem.measurements
        obs = problem.observables
        self._observable = meas.observable
        self._line = meas.rows
        self._sigma_rows = plan.sigma_rows
        self.transform_codes = np.array([TRANSFORM_CODE[obs[o].transform]
                                         for o in meas.observable], dtype=int)
        self._fcode = np.array([FAMILY_CODE[obs[o].family] for o in meas.observable],
                               dtype=int)
        self.measured, _ = transform(meas.value, self.transform_codes)
        self.weights = None if weights is None else check_weights(weights, len(meas))
        w = self.weights
        # sqrt(w) scales each residual row; only points of weight > 0 are checked
        self._root_w = None if w is None else np.sqrt(w)
        self._used = None if w is None else w > 0
        # change of variables: the density of the untransformed measurements
        logjac = log_jacobian_term(meas.value, self.transform_codes)
        self._const = float(np.sum(logjac if w is None else
                                   np.where(self._used, w * logjac, 0.0)))
        self.has_residuals = all(o.family is NoiseFamily.NORMAL for o in obs.values())
        self._all_lin = not np.any(self.transform_codes)
        tcodes = set(self.transform_codes.tolist())
        self._tuniform = tcodes.pop() if len(tcodes) == 1 else None
        families = set(self._fcode.tolist())
        self._kernel = CODE_KERNEL.get(families.pop()) if len(families) == 1 else None
        self._shape_const, self._shape_idx = shape_vectors(problem)
        self._has_shape = any(o.family in SHAPE_FAMILIES for o in obs.values())
        # one transformation for every point (lin, log or log10) and Gaussian noise
        self.fused = self.has_residuals and (self._all_lin or self._tuniform is not None)
        self._gauss_const = 0.5 * LOG_2PI * (len(meas) if w is None else float(w.sum())) \
            + self._const

    def evaluate(self, observation: Observation, sensi: bool) -> Contribution:
        """The value and derivatives at a point (:class:`~bngfit.objective._terms.Term`)."""
        if self.fused:
            out = self.gaussian(observation, sensi)
            if out is not None:
                return out
        return self.general(observation, sensi)

    def gaussian(self, observation: Observation, sensi: bool) -> Contribution | None:
        """The fused path: Gaussian noise, one transformation (lin, log, log10) for all.

        ``sum(log sigma + rho^2/2) + const`` with ``rho = (z(h) - z(m))/sigma``;
        the gradient is ``sres.T @ res`` (the convention pin) written out:
        ``(rho/sigma) @ dz + ((1 - rho^2)/sigma) @ dsigma``, ``dz = z'(h) dh``,
        the second term being the residual rows ``rho`` and the sigma rows
        ``sqrt(2 log sigma + c)`` together.

        Returns None where a value is invalid (:meth:`general` says which).
        """
        h, dh = observation.h, observation.dh
        sig, dsig = observation.sigma, observation.dsigma
        if not (sig.size and sig.min() > 0.0):  # also False for NaN
            return None
        if not self._all_lin:
            if not h.min() > 0.0:  # a log of 0, a negative or NaN: general says where
                return None
            h, dz_dh = transform_one(h, self._tuniform, bool(sensi))
            if sensi:
                dh = dh * dz_dh[:, None]
        inv = 1.0 / sig
        rho = (h - self.measured) * inv
        w = self.weights
        wrho = rho if w is None else w * rho
        chi2 = float(wrho @ rho)
        logsig = np.log(sig)
        fval = 0.5 * chi2 + float(logsig.sum() if w is None else w @ logsig) \
            + self._gauss_const
        if not math.isfinite(fval):
            return None
        rows = self._sigma_rows
        grad = None
        if sensi:
            a = wrho * inv
            grad = a @ dh
            if rows.size:  # dsigma is zero outside these rows
                grad += ((inv if w is None else w * inv) - a * rho) @ dsig

        def residuals() -> ResidualPair:
            res = rho
            drho = None
            if rows.size:
                sr = np.sqrt(2.0 * logsig[rows] + SIGMA_RES_OFFSET)
                res = np.concatenate((rho, sr))
            if sensi:
                drho = (dh - rho[:, None] * dsig) * inv[:, None]
                if rows.size:
                    # d sr = d sigma / (sigma sr): sr * d sr is the log sigma term's gradient
                    drho = np.concatenate((drho, dsig[rows] * (inv[rows] / sr)[:, None]))
            return self._weighted(res, drho)

        return Contribution(fval=fval, grad=grad, chi2=chi2, residuals=residuals)

    def _weighted(self, res: np.ndarray, drho: np.ndarray | None) -> ResidualPair:
        """Residuals and their Jacobian scaled by ``sqrt(w)`` row by row (sigma rows too).

        Rows of weight-0 points are exactly 0, whatever their unweighted value
        (which may be NaN there: such points are not checked).
        """
        if self._root_w is None:
            return res, drho
        rows = self._sigma_rows
        rw = np.concatenate((self._root_w, self._root_w[rows])) if rows.size else self._root_w
        used = rw > 0
        with np.errstate(invalid="ignore"):
            res = np.where(used, res * rw, 0.0)
            if drho is not None:
                drho = np.where(used[:, None], drho * rw[:, None], 0.0)
        return res, drho

    def general(self, observation: Observation, sensi: bool) -> Contribution:
        """The reference path: every transformation and noise family.

        The contribution is not ok where a transformed observable, a noise scale
        or a point's likelihood is not finite (the message names the observable
        and its measurement line).
        """
        h, sig = observation.h, observation.sigma
        if self._all_lin:
            z, dz_dh = h, None
        elif self._tuniform is not None:
            z, dz_dh = transform_one(h, self._tuniform, bool(sensi))
        else:
            z, dz_dh = transform(h, self.transform_codes)
        why = self._invalid_input(h, z, sig)
        if why is not None:
            return Contribution.invalid(why)
        with np.errstate(all="ignore"):  # points of weight 0 may have no value
            nllh, d_dz, d_ds, d_dk = self._weigh(*self._kernels(z, sig, observation.theta))
        fval = float(nllh.sum()) + self._const
        if not math.isfinite(fval):
            i = int(np.nonzero(~np.isfinite(nllh))[0][0])
            return Contribution.invalid(
                f"the likelihood of observable '{self._observable[i]}' at measurement line "
                f"{self._line[i]} is not finite (simulated {h[i]:.6g}; a negative-binomial "
                "mean and every shape parameter must be > 0)")
        with np.errstate(all="ignore"):
            rho = (z - self.measured) / sig
        if self._used is not None:
            rho = np.where(self._used, rho, 0.0)
        chi2 = float(rho @ rho if self.weights is None else (self.weights * rho) @ rho)
        grad = None
        if sensi:
            # d nllh/dz * dz/dh folded into one weight vector: d_dz @ (dz_dh * dh)
            w = d_dz if dz_dh is None else d_dz * dz_dh
            if self._used is not None and dz_dh is not None:
                w = np.where(self._used, w, 0.0)  # dz/dh may be NaN at a weight-0 point
            grad = w @ observation.dh + d_ds @ observation.dsigma
            if d_dk is not None:
                free = self._shape_idx >= 0
                np.add.at(grad, self._shape_idx[free], d_dk[free])
        if not self.has_residuals:
            return Contribution(fval=fval, grad=grad, chi2=chi2)
        rows = self._sigma_rows

        def residuals() -> ResidualPair:
            res = rho
            drho = None
            with np.errstate(all="ignore"):  # NaN only at points of weight 0
                if rows.size:
                    sr = np.sqrt(2.0 * np.log(sig[rows]) + SIGMA_RES_OFFSET)
                    res = np.concatenate((rho, sr))
                if sensi:
                    dh, dsig = observation.dh, observation.dsigma
                    dz = dh if dz_dh is None else dz_dh[:, None] * dh
                    drho = (dz - rho[:, None] * dsig) / sig[:, None]
                    if rows.size:
                        dsr = dsig[rows] / (sig[rows] * sr)[:, None]
                        drho = np.concatenate((drho, dsr))
            return self._weighted(res, drho)

        return Contribution(fval=fval, grad=grad, chi2=chi2, residuals=residuals)

    def _weigh(self, nllh: np.ndarray, d_dz: np.ndarray, d_ds: np.ndarray,
               d_dk: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Each point's nllh and its partials times its weight (0 where the weight is 0)."""
        if self.weights is None:
            return nllh, d_dz, d_ds, d_dk
        used, w = self._used, self.weights
        out = [np.where(used, w * a, 0.0) for a in (nllh, d_dz, d_ds)]
        return out[0], out[1], out[2], None if d_dk is None else np.where(used, w * d_dk, 0.0)

    def _invalid_input(self, h: np.ndarray, z: np.ndarray, sig: np.ndarray) -> str | None:
        """Why a transformed observable or a noise scale is invalid (None: all are valid).

        Points of weight 0 are not checked.
        """
        bad_z = ~np.isfinite(z)
        bad_s = ~(np.isfinite(sig) & (sig > 0))
        if self._used is not None:
            bad_z &= self._used
            bad_s &= self._used
        if bad_z.any():
            i = int(np.nonzero(bad_z)[0][0])
            why = ("its formula has no finite value there" if not np.isfinite(h[i])
                   else "not valid under its transformation")
            return (f"observable '{self._observable[i]}' is {h[i]:.6g} at measurement line "
                    f"{self._line[i]}, {why}")
        if bad_s.any():
            i = int(np.nonzero(bad_s)[0][0])
            return (f"noise of observable '{self._observable[i]}' is {sig[i]:.6g} at "
                    f"measurement line {self._line[i]}; sigma must be finite and > 0")
        return None

    def _kernels(self, z: np.ndarray, sig: np.ndarray, theta: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Each point's nllh and its partials by z, sigma and (None without) the shape."""
        if self._has_shape:
            idx = self._shape_idx
            shape = np.where(idx >= 0, theta[np.maximum(idx, 0)], self._shape_const)
            with np.errstate(all="ignore"):
                return kernel_terms(self._fcode, z, self.measured, sig, shape)
        if self._kernel is not None:
            return (*self._kernel(z, self.measured, sig), None)
        return (*kernel_terms(self._fcode, z, self.measured, sig), None)
