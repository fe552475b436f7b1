"""Read and write parameter points.

A point (``--point``) may be given as:

- a ``parameterId``/``value`` TSV, values on each parameter's scale (optimizer
  space), as ``fit --best`` and ``check-grad --random`` describe them;
- a PEtab parameter table (``parameterId``/``nominalValue``, native values), such
  as the one ``fit`` writes beside its store;
- a result store: ``STORE`` (its best start's end point) or ``STORE:INDEX``
  (start number INDEX, 0-based, as ``bngfit show`` lists them).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.files import parse_float, read_tsv
from bngfit.problem import Problem
from bngfit.result import load_result
from bngfit.result._frames import native_values

SQLITE_MAGIC = b"SQLite format 3\x00"


def _store_spec(spec: str) -> tuple[Path, int | None] | None:
    """``(store, index)`` when ``spec`` names a result store (``STORE[:INDEX]``), else None."""
    path, index = Path(spec), None
    if not path.is_file():
        head, sep, tail = spec.rpartition(":")
        if not (sep and tail.strip().isdigit() and Path(head).is_file()):
            return None
        path, index = Path(head), int(tail)
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(SQLITE_MAGIC))
    except OSError:
        return None
    return (path, index) if magic == SQLITE_MAGIC else None


def _point_of_store(path: Path, index: int | None, problem: Problem,
                    spec: str) -> tuple[np.ndarray, list[str]]:
    """The end point of a stored start (the best one when ``index`` is None)."""
    result = load_result(path)
    if index is None:
        start = result.best
        if start is None:
            raise InputError("the store holds no finished start to take a point from",
                             file=spec)
    else:
        found = [s for s in result.starts if s.index == index]
        if not found:
            have = sorted(s.index for s in result.starts)
            raise InputError(f"the store has no finished start {index} (finished: "
                             f"{', '.join(map(str, have)) or 'none'})", file=spec)
        start = found[0]
    # the store's values are on the scales it was fitted with: through native
    # values onto the problem's own (a parameter rescaled since reads right)
    scales = result.x_scales or [s.value for s in problem.x_scales]
    stored = dict(zip(result.x_names, native_values(start.x, scales).tolist(), strict=True))
    names = problem.x_names
    missing = [n for n in names if n not in stored]
    extra = [n for n in stored if n not in names]
    if extra:
        raise InputError(f"the store's run fitted parameters the problem does not estimate: "
                         f"{', '.join(extra)}", file=spec)
    for j, n in enumerate(names):
        p = problem.free[j]
        if n in stored and not p.lb <= stored[n] <= p.ub:
            logging.getLogger("bngfit").warning(
                "%s: value %g of '%s' is outside its bounds [%g, %g] in this problem", spec,
                stored[n], n, p.lb, p.ub)
    return problem.x_from_native({n: v for n, v in stored.items() if n in names}), missing


def read_point(path: str | Path, problem: Problem) -> tuple[np.ndarray, list[str]]:
    """Read a point for ``problem``: a point TSV, a PEtab parameter table or a store.

    See the module's docstring for the forms. Free parameters the source
    does not list keep their nominal value (and are returned in
    ``defaulted``).

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
    store = _store_spec(str(path))
    if store is not None:
        return _point_of_store(*store, problem, str(path))
    path = Path(path)
    f = str(path)
    df = read_tsv(path)
    if "value" not in df.columns and "nominalValue" in df.columns:
        return _point_of_parameter_table(df, f, problem)
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


def _point_of_parameter_table(df: pd.DataFrame, f: str, problem: Problem
                              ) -> tuple[np.ndarray, list[str]]:
    """A point from a PEtab parameter table's ``nominalValue`` column (native values)."""
    if "parameterId" not in df.columns:
        raise InputError("required column 'parameterId' missing", file=f,
                         row=df.attrs["header_line"])
    names = problem.x_names
    known = {p.id: p for p in problem.parameters}
    native: dict[str, float] = {}
    for line, pid, text in zip(df.index, df["parameterId"], df["nominalValue"], strict=True):
        line = int(line)
        if pid in native:
            raise InputError("parameter listed twice", file=f, row=line, id=pid)
        if pid not in known:
            raise InputError("not a parameter of the problem", file=f, row=line,
                             id=pid or "(empty)")
        try:
            v = parse_float(text)
        except ValueError:
            raise InputError("nominalValue is not a number", file=f, row=line, id=pid,
                             value=text or "(empty)") from None
        spec = known[pid]
        if pid not in names:
            if v != spec.nominal:
                logging.getLogger("bngfit").warning(
                    "%s:%d: '%s' is fixed in the problem at %g; the table's %s is not used",
                    f, line, pid, spec.nominal, text)
            native[pid] = v
            continue
        if not np.isfinite(v) or (spec.scale.value != "lin" and v <= 0):
            above = "" if spec.scale.value == "lin" else " above 0"
            raise InputError(f"nominalValue must be a finite number{above} "
                             f"(a native value; '{pid}' is estimated on the {spec.scale.value} "
                             "scale)", file=f, row=line, id=pid, value=text)
        if not spec.lb <= v <= spec.ub:
            logging.getLogger("bngfit").warning(
                "%s:%d: value %s of '%s' is outside its bounds [%g, %g]", f, line, text, pid,
                spec.lb, spec.ub)
        native[pid] = v
    x = problem.x_from_native({k: v for k, v in native.items() if k in names})
    return x, [n for n in names if n not in native]


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
