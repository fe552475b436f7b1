"""Model parameter and species values of one phase as functions of theta (part of the plan).

A condition, run on its model, sets every model parameter and some species to
a :class:`~bngfit.problem._conditions.Quantity` of theta
(:func:`phase_quantities`); a :class:`PhaseMap` splits those once into the
parts that are constant and the parts that move with theta, so that an
evaluation only fills in numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.problem import ModelInfo, MutationOp, Problem
from bngfit.problem._conditions import Const, Quantity, Theta, apply_mutation
from bngfit.simulate._inputs import PhaseInput


# ------------------------------------------------------ conditions to quantities
def pre_chain(problem: Problem, pre: str) -> list[str]:
    """The pre-phase conditions of an experiment, first to last.

    A pre-equilibration condition may name the condition run before it
    (:attr:`Condition.previous`); PEtab problems have at most one pre-phase.

    Raises
    ------
    UnsupportedError
        A condition is not defined, or the chain runs in a cycle.
    """
    chain: list[str] = []
    while pre:
        if pre in chain:
            raise UnsupportedError("pre-phases form a cycle: "
                                   + " -> ".join([*reversed(chain), pre]), id=pre)
        if pre not in problem.conditions:
            raise UnsupportedError("pre-phase condition is not defined", id=pre)
        chain.append(pre)
        pre = problem.conditions[pre].previous or ""
    return chain[::-1]


def experiment_model(problem: Problem, pre: str, cid: str) -> str:
    """The model an experiment runs on: its condition's, which its pre-phases share.

    Raises
    ------
    UnsupportedError
        The condition is not defined, names no model, or a pre-phase runs on
        another model.
    """
    if cid not in problem.conditions:
        raise UnsupportedError("simulation condition is not defined", id=cid)
    try:
        model_id = problem.model_id(cid)
        for c in pre_chain(problem, pre):
            if problem.model_id(c) != model_id:
                raise UnsupportedError(
                    f"pre-phase condition '{c}' runs on model '{problem.model_id(c)}', "
                    f"condition '{cid}' on '{model_id}': a protocol runs on one model",
                    id=cid)
    except KeyError as err:
        raise UnsupportedError(str(err.args[0]), id=cid) from None
    return model_id


def base_quantities(problem: Problem, theta_index: dict[str, int]) -> dict[str, Quantity]:
    """Problem parameters as quantities: free -> Theta, fixed -> Const(nominal)."""
    out: dict[str, Quantity] = {}
    for p in problem.parameters:
        out[p.id] = Theta(theta_index[p.id]) if p.estimate else Const(p.nominal)
    return out


def _value_quantity(value: float | str, problem_q: dict[str, Quantity]) -> Quantity:
    """A condition's value as a quantity: a number, or the problem parameter it names."""
    return Const(float(value)) if not isinstance(value, str) else problem_q[value]


def phase_quantities(problem: Problem, cond_id: str, problem_q: dict[str, Quantity],
                     info: ModelInfo) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """Parameter and species quantities of a condition on its model.

    Model defaults are the base; a problem parameter binds the model parameter
    of its id, so a free parameter the model lacks is simply not there.

    Returns
    -------
    params : dict
        Every model parameter and compartment -> its quantity.
    species : dict
        The species whose initial value the condition sets -> its quantity.

    Raises
    ------
    UnsupportedError
        An operator other than '=' on a species the condition has not set
        before, a target that is nothing of the model, or a compartment size
        that would depend on theta.
    """
    params: dict[str, Quantity] = {}
    for name in (*info.parameters, *info.compartments):
        params[name] = problem_q.get(name, Const(info.defaults[name]))
    species: dict[str, Quantity] = {}
    cond = problem.conditions[cond_id]
    for mut in cond.mutations:
        operand = _value_quantity(mut.value, problem_q)
        if mut.target in info.species:
            if mut.op is MutationOp.SET:
                species[mut.target] = operand
            elif mut.target in species:
                # set earlier in this condition (a PyBNF free initial value
                # changed by a mutant): the base is that quantity
                species[mut.target] = apply_mutation(species[mut.target], mut.op, operand)
            else:
                raise UnsupportedError(
                    f"operator '{mut.op.value}' on species '{mut.target}' needs the "
                    "species' initial value; only '=' is supported for species (or an "
                    "operator after an '=' of the same condition)",
                    id=cond_id, value=f"{mut.target} {mut.op.value} {mut.value}")
        elif mut.target in params:
            params[mut.target] = apply_mutation(params[mut.target], mut.op, operand)
        else:
            raise UnsupportedError(
                "condition changes something that is no model parameter, species or "
                "compartment", id=cond_id, value=mut.target)
    for comp in info.compartments:
        if params[comp].deps:
            raise UnsupportedError(
                f"compartment '{comp}' would depend on an estimated parameter in condition "
                f"'{cond_id}'; bngsim has no sensitivities with respect to volumes, so fix "
                "its value", id=cond_id, value=comp)
    return params, species


# ---------------------------------------------------------------- phases
@dataclass(frozen=True)
class ParameterValues:
    """How the model parameter values of a phase, and their Jacobian, follow from theta.

    Attributes
    ----------
    template : dict
        Name -> value of every written parameter: the constants, NaN where
        theta writes it.
    from_theta : tuple of (str, int)
        Parameters that are one free parameter: name, column of theta.
    from_quantity : tuple of (str, Quantity)
        Parameters that are any other function of theta.
    jac : ndarray, shape (n_sens, n_theta)
        d param / d theta of the sensitivity parameters where it is constant
        (read-only); rows of ``jac_rows`` are filled in per point.
    jac_cols : ndarray of int, shape (n_sens,), or None
        Set where ``jac`` is a selection of distinct columns (see
        :attr:`PhaseInput.param_cols`).
    jac_rows : tuple of (int, Quantity)
        Rows of the Jacobian that vary with theta.
    """

    template: dict[str, float]
    from_theta: tuple[tuple[str, int], ...]
    from_quantity: tuple[tuple[str, Quantity], ...]
    jac: np.ndarray
    jac_cols: np.ndarray | None
    jac_rows: tuple[tuple[int, Quantity], ...]

    @classmethod
    def build(cls, quantities: dict[str, Quantity], sens: tuple[str, ...],
              n_theta: int) -> ParameterValues:
        """Split ``quantities`` into constant and moving parts (see the attributes)."""
        template = {}
        theta_params = []
        other_params = []
        for name, q in quantities.items():
            if isinstance(q, Theta):
                theta_params.append((name, q.index))
                template[name] = float("nan")
            elif q.deps:
                other_params.append((name, q))
                template[name] = float("nan")
            else:
                template[name] = float(q.eval(np.zeros(n_theta))[0])
        jac = np.zeros((len(sens), n_theta))
        dynamic = []
        for i, name in enumerate(sens):
            q = quantities[name]
            if isinstance(q, Theta):
                jac[i, q.index] = 1.0
            elif q.deps:
                dynamic.append((i, q))
        jac.setflags(write=False)
        cols = None if dynamic else _column_selection(jac)
        return cls(template, tuple(theta_params), tuple(other_params), jac, cols,
                   tuple(dynamic))

    def at(self, theta: np.ndarray, theta_list: list[float], sensi: bool
           ) -> tuple[dict[str, float], np.ndarray, np.ndarray | None]:
        """Values, Jacobian and column selection (see :class:`PhaseInput`) at theta.

        Without ``sensi`` the Jacobian is the constant template.
        """
        params = self.template.copy()
        for name, i in self.from_theta:
            params[name] = theta_list[i]
        for name, q in self.from_quantity:
            params[name] = q.eval(theta)[0]
        jac = self.jac
        if sensi and self.jac_rows:
            jac = jac.copy()
            for i, q in self.jac_rows:
                jac[i] = q.eval(theta)[1]
        cols = self.jac_cols if jac is self.jac else None
        return params, jac, cols


def _column_selection(jac: np.ndarray) -> np.ndarray | None:
    """The columns ``jac`` selects, if every row is the unit vector of a distinct one.

    The engine then scatters instead of multiplying (a small matmul costs
    ~15 us right after a bngsim run). Read-only; None otherwise.
    """
    if not (np.all(jac.sum(axis=1) == 1.0) and np.all(jac.max(axis=1) == 1.0)):
        return None
    c = jac.argmax(axis=1)
    if np.unique(c).size != c.size:
        return None
    c.setflags(write=False)
    return c


@dataclass(frozen=True)
class SpeciesValues:
    """How the species initial values a phase sets follow from theta.

    Attributes
    ----------
    template : dict
        Name -> value: the constants, NaN where theta moves it.
    varying : tuple of (str, Quantity)
        The species whose value moves with theta.
    """

    template: dict[str, float]
    varying: tuple[tuple[str, Quantity], ...]

    @classmethod
    def build(cls, quantities: dict[str, Quantity], n_theta: int) -> SpeciesValues:
        """Split ``quantities`` into constant and moving parts."""
        template = {}
        varying = []
        for name, q in quantities.items():
            if q.deps:
                varying.append((name, q))
                template[name] = float("nan")
            else:
                template[name] = float(q.eval(np.zeros(n_theta))[0])
        return cls(template, tuple(varying))

    def at(self, theta: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Values, and d value / d theta (shape (n_theta,)) of the moving ones, at theta.

        Where nothing moves, the values are the template itself: read them,
        do not write to them.
        """
        if not self.varying:
            return self.template, {}
        species = self.template.copy()
        species_jac = {}
        for name, q in self.varying:
            v, g = q.eval(theta)
            species[name] = v
            species_jac[name] = g
        return species, species_jac


@dataclass(frozen=True)
class PhaseMap:
    """Model parameter and species values of one phase as functions of theta.

    Built by :meth:`build`, which splits the quantities once.

    Attributes
    ----------
    quantities, species_quantities : dict
        Name -> :class:`Quantity` (all written parameters and compartments;
        the species whose initial value the condition sets).
    sens : tuple of str
        The parameters with sensitivities (rows of the parameter Jacobian).
    n_theta : int
        Number of free parameters.
    duration : float or None
        A pre-phase: None runs it to steady state, else this long (model time
        units). None for the measured phase.
    params : ParameterValues
        ``quantities`` split into constant and moving parts.
    species : SpeciesValues
        ``species_quantities`` split likewise.
    """

    quantities: dict[str, Quantity]
    species_quantities: dict[str, Quantity]
    sens: tuple[str, ...]
    n_theta: int
    duration: float | None
    params: ParameterValues = field(repr=False, compare=False)
    species: SpeciesValues = field(repr=False, compare=False)

    @classmethod
    def build(cls, quantities: dict[str, Quantity], species_quantities: dict[str, Quantity],
              sens: tuple[str, ...], n_theta: int, duration: float | None = None) -> PhaseMap:
        """The phase map of these quantities (see the attributes)."""
        return cls(quantities, species_quantities, sens, n_theta, duration,
                   ParameterValues.build(quantities, sens, n_theta),
                   SpeciesValues.build(species_quantities, n_theta))

    def inputs(self, theta: np.ndarray, theta_list: list[float], sensi: bool) -> PhaseInput:
        """Values (and with ``sensi`` Jacobians) of the phase at theta.

        Parameters
        ----------
        theta : ndarray, shape (n_theta,)
            Free parameters, native values.
        theta_list : list of float
            ``theta.tolist()`` (shared by all phases of one evaluation).
        sensi : bool
            Whether the Jacobians are needed.

        Returns
        -------
        PhaseInput
        """
        params, jac, cols = self.params.at(theta, theta_list, sensi)
        species, species_jac = self.species.at(theta)
        return PhaseInput(params, species, jac, species_jac, self.duration, cols)
