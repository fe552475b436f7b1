"""The terms the objective sums, and the one interface each implements.

:class:`~bngfit.objective.Objective` is a sum of terms: the likelihood of the
data (:class:`~bngfit.objective._data.DataLikelihood`), the trajectory penalties
(:class:`TrajectoryPenalties`), and any further term (priors). One simulation
gives every term what it reads, an :class:`Observation` at the native parameter
values ``theta``; each term returns its :class:`Contribution`: a value, its
gradient with respect to ``theta`` and, where the term is a sum of squares, its
residuals and their Jacobian with respect to ``theta``. The objective adds the
contributions and applies the chain rule to optimizer space once, for all of
them. Normalizations are no term: they change the observables (``h``) every
term sees.

A new term implements :class:`Term` (``has_residuals`` and
``evaluate(observation, sensi)``); the objective builds its terms from the
problem, and :meth:`Objective.add_term <bngfit.objective.Objective.add_term>`
adds one. A term never sees optimizer space or parameter scales.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np

from bngfit.likelihood._penalties import penalty
from bngfit.observe._transforms import normalize_values
from bngfit.plan._outputs import PenaltySpec

from ._evaluation import ResidualPair
from ._status import EvalStatus


class Observation(NamedTuple):
    """What one simulation at a point gives the terms, native parameter space.

    Immutable; a named tuple rather than a frozen dataclass because one is
    built at every evaluation.

    Attributes
    ----------
    theta : ndarray, shape (n_theta,)
        Native values of the free parameters.
    y : ndarray, shape (n_flat,)
        All experiments' outputs, flat (see :attr:`bngfit.plan.Experiment.offset`).
    dy : ndarray, shape (n_flat, n_theta), or None
        Their derivatives by theta (None without sensitivities).
    h, sigma : ndarray, shape (n_meas,)
        Observables (normalized where asked) and noise scales at the measurements.
    dh, dsigma : ndarray, shape (n_meas, n_theta), or None
        Their derivatives by theta.
    """

    theta: np.ndarray
    y: np.ndarray
    dy: np.ndarray | None
    h: np.ndarray
    dh: np.ndarray | None
    sigma: np.ndarray
    dsigma: np.ndarray | None


class Contribution(NamedTuple):
    """What one term adds to the objective at a point, in native parameter space.

    Immutable; a named tuple rather than a frozen dataclass because every term
    returns one at every evaluation.

    Attributes
    ----------
    fval : float
        The term's value (``inf`` where it is not ok).
    grad : ndarray, shape (n_theta,), or None
        d fval / d theta (None without sensitivities).
    chi2 : float
        The term's share of the data's sum of squared weighted residuals (0 for
        anything but data).
    residuals : callable or None
        For a sum of squares, ``fval = 0.5 * ||res||^2`` up to a constant:
        ``residuals() -> (res, sres)``, ``res`` shape (n_res,), ``sres = d res /
        d theta`` shape (n_res, n_theta) or None without sensitivities. Called
        only when the residuals are read. None: no residual form.
    status : EvalStatus
        ``OK``, or why the term has no value here.
    message : str
        What happened and where, for a term that is not ok.
    """

    fval: float
    grad: np.ndarray | None = None
    chi2: float = 0.0
    residuals: Callable[[], ResidualPair] | None = None
    status: EvalStatus = EvalStatus.OK
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the term has a value here."""
        return self.status is EvalStatus.OK

    @classmethod
    def invalid(cls, message: str,
                status: EvalStatus = EvalStatus.INVALID_VALUE) -> Contribution:
        """A term without a value here.

        Parameters
        ----------
        message : str
            What happened and where.
        status : EvalStatus
            Why (a value left its domain, by default).

        Returns
        -------
        Contribution
        """
        return cls(fval=float("inf"), status=status, message=message)


class Term(Protocol):
    """One additive piece of the objective.

    Attributes
    ----------
    has_residuals : bool
        Whether every :class:`Contribution` it returns has a residual form; the
        objective has one where all its terms do.
    """

    has_residuals: bool

    def evaluate(self, observation: Observation, sensi: bool) -> Contribution:
        """The term's value and derivatives at a point.

        Parameters
        ----------
        observation : Observation
            The simulation at the point.
        sensi : bool
            Whether to compute derivatives (``observation.dy`` is None otherwise).

        Returns
        -------
        Contribution
            Derivatives with respect to native ``theta``; never raises for a
            value outside its domain (a contribution that is not ok says why).
        """
        ...


class TrajectoryPenalties:
    """Penalties on whole trajectories (qualitative constraints); no residual form.

    Parameters
    ----------
    specs : tuple of PenaltySpec
        The compiled penalties (:attr:`bngfit.plan.Plan.penalties`).
    """

    has_residuals = False

    def __init__(self, specs: tuple[PenaltySpec, ...]) -> None:
        self.specs = specs
        # each penalty's function: its own, or PyBNF's penalty of its constraint
        self._functions = tuple(
            s.penalty.evaluate if s.penalty.evaluate is not None
            else partial(penalty, s.penalty.constraint) for s in specs)

    def evaluate(self, observation: Observation, sensi: bool) -> Contribution:
        """Sum of the penalties and its gradient (see :class:`Term`)."""
        y, dy = observation.y, observation.dy
        total = 0.0
        g = np.zeros(observation.theta.size) if sensi else None
        for spec, function in zip(self.specs, self._functions, strict=True):
            series, dseries = {}, {}
            for name, ref, norm in zip(spec.names, spec.refs, spec.norms, strict=True):
                v = y[ref]
                dv = dy[ref] if sensi else None
                if norm is not None:
                    kind, nref = norm
                    v, dv, why = normalize_values(kind, y[nref], dy[nref] if sensi else None,
                                                  v, dv, f"'{name}' in {spec.penalty.label}")
                    if why is not None:
                        return Contribution.invalid(why)
                series[name], dseries[name] = v, dv
            value, dvalue = function(spec.t, series)
            if not np.isfinite(value):
                return Contribution.invalid(f"{spec.penalty.label}: the penalty is {value}")
            total += float(value)
            if sensi:
                for name, d in dvalue.items():
                    g += np.asarray(d, float) @ dseries[name]
        return Contribution(fval=total, grad=g)
