"""The grammar of BioNetGen action statements (``simulate({t_end=>60})``, ...).

Shared by the filter that decides what may reach BNG2.pl
(:mod:`bngfit.files._bngl_filter`) and by PyBNF templates, whose actions are
replayed as a protocol (:mod:`bngfit.pybnf.bngl`). Text only: a statement is
parsed into an :class:`Action` record (Perl call syntax, the BNGL subset), never
evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from bngfit.errors import InputError

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
IDENT = re.compile(r"[A-Za-z_]\w*")
# a top-level ``parameter NAME VALUE`` definition, which is no action
PARAM_STATEMENT = re.compile(r"(?i)(?:parameter|param|par)[ \t]+(?!\()")

#: A parsed action argument: a number (float), quoted text (str), unquoted text
#: (:class:`Bare`), an array (tuple) or a hash (read-only mapping).
ArgValue: TypeAlias = "float | str | tuple[ArgValue, ...] | Mapping[str, ArgValue]"


class Bare(str):
    """An unquoted action argument that is not a number (``2*k``, ``ode``), as written.

    A ``str`` (compares equal to its text); the type tells it from a quoted
    string, which :mod:`bngfit.files._bngl_filter` checks differently.
    """

    __slots__ = ()


@dataclass(frozen=True)
class Action:
    """One BioNetGen action as written.

    Attributes
    ----------
    name : str
        The verb (``simulate``, ``setParameter``, ...), as spelled.
    args : mapping
        Hash arguments (``{t_end=>60}`` -> ``{"t_end": 60.0}``), or positional
        ones by role: ``name``/``value`` (setParameter), ``species``/``value``
        (setConcentration, addConcentration), ``label`` (save/reset
        Concentrations/Parameters), else ``args`` (a tuple). Numbers are
        floats, quoted text is str, arrays are tuples, nested hashes mappings;
        an unquoted non-number (``2*k``) is kept as its text. Read-only.
    line : int
        1-based line of the template where the action starts.
    """

    name: str
    args: Mapping[str, ArgValue]
    line: int


_POSITIONAL = {
    "setparameter": ("name", "value"),
    "setconcentration": ("species", "value"),
    "addconcentration": ("species", "value"),
    "saveconcentrations": ("label",),
    "resetconcentrations": ("label",),
    "saveparameters": ("label",),
    "resetparameters": ("label",),
}


class ActionParser:
    """Recursive descent over the action source (Perl call syntax, BNGL subset).

    Parameters
    ----------
    src : str
        The action statements, newline-separated.
    lines : list of int
        The 1-based line of the file of every character of ``src``.
    file : str or None
        The file, for messages.
    """

    def __init__(self, src: str, lines: list[int], file: str | None) -> None:
        self.src, self.lines, self.file = src, lines, file
        self.pos = self.statement = 0

    def fail(self, message: str, at: int | None = None) -> InputError:
        """An InputError at ``at`` (default: here), quoting the statement read so far."""
        at = min(self.pos if at is None else at, len(self.src) - 1)
        read = " ".join(self.src[self.statement : at + 1].split())
        return InputError(message, file=self.file, row=self.lines[at] if self.lines else None,
                          value=read if len(read) <= 80 else "..." + read[-77:])

    def peek(self) -> str:
        """The character at the reading position ('' at the end)."""
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def space(self, newlines: bool = True) -> None:
        """Skip blanks (and, with ``newlines``, line ends)."""
        while self.pos < len(self.src) and self.src[self.pos] in (" \t\r\n" if newlines
                                                                   else " \t\r"):
            self.pos += 1

    def expect(self, char: str) -> None:
        """Skip blanks and read ``char``, else fail."""
        self.space()
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected '{char}' but found {found}")
        self.pos += 1

    def actions(self) -> list[Action]:
        """Every action statement of the source, in order.

        Top-level ``parameter NAME VALUE`` definitions are skipped (they are
        not actions).
        """
        out = []
        while True:
            self.space()
            while self.peek() == ";":
                self.pos += 1
                self.space()
            if not self.peek():
                return out
            start = self.statement = self.pos
            m = IDENT.match(self.src, self.pos)
            if m and PARAM_STATEMENT.match(self.src, self.pos):
                end = self.src.find("\n", self.pos)
                self.pos = len(self.src) if end < 0 else end
                continue  # a top-level parameter definition, not an action
            if not m:
                raise self.fail("expected an action such as simulate({...})")
            self.pos = m.end()
            self.expect("(")
            args = self.arguments(m.group(0))
            self.space(newlines=False)
            if self.peek() not in ("", "\n", ";"):
                raise self.fail("unexpected text after the action (separate actions "
                                "by a new line or ';')")
            out.append(Action(m.group(0), MappingProxyType(args), self.lines[start]))

    def arguments(self, verb: str) -> dict[str, ArgValue]:
        """The arguments of ``verb`` after its '(', by name (see :attr:`Action.args`)."""
        values: list[ArgValue] = []
        self.space()
        while self.peek() != ")":
            values.append(self.value())
            self.space()
            if self.peek() == ",":
                self.pos += 1
                self.space()
            elif self.peek() != ")":
                raise self.fail(f"expected ',' or ')' in the arguments of {verb}")
        self.pos += 1
        if len(values) == 1 and isinstance(values[0], Mapping):
            return dict(values[0])
        roles = _POSITIONAL.get(verb.lower())
        if roles is None:
            return {"args": tuple(values)} if values else {}
        if len(values) > len(roles) or (len(values) < len(roles) and roles != ("label",)):
            raise self.fail(f"{verb} takes {len(roles)} argument(s): {', '.join(roles)}")
        return dict(zip(roles, values, strict=False))

    def value(self) -> ArgValue:
        """One argument: a hash, an array, a quoted string or a bare token."""
        self.space()
        c = self.peek()
        if c == "{":
            return self.hash()
        if c == "[":
            self.pos += 1
            items = []
            self.space()
            while self.peek() != "]":
                items.append(self.value())
                self.space()
                if self.peek() == ",":
                    self.pos += 1
                    self.space()
                elif self.peek() != "]":
                    raise self.fail("expected ',' or ']' in an array")
            self.pos += 1
            return tuple(items)
        if c and c in "\"'":
            return self.string()
        return self.raw()

    def hash(self) -> Mapping[str, ArgValue]:
        """A ``{key=>value, ...}`` hash, read-only."""
        self.pos += 1
        out: dict[str, ArgValue] = {}
        self.space()
        while self.peek() != "}":
            if self.peek() and self.peek() in "\"'":
                key = self.string()
            else:
                m = IDENT.match(self.src, self.pos)
                if not m:
                    raise self.fail("expected a key (key=>value) in a hash")
                key, self.pos = m.group(0), m.end()
            self.space()
            if not self.src.startswith("=>", self.pos):
                raise self.fail(f"expected '=>' after the key '{key}'")
            self.pos += 2
            out[key] = self.value()
            self.space()
            if self.peek() == ",":
                self.pos += 1
                self.space()
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}' in a hash")
        self.pos += 1
        return MappingProxyType(out)

    def string(self) -> str:
        """A quoted string (a backslash escapes the next character), unquoted."""
        quote, start = self.peek(), self.pos
        self.pos += 1
        chars = []
        while self.pos < len(self.src) and self.src[self.pos] not in (quote, "\n"):
            if self.src[self.pos] == "\\" and self.pos + 1 < len(self.src):
                self.pos += 1
            chars.append(self.src[self.pos])
            self.pos += 1
        if self.peek() != quote:
            raise self.fail("unterminated string", start)
        self.pos += 1
        return "".join(chars)

    def raw(self) -> float | Bare:
        """An unquoted token up to the next top-level separator: a number or a :class:`Bare`."""
        start, depth = self.pos, 0
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c == "(":
                depth += 1
            elif c == ")" and depth:
                depth -= 1
            elif c in ",)]}\n;" and not depth:
                break
            self.pos += 1
        token = self.src[start : self.pos].strip()
        if not token:
            raise self.fail("expected a value", start)
        return float(token) if NUMBER.fullmatch(token) else Bare(token)
