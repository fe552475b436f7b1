"""Compile a Problem against its model into what one evaluation needs.

An *experiment* is a (pre-equilibration condition, simulation condition) pair:
one bngsim run. For each, the plan holds the quantity (a function of theta)
behind every model parameter and overridden species, the outputs and times to
sample, and one *block* per observable with how each symbol of its formulas is
obtained. Everything structural is decided here, once; an evaluation only
fills in numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conditions import Const, MutationOp, Quantity, Theta, apply_mutation
from .errors import UnsupportedError
from .formulas import Formula
from .petab_io import PLACEHOLDER, TIME_SYMBOL
from .problem import Observable, Problem


@dataclass(frozen=True)
class Arg:
    """How one formula symbol gets its values at the rows of a block.

    kind is ``"out"`` (column ``index`` of the experiment's outputs), ``"time"``,
    ``"qty"`` (one :class:`Quantity` for all rows) or ``"row"`` (per-row
    constants ``const`` or free parameters ``theta_idx`` >= 0).
    """

    kind: str
    index: int = -1
    qty: Quantity | None = None
    const: np.ndarray | None = None
    theta_idx: np.ndarray | None = None


@dataclass(frozen=True)
class Block:
    """The data points of one observable in one experiment."""

    observable: Observable
    rows: np.ndarray  # measurement indices, shape (n,)
    time_idx: np.ndarray  # index into the experiment's times, shape (n,)
    formula_args: tuple[Arg, ...]
    noise_args: tuple[Arg, ...]
    noise_varies: bool  # sigma depends on theta (directly or through states)


@dataclass(frozen=True)
class Experiment:
    """One simulation: phases, outputs, times, blocks."""

    preeq_id: str
    condition_id: str
    times: np.ndarray
    outputs: tuple[str, ...]
    main_params: dict[str, Quantity]
    main_species: dict[str, Quantity]
    preeq_params: dict[str, Quantity] | None
    preeq_species: dict[str, Quantity] | None
    sens_params: tuple[str, ...]
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Plan:
    """Everything an evaluation needs, decided once per problem."""

    experiments: tuple[Experiment, ...]
    n_theta: int
    n_meas: int
    sigma_rows: np.ndarray  # measurement indices whose sigma varies with theta


def _base_quantities(problem: Problem, theta_index: dict[str, int]) -> dict[str, Quantity]:
    """Problem parameters as quantities: free -> Theta, fixed -> Const(nominal)."""
    out: dict[str, Quantity] = {}
    for p in problem.parameters:
        out[p.id] = Theta(theta_index[p.id]) if p.estimate else Const(p.nominal)
    return out

def _value_quantity(value, problem_q: dict[str, Quantity]) -> Quantity:
    return Const(float(value)) if not isinstance(value, str) else problem_q[value]


def _phase(problem: Problem, cond_id: str, problem_q: dict[str, Quantity]):
    """Parameter and species quantities of a condition (model defaults as base)."""
    info = problem.model
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


def _row_arg(block_rows, overrides, n: int, problem_q, theta_index) -> Arg:
    const = np.zeros(block_rows.size)
    tidx = np.full(block_rows.size, -1, dtype=int)
    for k, r in enumerate(block_rows):
        v = overrides[r][n - 1]
        if isinstance(v, str):
            q = problem_q[v]
            if isinstance(q, Theta):
                tidx[k] = q.index
            else:
                const[k] = q.value
        else:
            const[k] = v
    return Arg("row", const=const, theta_idx=tidx)


def compile_plan(problem: Problem) -> Plan:
    """Build the evaluation plan of a problem.

    Raises
    ------
    UnsupportedError
        For feature combinations that cannot be differentiated exactly.
    """
    info = problem.model
    free = problem.free
    theta_index = {p.id: i for i, p in enumerate(free)}
    problem_q = _base_quantities(problem, theta_index)
    meas = problem.measurements
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(len(meas)):
        groups.setdefault((meas.preeq[i], meas.condition[i]), []).append(i)

    experiments = []
    sigma_rows: list[int] = []
    for (pre, cid), idx in groups.items():
        main_p, main_s = _phase(problem, cid, problem_q)
        pre_p = pre_s = None
        if pre:
            pre_p, pre_s = _phase(problem, pre, problem_q)
        sens = tuple(
            n for n in info.parameters
            if main_p[n].deps or (pre_p is not None and pre_p[n].deps)
        )
        idx_arr = np.array(idx)
        times = np.unique(meas.time[idx_arr])
        outputs: list[str] = []

        def arg_for(sym: str, rows: np.ndarray, obs: Observable, *, _main_p=main_p,
                    _outputs=outputs) -> Arg:
            m = PLACEHOLDER.match(sym)
            if m and m.group(3) == obs.id:
                table = (meas.observable_params if m.group(1) == "observableParameter"
                         else meas.noise_params)
                return _row_arg(rows, table, int(m.group(2)), problem_q, theta_index)
            sel = info.selector(sym)
            if sel is not None:
                if sel not in _outputs:
                    _outputs.append(sel)
                return Arg("out", index=_outputs.index(sel))
            if sym in _main_p:
                return Arg("qty", qty=_main_p[sym])
            if sym in problem_q:
                return Arg("qty", qty=problem_q[sym])
            if sym == TIME_SYMBOL:
                return Arg("time")
            raise UnsupportedError(f"symbol '{sym}' cannot be resolved", id=obs.id,
                                   value=sym)

        blocks = []
        by_obs: dict[str, list[int]] = {}
        for i in idx:
            by_obs.setdefault(meas.observable[i], []).append(i)
        for oid, rws in by_obs.items():
            obs = problem.observables[oid]
            rows = np.array(rws)
            f_args = tuple(arg_for(s, rows, obs) for s in obs.formula.symbols)
            n_args = tuple(arg_for(s, rows, obs) for s in obs.noise.symbols)
            varies = any(_arg_varies(a) for a in n_args)
            if varies:
                sigma_rows.extend(rws)
            blocks.append(Block(obs, rows, np.searchsorted(times, meas.time[rows]), f_args,
                                n_args, varies))
        experiments.append(Experiment(pre, cid, times, tuple(outputs), main_p, main_s,
                                      pre_p, pre_s, sens, tuple(blocks)))
    return Plan(tuple(experiments), len(free), len(meas), np.array(sorted(sigma_rows),
                                                                    dtype=int))


def _arg_varies(a: Arg) -> bool:
    if a.kind == "out":
        return True
    if a.kind == "qty":
        return bool(a.qty.deps)
    if a.kind == "row":
        return bool(np.any(a.theta_idx >= 0))
    return False


def eval_args(args: tuple[Arg, ...], block: Block, times: np.ndarray, y: np.ndarray,
              dy: np.ndarray | None, theta: np.ndarray):
    """Values (n, m) and derivatives (n, m, n_theta) of a formula's symbols."""
    n = block.rows.size
    nth = theta.size
    vals = np.empty((n, len(args)))
    ders = np.zeros((n, len(args), nth)) if dy is not None else None
    for j, a in enumerate(args):
        if a.kind == "out":
            vals[:, j] = y[block.time_idx, a.index]
            if ders is not None:
                ders[:, j, :] = dy[block.time_idx, a.index, :]
        elif a.kind == "qty":
            v, g = a.qty.eval(theta)
            vals[:, j] = v
            if ders is not None:
                ders[:, j, :] = g
        elif a.kind == "row":
            sel = a.theta_idx >= 0
            vals[:, j] = np.where(sel, theta[np.maximum(a.theta_idx, 0)], a.const)
            if ders is not None and sel.any():
                ders[np.nonzero(sel)[0], j, a.theta_idx[sel]] = 1.0
        else:  # time
            vals[:, j] = times[block.time_idx]
    return vals, ders


def eval_formula(formula: Formula, args, block, times, y, dy, theta):
    """Formula value (n,) and d/dtheta (n, n_theta) (None without dy)."""
    vals, ders = eval_args(args, block, times, y, dy, theta)
    n = block.rows.size
    value, partials = formula.evaluate([vals[:, j] for j in range(vals.shape[1])], n)
    if ders is None:
        return value, None
    grad = np.einsum("nm,nmt->nt", partials, ders) if args else np.zeros((n, theta.size))
    return value, grad


