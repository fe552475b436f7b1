"""Noise parameters in closed form: the optimizers see only the other parameters.

A free parameter that is the whole noise scale of its data points, and enters
nothing else (not the model, not an observable, not another noise formula, not
a noise shape, no constraint), has its optimum given the other parameters in closed
form, from the residuals ``e = z - zm`` on the transformed scale of its ``n``
points:

- normal noise: ``sigma^2 = sum(e^2) / n``;
- Laplace noise: ``b = sum(|e|) / n``;

with weighted data (a bootstrap resample, :mod:`bngfit.objective._data`) the
weighted means, ``sum(w e^2) / sum(w)`` and ``sum(w |e|) / sum(w)``: the optimum
of ``sum w (log s + ...)``. A scale whose points all have weight 0 keeps its
value (the objective does not depend on it).

The negative log-likelihood is unimodal in the scale (``n log s + S/s^k``), so
the value clipped to the parameter's bounds is the constrained optimum. Each
evaluation sets these parameters from the same simulation (no extra solve),
and the optimizer works on the rest: hierarchical optimization (Loos et al.
2018, Bioinformatics 34:4266). Starts far from the data's noise level do not
spend their first steps, or their basin, on the noise scales.

Derivatives of the reduced objective ``f(x_r, s*(x_r))``:

- gradient: ``df/dx_r`` at ``s*`` (``df/ds = 0`` at an interior optimum, and a
  clipped ``s*`` is locally constant);
- residuals: the full residual vector at ``s*`` (its squared norm still
  reproduces ``fval``); its Jacobian is ``J_r + J_s ds*/dx_r``, with
  ``dsigma*/dx_r = e . de/dx_r / (n sigma*)`` for normal noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bngfit.likelihood._noise import transform
from bngfit.observe._kernels import KernelKind, Operand
from bngfit.plan._compile import Plan
from bngfit.problem._problem import NoiseFamily, Problem
from bngfit.problem._scales import dtheta_dx, scale_codes, to_scale

from ._evaluation import Evaluation, LazyResiduals, ResidualPair
from ._status import EvalStatus

if TYPE_CHECKING:
    from ._objective import Objective

# Noise families with a closed-form scale
CLOSED_FORM = (NoiseFamily.NORMAL, NoiseFamily.LAPLACE)


@dataclass(frozen=True, kw_only=True)
class NoiseProfile:
    """The noise parameters set in closed form, and where their data are.

    Built by :meth:`create` (which derives the gather arrays) or
    :func:`find_noise_profile`.

    Attributes
    ----------
    index : ndarray of int, shape (k,)
        Their positions in ``x`` (and in theta).
    names : tuple of str, length k
    rows : tuple of ndarray of int
        Measurement rows whose noise scale is each parameter.
    laplace : ndarray of bool, shape (k,)
        Laplace (mean absolute residual) rather than normal (root mean square).
    codes : ndarray of int, shape (k,)
        Their parameter scales (0 lin, 1 log, 2 log10).
    lb, ub : ndarray, shape (k,)
        Their bounds, optimizer space.
    keep : ndarray of int, shape (n_x - k,)
        Positions in ``x`` of the parameters the optimizer sees.
    flat_rows : ndarray of int, shape (n_rows,)
        ``rows`` one after the other.
    counts, starts : ndarray of int, shape (k,)
        Length and start of each parameter's segment of ``flat_rows``.
    laplace_rows : ndarray of bool, shape (n_rows,)
        ``laplace`` of the parameter of each entry of ``flat_rows``.
    """

    index: np.ndarray
    names: tuple[str, ...]
    rows: tuple[np.ndarray, ...]
    laplace: np.ndarray
    codes: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    keep: np.ndarray
    flat_rows: np.ndarray
    counts: np.ndarray
    starts: np.ndarray
    laplace_rows: np.ndarray

    @classmethod
    def create(cls, *, index: np.ndarray, names: tuple[str, ...],
               rows: tuple[np.ndarray, ...], laplace: np.ndarray, codes: np.ndarray,
               lb: np.ndarray, ub: np.ndarray, keep: np.ndarray) -> NoiseProfile:
        """A profile, with the arrays that gather its rows derived from ``rows``.

        Parameters
        ----------
        index, names, rows, laplace, codes, lb, ub, keep
            As the attributes of the same names.

        Returns
        -------
        NoiseProfile
        """
        # One gather and one segmented sum per evaluation, not one per parameter.
        counts = np.array([r.size for r in rows], dtype=int)
        return cls(index=index, names=names, rows=rows, laplace=laplace, codes=codes, lb=lb,
                   ub=ub, keep=keep, flat_rows=np.concatenate(rows), counts=counts,
                   starts=np.concatenate(([0], np.cumsum(counts)[:-1])),
                   laplace_rows=np.repeat(laplace, counts))

    def at_optimum(self, x: np.ndarray, h: np.ndarray, sig: np.ndarray, zm: np.ndarray,
                   tcode: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The point with the optimal scales in place.

        Parameters
        ----------
        x : ndarray, shape (n_x,)
            The point, optimizer space.
        h : ndarray, shape (n_meas,)
            Simulated observables, untransformed.
        sig : ndarray, shape (n_meas,)
            Noise scales of every data point.
        zm : ndarray, shape (n_meas,)
            Transformed measurements.
        tcode : ndarray of int, shape (n_meas,)
            Each point's observable transformation.
        weights : ndarray, shape (n_meas,), optional
            The points' weights (None: all 1).

        Returns
        -------
        ndarray, shape (n_x,)
            A copy of ``x``, the scales at their optimum clipped to their
            bounds. Where a residual is not finite (a log-transformed
            observable <= 0) the scale keeps its value; the likelihood then
            reports that point.
        """
        rows = self.flat_rows
        z, _ = transform(h[rows], tcode[rows])
        e = z - zm[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            # per parameter: mean |e| (Laplace) or root mean square (normal), weighted
            terms = np.where(self.laplace_rows, np.abs(e), e * e)
            if weights is None:
                s = np.add.reduceat(terms, self.starts) / self.counts
            else:
                w = weights[rows]
                s = (np.add.reduceat(np.where(w > 0, w * terms, 0.0), self.starts)
                     / np.add.reduceat(w, self.starts))
        s = np.where(self.laplace, s, np.sqrt(s))
        ok = np.isfinite(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = np.clip(to_scale(s, self.codes), self.lb, self.ub)
        ok &= np.isfinite(xs)
        out = x.copy()
        out[self.index] = np.where(ok, xs, x[self.index])
        return out

    def noise_scales(self, theta: np.ndarray, sig: np.ndarray) -> np.ndarray:
        """The noise scales with each parameter's rows at its value.

        Parameters
        ----------
        theta : ndarray, shape (n_x,)
            Native values (those of :meth:`at_optimum`'s point).
        sig : ndarray, shape (n_meas,)
            Noise scales of every data point.

        Returns
        -------
        ndarray, shape (n_meas,)
            A copy of ``sig``.
        """
        out = sig.copy()
        out[self.flat_rows] = np.repeat(theta[self.index], self.counts)
        return out

    def reduce_jacobian(self, x: np.ndarray, theta: np.ndarray, res: np.ndarray,
                        sres: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Jacobian d res / d x_r with the scales following their optimum.

        Parameters
        ----------
        x : ndarray, shape (n_x,)
            The full point, scales at their optimum.
        theta : ndarray, shape (n_x,)
            Its native values.
        res : ndarray, shape (n_res,)
            Residuals at ``x``; the first ``n_meas`` are ``(z - zm)/sigma``.
        sres : ndarray, shape (n_res, n_x)
            Their Jacobian with the scales held fixed.
        weights : ndarray, shape (n_meas,), optional
            The points' weights (``res`` and ``sres`` are already scaled by
            their roots, so only the count becomes ``sum(w)``).

        Returns
        -------
        ndarray, shape (n_res, n_x - k)
        """
        out = sres[:, self.keep].copy()
        xs = x[self.index]
        ts = theta[self.index]
        # sres's columns of the scales are by their optimizer coordinate
        dx_dt = 1.0 / dtheta_dx(ts, self.codes)
        for k, rows in enumerate(self.rows):
            if self.laplace[k] or xs[k] <= self.lb[k] or xs[k] >= self.ub[k]:
                # Laplace noise has no residual form; a clipped scale is locally fixed.
                continue
            count = rows.size if weights is None else float(weights[rows].sum())
            if count == 0:
                continue  # no data: the scale keeps its value
            sigma = ts[k]
            e = res[rows] * sigma
            de = sigma * sres[rows][:, self.keep]  # sigma of these rows is fixed in x_r
            ds = (e @ de) / (count * sigma) * dx_dt[k]
            out += np.outer(sres[:, self.index[k]], ds)
        return out


def find_noise_profile(problem: Problem,
                       plan: Plan) -> tuple[NoiseProfile | None, dict[str, str]]:
    """The free parameters that can be set in closed form, and why others cannot.

    Parameters
    ----------
    problem : Problem
    plan : Plan
        Its compiled evaluation plan (where each noise scale comes from).

    Returns
    -------
    NoiseProfile or None
        None where no parameter qualifies.
    dict
        Noise parameter id -> why it stays with the optimizer (for parameters
        that are some data point's noise scale but do not qualify).
    """
    free = problem.free
    n = len(free)
    other_deps = _deps_outside_noise(problem, plan)
    exact: dict[int, list[np.ndarray]] = {}  # theta column -> rows whose sigma it is
    in_formula: set[int] = set()  # columns inside a noise formula (not the whole scale)
    for g in plan.groups:
        fe = g.noise
        if fe.kernel.kind is KernelKind.CONST:
            continue
        ops = fe.operands
        if fe.kernel.kind is KernelKind.NAME and ops[0].flat is None and not ops[0].quantities:
            op = ops[0]
            cols = op.theta_columns
            for col in np.unique(cols).tolist():
                exact.setdefault(col, []).append(g.rows[op.theta_positions[cols == col]])
        else:
            for op in ops:
                in_formula |= _operand_deps(op)
    why: dict[str, str] = {}
    chosen: list[tuple[int, np.ndarray, bool]] = []
    obs_of = problem.measurements.observable
    for col, parts in sorted(exact.items()):
        p = free[col]
        rows = np.sort(np.concatenate(parts))
        families = {problem.observables[obs_of[i]].family for i in rows.tolist()}
        reason = None
        if col in in_formula:
            reason = "it also enters a noise formula"
        elif col in other_deps:
            reason = other_deps[col]
        elif len(families) != 1 or next(iter(families)) not in CLOSED_FORM:
            reason = "its data points do not all have normal or all Laplace noise"
        elif p.scale == "lin" and not p.lb > 0:
            reason = "its lower bound on a linear scale is not > 0"
        if reason is None:
            chosen.append((col, rows, next(iter(families)) is NoiseFamily.LAPLACE))
        else:
            why[p.id] = reason
    if not chosen:
        return None, why
    index = np.array([c for c, _, _ in chosen], dtype=int)
    codes = scale_codes([free[c].scale for c in index.tolist()])
    lb = np.asarray(problem.lb, float)[index]
    ub = np.asarray(problem.ub, float)[index]
    keep = np.array([i for i in range(n) if i not in set(index.tolist())], dtype=int)
    return NoiseProfile.create(
        index=index, names=tuple(free[c].id for c in index.tolist()),
        rows=tuple(r for _, r, _ in chosen),
        laplace=np.array([lap for _, _, lap in chosen], dtype=bool), codes=codes, lb=lb,
        ub=ub, keep=keep), why


def _operand_deps(op: Operand) -> set[int]:
    """Theta columns a formula operand depends on (model outputs excluded)."""
    if op.flat is not None:
        return set()
    deps = set(op.theta_columns.tolist())
    for _, q in op.quantities:
        deps |= set(q.deps)
    return deps


def _deps_outside_noise(problem: Problem, plan: Plan) -> dict[int, str]:
    """Theta columns that enter anything but noise scales, with where."""
    out: dict[int, str] = {}
    for exp in plan.experiments:
        for phase in (exp.main, *exp.pre):
            for q in (*phase.quantities.values(), *phase.species_quantities.values()):
                for c in q.deps:
                    out.setdefault(c, "it enters the model")
    for g in plan.groups:
        for op in g.formula.operands:
            for c in _operand_deps(op):
                out.setdefault(c, "it enters an observable formula")
    if problem.penalties:
        for c in range(len(problem.free)):
            out.setdefault(c, "the problem has constraint penalties")
    for i, p in enumerate(problem.free):
        if p.objective_prior is not None:
            out.setdefault(i, "it has an objective prior")
    col = {p.id: i for i, p in enumerate(problem.free)}
    for o in problem.observables.values():
        if isinstance(o.shape, str) and o.shape in col:
            out.setdefault(col[o.shape], "it is a noise shape parameter")
    return out


class ProfiledObjective:
    """The objective on the coordinates a :class:`NoiseProfile` leaves.

    Called like :class:`~bngfit.objective.Objective` with ``x_r`` of shape
    ``(n_x - k,)``; each :class:`~bngfit.objective._evaluation.Evaluation` it returns is on
    those coordinates and keeps the full one (``Evaluation.full``, whose ``x``
    holds the closed-form scales).

    Parameters
    ----------
    objective : Objective
    profile : NoiseProfile
    """

    def __init__(self, objective: Objective, profile: NoiseProfile) -> None:
        self.objective = objective
        self.profile = profile
        self.problem = objective.problem
        self.has_residuals = objective.has_residuals
        n = len(objective.x_names)
        self._template = np.zeros(n)
        # Any in-bounds value: every evaluation replaces it.
        self._template[profile.index] = 0.5 * (profile.lb + profile.ub)
        self._cache: tuple[np.ndarray, int, Evaluation] | None = None

    @property
    def x_names(self) -> list[str]:
        """Ids of the parameters the optimizer sees."""
        names = self.objective.x_names
        return [names[i] for i in self.profile.keep.tolist()]

    def full_point(self, x_r: np.ndarray) -> np.ndarray:
        """A full point with ``x_r`` in place (the noise scales not yet set).

        Parameters
        ----------
        x_r : ndarray, shape (n_x - k,)

        Returns
        -------
        ndarray, shape (n_x,)
        """
        x = self._template.copy()
        x[self.profile.keep] = x_r
        return x

    def __call__(self, x_r: Sequence[float] | np.ndarray, sensi: int = 1) -> Evaluation:
        """Evaluate at ``x_r``, the noise scales at their optimum.

        Parameters
        ----------
        x_r : array_like, shape (n_x - k,)
        sensi : {0, 1}

        Returns
        -------
        Evaluation
            On the reduced coordinates; ``full`` is the full-space evaluation.
        """
        x_r = np.array(x_r, dtype=float)
        if x_r.shape != self.profile.keep.shape:
            raise ValueError(f"x must have shape {self.profile.keep.shape}, got {x_r.shape}")
        if self._cache is not None:
            cx, cs, cev = self._cache
            # (a value-only call does not get an evaluation made invalid by its gradient)
            if cs >= sensi and np.array_equal(cx, x_r) and (
                    sensi or cev.status != EvalStatus.INVALID_GRADIENT):
                return cev
        full = self.objective.evaluate_profiled(self.full_point(x_r), sensi, self.profile)
        grad = None if full.grad is None else full.grad[self.profile.keep]
        residuals = None
        if self.has_residuals and full.ok:
            residuals = LazyResiduals(lambda: self._reduced_residuals(full))
        ev = Evaluation(x=x_r, fval=full.fval, grad=grad, chi2=full.chi2, prior=full.prior,
                        simulation=full.simulation, sigma=full.sigma, status=full.status,
                        message=full.message, residuals=residuals, full=full)
        self._cache = (x_r.copy(), int(sensi), ev)
        return ev

    def _reduced_residuals(self, full: Evaluation) -> ResidualPair:
        res, sres = full.res, full.sres
        if sres is None:
            return res, None
        return res, self.profile.reduce_jacobian(full.x, self.problem.to_native(full.x),
                                                 res, sres, self.objective.weights)

    def clear_cache(self) -> None:
        """Forget the last evaluation (and the objective's)."""
        self._cache = None
        self.objective.clear_cache()


class Space:
    """The coordinates an optimizer works on: all of ``x``, or those a profile leaves.

    Parameters
    ----------
    objective : Objective
    profile : NoiseProfile or None
        None: the optimizer sees every free parameter.
    """

    def __init__(self, objective: Objective, profile: NoiseProfile | None) -> None:
        self.profile = profile
        self.objective = objective if profile is None else ProfiledObjective(objective, profile)

    def reduce(self, x: np.ndarray) -> np.ndarray:
        """The optimizer's coordinates of full points.

        Parameters
        ----------
        x : array_like, shape (..., n_x)

        Returns
        -------
        ndarray, shape (..., n_opt)
        """
        x = np.asarray(x, float)
        return x if self.profile is None else x[..., self.profile.keep]

    @staticmethod
    def full(ev: Evaluation) -> Evaluation:
        """The full-space evaluation behind an optimizer's evaluation.

        Parameters
        ----------
        ev : Evaluation

        Returns
        -------
        Evaluation
        """
        return ev if ev.full is None else ev.full


def noise_profile(objective: Objective) -> NoiseProfile | None:
    """The closed-form noise parameters of an objective's problem.

    Parameters
    ----------
    objective : Objective

    Returns
    -------
    NoiseProfile or None
        None where no parameter qualifies.
    """
    return find_noise_profile(objective.problem, objective.plan)[0]
