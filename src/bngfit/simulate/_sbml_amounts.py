"""Species in amounts (SBML ``hasOnlySubstanceUnits``) as bngsim can simulate them.

In SBML the symbol of a species with ``hasOnlySubstanceUnits="true"`` is its
amount: rate laws, rules and the PEtab tables read and set amounts. bngsim 0.16
simulates and reports every species as a concentration, amount / size of its
compartment, so in a compartment of any size but 1 every value (and in
nonlinear rate laws the dynamics) would be off by that size.

In a compartment of constant size 1 the two are the same number. So before
bngsim loads such a model, every species in amounts (outside compartments of
dimension 0) is moved into one added compartment of constant size 1
(:data:`UNIT`): its symbol then means the same number to bngsim as to SBML,
whatever the size of its own compartment and whatever a condition sets it to.
Nothing else changes: a rate law that names the compartment still reads its
size; a species given by ``initialConcentration`` gets the amount it stands
for (concentration times its compartment's size, as an initial assignment
where that size is not a plain constant).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libsbml

#: Id of the compartment of size 1 the species in amounts are moved into (a
#: suffix is added if the model uses the id).
UNIT = "bngfit_unit_amounts"


def amount_species(model: libsbml.Model) -> list[libsbml.Species]:
    """The species whose symbol is an amount and whose compartment has a size."""
    out = []
    for k in range(model.getNumSpecies()):
        sp = model.getSpecies(k)
        c = model.getCompartment(sp.getCompartment())
        if not sp.getHasOnlySubstanceUnits() or c is None:
            continue
        dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else 3.0
        if dims != 0:
            out.append(sp)
    return out


def assigned_ids(model: libsbml.Model) -> set[str]:
    """Ids whose value an initial assignment or a rule sets (not their attribute)."""
    out = {model.getInitialAssignment(k).getSymbol()
           for k in range(model.getNumInitialAssignments())}
    return out | {model.getRule(k).getVariable() for k in range(model.getNumRules())}


def moved_to_unit(doc: libsbml.SBMLDocument) -> tuple[str, ...]:
    """Move the species in amounts of ``doc`` into a compartment of size 1, in place.

    Parameters
    ----------
    doc : libsbml.SBMLDocument
        A valid document (checked by :mod:`bngfit.simulate._sbml_check`).

    Returns
    -------
    tuple of str
        The compartments species were moved out of, sorted (empty: ``doc``
        is unchanged).
    """
    import libsbml

    model = doc.getModel()
    species = amount_species(model) if model is not None else []
    if not species:
        return ()
    unit = UNIT
    while model.getElementBySId(unit) is not None:
        unit += "_"
    c = model.createCompartment()
    for status in (c.setId(unit), c.setSize(1.0), c.setConstant(True),
                   c.setSpatialDimensions(3)):
        if status != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise RuntimeError(f"libsbml cannot add the compartment '{unit}' ({status})")
    assigned = assigned_ids(model)
    moved = set()
    for sp in species:
        home = model.getCompartment(sp.getCompartment())
        if sp.isSetInitialConcentration():
            _amount_from_concentration(model, sp, home, assigned)
        sp.setCompartment(unit)
        moved.add(home.getId())
    return tuple(sorted(moved))


def _amount_from_concentration(model: libsbml.Model, sp: libsbml.Species,
                               home: libsbml.Compartment, assigned: set[str]) -> None:
    """Give ``sp`` the initial amount its initial concentration in ``home`` stands for."""
    import libsbml

    conc = sp.getInitialConcentration()
    sp.unsetInitialConcentration()
    if home.isSetSize() and home.getConstant() and home.getId() not in assigned:
        sp.setInitialAmount(conc * home.getSize())
        return
    sp.setInitialAmount(0.0)
    if sp.getId() in assigned:
        return  # its own initial assignment or rule sets it (an amount) anyway
    ia = model.createInitialAssignment()
    ia.setSymbol(sp.getId())
    ia.setMath(libsbml.parseL3Formula(f"{conc!r} * {home.getId()}"))


def sbml_for_bngsim(path: Path, sbml: str | None = None) -> str | None:
    """The SBML bngsim is to load for the model at ``path``, if it is not the file.

    Parameters
    ----------
    path : Path
        An SBML file (or any model file when ``sbml`` is given).
    sbml : str, optional
        The model as SBML text (an Antimony model's translation).

    Returns
    -------
    str or None
        The SBML with its species in amounts moved (None: load the file).
    """
    import libsbml

    doc = (libsbml.readSBMLFromString(sbml) if sbml is not None
           else libsbml.readSBMLFromFile(str(path)))
    return libsbml.writeSBMLToString(doc) if moved_to_unit(doc) else None
