"""What one run of a condition is given (part of the simulate stage).

Solver settings, the values of each phase at a point theta, the sample grid,
and what identifies a chain of pre-phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.errors import BngfitError, SimulationFailure, UnsupportedError


@dataclass(frozen=True)
class SolverSettings:
    """ODE solver settings shared by every run of an objective.

    Attributes
    ----------
    rtol, atol : float
        CVODE relative and absolute tolerances.
    preeq_tmax : float
        Time horizon (model time units) for pre-equilibration.
    preeq_rtol, preeq_atol : float
        Steady-state test: states (and sensitivities) must change by less than
        ``atol + rtol*|value|`` over the last stretch of the horizon.
    timeout : float or None
        Wall-clock budget of one run, in seconds.
    max_steps : int or None
        CVODE's internal steps allowed per output interval (None: bngsim's
        default, 10000).
    """

    rtol: float = 1e-8
    atol: float = 1e-10
    preeq_tmax: float = 1e6
    preeq_rtol: float = 1e-6
    preeq_atol: float = 1e-8
    timeout: float | None = 600.0
    max_steps: int | None = None


@dataclass
class PhaseInput:
    """Values for one phase of a condition at one point theta.

    Attributes
    ----------
    params : dict
        Model parameter (and compartment) values to write, native.
    species : dict
        Species whose initial value is set (after reset, or after
        pre-equilibration for the main phase), native.
    param_jac : ndarray, shape (n_sens, n_theta)
        d param / d theta for the sensitivity parameters of the run, in order.
    species_jac : dict
        d species0 / d theta, shape (n_theta,), for the species in ``species``
        whose value depends on theta.
    duration : float or None
        For a pre-equilibration phase: None runs it to steady state (checked),
        a number runs it for that long, model time units.
    param_cols : ndarray of int, shape (n_sens,), or None
        Set where ``param_jac`` is a selection of distinct columns (row i is
        the unit vector of column ``param_cols[i]``): the chain rule is then a
        scatter, not a product.
    """

    params: dict[str, float]
    species: dict[str, float]
    param_jac: np.ndarray
    species_jac: dict[str, np.ndarray]
    duration: float | None = None
    param_cols: np.ndarray | None = None


def sample_grid(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample times for bngsim and the row of each requested time.

    bngsim integrates from the first sample time, so t=0 is always prepended;
    it needs two points at least.

    Parameters
    ----------
    times : ndarray, shape (n,)
        Requested times, model time units, non-negative.

    Returns
    -------
    grid : ndarray, shape (n_grid,)
    rows : ndarray of int, shape (len(times),)
    """
    uniq = np.unique(np.concatenate([[0.0], np.asarray(times, dtype=float)]))
    if uniq.size < 2:
        uniq = np.array([0.0, 1e-6])
    rows = np.searchsorted(uniq, times)
    return uniq, rows


def pre_chain_key(pre: tuple[PhaseInput, ...], sens_params: tuple[str, ...] | None) -> tuple:
    """What determines where a chain of pre-phases ends (and its dx/dtheta).

    Parameters
    ----------
    pre : tuple of PhaseInput
        The pre-phases, first to last.
    sens_params : tuple of str or None
        The sensitivity parameters of the runs (None: runs without).

    Returns
    -------
    tuple
        Hashable; equal for chains that end in the same state.
    """

    def phase_key(p: PhaseInput) -> tuple:
        return (tuple(p.params.items()), tuple(p.species.items()), p.duration,
                p.param_jac.shape, p.param_jac.tobytes(),
                tuple((k, np.asarray(v).tobytes()) for k, v in p.species_jac.items()))
    return (sens_params, tuple(phase_key(p) for p in pre))


def check_settled(settings: SolverSettings, a: np.ndarray, b: np.ndarray, what: str,
                  phase: PhaseInput | None = None) -> None:
    """Refuse a run to steady state whose last two samples ``a``, ``b`` differ.

    Raises
    ------
    SimulationFailure
        Naming ``what`` (states or sensitivities) is still changing.
    """
    if phase is not None and phase.duration is not None:
        return  # a fixed-duration phase need not settle
    s = settings
    bad = np.abs(b - a) > s.preeq_atol + s.preeq_rtol * np.abs(b)
    if np.any(bad) or not np.all(np.isfinite(b)):
        raise SimulationFailure(
            f"pre-equilibration did not reach a steady state by t={s.preeq_tmax:g} "
            f"({what} still changing); raise preeq_tmax or check the model"
        )


def run_error(err: Exception, path: object) -> BngfitError:
    """What a bngsim run that raised ``err`` raises in bngfit.

    ``UnsupportedError`` where bngsim refuses the sensitivities this model's
    run requests (an event or a rate-law switch whose crossing it cannot
    differentiate): that depends on the model and the parameters requested,
    never on the point, so it ends the evaluation, the fit or the check rather
    than rejecting one trial point. Else ``SimulationFailure`` (this point).
    """
    import bngsim

    text = " ".join(str(err).split())[:2000]
    if isinstance(err, bngsim.SensitivityUnsupportedError):
        return UnsupportedError(f"no gradient can be computed for this model: {text}",
                                file=str(path))
    return SimulationFailure(text)

