"""A BNGL template's protocol as conditions: pre-phases, the measured phase, and
parameter scans (part of the PyBNF builder core).

A data file is compared with the action of its suffix
(:func:`~bngfit.pybnf.bngl._protocol.phases_for_data`). The phases before that
action become a chain of pre-phase conditions; the action itself becomes the
measured condition, or, for a ``parameter_scan``, one measured condition per
scan point the data name (:class:`Measured`).

Scans, with BioNetGen's semantics (:mod:`bngfit.pybnf.bngl._scan`):

- measured, ``reset_conc=>1``: point k is the condition ``NAME__scanK`` (K =
  k + 1): the changes pending before the scan, then the scanned parameter set
  to its value, run from the end of the pre-phase chain (shared by every
  point) for the scan's span; its data rows are measured at ``t_end``, or at
  steady state (``time = inf``) with ``steady_state=>1``;
- measured, ``reset_conc=>0``: point k runs after points 0..k-1, each a
  pre-phase ``NAME__scanJ__run`` continuing from the one before (point k's
  chain is k phases longer than point 0's);
- before the measured action, ``reset_conc=>1``: the scan leaves the species
  where they were and the parameter at its last value (a change of the next
  phase); ``reset_conc=>0``: its points are pre-phases in turn.

The scanned parameter is set (``=``), so no gradient flows into it; every free
parameter's does, through each point's simulation (a parameter derived from
the scanned one and free ones keeps its chain rule: bngsim derives it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bngfit.errors import InputError, Issue, UnsupportedError
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._model_info import ModelInfo
from bngfit.pybnf._exp import ExpTable
from bngfit.pybnf.bngl._protocol import Phase, phases_for_data
from bngfit.pybnf.bngl._scan import MATCH_RTOL, Scan


@dataclass(frozen=True)
class Measured:
    """The conditions of one data file's simulation.

    Attributes
    ----------
    conditions : dict of str to Condition
        Pre-phases and measured conditions.
    t_end : float
        The measured phase's span (a scan: each point's).
    preeq : str
        The last pre-phase of a time course (empty: none).
    rows : tuple of (str, str) or None
        A scan: each data row's (pre-phase, measured condition), in table
        order. None: a time course, measured in the data file's own condition.
    time : float
        A scan: the time every row is measured at (``t_end``, or ``inf`` for
        steady state).
    scan : Scan or None
        A scan: its points.
    points : tuple of (int, str, str)
        A scan: (point index, pre-phase, condition) of every point simulated.
    warnings : tuple of Issue
        What the data file's reading changed (severity ``"warning"``).
    """

    conditions: dict[str, Condition]
    t_end: float
    preeq: str = ""
    rows: tuple[tuple[str, str], ...] | None = None
    time: float = math.nan
    scan: Scan | None = None
    points: tuple[tuple[int, str, str], ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def scanned(self) -> str:
        """A scan: the model name it sets (its dose-response plot's x axis); else ""."""
        return "" if self.scan is None else self.scan.parameter


def not_replayed(suffix: str, why: str, line: int, f: str) -> UnsupportedError:
    """The error refusing a protocol bngfit does not replay."""
    return UnsupportedError(f"the protocol of '{suffix}' {why}, which bngfit does not "
                            "replay yet", file=f, row=line, id=suffix)


def protocol_conditions(name: str, suffix: str, table: ExpTable | None,
                        all_phases: tuple[Phase, ...], mutant: tuple[Mutation, ...],
                        info: ModelInfo, f: str, model: str,
                        extra_points: Sequence[int] = ()) -> Measured:
    """Conditions of data file ``name``'s protocol on model ``model``.

    The mutant's statements (if any) come first, then each phase's
    ``setParameter`` / ``setConcentration`` actions. As in BioNetGen, a
    parameter once set stays set in every later phase, and so do the
    mutant's; species settings apply at the start of the phase they precede.
    Pre-phases are ``<name>__pre`` (one) or ``<name>__pre1``, ``<name>__pre2``,
    ..., each run for its duration (to steady state with ``steady_state=>1``),
    chained first to last, sensitivities carried throughout.

    Parameters
    ----------
    name : str
        The run's name (its measured condition's id, or the stem of a scan's).
    suffix : str
        The action suffix the data file is compared with.
    table : ExpTable or None
        The data (None: a constraint file's simulation, without data).
    all_phases : tuple of Phase
    mutant : tuple of Mutation
    info : ModelInfo
    f : str
        The template (for messages).
    model : str
    extra_points : sequence of int
        A scan: points simulated besides those the data name (the points its
        constraints read).

    Raises
    ------
    InputError
        A data table of the wrong kind for its action, a row that is no scan
        point, a scanned or set name that is no parameter of the model.
    UnsupportedError
        A protocol bngfit does not replay (see :func:`check_replayable`).
    """
    idx = phases_for_data(all_phases, suffix)  # not empty: the runs matched the suffix
    phases = all_phases[: idx[0] + 1]
    check_replayable(phases, len(idx), suffix, f)
    last = phases[-1]
    warnings = _check_table_kind(table, last, suffix, f, info)
    conditions: dict[str, Condition] = {}
    state = _Settings(mutant, info, suffix, f)
    # resetConcentrations() back to the model's initial state: the phases
    # before it leave only their parameter settings behind
    start = max((i for i, ph in enumerate(phases) if ph.reset_to == 0), default=0)
    for ph in phases[:start]:
        state.apply(ph)
    steps = _pre_steps(phases[start:-1], state, info, f)
    previous = None
    for k, (muts, duration) in enumerate(steps):
        cid = f"{name}__pre" if len(steps) == 1 else f"{name}__pre{k + 1}"
        conditions[cid] = Condition(cid, muts, duration=duration, previous=previous,
                                    model=model)
        previous = cid
    first = not steps
    species = state.apply(last)
    if last.scan is None:
        conditions[name] = Condition(name, (*state.current(first), *species), model=model)
        return Measured(conditions, last.t_end, previous or "")
    out = _measured_scan(name, table, last, state, first, species, previous, conditions, f,
                         model, extra_points)
    return dataclasses.replace(out, warnings=warnings)


class _Settings:
    """The parameter settings in force as a protocol runs, and the mutant under them.

    A mutant changes the model itself (PyBNF writes the mutated values into
    the model), so it holds in every phase, ``resetParameters`` included; its
    species changes set the initial state, so only the first phase run from
    it takes them. ``setParameter`` settings persist from phase to phase until
    ``resetParameters`` takes them back (a value ``None`` in
    :attr:`Phase.set_params`: the model's own value again).
    """

    def __init__(self, mutant: tuple[Mutation, ...], info: ModelInfo, suffix: str,
                 f: str) -> None:
        self.mutant = mutant
        self.mutant_params = tuple(m for m in mutant if m.target in info.parameters)
        self.info, self.suffix, self.f = info, suffix, f
        self.set: list[Mutation] = []

    def apply(self, ph: Phase) -> list[Mutation]:
        """Take a phase's parameter settings into force; return its species settings."""
        for target, value in ph.set_params:  # in order: a reset undoes what came before
            if value is None:
                self.set = [m for m in self.set if m.target != target]
            else:
                self.set.append(param_mutation(ph, target, value, self.info, self.suffix,
                                               self.f))
        return species_mutations(ph, self.info, self.suffix, self.f)

    def point(self, name: str, value: float) -> Mutation:
        """Set a scanned parameter (it keeps the value, as in BioNetGen); the setting."""
        m = Mutation(name, MutationOp.SET, float(value))
        self.set.append(m)
        return m

    def current(self, first: bool) -> tuple[Mutation, ...]:
        """The mutations of a phase: the mutant (whole in the first phase run from
        the initial state) and the parameter settings in force.
        """
        return (*(self.mutant if first else self.mutant_params), *self.set)


def _pre_steps(phases: Sequence[Phase], state: _Settings, info: ModelInfo, f: str
               ) -> list[tuple[tuple[Mutation, ...], float | None]]:
    """Each pre-phase run as (its mutations, its duration; None: to steady state).

    A scan with ``reset_conc=>1`` runs no pre-phase of its own (the species
    are back where it started, its species settings still pending for the
    next phase, where the protocol reader put them again); its parameter
    settings stay in force. With ``reset_conc=>0`` each of its points is a run.
    """
    steps: list[tuple[tuple[Mutation, ...], float | None]] = []
    for ph in phases:
        duration = None if ph.steady_state else ph.t_end - ph.t_start
        species = state.apply(ph)
        if ph.scan is None:
            steps.append(((*state.current(not steps), *species), duration))
            continue
        check_scanned(ph, info, f)
        if ph.scan.reset_conc:
            continue
        for j, v in enumerate(ph.scan.values):
            first = not steps
            state.point(ph.scan.parameter, v)
            steps.append(((*state.current(first), *(species if j == 0 else ())), duration))
    return steps


def _measured_scan(name: str, table: ExpTable | None, last: Phase, state: _Settings,
                   first: bool, species: list[Mutation], previous: str | None,
                   conditions: dict[str, Condition], f: str, model: str,
                   extra_points: Sequence[int]) -> Measured:
    """The measured conditions of a scan: one per point the data name (see module doc).

    ``first``: no phase ran before the scan (the mutant's species changes
    apply to its first point); ``species``: its pending species settings.
    """
    scan = last.scan
    assert scan is not None
    check_scanned(last, state.info, f)
    if table is None and not extra_points:
        raise UnsupportedError(f"the parameter scan '{name}' has neither data nor "
                               "constraints that read one of its points", file=f,
                               row=last.line, id=name)
    points = ([] if table is None
              else match_rows(table, scan, f"parameter_scan of {f}, line {last.line}"))
    simulated = sorted(set(points) | set(extra_points))
    duration = None if last.steady_state else last.t_end - last.t_start
    base = previous or ""

    def muts(k: int) -> tuple[Mutation, ...]:
        # point k from the scan's start state (every point with reset_conc=>1)
        # takes the pending species settings; a continued point does not
        fresh = k == 0 or scan.reset_conc
        return (*state.current(first and fresh), *(species if fresh else ()),
                Mutation(scan.parameter, MutationOp.SET, float(scan.values[k])))

    pre_of: dict[int, str] = dict.fromkeys(simulated, base)
    if not scan.reset_conc:
        # each point continues from the one before: points 0..max as a chain
        chain_prev = previous
        for j in range(max(simulated) + 1):
            pre_of[j] = chain_prev or ""
            cid = f"{name}__scan{j + 1}__run"
            conditions[cid] = Condition(cid, muts(j), duration=duration,
                                        previous=chain_prev, model=model)
            chain_prev = cid
    for k in simulated:
        cid = f"{name}__scan{k + 1}"
        conditions[cid] = Condition(cid, muts(k), model=model)
    rows = tuple((pre_of[k], f"{name}__scan{k + 1}") for k in points)
    time = math.inf if last.steady_state else last.t_end - last.t_start
    return Measured(conditions, last.t_end - last.t_start, base,
                    rows if table is not None else None, time, scan,
                    tuple((k, pre_of[k], f"{name}__scan{k + 1}") for k in simulated))


def match_rows(table: ExpTable, scan: Scan, where: str) -> list[int]:
    """The scan point of each data row (PyBNF's match, see :mod:`~bngfit.pybnf.bngl._scan`).

    Raises
    ------
    InputError
        A row whose value is no scan point (naming the file, line, value and
        the points).
    """
    out = []
    for x, line in zip(table.time, table.lines, strict=True):
        k = scan.point_of(float(x))
        if k is None:
            raise InputError(
                f"{scan.parameter} = {x:g} is not a point of the {where} ({scan.how}: "
                f"{scan.describe_points()}); PyBNF compares a row only with the point of "
                f"its value (to a relative {MATCH_RTOL:g})", file=table.path, row=int(line),
                id=scan.parameter, value=f"{x:g}")
        out.append(k)
    return out


def check_scanned(phase: Phase, info: ModelInfo, f: str) -> None:
    """Refuse a scan of a name that is no independent parameter of the model."""
    assert phase.scan is not None
    name = phase.scan.parameter
    if name not in info.parameters:
        raise InputError(f"parameter_scan scans '{name}', which is no independent "
                         "parameter of the model (bngfit does not scan a parameter "
                         "defined by an expression of others: scan one it is made of)",
                         file=f, row=phase.line, id=name)


def _check_table_kind(table: ExpTable | None, last: Phase, suffix: str, f: str,
                      info: ModelInfo) -> tuple[Issue, ...]:
    """A scan's data name the scanned parameter first; a time course's, time.

    A scan's data may name a model output instead, as PyBNF allows: PyBNF
    then matches each row with the point where that output's simulated value
    equals the row's; bngfit matches it with the point of that value of the
    scanned parameter, and warns (the same points where the output follows
    the parameter, as in PyBNF's constraint_raf example).
    """
    if table is None:
        return ()
    scan = last.scan
    if scan is not None and table.x_name != scan.parameter \
            and info.selector(table.x_name) is not None:
        return (Issue("warning", f"the first column is the model output "
                      f"'{table.x_name}', not the scanned parameter '{scan.parameter}': "
                      "PyBNF matches each row with the point where the simulated "
                      f"'{table.x_name}' equals the row's value; bngfit matches it with "
                      f"the point where '{scan.parameter}' does", table.path,
                      table.header_line, id=table.x_name, affects_result=True),)
    if last.scan is None and table.is_scan:
        raise InputError(f"the first column is '{table.x_name}', but the action of suffix "
                         f"'{suffix}' ({f}, line {last.line}) is a time course: its data "
                         "start with a time column", file=table.path, row=table.header_line,
                         id=table.x_name)
    if last.scan is not None and table.x_name != last.scan.parameter:
        raise InputError(f"the first column is '{table.x_name}', but the action of suffix "
                         f"'{suffix}' ({f}, line {last.line}) scans "
                         f"'{last.scan.parameter}': its data start with a column of that "
                         "name", file=table.path, row=table.header_line, id=table.x_name)
    return ()


def check_replayable(phases: tuple[Phase, ...], n_writes: int, suffix: str, f: str) -> None:
    """Refuse a protocol whose measured phase (the last) bngfit cannot replay."""
    last = phases[-1]
    if n_writes != 1 or last.continue_:
        raise not_replayed(suffix, "appends to its output with continue=>1", last.line, f)
    if (last.steady_state and last.scan is None) or last.t_start != 0.0:
        raise not_replayed(suffix, "runs to steady state or starts at t != 0 in the "
                           "measured phase", last.line, f)
    for ph in phases:
        if ph.reset_to not in (None, 0):
            raise not_replayed(suffix, "resets concentrations to a saved state (only "
                               "resetConcentrations() to the model's initial state is "
                               "replayed)", ph.line, f)


def param_mutation(phase: Phase, target: str, value: float | str, info: ModelInfo,
                   suffix: str, f: str) -> Mutation:
    """One ``setParameter`` of a phase as a mutation (a number, of an independent parameter)."""
    if isinstance(value, str):
        raise not_replayed(suffix, f"sets '{target}' to an expression ({value})",
                           phase.line, f)
    if target not in info.parameters:
        raise InputError(f"setParameter names '{target}', which is no independent "
                         "parameter of the model", file=f, row=phase.line, id=target)
    return Mutation(target, MutationOp.SET, float(value))


def species_mutations(phase: Phase, info: ModelInfo, suffix: str, f: str
                      ) -> list[Mutation]:
    """A phase's ``setConcentration`` actions as mutations."""
    out = []
    for pattern, value in phase.set_species:
        if isinstance(value, str):
            raise not_replayed(suffix, f"sets '{pattern}' to an expression ({value})",
                               phase.line, f)
        if pattern not in info.species:
            raise not_replayed(suffix, f"sets the concentration of '{pattern}', which is not "
                               "one species of the network by that exact name", phase.line, f)
        out.append(Mutation(pattern, MutationOp.SET, float(value)))
    return out
