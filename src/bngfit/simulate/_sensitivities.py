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
