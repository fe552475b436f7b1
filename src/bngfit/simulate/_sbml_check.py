"""Validate SBML and Antimony models before bngsim loads them.

bngsim reads an SBML file as far as it can: a reaction whose product names no
species, a species in an undefined compartment or a negative compartment size
load without a word and give another model than the file describes. Here
libsbml's own consistency checks run first, and every error that changes the
model is refused with libsbml's message, the line in the file and the id.

What is checked (libsbml categories): XML and SBML syntax (while reading),
general consistency, identifiers, MathML and overdetermined models. Unit
consistency, modelling practice and SBO terms only ever give warnings about a
model that is still well defined, so they are not checked. On top, bngfit
refuses a compartment of nonzero dimension whose size is negative, zero or not
finite (concentrations in it are undefined), which libsbml accepts.

An Antimony model is parsed with the Antimony library (its syntax errors are
reported with their line), and the SBML it gives is checked as above (rows
are then not given: they would be lines of the generated SBML).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bngfit.errors import InputError, Issue
from bngfit.files import read_text

from ._sbml_amounts import amount_species, assigned_ids

if TYPE_CHECKING:
    import libsbml

SBML_SUFFIXES = (".xml", ".sbml")
ANTIMONY_SUFFIXES = (".ant",)
_ID_IN_MESSAGE = re.compile(r"\bid '([^']+)'|'([A-Za-z_][A-Za-z0-9_]*)'")
_ANTIMONY_LINE = re.compile(r"line (\d+)\s*:\s*")
_IMPORT_WORD = re.compile(r"\bimport\b")


def check_model_file(path: Path) -> tuple[str, ...]:
    """Refuse an SBML or Antimony model that is invalid (see the module doc).

    Other formats (and a missing file, reported by the loader) pass.

    Returns
    -------
    tuple of str
        The compartments that hold species in amounts (``hasOnlySubstanceUnits``),
        read from the same document; empty for other formats. bngsim gets those
        species in a compartment of size 1 (:mod:`bngfit.simulate._sbml_amounts`).

    Raises
    ------
    InputError
        Listing every error found, each with the file, line (SBML) and id.
    """
    return amount_compartments(checked_document(path))


def amount_compartments(doc: libsbml.SBMLDocument | None) -> tuple[str, ...]:
    """The compartments of a checked document that hold species in amounts, sorted."""
    if doc is None:
        return ()
    return tuple(sorted({sp.getCompartment() for sp in amount_species(doc.getModel())}))


def checked_document(path: Path) -> libsbml.SBMLDocument | None:
    """The SBML document of an SBML or Antimony model, after the checks of the module doc.

    None for other formats, a missing file (reported by the loader) or without
    libsbml / the Antimony library (bngsim reports that itself).

    Raises
    ------
    InputError
        Listing every error found, each with the file, line (SBML) and id.
    """
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in (*SBML_SUFFIXES, *ANTIMONY_SUFFIXES):
        return None
    try:
        import libsbml
    except ImportError:  # bngsim needs it to load SBML: its own error says so
        return None
    if suffix in SBML_SUFFIXES:
        try:
            data = path.read_bytes()  # a regular file (checked above)
        except OSError as err:
            raise InputError(f"cannot read the model: {err.strerror or err}",
                             file=str(path)) from None
        check_sbml_text(path, data)
        doc = libsbml.readSBMLFromFile(str(path))
        issues = sbml_issues(doc, str(path), rows=True)
    else:
        sbml = antimony_to_sbml(path)
        if sbml is None:
            return None
        doc = libsbml.readSBMLFromString(sbml)
        issues = [Issue(i.severity, i.message.replace("invalid SBML", "invalid model (as SBML)",
                                                      1), i.file, None, i.id, i.value)
                  for i in sbml_issues(doc, str(path), rows=False)]
    if issues:
        raise InputError(issues[0].message, issues=issues)
    return doc


def sbml_issues(doc: libsbml.SBMLDocument, f: str, *, rows: bool) -> list[Issue]:
    """The errors libsbml and bngfit find in an SBML document (see the module doc).

    Parameters
    ----------
    doc : libsbml.SBMLDocument
        As read (its read errors are included).
    f : str
        File name for the messages.
    rows : bool
        Whether libsbml's line numbers are lines of ``f``.

    Returns
    -------
    list of Issue
        Errors only, in libsbml's order, then bngfit's.
    """
    import libsbml

    out = _errors(doc, f, rows)
    if out or doc.getModel() is None:  # a document that does not read is not checked further
        return out or [Issue("error", "invalid SBML: the file holds no model", f)]
    for category in (libsbml.LIBSBML_CAT_UNITS_CONSISTENCY,
                     libsbml.LIBSBML_CAT_MODELING_PRACTICE,
                     libsbml.LIBSBML_CAT_SBO_CONSISTENCY):
        doc.setConsistencyChecks(category, False)
    n_read = doc.getNumErrors()
    doc.checkConsistency()
    out.extend(_errors(doc, f, rows, start=n_read))
    out.extend(_compartment_sizes(doc.getModel(), f, rows))
    return out


def _errors(doc: libsbml.SBMLDocument, f: str, rows: bool, start: int = 0) -> list[Issue]:
    """Issues for libsbml's errors (severity error or fatal) from index ``start``."""
    import libsbml

    out = []
    for k in range(start, doc.getNumErrors()):
        e = doc.getError(k)
        if e.getSeverity() < libsbml.LIBSBML_SEV_ERROR:
            continue
        detail = _detail(e.getMessage())
        short = e.getShortMessage().strip().rstrip(".")
        text = f"{short}: {detail}" if detail and detail != short else short
        m = _ID_IN_MESSAGE.search(detail)
        ident = None if m is None else (m.group(1) or m.group(2))
        out.append(Issue("error", f"invalid SBML (libsbml {e.getErrorId()}): {text}", f,
                         e.getLine() or None if rows else None, ident))
    return out


def _detail(message: str) -> str:
    """The specific part of a libsbml message (after its 'Reference:' line), one line."""
    lines = [s.strip() for s in message.strip().splitlines()]
    for k, s in enumerate(lines):
        if s.startswith("Reference:"):
            rest = " ".join(x for x in lines[k + 1:] if x)
            if rest:
                return rest
            break
    return " ".join(x for x in lines if x and not x.startswith("Reference:"))


def _compartment_sizes(model: libsbml.Model, f: str, rows: bool) -> list[Issue]:
    """Compartments of nonzero dimension with a size that is not positive and finite."""
    assigned = assigned_ids(model)
    out = []
    for k in range(model.getNumCompartments()):
        c = model.getCompartment(k)
        if not c.isSetSize() or c.getId() in assigned:
            continue
        dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else 3.0
        size = c.getSize()
        if dims != 0 and not (math.isfinite(size) and size > 0):
            out.append(Issue("error", "invalid model: a compartment size must be positive "
                             "(concentrations in it are undefined otherwise)", f,
                             c.getLine() or None if rows else None, c.getId(), f"{size:g}"))
    return out


def antimony_to_sbml(path: Path) -> str | None:
    """The SBML of an Antimony file's main model (the last), as bngsim loads it.

    None when the Antimony library is missing (bngsim reports that itself).

    Raises
    ------
    InputError
        Antimony's own error, with its line.
    """
    try:
        import antimony
    except ImportError:
        return None
    text = read_text(path, "model file")
    check_antimony_imports(path, text)
    antimony.clearPreviousLoads()
    try:
        if antimony.loadAntimonyString(text) == -1:
            message = " ".join(antimony.getLastError().split())
            m = _ANTIMONY_LINE.search(message)
            row = int(m.group(1)) if m else None
            detail = message[m.end():] if m else message
            raise InputError(f"Antimony refuses the model: {detail}", file=str(path), row=row)
        names = antimony.getModuleNames()
        return antimony.getSBMLString(names[-1]) if names else None
    finally:
        antimony.clearPreviousLoads()


def check_antimony_imports(path: Path, text: str) -> None:
    """Refuse an Antimony model that uses ``import``.

    The Antimony library opens an imported file itself (relative to the
    working folder when the model is read as text, beside the file when
    bngsim reads it) and reads it to its end: a named pipe or a device blocks
    it for ever, in C, where no signal reaches Python; and comments may stand
    between ``import`` and the name. bngfit reads one model file, so the word
    is refused wherever it stands (merge the imported model into the file).

    Raises
    ------
    InputError
        Naming the file and the line.
    """
    m = _IMPORT_WORD.search(text)
    if m:
        raise InputError("Antimony 'import' is not supported: bngfit reads one model file "
                         "(merge the imported model into it)", file=str(path),
                         row=text.count("\n", 0, m.start()) + 1, value="import")


def check_sbml_text(path: Path, data: bytes) -> None:
    """Refuse SBML that makes the XML reader open other files or expand entities.

    A document type declaration can define external entities (any file, a
    pipe that blocks the reader for ever) and entity bombs; the comp package's
    external model definitions make libsbml open the file they name. SBML
    needs neither.

    Raises
    ------
    InputError
        Naming the file, the line and what was found.
    """
    for token, why in ((b"<!DOCTYPE", "a document type declaration (entities)"),
                       (b"<!ENTITY", "an entity declaration"),
                       (b"externalModelDefinition", "an external model definition (comp)")):
        at = data.find(token)
        if at >= 0:
            raise InputError(f"SBML with {why} is not supported: it makes the reader open "
                             "other files", file=str(path), row=data.count(b"\n", 0, at) + 1,
                             value=token.decode())
