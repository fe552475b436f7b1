"""Parsers of single PyBNF configuration lines, legacy values and edition-2 records.

Each parser reads one line's value and returns entries of
:mod:`bngfit.pybnf_entries`, or raises :class:`LineError` on the first thing
wrong with that line; :mod:`bngfit.pybnf_conf` adds the file and line number.
Cross-line checks (names defined once, references resolved) are done there.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .conditions import MutationOp
from .pybnf_entries import (
    ActionEntry,
    ConditionEntry,
    ExperimentEntry,
    ModelEntry,
    NoiseEntry,
    NormalizationEntry,
    NormalizationType,
    ParamEntry,
    ParamKind,
    Perturbation,
)
from .scales import Scale

ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_SUFFIXES = (".bngl", ".xml", ".sbml")
DATA_SUFFIXES = (".exp", ".prop")
_STATEMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*([=*/+-])\s*([^\s=*/]+)")
_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$")
_COMMA_OUTSIDE_PARENS = re.compile(r",(?![^()]*\))")


class LineError(ValueError):
    """A problem in one line: what is wrong, with the key/id and value at fault."""

    def __init__(self, message: str, *, id: str | None = None,  # noqa: A002
                 value: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.id = id
        self.value = value


# ------------------------------------------------------------------ helpers
def number(text: str, what: str) -> float:
    """``text`` as a finite float; LineError naming ``what`` otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise LineError("not a number", id=what, value=text) from None
    if not math.isfinite(value):
        raise LineError("not a finite number", id=what, value=text)
    return value


def identifier(text: str, what: str) -> str:
    """``text`` if it is a valid name (letters, digits, _; not starting with a digit)."""
    if not ID.match(text):
        raise LineError(f"{what} is not a valid name (letters, digits and _, not starting "
                        "with a digit)", id=what, value=text)
    return text


def data_files(text: str, base: Path, *, allow_none: bool, what: str) -> tuple[Path, ...]:
    """Comma-separated data files, each existing and ending in .exp or .prop."""
    items = [t.strip() for t in text.split(",")]
    if allow_none and items == ["none"]:
        return ()
    out: list[Path] = []
    for item in items:
        if not item:
            raise LineError(f"empty data file name in the list of {what}", id=what,
                            value=text.strip())
        if Path(item).suffix.lower() not in DATA_SUFFIXES:
            raise LineError("unknown data file type: data files end in .exp (measurements) "
                            "or .prop (constraints)", id=what, value=item)
        path = base / item
        if not path.is_file():
            raise LineError(f"data file not found (looked for {path})", id=what, value=item)
        if path in out:
            raise LineError("data file listed twice", id=what, value=item)
        out.append(path)
    return tuple(out)


def model_file(text: str, base: Path, line: int, data: tuple[Path, ...] = ()) -> ModelEntry:
    """A model file that exists and has a known suffix."""
    text = text.strip()
    if not text:
        raise LineError("model file name is missing", id="model")
    if Path(text).suffix.lower() not in MODEL_SUFFIXES:
        raise LineError("unknown model file type: use .bngl (BioNetGen) or .xml / .sbml "
                        "(SBML)", id="model", value=text)
    path = base / text
    if not path.is_file():
        raise LineError(f"model file not found (looked for {path})", id="model", value=text)
    return ModelEntry(path=path, name=path.stem, data=data, line=line)


def statement(text: str, line: int, owner: str | None = None) -> Perturbation:
    """One ``target op value`` perturbation, the whole of ``text`` (of ``owner``)."""
    m = _STATEMENT.fullmatch(text.strip())
    if not m:
        raise LineError("not a perturbation 'target op value' (op one of = * / + -), as "
                        "in 'k__FREE*2' or 'L0 = 100'", id=owner, value=text.strip())
    return _perturbation(m, line)


def _perturbation(m: re.Match, line: int) -> Perturbation:
    target, op, raw = m.groups()
    try:
        value: float | str = number(raw, target)
    except LineError:
        if not ID.match(raw):
            raise LineError("perturbation value must be a number or a parameter name",
                            id=target, value=raw) from None
        value = raw
    return Perturbation(target=target, op=MutationOp(op), value=value, line=line)


# ------------------------------------------------------------------ legacy
_VAR_SHAPES = {
    "uniform_var": "NAME LOWER UPPER [U]", "loguniform_var": "NAME LOWER UPPER [U]",
    "normal_var": "NAME MEAN SD", "lognormal_var": "NAME LOG10_MEAN LOG10_SD",
    "var": "NAME INITIAL [STEP]", "logvar": "NAME LOG10_INITIAL [LOG10_STEP]",
}


def legacy_var(key: str, text: str, line: int) -> ParamEntry:
    """A ``*_var = ...``, ``var = ...`` or ``logvar = ...`` line."""
    tokens = text.split()
    shape = _VAR_SHAPES[key]
    flag = key in ("uniform_var", "loguniform_var") and len(tokens) == 4 and tokens[3] == "U"
    nums = tokens[1:3] if flag else tokens[1:]
    n_ok = (2,) if key.endswith("_var") else (1, 2)
    if not tokens or len(nums) not in n_ok:
        raise LineError(f"expected '{key} = {shape}'", id=key, value=text.strip())
    name = identifier(tokens[0], "parameter name")
    x = tuple(number(t, name) for t in nums)
    kind = ParamKind(key.removesuffix("_var"))
    scale = Scale.LOG10 if key.startswith("log") else Scale.LIN
    if kind in (ParamKind.UNIFORM, ParamKind.LOGUNIFORM):
        _bounds(name, x[0], x[1], scale)
        return ParamEntry(name, kind, scale, x, line, lower=x[0], upper=x[1],
                          enforce_bounds=not flag)
    if kind in (ParamKind.NORMAL, ParamKind.LOGNORMAL):
        if x[1] <= 0:
            raise LineError("standard deviation must be positive", id=name, value=nums[1])
        lower = 0.0 if kind is ParamKind.NORMAL else None
        return ParamEntry(name, kind, scale, x, line, lower=lower, mean=x[0], sd=x[1])
    if len(x) == 2 and x[1] <= 0:
        raise LineError("step size must be positive", id=name, value=nums[1])
    initial = 10.0 ** x[0] if scale is Scale.LOG10 else x[0]
    return ParamEntry(name, kind, scale, x, line, initial=initial,
                      step=x[1] if len(x) == 2 else None)


def _bounds(name: str, lo: float, hi: float, scale: Scale) -> None:
    if lo >= hi:
        raise LineError("lower bound must be below the upper bound", id=name,
                        value=f"{lo:g} {hi:g}")
    if scale is Scale.LOG10 and lo <= 0:
        raise LineError("bounds of a log-scale parameter must be positive", id=name,
                        value=f"{lo:g}")


def legacy_model(text: str, base: Path, line: int) -> ModelEntry:
    """``model = FILE : DATA, DATA`` (or ``: none``)."""
    if ":" not in text:
        raise LineError("expected 'model = MODEL_FILE : DATA_FILE, ...' (or ': none')",
                        id="model", value=text.strip())
    left, right = text.split(":", 1)
    data = data_files(right, base, allow_none=True, what="model")
    return model_file(left, base, line, data)


def legacy_mutant(text: str, base: Path, line: int) -> ConditionEntry:
    """``mutant = BASE NAME STATEMENT ... : DATA, ...``."""
    left, sep, right = text.partition(":")
    words = left.split(None, 2)
    if not sep or len(words) < 3:
        raise LineError("expected 'mutant = BASE_MODEL NAME STATEMENT ... : DATA_FILE, ...'",
                        id="mutant", value=text.strip())
    model = identifier(words[0], "base model")
    name = identifier(words[1], "mutant name")
    rest, pos, perts = words[2].rstrip(), 0, []
    while pos < len(rest):
        m = _STATEMENT.match(rest, pos)
        if not m:
            raise LineError("not a perturbation 'target op value' (op one of = * / + -), "
                            "as in 'k__FREE*2'", id=name, value=rest[pos:].strip())
        perts.append(_perturbation(m, line))
        pos = m.end()
    data = data_files(right, base, allow_none=False, what="mutant")
    return ConditionEntry(name, tuple(perts), line, model=model, data=data)


def _columns(text: str, item: str) -> tuple[str | int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if re.fullmatch(r"[\d\s,\-]+", text):
        out: list[str | int] = []
        for p in parts:
            a, _, b = p.partition("-")
            if not a.strip().isdigit() or (b and not b.strip().isdigit()):
                raise LineError("not a column number or range (as in 1,3-5)",
                                id="normalization", value=p)
            lo, hi = int(a), int(b or a)
            if lo < 1 or hi < lo:
                raise LineError("column numbers start at 1 (column 0 is time) and ranges "
                                "go up", id="normalization", value=p)
            out.extend(range(lo, hi + 1))
        return tuple(out)
    for p in parts:
        identifier(p, "normalization column")
    return tuple(parts)


def legacy_normalization(text: str, base: Path, line: int) -> list[NormalizationEntry]:
    """``TYPE``, ``TYPE : FILE, ...`` or ``TYPE : (FILE: COLUMNS), ...``."""
    kind_text, sep, rest = text.partition(":")
    try:
        kind = NormalizationType(kind_text.strip().lower())
    except ValueError:
        choices = ", ".join(t.value for t in NormalizationType)
        raise LineError(f"unknown normalization type: use one of {choices}",
                        id="normalization", value=kind_text.strip()) from None
    if not sep:
        return [NormalizationEntry(kind, None, None, line)]
    out = []
    for item in _COMMA_OUTSIDE_PARENS.split(rest):
        item = item.strip()
        columns = None
        if item.startswith("(") and item.endswith(")"):
            item, colon, cols = item[1:-1].partition(":")
            if colon:
                columns = _columns(cols, item)
            item = item.strip()
        if not item or Path(item).suffix.lower() != ".exp":
            raise LineError("expected an .exp file, or (FILE.exp: COLUMNS) with column "
                            "names or numbers", id="normalization", value=item or rest.strip())
        out.append(NormalizationEntry(kind, base / item, columns, line))
    return out


_ACTION_KEYS = {
    "time_course": {"time": "num", "suffix": "id", "step": "num", "model": "id",
                    "subdivisions": "num", "method": "method"},
    "param_scan": {"param": "id", "min": "num", "max": "num", "step": "num", "time": "num",
                   "suffix": "id", "logspace": "num", "model": "id", "subdivisions": "num",
                   "method": "method"},
}
_ACTION_REQUIRED = {"time_course": ("time",),
                    "param_scan": ("param", "min", "max", "step", "time")}
METHODS = ("ode", "ssa", "pla", "nf")


def legacy_action(kind: str, text: str, line: int) -> ActionEntry:
    """``time_course = key: value, ...`` or ``param_scan = key: value, ...``."""
    allowed = _ACTION_KEYS[kind]
    fields: dict[str, float | str] = {}
    for item in text.split(","):
        key, sep, raw = (s.strip() for s in item.partition(":"))
        key = key.lower()
        if not sep or not raw:
            raise LineError(f"expected '{kind} = key: value, key: value, ...'", id=kind,
                            value=item.strip())
        if key not in allowed:
            raise LineError(f"unknown {kind} field; use {', '.join(allowed)}", id=key,
                            value=raw)
        if key in fields:
            raise LineError(f"{kind} field given twice", id=key, value=raw)
        how = allowed[key]
        if how == "num":
            value = number(raw, key)
            if key in ("time", "step", "subdivisions") and value <= 0:
                raise LineError(f"{key} must be positive", id=key, value=raw)
            fields[key] = value
        elif how == "method":
            if raw.lower() not in METHODS:
                raise LineError(f"unknown method; use one of {', '.join(METHODS)}", id=key,
                                value=raw)
            fields[key] = raw.lower()
        else:
            fields[key] = identifier(raw, key)
    missing = [k for k in _ACTION_REQUIRED[kind] if k not in fields]
    if missing:
        raise LineError(f"{kind} needs {', '.join(missing)}", id=kind, value=text.strip())
    if kind == "param_scan" and fields["min"] >= fields["max"]:
        raise LineError("min must be below max", id="param_scan",
                        value=f"{fields['min']:g} {fields['max']:g}")
    return ActionEntry(kind, fields, line)


FAMILY_PARAMETER = {"normal": "sigma", "lognormal": "sigma", "laplace": "scale",
                    "neg_bin": "dispersion"}
FAMILY_ALIASES = {"gaussian": "normal"}  # PyBNF's own examples write gaussian
SOURCES = ("read_exp_file", "fit", "fix_at", "relative", "column_mean")


def noise(family: str, observable: str | None, fields: dict[str, str],
          line: int) -> NoiseEntry:
    """A noise model from its family and ``{parameter or 'location': text}`` fields."""
    family = family.strip().lower()
    family = FAMILY_ALIASES.get(family, family)
    if family not in FAMILY_PARAMETER:
        raise LineError(f"unknown noise family; use one of {', '.join(FAMILY_PARAMETER)}",
                        id="noise_model", value=family)
    param = FAMILY_PARAMETER[family]
    location = fields.pop("location", None)
    if location is not None and location.lower() not in ("mean", "median"):
        raise LineError("location is mean or median", id="location", value=location)
    extra = [k for k in fields if k != param]
    if extra:
        raise LineError(f"a {family} noise model has one parameter, {param}", id=extra[0],
                        value=fields[extra[0]])
    if param not in fields:
        raise LineError(f"say where {param} comes from: {param} = SOURCE with SOURCE one of "
                        f"{', '.join(SOURCES)}", id="noise_model", value=family)
    words = fields[param].split()
    source = words[0].lower() if words else ""
    args = words[1:]
    n_args = {"read_exp_file": (1,), "fit": (1,), "fix_at": (1,), "relative": (0, 1),
              "column_mean": (0,)}.get(source)
    if n_args is None or len(args) not in n_args:
        raise LineError(f"unknown {param} source; use read_exp_file SUFFIX, fit NAME, "
                        "fix_at NUMBER, relative [CV] or column_mean", id=param,
                        value=fields[param])
    argument: str | float | None = args[0] if args else None
    if source == "fit":
        identifier(args[0], "fitted noise parameter")
    elif source in ("fix_at", "relative") and args:
        argument = number(args[0], param)
        if argument <= 0:
            raise LineError(f"{param} must be positive", id=param, value=args[0])
    return NoiseEntry(family, observable, param, source, argument,
                      None if location is None else location.lower(), line)


def legacy_noise(observable: str | None, text: str, line: int) -> NoiseEntry:
    """``noise_model [OBS] = FAMILY, PARAM = SOURCE[, location = mean|median]``."""
    family, *items = text.split(",")
    fields: dict[str, str] = {}
    for item in items:
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            raise LineError("expected 'noise_model [OBS] = FAMILY, PARAM = SOURCE'",
                            id="noise_model", value=item.strip())
        fields[key.lower()] = value
    return noise(family, observable, fields, line)


# --------------------------------------------------------------- edition 2
def split_record(text: str) -> tuple[str, list[str], dict[str, list[str]]]:
    """``HEAD: v, FIELD: v, v, ...`` as (head, head values, {field: values})."""
    items = text.split(",")
    head_m = _FIELD.match(items[0])
    if not head_m:
        raise LineError("expected a record 'KIND: VALUE, FIELD: VALUE, ...'", value=text)
    head = head_m.group(1).lower()
    values: dict[str, list[str]] = {head: []}
    current = head
    for i, item in enumerate(items):
        m = _FIELD.match(item)
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


_ALIASES = {"parameter_scale": "scale", "initial_value": "initial"}
RECORDS: dict[str, dict[str, bool]] = {  # record -> {field: may hold a list}
    "model": {},
    "experiment": {"data": True, "condition": False, "preequilibrate": False, "model": False},
    "condition": {"perturbations": True, "model": False},
    "parameter": dict.fromkeys(("scale", "prior", "lower", "upper", "mean", "sd",
                                "initial"), False),
    "noise_model": dict.fromkeys(("observable", "sigma", "scale", "dispersion",
                                  "location"), False),
    "objective": {},
    "job_type": {},
}
_REQUIRED = {"experiment": ("data",), "condition": ("perturbations",)}


def check_record(head: str, head_values: list[str], fields: dict[str, list[str]],
                 text: str) -> dict[str, str | list[str]]:
    """Check a record's shape; return its fields with aliases resolved."""
    if head not in RECORDS:
        raise LineError(f"unknown record; records are {', '.join(RECORDS)}", id=head,
                        value=text.strip())
    if head != "model" and len(head_values) != 1:
        raise LineError(f"'{head}:' takes one value (fields are written 'name: value')",
                        id=head, value=", ".join(head_values))
    allowed = RECORDS[head]
    out: dict[str, str | list[str]] = {}
    for name, vals in fields.items():
        key = _ALIASES.get(name, name) if head == "parameter" else name
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


def record_experiment(name: str, f: dict, base: Path, line: int) -> ExperimentEntry:
    """``experiment: NAME, data: FILE, ... [, condition: C][, preequilibrate: C][, model: M]``."""
    identifier(name, "experiment name")
    data = data_files(",".join(f["data"]), base, allow_none=False, what="data")
    refs = {k: identifier(f[k], k) for k in ("condition", "preequilibrate", "model") if k in f}
    return ExperimentEntry(name, data, line, **refs)


def record_condition(name: str, f: dict, line: int) -> ConditionEntry:
    """``condition: NAME, perturbations: P, P, ... [, model: M]``."""
    identifier(name, "condition name")
    perts = tuple(statement(p, line, name) for p in f["perturbations"])
    model = identifier(f["model"], "model") if "model" in f else None
    return ConditionEntry(name, perts, line, model=model)


def record_parameter(name: str, f: dict, line: int) -> ParamEntry:
    """``parameter: NAME[, scale: lin|log10][, prior: uniform|normal][, lower: X,
    upper: Y][, mean: M, sd: S][, initial: V]``."""
    identifier(name, "parameter name")
    scale_text = f.pop("scale", "lin").lower()
    if scale_text not in ("lin", "linear", "log10"):
        raise LineError("scale is lin (or linear) or log10; natural-log scales are not "
                        "read from PyBNF files", id="scale", value=scale_text)
    scale = Scale.LOG10 if scale_text == "log10" else Scale.LIN
    prior = f.pop("prior", None)
    if prior is not None and prior.lower() not in ("uniform", "normal"):
        raise LineError("prior is uniform or normal", id="prior", value=prior)
    x = {k: number(v, k) for k, v in f.items()}
    if ("lower" in x) != ("upper" in x):
        raise LineError("give both lower and upper, or neither", id=name,
                        value=f.get("lower", f.get("upper")))
    if "lower" in x:
        _bounds(name, x["lower"], x["upper"], scale)
    has_ms = "mean" in x or "sd" in x
    if prior == "normal":
        if "mean" not in x or "sd" not in x:
            raise LineError("a normal prior needs mean and sd", id=name, value="normal")
        if x["sd"] <= 0:
            raise LineError("sd must be positive", id="sd", value=f["sd"])
    elif has_ms:
        raise LineError("mean and sd belong to 'prior: normal'", id=name,
                        value=f.get("mean", f.get("sd")))
    if prior == "uniform" and "lower" not in x:
        raise LineError("a uniform prior needs lower and upper", id=name, value="uniform")
    init = x.get("initial")
    if init is not None:
        if scale is Scale.LOG10 and init <= 0:
            raise LineError("initial value of a log-scale parameter must be positive",
                            id="initial", value=f["initial"])
        if "lower" in x and not x["lower"] <= init <= x["upper"]:
            raise LineError("initial value is outside [lower, upper]", id="initial",
                            value=f["initial"])
    log = scale is Scale.LOG10
    if prior == "normal":
        kind = ParamKind.LOGNORMAL if log else ParamKind.NORMAL
    elif "lower" in x:
        kind = ParamKind.LOGUNIFORM if log else ParamKind.UNIFORM
    elif init is not None:
        kind = ParamKind.LOGVAR if log else ParamKind.VAR
    else:
        raise LineError("a parameter needs bounds (lower, upper), a prior, or an initial "
                        "value", id=name)
    return ParamEntry(name, kind, scale, tuple(x.values()), line, lower=x.get("lower"),
                      upper=x.get("upper"), mean=x.get("mean"), sd=x.get("sd"), initial=init)
