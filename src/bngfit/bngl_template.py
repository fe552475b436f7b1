"""PyBNF-style BNGL templates: free parameters, binding, and the action protocol.

A PyBNF template names each value to be fitted ``NAME__FREE`` (``KD1 KD1__FREE``
in the parameters block) and describes its experiment in BioNetGen actions
(``simulate``, ``setParameter``, ...). BNG2.pl cannot load such a file (the
``__FREE`` names are undefined) and bngsim does not run its actions, so this
module, which is text processing only (it never imports bngsim), provides:

* :func:`free_parameters` -- the ``__FREE`` names, in order of first use;
* :func:`bind_free_parameters` -- a loadable text in which each ``__FREE`` name
  is a primary parameter with a given value (line numbers kept where possible,
  see :func:`bound_line_shift`);
* :func:`parse_actions` -- the actions as :class:`Action` records;
* :func:`protocol` -- the simulations as :class:`Phase` records for the fitter.

BNGL reading follows BNG2.pl 2.9: ``#`` starts a comment anywhere, a trailing
``\\`` continues a line, ``begin X``/``end X`` delimit blocks, and an action is
a statement at top level or inside ``begin actions``/``end actions``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import InputError
from .limits import too_many_points

_FREE = re.compile(r"\b[A-Za-z_]\w*__FREE\b")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CONTINUED = re.compile(r"\\\s*$")
_PARAM_STATEMENT = re.compile(r"(?i)(?:parameter|param|par)[ \t]+(?!\()")
_PARAM_NAME = re.compile(r"\s*(?:\d+\s+)?(?:\w+\s*:\s+)?([A-Za-z_]\w*)")


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class _Logical:
    """One logical BNGL line.

    ``code`` is comment-free with continuations joined, ``first`` its first
    physical line, ``line_of`` the physical line of each character of ``code``.
    """

    code: str
    first: int
    line_of: tuple[int, ...]


def _physical_code(text: str) -> list[str]:
    """Each physical line without its comment (BNG2.pl cuts at any ``#``)."""
    return [line.split("#", 1)[0] for line in text.split("\n")]


def _logical_lines(text: str) -> list[_Logical]:
    """Non-blank logical lines, continuations joined as BNG2.pl's ``get_line`` does."""
    codes = _physical_code(text)
    out: list[_Logical] = []
    i = 0
    while i < len(codes):
        first, code = i, codes[i]
        i += 1
        if not code.strip():
            continue
        line_of = [first + 1] * len(code)
        while _CONTINUED.search(code) and i < len(codes):
            code = _CONTINUED.sub("", code)
            del line_of[len(code):]
            code += codes[i]
            i += 1
            line_of += [i] * len(codes[i - 1])
        code = _CONTINUED.sub("", code)
        out.append(_Logical(code, first + 1, tuple(line_of[: len(code)])))
    return out


def _begin_end(code: str) -> tuple[str, str] | None:
    """``("begin"|"end", block name)`` for a block delimiter, else None."""
    # As BNG2.pl: ``begin`` need not be followed by a space (``beginactions``).
    m = re.fullmatch(r"\s*(begin)\s*(\S.*?)\s*|\s*(end)\s+(\S.*?)\s*", code)
    if not m:
        return None
    if m.group(1):
        return "begin", " ".join(m.group(2).split()).lower()
    return "end", " ".join(m.group(4).split()).lower()


def _scoped(text: str, file: str | None) -> list[tuple[str | None, _Logical]]:
    """Each logical line with the block it lies in (None at top level).

    ``begin model``/``end model`` are markers, not blocks: what lies between
    blocks is top level, as for BNG2.pl.
    """
    out: list[tuple[str | None, _Logical]] = []
    block: tuple[str, int] | None = None
    for line in _logical_lines(text):
        be = _begin_end(line.code)
        if be is not None and be[1] == "model":
            continue
        if be is not None and be[0] == "begin":
            if block is not None:
                raise InputError(
                    f"'begin {be[1]}' inside block '{block[0]}' (no 'end {block[0]}')",
                    file=file, row=line.first, value=line.code.strip(),
                )
            block = (be[1], line.first)
            out.append((None, line))
            continue
        if be is not None:
            if block is None or block[0] != be[1]:
                raise InputError(
                    f"'end {be[1]}' without a matching 'begin {be[1]}'",
                    file=file, row=line.first, value=line.code.strip(),
                )
            block = None
            out.append((None, line))
            continue
        out.append((None if block is None else block[0], line))
    if block is not None:
        raise InputError(f"'begin {block[0]}' has no matching 'end {block[0]}'",
                         file=file, row=block[1])
    return out


# ----------------------------------------------------------------- free parameters


def free_parameters(text: str) -> tuple[str, ...]:
    """The ``NAME__FREE`` names a template uses, in order of first use.

    Comments are ignored; uses anywhere else count (model blocks and actions).
    """
    seen: dict[str, None] = {}
    for code in _physical_code(text):
        for name in _FREE.findall(code):
            seen.setdefault(name, None)
    return tuple(seen)


def _parameters_block(text: str, file: str | None) -> tuple[int, int]:
    """Physical line numbers of the first ``begin parameters`` and its ``end``."""
    begin = None
    for block, line in _scoped(text, file):
        be = _begin_end(line.code)
        if block is None and be == ("begin", "parameters") and begin is None:
            begin = line.first
        elif begin is not None and be == ("end", "parameters"):
            return begin, line.first
    raise InputError(
        "the template has no 'begin parameters' block to define its free parameters in",
        file=file,
    )


def _free_slots(text: str, begin: int, end: int) -> list[int]:
    """Lines strictly inside the block that carry no code and continue nothing."""
    codes = _physical_code(text)
    return [
        n for n in range(begin + 1, end)
        if not codes[n - 1].strip() and not _CONTINUED.search(codes[n - 2])
    ]


def bound_line_shift(text: str, *, file: str | None = None) -> tuple[int, int]:
    """How :func:`bind_free_parameters` moves the lines of ``text``.

    Returns
    -------
    (after, n) : tuple of int
        Template lines after line ``after`` are line ``+ n`` in the bound text.
        ``n`` is 0 (line numbers kept, BNG2.pl's error lines point into the
        template) when the parameters block has enough blank or comment-only
        lines to hold one definition each.
    """
    begin, end = _parameters_block(text, file)
    n_free = len(free_parameters(text))
    if len(_free_slots(text, begin, end)) >= n_free:
        return begin, 0
    return begin, n_free


def _check_values(text: str, values: Mapping[str, float], file: str | None) -> dict[str, str]:
    names = free_parameters(text)
    for name in values:
        if name not in names:
            raise InputError("a value is given for a name that is not a free parameter "
                             f"of the template (free: {', '.join(names) or 'none'})",
                             file=file, id=name)
    out = {}
    for name in names:
        if name not in values:
            raise InputError("no value given for this free parameter", file=file, id=name)
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise InputError("the value of a free parameter must be a finite number",
                             file=file, id=name, value=repr(v))
        out[name] = repr(float(v))
    return out


def _check_undefined(text: str, names: tuple[str, ...], file: str | None) -> None:
    """Refuse a template that already defines one of its ``__FREE`` names."""
    for block, line in _scoped(text, file):
        code = line.code
        if block is None:
            m = _PARAM_STATEMENT.match(code.lstrip())
            if not m:
                continue
            code = code.lstrip()[m.end():]
        elif block != "parameters":
            continue
        m = _PARAM_NAME.match(code)
        if m and m.group(1) in names:
            raise InputError("a __FREE name is a placeholder for a fitted value and must "
                             "not be defined in the template", file=file, row=line.first,
                             id=m.group(1), value=line.code.strip())


def bind_free_parameters(
    text: str, values: Mapping[str, float], *, file: str | None = None
) -> str:
    """A loadable BNGL text: each ``__FREE`` name defined as a parameter.

    Each ``X__FREE`` becomes a constant (primary, estimable) parameter of the
    given value, so ``KD1 KD1__FREE`` and ``kp1 = km1/KD1`` are derived
    expressions of it and follow it when it is set on the loaded model. The
    definitions go into the ``begin parameters`` block (BNG2.pl accepts forward
    references there): one per blank or comment-only line, from the top,
    ahead of any comment on that line, so every line keeps its number. When
    the block has too few such lines, all definitions are inserted right
    after ``begin parameters`` instead (BNG2.pl reads nothing else on that line)
    and later lines move down; :func:`bound_line_shift` says by how much.

    Parameters
    ----------
    text : str
        The template.
    values : mapping of str to float
        A finite value for every name of :func:`free_parameters`, and no other.
    file : str, optional
        The template's path, for messages.

    Raises
    ------
    InputError
        No parameters block, a ``__FREE`` name the template defines itself, a
        missing, unknown or non-finite value.
    """
    begin, end = _parameters_block(text, file)
    formatted = _check_values(text, values, file)
    _check_undefined(text, tuple(formatted), file)
    lines = text.split("\n")
    slots = _free_slots(text, begin, end)
    defs = [f"{name} {value}" for name, value in formatted.items()]
    if len(slots) >= len(defs):
        for n, definition in zip(slots, defs, strict=False):
            old = lines[n - 1]
            indent = old[: len(old) - len(old.lstrip())]
            lines[n - 1] = f"{indent}{definition} {old.strip()}".rstrip()
    else:
        lines[begin:begin] = [f"  {d}" for d in defs]
    return "\n".join(lines)


# ------------------------------------------------------------------------- actions


class Bare(str):
    """An unquoted action argument that is not a number (``2*k``, ``ode``), as written.

    A ``str`` (compares equal to its text); the type tells it from a quoted
    string, which :mod:`bngfit.bngl_filter` checks differently.
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
    args: Mapping[str, Any]
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


class _Parser:
    """Recursive descent over the action source (Perl call syntax, BNGL subset)."""

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
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def space(self, newlines: bool = True) -> None:
        while self.pos < len(self.src) and self.src[self.pos] in (" \t\r\n" if newlines
                                                                   else " \t\r"):
            self.pos += 1

    def expect(self, char: str) -> None:
        self.space()
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected '{char}' but found {found}")
        self.pos += 1

    def actions(self) -> list[Action]:
        out = []
        while True:
            self.space()
            while self.peek() == ";":
                self.pos += 1
                self.space()
            if not self.peek():
                return out
            start = self.statement = self.pos
            m = _IDENT.match(self.src, self.pos)
            if m and _PARAM_STATEMENT.match(self.src, self.pos):
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

    def arguments(self, verb: str) -> dict[str, Any]:
        values: list[Any] = []
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

    def value(self) -> Any:
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

    def hash(self) -> Mapping[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self.space()
        while self.peek() != "}":
            if self.peek() and self.peek() in "\"'":
                key = self.string()
            else:
                m = _IDENT.match(self.src, self.pos)
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

    def raw(self) -> Any:
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
        return float(token) if _NUMBER.fullmatch(token) else Bare(token)


def parse_actions(text: str, file: str | None = None) -> tuple[Action, ...]:
    """The BioNetGen actions of a BNGL text, in order.

    Actions are the statements inside ``begin actions``/``end actions`` and at
    top level (outside every block, e.g. after ``end model``); top-level
    ``parameter`` definitions are skipped. Actions are separated by new lines
    and/or ``;`` and may span lines (``\\`` continuations, or an open
    parenthesis). Only the syntax is checked here; see :func:`protocol`.

    Raises
    ------
    InputError
        Naming the line of a statement that is not an action call, a malformed
        argument list, or unbalanced blocks.
    """
    src: list[str] = []
    lines: list[int] = []
    for block, line in _scoped(text, file):
        if block not in (None, "actions") or _begin_end(line.code):
            continue
        src.append(line.code + "\n")
        lines.extend([*line.line_of, line.line_of[-1] if line.line_of else line.first])
    return tuple(_Parser("".join(src), lines, file).actions())


# ------------------------------------------------------------------------ protocol


@dataclass(frozen=True)
class Phase:
    """One ODE simulation of the protocol and the changes applied before it.

    Attributes
    ----------
    t_start, t_end : float
        Time span. ``t_start`` defaults to 0, or for a continuation to the
        previous ``t_end``; without ``n_steps``, ``t_end`` defaults to the
        largest sample time.
    sample_times : tuple of float or None
        Sorted ``sample_times`` (None when ``n_steps`` is used; BioNetGen lets
        ``n_steps`` win when both are given).
    n_steps : int or None
        Number of equal output intervals (default 1 without sample times).
    suffix : str or None
        Output suffix: PyBNF compares ``X.exp`` with the phase whose suffix is
        ``"X"``.
    continue_ : bool
        ``continue=>1``: time continues and output is appended to the file of
        the same suffix (see :func:`phases_for_data`).
    set_params : tuple of (str, float or str)
        ``setParameter`` actions before this phase, in order. A str value is a
        BNGL expression in model parameters (the parameter then stays that
        expression, as in BioNetGen).
    set_species : tuple of (str, float or str)
        ``setConcentration`` actions (species pattern, amount) before this
        phase, after the species reset (if any). As in BioNetGen, parameters
        in an expression take this phase's values, observables and functions
        their values at the end of the previous phase.
    line : int
        Template line of the simulate action.
    reset_to : int or None
        None: the phase starts from the state the previous one ended in (the
        first phase: the model's initial state). Else ``resetConcentrations``
        first resets the species (before ``set_species``) to a saved state:
        ``0`` is the model's initial state (its initial-condition expressions
        evaluated with this phase's parameters), ``j > 0`` the state phase
        ``j - 1`` ended in.
    steady_state : bool
        ``steady_state=>1``: BioNetGen stops at steady state and fails if it is
        not reached by ``t_end``.
    """

    t_start: float
    t_end: float
    sample_times: tuple[float, ...] | None
    n_steps: int | None
    suffix: str | None
    continue_: bool
    set_params: tuple[tuple[str, float | str], ...]
    set_species: tuple[tuple[str, float | str], ...]
    line: int
    reset_to: int | None = None
    steady_state: bool = False

    def output_times(self) -> tuple[float, ...]:
        """Times of the rows this phase writes (as BioNetGen 2.9's run_network).

        ``n_steps``: ``t_start + i (t_end - t_start) / n_steps``, i = 0..n_steps.
        ``sample_times``: ``t_start``, the sample times strictly between
        ``t_start`` and ``t_end`` (others are dropped), then ``t_end``. A
        continuation does not write its ``t_start`` row again.
        """
        if self.sample_times is None:
            assert self.n_steps is not None  # set by protocol()
            span = self.t_end - self.t_start
            times = [self.t_start + span * i / self.n_steps for i in range(self.n_steps)]
            times.append(self.t_end)
        else:
            inner = sorted({t for t in self.sample_times if self.t_start < t < self.t_end})
            times = [self.t_start, *inner, self.t_end]
        return tuple(times[1:] if self.continue_ else times)


def phases_for_data(phases: tuple[Phase, ...], name: str) -> tuple[int, ...]:
    """Indices of the phases whose output ends up in the data file ``name``.

    PyBNF pairs a data file ``X.exp`` with the simulate action of
    ``suffix=>"X"`` (https://pybnf.readthedocs.io, "Configuring a Fitting
    Job"). BioNetGen overwrites that output at each simulate with the suffix
    and appends to it with ``continue=>1``: the file holds the last phase with
    the suffix that does not continue, followed by the continuations after it.
    ``name`` may be given with or without ``.exp``. Empty if no phase matches.
    """
    suffix = name.removesuffix(".exp")
    out: list[int] = []
    for i, phase in enumerate(phases):
        if phase.suffix == suffix:
            out = [*out, i] if phase.continue_ else [i]
    return tuple(out)


_IGNORED = frozenset({
    "generate_network", "writexml", "writesbml", "writenet", "writenetwork", "writemodel",
    "writemfile", "writemexfile", "writematlab", "writebngl", "writefile", "writemdl",
    "writecpyfile", "writelatex", "visualize", "setmodelname", "setoutputdir", "version",
    "saveparameters",
})
_ODE_ONLY = "bngfit is a deterministic ODE fitter"
_NOT_ODE = frozenset({"simulate_ssa", "simulate_nf", "simulate_pla", "simulate_psa"})
_UNREPRESENTABLE = {
    "parameter_scan": "a parameter scan is a family of simulations, not one protocol",
    "bifurcate": "a bifurcation scan is a family of simulations, not one protocol",
    "linearparametersensitivity": "it writes finite-difference sensitivities, not a run",
    "simulate_protocol": "protocol blocks are not supported",
    "generate_hybrid_model": "hybrid (population) models are simulated stochastically",
    "addconcentration": "it adds to the current amount, which is not a set value",
    "resetparameters": "restoring saved parameters is not supported; use setParameter",
    "readfile": "it loads another model", "readmodel": "it loads another model",
    "readnetwork": "it loads another network", "readsbml": "it loads another model",
    "setvolume": "it rescales a compartment", "substanceunits": "it changes units",
}
# simulate options that change the numbers in a way a Phase cannot carry
_REFUSED_OPTIONS = {
    "stop_if": "a stop condition", "print_on_stop": "a stop condition",
    "argfile": "arguments read from a file", "netfile": "another network file",
    "poplevel": "partitioned-leaping (stochastic) simulation",
}


def _number(value: Any, what: str, action: Action, file: str | None) -> float:
    """A float from a number or numeric text; refuse expressions and non-finite values."""
    try:
        x = float(value) if isinstance(value, float | str) else math.nan
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise InputError(f"{what} of {action.name} must be a finite number; bngfit does "
                         "not evaluate expressions here", file=file, row=action.line,
                         id=what, value=str(value))
    return x + 0.0  # -0 -> 0


def _text(value: Any) -> str:
    """A hash value as text (a bare ``1`` is read as the float 1.0: give back "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _amount(value: Any) -> float | str:
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


class _Builder:
    """Walks the actions, tracking model time, saved states and pending changes."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.phases: list[Phase] = []
        self.time = 0.0
        self.saved: dict[str, int] = {}
        self.params: list[tuple[str, float | str]] = []
        self.species: list[tuple[str, float | str]] = []
        self.reset: int | None = None

    def refuse(self, action: Action, why: str) -> InputError:
        return InputError(f"cannot use the action {action.name}: {why}", file=self.file,
                          row=action.line, id=action.name)

    def state_action(self, verb: str, a: Action) -> None:
        k = len(self.phases)
        if verb == "setparameter":
            self.params.append((_text(a.args["name"]), _amount(a.args["value"])))
        elif verb == "setconcentration":
            self.species.append((_text(a.args["species"]), _amount(a.args["value"])))
        elif verb == "saveconcentrations":
            if self.species:
                raise self.refuse(a, "saving a state changed by setConcentration since the "
                                  "last simulate is not representable; save it before")
            self.saved[_text(a.args.get("label", "DEFAULT"))] = (
                k if self.reset is None else self.reset)
        else:  # resetconcentrations
            label = _text(a.args.get("label", "DEFAULT"))
            if label not in self.saved and label != "DEFAULT":
                raise self.refuse(a, f"no concentrations were saved as '{label}'")
            target = self.saved.get(label, 0)
            self.reset = None if target == k else target
            self.species = []  # the reset overwrites them

    def simulate(self, verb: str, a: Action) -> None:
        args = a.args
        if verb in _NOT_ODE:
            raise self.refuse(a, "it is a stochastic or network-free simulation; " + _ODE_ONLY)
        if verb == "simulate":
            method = _text(args.get("method", ""))
            if not method:
                raise self.refuse(a, 'simulate needs method=>"ode"')
            if method.lower() not in ("ode", "cvode") or "poplevel" in args:
                raise self.refuse(a, f"method '{method}' is not ode; {_ODE_ONLY}")
        for key, what in _REFUSED_OPTIONS.items():
            if key in args:
                raise self.refuse(a, f"option {key} ({what}) is not supported")
        cont = bool(_number(args.get("continue", 0.0), "continue", a, self.file))
        t_start = self.time if cont else 0.0
        if "t_start" in args:
            t_start = _number(args["t_start"], "t_start", a, self.file)
            if cont and abs(t_start - self.time) > 1e-12 * max(1.0, abs(self.time)):
                raise self.refuse(a, f"a continuation must start at the current time "
                                  f"{self.time:g}, not t_start={t_start:g}")
        if "n_steps" in args and "n_output_steps" in args:
            raise self.refuse(a, "n_steps and n_output_steps are the same; give one")
        steps = args.get("n_steps", args.get("n_output_steps"))
        samples = args.get("sample_times")
        n_steps, sample_times = None, None
        if steps is not None or samples is None:
            if "t_end" not in args:
                raise self.refuse(a, "t_end is needed without sample_times")
            t_end = _number(args["t_end"], "t_end", a, self.file)
            n = _number(1.0 if steps is None else steps, "n_steps", a, self.file)
            if n < 1 or not n.is_integer():
                raise self.refuse(a, f"n_steps must be a positive integer, not {n:g}")
            too_many = too_many_points(n + 1)
            if too_many:  # refused before a grid of that size is ever built
                raise InputError(f"n_steps of {a.name} {too_many}", file=self.file,
                                 row=a.line, id="n_steps", value=f"{n:g}")
            n_steps = int(n)
        else:
            if not isinstance(samples, tuple) or len(samples) < 3:
                raise self.refuse(a, "sample_times must be an array of 3 or more times")
            sample_times = tuple(sorted(_number(s, "sample_times", a, self.file)
                                        for s in samples))
            t_end = (_number(args["t_end"], "t_end", a, self.file) if "t_end" in args
                     else sample_times[-1])
        if not t_end > t_start:
            raise self.refuse(a, f"t_end ({t_end:g}) must be greater than t_start "
                              f"({t_start:g})")
        suffix = args.get("suffix")
        self.phases.append(Phase(
            t_start=t_start, t_end=t_end, sample_times=sample_times, n_steps=n_steps,
            suffix=None if suffix is None else _text(suffix),
            continue_=cont, set_params=tuple(self.params), set_species=tuple(self.species),
            line=a.line, reset_to=self.reset,
            steady_state=bool(_number(args.get("steady_state", 0.0), "steady_state", a,
                                      self.file)),
        ))
        self.time, self.params, self.species, self.reset = t_end, [], [], None


def protocol(actions: tuple[Action, ...], *, file: str | None = None) -> tuple[Phase, ...]:
    """The simulation protocol of the actions, as ODE phases run in order.

    BioNetGen semantics (2.9): each ``simulate`` starts from the species state
    the previous one ended in (the model's initial state for the first) --
    equilibration then stimulus is two phases. ``setParameter`` and
    ``setConcentration`` apply to the next simulation and are collected into
    its phase; ``saveConcentrations``/``resetConcentrations`` are resolved into
    :attr:`Phase.reset_to`. Which phase is measured: see
    :func:`phases_for_data` (PyBNF's rule, data file ``X.exp`` <-> ``suffix=>"X"``);
    which rows: :meth:`Phase.output_times`. Changes after the last simulation
    have no effect and are dropped; ``quit()`` ends the protocol. Output and
    network-generation actions (``generate_network``, ``writeSBML``, ...) are
    ignored, as is ``setOption`` before any simulation (it belongs to network
    generation, done when the model loads). Simulate options that only shape
    output files or the solver (``print_functions``, ``atol``, ...) are
    ignored.

    Raises
    ------
    InputError
        Naming the action's line, for a non-ODE simulation (bngfit is a
        deterministic ODE fitter), an action whose effect a phase cannot
        carry (``parameter_scan``, ``addConcentration``, ``readFile``,
        ``setOption`` after a simulation, unknown verbs, ...), or invalid
        times (``t_end <= t_start``, fewer than 3 sample times, expressions).
    """
    b = _Builder(file)
    for a in actions:
        verb = a.name.lower()
        if verb == "quit":
            break
        if verb in _IGNORED or (verb == "setoption" and not b.phases):
            continue
        if verb in ("setparameter", "setconcentration", "saveconcentrations",
                    "resetconcentrations"):
            b.state_action(verb, a)
        elif verb in ("simulate", "simulate_ode") or verb in _NOT_ODE:
            b.simulate(verb, a)
        elif verb == "setoption":
            raise b.refuse(a, "setOption after a simulation changes the model mid-protocol")
        elif verb in _UNREPRESENTABLE:
            raise b.refuse(a, _UNREPRESENTABLE[verb])
        else:
            raise b.refuse(a, "unknown action (not a BioNetGen 2.9 action bngfit can run)")
    return tuple(b.phases)
