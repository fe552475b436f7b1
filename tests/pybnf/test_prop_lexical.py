"""PyBNF's lexical rules for .prop constraint files, as pybnf/constraint.py reads them.

Lines end at LF, CR LF or CR; blank and ``#`` lines are skipped and a ``#``
ends a constraint; blanks separate the parts and may be left out; keywords
are matched in any case and as the start of what follows (``weight3``);
``inf`` and ``nan`` as a side of an inequality are refused, since PyBNF reads
them as numbers. Every expected value is written by hand from the line.
"""

from __future__ import annotations

import re

import pytest

from bngfit.errors import InputError
from bngfit.problem._constraints import (
    Condition,
    Enforcement,
    Inequality,
    PenaltyModel,
)
from bngfit.pybnf.bpsl import read_prop


def _read(tmp_path, text: str | bytes, name: str = "c.prop"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return read_prop(p)


def _one(tmp_path, line: str):
    (c,) = _read(tmp_path, line + "\n")
    return c


def _refused(tmp_path, text: str, line: int, *parts: str) -> str:
    p = tmp_path / "bad.prop"
    p.write_bytes(text.encode())
    with pytest.raises(InputError) as err:
        read_prop(p)
    msg = str(err.value)
    assert re.search(rf"{re.escape(str(p))}:{line}\b", msg), msg
    for part in parts:
        assert part in msg, msg
    return msg


# ---------------------------------------------------------------- comments and blank lines
def test_comment_and_blank_lines_are_skipped_and_hash_ends_a_constraint(tmp_path):
    text = ("# whole-line comment\n\n   \n   # indented comment\n"
            "A < 5 always # blank before\n"
            "B > 2 once#no blank\n"
            "C<1 at 3 weight 2#attached to a number\n")
    a, b, c = _read(tmp_path, text)
    assert (a.line, b.line, c.line) == (5, 6, 7)
    assert a.ineq == Inequality("A", "<", 5.0) and a.enforcement is Enforcement.ALWAYS
    assert b.ineq == Inequality("B", ">", 2.0) and b.enforcement is Enforcement.ONCE
    assert c.ineq == Inequality("C", "<", 1.0) and c.at == Condition(3.0)
    assert c.weight == 2.0


def test_comment_may_hold_any_characters(tmp_path):
    # PyBNF's grammar refuses non-ASCII characters in a comment after a
    # constraint; bngfit reads the line
    c = _one(tmp_path, "A < 5 always # in µM, ≥ 0")
    assert c.ineq == Inequality("A", "<", 5.0)


# ---------------------------------------------------------------- blanks and line ends
def test_blanks_may_be_left_out_or_repeated_and_tabs_are_blanks(tmp_path):
    a, b, c = _read(tmp_path, "A<5 always\n\tA  <=\t5   once   \nA<5 at 3weight 2\n")
    assert a.ineq == Inequality("A", "<", 5.0) and a.enforcement is Enforcement.ALWAYS
    assert b.ineq == Inequality("A", "<=", 5.0) and b.enforcement is Enforcement.ONCE
    assert c.at == Condition(3.0) and c.weight == 2.0


@pytest.mark.parametrize("end", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_line_ends_and_a_last_line_without_newline(tmp_path, end):
    text = end.join(["# constraints", "A < 5 always", "", "B > 1 once weight 4"])
    a, b = _read(tmp_path, text)
    assert (a.line, b.line) == (2, 4)
    assert b.ineq == Inequality("B", ">", 1.0) and b.weight == 4.0
    assert b.text == "B > 1 once weight 4"


def test_errors_after_windows_line_ends_name_the_right_line(tmp_path):
    _refused(tmp_path, "A < 5 always\r\n\r\nA < 5 sometimes\r\n", 3, "'A < 5 sometimes'",
             "found 'sometimes'")


def test_form_feed_is_a_blank_not_a_line_end(tmp_path):
    # Python's text files end lines only at LF, CR LF and CR, as PyBNF reads them
    a, b = _read(tmp_path, "A < 5 at 3\x0cweight 2\nB < 1 always\n")
    assert a.at == Condition(3.0) and a.weight == 2.0
    assert b.line == 2


def test_byte_order_mark_is_skipped(tmp_path):
    # PyBNF's grammar refuses the first line then
    (c,) = _read(tmp_path, b"\xef\xbb\xbfA < 5 always\r\n")
    assert c.ineq == Inequality("A", "<", 5.0) and c.line == 1


# ---------------------------------------------------------------- keywords
def test_keywords_in_any_case(tmp_path):
    a, b, c, d = _read(tmp_path, "A < 5 AT 3 EVERYTIME BEFORE WEIGHT 2 ALTPENALTY A < 4 MIN 1\n"
                                 "A < 5 Once Between 1, 2 Confidence 0.8 Tolerance 0.5\n"
                                 "A < 5 ALWAYS PMIN 0.1 PMAX 0.7\n"
                                 "A at 1 FIRST < B AT time=2\n")
    assert a.at == Condition(3.0, None, everytime=True, before=True)
    assert (a.weight, a.min_penalty, a.alt) == (2.0, 1.0, Inequality("A", "<", 4.0))
    assert b.enforcement is Enforcement.ONCE_BETWEEN
    assert (b.start, b.end) == (Condition(1.0), Condition(2.0))
    assert b.model is PenaltyModel.LIKELIHOOD
    assert (b.confidence, b.tolerance) == (0.8, 0.5)
    assert (c.enforcement, c.pmin, c.pmax) == (Enforcement.ALWAYS, 0.1, 0.7)
    assert (d.at, d.rhs_at) == (Condition(1.0), Condition(2.0, "time"))


@pytest.mark.parametrize(("line", "field", "value"), [
    ("A < 5 always weight3", "weight", 3.0),
    ("A < 5 at5", "at", Condition(5.0)),
    ("A < 5 attime=5", "at", Condition(5.0, "time")),
    ("A < 5 AT5FIRSTBEFORE", "at", Condition(5.0, before=True)),
    ("A < 5 at 5 everytimebefore", "at", Condition(5.0, everytime=True, before=True)),
    ("A < 5 between1, 2", "end", Condition(2.0)),
    ("A < 5 always pmin0.1 pmax0.9 tolerance1", "pmax", 0.9),
    ("A < 5 always weight 2 altpenalty A<4 min1", "min_penalty", 1.0),
])
def test_keywords_are_matched_as_the_start_of_what_follows(tmp_path, line, field, value):
    # PyBNF's grammar matches a keyword as a literal, not as a whole word
    assert getattr(_one(tmp_path, line), field) == value


def test_split_form_with_attached_keywords(tmp_path):
    c = _one(tmp_path, "A at5 < B attime=3before")
    assert c.ineq == Inequality("A", "<", "B")
    assert (c.at, c.rhs_at) == (Condition(5.0), Condition(3.0, "time", before=True))


def test_once_between_with_any_blanks_between_the_words(tmp_path):
    # PyBNF needs exactly one space; bngfit reads any blanks
    c = _one(tmp_path, "A < 5 once \t between 1, 2")
    assert c.enforcement is Enforcement.ONCE_BETWEEN


@pytest.mark.parametrize(("line", "found"), [
    ("A < 5 alwaysX", "'X'"),
    ("A < 5 always weightless", "'less'"),
    ("A < 5 oncex", "'x'"),
])
def test_what_follows_an_attached_keyword_must_still_fit(tmp_path, line, found):
    _refused(tmp_path, f"A < 1 always\n{line}\n", 2, f"'{line}'", found)


# ---------------------------------------------------------------- names and numbers
def test_names_are_case_sensitive_and_kept_as_written(tmp_path):
    c = _one(tmp_path, "Obs.x_1 < obs.X_1 always")
    assert c.ineq == Inequality("Obs.x_1", "<", "obs.X_1")


@pytest.mark.parametrize(("text", "value"), [
    ("5", 5.0), ("-5", -5.0), ("+5", 5.0), ("5.", 5.0), ("-.5", -0.5), ("1e-3", 0.001),
    ("1.5E+03", 1500.0), ("1.e2", 100.0), ("2E3", 2000.0),
    (".5", 0.5),  # PyBNF refuses a number without a digit before the point; bngfit reads it
])
def test_number_forms(tmp_path, text, value):
    c = _one(tmp_path, f"A < {text} at {text} weight 2")
    assert c.ineq.rhs == value
    assert c.at == Condition(value)


@pytest.mark.parametrize("line", ["A < inf always", "A < Infinity always", "NaN > A once",
                                  "A < 5 always weight 1 altpenalty A < INF"])
def test_inf_and_nan_as_a_side_are_refused(tmp_path, line):
    # PyBNF reads them as numbers: the constraint always holds or always fails
    word = re.search(r"(?i)\b(inf(inity)?|nan)\b", line).group(0)
    _refused(tmp_path, f"# c\n{line}\n", 2, f"'{line}'",
             f"'{word}' is read by PyBNF as the number")


def test_inf_in_the_split_form_is_a_name(tmp_path):
    # PyBNF keeps the sides of 'A at C1 < B at C2' as names
    c = _one(tmp_path, "inf at 1 < B at 2")
    assert c.ineq == Inequality("inf", "<", "B")


# ---------------------------------------------------------------- refusals say why
@pytest.mark.parametrize(("line", "parts"), [
    ("A < 5 always weight -2", ("weight -2 is negative", "lower the objective")),
    ("A < 5 always weight 1 min -1", ("min -1 is negative", "does nothing")),
    ("A < 5 always confidence 0.9 tolerance -1", ("tolerance -1 is negative",
                                                   "turns the penalty around")),
    ("A < 5 always weight 1e999", ("not finite", "1e999")),
    ("A < 5 always weight", ("expected a number after 'weight'", "end of line")),
    ("A < 5 always $", ("unexpected character '$'",)),
])
def test_refusals_name_file_line_value_and_reason(tmp_path, line, parts):
    _refused(tmp_path, f"A < 1 always\n\n{line}\n", 3, f"'{line}'", *parts)
