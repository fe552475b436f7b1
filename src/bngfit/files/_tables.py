"""Tab-separated tables read as text, with the line number of every row."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bngfit.errors import InputError

# A number as C, pandas and other tools read it: no '_' digit groups, no
# non-ASCII digits, no hex (Python's float() takes '1_0' for 10 and '١' for 1).
_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|[+-]?(?:inf|infinity|nan)",
                    re.ASCII | re.IGNORECASE)
_INT = re.compile(r"[+-]?\d+", re.ASCII)


def parse_float(text: str) -> float:
    """A decimal number written in plain ASCII (``inf``/``nan`` allowed), surrounding
    blanks ignored.

    Raises
    ------
    ValueError
        Anything else, including forms Python's ``float`` would take
        (``1_000``, non-ASCII digits).
    """
    t = text.strip()
    if not _FLOAT.fullmatch(t):
        raise ValueError(f"not a number: {text!r}")
    return float(t)


def parse_int(text: str) -> int:
    """A whole number in ASCII digits (see :func:`parse_float`)."""
    t = text.strip()
    if not _INT.fullmatch(t):
        raise ValueError(f"not an integer: {text!r}")
    return int(t)


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of an input file (UTF-8, a byte-order mark allowed).

    Raises
    ------
    InputError
        ``what`` not found, not a file, unreadable, or not UTF-8 (with the line
        of the first bad byte).
    """
    path = Path(path)
    f = str(path)
    if not path.is_file():
        raise InputError(f"{what} not found" if not path.exists() else f"{what} is not a file",
                         file=f)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the file: {err.strerror or err}", file=f) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as "
                         "UTF-8", file=f, row=line) from None


def read_tsv(path: str | Path) -> pd.DataFrame:
    """Read a tab-separated table as text.

    Cells are stripped strings (empty for missing). The index holds each data
    row's line number in the file (the header is usually line 1; blank lines
    are skipped but counted), so messages can name the line. Rows shorter than
    the header are padded with empty cells; trailing empty cells beyond the
    header are ignored.

    A line is split at every tab, with no quote processing: a cell holding a
    double quote is refused, because tools that do process quotes (pandas,
    libpetab) read such a table differently (a stray quote joins the rows up to
    the next quote into one cell) and would fit other data.

    Raises
    ------
    InputError
        Missing or unreadable file, text that is not UTF-8, no header line,
        unnamed or duplicated columns, a row with more cells than the header, a
        cell with a double quote or a NUL byte.
    """
    path = Path(path)
    f = str(path)
    text = read_text(path)
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, raw in enumerate(_LINE_END.split(text), start=1):
        cells = [c.strip() for c in raw.split("\t")]
        if not any(cells):
            continue
        _check_cells(cells, header, f, line)
        if header is None:
            header = cells
            header_line = line
            while header and header[-1] == "":
                header.pop()
            if "" in header:
                raise InputError(f"column {header.index('') + 1} of the header has no "
                                 "name", file=f, row=line)
            dup = sorted({c for c in header if header.count(c) > 1})
            if dup:
                raise InputError("column name appears more than once in the header",
                                 file=f, row=line, id=dup[0])
            continue
        extra = cells[len(header):]
        if any(extra):
            raise InputError(f"row has {len(cells)} cells but the header has "
                             f"{len(header)} columns (a tab too many, or a missing "
                             "column name?)", file=f, row=line, value=extra[0])
        rows.append(cells[: len(header)] + [""] * (len(header) - len(cells)))
        lines.append(line)
    if header is None:
        raise InputError("table is empty (no header line)", file=f)
    df = pd.DataFrame(rows, columns=header, index=lines, dtype=object)
    df.attrs["header_line"] = header_line
    return df


# Line ends as csv and pandas read them (not str.splitlines, which also splits at
# form feeds and Unicode separators that may sit inside a cell).
_LINE_END = re.compile(r"\r\n|\r|\n")


def _check_cells(cells: list[str], header: list[str] | None, f: str, line: int) -> None:
    """Refuse a double quote or a NUL byte in any cell of a table line."""
    for j, cell in enumerate(cells):
        where = (f"column '{header[j]}'" if header is not None and j < len(header)
                 else f"cell {j + 1}")
        if '"' in cell:
            raise InputError(f"{where} holds a double quote (\"); tables are read without "
                             "quote processing (other tools would join lines up to the next "
                             "quote): remove the quotes", file=f, row=line, value=cell)
        if "\x00" in cell:
            raise InputError(f"{where} holds a NUL byte: this is not a text table",
                             file=f, row=line, value=cell.replace("\x00", "\\0"))
