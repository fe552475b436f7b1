"""bngfit's private per-user cache of BNGL texts and generated networks.

Filtered model texts, bound PyBNF templates and the networks BNG2.pl generates
from them are written here and read back by later loads and by worker
processes. A file in this folder is a model bngfit will simulate (a network is
also turned into C code and compiled), so the folder must be writable by the
user alone: it is ``$XDG_CACHE_HOME/bngfit/bngl`` (default ``~/.cache``),
created with mode 0700 and used only while it and its parent ``bngfit`` are
real directories owned by the user and not writable by group or others;
otherwise bngfit warns and uses a private folder of its own for the run
(``tempfile.mkdtemp``, mode 0700, removed at exit).

Every file is content-checked before use: a text is named after the SHA-256 of
its content and re-hashed when read; a network carries the digest of its bytes
in a ``.sha256`` file beside it. A file that does not match (planted, modified,
half-written) is never used but written again. Writes go to a unique
temporary name in the folder, then :func:`os.replace` (atomic).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_DIRS: dict[str, Path] = {}


class NotPrivate(OSError):
    """A cache folder another user could write to."""


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/bngfit/bngl`` (an absolute XDG_CACHE_HOME only), else ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "bngfit" / "bngl"


def check_private(path: Path) -> None:
    """Raise :class:`NotPrivate` unless ``path`` is a real directory of ours, mode go-w."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotPrivate(f"{path} is not a directory (a symbolic link or a file)")
    if st.st_uid != os.geteuid():
        raise NotPrivate(f"{path} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        raise NotPrivate(f"{path} is writable by group or others "
                         f"(mode {stat.S_IMODE(st.st_mode):o})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise NotPrivate(f"{path} is not writable")


def private_dir() -> Path:
    """The cache folder, created if need be (see the module docstring)."""
    try:
        root = cache_root()
    except (RuntimeError, KeyError):  # no home folder
        root = Path("<no home folder>")
    key = str(root)
    if key in _DIRS:
        return _DIRS[key]
    try:
        if not root.is_absolute():
            raise NotPrivate("there is no home folder")
        root.parent.parent.mkdir(parents=True, exist_ok=True)
        for d in (root.parent, root):
            d.mkdir(mode=0o700, exist_ok=True)
            check_private(d)
        out = root
    except OSError as err:
        out = Path(tempfile.mkdtemp(prefix="bngfit-bngl-"))
        atexit.register(shutil.rmtree, out, True)
        log.warning("not using the BNGL cache folder %s (%s); using %s for this run",
                    root, err, out)
    _DIRS[key] = out
    return out


def digest(data: bytes) -> str:
    """SHA-256 of ``data``, hex, 32 characters (names and checks)."""
    return hashlib.sha256(data).hexdigest()[:32]


def _regular_of_ours(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link) owned by this user."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a unique temporary name beside ``path``, then rename it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_text(stem: str, text: str, suffix: str = ".bngl") -> Path:
    """Store ``text`` under a name made of ``stem`` and its digest.

    An existing file of that name is used only if its content is ``text``
    (else it is written again).

    Returns
    -------
    Path
        The file in the cache.
    """
    data = text.encode("utf-8")
    path = private_dir() / f"{safe_stem(stem)}-{digest(data)}{suffix}"
    if _regular_of_ours(path):
        try:
            if path.read_bytes() == data:
                return path
        except OSError:
            pass
        log.warning("cached file %s does not match its name; writing it again", path)
    _write_atomic(path, data)
    return path


def verified_file(path: Path) -> bool:
    """Whether ``path`` exists, is ours, and matches the digest in ``path.sha256``."""
    side = path.with_name(path.name + ".sha256")
    if not (_regular_of_ours(path) and _regular_of_ours(side)):
        return False
    try:
        ok = side.read_text(encoding="ascii").strip() == digest(path.read_bytes())
    except (OSError, UnicodeDecodeError):
        ok = False
    if not ok:
        log.warning("cached file %s does not match its recorded digest; it is not used", path)
    return ok


def store_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (in the cache) with its digest beside it."""
    _write_atomic(path.with_name(path.name + ".sha256"), digest(data).encode("ascii"))
    _write_atomic(path, data)
    return path


def safe_stem(stem: str) -> str:
    """A file-name stem of letters, digits, ``_`` and ``-`` only (at most 40)."""
    out = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in stem)
    return out[:40] or "model"
