"""Build a :class:`~bngfit.problem.Problem` from a PyBNF configuration.

The configuration (:mod:`bngfit.pybnf.conf._conf`), its ``.exp`` data tables
(:mod:`bngfit.pybnf._exp`) and the model become the same problem a PEtab file
would give, so the objective, gradient checks and fitting are shared:

- every data column is an observable whose formula is the model output of that
  name (BNGL observable or function, SBML species or rule);
- ``objfunc`` sets each data point's noise scale sigma: ``sos`` 1, ``chi_sq``
  the table's ``<obs>_SD``, ``norm_sos`` the data value, ``ave_norm_sos`` the
  mean of the column; each is then a Gaussian negative log-likelihood whose
  minimiser is PyBNF's (the value differs from PyBNF's by the factor 1/2 and
  the normalising constants, which PEtab-style values include); ``lognormal``
  is Gaussian in log10 with sigma from ``_SD``; ``chi_sq_dynamic`` and
  ``laplace`` estimate the scale as the free parameter ``sigma__FREE`` /
  ``b__FREE`` (declared in the configuration; the model need not use it);
  ``sod`` is Laplace with scale 1; ``neg_bin`` / ``neg_bin_dynamic`` the
  negative binomial with dispersion ``neg_bin_r`` / ``r__FREE``;
- ``uniform_var`` / ``loguniform_var`` give lin / log10 parameters with those
  bounds, nominal at the middle of the (scaled) interval; ``var`` / ``logvar``
  unbounded ones (see :func:`start_value_spec`);
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

Edition 2 (``edition = 2``) is built by :mod:`bngfit.pybnf.build._edition2`, which
documents what it accepts and refuses.

A BNGL protocol may have any number of phases before the measured one (each a
chained pre-phase condition, see :func:`_protocol_conditions`).

Several ``model`` lines make one problem of several models
(:mod:`bngfit.pybnf.build._models`): each model line's data are compared with that
model's actions (and its mutants' with the mutated model); free parameters are
shared by name, each one set in the models that use it (a BNGL template's
``X__FREE`` placeholders, an SBML model's parameter ids); a declared parameter
no model uses is an error on its line. A data name that several models have
(``p1.exp`` of two models) becomes the condition ``MODEL.p1`` of each.

What this version refuses, before any simulation and naming the line:
objective functions other than those above (kl),
protocols that
reset concentrations, continue a measured phase or set expression values, and
mutant statements PyBNF would not run or bngfit cannot represent (a target that
is no free parameter of a BNGL model or no parameter or species of an SBML
model, a parameter name as value, ``* / + -`` on a species).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.errors import InputError, Issue, UnsupportedError
from bngfit.files._limits import too_many_points
from bngfit.problem._problem import (
    Normalization,
    NormKind,
    Observable,
    ParameterSpec,
    Problem,
    TrajectoryPenalty,
)
from bngfit.pybnf.conf._conf import PybnfConfig, check_supported, read_conf
from ._data import (  # noqa: F401 - the constants stay importable here
    NEG_BIN_R_DEFAULT,
    NOISE_PARAMETER,
    data_measurements,
    data_observables,
    neg_bin_r,
    point_sigma,
    time_course_end,
)
from bngfit.pybnf.conf._entries import ConditionEntry, Objfunc, ParamKind, Perturbation
from ._models import ModelPart, Run, model_parts
from bngfit.problem._scales import Scale
from bngfit.simulate._engine import ModelInfo

SUPPORTED_OBJFUNCS = (Objfunc.SOS, Objfunc.CHI_SQ, Objfunc.NORM_SOS, Objfunc.AVE_NORM_SOS,
                      Objfunc.LOGNORMAL, Objfunc.CHI_SQ_DYNAMIC, Objfunc.LAPLACE,
                      Objfunc.NEG_BIN, Objfunc.NEG_BIN_DYNAMIC, Objfunc.SOD)
SUPPORTED_KINDS = (ParamKind.UNIFORM, ParamKind.LOGUNIFORM, ParamKind.NORMAL,
                   ParamKind.LOGNORMAL, ParamKind.VAR, ParamKind.LOGVAR)
START_KINDS = (ParamKind.VAR, ParamKind.LOGVAR)


def check_pybnf(path: str | Path) -> tuple[Problem | None, list[Issue]]:
    """Read a PyBNF problem; return it (or None) with every issue found."""
    path = Path(path)
    try:
        config = read_conf(path)
    except InputError as err:
        return None, list(err.issues)
    try:
        problem = build_problem(config)
        return problem, [*config.warnings, *problem.warnings]
    except InputError as err:
        return None, [*config.warnings, *err.issues]


def build_problem(config: PybnfConfig) -> Problem:
    """The problem a PyBNF configuration describes (see the module docstring).

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
    _refuse_unsupported(config)
    if config.edition == 2:
        from ._edition2 import _edition2_problem

        return _edition2_problem(config)
    params = _parameters(config)
    objfunc = config.objfunc or Objfunc.CHI_SQ
    noise_param = NOISE_PARAMETER.get(objfunc)
    if noise_param is not None and noise_param not in {p.id for p in params}:
        raise InputError(f"objfunc {objfunc.value} estimates the noise scale: declare "
                         f"{noise_param} (e.g. loguniform_var = {noise_param} 0.01 100)",
                         file=f, row=config.objfunc_line, id=noise_param)
    parts = model_parts(config, params, noise_param)
    conditions: dict[str, Condition] = {}
    preeq: dict[str, str] = {}
    t_end: dict[str, float] = {}
    grids: dict[str, tuple[float, ...]] = {}
    observables: dict[str, Observable] = {}
    for part in parts:
        info = part.info
        mutated = {c.name: _mutant_mutations(c, info, set(part.binds) if part.bngl else None,
                                             f)
                   for c in config.conditions if c.model in (None, part.name)}
        for run in part.sim_runs:
            muts = () if run.mutant is None else mutated[run.mutant.name]
            if part.bngl:
                conds, t_end[run.name], preeq[run.name] = _protocol_conditions(
                    run, part.phases, muts, info, str(part.entry.path), part.name)
            else:
                conds = {run.name: Condition(run.name, muts, model=part.name)}
                t_end[run.name] = time_course_end(config, run, part.name)
                preeq[run.name] = ""
            clash = conds.keys() & conditions.keys()
            if clash:
                raise InputError(f"two simulations would both be called '{min(clash)}': "
                                 "rename a data file", file=f, row=part.entry.line,
                                 id=min(clash))
            conditions.update(conds)
            grids[run.name] = _output_grid(config, part, run)
        # A data column is the model output of its name in every model it has data in.
        new = data_observables([r.table for r in part.runs], info, objfunc, neg_bin_r(config))
        for k, v in new.items():
            observables.setdefault(k, v)
    runs = [r for part in parts for r in part.runs]
    props = [(*pr, part.info) for part in parts for pr in part.props]
    meas = data_measurements(runs, t_end, preeq, objfunc, config)
    return Problem(
        model=parts[0].info, parameters=tuple(params), conditions=conditions,
        observables=observables, measurements=meas, source=Path(config.path),
        files={"problem": config.path,
               "model": ";".join(str(part.entry.path) for part in parts),
               "data": ";".join([*(r.table.path for r in runs),
                                 *(str(p) for p, _, _ in props)])},
        normalizations=_normalizations(config, runs, preeq, grids),
        penalties=_constraints(props, preeq, grids),
        models={part.name: part.info for part in parts},
        warnings=tuple(w for r in runs if r.table is not None for w in r.table.warnings),
    )


def check_constraint_names(path: Path, constraint, info: ModelInfo) -> None:
    """Refuse a constraint that reads a name that is no output of its model.

    Checked while reading, so that ``validate`` reports it with the file and line.
    """
    for name in constraint.names:
        if name != "time" and "." not in name and info.selector(name) is None:
            raise InputError("constraint reads a name that is no observable, function or "
                             f"species of the model {info.path.name}", file=str(path),
                             row=constraint.line, id=name)


def _constraints(props: list[tuple[Path, str, ModelInfo]], preeq: dict[str, str],
                 grids: dict[str, tuple[float, ...]]) -> tuple[TrajectoryPenalty, ...]:
    """The qualitative constraints of ``.prop`` files as trajectory penalties.

    Each constraint reads its outputs on the output grid of the action whose
    suffix is the file's name (as PyBNF compares ``X.prop`` with the output of
    suffix ``X``), at PyBNF's sample points (:mod:`bngfit.likelihood._penalties`).
    ``props`` gives each file with the name of that simulation and its model.
    """
    from functools import partial

    from bngfit.likelihood._penalties import penalty
    from bngfit.pybnf.bpsl._prop import read_prop

    out = []
    for p, name, info in props:
        for c in read_prop(p):
            check_constraint_names(p, c, info)
            names = tuple(n for n in c.names if n != "time")
            out.append(TrajectoryPenalty(names, preeq[name], name, grids[name],
                                         partial(_constraint_penalty, penalty, c),
                                         f"{p}:{c.line}"))
    return tuple(out)


def _constraint_penalty(penalty, constraint, t, series):
    return penalty(constraint, t, series)


def perturbation_error(owner: str, p: Perturbation, why: str, f: str,
                       cls: type[InputError] = InputError) -> InputError:
    """The error for one perturbation of a mutant or condition: file, line, statement."""
    return cls(f"{owner}: {why}", file=f, row=p.line, id=p.target,
               value=f"{p.target}{p.op.value}{p.value}")


def _mutant_mutations(c: ConditionEntry, info: ModelInfo, free: set[str] | None,
                      f: str) -> tuple[Mutation, ...]:
    """A mutant's statements as mutations, checked as PyBNF would run them.

    ``free``: the free parameters of a BNGL model, the only targets of a BNGL
    mutant in PyBNF; None for SBML, whose mutants change global parameters and
    species (initial concentrations).
    """
    def refuse(p: Perturbation, why: str, cls: type[InputError] = InputError
               ) -> InputError:
        return perturbation_error(f"mutant '{c.name}'", p, why, f, cls)

    out = []
    for p in c.perturbations:
        if isinstance(p.value, str):
            raise refuse(p, f"the value '{p.value}' is not a number (PyBNF reads the value "
                            "of a mutant statement as a number)")
        if not np.isfinite(p.value) or (p.op is MutationOp.DIV and p.value == 0.0):
            raise refuse(p, "the value must be a finite number, and not 0 after '/'")
        if free is not None:
            if p.target not in free:
                hint = (f"; did you mean '{p.target}__FREE'?"
                        if f"{p.target}__FREE" in free else "")
                raise refuse(p, f"'{p.target}' is not a free parameter: PyBNF's mutants of "
                                "a BNGL model change the NAME__FREE parameters declared in "
                                f"the configuration ({', '.join(sorted(free))}){hint}")
        elif p.target in info.species:
            if p.op is not MutationOp.SET:
                raise refuse(p, f"'{p.op.value}' on the species '{p.target}' is not "
                                "supported yet; only '=' (its initial concentration)",
                             UnsupportedError)
        elif p.target not in info.parameters:
            raise refuse(p, f"'{p.target}' is no global parameter or species of the model")
        out.append(Mutation(p.target, p.op, float(p.value)))
    return tuple(out)


# ------------------------------------------------------------------ checks
def _refuse_unsupported(config: PybnfConfig) -> None:
    f = config.path
    check_supported(config)

    def no(what: str, line: int | None, value: str | None = None) -> UnsupportedError:
        return UnsupportedError(f"{what} is not supported yet by bngfit", file=f, row=line,
                                value=value)

    if config.noise_models and config.edition == 1:
        raise no("noise_model", config.noise_models[0].line)
    if config.objfunc is not None and config.objfunc not in SUPPORTED_OBJFUNCS:
        raise UnsupportedError(
            f"objfunc '{config.objfunc.value}' is not supported yet; use one of "
            f"{', '.join(o.value for o in SUPPORTED_OBJFUNCS)}", file=f,
            row=config.objfunc_line, value=config.objfunc.value)
    for p in config.parameters:
        if p.kind not in SUPPORTED_KINDS:
            raise UnsupportedError(f"parameter '{p.name}': a {p.kind.value} declaration is "
                                   "not supported", file=f, row=p.line, id=p.name)


def start_value_spec(p) -> ParameterSpec:
    """A ``var = k X [STEP]`` / ``logvar = k LOG10_X [LOG10_STEP]`` parameter.

    PyBNF gives its local optimizers (simplex, Powell) this start point and
    no bounds. bngfit makes it an unbounded parameter (``logvar``: log10
    scale, value > 0) whose nominal value is the start point and whose
    multistart starts are drawn from a normal around it on the declaration's
    scale, the step (1 when not given) as standard deviation: the first start
    is not the point itself, so pass ``--start-points`` to begin exactly there.
    """
    from bngfit.problem._priors import InitPrior

    log = p.kind is ParamKind.LOGVAR
    step = 1.0 if p.step is None else float(p.step)
    centre = float(np.log10(p.initial)) if log else float(p.initial)
    return ParameterSpec(p.name, Scale.LOG10 if log else Scale.LIN, 0.0 if log else -np.inf,
                         np.inf, float(p.initial), True, p.line,
                         (InitPrior.PS_NORMAL, centre, step))


def _parameters(config: PybnfConfig) -> list[ParameterSpec]:
    """Free parameters: bounds and nominal values; priors give the start distribution.

    ``normal_var = k mu sd`` is a normal truncated at 0 (PyBNF), on a linear
    scale in [0, inf); ``lognormal_var = k mu sd`` a normal in log10 (mu and sd
    in log10 units), unbounded. bngfit draws multistart starts from them (an
    initialization prior) and does not add them to the objective.
    """
    from bngfit.problem._priors import InitPrior

    out = []
    for p in config.parameters:
        if p.kind in START_KINDS:
            out.append(start_value_spec(p))
            continue
        if p.kind in (ParamKind.NORMAL, ParamKind.LOGNORMAL):
            log = p.scale is Scale.LOG10  # mean and sd are in the scale's units
            lb = 0.0 if p.lower is None else float(p.lower)
            ub = np.inf if p.upper is None else float(p.upper)
            nominal = 10.0 ** p.mean if log else (p.mean if p.mean > 0 else p.sd)
            out.append(ParameterSpec(p.name, p.scale, lb, ub, float(nominal), True, p.line,
                                     (InitPrior.PS_NORMAL, float(p.mean), float(p.sd))))
            continue
        lb, ub = float(p.lower), float(p.upper)
        if p.initial is not None:
            nominal = float(p.initial)
        elif p.scale is Scale.LOG10:
            nominal = float(np.sqrt(lb * ub))
        else:
            nominal = 0.5 * (lb + ub)
        out.append(ParameterSpec(p.name, p.scale, lb, ub, nominal, True, p.line))
    return out


def _protocol_conditions(run: Run, all_phases: tuple, mutant: tuple[Mutation, ...],
                         info: ModelInfo, f: str, model: str
                         ) -> tuple[dict[str, Condition], float, str]:
    """Conditions of a data file's protocol on model ``model``, the measured
    phase's span, and the id of the last pre-phase (empty without one).

    One phase: the mutant's statements (if any), then its ``setParameter`` /
    ``setConcentration`` actions are the condition. Several phases: each one
    before the measured phase becomes a pre-phase condition (``<name>__pre``,
    or ``<name>__pre1``, ``<name>__pre2``, ... for more than one), chained
    first to last and run for its duration (to steady state with
    ``steady_state=>1``), each starting from the state the one before ended
    in, sensitivities carried throughout. As in BioNetGen, a parameter once
    set stays set in every later phase, and so do the mutant's; species
    settings apply at the start of the phase they precede.
    """
    from bngfit.pybnf.bngl._protocol import phases_for_data

    name, suffix = run.name, run.suffix
    idx = phases_for_data(all_phases, suffix)  # not empty: _runs matched the suffix
    phases, n_writes = all_phases[: idx[0] + 1], len(idx)

    def refuse(why: str, line: int) -> UnsupportedError:
        return UnsupportedError(f"the protocol of '{suffix}' {why}, which bngfit does not "
                                "replay yet", file=f, row=line, id=suffix)

    def mutations(phase, species: bool) -> list:
        out = []
        for target, value in phase.set_params:
            if isinstance(value, str):
                raise refuse(f"sets '{target}' to an expression ({value})", phase.line)
            if target not in info.parameters:
                raise InputError(f"setParameter names '{target}', which is no independent "
                                 "parameter of the model", file=f, row=phase.line, id=target)
            out.append(Mutation(target, MutationOp.SET, float(value)))
        for pattern, value in (phase.set_species if species else ()):
            if isinstance(value, str):
                raise refuse(f"sets '{pattern}' to an expression ({value})", phase.line)
            if pattern not in info.species:
                raise refuse(f"sets the concentration of '{pattern}', which is not one "
                             "species of the network by that exact name", phase.line)
            out.append(Mutation(pattern, MutationOp.SET, float(value)))
        return out

    last = phases[-1]
    if n_writes != 1 or last.continue_:
        raise refuse("appends to its output with continue=>1", last.line)
    if last.reset_to is not None or last.steady_state or last.t_start != 0.0:
        raise refuse("resets concentrations, runs to steady state or starts at t != 0 in "
                     "the measured phase", last.line)
    for ph in phases[:-1]:
        if ph.reset_to is not None:
            raise refuse("resets concentrations between phases", ph.line)
    conditions: dict[str, Condition] = {}
    n_pre = len(phases) - 1
    previous = None
    muts = [*mutant, *mutations(phases[0], True)]
    for k, ph in enumerate(phases):
        if k:
            # Parameters set so far persist; species settings do not repeat
            # (the phase starts from the state the one before ended in).
            muts = [m for m in muts if m.target in info.parameters] + mutations(ph, True)
        if ph is last:
            conditions[name] = Condition(name, tuple(muts), model=model)
            break
        cid = f"{name}__pre" if n_pre == 1 else f"{name}__pre{k + 1}"
        duration = None if ph.steady_state else ph.t_end - ph.t_start
        conditions[cid] = Condition(cid, tuple(muts), duration=duration, previous=previous,
                                    model=model)
        previous = cid
    return conditions, last.t_end, previous or ""


def _output_grid(config: PybnfConfig, part: ModelPart, run: Run) -> tuple[float, ...]:
    """The times the run's action writes (what a normalization is taken over)."""
    if part.bngl:
        from bngfit.pybnf.bngl._protocol import phases_for_data

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
