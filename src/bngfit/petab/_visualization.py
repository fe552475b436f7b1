"""The PEtab visualization table: how the problem's data should be drawn.

Optional (``visualization_files`` in the problem file); without it the problem
has no visualization rows and plots use their default layout. Each cell is
checked like the other tables', so a misspelt plot type, scale, observable or
dataset is reported with its file, line, column and value rather than
silently drawn some other way. Columns the reader does not know (PEtab allows
extensions such as ``Color``) are ignored.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bngfit.problem import (
    TIME_X,
    AxisScale,
    Condition,
    PlotTypeData,
    PlotTypeSimulation,
    VisualizationRow,
)

from ._cells import ID, Issues, cell_number, read_table, records

_E = TypeVar("_E", bound=StrEnum)

#: The problem file's key (in ``problems[0]``) that lists the tables.
KEY = "visualization_files"


def visualization_paths(data: dict[str, Any], base: Path, problem_file: str,
                        issues: Issues) -> list[Path]:
    """The visualization tables the problem file lists (none: ``[]``).

    Parameters
    ----------
    data : dict
        The problem file's mapping (checked by :func:`read_problem_yaml`).
    base : Path
        The problem file's folder; names are relative to it.
    problem_file : str
        The problem file, for messages.
    issues : Issues
        Where a malformed list is reported.
    """
    val = data["problems"][0].get(KEY)
    if val is None:
        return []
    names = [val] if isinstance(val, str) else val
    if not isinstance(names, list) or not all(isinstance(v, str) and v.strip() for v in names):
        issues.error(f"'problems[0].{KEY}' must be a file name or a list of file names",
                     problem_file, id=KEY, value=val)
        return []
    return [base / v.strip() for v in names]


def read_visualization(paths: list[Path], issues: Issues, declared_obs: set[str] | None,
                       datasets: set[str] | None,
                       conditions: dict[str, Condition] | None) -> tuple[VisualizationRow, ...]:
    """Read the visualization table(s).

    Parameters
    ----------
    paths : list of Path
        The tables, in the problem file's order.
    issues : Issues
        Where problems are reported.
    declared_obs : set of str or None
        Every observable id (None: the observable table could not be read,
        ``yValues`` is not checked).
    datasets : set of str or None
        The measurement table's ``datasetId`` values (None: it could not be
        read, ``datasetId`` is not checked).
    conditions : dict or None
        Condition id -> Condition; a dose-response ``xValues`` should be one
        of their inputs (a warning otherwise: such a plot is drawn against time).

    Returns
    -------
    tuple of VisualizationRow
        The rows without errors, defaults resolved.
    """
    inputs = None if conditions is None else {
        m.target for c in conditions.values() for m in c.mutations}
    out = []
    for path in paths:
        df = read_table(path, issues, ["plotId"])
        if df is None:
            continue
        for line, r in records(df):
            row = _row({k: str(v).strip() for k, v in r.items()}, str(path), line, issues,
                       declared_obs, datasets, inputs)
            if row is not None:
                out.append(row)
    return tuple(out)


def _row(r: dict[str, str], f: str, line: int, issues: Issues, declared_obs: set[str] | None,
         datasets: set[str] | None, inputs: set[str] | None) -> VisualizationRow | None:
    """One row, checked; None (every problem reported) if it has an error."""
    n_errors = len(issues.items)
    pid = r.get("plotId", "")
    if pid == "":
        issues.error("plotId is empty", f, line, value="(empty)")
    sim = _choice(r, "plotTypeSimulation", PlotTypeSimulation, f, line, pid, issues)
    data = _choice(r, "plotTypeData", PlotTypeData, f, line, pid, issues)
    x_scale = _choice(r, "xScale", AxisScale, f, line, pid, issues)
    y_scale = _choice(r, "yScale", AxisScale, f, line, pid, issues)
    if y_scale is AxisScale.ORDER:
        issues.error("column yScale: 'order' is for the x axis only (use lin, log or log10)",
                     f, line, id=pid, value="order")
    x_off = _offset(r, "xOffset", f, line, pid, issues)
    y_off = _offset(r, "yOffset", f, line, pid, issues)
    y = r.get("yValues", "")
    if y and declared_obs is not None and y not in declared_obs:
        issues.error("column yValues names an observable that is not in the observable "
                     "table", f, line, id=pid, value=y)
    ds = r.get("datasetId", "")
    if ds and datasets is not None and ds not in datasets:
        where = ("the measurement table has no datasetId column" if not datasets
                 else "no measurement has this datasetId")
        issues.error(f"column datasetId names an unknown dataset ({where})", f, line, id=pid,
                     value=ds)
    x = r.get("xValues", "") or TIME_X
    if x != TIME_X and not ID.match(x):
        issues.error("column xValues must be 'time' or an id (a condition table column)",
                     f, line, id=pid, value=x)
    elif x != TIME_X and inputs is not None and x not in inputs:
        issues.warn("column xValues names no column of the condition table: the plot is "
                    "drawn against time", f, line, id=pid, value=x)
    if any(i.severity == "error" for i in issues.items[n_errors:]):
        return None
    return VisualizationRow(
        plot_id=pid, plot_name=r.get("plotName", ""), dataset_id=ds, y_values=y, x_values=x,
        plot_type_simulation=sim, plot_type_data=data, x_offset=x_off,
        x_label=r.get("xLabel", "") or x, x_scale=x_scale, y_offset=y_off,
        y_label=r.get("yLabel", "") or y, y_scale=y_scale,
        legend_entry=r.get("legendEntry", "") or ds or y, file=f, row=line)


def _choice(r: dict[str, str], column: str, vocabulary: type[_E], f: str, line: int, pid: str,
            issues: Issues) -> _E:
    """The cell's member of ``vocabulary`` (empty: the first); reports a bad word."""
    text = r.get(column, "")
    if text == "":
        return next(iter(vocabulary))
    try:
        return vocabulary(text)
    except ValueError:
        choices = ", ".join(m.value for m in vocabulary)
        issues.error(f"column {column} must be one of {choices}", f, line, id=pid, value=text)
        return next(iter(vocabulary))


def _offset(r: dict[str, str], column: str, f: str, line: int, pid: str,
            issues: Issues) -> float:
    """The cell's finite number (empty: 0); reports anything else."""
    text = r.get(column, "")
    if text == "":
        return 0.0
    v = cell_number(text)
    if v is None or not np.isfinite(v):
        issues.error(f"column {column} is not a finite number", f, line, id=pid, value=text)
        return 0.0
    return v
