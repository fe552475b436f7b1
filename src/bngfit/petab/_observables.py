"""The PEtab observable table: formulas, noise models, placeholders."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from bngfit.errors import InputError
from bngfit.problem import (
    PLACEHOLDER,
    TIME_SYMBOL,
    Formula,
    NoiseFamily,
    Observable,
    Transform,
    parse_formula,
)

from ._cells import ID, Issues, new_id, read_table, records  # noqa: F401 - ID stays importable here

_REQUIRED = ["observableId", "observableFormula", "noiseFormula"]


def check_symbols(formula: Formula, *, obs_id: str, kind: str, f: str, line: int,
                  issues: Issues, known: set[str] | None, allowed_ph: Collection[str]) -> None:
    """Placeholders must be the observable's own; other names must be known.

    Parameters
    ----------
    formula : Formula
        The formula checked.
    obs_id : str
        Its observable.
    kind : str
        The column it comes from, for messages.
    f, line : str, int
        File and line, for messages.
    issues : Issues
        Where problems are reported.
    known : set of str or None
        The names a formula may use; None: the model or the parameter table
        could not be read, and names are not checked (the reason is reported
        already).
    allowed_ph : collection of str
        The placeholder kinds the column may use (``observableParameter``,
        ``noiseParameter``).
    """
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m and m.group(3) == obs_id:
            # this observable's placeholder: of a kind the column may use
            if m.group(1) not in allowed_ph:
                issues.error(f"{kind} uses placeholder '{s}', which is of another kind",
                             f, line, id=obs_id, value=s)
            continue
        if m and (known is None or s in known):
            continue  # only looks like another observable's placeholder: a name, as in PEtab
        if m:
            issues.error(f"{kind} uses placeholder '{s}', which belongs to another "
                         "observable (and is no parameter or model name)", f, line,
                         id=obs_id, value=s)
            continue
        if known is not None and s not in known and s != TIME_SYMBOL:
            issues.error(f"{kind} names '{s}', which is no species, observable, expression, "
                         "parameter or compartment of the model and not in the parameter "
                         "table", f, line, id=obs_id, value=s)


def read_observables(paths: list[Path], issues: Issues, known: set[str] | None
                     ) -> tuple[dict[str, Observable], set[str] | None]:
    """Read the observable table(s).

    Parameters
    ----------
    paths : list of Path
        The tables, in the problem file's order.
    issues : Issues
        Where problems are reported.
    known : set of str or None
        The names formulas may use (see :func:`check_symbols`).

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
        df = read_table(path, issues, _REQUIRED)
        if df is None:
            complete = False
            continue
        f = str(path)
        for line, r in records(df):
            oid = r["observableId"]
            if not new_id("observableId", oid, declared, f, line, issues):
                continue
            declared.add(oid)
            o = _observable_row(r, oid, f, line, issues, known)
            if o is not None:
                obs[oid] = o
    return obs, (declared if complete else None)


def _observable_row(r: dict[str, str], oid: str, f: str, line: int, issues: Issues,
                    known: set[str] | None) -> Observable | None:
    """The observable of one row with a new, valid id; None (reported) if it has errors."""
    try:
        tr = Transform(r.get("observableTransformation", "") or "lin")
    except ValueError:
        issues.error("observableTransformation must be lin, log or log10", f, line, id=oid,
                     value=r.get("observableTransformation"))
        return None
    try:
        fam = NoiseFamily(r.get("noiseDistribution", "") or "normal")
        if fam not in (NoiseFamily.NORMAL, NoiseFamily.LAPLACE):
            raise ValueError(fam)  # PEtab v1 has no shape-parameter families
    except ValueError:
        issues.error("noiseDistribution must be normal or laplace", f, line, id=oid,
                     value=r.get("noiseDistribution"))
        return None
    formulas = []
    for col in ("observableFormula", "noiseFormula"):
        try:
            formulas.append(parse_formula(r[col], file=f, row=line, id=oid, what=col))
        except InputError as err:
            issues.items.extend(err.issues)
    if len(formulas) < 2:
        return None
    formula, noise = formulas
    n_before = len(issues.items)
    check_symbols(formula, obs_id=oid, kind="observableFormula", f=f, line=line,
                  issues=issues, known=known, allowed_ph=("observableParameter",))
    check_symbols(noise, obs_id=oid, kind="noiseFormula", f=f, line=line,
                  issues=issues, known=known,
                  allowed_ph=("noiseParameter", "observableParameter"))
    if noise.constant is not None and not noise.constant > 0:
        issues.error("noiseFormula must be positive", f, line, id=oid, value=r["noiseFormula"])
        return None
    if len(issues.items) > n_before:
        return None
    return Observable(oid, formula, noise, tr, fam, line)


def n_placeholders(formula: Formula, kind: str, obs_id: str) -> int:
    """Number of placeholders ``{kind}{n}_{obs_id}`` a formula needs (highest n)."""
    n = 0
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m and m.group(1) == kind and m.group(3) == obs_id:
            n = max(n, int(m.group(2)))
    return n
