"""Free parameters that are species of an SBML or Antimony model (part of the PyBNF
builder core, both editions).

PyBNF sets a free parameter whose id is a species of an SBML model as that
species' initial concentration (``init([S])`` in libroadrunner; see
:mod:`bngfit.simulate._sbml_initials` for what that does, measured). bngfit does
the same with a mutation at the start of every simulation of that model, before
a mutant's or condition's own perturbations (PyBNF writes the parameter set into
the model, then applies the mutant): ``S = S`` (the species takes the free
parameter of its id), times the compartment's size where bngsim holds the
species' amount (``hasOnlySubstanceUnits``). Only the first phase of a protocol
sets it: later phases start from the state the one before ended in. The
gradient comes from bngsim's initial-value sensitivities.

Names stay apart: a data column, observable or noise formula that names the
species reads its trajectory (model outputs come first when bngfit resolves a
name); only the mutation's value names the parameter.

What PyBNF does not set this way is refused on the parameter's line: a
compartment (PyBNF sets global parameters and species only, and reports
anything else as found in no model), a species an initial assignment or rule
sets or another initial assignment reads, a boundary or constant species
(PyBNF's simulator keeps its value), a species in amounts in a compartment
whose size is not a constant.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._conditions import Mutation, MutationOp
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._problem import ParameterSpec


def initial_species(params: Iterable[ParameterSpec], info: ModelInfo, model: Path,
                    f: str) -> tuple[str, ...]:
    """The declared free parameters that set a species' initial value, in declaration order.

    Parameters
    ----------
    params : iterable of ParameterSpec
        The declared free parameters.
    info : ModelInfo
        An SBML or Antimony model (not a BNGL template: its species are
        patterns, set through ``NAME__FREE`` parameters of its seed species).
    model : Path
        The model file, for messages.
    f : str
        The configuration file, for messages.

    Raises
    ------
    UnsupportedError
        A free parameter that is a species whose initial value bngfit cannot
        set as PyBNF does (the reason named).
    """
    out = []
    for p in params:
        if p.id not in info.species:
            continue
        why = info.fixed_initials.get(p.id)
        if why is None and p.id not in info.initial_factors:
            why = "bngfit sets the initial values of species of SBML and Antimony models only"
        if why is not None:
            raise UnsupportedError(
                f"free parameter '{p.id}' is a species of {model.name}, whose initial "
                f"concentration PyBNF would set, but {why}; fit a parameter of the model "
                "that sets it instead", file=f, row=p.row, id=p.id)
        out.append(p.id)
    return tuple(out)


def initial_mutations(species: Iterable[str], info: ModelInfo) -> tuple[Mutation, ...]:
    """The mutations that give each species the free parameter of its id (see the module doc)."""
    out = []
    for s in species:
        out.append(Mutation(s, MutationOp.SET, s))
        factor = info.initial_factors[s]
        if factor != 1.0:  # bngsim holds the amount: concentration times size
            out.append(Mutation(s, MutationOp.MUL, factor))
    return tuple(out)


def not_a_parameter(pid: str, info: ModelInfo, model: Path) -> str:
    """What ``pid`` is in a model that has no parameter of that id, for a message."""
    if pid in info.compartments:
        return (f"'{pid}' is a compartment of {model.name}: PyBNF sets only the global "
                "parameters and species of an SBML model (it reports this one as found in "
                "no model), and bngsim has no sensitivities with respect to sizes")
    if pid in info.expressions:
        return (f"'{pid}' is a rule, function or reaction rate of {model.name}, whose value "
                "the model computes: fit a parameter it reads instead")
    return f"the model ({model.name}) has no parameter or species '{pid}'"


def refuse_unbound(pid: str, row: int | None, info: ModelInfo, model: Path,
                   f: str) -> InputError:
    """The error for a free parameter that a single SBML/Antimony model does not have."""
    return InputError(f"free parameter is not a parameter of the model: "
                      f"{not_a_parameter(pid, info, model)}", file=f, row=row, id=pid)
