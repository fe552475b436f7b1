"""PyBNF's lexical rules for .exp data tables, as its reader (pybnf/data.py) applies them.

The header is the first line, every ``#`` at either end of it dropped; later
blank lines and lines starting with ``#`` are skipped; cells are separated by
any blanks; lines end at LF, CR LF or CR; ``nan`` in any case is a missing
value. Where bngfit departs from PyBNF (a blank line or a byte-order mark
before the header is skipped; a ``#`` after values, ``inf`` and numbers only
Python reads are refused) the tests say so. Every expected value is written
by hand from the file's text.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bngfit.errors import InputError
from bngfit.pybnf._exp import _split, read_exp


def _write(tmp_path, text: str | bytes, name: str = "t.exp"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_bytes(text.encode())
    return p


def _refused(path, line: int, *parts: str) -> str:
    """The message of reading ``path``, which must name the file and line and ``parts``."""
    with pytest.raises(InputError) as err:
        read_exp(path)
    msg = str(err.value)
    assert re.search(rf"{re.escape(str(path))}:{line}\b", msg), msg
    for part in parts:
        assert part in msg, msg
    return msg


# ---------------------------------------------------------------- comments and blank lines
def test_hash_header_then_comment_lines_and_blank_lines_are_skipped(tmp_path):
    p = _write(tmp_path, "# time x\n# a comment\n0 1\n\n   \n   # indented comment\n2 3\n")
    t = read_exp(p)
    assert t.header == ("time", "x")
    assert t.header_line == 1
    np.testing.assert_array_equal(t.time, [0.0, 2.0])
    np.testing.assert_array_equal(t.values["x"], [1.0, 3.0])
    np.testing.assert_array_equal(t.lines, [3, 7])


def test_every_hash_at_either_end_of_the_header_is_dropped(tmp_path):
    for n, header in enumerate(["## time x", "# time x #", "#time x#", "time x", "#\ttime\tx"]):
        t = read_exp(_write(tmp_path, f"{header}\n0 1\n", f"h{n}.exp"))
        assert t.header == ("time", "x"), header
        assert t.values["x"][0] == 1.0


def test_hash_after_the_values_is_refused(tmp_path):
    p = _write(tmp_path, "# time x\n0 1\n1 2 # a note\n")
    msg = _refused(p, 3, "'1 2 # a note'", "does not start a comment")
    assert "PyBNF refuses" in msg
    p = _write(tmp_path, "# time x\n0 1#note\n", "glued.exp")
    _refused(p, 2, "'0 1#note'")


def test_hash_inside_the_header_is_refused(tmp_path):
    # PyBNF reads '#' and 'note' as two more columns
    p = _write(tmp_path, "# time x # note\n0 1 2 3\n")
    _refused(p, 1, "id '#'", "'# time x # note'", "more column names")


def test_blank_and_hash_only_lines_before_the_header_are_skipped(tmp_path):
    # bngfit is lenient here: PyBNF takes line 1, whatever it holds, as the header
    t = read_exp(_write(tmp_path, "\n#\n# time x\n0 5\n"))
    assert t.header == ("time", "x")
    assert t.header_line == 3
    np.testing.assert_array_equal(t.lines, [4])
    assert t.values["x"][0] == 5.0


# ---------------------------------------------------------------- blanks and line ends
def test_tabs_spaces_and_trailing_blanks(tmp_path):
    p = _write(tmp_path, "#\ttime \t x\t y  \n  0\t1   2\t\n1 \t 3\t\t4   \n")
    t = read_exp(p)
    assert t.header == ("time", "x", "y")
    np.testing.assert_array_equal(t.time, [0.0, 1.0])
    np.testing.assert_array_equal(t.values["x"], [1.0, 3.0])
    np.testing.assert_array_equal(t.values["y"], [2.0, 4.0])


def test_no_break_space_and_form_feed_separate_cells_within_a_line(tmp_path):
    # Python's text files end lines only at LF, CR LF and CR: a form feed or a
    # vertical tab is a blank inside the line, as in PyBNF
    p = _write(tmp_path, "# time x y\n0\u00a01\x0c2\n1 3\x0b4\n")
    t = read_exp(p)
    np.testing.assert_array_equal(t.values["x"], [1.0, 3.0])
    np.testing.assert_array_equal(t.values["y"], [2.0, 4.0])
    np.testing.assert_array_equal(t.lines, [2, 3])


@pytest.mark.parametrize("end", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_line_ends_and_a_last_line_without_newline(tmp_path, end):
    text = end.join(["# time x", "0 1.5", "# comment", "", "2 2.5"])  # no final line end
    t = read_exp(_write(tmp_path, text))
    assert t.header == ("time", "x")
    np.testing.assert_array_equal(t.time, [0.0, 2.0])
    np.testing.assert_array_equal(t.values["x"], [1.5, 2.5])
    np.testing.assert_array_equal(t.lines, [2, 5])


def test_line_numbers_in_errors_count_windows_line_ends_once(tmp_path):
    p = _write(tmp_path, "# time x\r\n0 1\r\n\r\n1 abc\r\n")
    _refused(p, 4, "id 'x'", "'abc'", "not a number")


def test_byte_order_mark_is_skipped(tmp_path):
    # PyBNF reads it as part of the first column's name
    t = read_exp(_write(tmp_path, b"\xef\xbb\xbf# time x\r\n0 7\r\n"))
    assert t.header == ("time", "x")
    assert t.values["x"][0] == 7.0


def test_lexical_reading_does_not_depend_on_the_first_column_name(tmp_path):
    # a parameter scan's table reads into the same cells and line numbers
    header, line, rows, lines = _split("# kAB  x  x_SD\n0.1 2 0.5\n\n1e-2\tnan 0.5\n", "s.exp")
    assert header == ["kAB", "x", "x_SD"]
    assert line == 1
    assert rows == [["0.1", "2", "0.5"], ["1e-2", "nan", "0.5"]]
    assert lines == [2, 4]


# ---------------------------------------------------------------- column names
def test_column_names_are_case_sensitive_except_time(tmp_path):
    t = read_exp(_write(tmp_path, "# Time x X x_sd\n0 1 2 3\n"))
    assert t.header == ("time", "x", "X", "x_sd")
    assert t.columns == ("x", "X", "x_sd")  # x_sd is an observable, not a deviation
    assert t.sd == {}
    assert (t.values["x"][0], t.values["X"][0], t.values["x_sd"][0]) == (1.0, 2.0, 3.0)


def test_brackets_around_names_are_dropped(tmp_path):
    t = read_exp(_write(tmp_path, "# [time] y() [z]\n0 1 2\n"))
    assert t.header == ("time", "y", "z")


def test_sd_columns(tmp_path):
    t = read_exp(_write(tmp_path, "# time x y x_SD\n0 1 2 0.25\n1 3 nan 0.5\n"))
    assert t.columns == ("x", "y")
    assert set(t.sd) == {"x"}
    np.testing.assert_array_equal(t.sd["x"], [0.25, 0.5])


@pytest.mark.parametrize("header", ["# time x x", "# time x x()", "# time x [x]"])
def test_duplicated_columns_are_refused(tmp_path, header):
    p = _write(tmp_path, f"{header}\n0 1 2\n")
    _refused(p, 1, "id 'x'", "more than once")


# ---------------------------------------------------------------- values
def test_nan_in_any_case_is_a_missing_value(tmp_path):
    t = read_exp(_write(tmp_path, "# time a b c d\n0 nan NaN NAN -nan\n1 +nan 1 2 3\n"))
    for column in ("a", "b", "c", "d"):
        assert np.isnan(t.values[column][0]), column
    assert np.isnan(t.values["a"][1])
    assert (t.values["b"][1], t.values["c"][1], t.values["d"][1]) == (1.0, 2.0, 3.0)


def test_scientific_notation_and_decimal_forms(tmp_path):
    p = _write(tmp_path, "# time x\n0 1e-3\n1 1E+03\n2 -2.5E-1\n3 .5\n4 5.\n5 +7\n6 1.e2\n")
    t = read_exp(p)
    np.testing.assert_array_equal(t.values["x"], [0.001, 1000.0, -0.25, 0.5, 5.0, 7.0, 100.0])


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "INF"])
def test_infinite_values_are_refused_with_the_reason(tmp_path, cell):
    # PyBNF reads them: its objective would be infinite, or an infinite _SD drops the point
    p = _write(tmp_path, f"# time x x_SD\n0 1 0.5\n1 {cell} 0.5\n")
    _refused(p, 3, "id 'x'", f"'{cell}'", "not finite", "write nan")


@pytest.mark.parametrize(("cell", "python"), [("1_000", "1000"), ("\u0661\u0662", "12")])
def test_numbers_only_python_reads_are_refused_with_the_reason(tmp_path, cell, python):
    p = _write(tmp_path, f"# time x\n0 {cell}\n")
    _refused(p, 2, "id 'x'", f"'{cell}'", f"PyBNF, reads it as {python}", "ASCII digits")


@pytest.mark.parametrize("cell", ["1d3", "0x10", "1,5", "--1", "e5"])
def test_what_is_not_a_number_is_refused(tmp_path, cell):
    p = _write(tmp_path, f"# time x\n0 1\n1 {cell}\n")
    _refused(p, 3, "id 'x'", f"'{cell}'", "not a number")


def test_row_with_the_wrong_number_of_cells_is_refused(tmp_path):
    p = _write(tmp_path, "# time x y\n0 1 2\n1 2\n")
    _refused(p, 3, "'1 2'", "2 cells", "3 columns")
