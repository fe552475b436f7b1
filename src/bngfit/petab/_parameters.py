"""The PEtab parameter table: ids, scales, bounds, nominal values, priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.problem import ModelInfo, ParameterSpec, Scale
from bngfit.problem._priors import InitPrior, parse_prior
from bngfit.problem._scales import scale_codes, to_scale

from ._cells import Issues, cell_number, new_id, read_table, records

_REQUIRED = ["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
             "estimate"]


def read_parameters(paths: list[Path], issues: Issues, model: ModelInfo | None
                    ) -> tuple[list[ParameterSpec], set[str] | None]:
    """Read the parameter table(s).

    Parameters
    ----------
    paths : list of Path
        The tables, in the problem file's order.
    issues : Issues
        Where problems are reported.
    model : ModelInfo or None
        The model's names (None: the model could not be read; ids are not
        checked against it).

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
    for path in paths:
        df = read_table(path, issues, _REQUIRED)
        if df is None:
            complete = False
            continue
        f = str(path)
        for line, r in records(df):
            spec = _parameter_row(r, f, line, issues, model, seen)
            if spec is not None:
                specs.append(spec)
    return specs, (seen if complete else None)


def _parameter_row(r: dict[str, str], f: str, line: int, issues: Issues,
                   model: ModelInfo | None, seen: set[str]) -> ParameterSpec | None:
    """One row of a parameter table; None (its problems reported) if it has errors.

    A valid id is added to ``seen`` even when the row has other errors.
    """
    pid = r["parameterId"]
    if not new_id("parameterId", pid, seen, f, line, issues,
                  " (letters, digits and _, not starting with a digit)"):
        return None
    seen.add(pid)
    try:
        scale = Scale.parse(r["parameterScale"])
    except ValueError:
        issues.error("parameterScale must be lin, log or log10", f, line, id=pid,
                     value=r["parameterScale"] or "(empty)")
        return None
    est_text = r["estimate"]
    if est_text not in ("0", "1"):
        issues.error("estimate must be 0 or 1", f, line, id=pid, value=est_text or "(empty)")
        return None
    estimate = est_text == "1"
    vals = _numbers(r, f, line, pid, estimate, issues)
    if vals is None:
        return None
    lb, ub, nom = vals
    problem = _bounds_problem(lb, ub, nom, scale) if estimate else None
    if problem is None and model is not None:
        problem = _model_clash(pid, estimate, model)
    if problem is not None:
        message, value = problem
        issues.error(message, f, line, id=pid, value=value)
        return None
    if estimate and not (lb <= nom <= ub):
        # PEtab's linter warns only; the collection has such problems
        issues.warn(f"nominalValue {nom:g} is outside the bounds [{lb:g}, {ub:g}]: it is the "
                    "default point of evaluate and check-grad only; fits start inside the "
                    "bounds", f, line, id=pid, value=f"{nom:g}")
    priors = []
    for column in ("initialization", "objective"):
        kind, params = r.get(f"{column}PriorType", ""), r.get(f"{column}PriorParameters", "")
        try:
            priors.append(parse_prior(kind, params, column))
        except ValueError as err:
            issues.error(str(err), f, line, id=pid, value=f"{kind} {params}".strip())
            return None
    objective = priors[1]
    kind = r.get("objectivePriorType", "").strip()
    if kind and objective is None:  # parameterScaleUniform between the bounds
        lo, hi = to_scale(np.array([lb, ub]), scale_codes([scale] * 2)).tolist()
        objective = (InitPrior.PS_UNIFORM, lo, hi)
    if objective is not None and not estimate:
        issues.warn("objectivePriorType on a parameter that is not estimated: the prior is "
                    "not used", f, line, id=pid, value=kind)
        objective = None
    return ParameterSpec(pid, scale, lb, ub, nom, estimate, line, priors[0], objective)


def _numbers(r: dict[str, str], f: str, line: int, pid: str, estimate: bool,
             issues: Issues) -> tuple[float, float, float] | None:
    """The row's lowerBound, upperBound and nominalValue; None if one is bad.

    Every bad cell of the three is reported. An empty cell reads as NaN, which
    only the bounds of a fixed parameter may be.
    """
    vals = {}
    ok = True
    for col in ("lowerBound", "upperBound", "nominalValue"):
        text = r[col]
        v = cell_number(text) if text != "" else float("nan")
        if v is None:
            issues.error(f"{col} is not a number", f, line, id=pid, value=text)
            ok = False
        elif np.isnan(v) and (estimate or col == "nominalValue"):
            issues.error(f"{col} is missing or NaN", f, line, id=pid, value=text or "(empty)")
            ok = False
        elif col == "nominalValue" and not np.isfinite(v):
            issues.error("nominalValue is not finite", f, line, id=pid, value=text)
            ok = False
        vals[col] = v
    if not ok:
        return None
    return vals["lowerBound"], vals["upperBound"], vals["nominalValue"]


def _bounds_problem(lb: float, ub: float, nom: float, scale: Scale
                    ) -> tuple[str, str] | None:
    """What is wrong with the bounds of an estimated parameter (message, value), or None."""
    if lb > ub:
        return (f"lowerBound {lb:g} is above upperBound {ub:g} (inverted bounds)",
                f"{lb:g} > {ub:g}")
    if not (np.isfinite(lb) and np.isfinite(ub)):
        return "bounds of an estimated parameter must be finite", f"[{lb:g}, {ub:g}]"
    if lb == ub:
        return (f"lowerBound equals upperBound ({lb:g}): nothing to estimate; fix the "
                "parameter (estimate 0) instead", f"[{lb:g}, {ub:g}]")
    if scale is not Scale.LIN and lb <= 0:
        return f"parameterScale {scale.value} needs a positive lowerBound", f"{lb:g}"
    return None


def _model_clash(pid: str, estimate: bool, model: ModelInfo) -> tuple[str, None] | None:
    """Why the model does not allow this parameter (message, no value), or None."""
    if pid in model.species:
        return ("parameter id is a species of the model; species initial values are set in "
                "the condition table", None)
    if pid in model.compartments and estimate:
        return ("estimating a compartment size is not supported (bngsim has no "
                "sensitivities with respect to volumes); fix it (estimate 0)", None)
    return None
