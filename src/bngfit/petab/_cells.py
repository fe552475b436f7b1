"""Shared pieces of the PEtab table readers: issue collection, tables, cells."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bngfit.errors import InputError, Issue
from bngfit.files import parse_float, read_tsv
from bngfit.problem import PLACEHOLDER, TIME_SYMBOL
from bngfit.problem._formulas import numeric_or_name

# PLACEHOLDER and TIME_SYMBOL: bngfit 0.1's module petab_cells exported them.
__all__ = [
    "ID", "PLACEHOLDER", "TIME_SYMBOL", "Issues", "also_lines", "cell_number", "cell_value",
    "read_table", "records",
]

ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Issues:
    """Collects issues while reading; raises them together."""

    def __init__(self) -> None:
        self.items: list[Issue] = []

    def error(self, message: str, file: str | None = None, row: int | None = None,
              id: str | None = None, value: object = None) -> None:  # noqa: A002
        """Add an error (``value`` as text)."""
        self.items.append(Issue("error", message, file, row, id, None if value is None
                                else str(value)))

    def warn(self, message: str, file: str | None = None, row: int | None = None,
             id: str | None = None, value: object = None,  # noqa: A002
             affects_result: bool = False) -> None:
        """Add a warning (``value`` as text; see :attr:`Issue.affects_result`)."""
        self.items.append(Issue("warning", message, file, row, id, None if value is None
                                else str(value), affects_result))

    @property
    def has_errors(self) -> bool:
        """Whether any issue is an error."""
        return any(i.severity == "error" for i in self.items)


def new_id(column: str, value: str, seen: set[str] | dict, f: str, line: int,
           issues: Issues, hint: str = "") -> bool:
    """Whether a table's id cell holds a valid identifier not seen before.

    Reports the invalid or repeated id (with ``hint`` after "not a valid
    identifier"); the caller records a new one in ``seen``.
    """
    if not ID.match(value):
        issues.error(f"{column} is not a valid identifier{hint}", f, line,
                     value=value or "(empty)")
        return False
    if value in seen:
        issues.error(f"duplicate {column}", f, line, id=value)
        return False
    return True


def read_table(path: Path, issues: Issues, required: list[str]) -> pd.DataFrame | None:
    """Read a table (see :func:`read_tsv`); report a bad file or missing columns."""
    try:
        df = read_tsv(path)
    except InputError as err:
        issues.items.extend(err.issues)
        return None
    missing = [c for c in required if c not in df.columns]
    if missing:
        issues.error(
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(df.columns) or 'none'})",
            file=str(path),
            row=df.attrs["header_line"],
        )
        return None
    return df


def records(df: pd.DataFrame) -> list[tuple[int, dict[str, str]]]:
    """(line number, row as a dict) for each data row of a table from :func:`read_tsv`."""
    return [(int(line), r) for line, r in zip(df.index, df.to_dict("records"), strict=True)]


def also_lines(lines: list[int]) -> str:
    """Suffix naming further lines where the same problem occurs."""
    if len(lines) < 2:
        return ""
    more = ", ".join(map(str, lines[1:6])) + (", ..." if len(lines) > 6 else "")
    return f" (also on {len(lines) - 1} more line(s): {more})"


def cell_value(text: str) -> float | str | None:
    """A cell's number, id or None (empty, NaN).

    A number only in plain ASCII decimal: ``1_0`` stays text, which no id
    check accepts, rather than becoming 10.
    """
    v = numeric_or_name(text)
    return text.strip() if isinstance(v, float) and cell_number(text) is None else v


def cell_number(text: str) -> float | None:
    """A cell's number in plain ASCII decimal (see :func:`parse_float`), else None."""
    try:
        return parse_float(text)
    except (TypeError, ValueError, AttributeError):
        return None
