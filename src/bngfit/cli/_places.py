"""Where ``bngfit fit`` writes: the options, else the job's ``output_dir``, else here.

The store and the best-parameter table go where ``--store`` and ``--best``
say. A problem file that names an output folder (a PyBNF job's
``output_dir``, :attr:`FitRequest.output_dir <bngfit.problem.FitRequest>`) gets
both when neither option is given, and with them the results in PyBNF's
shapes (:mod:`bngfit.pybnf._results`); giving either option places the
outputs on the command line instead, and the folder is not used. Otherwise
both go to the working folder, named after the problem file.

Nothing a user has is overwritten silently: a new run refuses a folder that
already holds any of the files it would write (a store holding a run is
refused by the store itself unless ``--resume``), naming the file; a resumed
run rewrites the outputs of the run it continues.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.problem._problem import Problem
from bngfit.pybnf import result_files, write_results
from bngfit.result._store import check_writable
from bngfit.result._types import FitResult

from . import _args as cli_args


@dataclass(frozen=True)
class Places:
    """The files of one fit.

    Attributes
    ----------
    store, best : Path
    folder : Path or None
        The job's output folder, when the outputs go there (PyBNF's results
        are written into it then).
    """

    store: Path
    best: Path
    folder: Path | None = None

    @property
    def solver_log(self) -> Path:
        """Where what the solver prints during a fit goes (next to the store)."""
        return Path(f"{self.store}.solver.log")


def placed_by_options(args: argparse.Namespace) -> bool:
    """Whether the command line places the outputs (``--store`` or ``--best``)."""
    return args.store is not None or args.best is not None


def places(args: argparse.Namespace, problem: Problem | None = None) -> Places:
    """The fit's files (see the module doc); ``problem``: its request's folder, if any."""
    stem = Path(args.problem).stem
    folder = None if placed_by_options(args) or problem is None \
        else problem.request.output_dir
    where = folder if folder is not None else Path()
    return Places(Path(args.store) if args.store else where / f"{stem}.fit.db",
                  Path(args.best) if args.best else where / f"{stem}.best_parameters.tsv",
                  folder)


def check_places(p: Places, args: argparse.Namespace, problem: Problem | None = None) -> None:
    """Check the fit's outputs before any work (see the module doc).

    Raises
    ------
    InputError
        An output that cannot be written; in the job's output folder, a file a
        new run would overwrite, or a folder that cannot be created (the
        configuration's line named).
    """
    if p.folder is not None:
        _check_folder(p, problem)
    check_writable(p.store, resume=args.resume, what="the store (--store)")
    if p.folder is not None and not (args.resume and p.store.is_file()):
        _check_new(p, problem)  # a resumed run rewrites its own outputs
    cli_args.check_output_file(p.solver_log, "--store (its solver log)")
    cli_args.check_output_file(p.best, "--best")
    cli_args.check_distinct({"--store": p.store, "--store (its solver log)": p.solver_log,
                             "--best": p.best})


def _check_folder(p: Places, problem: Problem) -> None:
    """The job's output folder: one that can be created (and is, for the store)."""
    where = {"file": str(problem.source), "row": problem.request.line_of("output_dir"),
             "id": "output_dir", "value": str(p.folder)}
    try:
        cli_args.check_output_dir(p.folder, "the job's output_dir")
    except InputError as err:  # said again with the configuration's line
        raise InputError(err.issues[0].message, **where) from None
    p.folder.mkdir(parents=True, exist_ok=True)


def _check_new(p: Places, problem: Problem) -> None:
    """Refuse a new run where the job's output folder holds a file it would write."""
    for f in [p.best, *(p.folder / n for n in result_files(_models(problem)))]:
        if f.exists():
            raise InputError(f"the job's output_dir already holds {f.name} (an earlier run's?); "
                             "bngfit does not overwrite it: move it away, or place the "
                             "outputs with --store and --best", file=str(f))


def _models(problem: Problem) -> list[Path]:
    """The problem's model files, as its configuration names them."""
    return [Path(m) for m in str(problem.files.get("model", "")).split(";") if m]


def write_pybnf_results(p: Places, problem: Problem, result: FitResult) -> list[str]:
    """Write PyBNF's results of the fit into the job's folder; lines for the summary."""
    if p.folder is None or result.best is None or not np.isfinite(result.best_fval):
        return []
    names = problem.x_names
    rows = [(f"start{s.index}", float(s.fval), problem.to_native(np.asarray(s.x)))
            for s in result.starts]
    best = dict(zip(names, problem.to_native(np.asarray(result.best.x)), strict=True))
    written, skipped = write_results(p.folder, _models(problem), names, rows, best,
                                     problem.request.table_rows)
    lines = [f"PyBNF results: {', '.join(str(w) for w in written)}"]
    lines += [f"no best-fit model for {why}" for why in skipped]
    return lines
