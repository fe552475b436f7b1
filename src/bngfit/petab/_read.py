"""Read a PEtab v1 problem (YAML + TSV tables) into a :class:`~bngfit.problem.Problem`.

Every table is read as text and checked cell by cell, so that each problem is
reported with its file, line, id and value; all problems found are reported
together (see :func:`check_petab`). The model file may be any format bngsim
reads, chosen by its suffix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bngfit.errors import InputError, Issue, MissingExtraError
from bngfit.problem import PLACEHOLDER, TIME_SYMBOL, ModelAccess, ModelInfo, Problem

from ._cells import ID, Issues
from ._conditions import read_conditions
from ._measurements import read_measurements
from ._observables import read_observables
from ._parameters import read_parameters
from ._visualization import read_visualization, visualization_paths
from ._yaml import read_problem_yaml

# ID, PLACEHOLDER and TIME_SYMBOL: bngfit 0.1's module petab_io exported them.
__all__ = ["ID", "PLACEHOLDER", "TIME_SYMBOL", "check_petab"]

# problem file key -> the name of its files in Problem.files
_TABLES = {"parameter_file": "parameters", "condition_files": "conditions",
           "observable_files": "observables", "measurement_files": "measurements"}


def _listed_files(data: dict[str, Any], base: Path, key: str) -> list[Path]:
    """The files the problem file lists under ``key``, relative to its folder ``base``."""
    val = data[key] if key == "parameter_file" else data["problems"][0][key]
    return [base / v.strip() for v in ([val] if isinstance(val, str) else val)]


def _read_model(model_path: Path, models: ModelAccess, issues: Issues) -> ModelInfo | None:
    """The model's names, or None (the reason reported)."""
    try:
        return models.info(model_path)
    except InputError as err:
        issues.items.extend(err.issues)
    except MissingExtraError as err:
        issues.error(str(err), file=str(model_path))
    return None


def check_petab(path: str | Path, models: ModelAccess) -> tuple[Problem | None, list[Issue]]:
    """Read a PEtab v1 problem and report every issue found.

    Parameters
    ----------
    path : str or Path
        The problem's YAML file.
    models : ModelAccess
        How to read the model's names (:data:`bngfit.simulate.MODEL_ACCESS`, or
        any stand-in: the tables are checked against what it returns).

    Returns
    -------
    problem : Problem or None
        None when an error prevents building it.
    issues : list of Issue
        In file order. A table that cannot be read is reported once; ids that
        would refer to it are then not checked (no cascade of follow-up errors).
    """
    path = Path(path)
    try:
        data = read_problem_yaml(path)
    except InputError as err:
        return None, list(err.issues)
    issues = Issues()
    files = {key: _listed_files(data, path.parent, key) for key in ("sbml_files", *_TABLES)}
    model_path = files["sbml_files"][0]
    model = _read_model(model_path, models, issues)
    params, param_ids = read_parameters(files["parameter_file"], issues, model)
    conditions = read_conditions(files["condition_files"], issues, model, param_ids)
    known = None
    if model is not None and param_ids is not None:
        known = param_ids | {*model.species, *model.observables, *model.expressions,
                             *model.parameters, *model.compartments}
    observables, declared_obs = read_observables(files["observable_files"], issues, known)
    meas = read_measurements(files["measurement_files"], issues, observables, declared_obs,
                             conditions, param_ids)
    # ids are checked against the measurements only when those read cleanly
    datasets = None if issues.has_errors else set(meas.dataset_id)
    visualization = read_visualization(
        visualization_paths(data, path.parent, str(path), issues), issues, declared_obs,
        datasets, conditions)
    if model is None or conditions is None or issues.has_errors:
        return None, issues.items
    problem = Problem(
        model=model,
        parameters=tuple(params),
        conditions=conditions,
        observables=observables,
        measurements=meas,
        source=path,
        visualization=visualization,
        files={
            "problem": str(path),
            **{name: ";".join(map(str, files[key])) for key, name in _TABLES.items()},
            "model": str(model_path),
        },
    )
    return problem, issues.items
