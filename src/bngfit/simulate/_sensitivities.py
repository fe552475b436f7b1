"""The chain rule from bngsim's sensitivities to the free parameters theta.

bngsim differentiates a run by model parameters and initial values; the
caller's Jacobians map both to theta (part of the simulate stage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import bngsim


def total_derivatives(r: bngsim.Result, outs: list[str], param_jac: np.ndarray,
                      ic: Sequence[str], species_jac: Mapping[str, np.ndarray], n_theta: int,
                      cols: np.ndarray | None = None) -> np.ndarray:
    """The derivatives of a run's outputs by theta.

    d outputs / d theta = dy/dp @ dp/dtheta + dy/dx0 @ dx0/dtheta.

    Parameters
    ----------
    r : bngsim.Result
        A run with sensitivities by the parameters of ``param_jac``'s rows and
        the initial values of ``ic``.
    outs : list of str
        Output selectors.
    param_jac : ndarray, shape (n_sens, n_theta)
        d param / d theta for the run's sensitivity parameters.
    ic : sequence of str
        The species with initial-value sensitivities, in the run's order.
    species_jac : mapping
        Species name -> d x0 / d theta, shape (n_theta,), for every name in ``ic``.
    n_theta : int
        Number of free parameters.
    cols : ndarray of int, shape (n_sens,), optional
        Where ``param_jac`` selects distinct columns (see
        :attr:`PhaseInput.param_cols`): a scatter instead of a product.

    Returns
    -------
    ndarray, shape (n_grid, n_out, n_theta)
    """
    dy = None
    if param_jac.shape[0]:
        s = r.output_sensitivities(outs, axis="parameter")
        if cols is not None:
            dy = np.zeros(s.shape[:2] + (n_theta,))
            dy[:, :, cols] = s
        else:
            dy = s @ param_jac
    if ic:
        dic = r.output_sensitivities(outs, axis="ic")
        jac = np.array([species_jac[s] for s in ic])
        dy = dic @ jac if dy is None else dy + dic @ jac
    if dy is None:
        dy = np.zeros((r.time.shape[0], len(outs), n_theta))
    return dy


def declared_rows(species: Sequence[str], dx0: np.ndarray, cols: np.ndarray | None,
                   sens_params: tuple[str, ...], n_theta: int
                   ) -> dict[str, dict[str, float]] | None:
    """Initial values of a run's parameter sensitivities that carry all of dx0/dtheta.

    Possible where the run's parameters select distinct thetas (``cols``) and
    every theta with a non-zero d x0 / d theta is one of them: then column j
    of the run starts at d x0 / d theta[cols[j]].

    Parameters
    ----------
    species : sequence of str, length n_species
    dx0 : ndarray, shape (n_species, n_theta)
        d x0 / d theta of the run's initial state.
    cols : ndarray of int, shape (n_sens,), or None
        :attr:`PhaseInput.param_cols`.
    sens_params : tuple of str, length n_sens
    n_theta : int

    Returns
    -------
    dict or None
        ``{species: {param: d x0 / d param}}`` for bngsim's
        ``declare_ic_sensitivity`` (every species, zeros left out), or None.
    """
    if cols is None or len(cols) != len(sens_params):
        return None
    uncovered = np.ones(n_theta, dtype=bool)
    uncovered[cols] = False
    if np.any(dx0[:, uncovered] != 0.0):
        return None
    seed = dx0[:, cols]
    # every species declared (a zero row too): a declared row is the whole row
    return {sp: {p: float(v) for p, v in zip(sens_params, row, strict=True) if v != 0.0}
            for sp, row in zip(species, seed, strict=True)}
