"""Small HTML tables for notebook displays (``_repr_html_`` of the public types).

Every stage that shows itself in a notebook builds its display from these two
helpers, so the look is one and every piece of text is escaped once, here:
ids and messages come from user files and must never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

import numpy as np

#: Inline style of every table: compact, left-aligned, monospace numbers.
_TABLE_STYLE = "border-collapse:collapse;font-size:12px;text-align:left"
_CELL_STYLE = "padding:1px 8px;text-align:left"


def fmt(value: object, digits: int = 6) -> str:
    """A value as short text: numbers with ``digits`` significant digits, ``-`` for None.

    Parameters
    ----------
    value : object
    digits : int
        Significant digits of floats.

    Returns
    -------
    str
        Not escaped (see :func:`html_table`).
    """
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):.{digits}g}"
    return str(value)


def _row(cells: Iterable[object], tag: str) -> str:
    return "<tr>" + "".join(f'<{tag} style="{_CELL_STYLE}">{html.escape(fmt(c))}</{tag}>'
                            for c in cells) + "</tr>"


def html_table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None,
               caption: str | None = None) -> str:
    """An HTML table of ``rows``, every cell escaped.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of cells per row (formatted with :func:`fmt`).
    header : sequence of str, optional
        Column titles.
    caption : str, optional
        A bold line above the table.

    Returns
    -------
    str
        ``<table>...</table>`` (with a ``<caption>`` when given).
    """
    parts = [f'<table style="{_TABLE_STYLE}">']
    if caption:
        parts.append(f'<caption style="text-align:left;font-weight:bold">'
                     f"{html.escape(caption)}</caption>")
    if header:
        parts.append("<thead>" + _row(header, "th") + "</thead>")
    parts.append("<tbody>" + "".join(_row(r, "td") for r in rows) + "</tbody></table>")
    return "".join(parts)


def html_fields(title: str, fields: Sequence[tuple[str, object]]) -> str:
    """A two-column table ``name | value`` under a title (a type's summary).

    Parameters
    ----------
    title : str
        The caption, e.g. the type's name.
    fields : sequence of (str, object)

    Returns
    -------
    str
    """
    return html_table([(name, value) for name, value in fields], caption=title)


__all__ = ["fmt", "html_fields", "html_table"]
