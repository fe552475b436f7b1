"""Parsers of single PyBNF configuration lines: ``KEY = VALUE`` values.

Each parser reads one line's value and returns entries of
:mod:`bngfit.pybnf.conf._entries`, or raises :class:`LineError` on the first thing
wrong with that line; :mod:`bngfit.pybnf.conf._conf` adds the file and line number.
Cross-line checks (names defined once, references resolved) are done there.
Edition-2 records (``KIND: NAME, FIELD: VALUE``) are in
:mod:`bngfit.pybnf.conf._records`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from bngfit.files import parse_float, too_many_points
from bngfit.problem import MutationOp, Scale

from ._entries import (
    ActionEntry,
    ConditionEntry,
    ModelEntry,
    NoiseEntry,
    NormalizationEntry,
    NormalizationType,
    ObsNormalizationEntry,
    ParamEntry,
    ParamKind,
    Perturbation,
)

ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_SUFFIXES = (".bngl", ".xml", ".sbml", ".ant")
DATA_SUFFIXES = (".exp", ".prop")
_STATEMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*([=*/+-])\s*([^\s=*/]+)")
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
        value = parse_float(text)
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
        if any(path.resolve() == p.resolve() for p in out):  # its rows would count twice
            raise LineError("data file listed twice", id=what, value=item)
        out.append(path)
    return tuple(out)


def model_file(text: str, base: Path, line: int, data: tuple[Path, ...] = ()) -> ModelEntry:
    """A model file that exists and has a known suffix."""
    text = text.strip()
    if not text:
        raise LineError("model file name is missing", id="model")
    if Path(text).suffix.lower() not in MODEL_SUFFIXES:
        raise LineError("unknown model file type: use .bngl (BioNetGen), .xml / .sbml "
                        "(SBML) or .ant (Antimony)", id="model", value=text)
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
    """The perturbation a match of ``_STATEMENT`` reads."""
    target, op, raw = m.groups()
    return Perturbation(target=target, op=MutationOp(op), value=perturbation_value(raw, target),
                        line=line)


def perturbation_value(raw: str, target: str) -> float | str:
    """A perturbation's value: a finite number or a parameter name (not an expression)."""
    try:
        return number(raw, target)
    except LineError:
        if not ID.match(raw):
            raise LineError("a perturbation value must be a number or a parameter name "
                            "(bngfit does not evaluate expressions here)", id=target,
                            value=raw) from None
        return raw


# ------------------------------------------------------------------ legacy
_VAR_SHAPES = {
    "uniform_var": "NAME LOWER UPPER [U]", "loguniform_var": "NAME LOWER UPPER [U]",
    "normal_var": "NAME MEAN SD", "lognormal_var": "NAME LOG10_MEAN LOG10_SD",
    "var": "NAME INITIAL [STEP]", "logvar": "NAME LOG10_INITIAL [LOG10_STEP]",
}


#: PyBNF's reflecting-bounds flag of a uniform box: ``U``/``u`` enforces the bounds only
#: when drawing starts; ``b``/``B`` (the default) always (PyBNF docs/priors.rst).
_BOX_FLAGS = {"u": False, "b": True}


def legacy_var(key: str, text: str, line: int, edition: int = 1) -> ParamEntry:
    """A ``*_var = ...``, ``var = ...`` or ``logvar = ...`` line.

    In edition 2 a ``normal_var`` is not truncated at 0: PyBNF's edition-2
    documentation (docs/priors.rst) gives the Normal family the whole real line.
    """
    tokens = text.split()
    shape = _VAR_SHAPES[key]
    flag = (key in ("uniform_var", "loguniform_var") and len(tokens) == 4
            and tokens[3].lower() in _BOX_FLAGS)
    nums = tokens[1:3] if flag else tokens[1:]
    n_ok = (2,) if key.endswith("_var") else (1, 2)
    if not tokens or len(nums) not in n_ok:
        raise LineError(f"expected '{key} = {shape}'", id=key, value=text.strip())
    name = identifier(tokens[0], "parameter name")
    x = tuple(number(t, name) for t in nums)
    kind = ParamKind(key.removesuffix("_var"))
    scale = Scale.LOG10 if key.startswith("log") else Scale.LIN
    if kind in (ParamKind.UNIFORM, ParamKind.LOGUNIFORM):
        bounds(name, x[0], x[1], scale)
        return ParamEntry(name, kind, scale, x, line, lower=x[0], upper=x[1],
                          enforce_bounds=not flag or _BOX_FLAGS[tokens[3].lower()])
    if kind in (ParamKind.NORMAL, ParamKind.LOGNORMAL):
        if x[1] <= 0:
            raise LineError("standard deviation must be positive", id=name, value=nums[1])
        lower = 0.0 if kind is ParamKind.NORMAL and edition == 1 else None
        return ParamEntry(name, kind, scale, x, line, lower=lower, mean=x[0], sd=x[1])
    if len(x) == 2 and x[1] <= 0:
        raise LineError("step size must be positive", id=name, value=nums[1])
    initial = 10.0 ** x[0] if scale is Scale.LOG10 else x[0]
    return ParamEntry(name, kind, scale, x, line, initial=initial,
                      step=x[1] if len(x) == 2 else None)


def bounds(name: str, lo: float, hi: float, scale: Scale) -> None:
    """Check a box: ``lo < hi``, and ``lo > 0`` on a log scale."""
    if lo >= hi:
        raise LineError("lower bound must be below the upper bound", id=name,
                        value=f"{lo:g} {hi:g}")
    if scale is not Scale.LIN and lo <= 0:
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
    """The columns of ``(FILE: COLUMNS)``: observable names, or numbers and ranges."""
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


#: Transforms of PyBNF's normalization chains (docs/pybnf-rules.md) beyond the four types.
_CHAIN_TRANSFORMS = ("floor", "scale", "offset", "log", "minmax")


def obs_normalization(target: str | None, text: str, line: int) -> ObsNormalizationEntry:
    """An edition-2 ``normalization [OBS | EXP.OBS] = TYPE`` line (docs/pybnf-rules.md)."""
    value = text.strip()
    if ":" in value:
        raise LineError("edition 2 keys normalization by observable, not by data file: write "
                        "'normalization OBS = TYPE' or 'normalization EXPERIMENT.OBS = TYPE'",
                        id="normalization", value=value)
    words = value.replace(",", " ").split()
    if len(words) > 1 or (words and words[0].lower() in _CHAIN_TRANSFORMS):
        raise LineError("normalization chains and transforms other than init, peak, zero and "
                        "unit are not supported by bngfit", id="normalization", value=value)
    try:
        kind = NormalizationType(value.lower())
    except ValueError:
        choices = ", ".join(t.value for t in NormalizationType)
        raise LineError(f"unknown normalization type: use one of {choices}",
                        id="normalization", value=value) from None
    experiment = observable = None
    if target is not None:
        experiment, dot, observable = target.rpartition(".")
        if not dot:
            experiment = None
        elif "." in experiment:
            raise LineError("the target is OBS or EXPERIMENT.OBS", id="normalization",
                            value=target)
        else:
            identifier(experiment, "experiment name")
        identifier(observable, "observable name")
    return ObsNormalizationEntry(kind, experiment, observable, line)


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
    # the output grid is allocated whole: refuse an absurd one before any allocation
    n_points = float(fields["time"]) / float(fields.get("step", 1.0)) + 1
    if kind == "param_scan":
        n_points = (fields["max"] - fields["min"]) / fields["step"] + 1
    problem = too_many_points(n_points)
    if problem is not None:
        key = "step" if "step" in fields else "time"
        raise LineError(f"{kind} {problem}", id=key, value=text.strip())
    return ActionEntry(kind, fields, line)


#: Noise families and their parameters, the first one required (PyBNF
#: docs/noise_models.rst; docs/pybnf-rules.md): ``lognormal`` is Gaussian in log10, ``lnnormal``
#: in the natural log; a Student-t's ``df`` is 4 unless given.
FAMILY_PARAMETERS = {"normal": ("sigma",), "lognormal": ("sigma",), "lnnormal": ("sigma",),
                     "laplace": ("scale",), "neg_bin": ("dispersion",),
                     "student_t": ("sigma", "df")}
FAMILY_ALIASES = {"gaussian": "normal"}  # PyBNF's own examples write gaussian
SOURCES = ("read_exp_file", "fit", "fix_at", "relative", "column_mean", "formula",
           "prediction_formula")
_N_ARGS = {"read_exp_file": (1,), "fit": (1,), "fix_at": (1,), "relative": (0, 1),
           "column_mean": (0,)}
_FORMULA_SOURCES = ("formula", "prediction_formula")


def split_fields(text: str) -> list[str]:
    """``text`` split at the commas outside double quotes and parentheses.

    A quoted species pattern (``"A(b,c)" = 0``) and a formula with a function
    call (``max(a, b)``) stay one item.
    """
    items, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def noise(family: str, observable: str | None, fields: dict[str, str], line: int,
          cumulative: bool = False) -> NoiseEntry:
    """A noise model from its family and ``{parameter or 'location': text}`` fields."""
    family = family.strip().lower()
    family = FAMILY_ALIASES.get(family, family)
    if family not in FAMILY_PARAMETERS:
        raise LineError(f"unknown noise family; use one of {', '.join(FAMILY_PARAMETERS)} "
                        "(or gaussian)", id="noise_model", value=family)
    params = FAMILY_PARAMETERS[family]
    fields = dict(fields)
    location = fields.pop("location", None)
    if location is not None and location.lower() not in ("mean", "median"):
        raise LineError("location is mean or median", id="location", value=location)
    for key in ("time_error", "sigma_t"):
        if key in fields:
            raise LineError("measurement-time uncertainty (time_error) is not supported by "
                            "bngfit: it scores each point at its reported time", id=key,
                            value=fields[key])
    extra = [k for k in fields if k not in params]
    if extra:
        names = " and ".join(params)
        raise LineError(f"a {family} noise model has the parameter(s) {names}", id=extra[0],
                        value=fields[extra[0]])
    if params[0] not in fields:
        raise LineError(f"say where {params[0]} comes from: {params[0]} = SOURCE with SOURCE "
                        f"one of {', '.join(SOURCES)}", id="noise_model", value=family)
    first = _source(params[0], fields[params[0]])
    more = tuple((p, *_source(p, fields[p], shape=True)) for p in params[1:] if p in fields)
    if cumulative and observable is None:
        raise LineError("cumulative applies to one observable: write it on a per-observable "
                        "line 'noise_model OBS = FAMILY, ..., cumulative'", id="cumulative",
                        value="cumulative")
    return NoiseEntry(family, observable, params[0], *first,
                      None if location is None else location.lower(), line, more, cumulative)


def _source(param: str, text: str, shape: bool = False) -> tuple[str, str | float | None]:
    """``SOURCE [ARGUMENT]`` of one noise parameter, checked."""
    source, _, rest = text.strip().partition(" ")
    source, rest = source.lower(), rest.strip()
    if source in _FORMULA_SOURCES and not shape:
        if not rest:
            raise LineError(f"{source} needs an expression", id=param, value=text)
        return source, rest
    args = rest.split()
    if shape and source not in ("fix_at", "fit"):
        raise LineError(f"{param} is fix_at NUMBER or fit NAME", id=param, value=text)
    if source not in _N_ARGS or len(args) not in _N_ARGS[source]:
        raise LineError(f"unknown {param} source; use read_exp_file SUFFIX, fit NAME, "
                        "fix_at NUMBER, relative [CV], column_mean, formula EXPR or "
                        "prediction_formula EXPR", id=param, value=text)
    if source == "fit":
        return source, identifier(args[0], "fitted noise parameter")
    if source in ("fix_at", "relative") and args:
        value = number(args[0], param)
        if value <= 0:
            raise LineError(f"{param} must be positive", id=param, value=args[0])
        return source, value
    return source, args[0] if args else None


def legacy_noise(observable: str | None, text: str, line: int) -> NoiseEntry:
    """``noise_model [OBS] = FAMILY, PARAM = SOURCE[, ...][, location = L][, cumulative]``."""
    family, *items = split_fields(text)
    fields: dict[str, str] = {}
    cumulative = False
    for item in items:
        if item.strip().lower() == "cumulative":
            cumulative = True
            continue
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            raise LineError("expected 'noise_model [OBS] = FAMILY, PARAM = SOURCE'",
                            id="noise_model", value=item.strip())
        if key.lower() in fields:
            raise LineError("given twice on the line", id=key, value=value)
        fields[key.lower()] = value
    return noise(family, observable, fields, line, cumulative)
