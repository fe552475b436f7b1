"""Which species of an SBML model a number can set the initial value of, as PyBNF does.

PyBNF 1.x sets a free parameter whose id is a species of an SBML model as that
species' initial concentration: libroadrunner's ``init([S]) = value``, then
``reset()`` before each simulation (``SbmlModelNoTimeout._modify_params`` in
``pybnf/pset.py``). What that does, measured with libroadrunner 2.10:

- the initial amount becomes ``value * size`` of the species' compartment,
  whether the species is given by ``initialConcentration`` or
  ``initialAmount`` and whether or not it has ``hasOnlySubstanceUnits``;
- a species with an initial assignment or an assignment rule cannot be set
  (libroadrunner raises "Could not set value");
- the initial assignments of other species that read it are evaluated again
  by ``reset()`` (those of parameters are not);
- a boundary or constant species keeps the file's value: ``reset()`` resets
  floating species only, so the free parameter has no effect.

bngfit sets the value with bngsim's ``set_concentration`` after ``reset()``,
where bngsim holds a concentration (amount / size), or, for a species in
amounts (moved into a compartment of size 1 by
:mod:`bngfit.simulate._sbml_amounts`), the amount. :func:`species_initials`
gives, per species, the factor that turns PyBNF's initial concentration into
the value bngsim takes, or the reason bngfit cannot set it as PyBNF does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._sbml_amounts import assigned_ids

if TYPE_CHECKING:
    import libsbml


def species_initials(doc: libsbml.SBMLDocument | None
                     ) -> tuple[dict[str, float], dict[str, str]]:
    """How a number sets the initial value of each species of ``doc`` (see the module doc).

    Parameters
    ----------
    doc : libsbml.SBMLDocument or None
        A checked document (:func:`bngfit.simulate._sbml_check.checked_document`);
        None: no species.

    Returns
    -------
    factors : dict of str to float
        Species that can be set -> the value bngsim takes for an initial
        concentration of 1: 1, or the size of the compartment of a species
        in amounts.
    fixed : dict of str to str
        The other species -> why their initial value cannot be set alone.
    """
    model = None if doc is None else doc.getModel()
    if model is None:
        return {}, {}
    readers = _initial_readers(model)
    rules = {model.getRule(k).getVariable() for k in range(model.getNumRules())
             if model.getRule(k).isAssignment()}
    initial = {model.getInitialAssignment(k).getSymbol()
               for k in range(model.getNumInitialAssignments())}
    factors: dict[str, float] = {}
    fixed: dict[str, str] = {}
    for k in range(model.getNumSpecies()):
        sp = model.getSpecies(k)
        sid = sp.getId()
        if sid in rules:
            fixed[sid] = "an assignment rule sets its value"
        elif sid in initial:
            fixed[sid] = "an initial assignment sets its initial value"
        elif sp.getBoundaryCondition() or sp.getConstant():
            fixed[sid] = ("it is a boundary or constant species, whose value PyBNF's "
                          "simulator (libroadrunner) keeps at reset, so in PyBNF the "
                          "parameter has no effect")
        elif sid in readers:
            # bngsim evaluates initial assignments at reset, before bngfit sets
            # the value; libroadrunner evaluates a species' again after it
            fixed[sid] = (f"the initial assignment of '{readers[sid]}' reads its initial "
                          "value, which bngfit sets after the initial assignments are "
                          f"evaluated, so '{readers[sid]}' would not follow it")
        elif not sp.getHasOnlySubstanceUnits():
            factors[sid] = 1.0  # bngsim holds its concentration, as PyBNF sets it
        else:
            why = _amount_problem(model, sp)
            if why is None:
                factors[sid] = float(model.getCompartment(sp.getCompartment()).getSize())
            else:
                fixed[sid] = why
    return factors, fixed


def _initial_readers(model: libsbml.Model) -> dict[str, str]:
    """Ids read by an initial assignment -> the (first) symbol it assigns."""
    out: dict[str, str] = {}
    for k in range(model.getNumInitialAssignments()):
        ia = model.getInitialAssignment(k)
        for name in _names(ia.getMath()):
            out.setdefault(name, ia.getSymbol())
    return out


def _names(ast: libsbml.ASTNode | None) -> set[str]:
    """The identifiers a math expression reads."""
    import libsbml

    if ast is None:
        return set()
    out = set()
    stack = [ast]
    while stack:
        node = stack.pop()
        if node.getType() == libsbml.AST_NAME:
            out.add(node.getName())
        stack.extend(node.getChild(i) for i in range(node.getNumChildren()))
    return out


def _amount_problem(model: libsbml.Model, sp: libsbml.Species) -> str | None:
    """Why an initial concentration of a species in amounts has no fixed amount, or None.

    PyBNF's concentration is ``amount / size``; bngfit holds the amount, so the
    compartment's size must be a constant bngfit knows before any simulation.
    """
    c = model.getCompartment(sp.getCompartment())
    dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else 3.0
    if dims == 0:
        return (f"it holds an amount (hasOnlySubstanceUnits) in compartment '{c.getId()}' "
                "of dimension 0, where a concentration is not defined")
    if not c.isSetSize() or not c.getConstant() or c.getId() in assigned_ids(model):
        return (f"it holds an amount (hasOnlySubstanceUnits) in compartment '{c.getId()}', "
                "whose size is not a constant, and PyBNF sets a concentration")
    return None
