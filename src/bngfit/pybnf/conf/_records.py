"""Parsers of edition-2 PyBNF records: ``KIND: NAME, FIELD: VALUE, ...`` lines.

The records follow PyBNF's own grammar (``docs/pybnf-rules.md``, Records):
``model:``, ``condition:``, ``experiment:``, ``parameter:`` and ``observable:``,
plus bngfit's own record forms of ``noise_model``, ``objective`` and
``job_type`` (PyBNF writes those ``KEY = VALUE``; both are read). Each parser
takes one line's fields and returns an entry of
:mod:`bngfit.pybnf.conf._entries`, or raises
:class:`~bngfit.pybnf.conf._parse.LineError`; :mod:`bngfit.pybnf.conf._conf`
adds the file and line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from bngfit.files import too_many_points
from bngfit.problem import MutationOp, Scale

from ._entries import (
    ConditionEntry,
    ExperimentEntry,
    ObservableEntry,
    ParamEntry,
    ParamKind,
    Perturbation,
)
from ._keys import OTHER_PRIOR_FAMILIES
from ._parse import (
    MODEL_SUFFIXES,
    LineError,
    bounds,
    identifier,
    number,
    perturbation_value,
    split_fields,
)

_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$")
_SPECIES = re.compile(r'\s*"([^"]+)"\s*([=*/+-])\s*(.+?)\s*')
_PARAM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*([=*/+-])\s*(.+?)\s*")
CONSTRAINT_SUFFIXES = (".prop", ".con")


def split_record(text: str) -> tuple[str, list[str], dict[str, list[str]]]:
    """``HEAD: v, FIELD: v, v, ...`` as (head, head values, {field: values}).

    An item without ``FIELD:`` is one more value of the field before it (a
    list field such as ``data:`` or ``perturbations:``).
    """
    items = split_fields(text)
    head_m = _FIELD.match(items[0])
    if not head_m:
        raise LineError("expected a record 'KIND: VALUE, FIELD: VALUE, ...'", value=text)
    head = head_m.group(1).lower()
    values: dict[str, list[str]] = {head: []}
    current = head
    for i, item in enumerate(items):
        m = _FIELD.match(item) if not item.lstrip().startswith('"') else None
        if m and i:
            current = m.group(1).lower()
            if current in values:
                raise LineError("field given twice in the record", id=current,
                                value=item.strip())
            values[current] = []
        value = (m.group(2) if m else item).strip()
        if not value:
            raise LineError("empty value", id=current, value=item.strip() or text.strip())
        values[current].append(value)
    head_values = values.pop(head)
    return head, head_values, values


_ALIASES = {"parameter": {"scale": "parameter_scale", "initial": "initial_value"}}
RECORDS: dict[str, dict[str, bool]] = {  # record -> {field: may hold a list}
    "model": {},
    "experiment": {**dict.fromkeys(("condition", "preequilibrate", "model", "type", "method",
                                    "t_end", "t_start", "n_steps", "equil_t_end",
                                    "measurement_params", "gml", "complex"), False),
                   "data": True},
    "condition": {"perturbations": True, "model": False},
    "parameter": dict.fromkeys(("parameter_scale", "prior", "lower", "upper", "mean", "sd",
                                "initial_value"), False),
    "observable": {"column": False, "formula": False},
    "noise_model": dict.fromkeys(("observable", "sigma", "scale", "dispersion", "df",
                                  "location"), False),
    "objective": {},
    "job_type": {},
}
_REQUIRED = {"experiment": ("data",), "condition": ("perturbations",)}


def check_record(head: str, head_values: list[str], fields: dict[str, list[str]],
                 text: str) -> dict[str, str | list[str]]:
    """Check a record's shape; return its fields with aliases resolved."""
    if head == "mode":
        raise LineError("'mode:' records are components of PyBNF's analytical test "
                        "objective (objective = multimodal); bngfit fits models to data",
                        id=head, value=text.strip())
    if head not in RECORDS:
        raise LineError(f"unknown record; records are {', '.join(RECORDS)}", id=head,
                        value=text.strip())
    if head != "model" and len(head_values) != 1:
        raise LineError(f"'{head}:' takes one value (fields are written 'name: value')",
                        id=head, value=", ".join(head_values))
    prior = fields.get("prior", [""])[0].strip().lower() if head == "parameter" else ""
    if prior in OTHER_PRIOR_FAMILIES:  # before its fields (location, scale, ...) are read
        raise LineError(f"prior family '{prior}' is not supported by bngfit; use uniform or "
                        "normal (with lower/upper), which give its start distribution",
                        id="prior", value=prior)
    allowed = RECORDS[head]
    aliases = _ALIASES.get(head, {})
    out: dict[str, str | list[str]] = {}
    for name, vals in fields.items():
        key = aliases.get(name, name)
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise LineError(f"not a field of '{head}:' records (fields: {known})",
                            id=name, value=", ".join(vals))
        if key in out:
            raise LineError(f"field given twice (as {key} and {name})", id=name,
                            value=", ".join(vals))
        if len(vals) > 1 and not allowed[key]:
            raise LineError("field takes one value", id=name, value=", ".join(vals))
        out[key] = vals if allowed[key] else vals[0]
    for key in _REQUIRED.get(head, ()):
        if key not in out:
            raise LineError(f"'{head}:' record needs a '{key}:' field", id=head,
                            value=text.strip())
    return out


def model_ref(text: str, what: str = "model") -> str:
    """A model named by its file (``m.bngl``, as PyBNF writes it) or its stem (``m``)."""
    text = text.strip()
    if Path(text).suffix.lower() in MODEL_SUFFIXES:
        text = Path(text).stem
    return identifier(text, what)


# ------------------------------------------------------------------ experiment
_METHODS_REFUSED = ("ssa", "pla", "nf", "rm", "rulemonkey", "psa", "gillespie")


def record_experiment(name: str, f: dict[str, str | list[str]], base: Path, line: int
                      ) -> tuple[ExperimentEntry, list[tuple[str, str, str, bool]]]:
    """``experiment: NAME, data: FILE, ... [, condition: C][, preequilibrate: C] ...``.

    Parameters
    ----------
    name : str
        The experiment's name.
    f : dict
        The record's fields (see :func:`check_record`).
    base : Path
        The configuration's folder (data files are relative to it).
    line : int
        The record's line.

    Returns
    -------
    entry : ExperimentEntry
    notes : list of (message, field, value, affects_result)
        Warnings about fields read but without effect.
    """
    identifier(name, "experiment name")
    data, constraints = _experiment_files(f["data"], base)
    refs = {k: identifier(f[k], k) for k in ("condition", "preequilibrate") if k in f}
    if "model" in f:
        refs["model"] = model_ref(f["model"])
    if "measurement_params" in f:
        raise LineError("per-measurement parameter tables (measurement_params) are not "
                        "supported by bngfit", id="measurement_params",
                        value=f["measurement_params"])
    kind, method = _experiment_kind(f)
    times = _experiment_times(name, f, has_data=bool(data))
    if kind == "parameter_scan" and ("t_end" not in times or not data):
        raise LineError("a parameter_scan experiment simulates each value of its data's "
                        "first column (the scanned parameter) for t_end: give 't_end: T' "
                        "and .exp data", id=name, value=str(f.get("type")))
    n_steps = times.get("n_steps")
    entry = ExperimentEntry(
        name, tuple(data), line, constraints=tuple(constraints),
        t_end=times.get("t_end"), t_start=times.get("t_start"),
        n_steps=None if n_steps is None else int(n_steps),
        equil_t_end=times.get("equil_t_end"), type=kind, method=method, **refs)
    return entry, _experiment_notes(f, has_data=bool(data) and kind != "parameter_scan")


def _experiment_files(items: list[str], base: Path) -> tuple[list[Path], list[Path]]:
    """The ``data:`` files as (``.exp`` files, ``.prop``/``.con`` files), each once."""
    data: list[Path] = []
    constraints: list[Path] = []
    for item in items:
        path = _data_file(item, base)
        (constraints if path.suffix.lower() in CONSTRAINT_SUFFIXES else data).append(path)
        if [p.resolve() for p in data + constraints].count(path.resolve()) > 1:
            raise LineError("data file listed twice", id="data", value=item)
    return data, constraints


def _experiment_kind(f: dict[str, str | list[str]]) -> tuple[str, str]:
    """``(type, method)`` of an experiment: a time course or a parameter scan, as ODEs."""
    kind = f.get("type", "time_course").lower()
    if kind in ("bifurcate", "steady_state"):
        raise LineError(f"a {kind} experiment is not supported by bngfit; it fits time "
                        "courses and parameter scans (type: parameter_scan)",
                        id="type", value=f["type"])
    if kind not in ("time_course", "parameter_scan"):
        raise LineError("type is time_course or parameter_scan", id="type", value=f["type"])
    method = f.get("method", "ode").lower()
    if method in _METHODS_REFUSED:
        raise LineError(f"method {method} simulates stochastically or network-free; bngfit "
                        "simulates ODEs (method: ode) only", id="method", value=f["method"])
    if method != "ode":
        raise LineError("unknown method; use ode (ssa, pla, nf are PyBNF's stochastic "
                        "methods, which bngfit does not run)", id="method", value=f["method"])
    return kind, method


def _experiment_times(name: str, f: dict[str, str | list[str]], *, has_data: bool
                      ) -> dict[str, float]:
    """The time fields given (``t_end``, ``t_start``, ``n_steps``, ``equil_t_end``), checked.

    An experiment with constraint files only must state its span, and its
    output grid must not be too large to allocate.
    """
    times = {k: number(f[k], k) for k in ("t_end", "t_start", "n_steps", "equil_t_end")
             if k in f}
    for k in ("t_end", "equil_t_end", "n_steps"):
        if k in times and times[k] <= 0:
            raise LineError(f"{k} must be positive", id=k, value=f[k])
    if "n_steps" in times and times["n_steps"] != int(times["n_steps"]):
        raise LineError("n_steps is a whole number", id="n_steps", value=f["n_steps"])
    if times.get("t_start", 0.0) != 0.0:
        raise LineError("t_start other than 0 is not supported by bngfit (its time courses "
                        "start at 0)", id="t_start", value=f["t_start"])
    if "equil_t_end" in times and "preequilibrate" not in f:
        raise LineError("equil_t_end is the length of the pre-equilibration: give "
                        "'preequilibrate: CONDITION' too", id="equil_t_end",
                        value=f["equil_t_end"])
    n_points = times["n_steps"] + 1 if "n_steps" in times else times.get("t_end", 0.0) + 1
    problem = None if has_data else too_many_points(n_points)
    if problem is not None:  # the constraints' grid is allocated whole
        key = "n_steps" if "n_steps" in times else "t_end"
        raise LineError(f"experiment '{name}' {problem}", id=key, value=f[key])
    if not has_data and "t_end" not in times:
        raise LineError(f"experiment '{name}' has only constraint files, so its time span "
                        "must be given: add 't_end: T' (and optionally 'n_steps: N')",
                        id=name, value=", ".join(f["data"]))
    return times


def _experiment_notes(f: dict[str, str | list[str]], *, has_data: bool
                      ) -> list[tuple[str, str, str, bool]]:
    """Warnings about fields without effect, as (message, field, value, affects_result)."""
    notes = []
    if has_data:
        for k in ("t_end", "t_start", "n_steps"):
            if k in f:
                # PyBNF simulates this grid (its normalizations are taken over it)
                notes.append((f"{k} has no effect on an experiment with .exp data (its "
                              "simulation times are the data's)", k, f[k], True))
    for k in ("gml", "complex"):
        if k in f:
            notes.append((f"{k} is an NFsim option; bngfit simulates ODEs and ignores it",
                          k, f[k], False))
    return notes


def _data_file(item: str, base: Path) -> Path:
    """A data file of a ``data:`` field: an existing ``.exp``, ``.prop`` or ``.con`` file."""
    suffix = Path(item).suffix.lower()
    if suffix not in (".exp", *CONSTRAINT_SUFFIXES):
        raise LineError("unknown data file type: data files end in .exp (measurements) or "
                        ".prop / .con (constraints)", id="data", value=item)
    path = base / item
    if not path.is_file():
        raise LineError(f"data file not found (looked for {path})", id="data", value=item)
    return path


# ------------------------------------------------------------------ condition
def record_condition(name: str, f: dict[str, str | list[str]], line: int) -> ConditionEntry:
    """``condition: NAME[, model: M], perturbations: P, P, ...``.

    ``P`` is ``target op value`` with op one of ``= * / + -``; the target is a
    parameter id or a quoted species pattern (``"A()" = 5``); the value is a
    number or a parameter id.
    """
    identifier(name, "condition name")
    perts = tuple(_perturbation(p, line, name) for p in f["perturbations"])
    model = model_ref(f["model"]) if "model" in f else None
    return ConditionEntry(name, perts, line, model=model)


def _perturbation(text: str, line: int, owner: str) -> Perturbation:
    """One perturbation of condition ``owner``: ``target op value``, the target maybe a
    quoted species pattern.
    """
    species = _SPECIES.fullmatch(text)
    m = species or _PARAM.fullmatch(text)
    if not m:
        raise LineError("not a perturbation 'target op value' (op one of = * / + -), as in "
                        "'k*2', 'L0 = 100' or '\"A()\" = 5'", id=owner, value=text.strip())
    target, op, raw = m.groups()
    raw = raw.strip().strip('"').strip()
    try:
        value = perturbation_value(raw, target)
    except LineError as err:
        raise LineError(err.message, id=owner, value=text.strip()) from None
    return Perturbation(target=target.strip(), op=MutationOp(op), value=value, line=line,
                        species=species is not None)


# ------------------------------------------------------------------ parameter
_SCALES = {"lin": Scale.LIN, "linear": Scale.LIN, "log10": Scale.LOG10, "ln": Scale.LOG}


def scale_of(text: str, what: str = "parameter_scale") -> Scale:
    """``lin``/``linear``, ``log10`` or ``ln``; ``log`` is ambiguous (docs/pybnf-rules.md)."""
    key = text.strip().lower()
    if key not in _SCALES:
        hint = ("'log' is ambiguous (PyBNF reads it as neither): write log10 or ln"
                if key == "log" else "use lin, log10 or ln")
        raise LineError(f"unknown {what}; {hint}", id=what, value=text)
    return _SCALES[key]


def _bound(text: str, what: str) -> float:
    """A bound: a number, or ``inf`` / ``-inf`` for an open side (docs/pybnf-rules.md)."""
    if text.strip().lower() in ("inf", "+inf", "-inf"):
        return float(text)
    return number(text, what)


def record_parameter(name: str, f: dict[str, str], line: int) -> ParamEntry:
    """``parameter: NAME[, prior: uniform|normal][, parameter_scale: lin|log10|ln]
    [, lower: X, upper: Y][, mean: M, sd: S][, initial_value: V]``.

    As PyBNF's ``parameter_record.py`` reads it: bounds and the initial value
    are values of the parameter (not logs), ``mean``/``sd`` are in the scale's
    units; without a prior, bounds mean uniform over them. A normal prior may
    have a bound at ``inf``/``-inf`` (an open side).
    """
    identifier(name, "parameter name")
    f = dict(f)
    scale = scale_of(f.pop("parameter_scale", "lin"))
    log = scale is not Scale.LIN
    prior = _prior(f.pop("prior", None))
    x = {k: (_bound(v, k) if k in ("lower", "upper") else number(v, k)) for k, v in f.items()}
    _check_prior_fields(name, prior, x, f)
    if "lower" in x and prior == "normal":
        lower, upper = _normal_bounds(name, x["lower"], x["upper"], log, f)
    else:
        lower, upper = x.get("lower"), x.get("upper")
        if lower is not None:
            _check_uniform_box(name, lower, upper, scale)
    if prior == "uniform" and lower is None:
        raise LineError("a uniform prior needs lower and upper", id=name, value="uniform")
    init = x.get("initial_value")
    if init is not None:
        _check_initial(init, log, lower, upper, f["initial_value"])
    return ParamEntry(name, _param_kind(name, prior, log, lower, init), scale,
                      tuple(x.values()), line, lower=lower, upper=upper, mean=x.get("mean"),
                      sd=x.get("sd"), initial=init)


def _prior(text: str | None) -> str | None:
    """The ``prior:`` field: ``uniform``, ``normal`` or None (not given)."""
    prior = None if text is None else text.strip().lower()
    if prior not in (None, "uniform", "normal"):
        raise LineError("unknown prior; use uniform or normal", id="prior", value=prior)
    return prior


def _check_prior_fields(name: str, prior: str | None, x: dict[str, float],
                        f: dict[str, str]) -> None:
    """Both bounds or neither; ``mean`` and ``sd`` (positive) exactly for a normal prior."""
    if ("lower" in x) != ("upper" in x):
        raise LineError("give both lower and upper (an open side as inf or -inf), or neither",
                        id=name, value=f.get("lower", f.get("upper")))
    if prior == "normal":
        if "mean" not in x or "sd" not in x:
            raise LineError("a normal prior needs mean and sd", id=name, value="normal")
        if x["sd"] <= 0:
            raise LineError("sd must be positive", id="sd", value=f["sd"])
    elif "mean" in x or "sd" in x:
        raise LineError("mean and sd belong to 'prior: normal'", id=name,
                        value=f.get("mean", f.get("sd")))


def _normal_bounds(name: str, lower: float, upper: float, log: bool, f: dict[str, str]
                   ) -> tuple[float | None, float | None]:
    """The truncation of a normal prior; None for an open side.

    On a log scale a lower bound of 0 or ``-inf`` is open (the parameter is
    positive anyway); an upper bound of ``inf`` is open.
    """
    if lower >= upper:
        raise LineError("lower bound must be below the upper bound", id=name,
                        value=f"{lower:g} {upper:g}")
    out_lower: float | None = lower
    if log and lower <= 0:
        if lower == -math.inf or lower == 0:
            out_lower = None  # open below: a log-scale parameter is positive anyway
        else:
            raise LineError("a lower bound of a log-scale parameter must be positive "
                            "(or 0 / -inf for an open side)", id=name, value=f["lower"])
    return out_lower, None if upper == math.inf else upper


def _check_uniform_box(name: str, lower: float, upper: float, scale: Scale) -> None:
    """A uniform box: finite, increasing, positive on a log scale."""
    if not (math.isfinite(lower) and math.isfinite(upper)):
        raise LineError("a uniform box needs finite bounds", id=name,
                        value=f"{lower:g} {upper:g}")
    bounds(name, lower, upper, scale)


def _check_initial(init: float, log: bool, lower: float | None, upper: float | None,
                   text: str) -> None:
    """An initial value (written ``text``): positive on a log scale, within the bounds."""
    if log and init <= 0:
        raise LineError("initial value of a log-scale parameter must be positive",
                        id="initial_value", value=text)
    lo = -math.inf if lower is None else lower
    hi = math.inf if upper is None else upper
    if not lo <= init <= hi:
        raise LineError("initial value is outside [lower, upper]", id="initial_value",
                        value=text)


def _param_kind(name: str, prior: str | None, log: bool, lower: float | None,
                init: float | None) -> ParamKind:
    """The legacy ``*_var`` kind a record corresponds to: by prior, bounds or start value."""
    if prior == "normal":
        return ParamKind.LOGNORMAL if log else ParamKind.NORMAL
    if lower is not None:
        return ParamKind.LOGUNIFORM if log else ParamKind.UNIFORM
    if init is not None:
        return ParamKind.LOGVAR if log else ParamKind.VAR
    raise LineError("a parameter needs bounds (lower, upper), a prior, or an initial "
                    "value", id=name)


# ------------------------------------------------------------------ observable
def record_observable(name: str, f: dict[str, str], line: int) -> ObservableEntry:
    """``observable: NAME, column: HEADER`` or ``observable: NAME, formula: EXPR``."""
    identifier(name, "observable name")
    if ("column" in f) == ("formula" in f):
        raise LineError("an observable record has either 'column: HEADER' (the data column "
                        "read as this model output) or 'formula: EXPR' (a measurement "
                        "model)", id=name)
    if "column" in f:
        return ObservableEntry(name, line, column=identifier(f["column"], "column"))
    return ObservableEntry(name, line, formula=f["formula"].strip())


__all__ = ["RECORDS", "check_record", "model_ref", "record_condition",
           "record_experiment", "record_observable", "record_parameter", "scale_of",
           "split_record"]
