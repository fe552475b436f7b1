"""Model parameter and species values of one phase as functions of theta
(:class:`PhaseMap`), split once into constant and moving parts (part of the plan)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.problem._conditions import Quantity, Theta
from bngfit.simulate._engine import PhaseInput


# ---------------------------------------------------------------- phases
@dataclass(frozen=True)
class PhaseMap:
    """Model parameter and species values of one phase as functions of theta.

    Attributes
    ----------
    quantities, species_quantities : dict
        Name -> :class:`Quantity` (all written parameters and compartments;
        the species whose initial value the condition sets).
    sens : tuple of str
        The parameters with sensitivities (rows of the parameter Jacobian).
    """

    quantities: dict[str, Quantity]
    species_quantities: dict[str, Quantity]
    sens: tuple[str, ...]
    n_theta: int
    duration: float | None = None  # a pre-phase: None to steady state, else this long

    def __post_init__(self) -> None:
        template = {}
        theta_params = []
        other_params = []
        for name, q in self.quantities.items():
            if isinstance(q, Theta):
                theta_params.append((name, q.index))
                template[name] = float("nan")
            elif q.deps:
                other_params.append((name, q))
                template[name] = float("nan")
            else:
                template[name] = float(q.eval(np.zeros(self.n_theta))[0])
        jac = np.zeros((len(self.sens), self.n_theta))
        dynamic = []
        for i, name in enumerate(self.sens):
            q = self.quantities[name]
            if isinstance(q, Theta):
                jac[i, q.index] = 1.0
            elif q.deps:
                dynamic.append((i, q))
        jac.setflags(write=False)
        # Where every sensitivity parameter is a distinct free parameter, the
        # Jacobian is a column selection: the engine scatters instead of
        # multiplying (a small matmul costs ~15 us right after a bngsim run).
        cols = None
        if not dynamic and np.all(jac.sum(axis=1) == 1.0) and np.all(jac.max(axis=1) == 1.0):
            c = jac.argmax(axis=1)
            if np.unique(c).size == c.size:
                cols = c
                cols.setflags(write=False)
        species_template = {}
        species_var = []
        for name, q in self.species_quantities.items():
            if q.deps:
                species_var.append((name, q))
                species_template[name] = float("nan")
            else:
                species_template[name] = float(q.eval(np.zeros(self.n_theta))[0])
        set_ = object.__setattr__
        set_(self, "_template", template)
        set_(self, "_theta_params", tuple(theta_params))
        set_(self, "_other_params", tuple(other_params))
        set_(self, "_jac", jac)
        set_(self, "_jac_cols", cols)
        set_(self, "_jac_dynamic", tuple(dynamic))
        set_(self, "_species_template", species_template)
        set_(self, "_species_var", tuple(species_var))
        set_(self, "_no_species_jac", {})

    def inputs(self, theta: np.ndarray, theta_list: list[float], sensi: bool) -> PhaseInput:
        """Values (and with ``sensi`` Jacobians) of the phase at theta.

        Parameters
        ----------
        theta : ndarray, shape (n_theta,)
        theta_list : list of float
            ``theta.tolist()`` (shared by all phases of one evaluation).
        sensi : bool
        """
        params = self._template.copy()
        for name, i in self._theta_params:
            params[name] = theta_list[i]
        for name, q in self._other_params:
            params[name] = q.eval(theta)[0]
        jac = self._jac
        if sensi and self._jac_dynamic:
            jac = jac.copy()
            for i, q in self._jac_dynamic:
                jac[i] = q.eval(theta)[1]
        species = self._species_template
        species_jac = self._no_species_jac
        if self._species_var:
            species = species.copy()
            species_jac = {}
            for name, q in self._species_var:
                v, g = q.eval(theta)
                species[name] = v
                species_jac[name] = g
        cols = self._jac_cols if jac is self._jac else None
        return PhaseInput(params, species, jac, species_jac, self.duration, cols)
