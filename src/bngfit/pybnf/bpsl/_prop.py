"""Read a PyBNF ``.prop`` file: qualitative constraints on model outputs.

The language (PyBNF calls it BPSL; described in PyBNF's ``docs/config.rst``,
section "Property (BPSL) files", and implemented by ``pybnf/constraint.py``)
has one constraint per line, in three parts::

    <inequality> <enforcement> [<penalty clause>] [# comment]

Inequality
    ``A < B``, ``A <= 5``, ``5 > A``: ``<``, ``<=``, ``>``, ``>=`` between
    two observables/functions, or an observable and a number (never two
    numbers). Names may use PyBNF's dot notation ``suffix.Observable``; they
    are kept as written.
Enforcement
    ``always`` (every sample), ``once`` (at least one sample),
    ``at C``, ``between C1, C2`` and ``once between C1, C2``, where a
    condition ``C`` is a number (a value of the independent variable) or
    ``X=V`` (where quantity ``X`` reaches ``V``; ``time=6`` is PyBNF's way of
    naming the independent variable explicitly). ``at`` takes the modifiers
    ``first`` (the default) or ``everytime``, then optionally ``before``.
    Both sides may carry their own point: ``A at 5 < B at C=6`` (the
    "split" form; ``everytime`` is refused there, as in PyBNF).
Penalty clause
    ``weight W [altpenalty <inequality>] [min M]`` (static penalty, in that
    order), or ``confidence P [tolerance T]``, or ``pmin P0 pmax P1
    [tolerance T]`` (likelihood penalty). Without a clause: weight 1.
    ``confidence P`` means ``pmin = (1-P)/2``, ``pmax = (1+P)/2``.

Lexical rules, as PyBNF's reader (a pyparsing grammar) applies them:

- lines end at LF, CR LF or CR (Windows files read as Unix ones; a last line
  without a newline is read); blank lines and lines whose first non-blank
  character is ``#`` are skipped; a ``#`` after a constraint starts a
  comment, with or without a blank before it;
- blanks (spaces, tabs, any number) separate the parts and may be left out
  where nothing is ambiguous (``A<5 always``);
- keywords are matched without regard to case (``AT``, ``Weight``) and, as
  PyBNF matches them, as the start of what follows: ``weight3``, ``at5`` and
  ``attime=5`` read as ``weight 3``, ``at 5`` and ``at time=5``;
- a number is written ``5``, ``-5``, ``+5``, ``5.``, ``-.5``, ``1e-3``,
  ``1.5E+03`` (bngfit also takes ``.5``, which PyBNF refuses);
- a name is a letter or ``_`` followed by letters, digits, ``_`` and ``.``
  (PyBNF refuses a leading ``_``);
- ``inf``, ``infinity`` and ``nan`` (any case) as one side of an inequality
  are refused: PyBNF reads them as numbers, so the constraint would always
  hold or always fail (in the split form ``A at C1 < B at C2`` PyBNF keeps
  them as names, and so does bngfit);
- bngfit also reads what PyBNF's grammar refuses: a UTF-8 byte-order mark at
  the start (ignored), blanks other than spaces and tabs (a no-break space, a
  form feed), characters other than ASCII in a comment after a constraint,
  and ``once between`` with other blanks than one space between the words.

How each form is turned into a number is in :mod:`bngfit.likelihood._penalties`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from bngfit.errors import InputError, Issue
from bngfit.files._tables import read_text
from bngfit.problem._constraints import (
    Condition,
    Constraint,
    Enforcement,
    Inequality,
    Operand,
    PenaltyModel,
    format_operand,
)

# The constraint types live in a format-free module; they stay importable from here.
__all__ = ["Condition", "Constraint", "Enforcement", "Inequality", "Operand", "PenaltyModel",
           "parse_constraint", "read_prop"]

_OPS = ("<", "<=", ">", ">=")
_SKIP = re.compile(r"\s*(#|$)")
_LINES = re.compile(r"\r\n|\r|\n")  # what Python's text files end a line at
_NOT_NAMES = ("inf", "infinity", "nan")  # names Python's float() reads, so PyBNF does
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<op><=|>=|<|>)"
    r"|(?P<punct>[=,])"
    r")"
)


def read_prop(path: str | Path) -> tuple[Constraint, ...]:
    """Read every constraint of a PyBNF ``.prop`` file.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    tuple of Constraint
        In file order; empty for a file with only blanks and comments.

    Raises
    ------
    InputError
        The file is missing or unreadable, or lines are malformed: every bad
        line is reported, each with the file, its line number and its text.
    """
    f = str(path)
    text = read_text(path, "property file")
    out: list[Constraint] = []
    issues: list[Issue] = []
    for i, raw in enumerate(_LINES.split(text), start=1):
        if _SKIP.match(raw):
            continue
        try:
            out.append(parse_constraint(raw, file=f, line=i))
        except InputError as err:
            issues += err.issues
    if len(issues) == 1:
        raise InputError(issues[0].message, file=f, row=issues[0].row, value=issues[0].value)
    if issues:
        raise InputError(f"{len(issues)} malformed constraints in {f}", issues=issues)
    return tuple(out)


def parse_constraint(text: str, *, file: str = "", line: int = 0) -> Constraint:
    """Parse one constraint line (see the module docstring for the grammar).

    Raises
    ------
    InputError
        Naming ``file``, ``line`` and the text, and what was expected where.
    """
    body = text.split("#", 1)[0].strip()
    p = _Parser(body, file=file, line=line, text=text.strip())
    return p.constraint()


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, name, op, punct, end
    text: str


class _Parser:
    """Recursive descent over the tokens of one line."""

    def __init__(self, body: str, *, file: str, line: int, text: str) -> None:
        self.file, self.line, self.text = file, line, text
        self.toks = [*self._tokenize(body), _Tok("end", "")]
        self.i = 0

    # -- tokens ---------------------------------------------------------------
    def _tokenize(self, body: str) -> list[_Tok]:
        toks, pos = [], 0
        while pos < len(body):
            if body[pos:].strip() == "":
                break
            m = _TOKEN.match(body, pos)
            if m is None or m.end() == pos or m.lastgroup is None:
                bad = body[pos:].lstrip()[:1]
                self.fail(f"unexpected character '{bad}'")
            toks.append(_Tok(m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        return toks

    def fail(self, message: str) -> NoReturn:
        raise InputError(f"cannot parse constraint: {message}", file=self.file or None,
                         row=self.line or None, value=self.text)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def kw(self, *words: str) -> str | None:
        """The keyword among ``words`` that the next token starts with, in any case.

        PyBNF matches a keyword as a literal, not as a whole word: ``weight3``
        is ``weight 3``, ``attime=5`` is ``at time=5``.
        """
        tok = self.peek()
        if tok.kind == "name":
            low = tok.text.lower()
            for word in sorted(words, key=len, reverse=True):
                if low.startswith(word):
                    return word
        return None

    def is_kw(self, *words: str) -> bool:
        return self.kw(*words) is not None

    def take_kw(self, word: str) -> str:
        """Consume keyword ``word`` (found by :meth:`kw`).

        The rest of its token is read as tokens of its own.
        """
        tok = self.peek()
        rest = self._tokenize(tok.text[len(word):])
        self.toks[self.i:self.i + 1] = [_Tok("name", tok.text[:len(word)]), *rest]
        self.i += 1
        return word

    def found(self) -> str:
        tok = self.peek()
        return "end of line" if tok.kind == "end" else f"'{tok.text}'"

    def number(self, after: str) -> float:
        if self.peek().kind != "num":
            self.fail(f"expected a number after '{after}', found {self.found()}")
        text = self.take().text
        value = float(text)
        if not math.isfinite(value):
            self.fail(f"the number after '{after}' is not finite ({text} is too large for a "
                      f"double)")
        return value

    # -- grammar --------------------------------------------------------------
    def operand(self, where: str) -> Operand:
        tok = self.peek()
        if tok.kind == "num":
            return self.number(where)
        if tok.kind == "name":
            return self.take().text
        self.fail(f"expected a name or a number {where}, found {self.found()}")

    def not_a_number_name(self, q: Operand) -> None:
        """Refuse ``inf``/``nan`` as a side of an inequality: PyBNF reads it as a number."""
        if isinstance(q, str) and q.lower() in _NOT_NAMES:
            self.fail(f"'{q}' is read by PyBNF as the number {float(q)}, not as a name, and a "
                      f"comparison with an infinite or NaN number always holds or always "
                      f"fails, so it cannot guide a fit; compare with a finite number")

    def op(self, after: str) -> str:
        if self.peek().kind != "op":
            self.fail(f"expected one of < <= > >= after '{after}', found {self.found()}")
        return self.take().text

    def inequality(self, where: str) -> Inequality:
        lhs = self.operand(where)
        return self.inequality_tail(lhs, self.op(format_operand(lhs)))

    def condition(self, after: str) -> Condition:
        tok = self.peek()
        if tok.kind == "num":
            return Condition(self.number(after))
        if tok.kind == "name" and self.toks[self.i + 1].text == "=":
            var = self.take().text
            self.take()
            return Condition(self.number(f"{var}="), var)
        self.fail(f"expected a number or NAME=number after '{after}', found {self.found()}")

    def at_clause(self) -> Condition:
        self.take_kw("at")
        cond = self.condition("at")
        everytime = False
        if word := self.kw("everytime", "first"):
            everytime = self.take_kw(word) == "everytime"
        before = False
        if self.is_kw("before"):
            self.take_kw("before")
            before = True
        return Condition(cond.value, cond.var, everytime, before)

    def window(self, word: str) -> tuple[Condition, Condition]:
        start = self.condition(word)
        if self.peek().text != ",":
            self.fail(f"expected ',' between the two ends of '{word}', found {self.found()}")
        self.take()
        return start, self.condition(",")

    def constraint(self) -> Constraint:
        if self.peek().kind == "end":
            self.fail("empty constraint")
        fields: dict = {}
        first = self.operand("at the start")
        if self.is_kw("at"):
            fields.update(self.split_form(first))
        else:
            op = self.op(format_operand(first))
            ineq = self.inequality_tail(first, op)
            fields.update(ineq=ineq, **self.enforcement(str(ineq)))
        fields.update(self.penalty_clause())
        if self.peek().kind != "end":
            self.fail(f"unexpected {self.found()} after the penalty clause")
        return Constraint(**fields, file=self.file, line=self.line, text=self.text)

    def inequality_tail(self, lhs: Operand, op: str) -> Inequality:
        rhs = self.operand(f"after '{op}'")
        self.not_a_number_name(lhs)
        self.not_a_number_name(rhs)
        if not isinstance(lhs, str) and not isinstance(rhs, str):
            self.fail(f"'{format_operand(lhs)}{op}{format_operand(rhs)}' compares two numbers; "
                      "one side must be an observable or function")
        return Inequality(lhs, op, rhs)

    def split_form(self, lhs: Operand) -> dict:
        if not isinstance(lhs, str):
            self.fail("a number cannot carry an 'at' clause; write 'A at C1 < B at C2'")
        at1 = self.at_clause()
        op = self.op(f"{lhs} at ...")
        rhs = self.operand(f"after '{op}'")
        if not isinstance(rhs, str):
            self.fail("both sides of 'A at C1 < B at C2' must be observables or functions")
        if not self.is_kw("at"):
            self.fail(f"expected 'at' after '{rhs}' (both sides of a two-point comparison "
                      f"need their own 'at'), found {self.found()}")
        at2 = self.at_clause()
        if at1.everytime or at2.everytime:
            self.fail("'everytime' is not supported when both sides have their own 'at'")
        return dict(ineq=Inequality(lhs, op, rhs), enforcement=Enforcement.AT, at=at1,
                    rhs_at=at2)

    def enforcement(self, ineq: str) -> dict:
        if self.is_kw("always"):
            self.take_kw("always")
            return dict(enforcement=Enforcement.ALWAYS)
        if self.is_kw("once"):
            self.take_kw("once")
            if not self.is_kw("between"):
                return dict(enforcement=Enforcement.ONCE)
            self.take_kw("between")
            start, end = self.window("once between")
            return dict(enforcement=Enforcement.ONCE_BETWEEN, start=start, end=end)
        if self.is_kw("between"):
            self.take_kw("between")
            start, end = self.window("between")
            return dict(enforcement=Enforcement.BETWEEN, start=start, end=end)
        if self.is_kw("at"):
            return dict(enforcement=Enforcement.AT, at=self.at_clause())
        self.fail(f"expected 'always', 'once', 'at' or 'between' after '{ineq}', "
                  f"found {self.found()}")

    def penalty_clause(self) -> dict:
        if self.peek().kind == "end":
            return {}
        if self.is_kw("weight"):
            return self.weight_clause()
        if self.is_kw("confidence", "pmin"):
            return self.likelihood_clause()
        self.fail(f"expected 'weight', 'confidence', 'pmin' or end of line, found {self.found()}")

    def weight_clause(self) -> dict:
        self.take_kw("weight")
        weight = self.number("weight")
        if weight < 0:
            self.fail(f"weight {weight:g} is negative (PyBNF multiplies the penalty by it, so "
                      f"violating the constraint would lower the objective)")
        out: dict = dict(weight=weight)
        if self.is_kw("altpenalty"):
            self.take_kw("altpenalty")
            out["alt"] = self.inequality("after 'altpenalty'")
        if self.is_kw("min"):
            self.take_kw("min")
            out["min_penalty"] = self.number("min")
            if out["min_penalty"] < 0:
                self.fail(f"min {out['min_penalty']:g} is negative (a minimum penalty below 0 "
                          f"does nothing; leave 'min' out)")
        return out

    def likelihood_clause(self) -> dict:
        out: dict = dict(model=PenaltyModel.LIKELIHOOD)
        if self.is_kw("confidence"):
            self.take_kw("confidence")
            conf = self.number("confidence")
            if not 0.0 <= conf <= 1.0:
                self.fail(f"confidence {conf:g} is not between 0 and 1")
            out.update(confidence=conf, pmin=(1.0 - conf) / 2.0, pmax=(1.0 + conf) / 2.0)
        else:
            self.take_kw("pmin")
            pmin = self.number("pmin")
            if not self.is_kw("pmax"):
                self.fail(f"expected 'pmax' after 'pmin {pmin:g}', found {self.found()}")
            self.take_kw("pmax")
            pmax = self.number("pmax")
            if not (0.0 <= pmin <= 1.0 and 0.0 <= pmax <= 1.0):
                self.fail(f"pmin {pmin:g} and pmax {pmax:g} must be between 0 and 1")
            if pmin > pmax:
                self.fail(f"pmin {pmin:g} is larger than pmax {pmax:g}")
            if pmax == 0.0:
                self.fail("pmax 0 makes the constraint impossible to satisfy")
            out.update(pmin=pmin, pmax=pmax)
        if self.is_kw("tolerance"):
            self.take_kw("tolerance")
            tol = self.number("tolerance")
            if tol < 0:
                self.fail(f"tolerance {tol:g} is negative (a negative spread turns the penalty "
                          f"around: violations would score better than satisfied constraints)")
            out["tolerance"] = tol
        return out
