"""Compile a Problem against its model(s) into what one evaluation needs.

An *experiment* is a (pre-equilibration condition, simulation condition) pair:
one bngsim run, on the model its condition names. For each, the plan holds
the quantity (a function of theta) behind every model parameter and
overridden species, split once into the parts that are constant and the parts
that move with theta (:class:`PhaseMap`), and the outputs and sample grid to
simulate. The data points are gathered by observable across all experiments
into :class:`Group` s: one vectorised formula evaluation per observable and
evaluation, whose symbols read their values from the flat concatenation of all
experiments' outputs through index arrays fixed here (formula kernels:
:mod:`bngfit.observe._kernels`). Everything structural is decided here, once; an
evaluation only fills in numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.observe import NormSpec
from bngfit.observe._kernels import FormulaEval
from bngfit.problem import (
    PLACEHOLDER,
    TIME_SYMBOL,
    ModelInfo,
    Observable,
    Problem,
    TrajectoryPenalty,
)
from bngfit.problem._conditions import Const, Quantity, Theta
from bngfit.simulate._inputs import sample_grid

from ._gather import Gather, OperandBuilder, formula_eval, gather
from ._outputs import PenaltySpec, norm_spec, penalty_spec
from ._phases import PhaseMap, base_quantities, experiment_model, phase_quantities, pre_chain


@dataclass(frozen=True)
class Group:
    """The data points of one observable, across all experiments.

    Attributes
    ----------
    observable : Observable
        The observable.
    rows : ndarray of int, shape (n,)
        Its measurement indices.
    formula, noise : FormulaEval
        Its observable and noise formulas, compiled over those rows.
    """

    observable: Observable
    rows: np.ndarray
    formula: FormulaEval
    noise: FormulaEval


# ---------------------------------------------------------------- plan
@dataclass(frozen=True)
class Experiment:
    """One simulation: phases, outputs, sample grid.

    ``offset`` is where this experiment's outputs (``n_grid * n_out`` values,
    row-major) start in the flat output vector of an evaluation; ``model`` is
    the position of its model in :attr:`Problem.models <bngfit.problem.Problem.models>`
    (each model has its own engine).
    """

    preeq_id: str
    condition_id: str
    times: np.ndarray
    grid: tuple[float, ...]
    outputs: tuple[str, ...]
    main: PhaseMap
    pre: tuple[PhaseMap, ...]  # phases run before ``main``, first to last
    sens_params: tuple[str, ...]
    offset: int
    model: int = 0


@dataclass(frozen=True)
class Plan:
    """Everything an evaluation needs, decided once per problem.

    Attributes
    ----------
    experiments : tuple of Experiment
        The simulations, in the order their outputs are concatenated.
    groups : tuple of Group
        The data points by observable.
    n_theta, n_meas, n_flat : int
        Free parameters, measurements, and outputs of all experiments.
    sigma_rows : ndarray of int
        Measurement indices whose sigma varies with theta.
    h, sigma : Gather
        How the observables and noise scales at every measurement are filled.
    normalizations : tuple of NormSpec
        The compiled normalizations.
    penalties : tuple of PenaltySpec
        The compiled trajectory penalties.
    """

    experiments: tuple[Experiment, ...]
    groups: tuple[Group, ...]
    n_theta: int
    n_meas: int
    n_flat: int
    sigma_rows: np.ndarray
    h: Gather
    sigma: Gather
    normalizations: tuple[NormSpec, ...] = ()
    penalties: tuple[PenaltySpec, ...] = ()

    def observe(self, y: np.ndarray, dy: np.ndarray | None, theta: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
        """Observables and noise scales at every measurement.

        Parameters
        ----------
        y : ndarray, shape (n_flat,)
            All experiments' outputs, flat (see :attr:`Experiment.offset`).
        dy : ndarray, shape (n_flat, n_theta), or None
            Their derivatives (None: values only).
        theta : ndarray, shape (n_theta,)
            Free parameters, native values.

        Returns
        -------
        h, dh, sigma, dsigma : ndarray
            ``h`` and ``sigma`` of shape (n_meas,); ``dh`` and ``dsigma`` of
            shape (n_meas, n_theta), or None without ``dy``.
        """
        if self.h.warning_free and self.sigma.warning_free:
            return self.h.fill(y, dy, theta) + self.sigma.fill(y, dy, theta)
        with np.errstate(all="ignore"):
            return self.h.fill(y, dy, theta) + self.sigma.fill(y, dy, theta)


# A formula symbol's source in one experiment, by kind: "out" (position among the
# experiment's outputs), "qty" (a Quantity), "row" (the override table and the
# placeholder's 1-based number), "time" (None).
_Overrides: TypeAlias = "tuple[tuple[float | str, ...], ...]"
_Payload: TypeAlias = "int | Quantity | tuple[_Overrides, int] | None"


def compile_plan(problem: Problem) -> Plan:
    """Build the evaluation plan of a problem.

    Parameters
    ----------
    problem : Problem
        The problem, with its models' names.

    Returns
    -------
    Plan

    Raises
    ------
    UnsupportedError
        For feature combinations that cannot be differentiated exactly.
    """
    builder = _PlanBuilder(problem)
    for (pre, cid, steady), idx in _experiment_rows(problem).items():
        builder.add_experiment(pre, cid, idx, steady)
    return builder.plan()


def _experiment_rows(problem: Problem) -> dict[tuple[str, str, bool], list[int]]:
    """(pre-equilibration, condition, steady) -> its measurement indices, first seen first.

    Measurements at ``time = inf`` (the condition's steady state) are an
    experiment of their own (``steady``): the condition run to steady state. An
    experiment may have constraints but no data (an empty list).
    """
    meas = problem.measurements
    groups: dict[tuple[str, str, bool], list[int]] = {}
    for i in range(len(meas)):
        steady = bool(np.isinf(meas.time[i]))
        groups.setdefault((meas.preeq[i], meas.condition[i], steady), []).append(i)
    for pen in problem.penalties:
        groups.setdefault((pen.preeq, pen.condition, _at_steady_state(pen)), [])
    return groups


def _at_steady_state(pen: TrajectoryPenalty) -> bool:
    """Whether a penalty reads its condition's steady state (its one sample at inf)."""
    return bool(pen.times) and all(np.isinf(t) for t in pen.times)


class _PlanBuilder:
    """Adds experiments one by one, collecting their data points by observable."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.model_ids = list(problem.models)
        free = problem.free
        self.n_theta = len(free)
        self.problem_q = base_quantities(problem, {p.id: i for i, p in enumerate(free)})
        self.experiments: list[Experiment] = []
        self.sigma_rows: list[int] = []
        # observable id -> (row blocks, formula symbol builders, noise symbol builders)
        self.by_observable: dict[str, tuple[list[np.ndarray], list[OperandBuilder],
                                            list[OperandBuilder]]] = {}
        self.norm_specs: list[NormSpec] = []
        self.penalty_specs: list[PenaltySpec] = []
        self.offset = 0

    def add_experiment(self, pre: str, cid: str, idx: list[int], steady: bool = False) -> None:
        """Compile the experiment (``pre``, ``cid``) with measurement indices ``idx``.

        ``steady``: the measurements are at ``time = inf``. The condition then
        runs as a last pre-phase to steady state (settled as pre-equilibrations
        are), and the measured phase, the condition's parameters without its
        species values (already applied), is read at its start.
        """
        problem = self.problem
        model_id = experiment_model(problem, pre, cid)
        info = problem.models[model_id]
        main_p, main_s = phase_quantities(problem, cid, self.problem_q, info)
        pre_phases = [(c, *phase_quantities(problem, c, self.problem_q, info))
                      for c in pre_chain(problem, pre)]
        durations = [problem.conditions[c].duration for c, _, _ in pre_phases]
        if steady:
            pre_phases.append((cid, main_p, main_s))
            durations.append(None)
            main_s = {}
        sens = tuple(
            n for n in info.parameters
            if main_p[n].deps or any(pp[n].deps for _, pp, _ in pre_phases)
        )
        norms_here = [n for n in problem.normalizations if (n.preeq, n.condition) == (pre, cid)]
        pens_here = [p for p in problem.penalties if (p.preeq, p.condition) == (pre, cid)
                     and _at_steady_state(p) == steady]
        times = np.unique(np.concatenate([problem.measurements.time[np.array(idx, dtype=int)],
                                          *[np.asarray(n.times, float) for n in norms_here],
                                          *[np.asarray(p.times, float) for p in pens_here]]))
        if steady:
            if norms_here:
                raise UnsupportedError(f"condition '{cid}': normalizations at a steady state "
                                       "(time inf)")
            grid, grid_rows = sample_grid(np.zeros(1))  # read at the start of the phase
        else:
            grid, grid_rows = sample_grid(times)
        outputs: list[str] = []
        pending = self._observe(idx, info, main_p, outputs)
        for pen in pens_here:
            for name in pen.names:
                _add_output(info, name, outputs, pen.label)
        n_out = len(outputs)
        time_row = dict(zip(times.tolist(), grid_rows.tolist(), strict=True))
        for b, kind, payload, rows in pending:
            self._place(b, kind, payload, rows, time_row, n_out)
        specs_here = [norm_spec(problem, info, n, idx, outputs, time_row, self.offset, n_out)
                      for n in norms_here]
        self.norm_specs.extend(specs_here)
        for pen in pens_here:
            self.penalty_specs.append(penalty_spec(problem, info, pen, norms_here, specs_here,
                                                   outputs, time_row, self.offset, n_out))
        pre_maps = tuple(PhaseMap.build(pp, ps, sens, self.n_theta, d)
                         for (_, pp, ps), d in zip(pre_phases, durations, strict=True))
        self.experiments.append(Experiment(
            pre, cid, times, tuple(grid.tolist()), tuple(outputs),
            PhaseMap.build(main_p, main_s, sens, self.n_theta), pre_maps, sens, self.offset,
            self.model_ids.index(model_id)))
        self.offset += grid.size * n_out

    def _observe(self, idx: list[int], info: ModelInfo, main_p: dict[str, Quantity],
                 outputs: list[str]) -> list[tuple[OperandBuilder, str, _Payload, np.ndarray]]:
        """Resolve the formula symbols of the experiment's data points, by observable.

        The model outputs they read are added to ``outputs``; rows whose noise
        scale varies with theta to :attr:`sigma_rows`.

        Returns
        -------
        list of (OperandBuilder, kind, payload, rows)
            Each symbol's source (see ``_Payload``) at the rows of one
            observable, to place once the experiment's outputs are known.
        """
        meas = self.problem.measurements
        pending = []
        by_obs: dict[str, list[int]] = {}
        for i in idx:
            by_obs.setdefault(meas.observable[i], []).append(i)
        for oid, rws in by_obs.items():
            obs = self.problem.observables[oid]
            rows = np.array(rws)
            entry = self.by_observable.setdefault(
                oid, ([], [OperandBuilder() for _ in obs.formula.symbols],
                      [OperandBuilder() for _ in obs.noise.symbols]))
            entry[0].append(rows)
            varies = False
            for syms, builders, is_noise in ((obs.formula.symbols, entry[1], False),
                                             (obs.noise.symbols, entry[2], True)):
                for sym, b in zip(syms, builders, strict=True):
                    kind, payload = self._source(sym, obs, info, main_p, outputs)
                    pending.append((b, kind, payload, rows))
                    if is_noise:
                        varies |= self._source_varies(kind, payload, rows)
            if varies:
                self.sigma_rows.extend(rws)
        return pending

    def _source(self, sym: str, obs: Observable, info: ModelInfo, main_p: dict[str, Quantity],
                outputs: list[str]) -> tuple[str, _Payload]:
        """Where symbol ``sym`` of ``obs`` takes its values in this experiment.

        In order: the observable's own placeholder, a model output (added to
        ``outputs``), a model parameter, a problem parameter, time.

        Raises
        ------
        UnsupportedError
            The symbol is none of these.
        """
        meas = self.problem.measurements
        m = PLACEHOLDER.match(sym)
        if m and m.group(3) == obs.id:
            table = (meas.observable_params if m.group(1) == "observableParameter"
                     else meas.noise_params)
            return "row", (table, int(m.group(2)))
        sel = info.selector(sym)
        if sel is not None:
            if sel not in outputs:
                outputs.append(sel)
            return "out", outputs.index(sel)
        if sym in main_p:
            return "qty", main_p[sym]
        if sym in self.problem_q:
            return "qty", self.problem_q[sym]
        if sym == TIME_SYMBOL:
            return "time", None
        raise UnsupportedError(f"symbol '{sym}' cannot be resolved", id=obs.id, value=sym)

    def _source_varies(self, kind: str, payload: _Payload, rows: np.ndarray) -> bool:
        """Whether a source's values at ``rows`` depend on theta."""
        if kind == "out":
            return True
        if kind == "qty":
            return bool(payload.deps)
        if kind == "row":
            table, k = payload
            return any(isinstance(table[r][k - 1], str) and isinstance(
                self.problem_q[table[r][k - 1]], Theta) for r in rows)
        return False

    def _place(self, b: OperandBuilder, kind: str, payload: _Payload, rows: np.ndarray,
               time_row: dict[float, int], n_out: int) -> None:
        """Add a source's values at ``rows`` to its builder.

        Called once the experiment's outputs (``n_out`` of them) and the grid
        row of each time (``time_row``) are known.
        """
        t = self.problem.measurements.time[rows]
        if kind == "out":
            g = np.array([time_row[v] for v in t.tolist()], dtype=int)
            b.add_out(self.offset + g * n_out + payload)
        elif kind == "qty":
            b.add_quantity(payload, rows.size)
        elif kind == "row":
            table, k = payload
            for r in rows:
                v = table[r][k - 1]
                b.add_quantity(self.problem_q[v] if isinstance(v, str) else Const(float(v)), 1)
        else:  # time
            b.add_values(np.asarray(t, dtype=float).copy(), np.full(rows.size, -1))

    def plan(self) -> Plan:
        """The plan of the experiments added."""
        problem = self.problem
        groups = []
        for oid, (rows_list, f_builders, n_builders) in self.by_observable.items():
            obs = problem.observables[oid]
            rows = np.concatenate(rows_list)
            groups.append(Group(obs, rows,
                                formula_eval(obs.formula, f_builders, rows.size, oid),
                                formula_eval(obs.noise, n_builders, rows.size, oid)))
        n_meas = len(problem.measurements)
        h = gather(((g.rows, g.formula) for g in groups), n_meas, self.n_theta)
        sigma = gather(((g.rows, g.noise) for g in groups), n_meas, self.n_theta)
        return Plan(tuple(self.experiments), tuple(groups), self.n_theta, n_meas, self.offset,
                    np.array(sorted(self.sigma_rows), dtype=int), h, sigma,
                    tuple(self.norm_specs), tuple(self.penalty_specs))


def _add_output(info: ModelInfo, name: str, outputs: list[str], label: str) -> None:
    """Add the model output a penalty reads to ``outputs`` (once).

    Raises
    ------
    UnsupportedError
        ``name`` is no observable, function or species of the model.
    """
    sel = info.selector(name)
    if sel is None:
        raise UnsupportedError(f"{label}: '{name}' is no observable, function "
                               "or species of the model", value=name)
    if sel not in outputs:
        outputs.append(sel)
