r"""The BNGL text BNG2.pl is allowed to read: model blocks and whitelisted literal actions.

BNG2.pl is a Perl program that ``eval``s every action statement of a model file
as Perl (``$model->VERB(ARGS);``), top-level ``setOption(...)`` without even
turning its double quotes into single ones, the lines of ``begin actions``
blocks alike, and the options of ``generate_network``; ``readFile`` of an
``.xml`` file runs a shell command built from the file name, and the options
``prefix``/``suffix`` of most actions choose where it writes. A model file is
therefore a program. bngfit's promise is that nothing read from an input file
is executed, so no BNGL text reaches BNG2.pl as written: :func:`filter_bngl`
builds the only text it reads.

What is kept, and why it is safe (BNG2.pl 2.9, ``Perl2/BNGModel.pm::readFile``):

* Model blocks (a closed list of names, :data:`MODEL_BLOCKS`), line for line.
  Their lines go to BNG2.pl's own parsers (parameters, species, rules, ...),
  which match them against regular expressions and never ``eval`` them; the
  two ``eval`` calls they reach are built from a fixed operator table
  (``Expression::evaluate``) and a digits-only quantifier (``Observable``).
  The filter tracks block boundaries exactly as ``get_line``/``read_block_array``
  do (``#`` comments, ``\`` continuations, ``begin``/``end`` matching), so a
  line it takes for a block line is one for BNG2.pl too; it refuses anything
  that would make the two readings differ (a ``begin`` or stray ``end`` line
  inside a block, control characters, non-ASCII code, backticks) and ``TFUN``
  (a table function names a data file).
* At action scope (outside blocks, and ``begin actions``/``begin protocol``),
  every statement is parsed by bngfit (:class:`bngfit.files._bngl_actions.Action`)
  and must be a known BioNetGen verb whose arguments are literals: numbers,
  quoted strings without quotes, backslashes, braces, semicolons or backticks,
  and bare arithmetic of names and numbers. Only three verbs survive, and
  only where they shape the network (before it is generated), re-written by
  bngfit from the parsed values, never copied: ``setOption`` with known names
  (:data:`SET_OPTIONS`), ``setParameter``/``setConcentration`` (see
  ``network_first``), and one ``generate_network`` with the numeric options of
  :data:`GENERATE_OPTIONS` (``max_stoich=>{A=>2}`` included), appended at
  the end. Everything else (the experiment: ``simulate``, ``writeSBML``, ...)
  is dropped after the check: bngfit reads the protocol itself.

Line numbers are kept: line ``n`` of :attr:`FilteredBngl.text` is line ``n`` of
the source (dropped lines are blank), so BNG2.pl's ``at line n`` points into
the user's file; the generation call is the one extra last line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bngfit.errors import InputError

from ._bngl_actions import (  # noqa: F401 - IDENT, NUMBER: the tokens, importable here too
    IDENT,
    NUMBER,
    Action,
    ActionParser,
)
from ._bngl_statements import (  # noqa: F401 - the rules, importable here too
    GENERATE_OPTIONS,
    KNOWN_VERBS,
    SET_OPTIONS,
    Refuser,
    check_actions,
)

#: Model block names BNG2.pl 2.9 reads (``readFile``'s ``%blocks``, without actions).
MODEL_BLOCKS = frozenset({
    "parameters", "compartments", "molecule types", "species", "seed species",
    "observables", "functions", "energy patterns", "population types",
    "population maps", "reaction rules", "reactions", "groups",
})
#: Blocks of action statements: checked, then dropped.
ACTION_BLOCKS = frozenset({"actions", "protocol"})

# ASCII whitespace only: Perl's \s in BNG2.pl's get_line does not take \x1c-\x1f or
# Unicode spaces, Python's does; a reading that differs from BNG2.pl's is a hole
_CONTINUED = re.compile(r"\\[ \t]*$")
_BAD_CHAR = re.compile(r"[^\t\x20-\x5f\x61-\x7e]")  # control, non-ASCII, backtick
_PARAMETER = re.compile(r"(?i)(?:parameter|param|par)\s+")  # BNG2.pl's top-level form
_TFUN = re.compile(r"\bTFUN\b", re.IGNORECASE)


@dataclass(frozen=True)
class FilteredBngl:
    """What BNG2.pl may read of a BNGL file.

    Attributes
    ----------
    text : str
        The filtered model; line ``n`` is the source's line ``n`` (or blank),
        except the generation call.
    generate_line : int
        Line of the generation call: the line of the source's last
        ``generate_network`` when nothing but blank lines follows it (so the
        filter is idempotent), else one past the source's last line.
    kept : tuple of str
        The action statements forwarded, as written for BNG2.pl.
    """

    text: str
    generate_line: int
    kept: tuple[str, ...]


@dataclass(frozen=True)
class _Logical:
    """One line as BNG2.pl's ``get_line`` returns it (comment cut, continuations joined)."""

    code: str
    first: int  # 0-based physical lines
    last: int
    line_of: tuple[int, ...]  # 1-based physical line of each character of code


def _logical_lines(lines: list[str]) -> list[_Logical]:
    """The lines of a file as BNG2.pl's ``get_line`` reads them.

    Comments are cut, lines ending in a backslash joined with the next, blank
    lines skipped.
    """
    out = []
    i = 0
    while i < len(lines):
        first = i
        code = lines[i].split("#", 1)[0]
        i += 1
        if not code.strip():  # get_line: ``next unless /\S+/``
            continue
        line_of = [first + 1] * len(code)
        while _CONTINUED.search(code):
            code = _CONTINUED.sub("", code, count=1)
            del line_of[len(code):]
            if i >= len(lines):
                break
            more = lines[i].split("#", 1)[0]
            code += more
            line_of += [i + 1] * len(more)
            i += 1
        out.append(_Logical(code, first, i - 1, tuple(line_of)))
    return out


def _block_name(rest: str) -> str:
    """A block name normalised as BNG2.pl does (trailing space cut, runs of space one)."""
    return " ".join(rest.split())


def filter_bngl(text: str, *, file: str | None = None, network_first: bool = False
                ) -> FilteredBngl:
    """The text BNG2.pl may read to generate the network of the BNGL ``text``.

    Parameters
    ----------
    text : str
        The BNGL file.
    file : str, optional
        Its path, for messages.
    network_first : bool
        Where the network is generated when the file has no
        ``generate_network``: False (bngsim's rule, used for plain models)
        after all actions, so ``setParameter``/``setConcentration`` before it
        shape the network; True (PyBNF templates, whose actions are a protocol
        bngfit replays phase by phase) before the first action other than
        ``setOption``. Either way only statements before the generation point
        are forwarded, and only ``setOption``, ``setParameter`` and
        ``setConcentration``.

    Returns
    -------
    FilteredBngl
        The filtered text, the line of its generation call and the statements
        forwarded.

    Raises
    ------
    InputError
        Naming the line and the statement: an unknown block or verb, a
        non-literal argument, a ``setOption`` name or ``generate_network``
        option that is not whitelisted, unbalanced blocks, control or
        non-ASCII characters in code, ``TFUN``.
    """
    refuse = Refuser(file)
    lines = text.replace("\r\n", "\n").split("\n")
    _check_physical_lines(lines, refuse)
    scan = _Scan(lines, refuse)
    scan.run()
    actions = _parse_actions(scan, file, refuse)
    kept, generate = check_actions(actions, scan.codes, refuse, network_first)
    _place_statements(scan.out, kept, scan.codes, refuse)
    return _with_generation(scan.out, actions, generate, tuple(s for _, s in kept))


def _check_physical_lines(lines: list[str], refuse: Refuser) -> None:
    """Refuse a character not allowed in code on any physical line.

    Every character BNG2.pl reads as code is checked on its physical line,
    before continuations are joined: a control character can change where a
    line (or a block) ends for one reader and not for the other.
    """
    for n, physical in enumerate(lines, start=1):
        bad = _BAD_CHAR.search(physical.split("#", 1)[0])
        if bad:
            raise refuse(f"character {bad.group(0)!r} is not allowed in BNGL code", n,
                         ascii(physical)[1:-1])


class _Scan:
    """One pass over the logical lines, tracking blocks as BNG2.pl does.

    Model block lines (delimiters included) are copied to :attr:`out` at their
    own lines; statements at action scope (outside blocks, or in an actions
    block) are collected for the action parser.

    Attributes
    ----------
    out : list of str
        The filtered text, one entry per physical line of the source (blank
        where nothing is kept yet).
    source : list of str
        The action-scope code, one logical line (newline-terminated) each.
    source_lines : list of int
        The 1-based physical line of every character of ``"".join(source)``.
    codes : dict
        First line of each action-scope statement -> its code, stripped.
    """

    def __init__(self, lines: list[str], refuse: Refuser) -> None:
        self.lines = lines
        self.refuse = refuse
        self.out = [""] * len(lines)
        self.source: list[str] = []
        self.source_lines: list[int] = []
        self.codes: dict[int, str] = {}
        self.block: tuple[str, int] | None = None  # name and line of the open block

    def run(self) -> None:
        """Read every logical line; refuse a block left open at the end."""
        for lg in _logical_lines(self.lines):
            stripped = lg.code.strip(" \t")
            line = lg.first + 1
            bad = _BAD_CHAR.search(lg.code)
            if bad:
                raise self.refuse(f"character {bad.group(0)!r} is not allowed in BNGL code",
                                  line, lg.code.encode("ascii", "backslashreplace").decode())
            if self.block is None:
                taken = self._outside_block(lg, stripped, line)
            else:
                taken = self._inside_block(lg, stripped, line, *self.block)
            if not taken:
                self._collect_action(lg, stripped, line)
        if self.block is not None:
            name, line = self.block
            raise self.refuse(f"'begin {name}' has no matching 'end {name}'", line,
                              f"begin {name}")

    def _keep(self, lg: _Logical) -> None:
        """Copy the physical lines of ``lg`` to the output unchanged."""
        self.out[lg.first: lg.last + 1] = self.lines[lg.first: lg.last + 1]

    def _outside_block(self, lg: _Logical, stripped: str, line: int) -> bool:
        """Handle a line outside any block; False if it is at action scope."""
        if re.fullmatch(r"(begin|end)\s+model\s*", stripped):
            self._keep(lg)
            return True
        if stripped.startswith("begin"):  # BNG2.pl: s/^begin\s*//
            name = _block_name(stripped[5:])
            if name not in MODEL_BLOCKS and name not in ACTION_BLOCKS:
                raise self.refuse(f"unknown block '{name}' (BNGL blocks: "
                                  f"{', '.join(sorted(MODEL_BLOCKS))}, actions)", line,
                                  stripped)
            self.block = (name, line)
            if name in MODEL_BLOCKS:
                self._keep(lg)
            return True
        if re.match(r"end(\s|$)", stripped):
            raise self.refuse("'end' without a matching 'begin'", line, stripped)
        return False

    def _inside_block(self, lg: _Logical, stripped: str, line: int, name: str,
                      begun: int) -> bool:
        """Handle a line inside block ``name`` (begun on line ``begun``).

        False if it is a statement of an actions block.
        """
        if re.match(r"end\s+", stripped):
            if _block_name(stripped[3:]) != name:
                raise self.refuse(f"'{stripped}' does not close 'begin {name}' (line "
                                  f"{begun})", line, stripped)
            if name in MODEL_BLOCKS:
                self._keep(lg)
            self.block = None
            return True
        if stripped.startswith("begin"):
            raise self.refuse(f"'begin' inside block '{name}' (line {begun})", line, stripped)
        if name not in MODEL_BLOCKS:
            return False
        if _TFUN.search(lg.code):
            raise self.refuse("TFUN (a function read from a data file) is not supported",
                              line, stripped)
        self._keep(lg)
        return True

    def _collect_action(self, lg: _Logical, stripped: str, line: int) -> None:
        """Keep an action-scope line for the action parser (never for the output)."""
        if _PARAMETER.match(stripped):
            # BNG2.pl defines it (overriding the parameters block); the action
            # parser would skip it: a silently different model
            raise self.refuse("a parameter defined outside the parameters block is not "
                              "supported; define it inside 'begin parameters'", line, stripped)
        self.codes.setdefault(line, stripped)
        self.source.append(lg.code + "\n")
        self.source_lines.extend([*lg.line_of, lg.line_of[-1] if lg.line_of else line])


def _parse_actions(scan: _Scan, file: str | None, refuse: Refuser) -> tuple[Action, ...]:
    """The action statements collected by ``scan``, parsed.

    A statement that does not parse is refused quoting the whole statement (as
    it starts on its first line), not the parser's partial reading.
    """
    if not scan.source:
        return ()
    try:
        return tuple(ActionParser("".join(scan.source), scan.source_lines, file).actions())
    except InputError as err:
        issue = err.issues[0]
        row = issue.row or 0
        first = max((n for n in scan.codes if n <= row), default=row)
        raise refuse(f"not a BNGL action ({issue.message})", first,
                     scan.codes.get(first, issue.value or "")) from None


def _place_statements(out: list[str], kept: list[tuple[int, str]], codes: dict[int, str],
                      refuse: Refuser) -> None:
    """Write each forwarded statement on its source line of ``out`` (in place)."""
    for line, statement in kept:
        if out[line - 1]:  # BNG2.pl reads one action per line
            raise refuse("put each action on a line of its own", line, codes.get(line, ""))
        out[line - 1] = statement


def _with_generation(out: list[str], actions: tuple[Action, ...], generate: str,
                     kept: tuple[str, ...]) -> FilteredBngl:
    """The filtered text with the generation call placed (see :class:`FilteredBngl`).

    The call takes the line of the source's last ``generate_network`` when
    only blank lines follow it; else it is appended after the last non-blank
    line (a blank line between where that line ends in a continuation).
    """
    last = max((a.line for a in actions if a.name.lower() == "generate_network"), default=0)
    if last and not any(x.strip() for x in out[last - 1:]):
        out[last - 1] = generate
        out = out[:last]
        return FilteredBngl("\n".join(out) + "\n", last, kept)
    while out and not out[-1].strip():
        out.pop()
    if out and _CONTINUED.search(out[-1].split("#", 1)[0]):
        out.append("")  # a last line's continuation must not take in the call
    out.append(generate)
    return FilteredBngl("\n".join(out) + "\n", len(out), kept)
