r"""What a BioNetGen network (``.net``) text may contain before bngsim reads it.

bngsim reads a ``.net`` file twice: its C++ reader builds the model, and its
code generator later reads the same file again in Python (``str.splitlines``)
and writes the model's expressions into C code that it compiles and loads.
The two readers do not agree on where a line ends: Python also breaks lines
at form feeds, vertical tabs, ``\x1c``-``\x1e``, ``\x85`` and the Unicode line
separators, the C++ reader only at ``\\n``. A block hidden behind such a
character in a comment is invisible to the C++ reader (which checks
expressions) and is compiled by the code generator: a function
``(system("..."), 1)`` runs a command. A network file is plain ASCII written
by BNG2.pl, so bngfit refuses every control character but tab and line end,
and every non-ASCII byte, anywhere in the file (comments included), before
bngsim sees it.

The two readers also differ on structure: the code generator takes any line
starting ``begin `` as a block (``begin  functions`` with two spaces, which
the C++ reader skips), keeps every copy of a repeated block (the C++ reader
keeps the last), and does not cut a function line at ``#`` (the C++ reader
does). So block delimiters must be exactly ``begin NAME`` / ``end NAME`` of a
known block, each block appears once, function and group lines hold no
``#``, and nothing but comments lies outside the blocks.
"""

from __future__ import annotations

import re

from bngfit.errors import InputError

_NOT_ALLOWED = re.compile(r"[^\t\n\x20-\x7e]")
#: The blocks of a network file BNG2.pl writes.
BLOCKS = frozenset({"parameters", "functions", "species", "reactions", "groups",
                    "molecule types", "observables", "compartments", "energy patterns"})
_DELIMITER = re.compile(r"(?i)(begin|end)\b")
_EXACT = re.compile(r"(begin|end) ([a-z]+(?: [a-z]+)*)")
_SET_OPTION = re.compile(r'setOption\("[A-Za-z]+","[-+.\w ]*"\)')
_NO_HASH = frozenset({"functions", "groups"})  # lines the code generator does not cut at '#'


def _check_structure(text: str, file: str) -> None:
    """Refuse a network whose blocks bngsim's two readers would read differently."""
    block: str | None = None
    seen: set[str] = set()
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _DELIMITER.match(line):
            m = _EXACT.fullmatch(line)
            if m is None or m.group(2) not in BLOCKS:
                raise InputError("a block delimiter of a network file must be 'begin NAME' or "
                                 f"'end NAME' with one of: {', '.join(sorted(BLOCKS))}",
                                 file=file, row=n, value=line)
            word, name = m.groups()
            if word == "begin":
                if block is not None:
                    raise InputError(f"'begin {name}' inside block '{block}'", file=file,
                                     row=n, value=line)
                if name in seen:
                    raise InputError(f"block '{name}' appears twice", file=file, row=n,
                                     value=line)
                block = name
                seen.add(name)
            else:
                if name != block:
                    raise InputError(f"'{line}' does not close block '{block}'", file=file,
                                     row=n, value=line)
                block = None
            continue
        if block is None:
            if _SET_OPTION.fullmatch(line):  # BNG2.pl writes the model's options there
                continue
            raise InputError("text outside the blocks of a network file", file=file, row=n,
                             value=line[:80])
        if block in _NO_HASH and "#" in line:
            raise InputError(f"'#' is not allowed in a line of block '{block}'", file=file,
                             row=n, value=line[:80])
    if block is not None:
        raise InputError(f"block '{block}' has no 'end {block}'", file=file)
    if not {"species", "reactions"} <= seen:
        raise InputError("a network file needs a species and a reactions block", file=file)


def check_net_text(data: bytes, file: str) -> str:
    """The text of a network file, refused unless printable ASCII lines.

    Parameters
    ----------
    data : bytes
        The file's content.
    file : str
        Its path, for messages.

    Returns
    -------
    str
        The text, CRLF line ends made LF.

    Raises
    ------
    InputError
        Naming the line and the character.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"a network file is ASCII text, but it has the byte "
                         f"0x{data[err.start]:02x}", file=file, row=line) from None
    text = text.replace("\r\n", "\n")
    bad = _NOT_ALLOWED.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise InputError(f"the character {bad.group(0)!r} is not allowed in a network file "
                         "(bngsim's two readers of the file would not agree on where its "
                         "lines end)", file=file, row=line)
    _check_structure(text, file)
    return text
