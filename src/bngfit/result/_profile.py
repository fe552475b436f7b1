"""What a profile likelihood gave: typed, frozen results per point, parameter and run.

A profile (:func:`bngfit.profile`) steps one parameter at a time away from the
fit's best point, in optimizer space, re-optimizing the others at each step.
Each step is a :class:`ProfilePoint`; a parameter's points in both directions
make a :class:`ParameterProfile`, which gives the likelihood-ratio confidence
interval: where the rise ``fval - fval_best`` crosses
``chi2.ppf(alpha, 1) / 2`` (bngfit's fval is a negative log-likelihood),
linearly interpolated between the two points around the crossing. A side that
does not cross before the bound (or where the march stopped) is open (None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from bngfit.errors import InputError

from ._frames import native_values

#: The confidence level of profile intervals unless another is asked for.
DEFAULT_ALPHA = 0.95
#: A parameter is structurally flat where its rise stays below this fraction
#: of the threshold over the whole range (both sides reaching their bounds).
FLAT_FRACTION = 0.05
#: Columns of the interval table (:meth:`ProfileResult.intervals`), after ``parameterId``.
INTERVAL_COLUMNS = ("parameterScale", "estimate", "lower", "upper", "class", "lower_end",
                    "upper_end", "n_points", "max_rise", "alpha")


class ProfileClass(StrEnum):
    """What a parameter's profile says of it (see :data:`CLASS_TEXT`)."""

    IDENTIFIABLE = "identifiable"
    PRACTICALLY_NON_IDENTIFIABLE = "practically_non_identifiable"
    STRUCTURALLY_FLAT = "structurally_flat"


CLASS_TEXT = {
    ProfileClass.IDENTIFIABLE: "the profile crosses the threshold on both sides: a finite "
                               "interval",
    ProfileClass.PRACTICALLY_NON_IDENTIFIABLE: "the profile stays below the threshold on "
                                               "one side or both within the bounds: an open "
                                               "interval",
    ProfileClass.STRUCTURALLY_FLAT: "the profile is flat (rise below "
                                    f"{FLAT_FRACTION:g} of the threshold) over the whole "
                                    "range: the data do not determine the parameter",
}


class SideEnd(StrEnum):
    """Why one side (direction) of a profile ended."""

    CROSSED = "crossed"
    BOUND = "bound"
    MAX_POINTS = "max_points"
    FAILED = "failed"
    NOT_RUN = "not_run"


def check_alpha(alpha: object) -> float:
    """``alpha`` as a float strictly between 0 and 1 (InputError otherwise)."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating) \
            or not 0.0 < float(alpha) < 1.0:
        raise InputError("the profile's confidence level alpha must be a number strictly "
                         "between 0 and 1 (0.95: a 95% likelihood-ratio interval)",
                         id="alpha", value=repr(alpha))
    return float(alpha)


def threshold_of(alpha: float) -> float:
    """The likelihood-ratio threshold of the rise: ``chi2.ppf(alpha, 1) / 2``."""
    from scipy.stats import chi2

    return float(chi2.ppf(alpha, 1) / 2.0)


@dataclass(frozen=True)
class ProfilePoint:
    """One profile point: the profiled parameter held, the others re-optimized.

    Attributes
    ----------
    parameter : str
        The profiled parameter's id.
    direction : int
        -1 (towards the lower bound) or +1.
    seq : int
        Number of the point in its direction (0-based, in the order computed).
    value : float
        The profiled parameter's value, optimizer space.
    native : float
        The same on its native scale.
    fval : float
        The re-optimized negative log-likelihood (``inf``: failed).
    x : ndarray, shape (n_x,)
        The whole point, optimizer space.
    at_bounds : tuple of str
        Other parameters sitting at (within tolerance of) a bound there.
    n_fval : int
        Objective evaluations of the re-optimization.
    wall_s : float
    message : str
        The optimizer's status and message.
    """

    parameter: str
    direction: int
    seq: int
    value: float
    native: float
    fval: float
    x: np.ndarray = field(repr=False)
    at_bounds: tuple[str, ...] = ()
    n_fval: int = 0
    wall_s: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class ParameterProfile:
    """One parameter's profile in both directions and what it gives.

    Attributes
    ----------
    parameter : str
    scale : str
        Its scale (``lin``, ``log``, ``log10``).
    estimate : float
        Its best value, optimizer space.
    points : tuple of ProfilePoint
        Both directions' points, ordered by ``value``.
    lower, upper : float or None
        The interval's ends, optimizer space (None: open on that side).
    lower_end, upper_end : SideEnd
        Why each side ended.
    profile_class : ProfileClass
    max_rise : float
        The largest finite rise ``fval - fval_best`` seen.
    """

    parameter: str
    scale: str
    estimate: float
    points: tuple[ProfilePoint, ...]
    lower: float | None
    upper: float | None
    lower_end: SideEnd
    upper_end: SideEnd
    profile_class: ProfileClass
    max_rise: float

    def native(self, value: float | None) -> float | None:
        """A value of this parameter on its native scale (None stays None)."""
        if value is None:
            return None
        return float(native_values(np.array([value]), [self.scale])[0])


@dataclass(frozen=True)
class ProfileResult:
    """The profiles of a fit: per parameter, its points, interval and class.

    Attributes
    ----------
    x_names : list of str
        Free parameter ids.
    x_scales : list of str
    estimate : ndarray, shape (n_x,)
        The fit's best point, optimizer space.
    fval_best : float
    alpha : float
        Confidence level.
    threshold : float
        ``chi2.ppf(alpha, 1) / 2``: the rise that bounds the interval.
    profiles : tuple of ParameterProfile
        The profiled parameters, in problem order.
    better_point : ProfilePoint or None
        The lowest profile point whose fval lies below ``fval_best`` by more
        than ``better_tol``: the fit had not found the optimum (refit from
        there). None: no such point.
    better_tol : float
    settings : dict
        Step settings and the optimizer used.
    wall_s : float
    """

    x_names: list[str]
    x_scales: list[str]
    estimate: np.ndarray
    fval_best: float
    alpha: float
    threshold: float
    profiles: tuple[ParameterProfile, ...]
    better_point: ProfilePoint | None
    better_tol: float
    settings: dict
    wall_s: float = 0.0

    def __getitem__(self, parameter: str) -> ParameterProfile:
        for p in self.profiles:
            if p.parameter == parameter:
                return p
        raise KeyError(parameter)

    @property
    def complete(self) -> bool:
        """Whether every side of every profile ended at a crossing or a bound."""
        return all(e in (SideEnd.CROSSED, SideEnd.BOUND)
                   for p in self.profiles for e in (p.lower_end, p.upper_end))

    def intervals(self) -> pd.DataFrame:
        """One row per profiled parameter: the interval on the native scale and the class.

        ``lower``/``upper`` are NaN where the interval is open.
        """
        rows = []
        for p in self.profiles:
            lo, hi = p.native(p.lower), p.native(p.upper)
            rows.append({"parameterId": p.parameter, "parameterScale": p.scale,
                         "estimate": p.native(p.estimate),
                         "lower": np.nan if lo is None else lo,
                         "upper": np.nan if hi is None else hi,
                         "class": p.profile_class.value, "lower_end": p.lower_end.value,
                         "upper_end": p.upper_end.value, "n_points": len(p.points),
                         "max_rise": p.max_rise, "alpha": self.alpha})
        return pd.DataFrame(rows, columns=["parameterId", *INTERVAL_COLUMNS])

    def summary_dict(self) -> dict:
        """JSON-ready summary: settings, intervals, the better point if any."""
        table = self.intervals().astype(object).where(self.intervals().notna(), None)
        better = None
        if self.better_point is not None:
            b = self.better_point
            better = {"parameter": b.parameter, "value": b.value, "fval": b.fval,
                      "x": [float(v) for v in b.x], "below_best_by": self.fval_best - b.fval}
        return {"alpha": self.alpha, "threshold": self.threshold, "fval_best": self.fval_best,
                "complete": self.complete, "better_point": better,
                "settings": self.settings, "wall_s": self.wall_s,
                "intervals": table.to_dict(orient="records")}


__all__ = ["CLASS_TEXT", "DEFAULT_ALPHA", "FLAT_FRACTION", "ParameterProfile", "ProfileClass",
           "ProfilePoint", "ProfileResult", "SideEnd", "check_alpha", "threshold_of"]
