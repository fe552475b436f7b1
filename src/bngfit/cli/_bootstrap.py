"""``bngfit bootstrap`` and the bootstrap after ``bngfit fit``: run, summarize, write the table.

``bngfit bootstrap STORE -n N`` refits resampled data N times from the fit in
STORE (:func:`bngfit.bootstrap`), commits each replicate to STORE, prints the
percentile intervals and writes them to ``STORE.bootstrap.tsv``. Run again, it
continues: finished replicates are kept, a larger ``-n`` adds more.
``bngfit fit PROBLEM --bootstrap N`` (or a PyBNF job's ``bootstrap = N``) runs the
same after the fit. ``bngfit show`` adds the stored bootstrap to its summary.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bngfit.errors import InputError
from bngfit.optimize._bootstrap_run import (
    bootstrap_settings,
    replicate_fit_settings,
    run_bootstrap,
)
from bngfit.optimize._executors import EXECUTOR_TEXT, ExecutorName
from bngfit.optimize._progress import ProgressBar
from bngfit.problem import _load as loader
from bngfit.problem._problem import Problem
from bngfit.result._bootstrap import (
    DEFAULT_LEVEL,
    REPLICATE_TEXT,
    BootstrapResult,
    ReplicateStatus,
)
from bngfit.result._store import Store, load_result
from bngfit.result._store_bootstrap import bootstrap_result, has_bootstrap
from bngfit.result._types import FitResult

from . import _args as cli_args
from . import _io as cli_io
from ._common import analysis_table, write_intervals

#: Upper limit of replicates and starts per replicate on the command line.
MAX_REPLICATES = 1_000_000
MAX_REPLICATE_STARTS = 1000


class Subparsers(Protocol):
    """What :func:`add_command` needs of the main parser's subparsers."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add a command's parser."""


def _level(text: str) -> float:
    """An argparse type: a confidence level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1 (0.95: "
                                         f"2.5% and 97.5% percentiles), not '{text}'")
    return value


def _finite(text: str) -> float:
    """An argparse type: any finite number."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not '{text}'")
    return value


def add_fit_option(parser: argparse.ArgumentParser) -> None:
    """``bngfit fit --bootstrap N``."""
    parser.add_argument(
        "--bootstrap", type=cli_args.int_range(0, MAX_REPLICATES, "bootstrap replicates"),
        default=None, metavar="N",
        help="after the fit, N refits to resampled data from the best point, for percentile "
             "intervals (see bngfit bootstrap; default: what the problem asks, a PyBNF job's "
             "bootstrap key, else 0)")


def add_command(sub: Subparsers, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``bootstrap`` to the subparsers ``sub`` (``common`` adds ``--debug``)."""
    text = ("Refit resampled data from a fit's best point: percentile intervals of the "
            "parameters. Each replicate draws every experiment's measurements with "
            "replacement (as PyBNF does per .exp file) and is committed to the store as it "
            "finishes; run again to continue (a larger -n adds replicates).")
    b = sub.add_parser("bootstrap", help="Percentile intervals from refits to resampled data.",
                       description=text)
    b.add_argument("store", metavar="STORE", help="result store of a finished bngfit fit")
    b.add_argument("-n", "--replicates", dest="n",
                   type=cli_args.int_range(1, MAX_REPLICATES, "replicates"), default=None,
                   metavar="N", help="accepted replicates (default: what the problem asks, a "
                                     "PyBNF job's bootstrap key)")
    b.add_argument("--seed", type=cli_args.seed, default=None, metavar="S",
                   help="seed of the resamples (default: the fit's seed)")
    b.add_argument("--starts", type=cli_args.int_range(1, MAX_REPLICATE_STARTS, "starts"),
                   default=1, metavar="K",
                   help="starts per replicate: the best point, then K-1 drawn like the fit's "
                        "(default 1)")
    b.add_argument("--level", type=_level, default=DEFAULT_LEVEL, metavar="L",
                   help=f"confidence level of the intervals (default {DEFAULT_LEVEL})")
    b.add_argument("--max-fval", type=_finite, default=None, metavar="V",
                   help="discard (and replace) replicates ending above this fval (bngfit's "
                        "negative log-likelihood of the resampled data; default: a PyBNF "
                        "job's bootstrap_max_obj, converted, else none)")
    b.add_argument("--engine", default=None, metavar="NAME",
                   type=cli_args.choice(ExecutorName, "engine"),
                   help=f"{cli_args.choices_text(ExecutorName)} (default process). "
                        f"{cli_args.described(EXECUTOR_TEXT)}")
    b.add_argument("--workers", type=cli_args.int_range(1, 1024), default=None, metavar="N",
                   help="worker processes (default: cores)")
    b.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   type=cli_args.scheduler_address,
                   help="Dask scheduler address, [scheme://]host:port (needs --engine "
                        "dask); default: a local cluster")
    b.add_argument("--problem", metavar="PROBLEM", default=None,
                   help="the fitted problem, where the store's recorded path no longer finds "
                        "it (default: the path recorded, relative to the store's folder, then "
                        "absolute)")
    b.add_argument("--replace", action="store_true",
                   help="drop a stored bootstrap with other settings (seed, starts, "
                        "threshold) and begin anew")
    b.add_argument("-o", "--table", default=None, metavar="FILE",
                   help="interval table (TSV; default STORE.bootstrap.tsv)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--json", action="store_true", help="print the bootstrap as JSON")
    common(b)


def table_path(store: Path, given: str | None = None) -> Path:
    """The interval table: ``given``, else ``STORE.bootstrap.tsv`` beside the store."""
    return analysis_table(store, given, "bootstrap.tsv")


def write_table(result: BootstrapResult, path: Path) -> None:
    """Write the percentile intervals as TSV (one row per free parameter)."""
    write_intervals(result.intervals(), path, "bootstrap")


def bootstrap_text(r: BootstrapResult) -> str:
    """Human summary of a bootstrap: counts, then one interval line per parameter."""
    starts = int(r.settings.get("starts", 1))
    thr = r.settings.get("threshold") or (
        f"max_fval {r.settings['max_fval']:g}" if r.settings.get("max_fval") is not None
        else "")
    lines = [f"bootstrap: {r.n_accepted} of {r.n_requested} replicates accepted, "
             f"{r.n_discarded} discarded; seed {r.seed}; {starts} start"
             f"{'' if starts == 1 else 's'} per replicate from the best point; "
             f"{sum(x.n_fval for x in r.replicates)} evaluations, wall time {r.wall_s:.1f} s"]
    lines.append("resampling: each experiment's measurements drawn with replacement; "
                 "constraint penalties and priors kept whole" + (
                     f"; discarded above the threshold {thr}" if thr else ""))
    for status in ReplicateStatus:
        n = sum(x.status is status for x in r.replicates)
        if n and status is not ReplicateStatus.ACCEPTED:
            lines.append(f"  {n} {status.value}: {REPLICATE_TEXT[status]}")
    if not r.complete:
        lines.append(f"incomplete: {r.n_accepted} of {r.n_requested} accepted (run "
                     "bngfit bootstrap STORE again to continue; after 20 discarded in a row "
                     "the threshold is likely too low)")
    table = r.intervals()
    if not len(table) or not r.n_accepted:
        return "\n".join(lines)
    level = float(table["level"].iloc[0])
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    lines.append(f"{100 * level:g}% percentile intervals (native values; the {lo:g}% and "
                 f"{hi:g}% percentiles of {r.n_accepted} replicates):")
    width = max(len(str(n)) for n in table["parameterId"])
    lines.append(f"  {'id':<{width}}  {'scale':>5}  {'estimate':>13}  {'lower':>13}  "
                 f"{'upper':>13}")
    for row in table.itertuples():
        lines.append(f"  {row.parameterId:<{width}}  {row.parameterScale:>5}  "
                     f"{row.estimate:13.6g}  {row.lower:13.6g}  {row.upper:13.6g}")
    return "\n".join(lines)


def report(result: BootstrapResult, store: Path, *, text: bool = False) -> Any:
    """Write the interval table beside ``store``; the bootstrap as text or a JSON dict."""
    table = table_path(store)
    write_table(result, table)
    if text:
        return f"{bootstrap_text(result)}\nbootstrap table: {table}"
    return {**result.summary_dict(), "table": str(table)}


def stored_bootstrap(store: str | Path) -> BootstrapResult | None:
    """The bootstrap in a store (None: none), read without changing the file."""
    with Store(store, readonly=True) as st:
        return bootstrap_result(st) if has_bootstrap(st) else None


def run(problem: Problem, fitted: FitResult, store: Path, *, n: int | None,
        seed: int | None = None, starts: int = 1, level: float = DEFAULT_LEVEL,
        max_fval: float | None = None, engine: str | None = None,
        workers: int | None = None, scheduler: str | None = None, replace: bool = False,
        progress: bool = True) -> BootstrapResult:
    """Run (or continue) the bootstrap of ``store``'s fit with a progress bar on stderr."""
    settings = bootstrap_settings(problem, fitted, n=n, seed=seed, starts=starts, level=level,
                                  max_fval=max_fval)
    fs = replicate_fit_settings(problem, fitted, engine=engine, workers=workers,
                                scheduler=scheduler)
    done = 0
    if progress:
        previous = stored_bootstrap(store)
        done = 0 if previous is None else previous.n_accepted
    bar = ProgressBar(settings.n, done, file=sys.stderr, notebook=False,
                      unit="replicate") if progress else None
    try:
        with cli_io.solver_output_to(Path(f"{store}.solver.log")):
            return run_bootstrap(problem, fitted, settings, fs, store=store, replace=replace,
                                 progress=bar)
    finally:
        if bar is not None:
            bar.close()


def after_fit(args: argparse.Namespace, problem: Problem, result: FitResult,
              store: Path) -> BootstrapResult | None:
    """``fit``'s bootstrap: ``--bootstrap N``, else the problem's request (None: none)."""
    n = args.bootstrap if args.bootstrap is not None else problem.request.bootstrap
    if not n or result.best is None or not np.isfinite(result.best_fval):
        return None
    return run(problem, result, store, n=n, engine=args.engine, workers=args.workers,
               scheduler=args.scheduler, progress=not args.no_progress)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """``bngfit bootstrap``: refit resampled data; print and write the intervals."""
    if args.scheduler is not None and args.engine != ExecutorName.DASK.value:
        raise InputError("--scheduler needs --engine dask", value=args.scheduler)
    store = Path(args.store)
    table = table_path(store, args.table)
    cli_args.check_output_file(table, "-o/--table")
    fitted = load_result(store)  # a missing or foreign file is refused here
    problem = loader.load_problem(args.problem or fitted.settings["problem"])
    cli_args.check_not_inputs(problem, {"-o/--table": table})
    result = run(problem, fitted, store, n=args.n, seed=args.seed, starts=args.starts,
                 level=args.level, max_fval=args.max_fval, engine=args.engine,
                 workers=args.workers, scheduler=args.scheduler, replace=args.replace,
                 progress=not args.no_progress)
    write_table(result, table)
    if args.json:
        out = result.summary_dict()
        out["table"] = str(table)
        print(json.dumps(out, indent=2))
    else:
        print(bootstrap_text(result))
        print(f"store: {store}\nbootstrap table: {table}")
    return 0 if result.complete else 1


def interrupted_note(args: argparse.Namespace) -> str:
    """What a stopped ``bootstrap`` leaves: the finished replicates, and how to continue."""
    return (f"; the finished replicates are in {args.store}; run the same command again to "
            "continue")


COMMANDS = {"bootstrap": cmd_bootstrap}

__all__ = ["COMMANDS", "add_command", "add_fit_option", "after_fit", "bootstrap_text",
           "cmd_bootstrap", "interrupted_note", "report", "stored_bootstrap", "table_path",
           "write_table"]
