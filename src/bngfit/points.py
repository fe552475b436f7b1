"""Read and write parameter points (``parameterId``/``value`` TSV, optimizer space)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .problem import Problem


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
    if not path.is_file():
        raise InputError("point file not found", file=f)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"not a tab-separated table: {err}", file=f) from None
    df.columns = [c.strip() for c in df.columns]
    for col in ("parameterId", "value"):
        if col not in df.columns:
            raise InputError(f"required column '{col}' missing (found: "
                             f"{', '.join(df.columns)})", file=f, row=1)
    names = problem.x_names
    fixed = {p.id for p in problem.parameters if not p.estimate}
    x = problem.x_nominal.copy()
    seen: set[str] = set()
    for i, (pid, text) in enumerate(zip(df["parameterId"], df["value"], strict=True)):
        line = i + 2
        pid = pid.strip()
        if pid in seen:
            raise InputError("parameter listed twice", file=f, row=line, id=pid)
        seen.add(pid)
        if pid not in names:
            why = ("is fixed in the problem (estimate 0)" if pid in fixed
                   else "is not a parameter of the problem")
            raise InputError(f"parameter {why}", file=f, row=line, id=pid)
        try:
            v = float(text)
        except ValueError:
            raise InputError("value is not a number", file=f, row=line, id=pid,
                             value=text) from None
        if not np.isfinite(v):
            raise InputError("value is not finite", file=f, row=line, id=pid, value=text)
        x[names.index(pid)] = v
    return x, [n for n in names if n not in seen]


def write_point(path: str | Path, names: list[str], x: np.ndarray) -> None:
    """Write a point as a ``parameterId``/``value`` TSV (optimizer space)."""
    pd.DataFrame({"parameterId": names, "value": np.asarray(x, dtype=float)}).to_csv(
        path, sep="\t", index=False, float_format="%.17g")
