r"""PyBNF-style BNGL templates: free parameters, binding, and the action protocol.

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
* the simulations as phases for the fitter: :mod:`bngfit.pybnf.bngl._protocol`.

BNGL reading follows BNG2.pl 2.9: ``#`` starts a comment anywhere, a trailing
``\`` continues a line, ``begin X``/``end X`` delimit blocks, and an action is
a statement at top level or inside ``begin actions``/``end actions``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bngfit.errors import InputError
from bngfit.files._bngl_actions import (  # noqa: F401 - the action grammar, re-exported
    IDENT,
    NUMBER,
    PARAM_STATEMENT,
    Action,
    ActionParser,
    Bare,
)

_FREE = re.compile(r"\b[A-Za-z_]\w*__FREE\b")
#: A backslash ending a line: the logical line continues on the next one.
_CONTINUED = re.compile(r"\\\s*$")
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
    """Lines of the block that carry no code, continue nothing, and come before
    the block's first use of a ``__FREE`` name.

    Only those: BNG2.pl reads a forward reference in the parameters block, but
    then takes a parameter defined through it (``K3 K3__FREE`` above
    ``K3__FREE 1``) as non-constant, and refuses a seed species amount that
    depends on it (PyBNF's constraint_raf example).
    """
    codes = _physical_code(text)
    first_use = next((n for n in range(begin + 1, end) if _FREE.search(codes[n - 1])), end)
    return [
        n for n in range(begin + 1, first_use)
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
    """Each free parameter's value as text (``repr``), one finite number for each name."""
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
            m = PARAM_STATEMENT.match(code.lstrip())
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
    definitions go into the ``begin parameters`` block, before any use there:
    one per blank or comment-only line above the first use, from the top,
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


def parse_actions(text: str, file: str | None = None) -> tuple[Action, ...]:
    r"""The BioNetGen actions of a BNGL text, in order.

    Actions are the statements inside ``begin actions``/``end actions`` and at
    top level (outside every block, e.g. after ``end model``); top-level
    ``parameter`` definitions are skipped. Actions are separated by new lines
    and/or ``;`` and may span lines (``\`` continuations, or an open
    parenthesis). Only the syntax is checked here; see :func:`bngfit.pybnf.bngl._protocol.protocol`.

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
    return tuple(ActionParser("".join(src), lines, file).actions())
