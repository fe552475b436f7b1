"""Checks of output paths, made before any work: a fit must not run for an
hour and then find it cannot write its result.

Permissions are tested by doing (creating and removing a probe file, opening
for writing without writing), not by ``os.access``: that answers for the real
user id and says yes to root even where a read-only mount says no.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def probe_folder(folder: Path, what: str) -> None:
    """Refuse unless a new file can be created in ``folder``.

    Parameters
    ----------
    folder : Path
    what : str
        What is to be written there, for the message (``"the store"``).
    """
    if not folder.exists():
        raise InputError(f"cannot write {what}: the folder does not exist", file=str(folder))
    if not folder.is_dir():
        raise InputError(f"cannot write {what}: not a folder", file=str(folder))
    try:
        fd, probe = tempfile.mkstemp(prefix=".bngfit-probe-", dir=folder)
    except OSError as err:
        raise InputError(f"cannot write {what}: no new file can be created in this folder "
                         f"({err.strerror or err})", file=str(folder)) from None
    os.close(fd)
    os.unlink(probe)


def probe_file(path: Path, what: str) -> None:
    """Refuse unless the existing file ``path`` can be opened for writing (nothing is written)."""
    if path.is_dir():
        raise InputError(f"cannot write {what}: it is a folder", file=str(path))
    try:
        with open(path, "r+b"):
            pass
    except OSError as err:
        raise InputError(f"cannot write {what}: the file cannot be opened for writing "
                         f"({err.strerror or err})", file=str(path)) from None


def check_output_file(path: str | Path, what: str = "the output file") -> None:
    """Refuse an output file that cannot be written (missing folder, no permission).

    Parameters
    ----------
    path : str or Path
        The file to be (over)written, e.g. ``--best``.
    what : str
        What it is, for the message.

    Raises
    ------
    InputError
        Naming the file or folder and why.
    """
    path = Path(path)
    if path.exists():
        probe_file(path, what)
    probe_folder(path.parent if str(path.parent) else Path("."), what)


def check_output_dir(path: str | Path, what: str = "the output folder") -> None:
    """Refuse an output folder that cannot be created or written into (``plot -o``).

    A missing folder is fine when its nearest existing ancestor is a writable folder.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"cannot write {what}: it exists and is not a folder",
                             file=str(path))
        probe_folder(path, what)
        return
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    probe_folder(ancestor, what)
