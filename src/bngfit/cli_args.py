"""Checks of command-line values and output paths, before any work is done.

Option values are checked by argparse ``type=`` functions, so a bad value is
refused while the command line is read, before a model is loaded; argparse
names the option (``argument --seed: ...``). Output paths are checked by
:func:`check_output_file` and :func:`check_output_dir` before the command
computes anything, so a fit never runs to its end only to fail at writing.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

from .errors import InputError

#: The largest seed: seeds are stored as 64-bit signed integers.
MAX_SEED = 2**63 - 1
#: Dask address schemes (``distributed.comm`` registers these).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def _bad(text: str, what: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{what}, not '{text}'")


def int_range(least: int, most: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer from ``least`` to ``most`` (``what`` it counts)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            value = None
        if value is None or not least <= value <= most:
            raise _bad(text, f"{what + ' ' if what else ''}must be an integer of at least "
                             f"{least} and at most {most}")
        return value

    parse.__name__ = "integer"
    return parse


def seed(text: str) -> int:
    """An argparse type: a seed of the random start points (0 to 2**63 - 1)."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise _bad(text, "must be an integer from 0 to 2**63-1")
    return value


def positive_float(below: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (and below ``below``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value < below):
            bound = "" if math.isinf(below) else f" and below {below:g}"
            raise _bad(text, f"must be a finite number above 0{bound}")
        return value

    parse.__name__ = "number"
    return parse


def choice(vocabulary: type[Enum] | Iterable[str], what: str) -> Callable[[str], str]:
    """An argparse type: one word of a closed vocabulary (the text is returned)."""
    words = tuple(m.value for m in vocabulary) if isinstance(vocabulary, type) else tuple(
        vocabulary)

    def parse(text: str) -> str:
        if text not in words:
            raise argparse.ArgumentTypeError(
                f"unknown {what} '{text}': use one of {', '.join(words)}")
        return text

    parse.__name__ = what
    return parse


def choices_text(vocabulary: type[Enum] | Iterable[str]) -> str:
    """The words of a vocabulary for a help text: ``a, b or c``."""
    words = [m.value for m in vocabulary] if isinstance(vocabulary, type) else list(vocabulary)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+)"
                      r":(?P<port>[0-9]{1,5})/?$")


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, ``[scheme://]host:port``.

    The schemes are Dask's (tcp, tls, ws, wss, ucx; inproc takes any text
    after ``inproc://``); without a scheme Dask takes tcp.
    """
    if text.startswith("inproc://") and len(text) > len("inproc://"):
        return text
    m = _ADDRESS.match(text.strip())
    why = ("must be a Dask scheduler address [scheme://]host:port with a scheme of "
           f"{choices_text(DASK_SCHEMES)} (for example tcp://127.0.0.1:8786)")
    if m is None or (m["scheme"] is not None and m["scheme"] not in DASK_SCHEMES):
        raise _bad(text, why)
    if not 1 <= int(m["port"]) <= 65535:
        raise _bad(text, "has a port outside 1 to 65535")
    return text.strip()


def check_scheduler_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a scheduler that does not accept a connection (before any work).

    Only the network schemes are tried (a TCP connection, which tls and ws
    also start with); Dask itself would wait 30 s and then fail mid-run.
    """
    import socket

    m = _ADDRESS.match(address)
    if m is None or (m["scheme"] or "tcp") not in ("tcp", "tls", "ws", "wss"):
        return
    host = m["host"].strip("[]")
    try:
        with socket.create_connection((host, int(m["port"])), timeout=timeout):
            pass
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise InputError(f"cannot reach the Dask scheduler at {address}: {reason}; start "
                         "it first (dask scheduler) or leave out --scheduler for a local "
                         "cluster", value=address) from None


# ------------------------------------------------------------------ output paths
def check_output_file(path: str | Path, option: str) -> Path:
    """Refuse an output file that cannot be written; return it as a Path.

    Parameters
    ----------
    path : str or Path
        The file to be written.
    option : str
        The option that named it (for the message), e.g. ``"--best"``.

    Raises
    ------
    InputError
        The folder does not exist or is not writable, the path is a folder,
        or an existing file is read-only.
    """
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise InputError(f"{option} names a folder, not a file", file=str(p))
    if not folder.is_dir():
        raise InputError(f"{option}: the folder {folder} does not exist (create it first)",
                         file=str(p))
    if not os.access(folder, os.W_OK | os.X_OK):
        # an existing file may still be writable in place, but SQLite stores
        # and atomic replacements need the folder too
        raise InputError(f"{option}: no permission to write in the folder {folder}",
                         file=str(p))
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{option}: the file exists and is not writable", file=str(p))
    return p


def check_output_dir(path: str | Path, option: str,
                     files: Iterable[str] = ()) -> Path:
    """Refuse an output folder that cannot be created or written into.

    ``files`` are names the command writes inside; none may be a folder or a
    read-only file.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} names a file, not a folder", file=str(p))
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise InputError(f"{option}: no permission to write in this folder", file=str(p))
        for name in files:
            check_output_file(p / name, option)
        return p
    # the folder and its missing parents are created: the nearest existing
    # ancestor must be a writable folder
    ancestor = p.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{option}: cannot create the folder: {ancestor} is a file",
                         file=str(p))
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{option}: cannot create the folder: no permission to write in "
                         f"{ancestor}", file=str(p))
    return p


def check_distinct(paths: dict[str, Path]) -> None:
    """Refuse two outputs that name the same file (``{option: path}``)."""
    seen: dict[str, str] = {}
    for option, p in paths.items():
        key = os.path.normcase(os.path.abspath(p))
        if key in seen:
            raise InputError(f"{seen[key]} and {option} name the same file", file=str(p))
        seen[key] = option


def check_not_inputs(problem, outputs: dict[str, Path]) -> None:
    """Refuse an output that would overwrite one of the problem's own files.

    ``outputs`` maps each option to its path. Checked once the problem is
    read (its files are known then) and before anything is computed.
    """
    inputs = {os.path.realpath(problem.source)}
    for joined in problem.files.values():
        inputs.update(os.path.realpath(p) for p in str(joined).split(";") if p)
    for option, p in outputs.items():
        if os.path.realpath(p) in inputs:
            raise InputError(f"{option} names one of the problem's own files; writing there "
                             "would replace it", file=str(p))
