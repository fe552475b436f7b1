"""Command-line fitting: ``bngfit fit``, ``bngfit show`` and ``bngfit plot``.

Registered into the main parser by :mod:`bngfit.cli`, which owns exit codes
and error printing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.optimize._dask import check_scheduler
from bngfit.optimize._executors import EXECUTOR_TEXT, ExecutorName
from bngfit.optimize._local import OPTIMIZER_TEXT, OptimizerName
from bngfit.optimize._multistart import run_fit
from bngfit.optimize._progress import FitProgress, ProgressBar
from bngfit.optimize._racing import Race
from bngfit.optimize._sampling import SAMPLER_TEXT, SAMPLERS, Sampler
from bngfit.optimize._settings import (
    DEFAULT_ENGINE,
    DEFAULT_N_STARTS,
    DEFAULT_SAMPLER,
    DEFAULT_SEED,
    FitSettings,
    stored_run,
)
from bngfit.problem import _load as loader
from bngfit.problem._problem import Problem
from bngfit.result._frames import parameter_table
from bngfit.result._store import Store, load_result
from bngfit.result._types import FitResult

from . import _args as cli_args
from . import _bootstrap as cli_bootstrap
from . import _io as cli_io
from . import _places as cli_places
from . import _profile as cli_profile
from . import _score
from . import _show as cli_show
from ._points import read_start_points
from ._show import COMMANDS as SHOW_COMMANDS
from ._show import PLOT_FILES, cmd_plot, cmd_show, show_record, summary_text

#: Upper limits of counts on the command line: far above any real use, below
#: what exhausts memory or the process table before the first start.
MAX_STARTS = 1_000_000
MAX_WORKERS = 1024
MAX_RACE = 1000
MAX_BUDGET = 1_000_000


class Subparsers(Protocol):
    """What :func:`add_commands` needs of the main parser's subparsers."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add a command's parser."""


def add_commands(sub: Subparsers, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``fit``, ``show`` and ``plot`` to the subparsers ``sub``.

    ``common(parser)`` adds the options every command shares (``--debug``).
    Defaults are the library's (:mod:`bngfit.optimize._settings`): an option left
    out is passed on as unset.
    """
    f = sub.add_parser("fit", help="Multistart fit with exact gradients.",
                       description="Multistart fit with exact gradients. Every finished "
                                   "start is committed to the store at once; --resume "
                                   "continues a killed run.")
    f.add_argument("problem", metavar="PROBLEM", help="PEtab v1 YAML file or PyBNF .conf")
    f.add_argument("--optimizer", default=None, metavar="NAME",
                   type=cli_args.choice(OptimizerName, "optimizer"),
                   help=f"{cli_args.choices_text(OptimizerName)} (default: least_squares "
                        "where the objective is a sum of squares, else fides). "
                        f"{cli_args.described(OPTIMIZER_TEXT)}")
    f.add_argument("--starts", type=cli_args.int_range(1, MAX_STARTS), default=None,
                   metavar="N", help=f"number of starts (default {DEFAULT_N_STARTS})")
    f.add_argument("--seed", type=cli_args.seed, default=None, metavar="N",
                   help=f"seed of the start points, 0 to 2**63-1 (default {DEFAULT_SEED}; "
                        "a resumed run keeps its own)")
    f.add_argument("--sampler", default=None, metavar="NAME",
                   type=cli_args.choice(Sampler, "start sampler"),
                   help=f"start points: {cli_args.choices_text(Sampler)} (default "
                        f"{DEFAULT_SAMPLER.value}). {cli_args.described(SAMPLER_TEXT)}")
    f.add_argument("--race", type=cli_args.int_range(1, MAX_RACE, "race candidates"), nargs="?",
                   const=Race().candidates, default=None, metavar="N",
                   help=f"race N candidate points per sampled start: each gets a short run "
                        f"and the best is continued to convergence (default "
                        f"{Race().candidates}; 1: the plain multistart)")
    f.add_argument("--race-budget", type=cli_args.int_range(2, MAX_BUDGET, "race budget"),
                   default=None, metavar="N",
                   help=f"objective evaluations of each candidate's short run, at least 2 "
                        f"(default {Race().budget})")
    f.add_argument("--no-hierarchical", action="store_true",
                   help="optimize every noise parameter too (default: noise parameters with "
                        "a closed-form optimum are set to it at each evaluation)")
    f.add_argument("--start-points", default=None, metavar="FILE",
                   help="user start points: TSV, one column per free parameter id, one row "
                        "per start (optimizer space); used first, sampled starts fill up "
                        "(default: none, every start sampled)")
    f.add_argument("--engine", default=None, metavar="NAME",
                   type=cli_args.choice(ExecutorName, "engine"),
                   help=f"{cli_args.choices_text(ExecutorName)} (default "
                        f"{DEFAULT_ENGINE.value}). {cli_args.described(EXECUTOR_TEXT)}")
    f.add_argument("--workers", type=cli_args.int_range(1, MAX_WORKERS), default=None,
                   metavar="N", help="worker processes (default: cores)")
    f.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   type=cli_args.scheduler_address,
                   help="Dask scheduler address, [scheme://]host:port, e.g. "
                        "tcp://127.0.0.1:8786 (needs --engine dask); default: a local "
                        "cluster")
    f.add_argument("-o", "--store", default=None, metavar="FILE",
                   help="result store (default: ./<problem>.fit.db, or in a PyBNF job's "
                        "output_dir when neither --store nor --best is given); what the "
                        "solver prints goes to FILE.solver.log")
    f.add_argument("--resume", action="store_true",
                   help="continue the run in --store (options left out take the stored "
                        "run's values; others must match them)")
    f.add_argument("--check-grad", action="store_true",
                   help="gradient check at the first start point and at the best optimum")
    f.add_argument("--best", default=None, metavar="FILE",
                   help="PEtab parameter table of the best fit (default: "
                        "./<problem>.best_parameters.tsv, or in a PyBNF job's output_dir, "
                        "with PyBNF's Results/sorted_params_final.txt and best-fit models)")
    f.add_argument("--rtol", type=cli_args.positive_float(1.0), default=None,
                   help="ODE relative tolerance, above 0 and below 1 (default 1e-8)")
    f.add_argument("--atol", type=cli_args.positive_float(), default=None,
                   help="ODE absolute tolerance, above 0 (default 1e-10)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.add_argument("--json", action="store_true", help="print the summary as JSON")
    f.add_argument("--max-time", type=cli_args.positive_float(), default=None,
                   metavar="SECONDS",
                   help="stop the run after this many wall seconds, as a start finishes "
                        "(finished starts are stored; continue with --resume; default: no "
                        "limit)")
    f.add_argument("--max-evals", type=cli_args.int_range(1, MAX_BUDGET, "evaluation limit"),
                   default=None, metavar="N",
                   help="objective evaluations allowed to each start, race candidates "
                        "included; a start that reaches it ends at its best point so far "
                        "(default: no limit beyond the optimizer's own)")
    f.add_argument("--max-iterations", type=cli_args.int_range(1, MAX_BUDGET, "iteration limit"),
                   default=None, metavar="N",
                   help="iterations allowed to each local run, on whichever optimizer runs "
                        "(default: a PyBNF job's max_iterations for a gradient fit_type, "
                        "else the optimizer's own budget)")
    f.add_argument("--max-start-time", type=cli_args.positive_float(), default=None,
                   metavar="SECONDS",
                   help="wall seconds allowed to each start, likewise (default: no limit)")
    f.add_argument("--best-known", default=None, metavar="FILE",
                   help="a best_known.tsv (problemId, best_known_fval): report the gap of the "
                        "fit, whether it is solved (< 1.92), and starts within 1.92 per "
                        "CPU-hour (default: none)")
    cli_bootstrap.add_fit_option(f)  # bootstrap: --bootstrap N
    common(f)
    cli_show.add_commands(sub, common)
    cli_bootstrap.add_command(sub, common)  # bootstrap: bngfit bootstrap
    cli_profile.add_command(sub, common)  # profiles: bngfit profile


def best_parameter_table(problem: Problem, x: np.ndarray) -> pd.DataFrame:
    """The problem's parameter table with nominal values at ``x`` (optimizer space).

    The one :meth:`FitResult.best_parameter_table
    <bngfit.result.FitResult.best_parameter_table>` gives too.
    """
    return parameter_table(problem, x)


def _progress(total: int, done: int, enabled: bool
              ) -> tuple[Any, Callable[[FitProgress], None] | None]:
    """A progress bar on standard error and its update (both None when not ``enabled``).

    The library's bar (:class:`~bngfit.optimize._progress.ProgressBar`): starts
    done, ``evals=`` and ``best=``, elapsed; it moves while starts run.
    """
    if not enabled:
        return None, None
    bar = ProgressBar(total, done, file=sys.stderr, notebook=False)
    return bar, bar


def store_path(args: argparse.Namespace, problem: Problem | None = None) -> Path:
    """The fit's store: ``--store``, else in the job's output folder, else
    ``./<problem stem>.fit.db`` (:mod:`bngfit.cli._places`).
    """
    return cli_places.places(args, problem).store


def solver_log_path(store: Path) -> Path:
    """Where what the solver prints during a fit goes (next to the store)."""
    return Path(f"{store}.solver.log")


def fit_settings(args: argparse.Namespace, problem: Problem,
                 store: Path | None = None) -> FitSettings:
    """The fit's settings from the command line (:meth:`FitSettings.resolve`).

    Each option given is passed on, each one left out as unset, so the run in
    ``store`` (with ``--resume``), else the problem file's request (a PyBNF
    job's settings), else the library's defaults decide.
    """
    starts = read_start_points(args.start_points, problem) if args.start_points else None
    tolerances = {key: getattr(args, key) for key in ("rtol", "atol")
                  if getattr(args, key) is not None}
    return FitSettings.resolve(
        problem, stored=stored_run(store, args.resume), optimizer=args.optimizer,
        n_starts=args.starts, rng=args.seed, sampler=args.sampler, race=args.race,
        race_budget=args.race_budget, max_evals=args.max_evals,
        max_start_time=args.max_start_time, max_iterations=args.max_iterations,
        hierarchical=False if args.no_hierarchical else None,
        starts=starts, engine=args.engine, workers=args.workers, scheduler=args.scheduler,
        objective_opts=tolerances)


def cmd_fit(args: argparse.Namespace) -> int:
    """``bngfit fit``: fit, store, write the best parameters, print a summary."""
    # Settings first: option values were checked by the parser; a typo or an
    # unwritable output is refused before the model is even loaded.
    if args.scheduler is not None and args.engine != ExecutorName.DASK.value:
        raise InputError("--scheduler needs --engine dask", value=args.scheduler)
    if cli_places.placed_by_options(args):  # the options place the outputs: check them first
        cli_places.check_places(cli_places.places(args), args)
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
    problem = loader.load_problem(args.problem)
    out_to = cli_places.places(args, problem)
    if not cli_places.placed_by_options(args):  # here, or in the job's output folder
        cli_places.check_places(out_to, args, problem)
    store, best_path = out_to.store, out_to.best
    args.fit_store, args.fit_in_folder = str(store), out_to.folder is not None
    reference = None
    if args.best_known is not None:  # before the fit: a bad file costs no compute
        where = Path(args.problem).resolve()
        reference = _score.best_known(args.best_known, [where.stem, where.parent.name])
    cli_args.check_not_inputs(problem, {"--best": best_path, "--store": store,
                                        "--store (its solver log)": out_to.solver_log})
    settings = fit_settings(args, problem, store)
    n_done = 0
    if args.resume:
        with Store(store, readonly=True) as st:
            n_done = len(st.finished())
    bar, update = _progress(settings.n_starts, n_done, not args.no_progress)
    cpu = _score.cpu_seconds()
    try:
        with cli_io.solver_output_to(solver_log_path(store)):
            result = run_fit(problem, settings, store=store, resume=args.resume,
                             check_gradient=args.check_grad, progress=update,
                             max_time=args.max_time)
    finally:
        if bar is not None:
            bar.close()
    cpu = _score.cpu_seconds() - cpu
    _write_best(problem, result, best_path, store)
    pybnf_lines = cli_places.write_pybnf_results(out_to, problem, result)
    boot = cli_bootstrap.after_fit(args, problem, result, store)  # bootstrap (None: none)
    scored = None
    if reference is not None and result.best is not None:
        scored = {"problem_id": reference[0], **_score.score(result, reference[1], cpu)}
    _print_outcome(args, problem, result, out_to, scored, pybnf_lines, boot)
    return 0 if result.best is not None and np.isfinite(result.best_fval) else 1


def _print_outcome(args: argparse.Namespace, problem: Problem, result: FitResult,
                   out_to: cli_places.Places, scored: dict | None, pybnf_lines: list[str],
                   boot: object) -> None:
    """Print what ``fit`` did: the summary (or ``--json``), where its outputs went, the
    score against a best-known value and the bootstrap, if any.
    """
    store, best_path = out_to.store, out_to.best
    if args.json:
        # what show --json gives for the store, and where the outputs are
        out = show_record(result, (problem.lb, problem.ub))
        out["store"] = str(store)
        out["best_parameters"] = str(best_path)
        if out_to.folder is not None:
            out["output_dir"] = str(out_to.folder)
        if scored is not None:
            out["best_known"] = scored
        if boot is not None:  # bootstrap
            out["bootstrap"] = cli_bootstrap.report(boot, store)
        print(json.dumps(out, indent=2))
        return
    print(summary_text(result, any(p.objective_prior is not None for p in problem.free)))
    if scored is not None:
        print(_score.score_text(scored))
    print(f"store: {store}\nbest parameters: {best_path}")
    for line in pybnf_lines:
        print(line)
    if boot is not None:  # bootstrap
        print(cli_bootstrap.report(boot, store, text=True))


def _write_best(problem: Problem, result: FitResult, path: Path, store: Path) -> None:
    """Write the best fit's parameter table (nothing without a finite best fit)."""
    if result.best is None or not np.isfinite(result.best_fval):
        return
    try:
        best_parameter_table(problem, result.best.x).to_csv(
            path, sep="\t", index=False, float_format="%.17g")
    except OSError as err:  # checked up front; changed during the fit
        raise InputError(f"cannot write the best parameters ({err.strerror or err}); "
                         f"the fit is in {store}", file=str(path)) from None


def interrupted_note(args: argparse.Namespace) -> str:
    """What a stopped command leaves behind, for its last message (may be empty).

    For ``fit``: how many finished starts the store holds and how to continue.
    """
    if getattr(args, "command", None) == "bootstrap":
        return cli_bootstrap.interrupted_note(args)
    if getattr(args, "command", None) == "profile":
        return cli_profile.interrupted_note(args)
    if getattr(args, "command", None) != "fit":
        return ""
    # cmd_fit records where its store went (the job's output folder, perhaps)
    store = Path(getattr(args, "fit_store", None) or store_path(args))
    if not store.is_file():
        return ""
    # in the job's output folder, --store would place the outputs elsewhere
    there = "" if getattr(args, "fit_in_folder", False) else f" --store {store}"
    resume = f"continue with: bngfit fit {args.problem}{there} --resume"
    try:
        n = len(load_result(store).starts)
    except Exception:  # noqa: BLE001 - the note must not hide the interruption
        return f"; the finished starts are in {store}; {resume}"
    return f"; {n} finished start{'' if n == 1 else 's'} in {store}; {resume}"


COMMANDS = {"fit": cmd_fit, **SHOW_COMMANDS, **cli_bootstrap.COMMANDS,
            **cli_profile.COMMANDS}

__all__ = ["COMMANDS", "MAX_BUDGET", "MAX_RACE", "MAX_STARTS", "MAX_WORKERS", "PLOT_FILES",
           "SAMPLERS", "add_commands", "best_parameter_table", "cmd_fit", "cmd_plot",
           "cmd_show", "fit_settings", "interrupted_note", "solver_log_path", "store_path",
           "summary_text"]
