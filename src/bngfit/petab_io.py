"""Read a PEtab v1 problem (YAML + TSV tables) into a :class:`~bngfit.problem.Problem`.

Every table is read as text and checked cell by cell, so that each problem is
reported with its file, line, id and value; all problems found are reported
together (see :func:`check_petab`). The model file may be any format bngsim
reads, chosen by its suffix.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .conditions import Condition, Mutation, MutationOp
from .errors import InputError, Issue
from .formulas import Formula, numeric_or_name, parse_formula
from .problem import (
    Measurements,
    NoiseFamily,
    Observable,
    ParameterSpec,
    Problem,
    Transform,
)
from .scales import Scale
from .simulate import ModelInfo, read_model_info

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"^(observableParameter|noiseParameter)([0-9]+)_(.+)$")
TIME_SYMBOL = "time"


class _Issues:
    """Collects issues while reading; raises them together."""

    def __init__(self) -> None:
        self.items: list[Issue] = []

    def error(self, message, file=None, row=None, id=None, value=None):  # noqa: A002
        self.items.append(Issue("error", message, file, row, id, None if value is None
                                else str(value)))

    def warn(self, message, file=None, row=None, id=None, value=None):  # noqa: A002
        self.items.append(Issue("warning", message, file, row, id, None if value is None
                                else str(value)))

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.items)

    def raise_if_errors(self) -> None:
        errors = [i for i in self.items if i.severity == "error"]
        if errors:
            raise InputError(errors[0].message, issues=errors)


def _read_table(path: Path, issues: _Issues, required: list[str]) -> pd.DataFrame | None:
    """Read a TSV as strings; report a missing file, bad layout or missing columns."""
    if not path.is_file():
        issues.error("file not found", file=str(path))
        return None
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        issues.error("table is empty (no header line)", file=str(path))
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        issues.error(f"not a tab-separated table: {str(err).strip()}", file=str(path))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        issues.error(
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(df.columns)})",
            file=str(path),
            row=1,
        )
        return None
    return df.apply(lambda col: col.str.strip())


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------- yaml
def _read_yaml(path: Path, issues: _Issues) -> dict | None:
    if not path.is_file():
        issues.error("problem file not found", file=str(path))
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        issues.error(f"not valid YAML: {' '.join(str(err).split())}", file=str(path))
        return None
    if not isinstance(data, dict):
        issues.error("not a PEtab problem file (expected a YAML mapping)", file=str(path))
        return None
    version = str(data.get("format_version", "")).strip()
    if version not in ("1", "1.0", "1.0.0"):
        issues.error(
            "format_version must be 1 (PEtab v1)", file=str(path), id="format_version",
            value=version or "(missing)",
        )
        return None
    if "parameter_file" not in data:
        issues.error("key 'parameter_file' is missing", file=str(path), id="parameter_file")
        return None
    problems = data.get("problems")
    if not isinstance(problems, list) or len(problems) != 1 or not isinstance(problems[0], dict):
        issues.error("'problems' must be a list with exactly one entry", file=str(path),
                     id="problems")
        return None
    for key in ("sbml_files", "condition_files", "measurement_files", "observable_files"):
        val = problems[0].get(key)
        if not isinstance(val, list) or not val or not all(isinstance(v, str) for v in val):
            issues.error(f"'problems[0].{key}' must be a non-empty list of file names",
                         file=str(path), id=key)
            return None
    if len(problems[0]["sbml_files"]) != 1:
        issues.error("exactly one model file is supported", file=str(path), id="sbml_files")
        return None
    return data


# --------------------------------------------------------------- parameters
def _read_parameters(paths: list[Path], issues: _Issues, model: ModelInfo | None):
    specs: list[ParameterSpec] = []
    seen: set[str] = set()
    req = ["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
           "estimate"]
    for path in paths:
        df = _read_table(path, issues, req)
        if df is None:
            continue
        f = str(path)
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            pid = r["parameterId"]
            if not _ID.match(pid):
                issues.error("parameterId is not a valid identifier", f, line, value=pid)
                continue
            if pid in seen:
                issues.error("duplicate parameterId", f, line, id=pid)
                continue
            seen.add(pid)
            try:
                scale = Scale.parse(r["parameterScale"])
            except ValueError as err:
                issues.error(str(err), f, line, id=pid, value=r["parameterScale"])
                continue
            est_text = r["estimate"]
            if est_text not in ("0", "1"):
                issues.error("estimate must be 0 or 1", f, line, id=pid, value=est_text)
                continue
            estimate = est_text == "1"
            vals = {}
            ok = True
            for col in ("lowerBound", "upperBound", "nominalValue"):
                text = r[col]
                v = _num(text) if text != "" else float("nan")
                if v is None:
                    issues.error(f"{col} is not a number", f, line, id=pid, value=text)
                    ok = False
                elif np.isnan(v) and (estimate or col == "nominalValue"):
                    issues.error(f"{col} is missing or NaN", f, line, id=pid, value=text)
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
            specs.append(ParameterSpec(pid, scale, lb, ub, nom, estimate, line))
    return specs


# --------------------------------------------------------------- conditions
def _read_conditions(paths, issues, model: ModelInfo | None, param_ids: set[str]):
    conditions: dict[str, Condition] = {}
    for path in paths:
        df = _read_table(path, issues, ["conditionId"])
        if df is None:
            continue
        f = str(path)
        targets = [c for c in df.columns if c not in ("conditionId", "conditionName")]
        for c in targets:
            if model is not None and not (
                c in model.parameters or c in model.species or c in model.compartments
            ):
                issues.error("condition column is not a parameter, species or compartment "
                             "of the model", f, 1, id=c)
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            cid = r["conditionId"]
            if not _ID.match(cid):
                issues.error("conditionId is not a valid identifier", f, line, value=cid)
                continue
            if cid in conditions:
                issues.error("duplicate conditionId", f, line, id=cid)
                continue
            muts = []
            for c in targets:
                v = numeric_or_name(r[c])
                if v is None:
                    continue
                if isinstance(v, str):
                    if v not in param_ids:
                        issues.error(f"value of '{c}' is neither a number nor a parameter "
                                     "id of the parameter table", f, line, id=cid, value=v)
                        continue
                elif model is not None and (c in model.species or c in model.compartments):
                    if v < 0 or (c in model.compartments and v == 0):
                        kind = "species initial value" if c in model.species else "size"
                        issues.error(f"negative {kind} for '{c}'", f, line, id=cid, value=v)
                        continue
                elif not np.isfinite(v):
                    issues.error(f"value of '{c}' is not finite", f, line, id=cid, value=v)
                    continue
                muts.append(Mutation(c, MutationOp.SET, v))
            conditions[cid] = Condition(cid, tuple(muts))
    return conditions


# --------------------------------------------------------------- observables
def _check_symbols(formula: Formula, *, obs_id, kind, f, line, issues, known, allowed_ph):
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m:
            if m.group(3) != obs_id or m.group(1) not in allowed_ph:
                issues.error(f"{kind} uses placeholder '{s}', which belongs to another "
                             "observable or kind", f, line, id=obs_id, value=s)
            continue
        if s not in known and s != TIME_SYMBOL:
            issues.error(f"{kind} names '{s}', which is no species, observable, expression, "
                         "parameter or compartment of the model and not in the parameter "
                         "table", f, line, id=obs_id, value=s)


def _read_observables(paths, issues, known: set[str]):
    obs: dict[str, Observable] = {}
    for path in paths:
        df = _read_table(path, issues, ["observableId", "observableFormula", "noiseFormula"])
        if df is None:
            continue
        f = str(path)
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            oid = r["observableId"]
            if not _ID.match(oid):
                issues.error("observableId is not a valid identifier", f, line, value=oid)
                continue
            if oid in obs:
                issues.error("duplicate observableId", f, line, id=oid)
                continue
            try:
                tr = Transform(r.get("observableTransformation", "") or "lin")
            except ValueError:
                issues.error("observableTransformation must be lin, log or log10", f, line,
                             id=oid, value=r.get("observableTransformation"))
                continue
            try:
                fam = NoiseFamily(r.get("noiseDistribution", "") or "normal")
            except ValueError:
                issues.error("noiseDistribution must be normal or laplace", f, line, id=oid,
                             value=r.get("noiseDistribution"))
                continue
            try:
                formula = parse_formula(r["observableFormula"], file=f, row=line, id=oid,
                                        what="observableFormula")
                noise = parse_formula(r["noiseFormula"], file=f, row=line, id=oid,
                                      what="noiseFormula")
            except InputError as err:
                issues.items.extend(err.issues)
                continue
            _check_symbols(formula, obs_id=oid, kind="observableFormula", f=f, line=line,
                           issues=issues, known=known, allowed_ph=("observableParameter",))
            _check_symbols(noise, obs_id=oid, kind="noiseFormula", f=f, line=line,
                           issues=issues, known=known,
                           allowed_ph=("noiseParameter", "observableParameter"))
            if noise.constant is not None and not noise.constant > 0:
                issues.error("noiseFormula must be positive", f, line, id=oid,
                             value=r["noiseFormula"])
                continue
            obs[oid] = Observable(oid, formula, noise, tr, fam, line)
    return obs


def n_placeholders(formula: Formula, kind: str, obs_id: str) -> int:
    """Number of placeholders ``{kind}{n}_{obs_id}`` a formula needs (highest n)."""
    n = 0
    for s in formula.symbols:
        m = PLACEHOLDER.match(s)
        if m and m.group(1) == kind and m.group(3) == obs_id:
            n = max(n, int(m.group(2)))
    return n


# -------------------------------------------------------------- measurements
def _overrides(text: str, n_needed: int, what: str, *, f, line, oid, issues, param_ids,
               positive: bool):
    items = [] if text == "" else [t.strip() for t in text.split(";")]
    if len(items) != n_needed and not (n_needed == 0 and items == []):
        issues.error(f"{what} has {len(items)} value(s) but the observable's formula has "
                     f"{n_needed} placeholder(s)", f, line, id=oid, value=text or "(empty)")
        return None
    out = []
    for t in items:
        v = numeric_or_name(t)
        if v is None:
            issues.error(f"{what} has an empty or NaN entry", f, line, id=oid, value=text)
            return None
        if isinstance(v, str) and v not in param_ids:
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


def _read_measurements(paths, issues, observables, conditions, param_ids):
    cols: dict[str, list] = {k: [] for k in ("observable", "preeq", "condition", "time",
                                              "value", "op", "np", "rows")}
    req = ["observableId", "simulationConditionId", "time", "measurement"]
    for path in paths:
        df = _read_table(path, issues, req)
        if df is None:
            continue
        f = str(path)
        if df.empty:
            issues.error("measurement table has no data rows", f, 2)
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            oid = r["observableId"]
            if oid not in observables:
                issues.error("unknown observableId (not in the observable table)", f, line,
                             id=oid)
                continue
            obs = observables[oid]
            cid = r["simulationConditionId"]
            pid = r.get("preequilibrationConditionId", "")
            bad = False
            for c in (cid, pid):
                if c and c not in conditions:
                    issues.error("unknown condition id (not in the condition table)", f, line,
                                 id=c)
                    bad = True
            t = _num(r["time"])
            if t is None or np.isnan(t):
                issues.error("time is not a number", f, line, id=oid, value=r["time"])
                bad = True
            elif np.isinf(t):
                issues.error("steady-state measurements (time inf) are not supported", f,
                             line, id=oid, value=r["time"])
                bad = True
            elif t < 0:
                issues.error("time is negative", f, line, id=oid, value=r["time"])
                bad = True
            m = _num(r["measurement"])
            if m is None or not np.isfinite(m):
                issues.error("measurement is not a finite number", f, line, id=oid,
                             value=r["measurement"])
                bad = True
            elif obs.transform is not Transform.LIN and m <= 0:
                issues.error(f"measurement must be positive for an observable with "
                             f"{obs.transform.value} transformation", f, line, id=oid,
                             value=r["measurement"])
                bad = True
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


# --------------------------------------------------------------------- entry
def check_petab(path: str | Path) -> tuple[Problem | None, list[Issue]]:
    """Read a PEtab v1 problem and report every issue found.

    Parameters
    ----------
    path : str or Path
        The problem's YAML file.

    Returns
    -------
    problem : Problem or None
        None when an error prevents building it.
    issues : list of Issue
    """
    from .errors import MissingExtraError

    path = Path(path)
    issues = _Issues()
    data = _read_yaml(path, issues)
    if data is None:
        return None, issues.items
    base = path.parent
    prob = data["problems"][0]

    def files(key):
        val = data[key] if key == "parameter_file" else prob[key]
        return [base / v for v in ([val] if isinstance(val, str) else val)]

    model_path = files("sbml_files")[0]
    model: ModelInfo | None = None
    try:
        model = read_model_info(model_path)
    except InputError as err:
        issues.items.extend(err.issues)
    except MissingExtraError as err:
        issues.error(str(err), file=str(model_path))
    params = _read_parameters(files("parameter_file"), issues, model)
    param_ids = {p.id for p in params}
    conditions = _read_conditions(files("condition_files"), issues, model, param_ids)
    known = set(param_ids)
    if model is not None:
        known |= {*model.species, *model.observables, *model.expressions, *model.parameters,
                  *model.compartments}
    observables = _read_observables(files("observable_files"), issues, known)
    meas = _read_measurements(files("measurement_files"), issues, observables, conditions,
                              param_ids)
    if model is None or issues.has_errors:
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
