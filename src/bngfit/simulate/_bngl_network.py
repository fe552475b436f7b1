"""Generate the network of a BNGL model with BNG2.pl, from filtered text only.

bngsim's own BNGL loader (``bngsim.Model.load`` on a ``.bngl``) hands BNG2.pl
the statements of the file before ``generate_network``, which BNG2.pl runs as
Perl, and keeps its networks in ``~/.cache/bngsim/networks`` (or wherever
``BNGSIM_BNGL_CACHE_DIR`` points), reused by name without a content check. A
network is turned into C code and compiled by bngsim, so a planted one runs
code too. bngfit therefore runs BNG2.pl itself, on the text of
:func:`bngfit.files.filter_bngl` only, in a private temporary folder,
with a time limit, and keeps the network in its private cache
(:mod:`bngfit.files._bngl_cache`), checked against its digest at every reuse; the
model is then loaded with ``bngsim.Model.from_net``.

The time limit of one network generation is ``BNGFIT_BNGL_TIMEOUT`` seconds
(default :data:`DEFAULT_TIMEOUT`): a rule set whose network does not end is
refused with a message saying how to bound it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bngfit.errors import InputError, MissingExtraError
from bngfit.files import (
    FilteredBngl,
    filter_bngl,
    private_dir,
    safe_stem,
    store_file,
    store_text,
    verified_file,
)

from ._net_text import check_net_text

if TYPE_CHECKING:
    import bngsim

log = logging.getLogger(__name__)

#: Seconds one BNG2.pl network generation may take (``BNGFIT_BNGL_TIMEOUT``).
DEFAULT_TIMEOUT = 300.0
TIMEOUT_VARIABLE = "BNGFIT_BNGL_TIMEOUT"
_INSTALL = ("install the extra with: pip install 'bngfit[bngl]' (it brings BioNetGen's "
            "BNG2.pl; perl must be on PATH)")


def load_timeout() -> float:
    """The network-generation time limit in seconds, from the environment."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"the environment variable {TIMEOUT_VARIABLE} must be a positive "
                         "number of seconds", id=TIMEOUT_VARIABLE, value=raw)
    return value


def read_bngl(path: Path, *, network_first: bool = False) -> FilteredBngl:
    """The filtered text of the BNGL file ``path`` (see :func:`filter_bngl`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"the model is not UTF-8 text ({err.reason} at byte {err.start})",
                         file=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read the model: {err.strerror or err}",
                         file=str(path)) from None
    return filter_bngl(text, file=str(path), network_first=network_first)


def load_bngl(path: Path) -> bngsim.Model:
    """The bngsim model of the BNGL file ``path``, built from its filtered text.

    Raises
    ------
    InputError
        The file is refused by the filter, BNG2.pl reports an error (its
        message, with the file and line), or generation exceeds the time limit.
    MissingExtraError
        BNG2.pl or perl cannot be found.
    """
    import bngsim

    filtered = read_bngl(path)
    net = network(filtered, path)
    try:
        return bngsim.Model.from_net(str(net))
    except bngsim.BngsimError as err:
        raise InputError(f"the network BNG2.pl generated does not load: "
                         f"{str(err).splitlines()[0]}", file=str(path)) from None


_HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                 if hasattr(signal, name))


def _bng2() -> Path:
    """The path of BNG2.pl, as bngsim's resolver finds it.

    Raises
    ------
    MissingExtraError
        BioNetGen (or its resolver) is not installed.
    """
    try:
        from bngsim._bngpath import resolve_bng
    except ImportError:  # pragma: no cover - bngsim without the resolver
        raise MissingExtraError(f"loading BNGL needs BioNetGen's BNG2.pl; {_INSTALL}") from None
    # The resolver imports PyBioNetGen, whose command-line app reads the host's
    # sys.argv at import: a '-q' there (a user's script, pytest -q) would point
    # sys.stdout and sys.stderr at /dev/null for good; and it installs its own
    # SIGTERM/SIGINT/SIGHUP handlers (a SIGTERM then ends bngfit as "internal
    # error: CaughtSignal" instead of cleanly). It sees a bare argv, and the
    # streams and signal handlers are put back whatever it does.
    argv, streams = sys.argv, (sys.stdout, sys.stderr)
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in _HANDLED} if main_thread else {}
    sys.argv = argv[:1] or ["bngfit"]
    try:
        r = resolve_bng(None)
    finally:
        sys.argv = argv
        sys.stdout, sys.stderr = streams
        for sig, handler in handlers.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
    if not r.ok and r.bng2_pl is None:
        r = _bundled_without_import(r)
    if not r.ok or r.bng2_pl is None:
        raise MissingExtraError(
            f"loading BNGL needs BioNetGen's BNG2.pl and perl; {_INSTALL}. "
            f"Looked for it: {r.why_not()}")
    return Path(r.bng2_pl)


#: The folder of BNG2.pl inside the PyBioNetGen package, per platform.
_BUNDLED = {"linux": "bng-linux", "darwin": "bng-mac", "win32": "bng-win"}


def _bundled_without_import(failed: object) -> object:
    """PyBioNetGen's bundled BNG2.pl, found without importing the package.

    ``bionetgen`` requires the Jupyter notebook stack (through ``nbopen``);
    installed with ``pip install --no-deps bionetgen`` it cannot be imported,
    but the BNG2.pl it bundles runs with perl alone. Returns the resolver's
    answer for that folder, or ``failed`` when there is none.
    """
    from bngsim._bngpath import resolve_bng

    try:
        spec = importlib.util.find_spec("bionetgen")
    except (ImportError, ValueError):
        return failed
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    folder = _BUNDLED.get(sys.platform)
    for root in roots if folder else ():
        candidate = Path(root) / folder
        if (candidate / "BNG2.pl").is_file():
            return resolve_bng(candidate)
    return failed


def network(filtered: FilteredBngl, source: Path,
            line_of: Callable[[int], int] | None = None) -> Path:
    """The ``.net`` BNG2.pl generates from ``filtered`` (cached, content-checked).

    Parameters
    ----------
    filtered : FilteredBngl
        The only text BNG2.pl reads.
    source : Path
        The file named in messages.
    line_of : callable, optional
        Maps a line of the filtered text to that file's line (default: the
        same line).

    Returns
    -------
    Path
        The network file in bngfit's private cache.

    Raises
    ------
    InputError
        BNG2.pl reports an error, exceeds the time limit, or writes a network
        that is refused (:func:`check_net_text`).
    MissingExtraError
        BNG2.pl or perl cannot be found.
    """
    bng2 = _bng2()
    h = hashlib.sha256(filtered.text.encode("utf-8"))
    try:
        st = bng2.stat()
        h.update(f"\0{bng2}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    except OSError:
        h.update(f"\0{bng2}".encode())
    stem = safe_stem(source.stem)
    net = private_dir() / f"{stem}-{h.hexdigest()[:32]}.net"
    if verified_file(net):
        return net
    store_text(stem, filtered.text)  # the text BNG2.pl read, for the curious
    timeout = load_timeout()
    # scratch inside the private cache: a killed run leaves nothing elsewhere
    with tempfile.TemporaryDirectory(prefix="bng2-", dir=private_dir()) as work:
        scratch = Path(work) / f"{stem}.bngl"
        scratch.write_text(filtered.text, encoding="utf-8")
        try:
            proc = subprocess.run(
                ["perl", str(bng2), "--outdir", work, str(scratch)],
                capture_output=True, text=True, errors="replace", timeout=timeout,
                cwd=work, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        except FileNotFoundError:
            raise MissingExtraError(f"loading BNGL needs perl on PATH to run BNG2.pl; "
                                    f"{_INSTALL}") from None
        except subprocess.TimeoutExpired:
            raise InputError(
                f"BNG2.pl did not finish generating the network within {timeout:g} s "
                f"(the limit is set by {TIMEOUT_VARIABLE}); the rules may generate an "
                "unbounded network: bound it with generate_network({max_iter=>N, "
                "max_agg=>N, max_stoich=>{Molecule=>N}}) or raise the limit",
                file=str(source)) from None
        produced = Path(work) / f"{stem}.net"
        if proc.returncode != 0 or not produced.is_file():
            raise _bng2_error(proc, scratch, filtered, source, line_of or (lambda n: n))
        data = produced.read_bytes()
    check_net_text(data, str(source))  # BNG2.pl writes ASCII; anything else is refused
    return store_file(net, data)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: BNG2.pl gets SIGKILL if bngfit dies (else it outlives a killed run)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


_LINE = re.compile(r"at line (\d+)(?: of file '([^']*)')?")


def _bng2_error(proc: subprocess.CompletedProcess, scratch: Path, filtered: FilteredBngl,
                source: Path, line_of: Callable[[int], int]) -> InputError:
    """BNG2.pl's own error, with the line of the user's file where it names one."""
    output = (proc.stdout or "") + "\n" + (proc.stderr or "")
    lines = output.splitlines()
    keep: list[str] = []
    row = None
    for i, line in enumerate(lines):
        if re.match(r"\s*(ERROR|ABORT)\b", line):
            keep.append(line.strip())
            for follow in lines[i + 1: i + 3]:
                m = _LINE.search(follow)
                if m:
                    n = int(m.group(1))
                    if n == filtered.generate_line:
                        keep.append("in network generation")
                    else:
                        row = row or line_of(n)
                        keep.append(f"at line {line_of(n)}")
                    break
    if not keep:
        keep = [ln.strip() for ln in lines if ln.strip()][-6:]
    said = "; ".join(keep).replace(str(scratch), source.name)
    if len(said) > 800:
        said = said[:797] + "..."
    return InputError(f"BNG2.pl cannot generate the network (exit {proc.returncode}): "
                      f"{said}", file=str(source), row=row)
