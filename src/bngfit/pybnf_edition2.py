"""Edition-2 PyBNF configurations as problems (experiments, conditions, noise models).

Split from :mod:`bngfit.pybnf_problem`, which dispatches here and shares its
parameter, model-binding and data helpers. The rules follow PyBNF's
docs/config_keys.rst (``experiment``, ``condition``, ``objective``,
``noise_model``) and its ADR-0028 / ADR-0052; see :func:`_edition2_problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .conditions import Condition, Mutation, MutationOp
from .errors import InputError, UnsupportedError
from .formulas import parse_formula
from .problem import (
    Measurements,
    NoiseFamily,
    Observable,
    Problem,
    Transform,
)
from .pybnf_conf import PybnfConfig
from .pybnf_entries import ConditionEntry, Objfunc, Perturbation
from .pybnf_exp import ExpTable, read_exp
from .pybnf_problem import (
    _bind_bngl,
    _neg_bin_r,
    _parameters,
    perturbation_error,
)
from .simulate import ModelInfo, read_model_info

# Objective tokens as the per-point noise models they desugar to (PyBNF
# docs/config_keys.rst, ``objective``): (family, source, argument).
_TOKEN_NOISE = {
    Objfunc.SOS: ("normal", "fix_at", 1.0),
    Objfunc.CHI_SQ: ("normal", "read_exp_file", "_SD"),
    Objfunc.NORM_SOS: ("normal", "relative", 1.0),
    Objfunc.AVE_NORM_SOS: ("normal", "column_mean", None),
    Objfunc.LOGNORMAL: ("lognormal", "read_exp_file", "_SD"),
    Objfunc.CHI_SQ_DYNAMIC: ("normal", "fit", "sigma__FREE"),
    Objfunc.LAPLACE: ("laplace", "fit", "b__FREE"),
    Objfunc.NEG_BIN: ("neg_bin", "fix_at", None),  # neg_bin_r
    Objfunc.NEG_BIN_DYNAMIC: ("neg_bin", "fit", "r__FREE"),
    Objfunc.SOD: ("laplace", "fix_at", 1.0),
}
_FAMILY = {"normal": NoiseFamily.NORMAL, "lognormal": NoiseFamily.NORMAL,
           "laplace": NoiseFamily.LAPLACE, "neg_bin": NoiseFamily.NEG_BINOMIAL}


def _edition2_problem(config: PybnfConfig) -> Problem:
    """The problem of an edition-2 configuration (experiments, conditions, noise models).

    As PyBNF documents it (docs/config_keys.rst ``experiment``/``condition``;
    ADR-0028, ADR-0052): an experiment simulates its model from t = 0 to its
    data's last time, under its ``condition`` (none: the model as it is); with
    ``preequilibrate`` the model first runs to steady state under that
    condition (unmeasured, sensitivities carried), then the measurement
    condition's settings are applied and the data grid is simulated from the
    equilibrated state (parameters set before equilibration stay set).
    """
    f = config.path
    model = config.models[0]
    params = _parameters(config)
    noise = _noise_models(config)
    noise_ids = {n.argument for n in noise.values() if n.source == "fit"}
    nominal = {p.id: p.nominal for p in params if p.id not in noise_ids}
    model_path = model.path
    if model.path.suffix.lower() == ".bngl":
        from .bngl_template import free_parameters

        text = model.path.read_text(encoding="utf-8")
        free = free_parameters(text)
        if free:  # a legacy-style template with X__FREE placeholders
            model_path = _bind_bngl(model.path, text, free, nominal)
    info = read_model_info(model_path)
    for p in params:
        if p.id not in noise_ids and p.id not in info.parameters:
            raise InputError("free parameter is not a parameter of the model", file=f,
                             row=p.row, id=p.id)
    by_name = {c.name: c for c in config.conditions}
    free_ids = {p.id for p in params}
    conditions: dict[str, Condition] = {}
    runs: list[tuple[str, str, ExpTable]] = []  # (preeq id, condition id, table)
    for e in config.experiments:
        cond = by_name.get(e.condition) if e.condition else None
        preeq = ""
        if e.preequilibrate:
            pre = by_name[e.preequilibrate]
            pre_m = _condition_mutations(pre, info, free_ids, f, e.name)
            main_m = () if cond is None else _condition_mutations(cond, info, free_ids, f,
                                                                  e.name)
            preeq = f"{e.name}__preeq"
            if preeq in {x.name for x in config.experiments}:
                raise InputError(f"experiment '{e.name}' pre-equilibrates, and bngfit names "
                                 f"that phase '{preeq}', which is another experiment's name",
                                 file=f, row=e.line, id=e.name)
            conditions[preeq] = Condition(preeq, pre_m, duration=None)
            # setParameter actions persist into the measured phase; species
            # settings do not repeat (the state carries over)
            kept = tuple(m for m in pre_m if m.target in info.parameters)
            conditions[e.name] = Condition(e.name, (*kept, *main_m))
        else:
            muts = () if cond is None else _condition_mutations(cond, info, free_ids, f)
            conditions[e.name] = Condition(e.name, muts)
        runs.extend((preeq, e.name, read_exp(p)) for p in e.data)
    observables, meas = _edition2_data(runs, noise, info, f)
    return Problem(
        model=info, parameters=tuple(params), conditions=conditions,
        observables=observables, measurements=meas, source=Path(f),
        files={"problem": f, "model": str(model.path),
               "data": ";".join(t.path for _, _, t in runs)},
    )


def _condition_mutations(c: ConditionEntry, info: ModelInfo, free_ids: set[str], f: str,
                         preequilibrated: str | None = None) -> tuple[Mutation, ...]:
    """A ``condition:`` record's perturbations as mutations, checked.

    Targets are model parameters or species (initial values, ``=`` only); a
    value is a number or a declared free parameter. In a pre-equilibrated
    experiment PyBNF applies both conditions as ``setParameter`` actions and
    accepts only ``=`` there (docs/config_keys.rst ``preequilibrate``; ADR-0052).
    """
    def refuse(p: Perturbation, why: str, cls: type[InputError] = InputError
               ) -> InputError:
        return perturbation_error(f"condition '{c.name}'", p, why, f, cls)

    out = []
    for p in c.perturbations:
        if preequilibrated is not None and p.op is not MutationOp.SET:
            raise refuse(p, f"experiment '{preequilibrated}' pre-equilibrates, and PyBNF "
                            "applies its conditions as setParameter actions, which take only "
                            f"absolute '=' perturbations, not '{p.op.value}'", UnsupportedError)
        if isinstance(p.value, str):
            if p.value not in free_ids:
                raise refuse(p, f"the value '{p.value}' is neither a number nor a declared "
                                "free parameter")
            value: float | str = p.value
        else:
            value = float(p.value)
            if not np.isfinite(value) or (p.op is MutationOp.DIV and value == 0.0):
                raise refuse(p, "the value must be a finite number, and not 0 after '/'")
        if p.target in info.species:
            if p.op is not MutationOp.SET:
                raise refuse(p, f"'{p.op.value}' on the species '{p.target}' is not "
                                "supported yet; only '=' (its initial concentration)",
                             UnsupportedError)
        elif p.target not in info.parameters:
            raise refuse(p, f"'{p.target}' is no parameter or species of the model")
        out.append(Mutation(p.target, p.op, value))
    return tuple(out)


@dataclass(frozen=True)
class _Noise:
    """One noise model: family, where its parameter comes from, and its line."""

    family: str
    source: str
    argument: str | float | None
    line: int | None
    what: str  # "objective X" or "noise_model", for messages


def _noise_models(config: PybnfConfig) -> dict[str | None, _Noise]:
    """The whole-fit noise model (key None) and per-observable overrides.

    Edition 2 names exactly one whole-fit objective: an ``objective`` token
    (desugared to its noise model, as PyBNF does) or a ``noise_model`` without
    observable (docs/config_keys.rst, ``objective``, ``noise_model``, ``edition``).
    """
    f = config.path
    whole = [n for n in config.noise_models if n.observable is None]
    if config.objfunc is not None and whole:
        raise InputError("name one whole-fit objective: an objective or a noise_model "
                         f"without observable, not both (objective on line "
                         f"{config.objfunc_line})", file=f, row=whole[0].line,
                         id="noise_model")
    if config.objfunc is None and not whole:
        raise InputError("no objective: edition 2 has no default; add 'objective: chi_sq' "
                         "(or another token) or a whole-fit noise_model", file=f,
                         id="objective")
    location = config.setting("noise_location", "median")
    out: dict[str | None, _Noise] = {}
    if config.objfunc is not None:
        family, source, arg = _TOKEN_NOISE[config.objfunc]
        if config.objfunc is Objfunc.NEG_BIN:
            arg = _neg_bin_r(config)
        if source == "fit" and arg not in {p.name for p in config.parameters}:
            raise InputError(f"objective {config.objfunc.value} estimates the noise "
                             f"parameter: declare {arg} (e.g. 'parameter: {arg}, scale: "
                             "log10, lower: 0.01, upper: 100')", file=f,
                             row=config.objfunc_line, id=str(arg))
        out[None] = _Noise(family, source, arg, config.objfunc_line,
                           f"objective {config.objfunc.value}")
        _check_location(out[None], location, f)
    for n in config.noise_models:
        if n.source not in ("fit", "fix_at", "read_exp_file", "relative", "column_mean") \
                or (n.source == "read_exp_file" and n.argument != "_SD") \
                or (n.family == "neg_bin" and n.source not in ("fit", "fix_at")):
            raise UnsupportedError(f"a {n.family} noise model with {n.parameter} = "
                                   f"{n.source} {n.argument or ''}".rstrip() + " is not "
                                   "supported yet (read_exp_file reads only _SD columns; "
                                   "neg_bin takes fit or fix_at)", file=f, row=n.line,
                                   id=n.observable or "noise_model", value=n.source)
        arg = 1.0 if n.source == "relative" and n.argument is None else n.argument
        out[n.observable] = _Noise(n.family, n.source, arg, n.line, "noise_model")
        _check_location(out[n.observable], n.location or location, f)
    return out


def _check_location(n: _Noise, location: str, f: str) -> None:
    """The prediction as the noise's median (lognormal) or mean (neg_bin) only."""
    if n.family == "lognormal" and location == "mean":
        raise UnsupportedError("a lognormal noise model with the prediction as its mean is "
                               "not supported yet (bngfit takes it as the median)", file=f,
                               row=n.line, id=n.what, value="mean")
    if n.family == "neg_bin" and location != "mean":
        raise UnsupportedError("PyBNF's edition 2 takes a neg_bin prediction as the median "
                               "unless told otherwise; bngfit computes the mean: set "
                               "'noise_location = mean' (or location: mean on the "
                               "noise_model)", file=f, row=n.line, id=n.what, value=location)


def _edition2_data(runs: list[tuple[str, str, ExpTable]], noise: dict[str | None, _Noise],
                   info: ModelInfo, f: str) -> tuple[dict[str, Observable], Measurements]:
    """Observables (one per data column) and measurements of edition-2 experiments."""
    observables: dict[str, Observable] = {}
    cols: dict[str, list] = {k: [] for k in ("obs", "pre", "cond", "t", "m", "np", "rows")}
    for preeq, cid, t in runs:
        for col in t.columns:
            n = noise.get(col, noise.get(None))
            if n is None:
                continue  # an override for another observable only; cannot happen
            if col not in observables:
                observables[col] = _edition2_observable(t, col, n, info)
            sigma = _edition2_sigma(t, col, n)
            for i in np.nonzero(~np.isnan(t.values[col]))[0]:
                cols["obs"].append(col)
                cols["pre"].append(preeq)
                cols["cond"].append(cid)
                cols["t"].append(float(t.time[i]))
                cols["m"].append(float(t.values[col][i]))
                cols["np"].append(() if sigma is None else (float(sigma[i]),))
                cols["rows"].append(int(t.lines[i]))
    unused = [o for o in noise if o is not None and o not in observables]
    if unused:
        raise InputError(f"noise_model names '{unused[0]}', which is no data column of any "
                         "experiment", file=f, row=noise[unused[0]].line, id=unused[0])
    n_pts = len(cols["t"])
    if n_pts == 0:
        raise InputError("the data files hold no data point", file=f)
    meas = Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                        np.array(cols["t"]), np.array(cols["m"]), ((),) * n_pts,
                        tuple(cols["np"]), tuple(cols["rows"]))
    return observables, meas


def _edition2_observable(t: ExpTable, col: str, n: _Noise, info: ModelInfo) -> Observable:
    if info.selector(col) is None:
        raise InputError(f"data column '{col}' is no observable, function or species of the "
                         "model", file=t.path, row=t.header_line, id=col)
    shape: float | str | None = None
    noise = f"noiseParameter1_{col}"
    if n.source == "fit":
        noise = str(n.argument)
    if n.family == "neg_bin":
        shape = n.argument if n.source == "fit" else float(n.argument)
        noise = "1"  # the negative binomial has no separate scale
    transform = Transform.LOG10 if n.family == "lognormal" else Transform.LIN
    return Observable(col, parse_formula(col, file=t.path, row=t.header_line, id=col),
                      parse_formula(noise), transform, _FAMILY[n.family], t.header_line,
                      shape)


def _edition2_sigma(t: ExpTable, col: str, n: _Noise) -> np.ndarray | None:
    """Per-point noise scale of a column, or None where the observable carries it."""
    values = t.values[col]
    if n.family == "lognormal":
        bad = np.nonzero(values <= 0.0)[0]
        if bad.size:
            raise InputError("a lognormal noise model needs positive data (it compares "
                             "log10 values)", file=t.path, row=int(t.lines[bad[0]]), id=col,
                             value=f"{values[bad[0]]:g}")
    if n.source == "fit" or n.family == "neg_bin":
        return None
    if n.source == "fix_at":
        return np.full_like(values, float(n.argument))
    if n.source == "read_exp_file":
        if col not in t.sd:
            raise InputError(f"the {n.what} reads the standard deviations of '{col}' from "
                             f"a column '{col}_SD', which the file lacks", file=t.path,
                             row=t.header_line, id=col)
        return t.sd[col]
    if n.source == "relative":
        zero = np.nonzero(values == 0.0)[0]
        if zero.size:
            raise InputError(f"the {n.what} scales sigma with the data value, which is 0 "
                             "here", file=t.path, row=int(t.lines[zero[0]]), id=col,
                             value="0")
        return float(n.argument) * np.abs(values)
    mean = float(np.nanmean(values))  # column_mean
    if mean == 0.0:
        raise InputError(f"the {n.what} takes sigma as the column mean, which is 0",
                         file=t.path, row=t.header_line, id=col)
    return np.full_like(values, abs(mean))
