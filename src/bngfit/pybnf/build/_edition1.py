"""Edition-1 (legacy) PyBNF configurations as problems.

The configuration (:mod:`bngfit.pybnf.conf._conf`), its ``.exp`` data tables
(:mod:`bngfit.pybnf._exp`) and the model become the same problem a PEtab file
would give, so the objective, gradient checks and fitting are shared:

- every data column is an observable whose formula is the model output of that
  name (BNGL observable or function, SBML species or rule);
- ``objfunc`` (default ``chi_sq``) is the noise model of every column, as
  :mod:`bngfit.pybnf.build._noise` tabulates: ``sos`` sigma 1, ``chi_sq`` the
  table's ``<obs>_SD``, ``norm_sos`` the data value, ``ave_norm_sos`` the mean
  of the column, ``lognormal`` Gaussian in log10 with sigma from ``_SD``;
  ``chi_sq_dynamic`` / ``laplace`` / ``neg_bin_dynamic`` estimate the noise
  parameter ``sigma__FREE`` / ``b__FREE`` / ``r__FREE`` (declared in the
  configuration; the model need not use it, and a BNGL template that does has
  it bound like any other); ``sod`` is Laplace with scale 1, ``neg_bin`` the
  negative binomial with dispersion ``neg_bin_r``;
- the ``*_var`` lines are the free parameters (:mod:`bngfit.pybnf.build._params`);
- a BNGL template gets its ``X__FREE`` parameters bound (a copy written to a
  cache folder) and its actions read: the data file ``X.exp`` is compared with
  the ``simulate`` action of suffix ``X``; an SBML model with its
  ``time_course`` of suffix ``X``.
- a legacy ``mutant = BASE NAME STATEMENT ... : DATA, ...`` line is a condition:
  the base model with each statement ``target op number`` (op ``= * / + -``)
  applied in written order. As in PyBNF (docs/config_keys.rst, ``mutant``), a
  mutant's data file is named after the base model's action suffix followed by
  the mutant name (``par1`` and mutant ``m1``: ``par1m1.exp``) and is compared
  with that action run on the mutant model. PyBNF changes a BNGL model's free
  parameters (``k__FREE*2``) and an SBML model's global parameters or species
  initial concentrations, and reads each value as a number; bngfit accepts
  exactly that (``=`` only on a species, for now). A mutant changes the model
  itself, so its statements come first in each phase's condition and the
  protocol's ``setParameter`` / ``setConcentration`` follow (PyBNF writes the
  mutated values into the model and runs the unchanged actions on it): a
  protocol setting of the same target wins, and with an equilibration phase
  the mutant holds in both phases.

``normalization = TYPE[: files or (file: columns)]`` normalizes the simulation
of those columns (all, by default) over the simulated output grid of their
action before comparison (:mod:`bngfit.observe._transforms`; types ``init``, ``peak``,
``zero``, ``unit`` as PyBNF defines them); the data are taken as given.

A BNGL protocol may have any number of phases before the measured one (each a
chained pre-phase condition, see :func:`_protocol_conditions`).

Several ``model`` lines make one problem of several models
(:mod:`bngfit.pybnf.build._models`): each model line's data are compared with that
model's actions (and its mutants' with the mutated model); free parameters are
shared by name, each one set in the models that use it (a BNGL template's
``X__FREE`` placeholders, an SBML model's parameter ids); a declared parameter
no model uses is an error on its line. A data name that several models have
(``p1.exp`` of two models) becomes the condition ``MODEL.p1`` of each.

``.prop`` files are constraints on the simulation of their suffix
(:mod:`bngfit.pybnf.build._penalties`).

What this version refuses, before any simulation and naming the line:
objective functions other than those above (kl),
protocols that
reset concentrations, continue a measured phase or set expression values,
mutant statements PyBNF would not run or bngfit cannot represent (a target that
is no free parameter of a BNGL model or no parameter or species of an SBML
model, a parameter name as value, ``* / + -`` on a species; see
:mod:`bngfit.pybnf.build._perturb`), and constraints that read another simulation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.files._limits import too_many_points
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._model_info import ModelAccess, ModelInfo
from bngfit.problem._problem import Normalization, NormKind, Observable, Problem
from bngfit.problem._request import FitRequest
from bngfit.pybnf.bngl._protocol import Phase, phases_for_data
from bngfit.pybnf.conf._entries import Objfunc, PybnfConfig

from ._data import DataRun, column_observable, data_warnings, measurements
from ._models import ModelPart, Run, model_parts, time_course_end
from ._noise import token_noise
from ._params import parameter_specs
from ._penalties import constraint_penalties
from ._perturb import perturbation_mutations
from ._request import bootstrap_request


def edition1_problem(config: PybnfConfig, models: ModelAccess) -> Problem:
    """The problem of an edition-1 configuration (see the module docstring).

    Raises
    ------
    InputError
        A data column that names no model output, a data value the objective
        function cannot divide by, data beyond the simulated time span, a
        mutant data file that matches no action, a mutant statement PyBNF
        would not run.
    UnsupportedError
        A feature this version does not compute (listed in the module doc).
    """
    f = config.path
    params = parameter_specs(config)
    noise = {None: token_noise(config, config.objfunc or Objfunc.CHI_SQ, "objfunc")}
    estimated = noise[None].estimated
    parts = model_parts(config, params, models,
                        frozenset() if estimated is None else frozenset({estimated}))
    conditions: dict[str, Condition] = {}
    preeq: dict[str, str] = {}
    t_end: dict[str, float] = {}
    grids: dict[str, tuple[float, ...]] = {}
    observables: dict[str, Observable] = {}
    for part in parts:
        for run, conds, end, pre in _simulations(config, part):
            clash = conds.keys() & conditions.keys()
            if clash:
                raise InputError(f"two simulations would both be called '{min(clash)}': "
                                 "rename a data file", file=f, row=part.entry.line,
                                 id=min(clash))
            conditions.update(conds)
            t_end[run.name], preeq[run.name] = end, pre
            grids[run.name] = _output_grid(config, part, run)
        # A data column is the model output of its name in every model it has data in.
        checked: set[str] = set()
        for r in part.runs:
            for col in r.table.columns:
                if col not in checked:
                    checked.add(col)
                    observables.setdefault(col, column_observable(r.table, col, noise[None],
                                                                  part.info, f))
    runs = [r for part in parts for r in part.runs]
    meas = measurements([DataRun(r.table, r.name, preeq[r.name], t_end[r.name]) for r in runs],
                        noise, f)
    norms = _normalizations(config, runs, preeq, grids)
    penalties = [pen for part in parts for p, name in part.props
                 for pen in constraint_penalties(p, part.info, preeq[name], name, grids[name])]
    return Problem(
        model=parts[0].info, parameters=tuple(params), conditions=conditions,
        observables=observables, measurements=meas, source=Path(config.path),
        files={"problem": config.path,
               "model": ";".join(str(part.entry.path) for part in parts),
               "data": ";".join([*(r.table.path for r in runs),
                                 *(str(p) for part in parts for p, _ in part.props)])},
        normalizations=norms, penalties=tuple(penalties),
        models={part.name: part.info for part in parts},
        request=FitRequest(**bootstrap_request(config, meas, bool(penalties))),  # bootstrap
        warnings=data_warnings([r.table for r in runs]),
    )


def _simulations(config: PybnfConfig, part: ModelPart
                 ) -> Iterator[tuple[Run, dict[str, Condition], float, str]]:
    """Each simulation of a model line: its run, its conditions (pre-phases too),
    the measured phase's span and the id of its last pre-phase (empty: none).

    A mutant's statements are checked once, before its simulations.
    """
    f = config.path
    info = part.info
    free = set(part.binds) if part.bngl else None
    mutated = {c.name: perturbation_mutations(f"mutant '{c.name}'", c.perturbations, info, f,
                                              free=free)
               for c in config.conditions if c.model in (None, part.name)}
    for run in part.sim_runs:
        muts = () if run.mutant is None else mutated[run.mutant.name]
        if part.bngl:
            conds, end, pre = _protocol_conditions(run, part.phases, muts, info,
                                                   str(part.entry.path), part.name)
        else:
            conds = {run.name: Condition(run.name, muts, model=part.name)}
            end, pre = time_course_end(config, run, part.name), ""
        yield run, conds, end, pre


def _protocol_conditions(run: Run, all_phases: tuple[Phase, ...],
                         mutant: tuple[Mutation, ...],
                         info: ModelInfo, f: str, model: str
                         ) -> tuple[dict[str, Condition], float, str]:
    """Conditions of a data file's protocol on model ``model``.

    One phase: the mutant's statements (if any), then its ``setParameter`` /
    ``setConcentration`` actions are the condition. Several phases: each one
    before the measured phase becomes a pre-phase condition (``<name>__pre``,
    or ``<name>__pre1``, ``<name>__pre2``, ... for more than one), chained
    first to last and run for its duration (to steady state with
    ``steady_state=>1``), each starting from the state the one before ended
    in, sensitivities carried throughout. As in BioNetGen, a parameter once
    set stays set in every later phase, and so do the mutant's; species
    settings apply at the start of the phase they precede.

    Returns
    -------
    conditions : dict of str to Condition
    t_end : float
        The measured phase's span.
    preeq : str
        The id of the last pre-phase (empty without one).
    """
    name = run.name
    idx = phases_for_data(all_phases, run.suffix)  # not empty: _runs matched the suffix
    phases = all_phases[: idx[0] + 1]
    _check_replayable(phases, len(idx), run.suffix, f)
    last = phases[-1]
    conditions: dict[str, Condition] = {}
    n_pre = len(phases) - 1
    previous = None
    muts = [*mutant, *_phase_mutations(phases[0], info, run.suffix, f)]
    for k, ph in enumerate(phases):
        if k:
            # Parameters set so far persist; species settings do not repeat
            # (the phase starts from the state the one before ended in).
            muts = [m for m in muts if m.target in info.parameters] + \
                _phase_mutations(ph, info, run.suffix, f)
        if ph is last:
            conditions[name] = Condition(name, tuple(muts), model=model)
            break
        cid = f"{name}__pre" if n_pre == 1 else f"{name}__pre{k + 1}"
        duration = None if ph.steady_state else ph.t_end - ph.t_start
        conditions[cid] = Condition(cid, tuple(muts), duration=duration, previous=previous,
                                    model=model)
        previous = cid
    return conditions, last.t_end, previous or ""


def _not_replayed(suffix: str, why: str, line: int, f: str) -> UnsupportedError:
    return UnsupportedError(f"the protocol of '{suffix}' {why}, which bngfit does not "
                            "replay yet", file=f, row=line, id=suffix)


def _check_replayable(phases: tuple[Phase, ...], n_writes: int, suffix: str, f: str) -> None:
    """Refuse a protocol whose measured phase (the last) bngfit cannot replay."""
    last = phases[-1]
    if n_writes != 1 or last.continue_:
        raise _not_replayed(suffix, "appends to its output with continue=>1", last.line, f)
    if last.reset_to is not None or last.steady_state or last.t_start != 0.0:
        raise _not_replayed(suffix, "resets concentrations, runs to steady state or starts "
                            "at t != 0 in the measured phase", last.line, f)
    for ph in phases[:-1]:
        if ph.reset_to is not None:
            raise _not_replayed(suffix, "resets concentrations between phases", ph.line, f)


def _phase_mutations(phase: Phase, info: ModelInfo, suffix: str, f: str) -> list[Mutation]:
    """A phase's ``setParameter`` / ``setConcentration`` actions as mutations."""
    out = []
    for target, value in phase.set_params:
        if isinstance(value, str):
            raise _not_replayed(suffix, f"sets '{target}' to an expression ({value})",
                                phase.line, f)
        if target not in info.parameters:
            raise InputError(f"setParameter names '{target}', which is no independent "
                             "parameter of the model", file=f, row=phase.line, id=target)
        out.append(Mutation(target, MutationOp.SET, float(value)))
    for pattern, value in phase.set_species:
        if isinstance(value, str):
            raise _not_replayed(suffix, f"sets '{pattern}' to an expression ({value})",
                                phase.line, f)
        if pattern not in info.species:
            raise _not_replayed(suffix, f"sets the concentration of '{pattern}', which is not "
                                "one species of the network by that exact name", phase.line, f)
        out.append(Mutation(pattern, MutationOp.SET, float(value)))
    return out


def _output_grid(config: PybnfConfig, part: ModelPart, run: Run) -> tuple[float, ...]:
    """The times the run's action writes (what a normalization is taken over)."""
    if part.bngl:
        idx = phases_for_data(part.phases, run.suffix)
        phase = part.phases[idx[-1]]
        problem = None if phase.n_steps is None else too_many_points(phase.n_steps + 1)
        if problem is not None:  # refused before output_times() allocates the grid
            raise InputError(f"simulate {problem}", file=str(part.entry.path), row=phase.line,
                             id="n_steps", value=str(phase.n_steps))
        return tuple(float(t) for t in phase.output_times())
    model = part.name
    action = next(a for a in config.actions if a.kind == "time_course"
                  and a.suffix == run.suffix and a.fields.get("model") in (None, model))
    end = float(action.fields["time"])
    step = float(action.fields.get("step", 1.0))
    n = max(1, int(round(end / step)))
    return tuple(np.linspace(0.0, end, n + 1).tolist())


def _normalizations(config: PybnfConfig, runs: list[Run], preeq: dict[str, str],
                    grids: dict[str, tuple[float, ...]]) -> tuple[Normalization, ...]:
    """PyBNF ``normalization`` lines as normalizations of (data file, column)."""
    out: dict[tuple[str, str], Normalization] = {}
    for entry in config.normalization:
        targets = [r for r in runs if entry.file is None
                   or Path(r.table.path).resolve() == Path(entry.file).resolve()]
        if entry.file is not None and not targets:
            raise InputError(f"normalization names {Path(entry.file).name}, which is no data "
                             "file of the model or its mutants", file=config.path,
                             row=entry.line, value=Path(entry.file).name)
        for r in targets:
            t = r.table
            if entry.columns is None:
                cols = list(t.columns)
            else:
                cols = []
                for c in entry.columns:
                    name = t.header[c] if isinstance(c, int) and 0 <= c < len(t.header) else c
                    if name not in t.columns:
                        raise InputError(f"normalization names column {c!r}, which is no "
                                         f"observable column of {Path(t.path).name}",
                                         file=config.path, row=entry.line, value=str(c))
                    cols.append(name)
            for col in cols:
                # a later line for the same column replaces an earlier one
                out[(r.name, col)] = Normalization(NormKind(entry.type.value), col,
                                                   preeq[r.name], r.name, grids[r.name])
    if config.objfunc is Objfunc.NEG_BIN_DYNAMIC:
        # PyBNF differences a neg_bin_dynamic column named *_Cum* from row to row of
        # the simulation (cumulative counts -> per-interval counts)
        for r in runs:
            for col in r.table.columns:
                if "_Cum" not in col:
                    continue
                if (r.name, col) in out:
                    raise UnsupportedError(
                        f"column '{col}' of {Path(r.table.path).name} is both normalized and "
                        "cumulative (_Cum); bngfit does not combine the two yet",
                        file=config.path, id=col)
                out[(r.name, col)] = Normalization(NormKind.INCIDENT, col, preeq[r.name],
                                                   r.name, grids[r.name])
    return tuple(out.values())
