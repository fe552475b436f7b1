"""Tab-separated tables read as text, with the line number of every row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from .errors import InputError


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

    Raises
    ------
    InputError
        Missing or unreadable file, text that is not UTF-8, no header line,
        unnamed or duplicated columns, a row with more cells than the header.
    """
    path = Path(path)
    f = str(path)
    text = read_text(path)
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for fields in reader:
            line = reader.line_num
            if not any(c.strip() for c in fields):
                continue
            if header is None:
                header = [c.strip() for c in fields]
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
            cells = [c.strip() for c in fields]
            extra = cells[len(header):]
            if any(extra):
                raise InputError(f"row has {len(cells)} cells but the header has "
                                 f"{len(header)} columns (a tab too many, or a missing "
                                 "column name?)", file=f, row=line, value=extra[0])
            rows.append(cells[: len(header)] + [""] * (len(header) - len(cells)))
            lines.append(line)
    except csv.Error as err:
        raise InputError(f"not a tab-separated table: {err}", file=f,
                         row=reader.line_num) from None
    if header is None:
        raise InputError("table is empty (no header line)", file=f)
    df = pd.DataFrame(rows, columns=header, index=lines, dtype=object)
    df.attrs["header_line"] = header_line
    return df
