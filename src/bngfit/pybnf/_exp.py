"""Read a PyBNF ``.exp`` data table (a time course, or a parameter scan).

The format, as PyBNF writes and reads it:

- whitespace-separated columns (spaces and/or tabs, any number);
- the header is the first non-blank line, written after a ``#``
  (``# time  x  y  x_SD  y_SD``); a header without the ``#`` is accepted too;
  as in PyBNF, ``()`` and ``[]`` around a name are dropped (``y()`` is ``y``)
  and ``Time`` is read as ``time``;
- the first column is ``time`` (a time course), or the name of the parameter a
  ``parameter_scan`` action scans (dose-response data: each row is the end
  of the simulation at that parameter value); every other column is an
  observable, except ``<obs>_SD``, which gives the standard deviation of
  observable ``<obs>``;
- ``nan`` (any case) marks a missing value;
- blank lines and further lines starting with ``#`` are skipped.

Which kind a table must be is the action's business: the builder checks that a
scan's table names the scanned parameter, and a time course's names ``time``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, Issue
from bngfit.files import MAX_OUTPUT_POINTS, parse_float, read_text, too_many_points

SD_SUFFIX = "_SD"
_SPLIT = re.compile(r"\s+")
_LINES = re.compile(r"\r\n|\r|\n")  # what Python's text files end a line at


@dataclass(frozen=True, eq=False)
class ExpTable:
    """A PyBNF ``.exp`` table.

    All arrays are read-only.

    Attributes
    ----------
    path : str
        The file read.
    time : numpy.ndarray
        The first column, shape (n,): measurement times (non-decreasing), or
        for a scan table (:attr:`is_scan`) the scanned parameter's values.
    columns : tuple of str
        Observable names in header order, without the ``_SD`` columns.
    values : dict of str to numpy.ndarray
        Measured values of each observable, shape (n,); NaN where missing.
    sd : dict of str to numpy.ndarray
        Standard deviations, shape (n,), for the observables that have an
        ``_SD`` column (positive wherever the value is present).
    lines : numpy.ndarray
        1-based line number of each data row in the file, shape (n,), int.
    header : tuple of str
        Every column name in file order (``time`` first, ``_SD`` columns
        included), as PyBNF numbers columns (``time`` is column 0).
    header_line : int
        Line number of the header.
    warnings : tuple of Issue
        Problems that do not stop reading (e.g. an observable with no value).
    """

    path: str
    time: np.ndarray
    columns: tuple[str, ...]
    values: dict[str, np.ndarray]
    sd: dict[str, np.ndarray]
    lines: np.ndarray
    header: tuple[str, ...] = ()
    header_line: int = 1
    warnings: tuple[Issue, ...] = field(default=())

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return int(self.time.shape[0])

    @property
    def x_name(self) -> str:
        """The first column's name: ``time``, or the scanned parameter's."""
        return self.header[0] if self.header else "time"

    @property
    def is_scan(self) -> bool:
        """True for parameter-scan data (the first column is not ``time``)."""
        return self.x_name != "time"


def read_exp(path: str | Path) -> ExpTable:
    """Read a PyBNF ``.exp`` file.

    Parameters
    ----------
    path : str or Path
        The ``.exp`` file.

    Returns
    -------
    ExpTable

    Raises
    ------
    InputError
        Naming the file and line: missing or unreadable file, text that is not
        UTF-8, no header, a duplicated
        column, an ``_SD`` column without its observable, a row with the wrong
        number of cells, a cell that is not a number (``nan`` is allowed except
        in the first column), an infinite value, a negative time, times that
        decrease,
        and a standard deviation that is not positive (or missing) where the
        value is present.
    """
    path = Path(path)
    f = str(path)
    text = read_text(path, "data file")
    header, header_line, rows, lines = _split(text, f)
    names = _check_header(header, f, header_line)
    if not rows:
        raise InputError("the table has a header but no data rows", file=f, row=header_line)
    data = np.empty((len(rows), len(names)))
    for i, (cells, line) in enumerate(zip(rows, lines, strict=True)):
        if len(cells) != len(names):
            raise InputError(f"row has {len(cells)} cells but the header has {len(names)} "
                             f"columns ({' '.join(names)})", file=f, row=line,
                             value=" ".join(cells))
        for j, cell in enumerate(cells):
            data[i, j] = _number(cell, f, line, names[j])
    time = data[:, 0]
    if names[0] == "time":
        _check_time(time, lines, f)
    else:
        _check_scan_values(time, lines, f, names[0])
    columns = tuple(n for n in names[1:] if not n.endswith(SD_SUFFIX))
    values = {n: _frozen(data[:, names.index(n)]) for n in columns}
    sd: dict[str, np.ndarray] = {}
    for j, n in enumerate(names):
        if j > 0 and n.endswith(SD_SUFFIX):
            obs = n[: -len(SD_SUFFIX)]
            _check_sd(data[:, j], values[obs], lines, f, n)
            sd[obs] = _frozen(data[:, j])
    warnings = tuple(
        Issue("warning", "observable column has no values (every cell is nan); it adds "
              "nothing to the fit", f, header_line, id=n)
        for n in columns if np.all(np.isnan(values[n]))
    )
    return ExpTable(path=f, time=_frozen(time), columns=columns, values=values, sd=sd,
                    lines=_frozen(np.asarray(lines, dtype=int)), header=tuple(names),
                    header_line=header_line, warnings=warnings)


def _split(text: str, f: str) -> tuple[list[str], int, list[list[str]], list[int]]:
    """Header cells, header line, data rows (cells) and their line numbers.

    The lexical rules, as PyBNF's reader (``pybnf/data.py``) applies them, and
    where bngfit departs from it:

    - lines end at LF, CR LF or CR (Windows files read as Unix ones; a last
      line without a newline is read); cells are separated by blanks (spaces,
      tabs, any number; leading and trailing ones do not matter);
    - the header is the first line; every ``#`` at either end of it is dropped
      (``## time x #`` is ``time x``). PyBNF takes line 1 whatever it holds;
      bngfit skips blank and ``#``-only lines before the header, and a UTF-8
      byte-order mark (``read_text``), which PyBNF reads as part of the first
      column's name;
    - later blank lines, and lines whose first non-blank character is ``#``,
      are skipped;
    - a ``#`` anywhere else is refused, since it does not start a comment:
      PyBNF reads ``# time x # note`` as four columns, and refuses a row
      ``0 1 # note``;
    - the cells are read by :func:`_number`, the column names by
      :func:`_check_header`; nothing here depends on the first column's name.
    """
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, raw in enumerate(_LINES.split(text), start=1):
        line = raw.strip()
        if not line:
            continue
        if header is None:
            body = line.strip("#").strip()  # as PyBNF: every '#' at either end goes
            if not body:
                continue
            header, header_line = _SPLIT.split(body), number
            if _is_number(header[0]):
                raise InputError("no header line: the first line must name the columns, as "
                                 "in '# time obs1 obs2'", file=f, row=number, value=line)
            for cell in header:
                if "#" in cell:
                    raise InputError("a '#' inside the header does not start a comment (PyBNF "
                                     "reads what follows it as more column names): remove "
                                     "it, or put the comment on a line of its own", file=f,
                                     row=number, id=cell, value=line)
            continue
        if line.startswith("#"):
            continue
        if "#" in line:
            raise InputError("a '#' after the values does not start a comment in a data row "
                             "(PyBNF refuses the row too): put the comment on a line of its "
                             "own", file=f, row=number, value=line)
        if len(rows) == MAX_OUTPUT_POINTS:  # each row is a sample time of one simulation
            raise InputError(f"the table {too_many_points(len(rows) + 1)}", file=f,
                             row=number)
        rows.append(_SPLIT.split(line))
        lines.append(number)
    if header is None:
        raise InputError("the file is empty (no header line such as '# time obs1 obs2')",
                         file=f)
    return header, header_line, rows, lines


def _check_header(header: list[str], f: str, line: int) -> list[str]:
    """The column names (brackets dropped, ``Time`` as ``time``), checked."""
    names = [h.strip("()[]") for h in header]
    if names[0] == "Time":
        names[0] = "time"
    for j, n in enumerate(names):
        if not n:
            raise InputError(f"column {j + 1} of the header has no name", file=f, row=line,
                             value=header[j])
        if names.index(n) != j:
            raise InputError("column name appears more than once in the header", file=f,
                             row=line, id=n)
    for n in names[1:]:
        if n.endswith(SD_SUFFIX):
            obs = n[: -len(SD_SUFFIX)]
            if obs == names[0]:
                raise InputError(f"{obs} has no standard deviation; '_SD' columns belong "
                                 "to observables", file=f, row=line, id=n)
            if obs not in names:
                raise InputError(f"standard-deviation column without its observable: add a "
                                 f"column '{obs}' or remove '{n}'", file=f, row=line, id=n)
    return names


def _is_number(text: str) -> bool:
    """Whether ``text`` reads as a number."""
    try:
        parse_float(text)
    except ValueError:
        return False
    return True


def _number(cell: str, f: str, line: int, column: str) -> float:
    """A cell's value: a finite number, or NaN for ``nan`` (a missing value)."""
    if cell.lower() in ("nan", "+nan", "-nan"):
        return math.nan
    try:
        value = parse_float(cell)
    except ValueError:
        try:
            python = float(cell)
        except ValueError:
            raise InputError("not a number (write nan for a missing value)", file=f, row=line,
                             id=column, value=cell) from None
        raise InputError(f"not a plain decimal number: Python, and so PyBNF, reads it as "
                         f"{python:g}, but other tools do not; write it with ASCII digits and "
                         f"no '_'", file=f, row=line, id=column, value=cell) from None
    if not math.isfinite(value):
        raise InputError("value is not finite: an infinite measurement cannot be fitted "
                         "(PyBNF's objective would be infinite, or an infinite _SD would drop "
                         "the point silently); write nan for a missing value", file=f,
                         row=line, id=column, value=cell)
    return value


def _check_time(time: np.ndarray, lines: list[int], f: str) -> None:
    """Times present, not negative and non-decreasing; ``time`` shape (n,)."""
    for i, t in enumerate(time):
        if math.isnan(t):
            raise InputError("time is missing (nan); every row needs a time", file=f,
                             row=lines[i], id="time", value="nan")
        if t < 0:
            raise InputError("time is negative; simulations start at t = 0", file=f,
                             row=lines[i], id="time",
                             value=f"{t:g}")
        if i and t < time[i - 1]:
            raise InputError(f"times must be sorted (non-decreasing), as PyBNF requires: "
                             f"{t:g} comes after {time[i - 1]:g} on line {lines[i - 1]}",
                             file=f, row=lines[i], id="time", value=f"{t:g}")


def _check_scan_values(x: np.ndarray, lines: list[int], f: str, name: str) -> None:
    """Every row of a scan table names its parameter value; ``x`` shape (n,)."""
    for i, v in enumerate(x):
        if math.isnan(v):
            raise InputError(f"the value of the scanned parameter {name} is missing (nan); "
                             "every row needs one", file=f, row=lines[i], id=name,
                             value="nan")


def _check_sd(sd: np.ndarray, values: np.ndarray, lines: list[int], f: str,
              column: str) -> None:
    """A standard deviation, positive, wherever the value is present; shape (n,)."""
    for i, (s, v) in enumerate(zip(sd, values, strict=True)):
        if math.isnan(v):
            continue
        if math.isnan(s):
            raise InputError("standard deviation is missing (nan) where the value is "
                             "present", file=f, row=lines[i], id=column, value="nan")
        if s <= 0:
            raise InputError("standard deviation must be positive", file=f, row=lines[i],
                             id=column, value=f"{s:g}")


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy of ``a``."""
    a = np.array(a)
    a.setflags(write=False)
    return a
