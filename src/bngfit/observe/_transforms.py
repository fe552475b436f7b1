"""Trajectory transforms between observation and likelihood: normalization.

A normalization rescales the simulation of one observable in one experiment by
statistics of its own trajectory over reference times (the simulated output
grid), so both the values and their derivatives depend on the whole reference
trajectory. With ``c`` the reference statistic(s) and ``h`` a simulated value:

- ``init``: ``h / y0``
- ``peak``: ``h / y[k]``, ``k`` the argmax (a subgradient where the maximum
  is attained at several times)
- ``zero``: ``(h - mean) / std`` (population std over the reference times)
- ``unit``: ``(h - y0) / (y[k] - y0)`` with ``k`` the argmax, or
  ``(h - y0) / (y0 - y[j])`` with ``j`` the argmin when the maximum is ``y0``

Each derivative is the quotient rule through the reference values'
sensitivities, exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.problem._problem import NormKind


@dataclass(frozen=True)
class NormSpec:
    """A compiled normalization.

    Attributes
    ----------
    kind : NormKind
    rows : ndarray of int, shape (n,)
        Measurement indices it applies to.
    ref : ndarray of int, shape (n_ref,)
        Flat indices of the reference values in an evaluation's output vector.
    label : str
        ``observable in condition``, for messages.
    prev : ndarray of int, shape (n,), optional
        ``incident``: flat index of each row's value at the previous reference
        time (-1 for the first reference time).
    """

    kind: NormKind
    rows: np.ndarray
    ref: np.ndarray
    label: str
    prev: np.ndarray | None = None


def normalize(specs: tuple[NormSpec, ...], h: np.ndarray, dh: np.ndarray | None,
              y: np.ndarray, dy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None,
                                                            str | None]:
    """Apply every normalization.

    Parameters
    ----------
    specs : tuple of NormSpec
    h : ndarray, shape (n_meas,)
        Observables at the measurements (not modified).
    dh : ndarray, shape (n_meas, n_theta), or None
    y : ndarray, shape (n_flat,)
        All experiments' outputs, flat.
    dy : ndarray, shape (n_flat, n_theta), or None

    Returns
    -------
    h, dh
        Normalized copies.
    problem : str or None
        Why a normalization is undefined here (a zero divisor), else None.
    """
    h = h.copy()
    dh = None if dh is None else dh.copy()
    for s in specs:
        if s.kind is NormKind.INCIDENT:
            has = s.prev >= 0
            rows, prev = s.rows[has], s.prev[has]
            h[rows] = h[rows] - y[prev]
            if dh is not None:
                dh[rows] = dh[rows] - dy[prev]
            continue
        yr = y[s.ref]
        dyr = None if dy is None else dy[s.ref]
        v, dv, why = normalize_values(s.kind, yr, dyr, h[s.rows],
                                      None if dh is None else dh[s.rows], s.label)
        if why is not None:
            return h, dh, why
        h[s.rows] = v
        if dh is not None:
            dh[s.rows] = dv
    return h, dh, None


def normalize_values(kind: NormKind, yr: np.ndarray, dyr: np.ndarray | None, v: np.ndarray,
                     dv: np.ndarray | None, label: str
                     ) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Normalize values ``v`` (n,) by the statistics of a reference series ``yr`` (n_ref,).

    ``dyr`` (n_ref, n_theta) and ``dv`` (n, n_theta) are their derivatives (or
    None). Returns the normalized values, their derivatives, and why the
    normalization is undefined (else None).
    """
    if kind is NormKind.INCIDENT:  # v is the series on the reference grid itself
        if v.shape != yr.shape:
            return v, dv, f"incident of {label}: only on its reference grid"
        out = v.copy()
        out[1:] = v[1:] - yr[:-1]
        dout = None
        if dv is not None:
            dout = dv.copy()
            dout[1:] = dv[1:] - dyr[:-1]
        return out, dout, None
    if kind is NormKind.ZERO:
        mean = yr.mean()
        dev = yr - mean
        std = float(np.sqrt(np.mean(dev**2)))
        if not std > 0.0:
            return v, dv, f"normalization zero of {label}: the trajectory is constant"
        out = (v - mean) / std
        dout = None
        if dv is not None:
            dmean = dyr.mean(axis=0)
            dstd = (dev @ (dyr - dmean)) / (yr.size * std)
            dout = (dv - dmean) / std - ((v - mean) / std**2)[:, None] * dstd[None, :]
        return out, dout, None
    if kind is NormKind.INIT:
        shift, dshift, k = 0.0, None, 0
    elif kind is NormKind.PEAK:
        shift, dshift, k = 0.0, None, int(np.argmax(yr))
    else:  # UNIT
        shift = yr[0]
        dshift = None if dyr is None else dyr[0]
        k = int(np.argmax(yr))
        if yr[k] == shift:
            k = int(np.argmin(yr))
    # v' = (v - shift) / scale; scale = y[k] - shift, or shift - y[k] for the
    # falling branch of unit
    sign = -1.0 if (kind is NormKind.UNIT and yr[k] < shift) else 1.0
    scale = sign * (yr[k] - shift)
    if scale == 0.0 or not np.isfinite(scale):
        return v, dv, f"normalization {kind.value} of {label}: it divides by {scale:g}"
    out = (v - shift) / scale
    dout = None
    if dv is not None:
        dscale = sign * (dyr[k] - (0.0 if dshift is None else dshift))
        num = dv if dshift is None else dv - dshift[None, :]
        dout = num / scale - ((v - shift) / scale**2)[:, None] * dscale[None, :]
    return out, dout, None
