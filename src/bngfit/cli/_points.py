"""Read and write parameter points (``parameterId``/``value`` TSV, optimizer space)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.files import parse_float, read_tsv
from bngfit.problem import Problem


def read_point(path: str | Path, problem: Problem) -> tuple[np.ndarray, list[str]]:
    """Read a point for ``problem`` from a TSV with columns parameterId, value.

    Values are on each parameter's scale (optimizer space). Free parameters the
    file does not list keep their nominal value.

    Returns
    -------
    x : ndarray, shape (n_x,)
    defaulted : list of str
        Free parameters taken at their nominal value.

    Raises
    ------
    InputError
        Missing file, missing columns, unknown or fixed ids, duplicates,
        values that are not finite numbers.
    """
    path = Path(path)
    f = str(path)
    df = read_tsv(path)
    for col in ("parameterId", "value"):
        if col not in df.columns:
            raise InputError(f"required column '{col}' missing (found: "
                             f"{', '.join(df.columns) or 'none'})", file=f,
                             row=df.attrs["header_line"])
    names = problem.x_names
    fixed = {p.id for p in problem.parameters if not p.estimate}
    x = problem.x_nominal.copy()
    seen: set[str] = set()
    for line, pid, text in zip(df.index, df["parameterId"], df["value"], strict=True):
        line = int(line)
        if pid in seen:
            raise InputError("parameter listed twice", file=f, row=line, id=pid)
        seen.add(pid)
        if pid not in names:
            if pid in fixed:
                why = "parameter is fixed in the problem (estimate 0); it takes no value here"
            else:
                why = ("unknown parameter (the problem estimates: "
                       f"{', '.join(names) or 'nothing'})")
            raise InputError(why, file=f, row=line, id=pid or "(empty)")
        try:
            v = parse_float(text)
        except ValueError:
            raise InputError("value is not a number", file=f, row=line, id=pid,
                             value=text or "(empty)") from None
        if not np.isfinite(v):
            raise InputError("value is not finite", file=f, row=line, id=pid, value=text)
        j = names.index(pid)
        if not problem.lb[j] <= v <= problem.ub[j]:
            logging.getLogger("bngfit").warning(
                "%s:%d: value %s of '%s' is outside its bounds [%g, %g] (values are on the "
                "parameter's scale, %s)", f, line, text, pid, problem.lb[j], problem.ub[j],
                problem.x_scales[j].value)
        x[j] = v
    return x, [n for n in names if n not in seen]


def write_point(path: str | Path, names: list[str], x: np.ndarray) -> None:
    """Write a point as a ``parameterId``/``value`` TSV (optimizer space)."""
    pd.DataFrame({"parameterId": names, "value": np.asarray(x, dtype=float)}).to_csv(
        path, sep="\t", index=False, float_format="%.17g")


def read_start_points(path: str | Path, problem: Problem) -> np.ndarray:
    """Read user start points: one row per start, one column per free parameter.

    Column names are the free parameters' ids (every one of them); values are
    on each parameter's scale (optimizer space) and inside its bounds.

    Returns
    -------
    ndarray, shape (n_starts, n_x)

    Raises
    ------
    InputError
        Missing file or columns, unknown or fixed ids, values that are not
        finite numbers or lie outside the bounds.
    """
    f = str(path)
    df = read_tsv(path)
    names = problem.x_names
    fixed = {p.id for p in problem.parameters if not p.estimate}
    header = df.attrs["header_line"]
    for col in df.columns:
        if col not in names:
            why = ("is fixed in the problem (estimate 0)" if col in fixed
                   else "is not a free parameter of the problem")
            raise InputError(f"column '{col}' {why}; columns are the free parameters' ids",
                             file=f, row=header, id=col)
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise InputError(f"start points need a column for every free parameter; missing: "
                         f"{', '.join(missing)}", file=f, row=header)
    if df.empty:
        raise InputError("no start points (the table has no rows)", file=f, row=header + 1)
    x = np.empty((len(df), len(names)))
    for k, (line, row) in enumerate(df.iterrows()):
        for j, pid in enumerate(names):
            text = row[pid]
            try:
                v = parse_float(text)
            except ValueError:
                raise InputError("value is not a number", file=f, row=int(line), id=pid,
                                 value=text or "(empty)") from None
            if not np.isfinite(v) or not problem.lb[j] <= v <= problem.ub[j]:
                raise InputError(
                    f"value must be a finite number within the bounds [{problem.lb[j]:g}, "
                    f"{problem.ub[j]:g}] (on the parameter's scale, "
                    f"{problem.x_scales[j].value})", file=f, row=int(line), id=pid, value=text)
            x[k, j] = v
    return x
