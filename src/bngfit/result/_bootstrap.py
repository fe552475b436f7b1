"""What a bootstrap gave: typed, frozen results of one replicate and of the whole run.

A bootstrap (:func:`bngfit.bootstrap`) refits the problem to resampled data
(measurements drawn with replacement: integer weights per data point) many
times. Each refit is a :class:`Replicate`; the :class:`BootstrapResult` holds them
all, with the fit's best point, and gives percentile intervals of each parameter
(:meth:`BootstrapResult.intervals`) on its native scale: the ``(1 - level)/2``
and ``(1 + level)/2`` quantiles of the accepted replicates' end points (numpy's
linear interpolation between order statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from bngfit.errors import InputError

from ._frames import native_values

#: The confidence level of intervals unless another is asked for.
DEFAULT_LEVEL = 0.95
#: Columns of the interval table (:meth:`BootstrapResult.intervals`), after ``parameterId``.
INTERVAL_COLUMNS = ("parameterScale", "estimate", "lower", "upper", "median", "n_replicates",
                    "level")


class ReplicateStatus(StrEnum):
    """What became of one bootstrap replicate (see :data:`REPLICATE_TEXT`)."""

    ACCEPTED = "accepted"
    ABOVE_MAX = "above_max"
    FAILED = "failed"


REPLICATE_TEXT = {
    ReplicateStatus.ACCEPTED: "kept: its end point is one sample of the intervals",
    ReplicateStatus.ABOVE_MAX: "discarded: its best fval lies above the threshold "
                               "(bootstrap_max_obj / --max-fval); a new replicate replaces it",
    ReplicateStatus.FAILED: "discarded: no start of the refit ended at a finite fval; a new "
                            "replicate replaces it",
}


@dataclass(frozen=True)
class Replicate:
    """One refit to resampled data.

    Attributes
    ----------
    index : int
        Replicate number (0-based); its weights come from the run's seed and it.
    weights : ndarray of int, shape (n_meas,)
        How often each measurement (problem order) was drawn.
    x : ndarray, shape (n_x,)
        End point of the refit's best start, optimizer space.
    fval : float
        Its negative log-likelihood of the resampled data (``inf``: failed).
    threshold : float
        The largest fval accepted for this replicate (``inf``: no threshold).
    status : ReplicateStatus
    n_fval : int
        Objective evaluations of all the refit's starts.
    wall_s : float
        Wall time of the refit, seconds.
    message : str
        The best start's status and message.
    """

    index: int
    weights: np.ndarray = field(repr=False)
    x: np.ndarray
    fval: float
    threshold: float
    status: ReplicateStatus
    n_fval: int
    wall_s: float
    message: str = ""


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap: the fit's best point, every replicate, and percentile intervals.

    Attributes
    ----------
    x_names : list of str
        Free parameter ids, length n_x.
    x_scales : list of str
        Their scales (``lin``, ``log``, ``log10``).
    estimate : ndarray, shape (n_x,)
        The fit's best point, optimizer space (where every replicate starts).
    replicates : tuple of Replicate
        Every finished replicate, accepted or not, in index order.
    n_requested : int
        Accepted replicates asked for.
    seed : int
        Seed of the resamples (and of any extra starts).
    level : float
        Confidence level of :meth:`intervals` by default (0.95: 2.5% and 97.5%).
    settings : dict
        ``starts`` (per replicate), ``max_fval``, ``strata``, and what the refits
        ran with.
    wall_s : float
        Wall time of the bootstrap, seconds (summed over sessions).
    """

    x_names: list[str]
    x_scales: list[str]
    estimate: np.ndarray
    replicates: tuple[Replicate, ...]
    n_requested: int
    seed: int
    level: float = DEFAULT_LEVEL
    settings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    def __repr__(self) -> str:
        return (f"BootstrapResult({self.n_accepted} of {self.n_requested} replicates accepted, "
                f"{self.n_discarded} discarded, seed {self.seed}, level {self.level:g})")

    @property
    def accepted(self) -> tuple[Replicate, ...]:
        """The accepted replicates the intervals are taken over (the first ``n_requested``)."""
        kept = [r for r in self.replicates if r.status is ReplicateStatus.ACCEPTED]
        return tuple(kept[: self.n_requested])

    @property
    def n_accepted(self) -> int:
        """Accepted replicates (at most ``n_requested``)."""
        return len(self.accepted)

    @property
    def n_discarded(self) -> int:
        """Replicates discarded: above the threshold, or failed."""
        return sum(r.status is not ReplicateStatus.ACCEPTED for r in self.replicates)

    @property
    def complete(self) -> bool:
        """Whether ``n_requested`` replicates were accepted."""
        return self.n_accepted >= self.n_requested

    def samples(self) -> pd.DataFrame:
        """The accepted replicates' end points as native values.

        Returns
        -------
        pandas.DataFrame
            Shape (n_accepted, n_x); index the replicate numbers, columns the
            parameter ids.
        """
        kept = self.accepted
        values = np.array([native_values(r.x, self.x_scales) for r in kept]).reshape(
            len(kept), len(self.x_names))
        return pd.DataFrame(values, index=pd.Index([r.index for r in kept], name="replicate"),
                            columns=list(self.x_names))

    def intervals(self, level: float | None = None) -> pd.DataFrame:
        """Percentile intervals of each parameter, native scale.

        Parameters
        ----------
        level : float, optional
            Confidence level in (0, 1); default :attr:`level`.

        Returns
        -------
        pandas.DataFrame
            One row per free parameter, in order: ``parameterId``, then
            :data:`INTERVAL_COLUMNS`: its scale, the fit's value (``estimate``),
            the interval's ``lower`` and ``upper`` ends, the replicates'
            ``median``, how many replicates (NaN ends without any), the level.

        Raises
        ------
        InputError
            A level outside (0, 1).
        """
        level = self.level if level is None else float(level)
        check_level(level)
        values = self.samples().to_numpy()
        if values.shape[0]:
            q = 100.0 * np.array([(1.0 - level) / 2.0, 0.5, (1.0 + level) / 2.0])
            lower, median, upper = np.percentile(values, q, axis=0)
        else:
            lower = median = upper = np.full(len(self.x_names), np.nan)
        return pd.DataFrame({
            "parameterId": list(self.x_names), "parameterScale": list(self.x_scales),
            "estimate": native_values(self.estimate, self.x_scales), "lower": lower,
            "upper": upper, "median": median, "n_replicates": values.shape[0],
            "level": level})

    def summary_dict(self, level: float | None = None) -> dict:
        """The bootstrap as plain JSON-ready values (non-finite numbers as None)."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        table = self.intervals(level)
        counts = {s.value: sum(r.status is s for r in self.replicates) for s in ReplicateStatus}
        return {
            "n_requested": self.n_requested, "n_accepted": self.n_accepted,
            "n_discarded": self.n_discarded, "complete": self.complete,
            "statuses": {k: v for k, v in counts.items() if v}, "seed": self.seed,
            "level": float(table["level"].iloc[0]) if len(table) else self.level,
            "wall_s": self.wall_s, "n_fval": sum(r.n_fval for r in self.replicates),
            "settings": self.settings,
            "intervals": {row.parameterId: {"scale": row.parameterScale,
                                            "estimate": num(row.estimate),
                                            "lower": num(row.lower), "upper": num(row.upper),
                                            "median": num(row.median)}
                          for row in table.itertuples()},
            "replicates": [{"index": r.index, "fval": num(r.fval),
                            "threshold": num(r.threshold), "status": r.status.value,
                            "x": [float(v) for v in r.x], "n_fval": r.n_fval,
                            "wall_s": r.wall_s, "message": r.message}
                           for r in self.replicates],
        }


def check_level(level: float) -> float:
    """A confidence level, checked to lie in (0, 1).

    Raises
    ------
    InputError
        Naming the value.
    """
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise InputError("the confidence level must lie strictly between 0 and 1 "
                         "(0.95: the 2.5% and 97.5% percentiles)", id="level",
                         value=repr(level))
    return float(level)


__all__ = ["DEFAULT_LEVEL", "INTERVAL_COLUMNS", "REPLICATE_TEXT", "BootstrapResult",
           "Replicate", "ReplicateStatus", "check_level"]
