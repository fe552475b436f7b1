"""Checks of output paths, made before any work: a fit must not run for an
hour and then find it cannot write its result.

Permissions are tested by doing (creating and removing a probe file, opening
for writing without writing), not by ``os.access``: that answers for the real
user id and says yes to root even where a read-only mount or an immutable
file says no. Every message starts ``cannot write WHAT:`` where ``WHAT`` is
what the caller writes there (``--best``, ``the store``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bngfit.errors import InputError


def _refuse(what: str, why: str, path: Path) -> InputError:
    """The refusal ``cannot write WHAT: WHY`` naming ``path``."""
    return InputError(f"cannot write {what}: {why}", file=str(path))


def probe_folder(folder: Path, what: str, *, creating: bool = False) -> None:
    """Refuse unless a new file can be created in ``folder``.

    Parameters
    ----------
    folder : Path
    what : str
        What is to be written there, for the message (``"the store"``, ``"--best"``).
    creating : bool
        ``folder`` is the nearest existing ancestor of a folder to be created
        (the message says so).
    """
    lead = "cannot create the folder: " if creating else ""
    if not folder.exists():
        raise _refuse(what, f"the folder {folder} does not exist (create it first)", folder)
    if not folder.is_dir():
        raise _refuse(what, f"{lead}{folder} is a file, not a folder", folder)
    try:
        fd, probe = tempfile.mkstemp(prefix=".bngfit-probe-", dir=folder)
    except OSError as err:
        raise _refuse(what, f"{lead}no permission to write in the folder {folder} (no new "
                            f"file can be created there: {err.strerror or err})",
                      folder) from None
    os.close(fd)
    os.unlink(probe)


def probe_file(path: Path, what: str) -> None:
    """Refuse unless the existing file ``path`` can be opened for writing (nothing is written)."""
    if path.is_dir():
        raise _refuse(what, "it names a folder, not a file", path)
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as err:
        raise _refuse(what, f"the file exists and is not writable ({err.strerror or err})",
                      path) from None


def check_output_file(path: str | Path, what: str = "the output file") -> Path:
    """Refuse an output file that cannot be written (missing folder, no permission).

    Parameters
    ----------
    path : str or Path
        The file to be (over)written, e.g. ``--best``.
    what : str
        What it is, for the message (the option that named it, on the command line).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        Naming the file or folder and why.
    """
    path = Path(path)
    if path.exists():
        probe_file(path, what)
    # a new file, an atomic replacement or SQLite's journal all need the folder
    probe_folder(path.parent if str(path.parent) else Path("."), what)
    return path


def check_output_dir(path: str | Path, what: str = "the output folder",
                     files: Iterable[str] = ()) -> Path:
    """Refuse an output folder that cannot be created or written into (``plot -o``).

    A missing folder is fine when its nearest existing ancestor is a writable
    folder; nothing is created here.

    Parameters
    ----------
    path : str or Path
        The folder.
    what : str
        What it is, for the message.
    files : iterable of str
        Names written inside: none may be a folder or a read-only file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        Naming the file or folder and why.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise _refuse(what, "it names a file, not a folder", path)
        probe_folder(path, what)
        for name in files:
            check_output_file(path / name, what)
        return path
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    probe_folder(ancestor, what, creating=True)
    return path
