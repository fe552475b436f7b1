"""``bngfit profile``: profile likelihoods of a fit; print and write the intervals.

``bngfit profile STORE`` steps each free parameter (or those of
``--parameters``) away from the fit's best point in STORE, re-optimizing the
others (:func:`bngfit.profile`), commits each point to STORE, prints the
likelihood-ratio intervals and classes and writes them to
``STORE.profiles.tsv``. Run again, it continues from the stored points.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

from bngfit.optimize._profile_run import run_profile
from bngfit.problem import _load as loader
from bngfit.result._plot_profile import PROFILE_FILES, plot_profiles
from bngfit.result._profile import CLASS_TEXT, DEFAULT_ALPHA, ProfileClass, ProfileResult
from bngfit.result._store import load_result

from . import _args as cli_args
from ._bootstrap import Subparsers
from ._common import analysis_table, write_intervals


def _alpha(text: str) -> float:
    """An argparse type: a confidence level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1 (0.95: "
                                         f"a 95% likelihood-ratio interval), not '{text}'")
    return value


def _ids(text: str) -> list[str]:
    """An argparse type: comma-separated parameter ids (at least one)."""
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"must name at least one parameter id, not '{text}'")
    return ids


def add_command(sub: Subparsers, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``profile`` to the subparsers ``sub`` (``common`` adds ``--debug``)."""
    text = ("Profile likelihoods from a fit's best point: each parameter is stepped in both "
            "directions (on its own scale), the others re-optimized at each step, until the "
            "negative log-likelihood rises by chi2.ppf(alpha, 1)/2 or the bound is reached. "
            "Prints the likelihood-ratio intervals and identifiability classes; each point "
            "is committed to the store as it finishes (run again to continue). Runs "
            "sequentially.")
    p = sub.add_parser("profile", help="Profile likelihoods: likelihood-ratio intervals.",
                       description=text)
    p.add_argument("store", metavar="STORE", help="result store of a finished bngfit fit")
    p.add_argument("--parameters", type=_ids, default=None, metavar="IDS",
                   help="comma-separated parameter ids to profile (default: every free "
                        "parameter)")
    p.add_argument("--alpha", type=_alpha, default=DEFAULT_ALPHA, metavar="L",
                   help=f"confidence level of the intervals (default {DEFAULT_ALPHA})")
    p.add_argument("--problem", metavar="PROBLEM", default=None,
                   help="the fitted problem, where the store's recorded path no longer finds "
                        "it (default: the path recorded)")
    p.add_argument("--replace", action="store_true",
                   help="drop stored profiles with other settings (alpha) and begin anew")
    p.add_argument("-o", "--table", default=None, metavar="FILE",
                   help="interval table (TSV; default STORE.profiles.tsv)")
    p.add_argument("--plot", default=None, metavar="DIR",
                   help="also draw profiles.png (one panel per parameter) and "
                        "profile_intervals.png into DIR (default: no plots)")
    p.add_argument("--json", action="store_true", help="print the profiles as JSON")
    common(p)


def table_path(store: Path, given: str | None = None) -> Path:
    """The interval table: ``given``, else ``STORE.profiles.tsv`` beside the store."""
    return analysis_table(store, given, "profiles.tsv")


def write_table(result: ProfileResult, path: Path) -> None:
    """Write the intervals as TSV (one row per profiled parameter)."""
    write_intervals(result.intervals(), path, "profile")


def profile_text(r: ProfileResult) -> str:
    """Human summary: the threshold, one interval line per parameter, the classes' meaning."""
    n = sum(len(p.points) for p in r.profiles)
    lines = [f"profiles: {len(r.profiles)} parameters, {n} points; {100 * r.alpha:g}% "
             f"likelihood-ratio intervals (rise of fval above {r.fval_best:.10g} by "
             f"{r.threshold:.4g}); wall time {r.wall_s:.1f} s"]
    if r.better_point is not None:
        b = r.better_point
        lines.append(f"WARNING: the profile of {b.parameter} found fval {b.fval:.10g} at "
                     f"{b.parameter} = {b.native:.6g}, below the fit's best by "
                     f"{r.fval_best - b.fval:.4g}: the fit did not find the optimum; refit "
                     "(the intervals are relative to the fit's best)")
    width = max([len("id"), *(len(p.parameter) for p in r.profiles)])
    lines.append(f"  {'id':<{width}}  {'scale':>5}  {'estimate':>13}  {'lower':>13}  "
                 f"{'upper':>13}  class")
    for p in r.profiles:
        lo, hi = p.native(p.lower), p.native(p.upper)
        lo_t = f"{lo:13.6g}" if lo is not None else f"{'open (' + p.lower_end.value + ')':>13}"
        hi_t = f"{hi:13.6g}" if hi is not None else f"{'open (' + p.upper_end.value + ')':>13}"
        at = sorted({n for q in p.points for n in q.at_bounds})
        lines.append(f"  {p.parameter:<{width}}  {p.scale:>5}  {p.native(p.estimate):13.6g}  "
                     f"{lo_t}  {hi_t}  {p.profile_class.value}"
                     + (f" (at a bound on the way: {', '.join(at)})" if at else ""))
    for cls in ProfileClass:
        if any(p.profile_class is cls for p in r.profiles):
            lines.append(f"  {cls.value}: {CLASS_TEXT[cls]}")
    if not r.complete:
        lines.append("incomplete: a side stopped before a crossing or bound (max_points or "
                     "a failed re-optimization); see lower_end/upper_end in the table")
    return "\n".join(lines)


def cmd_profile(args: argparse.Namespace) -> int:
    """``bngfit profile``: profile likelihoods; print and write the intervals."""
    store = Path(args.store)
    table = table_path(store, args.table)
    cli_args.check_output_file(table, "-o/--table")
    folder = (None if args.plot is None
              else cli_args.check_output_dir(args.plot, "--plot", PROFILE_FILES))
    fitted = load_result(store)  # a missing or foreign file is refused here
    problem = loader.load_problem(args.problem or fitted.settings["problem"])
    cli_args.check_not_inputs(problem, {"-o/--table": table})
    result = run_profile(problem, fitted, args.parameters, alpha=args.alpha, store=store,
                         replace=args.replace)
    write_table(result, table)
    plots = [] if folder is None else plot_profiles(result, folder)
    if args.json:
        out = result.summary_dict()
        out["table"] = str(table)
        if plots:
            out["plots"] = [str(f) for f in plots]
        print(json.dumps(out, indent=2))
    else:
        print(profile_text(result))
        print(f"store: {store}\nprofile table: {table}")
        for f in plots:
            print(f"wrote {f}")
    return 0 if result.complete else 1


def interrupted_note(args: argparse.Namespace) -> str:
    """What a stopped ``profile`` leaves: the finished points, and how to continue."""
    return (f"; the finished profile points are in {args.store}; run the same command again "
            "to continue")


COMMANDS = {"profile": cmd_profile}

__all__ = ["COMMANDS", "add_command", "cmd_profile", "interrupted_note", "profile_text",
           "table_path", "write_table"]
