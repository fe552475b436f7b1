"""Read a PyBNF configuration (``.conf``) file: :func:`read_conf`.

Two editions are read. Lines are read one at a time; ``#`` starts a comment
(at the start of a line, or after a blank); blank lines are skipped; keys are
matched without regard to case. Paths are relative to the ``.conf`` file.

Edition 1 (legacy; no ``edition`` line, or ``edition = 1``)
-----------------------------------------------------------
Every line is ``key = value`` (spaces around ``=`` optional), as documented by
PyBNF. Keys read into structured fields::

    model = MODEL.bngl : DATA.exp, DATA.prop        (or ": none"; may repeat)
    uniform_var = NAME LOWER UPPER [U]              loguniform_var = (same)
    normal_var = NAME MEAN SD                       lognormal_var = NAME LOG10_MEAN LOG10_SD
    var = NAME INITIAL [STEP]                       logvar = NAME LOG10_INITIAL [LOG10_STEP]
    mutant = BASE_MODEL NAME STATEMENT ... : DATA.exp, ...     (STATEMENT: k__FREE*2, L0=100)
    objfunc = chi_sq | sos | norm_sos | ave_norm_sos | ...     (see Objfunc)
    normalization = TYPE [: FILE.exp, (FILE.exp: COLUMNS), ...]  (TYPE: init peak zero unit)
    time_course = time: T[, suffix: S][, model: M][, step: D][, method: ode] ...
    param_scan = param: P, min: A, max: B, step: D, time: T[, ...]
    noise_model [OBS] = FAMILY, PARAM = SOURCE[, location = mean|median]

Other keys are settings (see :mod:`bngfit.pybnf.conf._keys` for the tables of
recorded, ignored and mathematics-changing keys). Free parameters of BNGL
models are ``NAME__FREE`` placeholders in PyBNF; so when every model is BNGL,
every free parameter name must end in ``__FREE``. SBML models bind free
parameters by their plain id (no check is made here); when BNGL and SBML
models are mixed, no naming check is made either (the builder binds names).

Edition 2 (a line ``edition = 2``, anywhere in the file)
--------------------------------------------------------
PyBNF's newer syntax, as its documentation and parser write it
(its docs/config_keys.rst, docs/noise_models.rst and docs/priors.rst; the
rules bngfit takes from its design records: bngfit's ``docs/pybnf-rules.md``).
A line is a comment, blank, the ``edition`` line, a ``KEY = VALUE`` line or a labelled record
``KIND: NAME, FIELD: VALUE, ...`` (fields in any order, a list field's
further values without a label; commas inside quotes or parentheses do not
split)::

    model: FILE[, FILE ...]
    experiment: NAME, data: FILE[, FILE ...][, condition: C][, preequilibrate: C]
                [, equil_t_end: T][, model: M][, t_end: T][, n_steps: N][, t_start: 0]
                [, type: time_course][, method: ode]
    condition: NAME[, model: M], perturbations: P[, P ...]
    parameter: NAME[, prior: uniform|normal][, parameter_scale: lin|log10|ln]
               [, lower: X, upper: Y][, mean: M, sd: S][, initial_value: V]
    observable: NAME, column: HEADER        observable: NAME, formula: EXPR
    objective = TOKEN                       job_type = ALGORITHM
    noise_model [OBS] = FAMILY, PARAM = SOURCE[, PARAM = SOURCE][, location = mean|median]
                        [, cumulative]
    normalization [OBS | EXPERIMENT.OBS] = init|peak|zero|unit
    uniform_var = NAME LOWER UPPER [b|u]    (and loguniform_var, normal_var, lognormal_var,
                                             var, logvar, as in edition 1)

``data:`` files are ``.exp`` (replicates of one simulation) and ``.prop`` /
``.con`` constraints read on it; an experiment with constraints only states
its span with ``t_end`` (and ``n_steps``). ``P`` is ``target op value`` with op
``= * / + -``; the target a parameter id or a quoted species pattern
(``"A()" = 5``); the value a number or a parameter id. ``M`` is a model's file
name or stem. Parameter bounds and initial values are values of the
parameter (not logs); ``mean``/``sd`` are in the scale's units; without a
prior, bounds mean uniform; a normal prior's bound may be ``inf``. FAMILY is
``normal`` (``gaussian``), ``lognormal`` (log10), ``lnnormal`` (ln), ``laplace``
(parameter ``scale``), ``student_t`` (``sigma``, and ``df``, 4 unless given) or
``neg_bin`` (``dispersion``); SOURCE is ``read_exp_file SUFFIX``, ``fit NAME``,
``fix_at NUMBER``, ``relative [CV]``, ``column_mean``, ``formula EXPR`` or
``prediction_formula EXPR`` (``df`` takes ``fix_at`` or ``fit``).

bngfit also reads its earlier forms of the same things: ``objective: TOKEN``,
``job_type: NAME``, ``noise_model: FAMILY[, observable: OBS], PARAM: SOURCE``
and the ``parameter:`` field names ``scale`` and ``initial``. The legacy
structure keys ``model =``, ``mutant =``, ``objfunc =``, ``fit_type =``,
``time_course =`` and ``param_scan =`` are refused, naming what replaces them;
so are documented forms that change the mathematics in ways bngfit does not
compute (stochastic methods, dose-response and steady-state experiments,
measurement-time uncertainty, normalization chains, other prior families,
analytical objectives), each naming the line. Free parameters are model ids
(or a BNGL template's ``X__FREE`` placeholders).
"""

from __future__ import annotations

import re
from pathlib import Path

from bngfit.errors import InputError, Issue
from bngfit.files import read_text

from ._checks import (
    check_edition2,
    check_names,
    check_noise,
    check_normalization,
    check_references,
    check_required,
    check_sbml_actions,
)
from ._collected import Collected
from ._entries import (
    ActionEntry,
    ConditionEntry,
    ExperimentEntry,
    ModelEntry,
    NoiseEntry,
    NormalizationEntry,
    NormalizationType,
    Objfunc,
    ObservableEntry,
    ObsNormalizationEntry,
    ParamEntry,
    ParamKind,
    Perturbation,
    PybnfConfig,
)
from ._keys import (
    IGNORED_KEYS,
    LEGACY_ONLY_KEYS,
    OTHER_PRIOR_FAMILIES,
    RUN_KEYS,
    UNSUPPORTED_MATH_KEYS,
    VAR_KEYS,
    KeySpec,
)
from ._parse import (
    LineError,
    identifier,
    legacy_action,
    legacy_model,
    legacy_mutant,
    legacy_noise,
    legacy_normalization,
    legacy_var,
    model_file,
    noise,
    obs_normalization,
)
from ._records import (
    RECORDS,
    check_record,
    record_condition,
    record_experiment,
    record_observable,
    record_parameter,
    split_record,
)
from ._support import check_supported, unsupported_math

__all__ = [
    "ActionEntry",
    "ConditionEntry",
    "ExperimentEntry",
    "IGNORED_KEYS",
    "ModelEntry",
    "NoiseEntry",
    "NormalizationEntry",
    "NormalizationType",
    "Objfunc",
    "ObsNormalizationEntry",
    "ObservableEntry",
    "ParamEntry",
    "ParamKind",
    "Perturbation",
    "PybnfConfig",
    "RUN_KEYS",
    "UNSUPPORTED_MATH_KEYS",
    "check_supported",
    "read_conf",
    "unsupported_math",
]

_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s+([A-Za-z_][A-Za-z0-9_.]*))?\s*([=:])(.*)$")
_COMMENT = re.compile(r"(^|\s)#.*$")
#: PyBNF's string-valued keys: its grammar reads a ``#`` attached to their value
#: (``output_dir = runs#2``) as part of it, and one after a blank as a comment.
_STRING_KEYS = frozenset({"bng_command", "output_dir", "fit_type", "objfunc", "initialization",
                          "cluster_type", "scheduler_node", "scheduler_file", "de_strategy",
                          "sbml_integrator", "simulation_dir"})
#: Keys whose values are file names (edition 1 ``model =``/``mutant =``, edition 2
#: ``model:``/``experiment: ..., data:``, ``postprocess``).
_FILE_KEYS = frozenset({"model", "mutant", "postprocess", "experiment"})
_AFTER_FILE = re.compile(r"(\.(?:bngl|xml|sbml|ant|net|txt|exp|con|prop))#.*$", re.IGNORECASE)
_PRIOR_VAR = re.compile(r"(log|ln)?([a-z_]+?)_var|lnvar")
#: PyBNF's analytical objectives (no model, no data), which bngfit does not fit.
_ANALYTICAL = ("score", "expression", "callable", "banana", "gaussian", "rotated_gaussian",
               "rotated_quartic", "multimodal")


def read_conf(path: str | Path) -> PybnfConfig:
    """Read and check a PyBNF configuration file (edition 1 or 2; see the module doc).

    Every line is checked and all problems are reported together, each with
    the file, line, key or name, and value at fault.

    Parameters
    ----------
    path : str or Path
        The ``.conf`` file.

    Returns
    -------
    PybnfConfig

    Raises
    ------
    InputError
        A missing or unreadable file; a line that is not ``key = value`` (or a
        record in edition 2); a number that does not parse; bounds with lower
        >= upper, or not positive on a log scale; a parameter declared twice; a
        model or data file that does not exist, or a data file that is not
        ``.exp`` / ``.prop``; a legacy BNGL-only job whose free parameter name
        does not end in ``__FREE``; a reference to an undefined model,
        condition or data file; no model, no data or no free parameter.
    """
    path = Path(path)
    f = str(path)
    lines = read_text(path, "configuration file").splitlines()
    found = Collected(f, path.parent, _edition(lines, f))
    for number, raw in enumerate(lines, start=1):
        text = uncomment(raw)
        if text:
            _read_line(found, number, text)
    return _finish(found)


def uncomment(raw: str) -> str:
    """A line without its comment and surrounding blanks, as PyBNF reads it.

    ``#`` starts a comment anywhere outside double quotes, with or without a
    blank before it (``loguniform_var = k 1e-8 1e-4# binding``): PyBNF's
    grammar ends a number, name or file at the ``#`` and drops the rest. The
    values of PyBNF's string keys (:data:`_STRING_KEYS`) are the exception
    its grammar makes: a ``#`` inside such a value belongs to it, one after a
    blank starts the comment. So are file names (:data:`_FILE_KEYS`): a ``#``
    inside one belongs to it, one right after its extension or after a blank
    starts the comment.

    Parameters
    ----------
    raw : str
        One line of the file (line ending already removed).

    Returns
    -------
    str
    """
    m = _LINE.match(raw.strip())
    if m and m.group(3) == "=" and m.group(1).lower() in _STRING_KEYS:
        return _COMMENT.sub("", raw).strip()
    if m and m.group(1).lower() in _FILE_KEYS:
        # PyBNF reads a file name up to its extension: a '#' inside the name is
        # part of it, one right after the extension starts the comment
        return _AFTER_FILE.sub(r"\1", _COMMENT.sub("", raw)).strip()
    quoted = False
    for k, ch in enumerate(raw):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return raw[:k].strip()
    return raw.strip()


# ---------------------------------------------------------------- reading
def _prior_family(key: str) -> str | None:
    """The prior family of a ``*_var`` key bngfit does not read, else None."""
    m = _PRIOR_VAR.fullmatch(key)
    if m is None or key in VAR_KEYS:
        return None
    if key == "lnvar":
        return "lnvar (a natural-log start point)"
    family = m.group(2)
    if family in OTHER_PRIOR_FAMILIES or (m.group(1) == "ln" and family in ("uniform",
                                                                           "normal")):
        return f"{m.group(1) or ''}{family}"
    return None


def _edition(lines: list[str], f: str) -> int:
    """The file's edition: 2 with an ``edition = 2`` line, else 1 (one such line at most)."""
    found: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        m = re.match(r"^\s*edition\s*([=:])(.*)$", uncomment(raw), re.IGNORECASE)
        if not m:
            continue
        value = m.group(2).strip()
        if m.group(1) == ":" or value not in ("1", "2"):
            raise InputError("expected 'edition = 1' or 'edition = 2'", file=f, row=number,
                             id="edition", value=raw.strip())
        if found:
            raise InputError(f"edition given twice (first on line {found[0][0]})", file=f,
                             row=number, id="edition", value=value)
        found.append((number, value))
    return int(found[0][1]) if found else 1


def _read_line(c: Collected, number: int, text: str) -> None:
    """Read one comment-free line into ``c``; its problems become issues of ``c``."""
    m = _LINE.match(text)
    if not m:
        form = "'key = value' or a record 'kind: value, ...'" if c.edition == 2 \
            else "'key = value'"
        c.error(f"not a configuration line: expected {form}", number, value=text)
        return
    key, sub, sep, value = m.group(1).lower(), m.group(2), m.group(3), m.group(4)
    try:
        if sub is not None and not (sep == "=" and (
                key == "noise_model" or (key == "normalization" and c.edition == 2))):
            raise LineError("expected 'key = value' (a key is one word)", id=key,
                            value=text)
        if key == "edition":
            return
        if sep == ":":
            if c.edition != 2:
                raise LineError("'kind: value' records need 'edition = 2' in the file; "
                                "legacy lines are 'key = value'", id=key, value=text)
            c.tried.add(key)
            _read_record(c, text, number)
        elif c.edition == 2 and key in LEGACY_ONLY_KEYS:
            raise LineError(f"'{key} = ...' is edition-1 syntax; edition 2 uses "
                            f"{LEGACY_ONLY_KEYS[key]}", id=key, value=text)
        elif c.edition == 2 and key in ("objective", "job_type"):
            # PyBNF writes these 'objective = X' / 'job_type = X'; 'KEY: X' is read too
            c.tried.add(key)
            _read_scalar_record(c, key, value.strip(), number)
        elif c.edition == 2 and key in RECORDS and key != "noise_model":
            raise LineError(f"records are written '{key}: VALUE, FIELD: VALUE, ...'",
                            id=key, value=text)
        elif c.edition == 2 and key == "normalization":
            c.tried.add(key)
            c.obs_norms.append(obs_normalization(sub, value, number))
        else:
            c.tried.add(key)
            _read_key_line(c, key, sub, value, number, text)
    except LineError as err:
        c.error(err.message, number, err.id or key, err.value)


def _read_key_line(c: Collected, key: str, sub: str | None, value: str, line: int,
                   text: str) -> None:
    """A ``KEY [SUB] = VALUE`` line: a structure key of edition 1, or a setting."""
    if key == "model":
        c.models.append(legacy_model(value, c.base, line))
    elif key in VAR_KEYS:
        c.add_param(legacy_var(key, value, line, c.edition))
    elif key == "mutant":
        c.conditions.append(legacy_mutant(value, c.base, line))
    elif key == "objfunc":
        c.set_objfunc(value.strip(), line, "objfunc")
    elif key == "normalization":
        c.norms.extend(legacy_normalization(value, c.base, line))
    elif key in ("time_course", "param_scan"):
        c.actions.append(legacy_action(key, value, line))
    elif key == "noise_model":
        c.noise.append(legacy_noise(sub, value, line))
    elif key in ("job_type", "objective"):
        legacy = "fit_type" if key == "job_type" else "objfunc"
        raise LineError(f"{key} needs 'edition = 2' in the file; edition-1 files use "
                        f"{legacy}", id=key, value=text)
    elif key in RUN_KEYS or key in UNSUPPORTED_MATH_KEYS:
        spec = RUN_KEYS.get(key) or UNSUPPORTED_MATH_KEYS[key]
        c.set(key, value, line, spec)
    elif key in IGNORED_KEYS:
        # recorded as written; the builder lists it with the other settings not used
        c.set(key, value, line, KeySpec("text", IGNORED_KEYS[key]))
    elif _prior_family(key) is not None:
        raise LineError(f"prior family '{_prior_family(key)}' is not supported by "
                        "bngfit; declare the parameter with uniform_var, loguniform_var, "
                        "normal_var or lognormal_var", id=key, value=value.strip())
    else:
        c.unknown.append((key, line))


def _read_record(c: Collected, text: str, line: int) -> None:
    """An edition-2 record ``KIND: NAME, FIELD: VALUE, ...``."""
    head, head_values, fields = split_record(text)
    f = check_record(head, head_values, fields, text)
    name = head_values[0]
    if head == "model":
        c.models.extend(model_file(v, c.base, line) for v in head_values)
    elif head == "experiment":
        entry, notes = record_experiment(name, f, c.base, line)
        c.experiments.append(entry)
        for message, key, value, affects in notes:
            c.issues.append(Issue("warning", f"experiment '{name}': {message}",
                                  c.f, line, key, value, affects_result=affects))
    elif head == "condition":
        c.conditions.append(record_condition(name, f, line))
    elif head == "parameter":
        c.add_param(record_parameter(name, f, line))
    elif head == "observable":
        c.observables.append(record_observable(name, f, line))
    elif head == "noise_model":
        obs = f.pop("observable", None)
        c.noise.append(noise(name, obs and identifier(obs, "observable"), f, line))
    else:  # objective, job_type
        _read_scalar_record(c, head, name, line)


def _read_scalar_record(c: Collected, key: str, text: str, line: int) -> None:
    """``objective`` or ``job_type``, written ``KEY = VALUE`` or ``KEY: VALUE``."""
    if key == "job_type":
        c.set("job_type", text, line, RUN_KEYS["fit_type"])
        return
    token = text.split(",")[0].strip().lower()
    if token in _ANALYTICAL:
        raise LineError(f"objective '{token}' is one of PyBNF's analytical objectives "
                        "(no model, no data); bngfit fits models to data", id=key,
                        value=text)
    if token == "kl":
        raise LineError("kl compares whole columns; PyBNF's edition 2 names it "
                        "'profile_objective = kl', which bngfit does not support", id=key,
                        value=text)
    c.set_objfunc(text, line, key)


# ---------------------------------------------------------------- cross-line checks
def _finish(c: Collected) -> PybnfConfig:
    """Check the file as a whole; its configuration, or InputError naming every error."""
    check_required(c)
    check_names(c)
    check_references(c)
    check_normalization(c)
    check_sbml_actions(c)
    check_noise(c)
    check_edition2(c)
    errors = [i for i in c.issues if i.severity == "error"]
    if errors:
        raise InputError(errors[0].message, issues=errors)
    warnings = [i for i in c.issues if i.severity == "warning"] + _key_warnings(c)
    return PybnfConfig(
        path=c.f, edition=c.edition, models=tuple(c.models),
        parameters=tuple(c.params.values()),
        objfunc=None if c.objfunc is None else c.objfunc[0],
        objfunc_line=None if c.objfunc is None else c.objfunc[1],
        normalization=tuple(c.norms), conditions=tuple(c.conditions),
        experiments=tuple(c.experiments), actions=tuple(c.actions),
        noise_models=tuple(c.noise), observables=tuple(c.observables),
        obs_normalization=tuple(c.obs_norms), settings=dict(c.settings),
        warnings=tuple(warnings),
    )


def _key_warnings(c: Collected) -> list[Issue]:
    """One warning naming the unknown keys.

    Known keys with no effect are listed by the builder, in one line with every
    other setting it does not use (:func:`bngfit.pybnf.build._settings.unused_issue`).
    """
    if not c.unknown:
        return []
    names = ", ".join(f"{k} (line {n})" for k, n in c.unknown)
    # a misspelt key may well be one that changes the objective
    return [Issue("warning", f"unknown key(s), not read: {names}", c.f, c.unknown[0][1],
                  id=c.unknown[0][0], affects_result=True)]
