"""The PEtab observable table: formulas, noise models, placeholders."""

from __future__ import annotations

from bngfit.errors import InputError
from bngfit.problem._formulas import Formula, parse_formula
from bngfit.problem._problem import NoiseFamily, Observable, Transform

from ._cells import ID, PLACEHOLDER, TIME_SYMBOL, read_table, records


# --------------------------------------------------------------- observables
def check_symbols(formula: Formula, *, obs_id, kind, f, line, issues, known, allowed_ph):
    """Placeholders must be the observable's own; other names must be known.

    ``known`` None means the model or the parameter table could not be read:
    names are not checked (the reason is reported already).
    """
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m:
            if m.group(3) != obs_id or m.group(1) not in allowed_ph:
                issues.error(f"{kind} uses placeholder '{s}', which belongs to another "
                             "observable or kind", f, line, id=obs_id, value=s)
            continue
        if known is not None and s not in known and s != TIME_SYMBOL:
            issues.error(f"{kind} names '{s}', which is no species, observable, expression, "
                         "parameter or compartment of the model and not in the parameter "
                         "table", f, line, id=obs_id, value=s)


def read_observables(paths, issues, known: set[str] | None):
    """Read the observable table(s).

    Returns
    -------
    obs : dict
        Observable id -> Observable, for the rows without errors.
    declared : set of str or None
        Every valid observable id in the tables (rows with errors included);
        None if a table could not be read at all.
    """
    obs: dict[str, Observable] = {}
    declared: set[str] = set()
    complete = True
    for path in paths:
        df = read_table(path, issues, ["observableId", "observableFormula", "noiseFormula"])
        if df is None:
            complete = False
            continue
        f = str(path)
        for line, r in records(df):
            oid = r["observableId"]
            if not ID.match(oid):
                issues.error("observableId is not a valid identifier", f, line,
                             value=oid or "(empty)")
                continue
            if oid in declared:
                issues.error("duplicate observableId", f, line, id=oid)
                continue
            declared.add(oid)
            try:
                tr = Transform(r.get("observableTransformation", "") or "lin")
            except ValueError:
                issues.error("observableTransformation must be lin, log or log10", f, line,
                             id=oid, value=r.get("observableTransformation"))
                continue
            try:
                fam = NoiseFamily(r.get("noiseDistribution", "") or "normal")
                if fam not in (NoiseFamily.NORMAL, NoiseFamily.LAPLACE):
                    raise ValueError(fam)  # PEtab v1 has no shape-parameter families
            except ValueError:
                issues.error("noiseDistribution must be normal or laplace", f, line, id=oid,
                             value=r.get("noiseDistribution"))
                continue
            formulas = []
            for col in ("observableFormula", "noiseFormula"):
                try:
                    formulas.append(parse_formula(r[col], file=f, row=line, id=oid, what=col))
                except InputError as err:
                    issues.items.extend(err.issues)
            if len(formulas) < 2:
                continue
            formula, noise = formulas
            n_before = len(issues.items)
            check_symbols(formula, obs_id=oid, kind="observableFormula", f=f, line=line,
                           issues=issues, known=known, allowed_ph=("observableParameter",))
            check_symbols(noise, obs_id=oid, kind="noiseFormula", f=f, line=line,
                           issues=issues, known=known,
                           allowed_ph=("noiseParameter", "observableParameter"))
            if noise.constant is not None and not noise.constant > 0:
                issues.error("noiseFormula must be positive", f, line, id=oid,
                             value=r["noiseFormula"])
                continue
            if len(issues.items) > n_before:
                continue
            obs[oid] = Observable(oid, formula, noise, tr, fam, line)
    return obs, (declared if complete else None)


def n_placeholders(formula: Formula, kind: str, obs_id: str) -> int:
    """Number of placeholders ``{kind}{n}_{obs_id}`` a formula needs (highest n)."""
    n = 0
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m and m.group(1) == kind and m.group(3) == obs_id:
            n = max(n, int(m.group(2)))
    return n
