"""PyBNF-shaped results of a fit: the sorted parameter table and the best-fit models.

A PyBNF job's ``output_dir`` gets, beside bngfit's store and best-parameter
table, what a PyBNF run leaves in its ``Results`` folder, so that scripts
written for PyBNF read bngfit's fit:

- ``Results/sorted_params_final.txt``: PyBNF's trajectory format (its
  ``Trajectory._write``): a header ``#<TAB>Simulation<TAB>Obj<TAB>`` and the
  parameter names in alphabetical order, then one row per parameter set,
  best objective first, each ``<TAB>NAME<TAB>OBJ<TAB>VALUES`` with native
  parameter values. bngfit writes one row per start (``start<INDEX>``), its
  objective (the negative log-likelihood, bngfit's scale: PyBNF's ``sos`` and
  ``chi_sq`` differ by a factor and constants), at most ``num_to_output`` rows;
- ``Results/<model>_bestfit.bngl``: each BNGL template with its ``X__FREE``
  placeholders defined at the best fit's values (PyBNF writes
  ``<model>_<best name>.bngl`` the same way: the template plus the values);
- ``Results/<model>_bestfit.xml``: each SBML model with its free parameters'
  values set (through libsbml; a species gets its initial amount or
  concentration, whichever the model states, a compartment its size).

Not written, with the reason returned: Antimony models (bngfit has no
Antimony writer) and BNGL models without placeholders (edition 2 fits their
own parameter ids; bngfit does not rewrite BNGL parameter blocks). Mutants and
conditions are not written either: they are the model under perturbations
the configuration states.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bngfit.errors import InputError

from .bngl import bind_free_parameters, free_parameters

#: The sorted parameter table PyBNF writes at the end of a run.
SORTED_PARAMS = "sorted_params_final.txt"
#: The folder PyBNF writes its results into, inside ``output_dir``.
RESULTS = "Results"

_BNGL = (".bngl",)
_SBML = (".xml", ".sbml")


def result_files(models: Sequence[Path]) -> list[str]:
    """The files :func:`write_results` may write, relative to ``output_dir``."""
    names = [f"{RESULTS}/{SORTED_PARAMS}"]
    for m in models:
        if m.suffix.lower() in _BNGL + _SBML:
            names.append(f"{RESULTS}/{_bestfit_name(m)}")
    return names


def sorted_params_text(names: Sequence[str], rows: Sequence[tuple[str, float, Sequence[float]]],
                       max_rows: int | None = None) -> str:
    """PyBNF's sorted parameter table (see the module doc).

    Parameters
    ----------
    names : sequence of str
        Parameter names, in the order of each row's values.
    rows : sequence of (str, float, sequence of float)
        (name, objective, native values) of each parameter set. A non-finite
        objective sorts last, as PyBNF sorts NaN as infinity.
    max_rows : int, optional
        At most this many rows (the best ones).
    """
    order = sorted(range(len(names)), key=lambda i: names[i])
    keyed = sorted(rows, key=lambda r: r[1] if math.isfinite(r[1]) else math.inf)
    lines = ["#\tSimulation\tObj\t" + "\t".join(names[i] for i in order)]
    for label, obj, values in keyed[:max_rows]:
        obj = obj if math.isfinite(obj) else math.inf
        lines.append(f"\t{label}\t{obj!r}\t" + "\t".join(repr(float(values[i])) for i in order))
    return "\n".join(lines) + "\n"


def write_results(folder: Path, models: Sequence[Path], names: Sequence[str],
                  rows: Sequence[tuple[str, float, Sequence[float]]], best: Mapping[str, float],
                  max_rows: int | None = None) -> tuple[list[Path], list[str]]:
    """Write the PyBNF-shaped results into ``folder/Results`` (see the module doc).

    Parameters
    ----------
    folder : Path
        The job's ``output_dir`` (created if needed).
    models : sequence of Path
        The job's model files, as written in the configuration.
    names, rows, max_rows
        As for :func:`sorted_params_text`.
    best : mapping of str to float
        The best fit's native value of each free parameter.

    Returns
    -------
    written : list of Path
    skipped : list of str
        Each model file not written, with why.

    Raises
    ------
    InputError
        A file that cannot be written, or a model that can no longer be read.
    """
    out = folder / RESULTS
    written: list[Path] = []
    skipped: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        table = out / SORTED_PARAMS
        table.write_text(sorted_params_text(names, rows, max_rows))
        written.append(table)
        for m in models:
            why = _write_model(m, out / _bestfit_name(m), best)
            if why is None:
                written.append(out / _bestfit_name(m))
            else:
                skipped.append(f"{m.name}: {why}")
    except OSError as err:
        raise InputError(f"cannot write the PyBNF results ({err.strerror or err})",
                         file=str(err.filename or out)) from None
    return written, skipped


def _bestfit_name(model: Path) -> str:
    suffix = ".bngl" if model.suffix.lower() in _BNGL else ".xml"
    return f"{model.stem}_bestfit{suffix}"


def _write_model(model: Path, target: Path, best: Mapping[str, float]) -> str | None:
    """Write one best-fit model; None, or why it is not written."""
    suffix = model.suffix.lower()
    if suffix in _BNGL:
        text = model.read_text(encoding="utf-8")
        free = free_parameters(text)
        if not free:
            return "a BNGL model without __FREE placeholders (its best values are in the " \
                   "parameter tables)"
        target.write_text(bind_free_parameters(text, {n: best[n] for n in free},
                                               file=str(model)))
        return None
    if suffix in _SBML:
        return _write_sbml(model, target, best)
    return "bngfit writes no Antimony text (its best values are in the parameter tables)"


def _write_sbml(model: Path, target: Path, best: Mapping[str, float]) -> str | None:
    """The SBML model with each free parameter it has set to its best value (libsbml)."""
    import libsbml  # petab's dependency; only this writer needs it here

    doc = libsbml.readSBMLFromFile(str(model))
    sbml = doc.getModel()
    if sbml is None:
        raise InputError("cannot read the SBML model to write its best fit", file=str(model))
    for name, value in best.items():
        if sbml.getParameter(name) is not None:
            sbml.getParameter(name).setValue(float(value))
        elif sbml.getCompartment(name) is not None:
            sbml.getCompartment(name).setSize(float(value))
        elif sbml.getSpecies(name) is not None:
            species = sbml.getSpecies(name)
            if species.isSetInitialAmount():
                species.setInitialAmount(float(value))
            else:
                species.setInitialConcentration(float(value))
    if not libsbml.writeSBMLToFile(doc, str(target)):
        raise InputError("cannot write the best-fit SBML model", file=str(target))
    return None
