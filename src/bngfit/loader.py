"""Load a problem from any supported file, chosen by suffix."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
from pathlib import Path

from .errors import InputError, Issue
from .problem import Problem

log = logging.getLogger(__name__)

# Warnings already logged by this process (their text): a problem loaded again
# (a fit checks that its files did not change; a forked worker re-reads them)
# does not repeat them.
_LOGGED: set[str] = set()


def check_problem(path: str | Path) -> tuple[Problem | None, list[Issue]]:
    """Read a problem and return it (or None) with every issue found.

    The problem's :attr:`~bngfit.problem.Problem.warnings` are the warnings
    among the issues.

    Parameters
    ----------
    path : str or Path
        A PEtab v1 YAML file (``.yaml``/``.yml``) or a PyBNF configuration
        (``.conf``, see :mod:`bngfit.pybnf_problem`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from .petab_io import check_petab

        problem, items = check_petab(path)
    elif suffix == ".conf":
        from .pybnf_problem import check_pybnf
        from .simulate_models import MODEL_ACCESS

        problem, items = check_pybnf(path, MODEL_ACCESS)
    else:
        return None, [Issue("error", f"unknown problem format '{suffix or '(none)'}': give a "
                            "PEtab YAML file (.yaml/.yml) or a PyBNF configuration (.conf)",
                            file=str(path))]
    items = list(dict.fromkeys(items))  # a warning found twice is reported once
    if problem is not None:
        warnings = tuple(i for i in items if i.severity == "warning")
        problem = dataclasses.replace(problem, warnings=warnings)
    return problem, items


def load_problem(path: str | Path, *, log_warnings: bool | None = None) -> Problem:
    """Read a parameter-estimation problem.

    Warnings (kept in :attr:`Problem.warnings <bngfit.problem.Problem.warnings>`)
    are logged at level WARNING on the ``bngfit`` logger, each once per process.

    Parameters
    ----------
    path : str or Path
        A PEtab v1 YAML file or a PyBNF ``.conf`` file.
    log_warnings : bool, optional
        Whether to log the warnings. Default: unless this process is a
        ``multiprocessing`` child (a fit's pool or Dask worker re-reading the
        problem its parent has loaded and reported).

    Returns
    -------
    Problem

    Raises
    ------
    InputError
        Naming every error found (file, line, id, value).
    """
    problem, items = check_problem(path)
    errors = [i for i in items if i.severity == "error"]
    if errors or problem is None:
        raise InputError(errors[0].message if errors else "problem could not be read",
                         issues=errors or None)
    if log_warnings is None:
        log_warnings = multiprocessing.parent_process() is None
    if log_warnings:
        for issue in problem.warnings:
            text = issue.format()
            if text not in _LOGGED:
                _LOGGED.add(text)
                log.warning("%s", text)
    return problem
