"""Load a problem from any supported file, chosen by suffix."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError, Issue
from .problem import Problem


def check_problem(path: str | Path) -> tuple[Problem | None, list[Issue]]:
    """Read a problem and return it (or None) with every issue found.

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

        return check_petab(path)
    if suffix == ".conf":
        from .pybnf_problem import check_pybnf

        return check_pybnf(path)
    return None, [Issue("error", f"unknown problem format '{suffix or '(none)'}': give a "
                        "PEtab YAML file (.yaml/.yml) or a PyBNF configuration (.conf)",
                        file=str(path))]


def load_problem(path: str | Path) -> Problem:
    """Read a parameter-estimation problem.

    Parameters
    ----------
    path : str or Path
        A PEtab v1 YAML file or a PyBNF ``.conf`` file.

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
    return problem
