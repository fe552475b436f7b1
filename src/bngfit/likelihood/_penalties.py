"""Penalty of a PyBNF constraint and its exact (sub)gradient.

:func:`penalty` scores one :class:`~bngfit.problem._constraints.Constraint` on sampled
trajectories, with no simulator involved: the caller passes the independent
variable ``t`` (time, or a scanned parameter) and the series the constraint
reads, and gets the value PyBNF adds to its objective together with its
derivative with respect to every sample of every series read. Chain it with
forward sensitivities to get a gradient in parameter space.

The semantics are those of PyBNF (``docs/config.rst``, "Property (BPSL)
files"; ``pybnf/constraint.py``).

Difference
    The inequality is rewritten ``lo < hi`` (``>`` swaps the sides) and
    ``d = lo - hi`` is taken at the points enforced: its largest value over
    the window for ``always``, ``at`` and ``between`` ("worst miss"), its
    smallest for ``once`` and ``once between``.
Static model (``weight W``, ``min M``, ``altpenalty``)
    The constraint is violated when ``d > 0``, or ``d == 0`` with a strict
    ``<``/``>``. Satisfied: 0. Violated: ``W * max(M, e)`` with ``e = d``, or,
    with ``altpenalty a < b``, ``e = max(0, a - b)`` where ``a - b`` is taken
    over the same window the same way (largest, or smallest for ``once``).
    So ``<`` and ``<=`` differ only through ``M`` (at ``d == 0``).
Likelihood model (``confidence`` / ``pmin``, ``pmax``; ``tolerance`` s)
    ``-log(pmin + (pmax - pmin) * Phi(-d / s))``, the negative log of the
    probability that the constraint holds, ``Phi`` the standard normal CDF
    (PyBNF writes ``cdf(d, s, 0)``: a Gaussian of mean ``d``, sd ``s`` at 0).
    With ``s = 0`` it is a step: ``-log(pmax)`` when satisfied (``d < 0``, or
    ``d == 0`` with ``<=``/``>=``), ``-log(pmin)`` otherwise (``inf`` when
    ``pmin`` is 0). ``confidence c`` is ``pmin = (1-c)/2``, ``pmax = (1+c)/2``
    (the worked examples of the docs and the code agree on this; the docs'
    general formula ``conf + (1-2conf) cdf`` is a typo).
Points (``at`` and the ends of ``between``)
    A condition ``X=V`` is met on segment ``k`` (samples ``k``, ``k+1``)
    where ``X < V`` changes truth value; ``at`` uses the first such segment
    (every one, summing the penalties, with ``everytime``). Nothing is
    enforced (penalty 0) when the condition is never met -- note that a
    quantity that starts exactly at ``V`` and rises has not "crossed" ``V``.
    ``between C1, C2`` starts at the first crossing of ``C1`` and ends at the
    first crossing of ``C2`` on a later segment, or at the last sample.
    The split form ``A at C1 < B at C2`` reads each side at its own (first)
    point.

    PyBNF does not interpolate. It reads sample ``k`` -- the last sample
    before the crossing -- unless sample ``k+1`` equals ``V`` (relative
    tolerance 1e-5), then ``k+1``; ``before`` steps one sample further back
    (not below 0). A ``between`` window holds the samples from its start
    sample to its end sample, both included. This is the default here, and it
    reproduces PyBNF's value. With ``interpolate=True`` the point is instead
    the exact crossing of the linear interpolant of ``X``, at fraction
    ``s = (V - X_k) / (X_{k+1} - X_k)`` of the segment, and every operand is
    read by linear interpolation there; the derivative goes through ``s`` to
    the samples of ``X`` as well. A ``between`` window is then its two
    interpolated ends plus the samples strictly inside. ``before`` keeps
    PyBNF's sample rule in both modes.

Kinks and the subgradient chosen
    Where several points share the extreme difference, the first (earliest)
    one carries the gradient. At a hinge (``d == 0``, or ``e`` equal to the
    ``min`` floor, or ``altpenalty`` at 0) the flat side is taken: gradient
    0. Jumps (the ``min`` floor switching on at ``d == 0``, a step likelihood,
    a condition switching to another segment) have gradient 0 on both sides,
    the derivative almost everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from bngfit.errors import InputError
from bngfit.problem._constraints import (
    Condition,
    Constraint,
    Enforcement,
    Inequality,
    Operand,
    PenaltyModel,
)

_RTOL = 1e-5  # numpy.isclose's default relative tolerance, PyBNF's "equal to V"
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class _Link:
    """Point ``pos`` lies at fraction s of segment ``k`` of series ``var``.

    ``ds/dvar[k] = dk`` and ``ds/dvar[k+1] = dk1``.
    """

    pos: int
    var: str
    k: int
    dk: float
    dk1: float


@dataclass(frozen=True)
class _Points:
    """Points of the sample grid: ``y(point) = (1-s) y[k] + s y[min(k+1, n-1)]``.

    ``k`` int array (m,), ``s`` float array (m,); ``links`` for the points
    whose ``s`` depends on a series.
    """

    k: np.ndarray
    s: np.ndarray
    links: tuple[_Link, ...] = ()

    @staticmethod
    def samples(first: int, last: int) -> _Points:
        k = np.arange(first, last + 1)
        return _Points(k, np.zeros(k.shape))

    @staticmethod
    def join(*parts: _Points) -> _Points:
        links, offset = [], 0
        for p in parts:
            links += [_Link(ln.pos + offset, ln.var, ln.k, ln.dk, ln.dk1) for ln in p.links]
            offset += p.k.size
        return _Points(np.concatenate([p.k for p in parts]),
                       np.concatenate([p.s for p in parts]), tuple(links))


def penalty(
    c: Constraint,
    t: np.ndarray,
    series: Mapping[str, np.ndarray],
    *,
    interpolate: bool = False,
    indvar: str | None = "time",
) -> tuple[float, dict[str, np.ndarray]]:
    """PyBNF's penalty for one constraint, and its derivative.

    Parameters
    ----------
    c : Constraint
        From :func:`bngfit.pybnf.bpsl._prop.read_prop`.
    t : numpy.ndarray
        The independent variable at the samples, shape (n_t,): what ``at 6``
        and ``between 1, 5`` refer to.
    series : mapping of str to numpy.ndarray
        Each name the constraint reads (``c.names``), shape (n_t,), sampled
        at ``t``. Extra entries are ignored.
    interpolate : bool
        False (default): PyBNF's choice of samples. True: read ``at`` points
        and ``between`` ends by linear interpolation at the exact crossing
        (see the module docstring).
    indvar : str or None
        A name that means ``t`` when it is not in ``series`` (``at time=6``);
        ``t`` is not differentiated.

    Returns
    -------
    value : float
        The penalty (>= 0 for the static model); NaN if a series read is not
        finite.
    grad : dict of str to numpy.ndarray
        d value / d series[name], shape (n_t,), for every name read that is in
        ``series`` (zeros where the penalty does not depend on it).

    Raises
    ------
    InputError
        A name read is missing from ``series`` or has the wrong shape (the
        message names the constraint's file, line and the name).
    """
    ev = _Evaluator(c, t, series, indvar)
    grad = {name: np.zeros(ev.n) for name in ev.arrays if name in series}
    if not all(np.all(np.isfinite(ev.arrays[name])) for name in ev.arrays):
        return float("nan"), grad
    total = 0.0
    for lo_pts, hi_pts, once in _windows(c, ev, interpolate):
        value, parts = _window_penalty(c, ev, lo_pts, hi_pts, once)
        total += value
        for name, g in parts.items():
            grad[name] += g
    return total, grad


class _Evaluator:
    """The arrays a constraint reads, and operands evaluated at points."""

    def __init__(self, c: Constraint, t: np.ndarray, series: Mapping[str, np.ndarray],
                 indvar: str | None) -> None:
        self.c = c
        self.t = np.asarray(t, dtype=float)
        if self.t.ndim != 1:
            raise self.error(f"t must be one-dimensional, has shape {self.t.shape}")
        self.n = self.t.size
        self.arrays: dict[str, np.ndarray] = {}
        for name in c.names:
            if name in series:
                y = np.asarray(series[name], dtype=float)
                if y.shape != self.t.shape:
                    raise self.error(f"series has shape {y.shape}, t has {self.t.shape}", name)
                self.arrays[name] = y
            elif name != indvar:
                raise self.error("the constraint reads a series that was not given", name)

    def error(self, message: str, name: str | None = None) -> InputError:
        return InputError(f"constraint '{self.c.text}': {message}", file=self.c.file or None,
                          row=self.c.line or None, id=name)

    def var(self, cond: Condition) -> tuple[np.ndarray, str | None]:
        """The quantity a condition watches, and its series name (None for t)."""
        if cond.var is None or cond.var not in self.arrays:
            return self.t, None
        return self.arrays[cond.var], cond.var

    def values(self, q: Operand, pts: _Points) -> np.ndarray:
        """Operand ``q`` at the points, shape (m,)."""
        if not isinstance(q, str):
            return np.full(pts.k.shape, float(q))
        y = self.array(q)
        k1 = np.minimum(pts.k + 1, self.n - 1)
        return (1.0 - pts.s) * y[pts.k] + pts.s * y[k1]

    def array(self, q: str) -> np.ndarray:
        return self.arrays[q] if q in self.arrays else self.t

    def add_grad(self, out: dict, q: Operand, pts: _Points, j: int, sign: float) -> None:
        """Add sign * d q(point j) / d samples into ``out``."""
        if not isinstance(q, str) or q not in self.arrays:
            return
        y = self.arrays[q]
        k, s = int(pts.k[j]), float(pts.s[j])
        k1 = min(k + 1, self.n - 1)
        g = out.setdefault(q, np.zeros(self.n))
        g[k] += sign * (1.0 - s)
        g[k1] += sign * s
        for ln in pts.links:
            if ln.pos == j:
                slope = sign * (y[k1] - y[k])
                gv = out.setdefault(ln.var, np.zeros(self.n))
                gv[ln.k] += slope * ln.dk
                gv[ln.k + 1] += slope * ln.dk1


# -- where the constraint is enforced ---------------------------------------------------------
def _crossings(x: np.ndarray, value: float) -> np.ndarray:
    """Segments k where ``x < value`` differs between samples k and k+1."""
    below = x < value
    return np.nonzero(below[:-1] != below[1:])[0]


def _close(a: float, value: float) -> bool:
    return abs(a - value) <= _RTOL * abs(value)


def _sample(x: np.ndarray, value: float, k: int, before: bool) -> int:
    """PyBNF's sample for a crossing on segment k."""
    if _close(x[k + 1], value) and not _close(x[k], value):
        k += 1
    if before and k > 0:
        k -= 1
    return k


def _point(ev: _Evaluator, cond: Condition, k: int, interpolate: bool) -> _Points:
    """The point of a crossing of ``cond`` on segment k."""
    x, name = ev.var(cond)
    if not interpolate or cond.before:
        i = _sample(x, cond.value, k, cond.before)
        return _Points.samples(i, i)
    span = x[k + 1] - x[k]
    s = (cond.value - x[k]) / span
    links = () if name is None else (_Link(0, name, k, (s - 1.0) / span, -s / span),)
    return _Points(np.array([k]), np.array([s]), links)


def _windows(c: Constraint, ev: _Evaluator,
             interpolate: bool) -> Iterator[tuple[_Points, _Points, bool]]:
    """Yield (points of the lesser side, points of the greater side, once)."""
    e = c.enforcement
    if e in (Enforcement.ALWAYS, Enforcement.ONCE):
        if ev.n:
            pts = _Points.samples(0, ev.n - 1)
            yield pts, pts, e is Enforcement.ONCE
    elif e is Enforcement.AT and c.rhs_at is None:
        x, _ = ev.var(c.at)
        segs = _crossings(x, c.at.value)
        for k in segs if c.at.everytime else segs[:1]:
            pts = _point(ev, c.at, int(k), interpolate)
            yield pts, pts, False
    elif e is Enforcement.AT:
        lo_at, hi_at = (c.at, c.rhs_at) if c.ineq.op.startswith("<") else (c.rhs_at, c.at)
        lo_segs = _crossings(ev.var(lo_at)[0], lo_at.value)
        hi_segs = _crossings(ev.var(hi_at)[0], hi_at.value)
        if lo_segs.size and hi_segs.size:
            yield (_point(ev, lo_at, int(lo_segs[0]), interpolate),
                   _point(ev, hi_at, int(hi_segs[0]), interpolate), False)
    else:
        pts = _between(c, ev, interpolate)
        if pts is not None:
            yield pts, pts, e is Enforcement.ONCE_BETWEEN


def _between(c: Constraint, ev: _Evaluator, interpolate: bool) -> _Points | None:
    """The window of a ``between``; None when it never starts."""
    xs, _ = ev.var(c.start)
    starts = _crossings(xs, c.start.value)
    if starts.size == 0:
        return None
    ks = int(starts[0])
    first = ks if interpolate else _sample(xs, c.start.value, ks, False)
    xe, _ = ev.var(c.end)
    ends = _crossings(xe, c.end.value)
    ends = ends[ends >= first + 1]
    if not interpolate:
        last = ev.n - 1 if ends.size == 0 else _sample(xe, c.end.value, int(ends[0]), False)
        return _Points.samples(first, last)
    head = _point(ev, c.start, ks, True)
    if ends.size == 0:
        return _Points.join(head, _Points.samples(ks + 1, ev.n - 1))
    ke = int(ends[0])
    return _Points.join(head, _Points.samples(ks + 1, ke), _point(ev, c.end, ke, True))


# -- scoring ------------------------------------------------------------------------------------
def _difference(ev: _Evaluator, ineq: Inequality, lo_pts: _Points, hi_pts: _Points,
                once: bool) -> tuple[float, dict[str, np.ndarray]]:
    """Extreme of ``lesser - greater`` over the window, and its gradient."""
    diff = ev.values(ineq.lesser, lo_pts) - ev.values(ineq.greater, hi_pts)
    j = int(np.argmin(diff) if once else np.argmax(diff))
    grad: dict[str, np.ndarray] = {}
    ev.add_grad(grad, ineq.lesser, lo_pts, j if lo_pts.k.size > 1 else 0, 1.0)
    ev.add_grad(grad, ineq.greater, hi_pts, j if hi_pts.k.size > 1 else 0, -1.0)
    return float(diff[j]), grad


def _scaled(grad: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    return {name: factor * g for name, g in grad.items()}


def _window_penalty(c: Constraint, ev: _Evaluator, lo_pts: _Points, hi_pts: _Points,
                    once: bool) -> tuple[float, dict[str, np.ndarray]]:
    d, dgrad = _difference(ev, c.ineq, lo_pts, hi_pts, once)
    if c.model is PenaltyModel.LIKELIHOOD:
        value, slope = _likelihood(d, c)
        return value, _scaled(dgrad, slope)
    violated = d > 0 or (d == 0 and not c.ineq.or_equal)
    if not violated:
        return 0.0, {}
    if c.alt is not None:
        # PyBNF reads both altpenalty sides on the window of the lesser side.
        a, agrad = _difference(ev, c.alt, lo_pts, lo_pts, once)
        extent, egrad = (a, agrad) if a > 0 else (0.0, {})
    else:
        extent, egrad = d, dgrad
    floor = max(c.min_penalty, 0.0)
    if extent > floor:
        return c.weight * extent, _scaled(egrad, c.weight)
    return c.weight * floor, {}


def _likelihood(d: float, c: Constraint) -> tuple[float, float]:
    """``-log(pmin + (pmax-pmin) Phi(-d/s))`` and its derivative in d."""
    pmin, pmax, s = float(c.pmin), float(c.pmax), float(c.tolerance)
    with np.errstate(divide="ignore"):
        if s == 0.0:
            ok = d < 0 or (d == 0 and c.ineq.or_equal)
            return float(-np.log(pmax if ok else pmin)), 0.0
        z = -d / s
        log_span = np.log(pmax - pmin)
        log_p = np.logaddexp(np.log(pmin), log_span + log_ndtr(z))
        log_pdf = -0.5 * z * z - _LOG_SQRT_2PI
    slope = float(np.exp(log_span + log_pdf - log_p)) / s
    return float(-log_p), slope
