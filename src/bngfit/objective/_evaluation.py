"""The typed result of one objective evaluation (:class:`Evaluation`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._status import EvalStatus


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
        An :class:`~bngfit.objective._status.EvalStatus`: ``"ok"``, ``"simulation_failed"``,
        ``"invalid_value"`` or ``"invalid_gradient"`` (finite ``fval``, NaN/inf in
        ``grad``; no residuals). Only ``"ok"`` is a valid evaluation.
    message : str
    """

    x: np.ndarray
    fval: float
    grad: np.ndarray | None
    _res: np.ndarray | None
    _sres: np.ndarray | None
    chi2: float
    simulation: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    status: str = EvalStatus.OK
    message: str = ""
    # Builds (res, sres) on first use: an optimizer on fval and grad never
    # pays for the residual Jacobian.
    _deferred: Callable[[], tuple] | None = field(default=None, repr=False, compare=False)
    # An evaluation on the coordinates left after noise parameters set in
    # closed form keeps the full-space evaluation it came from
    # (:mod:`bngfit.objective._hierarchical`): its ``x`` holds those parameters' values.
    full: Evaluation | None = field(default=None, repr=False, compare=False)

    def _materialize(self) -> None:
        make = self._deferred
        if make is not None:
            res, sres = make()
            object.__setattr__(self, "_res", res)
            object.__setattr__(self, "_sres", sres)
            object.__setattr__(self, "_deferred", None)

    @property
    def res(self) -> np.ndarray | None:
        """Residuals, shape (n_res,), or None without a residual form."""
        self._materialize()
        return self._res

    @property
    def sres(self) -> np.ndarray | None:
        """d res / d x, shape (n_res, n_x), or None (``sensi=0`` or no residual form)."""
        self._materialize()
        return self._sres

    def __getstate__(self) -> dict:
        self._materialize()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    @property
    def llh(self) -> float:
        """Log-likelihood, ``-fval``."""
        return -self.fval

    @property
    def ok(self) -> bool:
        """Whether the evaluation succeeded."""
        return self.status == EvalStatus.OK
