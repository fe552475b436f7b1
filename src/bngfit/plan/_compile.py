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

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.observe._kernels import FormulaEval, Operand, compile_kernel
from bngfit.observe._transforms import NormSpec
from bngfit.problem._conditions import Const, MutationOp, Quantity, Theta, apply_mutation
from bngfit.problem._formulas import PLACEHOLDER, TIME_SYMBOL, Formula
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._problem import Observable, Problem
from bngfit.simulate._engine import sample_grid

from ._outputs import PenaltySpec, norm_spec, penalty_spec  # noqa: F401
from ._phases import PhaseMap


@dataclass(frozen=True)
class Group:
    """The data points of one observable, across all experiments."""

    observable: Observable
    rows: np.ndarray  # measurement indices, shape (n,)
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


class _Target:
    """Collects how the values of one per-measurement vector (h or sigma) arise.

    Constants go into a template, plain names of model outputs or of free
    parameters into one gather each (their derivatives, 0 or 1, into the
    derivative template); anything else stays a :class:`FormulaEval`.
    """

    def __init__(self, n: int, n_theta: int) -> None:
        self.values = np.zeros(n)
        self.derivs = np.zeros((n, n_theta))
        self.out_rows: list[np.ndarray] = []
        self.out_flat: list[np.ndarray] = []
        self.par_rows: list[np.ndarray] = []
        self.par_cols: list[np.ndarray] = []
        self.general: list[tuple[np.ndarray, FormulaEval]] = []

    def add(self, rows: np.ndarray, fe: FormulaEval) -> None:
        if fe.kernel.kind == "const":
            self.values[rows] = fe.kernel.const
            return
        op = fe.operands[0]
        if fe.kernel.kind in ("general", "product") or op.quantities:
            self.general.append((rows, fe))
        elif op.flat is not None:
            self.out_rows.append(rows)
            self.out_flat.append(op.flat)
        else:
            self.values[rows] = op.const
            self.par_rows.append(rows[op._tpos])
            self.par_cols.append(op._tcol)
            self.derivs[rows[op._tpos], op._tcol] = 1.0

    def build(self) -> dict:
        def cat(parts):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=int)

        for a in (self.values, self.derivs):
            a.setflags(write=False)
        return {"values": self.values, "derivs": self.derivs,
                "out_rows": cat(self.out_rows), "out_flat": cat(self.out_flat),
                "par_rows": cat(self.par_rows), "par_cols": cat(self.par_cols),
                "general": tuple(self.general)}


@dataclass(frozen=True)
class Plan:
    """Everything an evaluation needs, decided once per problem."""

    experiments: tuple[Experiment, ...]
    groups: tuple[Group, ...]
    n_theta: int
    n_meas: int
    n_flat: int
    sigma_rows: np.ndarray  # measurement indices whose sigma varies with theta
    normalizations: tuple[NormSpec, ...] = ()
    penalties: tuple = ()  # PenaltySpec, defined below

    def __post_init__(self) -> None:
        h = _Target(self.n_meas, self.n_theta)
        sig = _Target(self.n_meas, self.n_theta)
        for g in self.groups:
            h.add(g.rows, g.formula)
            sig.add(g.rows, g.noise)
        object.__setattr__(self, "_h", h.build())
        object.__setattr__(self, "_sig", sig.build())
        general = (*self._h["general"], *self._sig["general"])
        object.__setattr__(self, "_needs_errstate",
                           any(not fe.kernel.warning_free for _, fe in general))

    def observe(self, y: np.ndarray, dy: np.ndarray | None, theta: np.ndarray):
        """Observables and noise scales at every measurement.

        Parameters
        ----------
        y : ndarray, shape (n_flat,)
            All experiments' outputs, flat (see :attr:`Experiment.offset`).
        dy : ndarray, shape (n_flat, n_theta), or None
            Their derivatives (None: values only).
        theta : ndarray, shape (n_theta,)

        Returns
        -------
        h, sigma : ndarray, shape (n_meas,)
        dh, dsigma : ndarray, shape (n_meas, n_theta), or None without ``dy``
        """
        if self._needs_errstate:
            with np.errstate(all="ignore"):
                return self._fill(self._h, y, dy, theta) + self._fill(self._sig, y, dy, theta)
        return self._fill(self._h, y, dy, theta) + self._fill(self._sig, y, dy, theta)

    @staticmethod
    def _fill(t: dict, y, dy, theta) -> tuple[np.ndarray, np.ndarray | None]:
        v = t["values"].copy()
        # Derivatives that are the same at every evaluation (constants, plain
        # parameters) are the read-only template itself: no copy.
        varying = t["out_rows"].size or t["general"]
        d = None if dy is None else (t["derivs"].copy() if varying else t["derivs"])
        if t["out_rows"].size:
            v[t["out_rows"]] = y[t["out_flat"]]
            if d is not None:
                d[t["out_rows"]] = dy[t["out_flat"]]
        if t["par_rows"].size:
            v[t["par_rows"]] = theta[t["par_cols"]]
        for rows, fe in t["general"]:
            gv, gd = fe.evaluate(y, dy, theta)
            v[rows] = gv
            if d is not None:
                d[rows] = gd
        return v, d


def _pre_chain(problem: Problem, pre: str) -> list[str]:
    """The pre-phase conditions of an experiment, first to last.

    A pre-equilibration condition may name the condition run before it
    (:attr:`Condition.previous`); PEtab problems have at most one pre-phase.
    """
    chain: list[str] = []
    while pre:
        if pre in chain:
            raise UnsupportedError("pre-phases form a cycle: "
                                   + " -> ".join([*reversed(chain), pre]), id=pre)
        if pre not in problem.conditions:
            raise UnsupportedError("pre-phase condition is not defined", id=pre)
        chain.append(pre)
        pre = problem.conditions[pre].previous or ""
    return chain[::-1]


def _experiment_model(problem: Problem, pre: str, cid: str) -> str:
    """The model an experiment runs on: its condition's, which its pre-phases share."""
    if cid not in problem.conditions:
        raise UnsupportedError("simulation condition is not defined", id=cid)
    try:
        model_id = problem.model_id(cid)
        for c in _pre_chain(problem, pre):
            if problem.model_id(c) != model_id:
                raise UnsupportedError(
                    f"pre-phase condition '{c}' runs on model '{problem.model_id(c)}', "
                    f"condition '{cid}' on '{model_id}': a protocol runs on one model",
                    id=cid)
    except KeyError as err:
        raise UnsupportedError(str(err.args[0]), id=cid) from None
    return model_id


def _base_quantities(problem: Problem, theta_index: dict[str, int]) -> dict[str, Quantity]:
    """Problem parameters as quantities: free -> Theta, fixed -> Const(nominal)."""
    out: dict[str, Quantity] = {}
    for p in problem.parameters:
        out[p.id] = Theta(theta_index[p.id]) if p.estimate else Const(p.nominal)
    return out


def _value_quantity(value, problem_q: dict[str, Quantity]) -> Quantity:
    return Const(float(value)) if not isinstance(value, str) else problem_q[value]


def _phase(problem: Problem, cond_id: str, problem_q: dict[str, Quantity], info: ModelInfo):
    """Parameter and species quantities of a condition on its model (model
    defaults as base; a problem parameter binds the model parameter of its id,
    so a free parameter the model lacks is simply not there)."""
    params: dict[str, Quantity] = {}
    for name in (*info.parameters, *info.compartments):
        params[name] = problem_q.get(name, Const(info.defaults[name]))
    species: dict[str, Quantity] = {}
    cond = problem.conditions[cond_id]
    for mut in cond.mutations:
        operand = _value_quantity(mut.value, problem_q)
        if mut.target in info.species:
            if mut.op is not MutationOp.SET:
                raise UnsupportedError(
                    f"operator '{mut.op.value}' on species '{mut.target}' needs the "
                    "species' initial value; only '=' is supported for species",
                    id=cond_id, value=f"{mut.target} {mut.op.value} {mut.value}")
            species[mut.target] = operand
        elif mut.target in params:
            params[mut.target] = apply_mutation(params[mut.target], mut.op, operand)
        else:
            raise UnsupportedError(
                "condition changes something that is no model parameter, species or "
                "compartment", id=cond_id, value=mut.target)
    for comp in info.compartments:
        if params[comp].deps:
            raise UnsupportedError(
                f"compartment '{comp}' would depend on an estimated parameter in condition "
                f"'{cond_id}'; bngsim has no sensitivities with respect to volumes, so fix "
                "its value", id=cond_id, value=comp)
    return params, species


class _OperandBuilder:
    """Collects one symbol's per-row sources over the blocks of a group."""

    def __init__(self) -> None:
        self.flat: list[np.ndarray] = []
        self.const: list[np.ndarray] = []
        self.tidx: list[np.ndarray] = []
        self.quantities: list[tuple[np.ndarray, Quantity]] = []
        self.n = 0

    def add_out(self, flat: np.ndarray) -> None:
        self.flat.append(flat)
        self.n += flat.size

    def add_values(self, const: np.ndarray, tidx: np.ndarray) -> None:
        self.const.append(const)
        self.tidx.append(tidx)
        self.n += const.size

    def add_quantity(self, q: Quantity, n: int) -> None:
        if isinstance(q, Theta):
            self.add_values(np.zeros(n), np.full(n, q.index, dtype=int))
        elif not q.deps:
            self.add_values(np.full(n, float(q.eval(np.zeros(0))[0])),
                            np.full(n, -1, dtype=int))
        else:
            self.quantities.append((np.arange(self.n, self.n + n), q))
            self.add_values(np.zeros(n), np.full(n, -1, dtype=int))

    def build(self, symbol: str, observable: str) -> Operand:
        if self.flat:
            if self.const:  # only with several models: one's output, another's parameter
                raise UnsupportedError(
                    f"'{symbol}' is a model output in one condition and a parameter in "
                    "another (of another model); bngfit reads a formula symbol one way",
                    id=observable, value=symbol)
            return Operand(np.concatenate(self.flat))
        return Operand(None, np.concatenate(self.const), np.concatenate(self.tidx),
                       tuple(self.quantities))


def compile_plan(problem: Problem) -> Plan:
    """Build the evaluation plan of a problem.

    Raises
    ------
    UnsupportedError
        For feature combinations that cannot be differentiated exactly.
    """
    model_ids = list(problem.models)
    free = problem.free
    n_theta = len(free)
    theta_index = {p.id: i for i, p in enumerate(free)}
    problem_q = _base_quantities(problem, theta_index)
    meas = problem.measurements
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(len(meas)):
        groups.setdefault((meas.preeq[i], meas.condition[i]), []).append(i)
    for pen in problem.penalties:  # an experiment may have constraints but no data
        groups.setdefault((pen.preeq, pen.condition), [])

    experiments = []
    sigma_rows: list[int] = []
    # observable id -> (rows, formula builders, noise builders)
    by_observable: dict[str, tuple[list[np.ndarray], list, list]] = {}
    norm_specs: list[NormSpec] = []
    penalty_specs: list[PenaltySpec] = []
    offset = 0
    for (pre, cid), idx in groups.items():
        model_id = _experiment_model(problem, pre, cid)
        info = problem.models[model_id]
        main_p, main_s = _phase(problem, cid, problem_q, info)
        pre_phases = [(c, *_phase(problem, c, problem_q, info))
                      for c in _pre_chain(problem, pre)]
        sens = tuple(
            n for n in info.parameters
            if main_p[n].deps or any(pp[n].deps for _, pp, _ in pre_phases)
        )
        idx_arr = np.array(idx, dtype=int)
        norms_here = [n for n in problem.normalizations if (n.preeq, n.condition) == (pre, cid)]
        pens_here = [p for p in problem.penalties if (p.preeq, p.condition) == (pre, cid)]
        times = np.unique(np.concatenate([meas.time[idx_arr],
                                          *[np.asarray(n.times, float) for n in norms_here],
                                          *[np.asarray(p.times, float) for p in pens_here]]))
        grid, grid_rows = sample_grid(times)
        outputs: list[str] = []
        pending = []  # (builder, kind, payload, rows) resolved once outputs are known

        def source(sym: str, rows: np.ndarray, obs: Observable, *, _main_p=main_p,
                   _outputs=outputs, info=info):
            m = PLACEHOLDER.match(sym)
            if m and m.group(3) == obs.id:
                table = (meas.observable_params if m.group(1) == "observableParameter"
                         else meas.noise_params)
                return "row", (table, int(m.group(2)))
            sel = info.selector(sym)
            if sel is not None:
                if sel not in _outputs:
                    _outputs.append(sel)
                return "out", _outputs.index(sel)
            if sym in _main_p:
                return "qty", _main_p[sym]
            if sym in problem_q:
                return "qty", problem_q[sym]
            if sym == TIME_SYMBOL:
                return "time", None
            raise UnsupportedError(f"symbol '{sym}' cannot be resolved", id=obs.id,
                                   value=sym)

        by_obs: dict[str, list[int]] = {}
        for i in idx:
            by_obs.setdefault(meas.observable[i], []).append(i)
        for oid, rws in by_obs.items():
            obs = problem.observables[oid]
            rows = np.array(rws)
            entry = by_observable.setdefault(
                oid, ([], [_OperandBuilder() for _ in obs.formula.symbols],
                      [_OperandBuilder() for _ in obs.noise.symbols]))
            entry[0].append(rows)
            varies = False
            for syms, builders, is_noise in ((obs.formula.symbols, entry[1], False),
                                             (obs.noise.symbols, entry[2], True)):
                for sym, b in zip(syms, builders, strict=True):
                    kind, payload = source(sym, rows, obs)
                    pending.append((b, kind, payload, rows))
                    if is_noise:
                        varies |= _source_varies(kind, payload, rows, problem_q)
            if varies:
                sigma_rows.extend(rws)
        for pen in pens_here:
            for name in pen.names:
                sel = info.selector(name)
                if sel is None:
                    raise UnsupportedError(f"{pen.label}: '{name}' is no observable, function "
                                           "or species of the model", value=name)
                if sel not in outputs:
                    outputs.append(sel)
        n_out = len(outputs)
        time_row = dict(zip(times.tolist(), grid_rows.tolist(), strict=True))
        for b, kind, payload, rows in pending:
            t = meas.time[rows]
            if kind == "out":
                g = np.array([time_row[v] for v in t.tolist()], dtype=int)
                b.add_out(offset + g * n_out + payload)
            elif kind == "qty":
                b.add_quantity(payload, rows.size)
            elif kind == "row":
                table, k = payload
                for r in rows:
                    v = table[r][k - 1]
                    b.add_quantity(problem_q[v] if isinstance(v, str) else Const(float(v)),
                                   1)
            else:  # time
                b.add_values(np.asarray(t, dtype=float).copy(), np.full(rows.size, -1))
        specs_here = [norm_spec(problem, info, n, idx, outputs, time_row, offset, n_out)
                      for n in norms_here]
        norm_specs.extend(specs_here)
        for pen in pens_here:
            penalty_specs.append(penalty_spec(problem, info, pen, norms_here, specs_here,
                                               outputs, time_row, offset, n_out))
        pre_maps = tuple(PhaseMap(pp, ps, sens, n_theta, problem.conditions[c].duration)
                         for c, pp, ps in pre_phases)
        experiments.append(Experiment(pre, cid, times, tuple(grid.tolist()), tuple(outputs),
                                      PhaseMap(main_p, main_s, sens, n_theta), pre_maps, sens,
                                      offset, model_ids.index(model_id)))
        offset += grid.size * n_out

    plan_groups = []
    for oid, (rows_list, f_builders, n_builders) in by_observable.items():
        obs = problem.observables[oid]
        rows = np.concatenate(rows_list)
        plan_groups.append(Group(obs, rows,
                                 _formula_eval(obs.formula, f_builders, rows.size, oid),
                                 _formula_eval(obs.noise, n_builders, rows.size, oid)))
    return Plan(tuple(experiments), tuple(plan_groups), n_theta, len(meas), offset,
                np.array(sorted(sigma_rows), dtype=int), tuple(norm_specs),
                tuple(penalty_specs))


def _source_varies(kind: str, payload, rows: np.ndarray, problem_q) -> bool:
    if kind == "out":
        return True
    if kind == "qty":
        return bool(payload.deps)
    if kind == "row":
        table, k = payload
        return any(isinstance(table[r][k - 1], str) and isinstance(
            problem_q[table[r][k - 1]], Theta) for r in rows)
    return False


def _formula_eval(formula: Formula, builders: list[_OperandBuilder], n: int,
                  observable: str) -> FormulaEval:
    operands = tuple(b.build(sym, observable)
                     for sym, b in zip(formula.symbols, builders, strict=True))
    wrt = tuple(j for j, op in enumerate(operands) if op.varies)
    return FormulaEval(compile_kernel(formula, wrt), operands, n)
