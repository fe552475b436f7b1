"""The typed result of one objective evaluation (:class:`Evaluation`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._describe import evaluation_html, evaluation_repr
from ._status import EvalStatus

ResidualPair = tuple[np.ndarray, np.ndarray | None]
"""Residuals, shape (n_res,), and their Jacobian, shape (n_res, n), or None."""


class LazyResiduals:
    """The residuals and their Jacobian of an evaluation, built on first read.

    An optimizer on ``fval`` and ``grad`` never reads them, so they are not
    built until asked for; once built they are kept. Pickling builds them (the
    builder is a closure and stays behind).

    Parameters
    ----------
    build : callable
        ``build() -> (res, sres)``, called at most once.
    """

    __slots__ = ("_build", "_pair")

    def __init__(self, build: Callable[[], ResidualPair]) -> None:
        self._build: Callable[[], ResidualPair] | None = build
        self._pair: ResidualPair | None = None

    @classmethod
    def of(cls, res: np.ndarray, sres: np.ndarray | None = None) -> LazyResiduals:
        """Residuals known already.

        Parameters
        ----------
        res : ndarray, shape (n_res,)
        sres : ndarray, shape (n_res, n), optional

        Returns
        -------
        LazyResiduals
        """
        out = cls(lambda: (res, sres))
        out.get()
        return out

    def get(self) -> ResidualPair:
        """The residuals and their Jacobian (the Jacobian None without sensitivities).

        Returns
        -------
        res : ndarray, shape (n_res,)
        sres : ndarray, shape (n_res, n), or None
        """
        if self._pair is None:
            self._pair = self._build()
            self._build = None
        return self._pair

    def peek(self) -> ResidualPair | None:
        """The residuals and Jacobian if built already, else None (builds nothing)."""
        return self._pair

    def __getstate__(self) -> ResidualPair:
        return self.get()

    def __setstate__(self, pair: ResidualPair) -> None:
        self._build = None
        self._pair = pair


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The result of evaluating the objective at one point.

    Built by keyword only.

    Attributes
    ----------
    x : ndarray, shape (n_x,)
        The point, optimizer space.
    fval : float
        Negative log-likelihood, constants included, plus the negative log-prior
        where the problem has objective priors (then the negative
        log-posterior); ``inf`` on failure.
    grad : ndarray, shape (n_x,), or None
        d fval / d x (``sensi=1``); NaN on failure.
    chi2 : float
        Sum of squared weighted residuals of the data, ``sum(((z-zm)/sigma)^2)``.
    simulation : ndarray, shape (n_meas,)
        Observable values at the measurements (untransformed).
    sigma : ndarray, shape (n_meas,)
    status : EvalStatus
        ``"ok"``, ``"simulation_failed"``, ``"invalid_value"`` or
        ``"invalid_gradient"`` (finite ``fval``, NaN/inf in ``grad``; no
        residuals). Only ``"ok"`` is a valid evaluation.
    message : str
        Why an evaluation is not ok (:func:`~bngfit.objective._status.status_message`).
    residuals : LazyResiduals or None
        Where the objective has a residual form: :attr:`res` and :attr:`sres`.
    full : Evaluation or None
        On the coordinates left after noise parameters are set in closed form
        (:mod:`bngfit.objective._hierarchical`): the full-space evaluation it came from,
        whose ``x`` holds those parameters' values.
    prior : float
        The negative log-prior inside ``fval`` (0 without objective priors).
    """

    x: np.ndarray
    fval: float
    grad: np.ndarray | None
    chi2: float
    simulation: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    status: EvalStatus = EvalStatus.OK
    message: str = ""
    residuals: LazyResiduals | None = field(default=None, repr=False, compare=False)
    full: Evaluation | None = field(default=None, repr=False, compare=False)
    prior: float = 0.0

    def __repr__(self) -> str:
        return evaluation_repr(self)

    def _repr_html_(self) -> str:
        return evaluation_html(self)

    @property
    def res(self) -> np.ndarray | None:
        """Residuals, shape (n_res,), or None without a residual form."""
        return None if self.residuals is None else self.residuals.get()[0]

    @property
    def sres(self) -> np.ndarray | None:
        """Jacobian d res / d x, shape (n_res, n_x), or None (``sensi=0``, no residual form)."""
        return None if self.residuals is None else self.residuals.get()[1]

    @property
    def llh(self) -> float:
        """Log-likelihood, ``-fval`` without the objective priors."""
        return -(self.fval - self.prior)

    @property
    def log_posterior(self) -> float:
        """Log-posterior (up to the evidence), ``-fval``: the log-likelihood plus the log-priors."""
        return -self.fval

    @property
    def ok(self) -> bool:
        """Whether the evaluation succeeded."""
        return self.status == EvalStatus.OK

    def rejected(self, status: EvalStatus, message: str) -> Evaluation:
        """A copy with another status and message, and without residuals.

        Parameters
        ----------
        status : EvalStatus
            Why it is not valid (``INVALID_GRADIENT`` for a finite value with
            non-finite derivatives).
        message : str
            The full message (:func:`~bngfit.objective._status.status_message`).

        Returns
        -------
        Evaluation
            Same value, gradient and simulation.
        """
        return dataclasses.replace(self, residuals=None, status=EvalStatus(status),
                                   message=message)
