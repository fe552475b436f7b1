"""Edition-2 PyBNF configurations as problems (experiments, conditions, noise models).

:mod:`bngfit.pybnf.build._problem` dispatches here; parameters, perturbations, data,
noise scales and constraints are built by the core both editions share (see
there). The rules follow PyBNF's documentation
(docs/config_keys.rst, docs/noise_models.rst, docs/priors.rst) and the rules of
its design records stated in bngfit's ``docs/pybnf-rules.md``; see
:func:`edition2_problem`. Noise model lines are read by
:mod:`bngfit.pybnf.build._noise2`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._conditions import Condition, Mutation
from bngfit.problem._formulas import parse_formula, placeholder
from bngfit.problem._model_info import ModelAccess, ModelInfo
from bngfit.problem._problem import (
    Measurements,
    Normalization,
    NormKind,
    Observable,
    Problem,
    TrajectoryPenalty,
)
from bngfit.pybnf._exp import ExpTable, read_exp
from bngfit.pybnf.conf._entries import ConditionEntry, ExperimentEntry, ObservableEntry, PybnfConfig

from ._data import DataRun, column_observable, data_warnings, measurements
from ._initials import initial_mutations, initial_species, not_a_parameter
from ._models import template_info
from ._noise import Noise, noise_for, observable_noise
from ._noise2 import noise_models, noise_symbols
from ._params import START_KINDS, parameter_specs  # noqa: F401 - a 0.1.0 name here
from ._penalties import constraint_penalties
from ._perturb import perturbation_mutations
from ._request import bootstrap_request
from ._scans import data_plots, experiment_scan
from ._settings import fit_request


def edition2_problem(config: PybnfConfig, models: ModelAccess) -> Problem:
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
    BNGL template's ``X__FREE`` placeholder) of its id, or sets the initial
    value of an SBML/Antimony model's species of its id in the first phase of
    each experiment on that model, before the condition's perturbations
    (:mod:`bngfit.pybnf.build._initials`); one that no model, noise model or
    observable formula uses is an error on its line. Observables are
    shared by column name, each read in the model of each experiment.
    """
    f = config.path
    params = parameter_specs(config)
    noise = noise_models(config)
    formulas = {o.name: o for o in config.observables if o.formula is not None}
    # parameters the noise and observable layers may use without the model having them
    layer_symbols = noise_symbols(noise) | {
        s for o in formulas.values()
        for s in parse_formula(o.formula, file=f, row=o.line, id=o.name).symbols}
    nominal = {p.id: p.nominal for p in params}
    infos = {m.name: template_info(m, nominal, models) for m in config.models}
    initials = {m.name: () if m.path.suffix.lower() == ".bngl"
                else initial_species(params, infos[m.name], m.path, f) for m in config.models}
    free_ids = {p.id for p in params}
    for p in params:
        if p.id not in layer_symbols and not any(
                p.id in i.parameters or p.id in initials[m] for m, i in infos.items()):
            what = "the model" if len(infos) == 1 else "any model"
            hint = ""
            if len(infos) == 1 and config.models[0].path.suffix.lower() != ".bngl":
                hint = ": " + not_a_parameter(p.id, infos[config.models[0].name],
                                              config.models[0].path)
            raise InputError(f"free parameter is not a parameter of {what} (nor used by a "
                             f"noise model or observable formula){hint}", file=f, row=p.row,
                             id=p.id)
    conditions, runs, grids, scans = _experiments(config, infos, free_ids, initials)
    observables, meas = _data(runs, noise, infos, config, free_ids, scans)
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
        warnings=data_warnings([t for _, _, t, _ in runs]),
        visualization=data_plots([(cid, t, scans.get((cid, t.path), ((), 0.0, ""))[2])
                                  for _, cid, t, _ in runs]),
        request=dataclasses.replace(  # the job's run settings, then its bootstrap
            fit_request(config), **bootstrap_request(config, meas, bool(penalties))),
    )


#: (experiment, table path) -> (each row's (pre-phase, condition), measured time,
#: scanned name)
ScanRows = dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], float, str]]


# ------------------------------------------------------------------ experiments
def _experiments(config: PybnfConfig, infos: dict[str, ModelInfo], free_ids: set[str],
                 initials: dict[str, tuple[str, ...]]
                 ) -> tuple[dict[str, Condition], list[tuple[str, str, ExpTable, str]],
                            dict[str, tuple[str, tuple[float, ...]]], ScanRows]:
    """The experiments' conditions, data runs and output grids.

    ``initials`` holds each model's species whose initial value a free
    parameter sets: the first phase of each experiment sets them first.

    Returns
    -------
    conditions : dict of str to Condition
    runs : list of (preeq id, condition id, table, model name)
    grids : dict of experiment name to (preeq id, output times); a parameter
        scan has no output grid (empty).
    scans : dict
        (experiment, table path) -> (each row's (pre-phase, condition), the
        measured time) for the tables of parameter-scan experiments.
    """
    f = config.path
    by_name = {c.name: c for c in config.conditions}
    conditions: dict[str, Condition] = {}
    runs: list[tuple[str, str, ExpTable, str]] = []
    grids: dict[str, tuple[str, tuple[float, ...]]] = {}  # name -> (preeq id, times)
    renames = {o.column: o.name for o in config.observables if o.column is not None}
    names = {e.name for e in config.experiments}
    scans: ScanRows = {}
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
        ic = initials[model]
        first = initial_mutations(ic, info)
        if e.preequilibrate:
            pre = by_name[e.preequilibrate]
            pre_m = (*first, *_mutations(pre, info, free_ids, f, ic, e.name))
            main_m = () if cond is None else _mutations(cond, info, free_ids, f, ic, e.name)
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
            muts = () if cond is None else _mutations(cond, info, free_ids, f, ic)
            conditions[e.name] = Condition(e.name, (*first, *muts), model=model)
        tables = [_renamed(read_exp(p), renames) for p in e.data]
        if e.type == "parameter_scan":
            measured = conditions.pop(e.name)
            scan_conds, rows, target = experiment_scan(e.name, tables, measured.mutations,
                                                       info, model, preeq, f, e.line)
            conditions.update(scan_conds)
            for t, r in zip(tables, rows, strict=True):
                scans[(e.name, t.path)] = (r, float(e.t_end), target)
            grids[e.name] = (preeq, ())
        else:
            for t in tables:
                if t.is_scan:
                    raise InputError(f"the first column is '{t.x_name}', but experiment "
                                     f"'{e.name}' is a time course: its data start with a "
                                     "time column (or give it 'type: parameter_scan')",
                                     file=t.path, row=t.header_line, id=t.x_name)
            grids[e.name] = (preeq, _grid(e, tables))
        runs.extend((preeq, e.name, t, model) for t in tables)
    return conditions, runs, grids, scans


def _grid(e: ExperimentEntry, tables: list[ExpTable]) -> tuple[float, ...]:
    """The simulated output times: 0 and the data's, or ``n_steps`` steps to ``t_end``.

    PyBNF simulates an experiment with data at the data's times with a t = 0
    baseline, and one with constraints only on a uniform grid from
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


def _mutations(c: ConditionEntry, info: ModelInfo, free_ids: set[str], f: str,
               initial: tuple[str, ...], preequilibrated: str | None = None
               ) -> tuple[Mutation, ...]:
    """A ``condition:`` record's perturbations as mutations, checked.

    Targets are model parameters or species; a value is a number or a declared
    free parameter. In a pre-equilibrated experiment PyBNF applies both
    conditions as ``setParameter`` actions and accepts only ``=`` there
    (docs/config_keys.rst ``preequilibrate``; docs/pybnf-rules.md).
    """
    return perturbation_mutations(f"condition '{c.name}'", c.perturbations, info, f,
                                  names=free_ids, set_only=preequilibrated, initial=initial)


# ------------------------------------------------------------------ data
def _data(runs: list[tuple[str, str, ExpTable, str]], noise: dict[str | None, Noise],
          infos: dict[str, ModelInfo], config: PybnfConfig, free_ids: set[str],
          scans: ScanRows) -> tuple[dict[str, Observable], Measurements]:
    """Observables and measurements of edition-2 experiments.

    One observable per data column, checked in each model it has data of.
    """
    f = config.path
    formulas = {o.name: o for o in config.observables if o.formula is not None}
    observables: dict[str, Observable] = {}
    checked: set[tuple[str, str]] = set()  # (column, model)
    for _, _, t, model in runs:
        for col in t.columns:
            if (col, model) not in checked:
                checked.add((col, model))
                obs = _observable(t, col, noise_for(noise, col), infos[model],
                                  formulas.get(col), f, free_ids)
                observables.setdefault(col, obs)
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
    data = []
    for preeq, cid, t, _ in runs:
        rows, time, _ = scans.get((cid, t.path), (None, float("nan"), ""))
        data.append(DataRun(t, cid, preeq, rows=rows, scan_time=time))
    return observables, measurements(data, noise, f)


def _check_symbol_kinds(observables: dict[str, Observable], used: set[tuple[str, str]],
                        infos: dict[str, ModelInfo], formulas: dict[str, ObservableEntry],
                        noise: dict[str | None, Noise], f: str) -> None:
    """Refuse a formula symbol that is a model output in some models and not others.

    One observable's formula is compiled once, across models, so a symbol is an
    output in every model the observable is read in, or in none.
    """
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


def _observable(t: ExpTable, col: str, n: Noise, info: ModelInfo,
                record: ObservableEntry | None, f: str, free_ids: set[str]) -> Observable:
    """The observable of data column ``col``: its model output, or a record's formula."""
    if record is None:
        obs = column_observable(t, col, n, info, f, " (an 'observable: NAME, formula: EXPR' "
                                "record can define it)")
    else:
        formula = parse_formula(record.formula, file=f, row=record.line, id=col)
        for sym in formula.symbols:
            if info.selector(sym) is None and sym not in info.parameters \
                    and sym not in free_ids:
                raise InputError(f"observable formula of '{col}': '{sym}' is no output or "
                                 "parameter of the model, nor a free parameter", file=f,
                                 row=record.line, id=col, value=sym)
        obs = observable_noise(col, formula, n, record.line, f)
    for sym in obs.noise.symbols:
        if sym != placeholder("noise", 1, col) and info.selector(sym) is None \
                and sym not in info.parameters and sym not in free_ids:
            raise InputError(f"noise model of '{col}': '{sym}' is no output or parameter of "
                             "the model, nor a free parameter", file=f, row=n.line, id=col,
                             value=sym)
    return obs


# ------------------------------------------------------------------ transforms
def _normalizations(config: PybnfConfig, runs: list[tuple[str, str, ExpTable]],
                    noise: dict[str | None, Noise],
                    grids: dict[str, tuple[str, tuple[float, ...]]],
                    observables: dict[str, Observable]) -> tuple[Normalization, ...]:
    """Normalizations (the most specific rule wins) and cumulative observables.

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
            if kind is not None and not times:
                raise UnsupportedError(f"'{col}' of the parameter scan '{cid}' is normalized "
                                       "or cumulative; bngfit does either over time courses "
                                       "only", file=f, row=rule.line if rule else n.line,
                                       id=col)
            if kind is not None:
                out.append(Normalization(kind, col, preeq, cid, times))
    return tuple(out)


def _constraints(config: PybnfConfig,
                 grids: dict[str, tuple[str, tuple[float, ...]]],
                 infos: dict[str, ModelInfo]) -> tuple[TrajectoryPenalty, ...]:
    """The ``.prop`` constraints of each experiment.

    Each reads its experiment's own simulation (docs/pybnf-rules.md), on its
    output grid.
    """
    out = []
    for e in config.experiments:
        preeq, times = grids[e.name]
        info = infos[e.model or next(iter(infos))]
        if e.constraints and not times:
            raise UnsupportedError(f"constraints ({e.constraints[0].name}) on the parameter "
                                   f"scan '{e.name}' are not supported", file=config.path,
                                   row=e.line, id=e.name)
        for p in e.constraints:
            out.extend(constraint_penalties(p, info, preeq, e.name, times,
                                            float(config.setting("constraint_scale", 1.0))))
    return tuple(out)
