"""Profile likelihoods: the held objective, the march along one parameter, the result.

A profile of parameter ``i`` holds ``x_i`` at a value ``s`` (optimizer space)
and minimizes the objective over the other coordinates
(:class:`HeldObjective`: the full objective's fval, and its gradient, residuals
and residual Jacobian with column ``i`` left out, so every gradient optimizer
runs on it unchanged). From the fit's best point ``s0`` it steps in each
direction, each point warm-started from the previous one, until the rise
``fval - fval_best`` reaches the likelihood-ratio threshold
``chi2.ppf(alpha, 1) / 2`` or the bound is reached.

The step adapts to the rise: each step aims at a rise of
``target_fraction`` of the threshold, the last step's length scaled by the
target over the last step's rise, clipped to ``[shrink, grow]`` and to
``[min_step, max_step]`` (fractions of the parameter's bound interval).
Once a point lies above the threshold, regula falsi points (bisection where
that would stall) between the two points around the crossing bring the rise at the nearer one within
``refine_rtol`` of the threshold; the interval end is the linear interpolation
between them. What the next point is depends only on a side's points so far
(:func:`next_point`): a profile resumed from stored points computes what an
uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bngfit.errors import InputError
from bngfit.objective._evaluation import Evaluation, LazyResiduals
from bngfit.objective._objective import Objective
from bngfit.result._bounds import near_bounds
from bngfit.result._profile import (
    FLAT_FRACTION,
    ParameterProfile,
    ProfileClass,
    ProfilePoint,
    SideEnd,
)

from ._local import OptimizerName, minimize


@dataclass(frozen=True, kw_only=True)
class ProfileSteps:
    """How a profile steps (lengths as fractions of a parameter's bound interval).

    Attributes
    ----------
    first_step : float
        The first step from the best point.
    min_step, max_step : float
        Limits of a step.
    target_fraction : float
        The rise per step aimed at, as a fraction of the threshold.
    grow, shrink : float
        Limits of the factor from one step's length to the next.
    max_points : int
        Points per side at most (then the side ends open: ``max_points``).
    refine_rtol : float
        The crossing is refined (regula falsi, with bisection where it would
        stall or far above the threshold) until a point's rise is within this
        fraction of the threshold of it.
    max_refine : int
        Refining points per side at most.
    """

    first_step: float = 0.01
    min_step: float = 1e-6
    max_step: float = 0.1
    target_fraction: float = 0.2
    grow: float = 2.0
    shrink: float = 0.5
    max_points: int = 100
    refine_rtol: float = 1e-4
    max_refine: int = 40

    def record(self) -> dict:
        """JSON-ready settings."""
        return asdict(self)


# ------------------------------------------------------------ held objective
class HeldObjective:
    """The objective over every coordinate but ``index``, which is held at ``value``.

    Called like :class:`~bngfit.objective.Objective` with ``x_r`` of shape
    ``(n_x - 1,)``; each evaluation is on those coordinates and keeps the full
    one (``Evaluation.full``).

    Parameters
    ----------
    objective : Objective
    index : int
        The held coordinate.
    value : float
        Its value, optimizer space.
    """

    def __init__(self, objective: Objective, index: int, value: float) -> None:
        self.objective = objective
        self.problem = objective.problem
        self.has_residuals = objective.has_residuals
        n = len(objective.x_names)
        self.index, self.value = int(index), float(value)
        self.keep = np.array([j for j in range(n) if j != self.index], dtype=int)
        self._n = n

    @property
    def x_names(self) -> list[str]:
        """Ids of the coordinates the optimizer sees."""
        names = self.objective.x_names
        return [names[j] for j in self.keep.tolist()]

    def full_point(self, x_r: np.ndarray) -> np.ndarray:
        """The full point, shape (n_x,), with ``x_r`` in place and the held value."""
        x = np.empty(self._n)
        x[self.keep] = x_r
        x[self.index] = self.value
        return x

    def __call__(self, x_r: Sequence[float] | np.ndarray, sensi: int = 1) -> Evaluation:
        """Evaluate at ``x_r``, shape (n_x - 1,); derivatives on those coordinates."""
        x_r = np.array(x_r, dtype=float)
        if x_r.shape != self.keep.shape:
            raise ValueError(f"x must have shape {self.keep.shape}, got {x_r.shape}")
        full = self.objective(self.full_point(x_r), sensi)
        keep = self.keep
        grad = None if full.grad is None else full.grad[keep]
        residuals = None
        if full.residuals is not None:
            def reduced() -> tuple[np.ndarray, np.ndarray | None]:
                sres = full.sres
                return full.res, None if sres is None else sres[:, keep]
            residuals = LazyResiduals(reduced)
        return Evaluation(x=x_r, fval=full.fval, grad=grad, chi2=full.chi2, prior=full.prior,
                          simulation=full.simulation, sigma=full.sigma, status=full.status,
                          message=full.message, residuals=residuals, full=full)

    def clear_cache(self) -> None:
        """Forget the objective's last evaluation."""
        self.objective.clear_cache()


def optimize_held(objective: Objective, index: int, value: float, x_start: np.ndarray,
                  lb: np.ndarray, ub: np.ndarray, optimizer: OptimizerName,
                  options: dict) -> tuple[np.ndarray, float, int, str]:
    """Minimize over every coordinate but ``index`` (held at ``value``), from ``x_start``.

    Returns
    -------
    x : ndarray, shape (n_x,)
        The end point (full space).
    fval : float
        Its objective value (``inf``: no valid evaluation).
    n_fval : int
    message : str
    """
    held = HeldObjective(objective, index, value)
    keep = held.keep
    x0 = np.clip(np.asarray(x_start, float)[keep], lb[keep], ub[keep])
    if keep.size == 0:
        ev = objective(held.full_point(x0), sensi=0)
        return held.full_point(x0), float(ev.fval) if ev.ok else float("inf"), 1, \
            "nothing to optimize" if ev.ok else ev.message
    result, counted = minimize(held, x0, lb[keep], ub[keep], optimizer, options)
    best = counted.best
    if best is None:
        return held.full_point(x0), float("inf"), counted.n_fval, \
            f"{result.status.value}: {result.message}"
    return held.full_point(best.x), float(best.fval), counted.n_fval, \
        f"{result.status.value}: {result.message}"


# ------------------------------------------------------------------ the march
@dataclass(frozen=True)
class Side:
    """One direction of one parameter's profile: what the march needs to know.

    ``s0``: the best value; ``bound``: the bound in this direction; ``span``:
    the length steps are fractions of (the bound interval, or
    ``10 * max(1, |s0|)`` where a bound is infinite).
    """

    index: int
    direction: int
    s0: float
    bound: float
    span: float
    x_best: np.ndarray
    fval_best: float
    threshold: float


def side_of(index: int, direction: int, x_best: np.ndarray, fval_best: float,
            lb: np.ndarray, ub: np.ndarray, threshold: float) -> Side:
    """The :class:`Side` of parameter ``index`` in ``direction`` (-1 or +1)."""
    s0 = float(x_best[index])
    width = float(ub[index] - lb[index])
    span = width if np.isfinite(width) else 10.0 * max(1.0, abs(s0))
    bound = float(lb[index] if direction < 0 else ub[index])
    return Side(index, direction, s0, bound, span, np.asarray(x_best, float), fval_best,
                threshold)


def _rise(side: Side, p: ProfilePoint) -> float:
    return p.fval - side.fval_best


def _bracket(side: Side, points: Sequence[ProfilePoint]
             ) -> tuple[tuple[float, float, np.ndarray], ProfilePoint] | None:
    """The crossing's bracket: (value, rise, x) of the farthest point below, the nearest above.

    Failed points (fval ``inf``) are not points of the profile: they bracket nothing.
    """
    points = [p for p in points if np.isfinite(p.fval)]
    above = [p for p in points if _rise(side, p) >= side.threshold]
    if not above:
        return None
    a = min(above, key=lambda p: abs(p.value - side.s0))
    below = [(side.s0, 0.0, side.x_best)] + [
        (p.value, _rise(side, p), p.x) for p in points
        if _rise(side, p) < side.threshold and abs(p.value - side.s0) < abs(a.value - side.s0)]
    return max(below, key=lambda b: abs(b[0] - side.s0)), a


def next_point(side: Side, points: Sequence[ProfilePoint], st: ProfileSteps
               ) -> tuple[float, np.ndarray] | SideEnd:
    """Where the side's next point goes (value and warm start), or why the side ended.

    Parameters
    ----------
    side : Side
    points : sequence of ProfilePoint
        The side's points so far, in the order computed.
    st : ProfileSteps

    Returns
    -------
    (float, ndarray) or SideEnd
    """
    if points and not np.isfinite(points[-1].fval):
        return SideEnd.FAILED
    d, thr = side.direction, side.threshold
    bracket = _bracket(side, points)
    if bracket is not None:
        (sb, rb, xb), a = bracket
        ra = _rise(side, a)
        first = min(p.seq for p in points if _rise(side, p) >= thr)
        refined = [p for p in points if p.seq > first]
        tol = st.refine_rtol * thr
        if (ra - thr <= tol or thr - rb <= tol or len(refined) >= st.max_refine
                or abs(a.value - sb) <= st.min_step * side.span):
            return SideEnd.CROSSED
        # regula falsi; bisection far above the threshold (a kink, e.g. another
        # parameter meeting its bound) and where the last two refining points
        # fell on one side (regula falsi stalling on one end of the bracket)
        stalled = len(refined) >= 2 and (
            (_rise(side, refined[-1]) >= thr) == (_rise(side, refined[-2]) >= thr))
        if ra > 2.0 * thr or stalled:
            return 0.5 * (sb + a.value), xb
        return sb + (thr - rb) / (ra - rb) * (a.value - sb), xb
    if len(points) >= st.max_points:
        return SideEnd.MAX_POINTS
    last_s, last_r, last_x = (side.s0, 0.0, side.x_best) if not points else (
        points[-1].value, _rise(side, points[-1]), points[-1].x)
    if d * (last_s - side.bound) >= 0:
        return SideEnd.BOUND
    if not points:
        h = st.first_step * side.span
    else:
        prev_s, prev_r = (side.s0, 0.0) if len(points) == 1 else (
            points[-2].value, _rise(side, points[-2]))
        rose = last_r - prev_r
        want = st.target_fraction * thr
        factor = st.grow if rose <= want / st.grow else max(st.shrink, want / rose)
        h = abs(last_s - prev_s) * factor
        h = min(max(h, st.min_step * side.span), st.max_step * side.span)
    s = last_s + d * h
    return (side.bound if d * (s - side.bound) > 0 else s), last_x


def point_at(side: Side, parameter: str, seq: int, value: float, native: float,
             x: np.ndarray, fval: float, lb: np.ndarray, ub: np.ndarray,
             names: Sequence[str], n_fval: int, wall_s: float, message: str) -> ProfilePoint:
    """A finished point, with the other parameters at bounds flagged."""
    others = [j for j in range(len(names)) if j != side.index]
    flags = near_bounds(x[others], lb[others], ub[others], [names[j] for j in others]) \
        if np.isfinite(fval) else {}
    return ProfilePoint(parameter, side.direction, seq, float(value), float(native),
                        float(fval), np.asarray(x, float), tuple(flags), int(n_fval),
                        float(wall_s), message)


def crossing(side: Side, points: Sequence[ProfilePoint]) -> float | None:
    """The threshold's crossing on this side, linearly interpolated (None: not crossed)."""
    bracket = _bracket(side, points)
    if bracket is None:
        return None
    (sb, rb, _), a = bracket
    ra = _rise(side, a)
    return sb + (side.threshold - rb) / (ra - rb) * (a.value - sb)


def parameter_profile(parameter: str, scale: str, sides: Sequence[Side],
                      points: Sequence[Sequence[ProfilePoint]],
                      st: ProfileSteps) -> ParameterProfile:
    """One parameter's profile from its two sides' points (lower side first)."""
    ends = []
    for side, pts in zip(sides, points, strict=True):
        nxt = next_point(side, pts, st)
        ends.append(nxt if isinstance(nxt, SideEnd) else SideEnd.NOT_RUN)
    lo, hi = (crossing(s, p) for s, p in zip(sides, points, strict=True))
    rises = [q.fval - sides[0].fval_best for pts in points for q in pts if np.isfinite(q.fval)]
    max_rise = max([0.0, *rises])
    if ends == [SideEnd.CROSSED, SideEnd.CROSSED]:
        cls = ProfileClass.IDENTIFIABLE
    elif ends == [SideEnd.BOUND, SideEnd.BOUND] and max_rise < FLAT_FRACTION * sides[0].threshold:
        cls = ProfileClass.STRUCTURALLY_FLAT
    else:
        cls = ProfileClass.PRACTICALLY_NON_IDENTIFIABLE
    ordered = tuple(sorted((q for pts in points for q in pts), key=lambda q: q.value))
    return ParameterProfile(parameter, scale, sides[0].s0, ordered, lo, hi, ends[0], ends[1],
                            cls, max_rise)


def free_indices(names: Sequence[str], parameters: Sequence[str] | None,
                 all_ids: Sequence[str] = ()) -> list[int]:
    """The indices of the parameters to profile (default: every free one), checked."""
    if parameters is None:
        return list(range(len(names)))
    if isinstance(parameters, str):
        parameters = [parameters]
    wanted = [str(p) for p in parameters]
    if not wanted:
        raise InputError("no parameter to profile was given", id="parameters", value="[]")
    for p in wanted:
        if p not in names:
            why = ("is fixed (not estimated)" if p in all_ids else "is no parameter of the "
                   "problem")
            raise InputError(f"cannot profile '{p}': it {why}; the free parameters are "
                             f"{', '.join(names)}", id=p)
    return sorted({names.index(p) for p in wanted})


__all__ = ["HeldObjective", "ProfileSteps", "Side", "crossing", "free_indices", "next_point",
           "optimize_held", "parameter_profile", "point_at", "side_of"]
