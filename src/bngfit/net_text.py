"""What a BioNetGen network (``.net``) text may contain before bngsim reads it.

bngsim reads a ``.net`` file twice: its C++ reader builds the model, and its
code generator later reads the same file again in Python (``str.splitlines``)
and writes the model's expressions into C code that it compiles and loads.
The two readers do not agree on where a line ends: Python also breaks lines
at form feeds, vertical tabs, ``\\x1c``-``\\x1e``, ``\\x85`` and the Unicode line
separators, the C++ reader only at ``\\n``. A block hidden behind such a
character in a comment is invisible to the C++ reader (which checks
expressions) and is compiled by the code generator: a function
``(system("..."), 1)`` runs a command. A network file is plain ASCII written
by BNG2.pl, so bngfit refuses every control character but tab and line end,
and every non-ASCII byte, anywhere in the file (comments included), before
bngsim sees it.
"""

from __future__ import annotations

import re

from .errors import InputError

_NOT_ALLOWED = re.compile(r"[^\t\n\x20-\x7e]")


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
    return text
