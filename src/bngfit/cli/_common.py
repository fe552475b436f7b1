"""What the point-taking commands share: the objective and point asked for, numbers for JSON."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.objective._objective import Objective
from bngfit.problem import _load as loader
from bngfit.problem._problem import Problem

from . import _args as cli_args
from ._points import read_point


class SimulationError(Exception):
    """The objective failed at the requested point (exit code 1)."""


def objective_and_point(args: argparse.Namespace) -> tuple[Problem, Objective, np.ndarray]:
    """The problem, its objective at the tolerances given and the point asked for.

    Parameters
    ----------
    args : argparse.Namespace
        With ``problem``, ``rtol``, ``atol``, ``point``, ``fill_nominal`` and
        optionally ``output``.

    Returns
    -------
    problem : Problem
    objective : Objective
    x : ndarray, shape (n_x,)
        Optimizer space.
    """
    # tolerances and steps are checked by the parser; the output before any work
    output = getattr(args, "output", None)
    if output is not None:
        cli_args.check_output_file(output, "-o/--output")
    problem = loader.load_problem(args.problem)
    if output is not None:
        cli_args.check_not_inputs(problem, {"-o/--output": Path(output)})
    obj = Objective(problem, rtol=args.rtol, atol=args.atol)
    if args.point:
        x, defaulted = read_point(args.point, problem)
        if defaulted and not args.fill_nominal:
            raise InputError(f"the point lists no value for {len(defaulted)} free "
                             f"parameter(s): {', '.join(defaulted)}; add them, or give "
                             "--fill-nominal to take their nominal values", file=args.point)
        if defaulted:
            logging.getLogger("bngfit").warning(
                "%s does not list %s; using nominal values", args.point, ", ".join(defaulted))
    else:
        x = problem.x_nominal
    return problem, obj, x


def num(v: float) -> float | None:
    """A float for JSON: non-finite values become null (JSON has no inf/NaN)."""
    return float(v) if np.isfinite(v) else None


def tolerance_line(obj: Objective) -> str:
    """The ODE tolerances an evaluation used, for the printed result."""
    return f"ODE tolerances: rtol {obj.settings.rtol:g}, atol {obj.settings.atol:g}"


def analysis_table(store: Path, given: str | None, suffix: str) -> Path:
    """An analysis's table: ``given``, else ``STORE.<suffix>`` beside the store."""
    return Path(given) if given else Path(f"{store}.{suffix}")


def write_intervals(frame: object, path: Path, what: str) -> None:
    """Write an interval table (a DataFrame) as TSV; ``what`` names it in messages."""
    try:
        frame.to_csv(path, sep="\t", index=False, float_format="%.10g")
    except OSError as err:
        raise InputError(f"cannot write the {what} table ({err.strerror or err})",
                         file=str(path)) from None
