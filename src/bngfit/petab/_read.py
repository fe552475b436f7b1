"""Read a PEtab v1 problem (YAML + TSV tables) into a :class:`~bngfit.problem.Problem`.

Every table is read as text and checked cell by cell, so that each problem is
reported with its file, line, id and value; all problems found are reported
together (see :func:`check_petab`). The model file may be any format bngsim
reads, chosen by its suffix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.errors import InputError, Issue, MissingExtraError
from bngfit.files._limits import too_many_points
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._model_info import ModelAccess, ModelInfo
from bngfit.problem._priors import parse_prior
from bngfit.problem._problem import (
    Measurements,
    ParameterSpec,
    Problem,
    Transform,
)
from bngfit.problem._scales import Scale

from ._cells import (  # noqa: F401 - PLACEHOLDER, TIME_SYMBOL: the convention, used by plan
    ID,
    PLACEHOLDER,
    TIME_SYMBOL,
    Issues,
    also_lines,
    cell_number,
    cell_value,
    read_table,
    records,
)
from ._observables import n_placeholders, read_observables  # noqa: F401
from ._yaml import read_problem_yaml


# --------------------------------------------------------------- parameters
def _read_parameters(paths: list[Path], issues: Issues, model: ModelInfo | None):
    """Read the parameter table(s).

    Returns
    -------
    specs : list of ParameterSpec
        The rows without errors.
    declared : set of str or None
        Every valid parameter id in the tables, including rows with errors (so
        that other tables are not blamed for naming them); None if a table
        could not be read at all.
    """
    specs: list[ParameterSpec] = []
    seen: set[str] = set()
    complete = True
    req = ["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
           "estimate"]
    for path in paths:
        df = read_table(path, issues, req)
        if df is None:
            complete = False
            continue
        f = str(path)
        for line, r in records(df):
            pid = r["parameterId"]
            if not ID.match(pid):
                issues.error("parameterId is not a valid identifier (letters, digits and _, "
                             "not starting with a digit)", f, line, value=pid or "(empty)")
                continue
            if pid in seen:
                issues.error("duplicate parameterId", f, line, id=pid)
                continue
            seen.add(pid)
            try:
                scale = Scale.parse(r["parameterScale"])
            except ValueError:
                issues.error("parameterScale must be lin, log or log10", f, line, id=pid,
                             value=r["parameterScale"] or "(empty)")
                continue
            est_text = r["estimate"]
            if est_text not in ("0", "1"):
                issues.error("estimate must be 0 or 1", f, line, id=pid,
                             value=est_text or "(empty)")
                continue
            estimate = est_text == "1"
            vals = {}
            ok = True
            for col in ("lowerBound", "upperBound", "nominalValue"):
                text = r[col]
                v = cell_number(text) if text != "" else float("nan")
                if v is None:
                    issues.error(f"{col} is not a number", f, line, id=pid, value=text)
                    ok = False
                elif np.isnan(v) and (estimate or col == "nominalValue"):
                    issues.error(f"{col} is missing or NaN", f, line, id=pid,
                                 value=text or "(empty)")
                    ok = False
                elif col == "nominalValue" and not np.isfinite(v):
                    issues.error("nominalValue is not finite", f, line, id=pid, value=text)
                    ok = False
                vals[col] = v
            if not ok:
                continue
            lb, ub, nom = vals["lowerBound"], vals["upperBound"], vals["nominalValue"]
            if estimate:
                if lb > ub:
                    issues.error(f"lowerBound {lb:g} is above upperBound {ub:g} (inverted "
                                 "bounds)", f, line, id=pid, value=f"{lb:g} > {ub:g}")
                    continue
                if not (np.isfinite(lb) and np.isfinite(ub)):
                    issues.error("bounds of an estimated parameter must be finite", f, line,
                                 id=pid, value=f"[{lb:g}, {ub:g}]")
                    continue
                if lb == ub:
                    issues.error(f"lowerBound equals upperBound ({lb:g}): nothing to "
                                 "estimate; fix the parameter (estimate 0) instead", f, line,
                                 id=pid, value=f"[{lb:g}, {ub:g}]")
                    continue
                if scale is not Scale.LIN and lb <= 0:
                    issues.error(f"parameterScale {scale.value} needs a positive lowerBound",
                                 f, line, id=pid, value=f"{lb:g}")
                    continue
                if not (lb <= nom <= ub):
                    issues.error(f"nominalValue {nom:g} is outside the bounds "
                                 f"[{lb:g}, {ub:g}]", f, line, id=pid, value=f"{nom:g}")
                    continue
            if model is not None:
                if pid in model.species:
                    issues.error("parameter id is a species of the model; species initial "
                                 "values are set in the condition table", f, line, id=pid)
                    continue
                if pid in model.compartments and estimate:
                    issues.error("estimating a compartment size is not supported (bngsim "
                                 "has no sensitivities with respect to volumes); fix it "
                                 "(estimate 0)", f, line, id=pid)
                    continue
            try:
                prior = parse_prior(r.get("initializationPriorType", ""),
                                    r.get("initializationPriorParameters", ""))
            except ValueError as err:
                issues.error(str(err), f, line, id=pid,
                             value=f"{r.get('initializationPriorType', '')} "
                                   f"{r.get('initializationPriorParameters', '')}".strip())
                continue
            specs.append(ParameterSpec(pid, scale, lb, ub, nom, estimate, line, prior))
    return specs, (seen if complete else None)


# --------------------------------------------------------------- conditions
def _read_conditions(paths, issues, model: ModelInfo | None, param_ids: set[str] | None):
    """Read the condition table(s); None if a table could not be read at all.

    ``param_ids`` None means the parameter table is unknown: ids are not checked.
    """
    conditions: dict[str, Condition] = {}
    complete = True
    for path in paths:
        df = read_table(path, issues, ["conditionId"])
        if df is None:
            complete = False
            continue
        f = str(path)
        hline = df.attrs["header_line"]
        targets = [c for c in df.columns if c not in ("conditionId", "conditionName")]
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
        for line, r in records(df):
            cid = r["conditionId"]
            if not ID.match(cid):
                issues.error("conditionId is not a valid identifier", f, line,
                             value=cid or "(empty)")
                continue
            if cid in conditions:
                issues.error("duplicate conditionId", f, line, id=cid)
                continue
            muts = []
            for c in targets:
                v = cell_value(r[c])
                if v is None:
                    continue
                if isinstance(v, str) and param_ids is not None and v not in param_ids \
                        and model is not None and v in model.defaults \
                        and v not in model.species:
                    # PEtab v1 allows an id of the model itself: a model parameter not
                    # in the parameter table is fixed at the model's own value
                    v = float(model.defaults[v])
                if isinstance(v, str):
                    if param_ids is not None and v not in param_ids:
                        issues.error(f"value of '{c}' is neither a number, a parameter id of "
                                     "the parameter table nor a parameter of the model", f,
                                     line, id=cid, value=v)
                    if param_ids is None or v not in param_ids:
                        continue
                elif not np.isfinite(v):
                    issues.error(f"value of '{c}' is not finite", f, line, id=cid,
                                 value=r[c])
                    continue
                elif model is not None and c in model.species and v < 0:
                    issues.error(f"negative species initial value for '{c}'", f, line,
                                 id=cid, value=r[c])
                    continue
                elif model is not None and c in model.compartments and v <= 0:
                    issues.error(f"compartment size of '{c}' must be positive", f, line,
                                 id=cid, value=r[c])
                    continue
                muts.append(Mutation(c, MutationOp.SET, v))
            conditions[cid] = Condition(cid, tuple(muts))
    return conditions if complete else None


# -------------------------------------------------------------- measurements
def _overrides(text: str, n_needed: int, what: str, *, f, line, oid, issues, param_ids,
               positive: bool):
    items = [] if text == "" else [t.strip() for t in text.split(";")]
    if len(items) != n_needed and not (n_needed == 0 and items == []):
        issues.error(f"{what} has {len(items)} value(s) but the observable's formulas have "
                     f"{n_needed} placeholder(s)", f, line, id=oid, value=text or "(empty)")
        return None
    out = []
    for t in items:
        v = cell_value(t)
        if v is None:
            issues.error(f"{what} has an empty or NaN entry", f, line, id=oid, value=text)
            return None
        if isinstance(v, str) and not ID.match(v):
            issues.error(f"{what} entry '{v}' is neither a number nor a parameter id", f,
                         line, id=oid, value=v)
            return None
        if isinstance(v, str) and param_ids is not None and v not in param_ids:
            issues.error(f"{what} names '{v}', which is not in the parameter table", f, line,
                         id=oid, value=v)
            return None
        if isinstance(v, float) and not np.isfinite(v):
            issues.error(f"{what} has a non-finite entry", f, line, id=oid, value=t)
            return None
        if positive and isinstance(v, float) and v <= 0 and n_needed == 1:
            issues.error(f"{what}: a noise parameter must be positive", f, line, id=oid,
                         value=t)
            return None
        out.append(v)
    return tuple(out)


def _read_measurements(paths, issues, observables, declared_obs, conditions, param_ids):
    """Read the measurement table(s).

    ``declared_obs``/``conditions``/``param_ids`` None: that table could not be
    read, and ids that would refer to it are not checked. Unknown ids are
    reported once per id, with the lines where they occur.
    """
    cols: dict[str, list] = {k: [] for k in ("observable", "preeq", "condition", "time",
                                              "value", "op", "np", "rows")}
    req = ["observableId", "simulationConditionId", "time", "measurement"]
    unknown: dict[tuple[str, str, str], list[int]] = {}
    for path in paths:
        df = read_table(path, issues, req)
        if df is None:
            continue
        f = str(path)
        if df.empty:
            issues.error("measurement table has no data rows", f, df.attrs["header_line"] + 1)
        for line, r in records(df):
            oid = r["observableId"]
            obs = observables.get(oid)
            bad = False
            if oid == "":
                issues.error("observableId is empty", f, line)
                bad = True
            elif obs is None:
                bad = True
                if declared_obs is not None and oid not in declared_obs:
                    unknown.setdefault((f, "observableId", oid), []).append(line)
            cid = r["simulationConditionId"]
            pid = r.get("preequilibrationConditionId", "")
            if cid == "":
                issues.error("simulationConditionId is empty", f, line, id=oid)
                bad = True
            for col, c in (("simulationConditionId", cid),
                           ("preequilibrationConditionId", pid)):
                if c and conditions is not None and c not in conditions:
                    unknown.setdefault((f, col, c), []).append(line)
                    bad = True
            t = cell_number(r["time"])
            if t is None or np.isnan(t):
                issues.error("time is not a number", f, line, id=oid,
                             value=r["time"] or "(empty)")
                bad = True
            elif np.isinf(t):
                issues.error("steady-state measurements (time inf) are not supported", f,
                             line, id=oid, value=r["time"])
                bad = True
            elif t < 0:
                issues.error("time is negative", f, line, id=oid, value=r["time"])
                bad = True
            m = cell_number(r["measurement"])
            if m is None or not np.isfinite(m):
                issues.error("measurement is not a finite number (NaN and empty cells are not "
                             "allowed; remove the row instead)", f, line, id=oid,
                             value=r["measurement"] or "(empty)")
                bad = True
            elif obs is not None and obs.transform is not Transform.LIN and m <= 0:
                issues.error(f"measurement must be positive for an observable with "
                             f"{obs.transform.value} transformation", f, line, id=oid,
                             value=r["measurement"])
                bad = True
            if obs is None:
                continue
            n_op = max(n_placeholders(obs.formula, "observableParameter", oid),
                       n_placeholders(obs.noise, "observableParameter", oid))
            ops = _overrides(r.get("observableParameters", ""), n_op, "observableParameters",
                             f=f, line=line, oid=oid, issues=issues, param_ids=param_ids,
                             positive=False)
            nps = _overrides(r.get("noiseParameters", ""),
                             n_placeholders(obs.noise, "noiseParameter", oid),
                             "noiseParameters", f=f, line=line, oid=oid, issues=issues,
                             param_ids=param_ids,
                             positive=str(obs.noise.expr).startswith("noiseParameter"))
            if bad or ops is None or nps is None:
                continue
            cols["observable"].append(oid)
            cols["preeq"].append(pid)
            cols["condition"].append(cid)
            cols["time"].append(t)
            cols["value"].append(m)
            cols["op"].append(ops)
            cols["np"].append(nps)
            cols["rows"].append(line)
    _check_sample_counts(cols, paths, issues)
    for (f, col, ident), lines in unknown.items():
        table = "observable" if col == "observableId" else "condition"
        issues.error(f"unknown {col} (not in the {table} table){also_lines(lines)}", f, lines[0],
                     id=ident)
    return Measurements(
        observable=tuple(cols["observable"]),
        preeq=tuple(cols["preeq"]),
        condition=tuple(cols["condition"]),
        time=np.array(cols["time"], dtype=float),
        value=np.array(cols["value"], dtype=float),
        observable_params=tuple(cols["op"]),
        noise_params=tuple(cols["np"]),
        rows=tuple(cols["rows"]),
    )


def _check_sample_counts(cols: dict[str, list], paths, issues: Issues) -> None:
    """Refuse a simulation asked for more sample times than the documented limit."""
    times: dict[tuple[str, str], set[float]] = {}
    for pre, cid, t in zip(cols["preeq"], cols["condition"], cols["time"], strict=True):
        times.setdefault((pre, cid), set()).add(t)
    for (_, cid), ts in times.items():
        problem = too_many_points(len(ts))
        if problem is not None:
            issues.error(f"the measurements of condition '{cid}' {problem}",
                         ";".join(map(str, paths)), id=cid, value=str(len(ts)))


# --------------------------------------------------------------------- entry
def check_petab(path: str | Path, models: ModelAccess) -> tuple[Problem | None, list[Issue]]:
    """Read a PEtab v1 problem and report every issue found.

    Parameters
    ----------
    path : str or Path
        The problem's YAML file.
    models : ModelAccess
        How to read the model's names (:data:`bngfit.simulate.MODEL_ACCESS`, or
        any stand-in: the tables are checked against what it returns).

    Returns
    -------
    problem : Problem or None
        None when an error prevents building it.
    issues : list of Issue
        In file order. A table that cannot be read is reported once; ids that
        would refer to it are then not checked (no cascade of follow-up errors).
    """
    path = Path(path)
    try:
        data = read_problem_yaml(path)
    except InputError as err:
        return None, list(err.issues)
    issues = Issues()
    base = path.parent
    prob = data["problems"][0]

    def files(key):
        val = data[key] if key == "parameter_file" else prob[key]
        return [base / v.strip() for v in ([val] if isinstance(val, str) else val)]

    model_path = files("sbml_files")[0]
    model: ModelInfo | None = None
    try:
        model = models.info(model_path)
    except InputError as err:
        issues.items.extend(err.issues)
    except MissingExtraError as err:
        issues.error(str(err), file=str(model_path))
    params, param_ids = _read_parameters(files("parameter_file"), issues, model)
    conditions = _read_conditions(files("condition_files"), issues, model, param_ids)
    known = None
    if model is not None and param_ids is not None:
        known = param_ids | {*model.species, *model.observables, *model.expressions,
                             *model.parameters, *model.compartments}
    observables, declared_obs = read_observables(files("observable_files"), issues, known)
    meas = _read_measurements(files("measurement_files"), issues, observables, declared_obs,
                              conditions, param_ids)
    if model is None or conditions is None or issues.has_errors:
        return None, issues.items
    problem = Problem(
        model=model,
        parameters=tuple(params),
        conditions=conditions,
        observables=observables,
        measurements=meas,
        source=path,
        files={
            "problem": str(path),
            "parameters": ";".join(map(str, files("parameter_file"))),
            "conditions": ";".join(map(str, files("condition_files"))),
            "observables": ";".join(map(str, files("observable_files"))),
            "measurements": ";".join(map(str, files("measurement_files"))),
            "model": str(model_path),
        },
    )
    return problem, issues.items
