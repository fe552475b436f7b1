"""Load a problem from any supported file: the reader registered for its suffix.

Readers live in their own packages (:mod:`bngfit.petab`, :mod:`bngfit.pybnf`) and
never import the stages downstream; the package root registers each one here
with :func:`register_reader` and hands them the simulate stage's model services,
so this stage knows no file format and no engine. A new input format is a new
reader package plus one ``register_reader`` line in ``bngfit/__init__.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bngfit.errors import InputError, Issue

from ._model_info import ModelAccess
from ._problem import Problem

log = logging.getLogger(__name__)

Reader = Callable[[Path, ModelAccess], tuple[Problem | None, list[Issue]]]


@dataclass(frozen=True)
class _Registered:
    """A reader and what its files are called in messages."""

    name: str
    read: Reader


# suffix (lower case, with the dot) -> reader; filled once at import of bngfit
_READERS: dict[str, _Registered] = {}
_MODELS: list[ModelAccess] = []

# Warnings already logged by this process (their text): a problem loaded again
# (a fit checks that its files did not change; a forked worker re-reads them)
# does not repeat them.
_LOGGED: set[str] = set()


def register_reader(suffixes: Sequence[str], name: str, read: Reader,
                    models: ModelAccess | None = None) -> None:
    """Make :func:`load_problem` read files with these suffixes with ``read``.

    Parameters
    ----------
    suffixes : sequence of str
        File suffixes with the dot (``".yaml"``), matched case-insensitively.
    name : str
        What such a file is, for messages ("a PEtab YAML file").
    read : callable
        ``read(path, models) -> (problem or None, issues)``.
    models : ModelAccess, optional
        The model services readers are handed (the first one registered is kept).
    """
    for suffix in suffixes:
        _READERS[suffix.lower()] = _Registered(name, read)
    if models is not None and not _MODELS:
        _MODELS.append(models)


def check_problem(path: str | Path, *, models: ModelAccess | None = None
                  ) -> tuple[Problem | None, list[Issue]]:
    """Read a problem and return it (or None) with every issue found.

    The problem's :attr:`~bngfit.problem.Problem.warnings` are the warnings
    among the issues.

    Parameters
    ----------
    path : str or Path
        A PEtab v1 YAML file (``.yaml``/``.yml``) or a PyBNF configuration
        (``.conf``): any suffix a reader is registered for.
    models : ModelAccess, optional
        Model services to hand the reader instead of the simulate stage's.

    Returns
    -------
    problem : Problem or None
        None when an error prevents building it.
    issues : list of Issue
        Errors and warnings, each reported once.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        return None, [Issue("error", f"unknown problem format '{suffix or '(none)'}': give "
                            f"{_known_formats()}", file=str(path))]
    access = models if models is not None else _MODELS[0]
    problem, items = reader.read(path, access)
    if problem is not None:
        for info in problem.models.values():
            if info.no_gradient:  # a value is computed; fits and gradients refuse it
                items.append(Issue("warning", f"no gradient for this model: {info.no_gradient} "
                                   "Values can be computed; fits, gradient checks and "
                                   "evaluations with a gradient are refused",
                                   str(info.path), affects_result=True))
    items = list(dict.fromkeys(items))  # a warning found twice is reported once
    if problem is not None:
        warnings = tuple(i for i in items if i.severity == "warning")
        problem = dataclasses.replace(problem, warnings=warnings)
    return problem, items


def _known_formats() -> str:
    """The registered formats, as "a PEtab YAML file (.yaml/.yml) or a PyBNF
    configuration (.conf)".
    """
    by_name: dict[str, list[str]] = {}
    for suffix, reader in _READERS.items():  # registration order
        by_name.setdefault(reader.name, []).append(suffix)
    return " or ".join(f"{name} ({'/'.join(s)})" for name, s in by_name.items())


def load_problem(path: str | Path, *, log_warnings: bool | None = None,
                 models: ModelAccess | None = None) -> Problem:
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
    models : ModelAccess, optional
        Model services to hand the reader instead of the simulate stage's.

    Returns
    -------
    Problem

    Raises
    ------
    InputError
        Naming every error found (file, line, id, value).
    """
    problem, items = check_problem(path, models=models)
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
