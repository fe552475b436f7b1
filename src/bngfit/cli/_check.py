"""``bngfit check-grad``: the exact gradient (or residual Jacobian) against finite differences."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.objective._gradcheck import (
    DEFAULT_MULTI_EPS,
    PLAIN_FROM,
    Agreement,
    FdValues,
    Progress,
    check_grad,
    check_grad_multi_eps,
    check_res,
    check_res_multi_eps,
    describe,
    fd_sensi,
    judged,
)
from bngfit.objective._status import EvalStatus
from bngfit.problem._problem import Problem
from bngfit.result._bounds import near_bounds

from . import _args as cli_args
from ._common import SimulationError, num, objective_and_point, tolerance_line

HELP = "Compare the exact gradient (or residual Jacobian) with finite differences."
LABELS = ("rel_err", "abs_err", "fd_err")
FD_VALUES_TEXT = {
    FdValues.AUTO: f"value only from {PLAIN_FROM} free parameters on, then the parameters "
                   "that do not agree again as sensi; below that, as sensi",
    FdValues.SENSI: "each shifted point solved with sensitivities, as the gradient itself",
    FdValues.PLAIN: "each shifted point solved for the value only (1 state solve, not 1+n_x)",
}


def add_options(cg: argparse.ArgumentParser,
                point_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """The options of ``check-grad`` on its subparser ``cg``."""
    point_opts(cg)
    grp = cg.add_mutually_exclusive_group()
    grp.add_argument("--eps", type=cli_args.positive_float(), default=None,
                     help="one step in optimizer space, above 0 (default 1e-5)")
    grp.add_argument("--multi-eps", action="store_true",
                     help="try the steps " + ", ".join(f"{e:g}" for e in DEFAULT_MULTI_EPS)
                     + " and keep the best per parameter (default: one step)")
    cg.add_argument("--label", default="rel_err", choices=LABELS,
                    help="column that picks the step with --multi-eps: "
                         f"{cli_args.choices_text(LABELS)} (default rel_err)")
    cg.add_argument("--residuals", action="store_true",
                    help="check the residual Jacobian (sres, used by least_squares and "
                         "Gauss-Newton) against differences of the residuals, instead of "
                         "the gradient against differences of the value")
    cg.add_argument("--fd-values", type=cli_args.choice(FdValues, "kind of values"),
                    default=FdValues.AUTO.value, metavar="KIND",
                    help="how the shifted points are solved: "
                         f"{cli_args.described(FD_VALUES_TEXT)} (default auto)")
    cg.add_argument("--parameters", nargs="+", metavar="ID", default=None,
                    help="check only these free parameters (default: all)")
    cg.add_argument("--random", action="store_true",
                    help="check at a point drawn uniformly within the bounds (optimizer "
                         "space) instead of --point or the nominal values")
    cg.add_argument("--seed", type=cli_args.seed, default=0,
                    help="seed of the --random point, 0 to 2**63-1 (default 0)")
    cg.add_argument("--json", action="store_true",
                    help="print one JSON object: fval, the point, the tolerances, the "
                         "verdict counts, parameters at a bound and one record per "
                         "parameter")
    cg.add_argument("--no-progress", action="store_true",
                    help="no progress bar (default: one on standard error when it is a "
                         "terminal, counting the evaluations per parameter and step)")


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A tqdm bar on standard error counting shifted evaluations, and its update."""
    # a bar only where someone watches: not into a log file or a pipe
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm  # only where a bar is shown

    bar = tqdm(total=0, unit="eval", file=sys.stderr, dynamic_ncols=True, leave=False,
               desc="check-grad")

    def update(done: int, total: int, what: str) -> None:
        if bar.total != total:
            bar.total = total
        bar.set_postfix_str(what, refresh=False)
        bar.update(done - bar.n)
        if done == total:
            bar.refresh()  # the last state, however fast the check ran

    try:
        yield update
    finally:
        bar.close()


def _parameter_indices(problem: Problem, ids: list[str] | None) -> list[int] | None:
    """Indices of the free parameters ``ids`` (None: all); InputError naming an unknown one."""
    if ids is None:
        return None
    names = problem.x_names
    for pid in ids:
        if pid not in names:
            raise InputError(f"--parameters: not a free parameter of the problem (free: "
                             f"{', '.join(names)})", id=pid)
    return sorted({names.index(pid) for pid in ids})


def cmd_check_grad(args: argparse.Namespace) -> int:
    """``bngfit check-grad``: the gradient against finite differences at a point."""
    if args.random and args.point:
        raise InputError("give either --point or --random, not both", value=args.point)
    problem, obj, x = objective_and_point(args)
    if args.random:
        x = np.random.default_rng(args.seed).uniform(problem.lb, problem.ub)
    which = _parameter_indices(problem, args.parameters)
    if args.residuals and not obj.has_residuals:
        raise InputError("--residuals: this objective has no residual form (its noise "
                         "model or priors are not a sum of squares); check the gradient "
                         "instead", file=str(args.problem))
    ev = obj(x, sensi=1)
    # a non-finite gradient is what a check is for: its rows show as mismatches
    if not ev.ok and ev.status != EvalStatus.INVALID_GRADIENT:
        raise SimulationError(ev.message)
    eps = None if args.multi_eps else (1e-5 if args.eps is None else args.eps)
    with _progress_bar(not args.no_progress) as progress:
        kw = {"x_indices": which, "values": args.fd_values, "progress": progress}
        if args.multi_eps:
            run = check_res_multi_eps if args.residuals else check_grad_multi_eps
            table = run(obj, x, label=args.label, **kw)
        else:
            table = (check_res if args.residuals else check_grad)(obj, x, eps, **kw)
    summary = judged(table)
    bounds = near_bounds(x, problem.lb, problem.ub, problem.x_names)
    what = "residual Jacobian" if args.residuals else "gradient"
    if args.json:
        print(json.dumps(_record(problem, obj, x, ev.fval, table, summary.verdict, bounds,
                                 args, eps), indent=2))
        return 0
    if args.random:
        print(f"point drawn uniformly within the bounds (seed {args.seed}): " + ", ".join(
            f"{n} {v:.6g}" for n, v in zip(problem.x_names, x, strict=True)))
    print(table.to_string(float_format=lambda v: f"{v:.6e}"))
    lines = describe(summary, table, (obj.settings.rtol, obj.settings.atol))
    print(f"\n{what} check of {lines[0]}")
    sensi = fd_sensi(obj, args.fd_values)
    again = table.attrs.get("sensi_for") or []
    how = "with sensitivities" if sensi else "for the value only" + (
        f" ({len(again)} parameter(s) that did not agree: again with sensitivities)"
        if again else "")
    print(f"fval {ev.fval:.10g}; {tolerance_line(obj)}; shifted points solved {how}")
    if bounds:
        print("at or near a bound (within 1e-3 of the bound interval): " + ", ".join(
            f"{n} ({side.value})" for n, side in bounds.items()))
    for line in lines[1:]:
        print(line)
    return 0


def _record(problem: Problem, obj: object, x: np.ndarray, fval: float, table: pd.DataFrame,
            verdict: dict[str, Agreement], bounds: dict, args: argparse.Namespace,
            eps: float | None) -> dict:
    """The JSON object of a check."""
    rows = []
    for pid, row in table.iterrows():
        rec: dict = {"parameterId": pid}
        for k, v in row.items():
            rec[k] = v if isinstance(v, str) else (
                int(v) if k == "entry" else num(float(v)))
        rows.append(rec)
    counts = {a.value: sum(v is a for v in verdict.values()) for a in Agreement}
    return {
        "checked": "residuals" if args.residuals else "gradient",
        "fval": num(fval),
        "point": {n: float(v) for n, v in zip(problem.x_names, x, strict=True)},
        "point_native": {n: float(v) for n, v in
                         zip(problem.x_names, problem.to_native(x), strict=True)},
        "scales": {n: s.value for n, s in zip(problem.x_names, problem.x_scales,
                                               strict=True)},
        "rtol": obj.settings.rtol, "atol": obj.settings.atol,
        "step": "multi" if eps is None else eps,
        "fd_values": table.attrs.get("values"),
        "sensi_for": list(table.attrs.get("sensi_for") or []),
        "verdicts": counts,
        "at_bounds": {n: s.value for n, s in bounds.items()},
        "parameters": rows,
    }
