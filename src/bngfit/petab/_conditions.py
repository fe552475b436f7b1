"""The PEtab condition table: what each simulation condition sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.problem import Condition, ModelInfo, Mutation, MutationOp

from ._cells import Issues, cell_value, new_id, read_table, records


def read_conditions(paths: list[Path], issues: Issues, model: ModelInfo | None,
                    param_ids: set[str] | None) -> dict[str, Condition] | None:
    """Read the condition table(s).

    Parameters
    ----------
    paths : list of Path
        The tables, in the problem file's order.
    issues : Issues
        Where problems are reported.
    model : ModelInfo or None
        The model's names (None: the model could not be read; columns are not
        checked against it).
    param_ids : set of str or None
        The parameter table's ids (None: that table is unknown, and ids are
        not checked).

    Returns
    -------
    dict or None
        Condition id -> Condition, for the rows without errors; None if a
        table could not be read at all.
    """
    conditions: dict[str, Condition] = {}
    complete = True
    for path in paths:
        df = read_table(path, issues, ["conditionId"])
        if df is None:
            complete = False
            continue
        f = str(path)
        targets = [c for c in df.columns if c not in ("conditionId", "conditionName")]
        _check_columns(targets, f, df.attrs["header_line"], issues, model, param_ids)
        for line, r in records(df):
            cid = r["conditionId"]
            if not new_id("conditionId", cid, conditions, f, line, issues):
                continue
            muts = []
            for c in targets:
                v = _cell(c, r[c], f, line, cid, issues, model, param_ids)
                if v is not None:
                    muts.append(Mutation(c, MutationOp.SET, v))
            conditions[cid] = Condition(cid, tuple(muts))
    return conditions if complete else None


def _check_columns(targets: list[str], f: str, hline: int, issues: Issues,
                   model: ModelInfo | None, param_ids: set[str] | None) -> None:
    """Report a column that names nothing of the model, or a parameter table id."""
    for c in targets:
        if model is not None and not (
            c in model.parameters or c in model.species or c in model.compartments
        ):
            issues.error("condition column is not a parameter, species or compartment "
                         "of the model", f, hline, id=c)
        if param_ids is not None and c in param_ids:
            issues.warn("condition column is also in the parameter table, which PEtab "
                        "v1 does not allow (other tools may use the parameter table's "
                        "value); bngfit uses the condition table's values", f, hline, id=c,
                        affects_result=True)


def _cell(c: str, text: str, f: str, line: int, cid: str, issues: Issues,
          model: ModelInfo | None, param_ids: set[str] | None) -> float | str | None:
    """The value condition ``cid`` sets ``c`` to: a number or a parameter id.

    None where the cell sets nothing (empty, NaN) or is wrong (reported).
    """
    v = cell_value(text)
    if v is None:
        return None
    if isinstance(v, str) and param_ids is not None and v not in param_ids \
            and model is not None and v in model.defaults and v not in model.species:
        # PEtab v1 allows an id of the model itself: a model parameter not in
        # the parameter table is fixed at the model's own value
        v = float(model.defaults[v])
    if isinstance(v, str):
        if param_ids is not None and v not in param_ids:
            issues.error(f"value of '{c}' is neither a number, a parameter id of the "
                         "parameter table nor a parameter of the model", f, line, id=cid,
                         value=v)
        return v if param_ids is not None and v in param_ids else None
    problem = _value_problem(c, v, model)
    if problem is not None:
        issues.error(problem, f, line, id=cid, value=text)
        return None
    return v


def _value_problem(c: str, v: float, model: ModelInfo | None) -> str | None:
    """Why the number ``v`` cannot be the value of ``c``, or None."""
    if not np.isfinite(v):
        return f"value of '{c}' is not finite"
    if model is not None and c in model.species and v < 0:
        return f"negative species initial value for '{c}'"
    if model is not None and c in model.compartments and v <= 0:
        return f"compartment size of '{c}' must be positive"
    return None
