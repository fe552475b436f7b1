"""Edition-2 PyBNF configurations as problems (experiments, conditions, noise models).

Split from :mod:`bngfit.pybnf.build._problem`, which dispatches here and shares its
model-binding helpers. The rules follow PyBNF's documentation
(docs/config_keys.rst, docs/noise_models.rst, docs/priors.rst) and its ADRs
0028 (experiments), 0036 (observable formulas), 0043 (parameter records), 0051
(cumulative), 0052 (pre-equilibration), 0053 (normalization) and 0058
(Student-t); see :func:`_edition2_problem`. Noise models are in
:mod:`bngfit.pybnf.build._noise2`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._formulas import parse_formula
from bngfit.problem._problem import (
    Measurements,
    Normalization,
    NormKind,
    Observable,
    ParameterSpec,
    Problem,
    TrajectoryPenalty,
)
from bngfit.pybnf.conf._conf import PybnfConfig
from bngfit.pybnf.conf._entries import (
    ConditionEntry,
    ExperimentEntry,
    ModelEntry,
    ParamKind,
    Perturbation,
)
from bngfit.pybnf._exp import ExpTable, read_exp
from ._models import bind_bngl
from ._noise2 import Noise, noise_models, noise_symbols, observable_noise, point_sigma
from ._problem import (
    START_KINDS,
    check_constraint_names,
    perturbation_error,
    start_value_spec,
)
from bngfit.problem._scales import Scale
from bngfit.simulate._engine import ModelInfo, read_model_info


def _edition2_problem(config: PybnfConfig) -> Problem:
    """The problem of an edition-2 configuration (experiments, conditions, noise models).

    As PyBNF documents it: an experiment simulates its model from t = 0 to its
    data's last time (several ``.exp`` files are replicates), under its
    ``condition`` (none: the model as it is); with ``preequilibrate`` the model
    first runs to steady state (or for ``equil_t_end``) under that condition,
    unmeasured, sensitivities carried; then the measurement condition is
    applied (parameters set before stay set) and the data grid is simulated
    from the equilibrated state. Each data column is an observable: the model
    output of its name, or the formula of an ``observable:`` record. The
    simulated output grid is t = 0 and the data's times (or ``t_end`` /
    ``n_steps`` for constraints alone); normalizations, cumulative observables
    and ``.prop`` constraints are taken over that grid.

    With several models (``model: a.bngl, b.xml``) each experiment names its
    model (``model: a``) and runs on it; a ``condition:`` record that names a
    model is used by experiments of that model only. Free parameters are
    shared by name: each is set in the models that have a parameter (or a
    BNGL template's ``X__FREE`` placeholder) of its id; one that no model, noise
    model or observable formula uses is an error on its line. Observables are
    shared by column name, each read in the model of each experiment.
    """
    f = config.path
    params = _parameters(config)
    noise = noise_models(config)
    formulas = {o.name: o for o in config.observables if o.formula is not None}
    # parameters the noise and observable layers may use without the model having them
    layer_symbols = noise_symbols(noise) | {
        s for o in formulas.values()
        for s in parse_formula(o.formula, file=f, row=o.line, id=o.name).symbols}
    infos = {m.name: _model_info(m, params) for m in config.models}
    free_ids = {p.id for p in params}
    for p in params:
        if p.id not in layer_symbols and not any(p.id in i.parameters
                                                 for i in infos.values()):
            what = "the model" if len(infos) == 1 else "any model"
            raise InputError(f"free parameter is not a parameter of {what} (nor used by a "
                             "noise model or observable formula)", file=f, row=p.row,
                             id=p.id)
    conditions, runs, grids = _experiments(config, infos, free_ids)
    observables, meas = _data(runs, noise, infos, config, free_ids)
    norms = _normalizations(config, [r[:3] for r in runs], noise, grids, observables)
    penalties = _constraints(config, grids, infos)
    return Problem(
        model=next(iter(infos.values())), parameters=tuple(params), conditions=conditions,
        observables=observables, measurements=meas, source=Path(f),
        files={"problem": f, "model": ";".join(str(m.path) for m in config.models),
               "data": ";".join([*(t.path for _, _, t, _ in runs),
                                 *(str(p) for e in config.experiments
                                   for p in e.constraints)])},
        normalizations=norms, penalties=penalties, models=infos,
        warnings=tuple(w for _, _, t, _ in runs for w in t.warnings),
    )


# ------------------------------------------------------------------ parameters
def _parameters(config: PybnfConfig) -> list[ParameterSpec]:
    """Free parameters of edition 2: bounds, nominal values, start distributions.

    A uniform box gives the bounds; the nominal value is ``initial_value`` or
    the box's middle on the parameter's scale. A normal prior (``mean``/``sd``
    in the scale's units) is where starts are drawn from, truncated to
    ``lower``/``upper`` where given; PyBNF's edition 2 does not truncate it
    otherwise (docs/priors.rst), and its optimizers do not add it to the
    objective, so neither does bngfit.
    """
    from bngfit.problem._priors import InitPrior
    from bngfit.problem._scales import unscale

    out = []
    for p in config.parameters:
        if p.kind in START_KINDS:
            out.append(start_value_spec(p))
            continue
        code = np.array([{Scale.LIN: 0, Scale.LOG: 1, Scale.LOG10: 2}[p.scale]])
        log = p.scale is not Scale.LIN
        if p.kind in (ParamKind.NORMAL, ParamKind.LOGNORMAL):
            lb = (0.0 if log else -np.inf) if p.lower is None else float(p.lower)
            ub = np.inf if p.upper is None else float(p.upper)
            nominal = p.initial if p.initial is not None else float(
                unscale(np.array([p.mean]), code)[0])
            nominal = float(min(max(nominal, lb), ub))
            if log and nominal <= 0:
                nominal = float(unscale(np.array([p.mean]), code)[0])
            out.append(ParameterSpec(p.name, p.scale, lb, ub, nominal, True, p.line,
                                     (InitPrior.PS_NORMAL, float(p.mean), float(p.sd))))
            continue
        lb, ub = float(p.lower), float(p.upper)
        if p.initial is not None:
            nominal = float(p.initial)
        elif log:
            nominal = float(np.sqrt(lb * ub))
        else:
            nominal = 0.5 * (lb + ub)
        out.append(ParameterSpec(p.name, p.scale, lb, ub, nominal, True, p.line))
    return out


def _model_info(model: ModelEntry, params: list[ParameterSpec]) -> ModelInfo:
    """A model, a BNGL template's ``X__FREE`` placeholders bound first (those it
    uses; the other declared parameters may be other models')."""
    path = model.path
    if path.suffix.lower() == ".bngl":
        from bngfit.pybnf.bngl._template import free_parameters

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read the model: {err}", file=str(path)) from None
        free = free_parameters(text)
        if free:  # a legacy-style template with X__FREE placeholders
            path = bind_bngl(model.path, text, free, {p.id: p.nominal for p in params})
    return read_model_info(path)


# ------------------------------------------------------------------ experiments
def _experiments(config: PybnfConfig, infos: dict[str, ModelInfo], free_ids: set[str]):
    """Conditions, (preeq id, condition id, table, model) runs and each experiment's
    grid."""
    f = config.path
    by_name = {c.name: c for c in config.conditions}
    conditions: dict[str, Condition] = {}
    runs: list[tuple[str, str, ExpTable, str]] = []
    grids: dict[str, tuple[str, tuple[float, ...]]] = {}  # name -> (preeq id, times)
    renames = {o.column: o.name for o in config.observables if o.column is not None}
    names = {e.name for e in config.experiments}
    for e in config.experiments:
        model = e.model or next(iter(infos))  # the reader requires it with several
        info = infos[model]
        cond = by_name.get(e.condition) if e.condition else None
        for c in (cond, by_name.get(e.preequilibrate) if e.preequilibrate else None):
            if c is not None and c.model not in (None, model):
                raise InputError(f"experiment '{e.name}' runs on model '{model}', and its "
                                 f"condition '{c.name}' is for model '{c.model}'", file=f,
                                 row=e.line, id=e.name, value=c.name)
        preeq = ""
        if e.preequilibrate:
            pre = by_name[e.preequilibrate]
            pre_m = _condition_mutations(pre, info, free_ids, f, e.name)
            main_m = () if cond is None else _condition_mutations(cond, info, free_ids, f,
                                                                  e.name)
            preeq = f"{e.name}__preeq"
            if preeq in names:
                raise InputError(f"experiment '{e.name}' pre-equilibrates, and bngfit names "
                                 f"that phase '{preeq}', which is another experiment's name",
                                 file=f, row=e.line, id=e.name)
            conditions[preeq] = Condition(preeq, pre_m, duration=e.equil_t_end, model=model)
            # setParameter actions persist into the measured phase; species
            # settings do not repeat (the state carries over)
            kept = tuple(m for m in pre_m if m.target in info.parameters)
            conditions[e.name] = Condition(e.name, (*kept, *main_m), model=model)
        else:
            muts = () if cond is None else _condition_mutations(cond, info, free_ids, f)
            conditions[e.name] = Condition(e.name, muts, model=model)
        tables = [_renamed(read_exp(p), renames) for p in e.data]
        runs.extend((preeq, e.name, t, model) for t in tables)
        grids[e.name] = (preeq, _grid(e, tables))
    return conditions, runs, grids


def _grid(e: ExperimentEntry, tables: list[ExpTable]) -> tuple[float, ...]:
    """The simulated output times: 0 and the data's, or ``n_steps`` steps to ``t_end``.

    PyBNF simulates an experiment with data at the data's times with a t = 0
    baseline (ADR-0028), and one with constraints only on a uniform grid from
    0 to ``t_end`` in ``n_steps`` steps (steps of 1 by default).
    """
    if tables:
        return tuple(np.unique(np.concatenate([[0.0], *(t.time for t in tables)])).tolist())
    n = e.n_steps or max(1, int(round(e.t_end)))
    return tuple(np.linspace(0.0, e.t_end, n + 1).tolist())


def _renamed(t: ExpTable, renames: dict[str, str]) -> ExpTable:
    """A table with ``observable: NAME, column: HEADER`` columns read as NAME."""
    if not any(c in renames for c in t.columns):
        return t
    name = {c: renames.get(c, c) for c in t.columns}
    header = tuple(name[h] if h in name else
                   name[h[:-3]] + "_SD" if h.endswith("_SD") and h[:-3] in name else h
                   for h in t.header)
    return dataclasses.replace(
        t, columns=tuple(name[c] for c in t.columns),
        values={name[c]: v for c, v in t.values.items()},
        sd={name[c]: v for c, v in t.sd.items()}, header=header)


def _condition_mutations(c: ConditionEntry, info: ModelInfo, free_ids: set[str], f: str,
                         preequilibrated: str | None = None) -> tuple[Mutation, ...]:
    """A ``condition:`` record's perturbations as mutations, checked.

    Targets are model parameters or species (initial values, ``=`` only; a
    quoted pattern must name one species of the network exactly); a value is a
    number or a declared free parameter. In a pre-equilibrated experiment PyBNF
    applies both conditions as ``setParameter`` actions and accepts only ``=``
    there (docs/config_keys.rst ``preequilibrate``; ADR-0052).
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
        elif p.species:
            raise refuse(p, f"\"{p.target}\" is no species of the model's network by that "
                            f"exact name (species: {', '.join(info.species[:8])}"
                            f"{', ...' if len(info.species) > 8 else ''})")
        elif p.target not in info.parameters:
            raise refuse(p, f"'{p.target}' is no parameter or species of the model")
        out.append(Mutation(p.target, p.op, value))
    return tuple(out)


# ------------------------------------------------------------------ data
def _data(runs: list[tuple[str, str, ExpTable, str]], noise: dict[str | None, Noise],
          infos: dict[str, ModelInfo], config: PybnfConfig, free_ids: set[str]
          ) -> tuple[dict[str, Observable], Measurements]:
    """Observables (one per data column, checked in each model it has data of) and
    measurements of edition-2 experiments."""
    f = config.path
    formulas = {o.name: o for o in config.observables if o.formula is not None}
    observables: dict[str, Observable] = {}
    checked: set[tuple[str, str]] = set()  # (column, model)
    cols: dict[str, list] = {k: [] for k in ("obs", "pre", "cond", "t", "m", "np", "rows")}
    for preeq, cid, t, model in runs:
        for col in t.columns:
            n = noise.get(col, noise.get(None))
            if (col, model) not in checked:
                checked.add((col, model))
                obs = _observable(t, col, n, infos[model], formulas.get(col), f, free_ids)
                observables.setdefault(col, obs)
            sigma = point_sigma(t, col, n)
            for i in np.nonzero(~np.isnan(t.values[col]))[0]:
                cols["obs"].append(col)
                cols["pre"].append(preeq)
                cols["cond"].append(cid)
                cols["t"].append(float(t.time[i]))
                cols["m"].append(float(t.values[col][i]))
                cols["np"].append(() if sigma is None else (float(sigma[i]),))
                cols["rows"].append(int(t.lines[i]))
    _check_symbol_kinds(observables, checked, infos, formulas, noise, f)
    unused = [o for o in noise if o is not None and o not in observables]
    if unused:
        raise InputError(f"noise_model names '{unused[0]}', which is no data column of any "
                         "experiment", file=f, row=noise[unused[0]].line, id=unused[0])
    for o in config.observables:
        if o.name not in observables:
            what = f"column '{o.column}'" if o.column else f"'{o.name}'"
            raise InputError(f"observable record: no experiment's data has a {what} column",
                             file=f, row=o.line, id=o.name)
    n_pts = len(cols["t"])
    if n_pts == 0:
        raise UnsupportedError("the experiments hold no .exp data point; bngfit fits data, "
                               "with .prop constraints as added terms (constraints alone are "
                               "not supported yet)", file=f, id="data")
    meas = Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                        np.array(cols["t"]), np.array(cols["m"]), ((),) * n_pts,
                        tuple(cols["np"]), tuple(cols["rows"]))
    return observables, meas


def _check_symbol_kinds(observables: dict[str, Observable], used: set[tuple[str, str]],
                        infos: dict[str, ModelInfo], formulas: dict, noise, f: str) -> None:
    """A formula symbol is a model output in every model an observable is read in,
    or in none (one observable's formula is compiled once, across models)."""
    for col, obs in observables.items():
        models = [m for c, m in used if c == col]
        for sym in (*obs.formula.symbols, *obs.noise.symbols):
            kinds = {infos[m].selector(sym) is not None for m in models}
            if len(kinds) > 1:
                out = [m for m in models if infos[m].selector(sym) is not None]
                record = formulas.get(col)
                n = noise.get(col, noise.get(None))
                line = record.line if sym in obs.formula.symbols and record else \
                    getattr(n, "line", None)
                raise UnsupportedError(
                    f"'{sym}' in the formula of '{col}' is a model output of "
                    f"{', '.join(out)} and not of {', '.join(sorted(set(models) - set(out)))}; "
                    "bngfit reads one observable the same way in every model", file=f,
                    row=line, id=col, value=sym)


def _observable(t: ExpTable, col: str, n: Noise, info: ModelInfo, record, f: str,
                free_ids: set[str]) -> Observable:
    """The observable of data column ``col``: its model output, or a record's formula."""
    if record is not None:
        formula = parse_formula(record.formula, file=f, row=record.line, id=col)
        for sym in formula.symbols:
            if info.selector(sym) is None and sym not in info.parameters \
                    and sym not in free_ids:
                raise InputError(f"observable formula of '{col}': '{sym}' is no output or "
                                 "parameter of the model, nor a free parameter", file=f,
                                 row=record.line, id=col, value=sym)
        row = record.line
    else:
        if info.selector(col) is None:
            raise InputError(f"data column '{col}' is no observable, function or species of "
                             "the model (an 'observable: NAME, formula: EXPR' record can "
                             "define it)", file=t.path, row=t.header_line, id=col)
        formula = parse_formula(col, file=t.path, row=t.header_line, id=col)
        row = t.header_line
    obs = observable_noise(col, formula, n, row, f)
    for sym in obs.noise.symbols:
        if sym != f"noiseParameter1_{col}" and info.selector(sym) is None \
                and sym not in info.parameters and sym not in free_ids:
            raise InputError(f"noise model of '{col}': '{sym}' is no output or parameter of "
                             "the model, nor a free parameter", file=f, row=n.line, id=col,
                             value=sym)
    return obs


# ------------------------------------------------------------------ transforms
def _normalizations(config: PybnfConfig, runs, noise: dict[str | None, Noise], grids,
                    observables: dict[str, Observable]) -> tuple[Normalization, ...]:
    """Normalizations (ADR-0053, most specific rule wins) and cumulative observables.

    Each is taken over its experiment's output grid (see :func:`_grid`).
    """
    f = config.path
    columns: dict[str, list[str]] = {}
    for _, cid, t in runs:
        columns.setdefault(cid, [])
        columns[cid] += [c for c in t.columns if c not in columns[cid]]
    rules = {(n.experiment, n.observable): n for n in config.obs_normalization}
    all_columns = {c for cs in columns.values() for c in cs}
    for n in config.obs_normalization:
        if n.observable is None:
            continue
        cols = all_columns if n.experiment is None else columns.get(n.experiment, [])
        if n.observable not in cols:
            where = "any experiment" if n.experiment is None else \
                f"experiment '{n.experiment}'"
            raise InputError(f"normalization names '{n.observable}', which is no data column "
                             f"of {where}", file=f, row=n.line, id=n.observable,
                             value=n.type.value)
    formula_lines = {o.name: o.line for o in config.observables if o.formula is not None}
    out = []
    for cid, cols in columns.items():
        preeq, times = grids[cid]
        for col in cols:
            rule = rules.get((cid, col)) or rules.get((None, col)) or rules.get((None, None))
            n = noise.get(col, noise.get(None))
            if rule is not None and n.cumulative:
                raise UnsupportedError(f"'{col}' is both normalized and cumulative; bngfit "
                                       "does not combine the two yet", file=f, row=rule.line,
                                       id=col)
            if (rule is not None or n.cumulative) and col in formula_lines:
                raise UnsupportedError(f"'{col}' is an observable formula; bngfit normalizes "
                                       "and differences only model outputs", file=f,
                                       row=rule.line if rule else n.line, id=col)
            kind = NormKind.INCIDENT if n.cumulative else (
                None if rule is None else NormKind(rule.type.value))
            if kind is not None:
                out.append(Normalization(kind, col, preeq, cid, times))
    return tuple(out)


def _constraints(config: PybnfConfig, grids, infos: dict[str, ModelInfo]
                 ) -> tuple[TrajectoryPenalty, ...]:
    """The ``.prop`` constraints of each experiment, read on its own simulation.

    As PyBNF binds them (ADR-0028 addendum): a bare name is the experiment's own
    output, on its output grid; PyBNF's ``other.Name`` reference to another
    simulation is refused (a penalty reads one simulation here).
    """
    from functools import partial

    from bngfit.likelihood._penalties import penalty
    from bngfit.pybnf.bpsl._prop import read_prop

    out = []
    for e in config.experiments:
        preeq, times = grids[e.name]
        for p in e.constraints:
            for c in read_prop(p):
                names = tuple(n for n in c.names if n != "time")
                dotted = [n for n in names if "." in n]
                if dotted:
                    raise UnsupportedError(f"'{dotted[0]}' reads another simulation; bngfit "
                                           "reads a constraint on its own experiment's "
                                           "simulation only", file=str(p), row=c.line,
                                           id=dotted[0])
                check_constraint_names(p, c, infos[e.model or next(iter(infos))])
                out.append(TrajectoryPenalty(names, preeq, e.name, times,
                                             partial(_penalty, penalty, c), f"{p}:{c.line}"))
    return tuple(out)


def _penalty(penalty, constraint, t, series):
    return penalty(constraint, t, series)
