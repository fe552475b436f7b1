"""``bngfit show`` and ``bngfit plot``: what a result store holds, as text, JSON or plots."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from bngfit.errors import InputError
from bngfit.objective._gradcheck import describe, judged
from bngfit.problem import _load as loader
from bngfit.problem._problem import Problem
from bngfit.result._frames import native_values
from bngfit.result._plots import PLOT_FILES, plot_all
from bngfit.result._store import load_result
from bngfit.result._types import FitResult

from . import _args as cli_args
from . import _bootstrap as cli_bootstrap


class Subparsers(Protocol):
    """What :func:`add_commands` needs of the main parser's subparsers."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add a command's parser."""


def add_commands(sub: Subparsers, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``show`` and ``plot`` to the subparsers ``sub`` (``common`` adds ``--debug``)."""
    text = "Summary of a result store (finished or not, even while a fit writes to it)."
    s = sub.add_parser("show", help=text, description=text)
    s.add_argument("store", metavar="STORE", help="result store written by bngfit fit")
    s.add_argument("--json", action="store_true",
                   help="print one JSON object: the summary, the best point by name "
                        "(best_x_by_name, optimizer space; best_native_by_name), parameters "
                        "at a bound, every start and the stored gradient checks with their "
                        "verdicts; a stored bootstrap under 'bootstrap'")
    s.add_argument("--problem", metavar="PROBLEM", default=None,
                   help="the fitted problem, where the store's recorded path no longer "
                        "finds it (default: the path recorded, relative to the store's "
                        "folder, then absolute)")
    common(s)
    text = ("Plots of a result store: waterfall, parameters, optimizer history, model fit "
            "and gradient checks, as PNG files.")
    p = sub.add_parser("plot", help=text, description=text)
    p.add_argument("store", metavar="STORE", help="result store written by bngfit fit")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the PNG files (required; created if missing)")
    p.add_argument("--problem", metavar="PROBLEM", default=None,
                   help="the fitted problem, where the store's recorded path no longer "
                        "finds it (default: the path recorded, relative to the store's "
                        "folder, then absolute); needed for the parameter and model-fit "
                        "plots")
    common(p)


# ------------------------------------------------------------------ summary
def summary_text(r: FitResult, posterior: bool = False,
                 bounds: tuple[np.ndarray, np.ndarray] | None = None) -> str:
    """Human summary of a fit (``posterior``: the problem has objective priors).

    ``bounds`` (lb, ub, optimizer space) flag parameters at a bound where the
    store did not record them.
    """
    lines = []
    if r.best is None:
        return f"no start finished yet (0 of {r.n_starts})"
    statuses: dict[str, int] = {}
    for s in r.starts:
        statuses[s.status.value] = statuses.get(s.status.value, 0) + 1
    lines.append(f"best fval {r.best_fval:.6f}   ({r.n_converged()} of {len(r.starts)} "
                 "finished starts within 0.01 of it)")
    if posterior:
        lines.append("fval is the negative log-posterior: the objective priors of the "
                     "parameter table are included")
    if len(r.starts) < r.n_starts:
        lines.append(f"unfinished run: {len(r.starts)} of {r.n_starts} starts done "
                     "(continue with --resume)")
    lines.append(f"evaluations {r.n_fval}, wall time {r.wall_s:.1f} s, optimizer "
                 f"{r.optimizer}, seed {r.seed}")
    start_s = sum(s.wall_s for s in r.starts)
    if start_s > 0:
        inside = sum(s.eval_s for s in r.starts) / start_s
        lines.append(f"time of the starts in objective evaluations: {100 * inside:.0f}% "
                     "(the rest: the optimizer's own work and bookkeeping)")
    n_race = r.settings.get("race", 1)
    lines.append(f"race: {n_race} candidates per start, short runs of "
                 f"{r.settings.get('race_budget')} evaluations" if n_race > 1
                 else "plain multistart (no race)")
    tol = r.tolerances()
    lines.append(f"ODE tolerances: rtol {tol['rtol']:g}, atol {tol['atol']:g} "
                 f"({tol['chosen']})")
    limits = [f"{r.settings['max_evals']} evaluations" if r.settings.get("max_evals") else "",
              f"{r.settings['max_start_time']:g} s" if r.settings.get("max_start_time")
              else "",
              f"{r.settings['max_iterations']} iterations per local run"
              if r.settings.get("max_iterations") else ""]
    if any(limits):
        lines.append("limits of each start: " + ", ".join(x for x in limits if x))
    closed = r.settings.get("closed_form_noise") or []
    if closed:
        lines.append(f"noise parameters in closed form at each evaluation: {', '.join(closed)}")
    for warning in r.settings.get("warnings") or []:
        lines.append(f"the objective differs from the files as written: {warning}")
    lines.append("status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    failed = [s for s in r.starts if s.status.value == "error"]
    for s in failed[:3]:
        lines.append(f"  start {s.index} failed: {s.message[:300]}")
    width = max((len(n) for n in r.x_names), default=0)
    scales = r.settings.get("x_scales") or ["lin"] * len(r.x_names)
    flags = at_bounds(r, bounds)
    lines.append(f"best parameters:  {'id':<{width}}  {'scale':>5}  {'optimizer x':>15}  "
                 f"{'value':>15}")
    for n, sc, v, native in zip(r.x_names, scales, r.best.x,
                                native_values(r.best.x, scales), strict=True):
        mark = f"  at {flags[n]} bound" if n in flags else ""
        lines.append(f"                  {n:<{width}}  {sc:>5}  {v:15.8g}  {native:15.8g}"
                     f"{mark}")
    if flags:
        lines.append(f"{len(flags)} parameter(s) at or within 1e-3 of the bound interval of "
                     "a bound: the optimum may lie beyond it, or the parameter is not "
                     "identifiable; widen the bound or profile it")
    elif at_bounds_unknown(r, bounds):
        lines.append("bounds not recorded in this store: give --problem to flag parameters "
                     "at a bound")
    for which, table in r.gradchecks.items():
        if "rel_err" not in table:
            continue
        # at an optimum the gradient is ~0 and relative errors are noise: the verdict
        # compares abs_err with the differences' own spread and round-off floor
        fval = r.best.fval if which == "best" else None
        described = describe(judged(table, fval), table, _tolerance_pair(r))
        lines.append(f"gradient check at {which} of {described[0]}")
        lines += ["  " + line for line in described[1:]]
    return "\n".join(lines)


def _tolerance_pair(r: FitResult) -> tuple[float, float]:
    tol = r.tolerances()
    return float(tol["rtol"]), float(tol["atol"])


def at_bounds(r: FitResult, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Parameters of the best start at or near a bound (``{id: "lower" | "upper"}``).

    ``bounds`` (lb, ub in optimizer space) from a problem given; else those
    recorded in the store; empty when neither is known.
    """
    return r.at_bounds(*bounds) if bounds is not None else r.at_bounds()


def at_bounds_unknown(r: FitResult, bounds: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Whether no bounds are known to flag the best start against."""
    return bounds is None and r.settings.get("x_bounds") is None


def _read_store(path: str) -> FitResult:
    """The result in a store; any unreadable file is bad input, one paragraph."""
    try:
        return load_result(path)
    except InputError:
        raise
    except (sqlite3.Error, ValueError, KeyError, TypeError, IndexError) as err:
        raise InputError(f"damaged store: cannot read it ({type(err).__name__}: {err})",
                         file=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read the store: {err.strerror or err}",
                         file=str(path)) from None


def _given_problem(args: argparse.Namespace, result: FitResult) -> Problem | None:
    """The problem of ``--problem``, checked to be the fitted one (None when not given)."""
    if not args.problem:
        return None
    problem = loader.load_problem(args.problem)
    if list(problem.x_names) != list(result.x_names):
        raise InputError("--problem: not the fitted problem: it estimates "
                         f"{', '.join(problem.x_names) or 'nothing'}, the store's run "
                         f"fitted {', '.join(result.x_names)}", file=args.problem)
    return problem


def show_record(result: FitResult, bounds: tuple[np.ndarray, np.ndarray] | None = None
                ) -> dict:
    """``show --json``'s object: the summary, the best point by name, flags and checks."""
    out = result.summary_dict()
    if result.best is not None:
        scales = result.settings.get("x_scales") or ["lin"] * len(result.x_names)
        out["best_x_by_name"] = {n: float(v) for n, v in zip(result.x_names, result.best.x,
                                                              strict=True)}
        out["best_native_by_name"] = dict(zip(
            result.x_names, native_values(result.best.x, scales).tolist(), strict=True))
    out["at_bounds"] = at_bounds(result, bounds)
    checks = {}
    for which, table in result.gradchecks.items():
        if "rel_err" not in table:
            checks[which] = {"message": str(table.iloc[0].get("message", ""))}
            continue
        fval = result.best_fval if which == "best" else None
        verdict = judged(table, fval).verdict
        checks[which] = {
            "verdicts": {k: sum(v.value == k for v in verdict.values())
                         for k in ("agrees", "unresolved", "mismatch")},
            "parameters": [
                {"parameterId": str(pid), "verdict": verdict[str(pid)].value,
                 **{c: _json_num(row[c]) for c in table.columns
                    if c != "verdict" and c in row}}
                for pid, row in table.iterrows()]}
    out["gradchecks"] = checks
    return out


def _json_num(v: object) -> object:
    """A table cell for JSON: numbers (non-finite ones as null) or text."""
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if np.isfinite(f) else None


def cmd_show(args: argparse.Namespace) -> int:
    """``bngfit show``: the summary of a store."""
    result = _read_store(args.store)
    problem = _given_problem(args, result)
    bounds = None if problem is None else (problem.lb, problem.ub)
    boot = cli_bootstrap.stored_bootstrap(args.store)  # bootstrap (None: none stored)
    if args.json:
        record = show_record(result, bounds)
        if boot is not None:
            record["bootstrap"] = boot.summary_dict()
        print(json.dumps(record, indent=2))
    else:
        print(summary_text(result, bounds=bounds))
        if boot is not None:
            print(cli_bootstrap.bootstrap_text(boot))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """``bngfit plot``: the plots of a store into a folder."""
    folder = cli_args.check_output_dir(args.output, "-o/--output", PLOT_FILES)
    result = _read_store(args.store)
    problem = _given_problem(args, result)
    files = plot_all(result, folder, problem=problem)
    for f in files:
        print(f"wrote {f}")
    return 0


COMMANDS = {"show": cmd_show, "plot": cmd_plot}

__all__ = ["COMMANDS", "PLOT_FILES", "add_commands", "at_bounds", "cmd_plot", "cmd_show",
           "show_record", "summary_text"]
