"""Checks of a PyBNF configuration once every line is read.

Each check looks at what the lines declared (a
:class:`~bngfit.pybnf.conf._collected.Collected`): names, references,
normalization, SBML actions, noise models and edition-2 records; it adds an
error to it for each problem found, so that all are reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._keys import BNGL_FREE_SUFFIX, VAR_KEYS

if TYPE_CHECKING:
    from ._collected import Collected


def check_required(r: Collected) -> None:
    """A model, a free parameter and data; legacy BNGL free parameters named ``*__FREE``."""
    ed2 = r.edition == 2
    if "model" not in r.tried:
        r.error("no model: add " + ("a record 'model: FILE'" if ed2 else
                "a line 'model = MODEL_FILE : DATA_FILE'"), id="model")
    if not r.tried & {*VAR_KEYS, "parameter"}:
        r.error("no free parameter: declare one with " + (
            "a record 'parameter: NAME, lower: X, upper: Y'" if ed2 else
            "uniform_var, loguniform_var, normal_var, lognormal_var, var or logvar"),
            id="parameter")
    has_data = any(m.data for m in r.models) or any(
        c.data for c in r.conditions) or any(
        e.data or e.constraints for e in r.experiments)
    errors = any(i.severity == "error" for i in r.issues)
    if r.models and not has_data and not errors:
        r.error("no data file: nothing to fit (" + (
            "bind data with 'experiment: NAME, data: FILE.exp'" if ed2 else
            "list .exp or .prop files after the model: 'model = FILE : DATA.exp'") + ")",
            id="data")
    if r.edition == 1 and r.models and all(
            m.path.suffix.lower() == ".bngl" for m in r.models):
        for p in r.params.values():
            if not p.name.endswith(BNGL_FREE_SUFFIX):
                r.error("free parameters of BNGL models are named NAME__FREE in "
                        "PyBNF (the placeholder written in the model's parameters "
                        "block)", p.line, p.name, f"{p.kind.value}_var")


def check_names(r: Collected) -> None:
    """Models, conditions and experiments are each named once."""
    for what, entries in (("model", r.models), ("condition", r.conditions),
                          ("experiment", r.experiments)):
        first: dict[str, int] = {}
        for e in entries:
            if e.name in first:
                r.error(f"two {what}s named '{e.name}' (first on line {first[e.name]})"
                        + ("; a model's name is its file stem" if what == "model"
                           else ""), e.line, e.name)
            first.setdefault(e.name, e.line)
    models = {m.name for m in r.models}
    for c in r.conditions:
        if r.edition == 1 and c.name in models:
            r.error("a mutant cannot have the name of a model", c.line, c.name)


def check_references(r: Collected) -> None:
    """Models and conditions named by conditions, experiments and actions exist."""
    models = [m.name for m in r.models]
    known = ", ".join(models) or "none"
    conditions = {c.name for c in r.conditions}
    for c in r.conditions:
        if c.model is not None and c.model not in models:
            what = "base model" if r.edition == 1 else "model"
            r.error(f"{what} '{c.model}' is not a model of this file (models are "
                    f"named by file stem: {known})", c.line, c.name, c.model)
    for e in r.experiments:
        if e.model is not None and e.model not in models:
            r.error(f"model '{e.model}' is not a model of this file ({known})",
                    e.line, e.name, e.model)
        if e.model is None and len(models) > 1:
            r.error(f"the file has {len(models)} models: say which one with "
                    "'model: NAME'", e.line, e.name)
        for field in ("condition", "preequilibrate"):
            ref = getattr(e, field)
            if ref is not None and ref not in conditions:
                r.error(f"{field} '{ref}' is not a condition of this file (declare "
                        f"it with 'condition: {ref}, perturbations: ...')", e.line,
                        e.name, ref)
    for a in r.actions:
        model = a.fields.get("model")
        if model is not None and model not in models:
            r.error(f"model '{model}' is not a model of this file ({known})", a.line,
                    a.kind, model)


def check_normalization(r: Collected) -> None:
    """Legacy normalizations name data files of the file, each file (or column) once."""
    data = {d for m in r.models for d in m.data}
    data |= {d for c in r.conditions for d in c.data}
    data |= {d for e in r.experiments for d in e.data}
    whole: dict[Path, int] = {}
    by_columns: dict[Path, int] = {}
    for i, n in enumerate(r.norms):
        if n.file is None:
            if len(r.norms) > 1:
                other = r.norms[1 if i == 0 else 0].line
                r.error("a normalization without files applies to every data file, "
                        f"so it must be the only normalization line (another is on "
                        f"line {other})", n.line, "normalization", n.type.value)
            continue
        if n.file not in data:
            r.error("normalization names a file that is not a data file of this "
                    "configuration", n.line, "normalization", n.file.name)
            continue
        seen = whole if n.columns is None else by_columns
        clash = whole.get(n.file) or (by_columns.get(n.file) if n.columns is None
                                      else None)
        if clash is not None:
            r.error(f"contradictory normalization of {n.file.name} (also on line "
                    f"{clash})", n.line, "normalization", n.file.name)
        seen.setdefault(n.file, n.line)


def check_sbml_actions(r: Collected) -> None:
    """PyBNF simulates SBML models only through time_course / param_scan lines."""
    if r.edition != 1:
        return
    for m in r.models:
        if m.path.suffix.lower() not in (".xml", ".sbml", ".ant"):
            continue
        suffixes: dict[str, int] = {}
        for a in r.actions:
            if a.fields.get("model") not in (None, m.name):
                continue
            if a.suffix in suffixes:  # which one would the data be compared with?
                r.error(f"two simulations with 'suffix: {a.suffix}' for model "
                        f"'{m.name}' (first on line {suffixes[a.suffix]})", a.line,
                        a.kind, a.suffix)
            suffixes.setdefault(a.suffix, a.line)
        for d in m.data:
            if d.suffix.lower() == ".exp" and d.stem not in suffixes:
                r.error(f"no time_course or param_scan with 'suffix: {d.stem}' for "
                        f"SBML model '{m.name}': PyBNF simulates SBML models only "
                        f"through those lines, matched to data files by name",
                        m.line, "model", d.name)


def check_noise(r: Collected) -> None:
    """One noise model per observable; a fitted noise parameter is a declared one."""
    first: dict[str | None, int] = {}
    for n in r.noise:
        if n.observable in first:
            what = f"observable '{n.observable}'" if n.observable else "the whole fit"
            r.error(f"two noise models for {what} (first on line "
                    f"{first[n.observable]})", n.line, n.observable or "noise_model")
        first.setdefault(n.observable, n.line)
        for param, source, argument in ((n.parameter, n.source, n.argument), *n.extra):
            if source == "fit" and argument not in r.params:
                r.error(f"'fit {argument}': {argument} is not a declared free "
                        "parameter", n.line, param, argument)


def check_edition2(r: Collected) -> None:
    """Observable records and normalizations: each target once, experiments known."""
    first: dict[object, int] = {}
    for o in r.observables:
        if o.name in first:
            r.error(f"two observable records for '{o.name}' (first on line "
                    f"{first[o.name]})", o.line, o.name)
        first.setdefault(o.name, o.line)
    columns: dict[str, int] = {}
    for o in r.observables:
        if o.column is None:
            continue
        if o.column in columns:  # one data column read as two observables
            r.error(f"data column '{o.column}' is named by two observable records "
                    f"(first on line {columns[o.column]})", o.line, o.name, o.column)
        columns.setdefault(o.column, o.line)
    experiments = {e.name for e in r.experiments}
    seen: dict[tuple, int] = {}
    for n in r.obs_norms:
        target = (n.experiment, n.observable)
        what = ".".join(t for t in target if t) or "every observable"
        if target in seen:
            r.error(f"normalization of {what} given twice (first on line "
                    f"{seen[target]})", n.line, "normalization", n.type.value)
        seen.setdefault(target, n.line)
        if n.experiment is not None and n.experiment not in experiments:
            r.error(f"normalization names experiment '{n.experiment}', which is not "
                    "an experiment of this file", n.line, "normalization",
                    n.experiment)
