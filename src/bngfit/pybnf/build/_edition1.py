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
  one whose id is a species of an SBML/Antimony model sets that species' initial
  concentration in every simulation of the model, as PyBNF does
  (:mod:`bngfit.pybnf.build._initials`);
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
  exactly that (``=`` only on a species, for now, but any operator on a species
  whose initial value is a free parameter). A mutant changes the model
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
chained pre-phase condition, see
:func:`~bngfit.pybnf.build._protocol_conds.protocol_conditions`).

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
model, a parameter name as value, ``* / + -`` on a species whose initial value
is no free parameter; see :mod:`bngfit.pybnf.build._perturb`), free parameters
that are species whose initial value bngfit cannot set as PyBNF does (see
:mod:`bngfit.pybnf.build._initials`), and constraints that read another
simulation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.files._limits import too_many_points
from bngfit.problem._conditions import Condition
from bngfit.problem._model_info import ModelAccess
from bngfit.problem._problem import Normalization, NormKind, Observable, Problem
from bngfit.pybnf.bngl._protocol import phases_for_data
from bngfit.pybnf.conf._entries import Objfunc, PybnfConfig

from ._data import DataRun, column_observable, data_warnings, measurements, nearest_times
from ._initials import initial_mutations
from ._models import ModelPart, Run, model_parts
from ._noise import token_noise
from ._params import parameter_specs
from ._penalties import constraint_penalties, scan_constraints, scan_penalties
from ._perturb import perturbation_mutations
from ._protocol_conds import Measured, protocol_conditions
from ._request import bootstrap_request
from ._scans import data_plots, sbml_conditions
from ._settings import fit_request


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
    sims: dict[str, Measured] = {}
    warnings: list = []
    runs_of: dict[str, Run] = {}
    preeq: dict[str, str] = {}
    t_end: dict[str, float] = {}
    grids: dict[str, tuple[float, ...]] = {}
    observables: dict[str, Observable] = {}
    for part in parts:
        for run, sim in _simulations(config, part):
            clash = sim.conditions.keys() & conditions.keys()
            if clash:
                raise InputError(f"two simulations would both be called '{min(clash)}': "
                                 "rename a data file", file=f, row=part.entry.line,
                                 id=min(clash))
            conditions.update(sim.conditions)
            sims[run.name] = sim
            runs_of[run.name] = run
            t_end[run.name], preeq[run.name] = sim.t_end, sim.preeq
            grids[run.name] = () if sim.scan is not None else _output_grid(config, part, run)
            warnings.extend(sim.warnings)
        # A data column is the model output of its name in every model it has data in.
        checked: set[str] = set()
        for r in part.runs:
            for col in r.table.columns:
                if col not in checked:
                    checked.add(col)
                    observables.setdefault(col, column_observable(r.table, col, noise[None],
                                                                  part.info, f))
    runs = [r for part in parts for r in part.runs]
    tables = {r.name: r.table for r in runs}
    if config.setting("ind_var_rounding") == "1":
        for r in runs:
            if sims[r.name].scan is None:
                tables[r.name], note = nearest_times(r.table, grids[r.name], config)
                warnings.extend(note)
    meas = measurements([DataRun(tables[r.name], r.name, preeq[r.name], t_end[r.name],
                                 sims[r.name].rows, sims[r.name].time) for r in runs], noise, f)
    norms = _normalizations(config, runs, preeq, grids)
    penalties = []
    scale = float(config.setting("constraint_scale", 1.0))
    for part in parts:
        for p, name in part.props:
            sim = sims[name]
            if sim.scan is None:
                penalties += constraint_penalties(p, part.info, preeq[name], name, grids[name],
                                                  scale)
                continue
            points = {k: (pre, cid) for k, pre, cid in sim.points}
            penalties += scan_penalties(p, part.info, sim.scan,
                                        _x_names(sim.scan.parameter, runs_of[name]), points,
                                        sim.time, scale)
    return Problem(
        model=parts[0].info, parameters=tuple(params), conditions=conditions,
        observables=observables, measurements=meas, source=Path(config.path),
        files={"problem": config.path,
               "model": ";".join(str(part.entry.path) for part in parts),
               "data": ";".join([*(r.table.path for r in runs),
                                 *(str(p) for part in parts for p, _ in part.props)])},
        normalizations=norms, penalties=tuple(penalties),
        models={part.name: part.info for part in parts},
        warnings=(*data_warnings([r.table for r in runs]), *warnings),
        visualization=data_plots([(r.name, r.table, sims[r.name].scanned) for r in runs]),
        request=dataclasses.replace(  # the job's run settings, then its bootstrap
            fit_request(config), **bootstrap_request(config, meas, bool(penalties))),
    )


def _simulations(config: PybnfConfig, part: ModelPart) -> Iterator[tuple[Run, Measured]]:
    """Each simulation of a model line: its run and its conditions (pre-phases
    too, see :class:`~bngfit.pybnf.build._protocol_conds.Measured`).

    A mutant's statements are checked once, before its simulations.
    """
    f = config.path
    info = part.info
    free = set(part.binds) if part.bngl else None
    mutated = {c.name: perturbation_mutations(f"mutant '{c.name}'", c.perturbations, info, f,
                                              free=free, initial=part.initials)
               for c in config.conditions if c.model in (None, part.name)}
    # free initial values first: PyBNF writes the parameter set into the model,
    # then applies the mutant
    initial = initial_mutations(part.initials, info)
    for run in part.sim_runs:
        muts = () if run.mutant is None else mutated[run.mutant.name]
        if part.bngl:
            yield run, protocol_conditions(run.name, run.suffix, run.table, part.phases, muts,
                                           info, str(part.entry.path), part.name,
                                           _constraint_points(part, run))
        else:
            yield run, sbml_conditions(config, run, (*initial, *muts), info, part.name)


def _constraint_points(part: ModelPart, run: Run) -> list[int]:
    """The scan points the ``.prop`` files of ``run`` read (empty: not a scan)."""
    scan = part.phases[phases_for_data(part.phases, run.suffix)[0]].scan
    if scan is None:
        return []
    x = _x_names(scan.parameter, run)
    return [k for p, name in part.props if name == run.name
            for _, k in scan_constraints(p, part.info, scan, x)]


def _x_names(parameter: str, run: Run) -> frozenset[str]:
    """What a scan's constraints may call its independent variable."""
    return frozenset({parameter} | ({run.table.x_name} if run.table is not None else set()))


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
            if not grids[r.name]:
                raise UnsupportedError(
                    f"normalization of {Path(r.table.path).name}, the data of a parameter "
                    "scan, is not supported (PyBNF normalizes time courses)",
                    file=config.path, row=entry.line, value=Path(r.table.path).name)
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
