"""The YAML file of a PEtab v1 problem: read strictly and checked.

Keys are read without duplicates (:func:`bngfit.files.load_yaml`); the file lists must
be file names, exactly one model, and no file twice within one list (its rows
would count twice, or its ids clash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import yaml

from bngfit.errors import InputError
from bngfit.files import DuplicateKeyError, load_yaml

# the file lists of the one problem, each a non-empty list of file names
_PROBLEM_LISTS = ("sbml_files", "condition_files", "measurement_files", "observable_files")


def _fail(message: str, file: str | None = None, row: int | None = None,
          id: str | None = None, value: object = None) -> NoReturn:  # noqa: A002
    """Raise the InputError ``message`` (``value`` as text)."""
    raise InputError(message, file=file, row=row, id=id,
                     value=None if value is None else str(value))


def _file_list(val: object) -> bool:
    """True if ``val`` is a file name or a non-empty list of file names."""
    if isinstance(val, str):
        return val.strip() != ""
    return isinstance(val, list) and bool(val) and all(
        isinstance(v, str) and v.strip() for v in val)


def read_problem_yaml(path: Path) -> dict[str, Any]:
    """The problem file's mapping, checked (see the module doc).

    Parameters
    ----------
    path : Path
        The problem file.

    Returns
    -------
    dict
        The file's top-level mapping, as read.

    Raises
    ------
    InputError
        The first problem found, with the file, line (where known) and key.
    """
    f = str(path)
    data = _load_mapping(path, f)
    _check_version(data, f)
    _check_parameter_file(data, f)
    _check_problems(data, f)
    _check_no_repeats(data, path, f)
    return data


def _load_mapping(path: Path, f: str) -> dict[str, Any]:
    """The YAML mapping of the file ``path`` (UTF-8, no repeated keys)."""
    if not path.is_file():
        _fail("problem file not found" if not path.exists() else "problem file is not a file",
              file=f)
    try:
        data = load_yaml(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        _fail(f"not UTF-8 text ({err.reason} at byte {err.start})", file=f)
    except DuplicateKeyError as err:
        _fail(err.problem, file=f, row=err.problem_mark.line + 1)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        what = getattr(err, "problem", None) or str(err).split("\n")[0]
        _fail(f"not valid YAML: {what}", file=f, row=None if mark is None else mark.line + 1)
    except OSError as err:
        _fail(f"cannot read the file: {err.strerror or err}", file=f)
    if not isinstance(data, dict):
        _fail("not a PEtab problem file (expected a YAML mapping with format_version, "
              "parameter_file and problems)", file=f)
    return data


def _check_version(data: dict[str, Any], f: str) -> None:
    """Refuse a format_version other than PEtab 1."""
    version = str(data.get("format_version", "")).strip()
    if version not in ("1", "1.0", "1.0.0"):
        _fail("format_version must be 1 (PEtab v1)", file=f, id="format_version",
              value=version or "(missing)")


def _check_parameter_file(data: dict[str, Any], f: str) -> None:
    """Refuse a missing parameter_file, or one that is no file name or list of them."""
    if "parameter_file" not in data:
        _fail("key 'parameter_file' is missing", file=f, id="parameter_file")
    if not _file_list(data["parameter_file"]):
        _fail("'parameter_file' must be a file name or a list of file names", file=f,
              id="parameter_file", value=data["parameter_file"])


def _check_problems(data: dict[str, Any], f: str) -> None:
    """Refuse anything but one problem with its file lists and exactly one model."""
    problems = data.get("problems")
    if not isinstance(problems, list) or len(problems) != 1 or not isinstance(problems[0], dict):
        _fail("'problems' must be a list with exactly one entry", file=f, id="problems")
    for key in _PROBLEM_LISTS:
        val = problems[0].get(key)
        if not isinstance(val, list) or not _file_list(val):
            _fail(f"'problems[0].{key}' must be a non-empty list of file names", file=f,
                  id=key, value="(missing)" if val is None else val)
    if len(problems[0]["sbml_files"]) != 1:
        _fail("exactly one model file is supported", file=f, id="sbml_files",
              value=problems[0]["sbml_files"])


def _check_no_repeats(data: dict[str, Any], path: Path, f: str) -> None:
    """Refuse a table list naming one file twice.

    Its rows would count twice, or its ids clash.
    """
    for key in ("parameter_file", "condition_files", "measurement_files", "observable_files"):
        val = data[key] if key == "parameter_file" else data["problems"][0][key]
        seen: dict[Path, str] = {}
        for name in [val] if isinstance(val, str) else val:
            full = (path.parent / name.strip()).resolve()
            if full in seen:
                _fail(f"'{key}' lists the same file twice", file=f, id=key,
                      value=name if name == seen[full] else f"{seen[full]}, {name}")
            seen[full] = name
