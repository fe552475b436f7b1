"""The command line's standard streams and logging.

Two promises of the command line live here:

- **stdout carries only what bngfit prints.** The ODE solver (SUNDIALS, in
  C++) writes its ``[WARNING]``/``[ERROR]`` lines straight to file
  descriptors 1 and 2, below Python, so they would land in the middle of
  ``--json`` output. :class:`StandardStreams` gives Python's ``sys.stdout``
  and ``sys.stderr`` private duplicates of the two descriptors and points
  descriptor 1 at the terminal's standard error; :func:`solver_output_to`
  points both descriptors at the solver log during a fit. Everything is
  restored when the command ends.
- **Other libraries' logging stays off the terminal** (Dask's INFO lines, for
  one) unless ``--debug``: :func:`configure_logging` installs one handler
  that passes bngfit's own records (INFO and up) and other libraries'
  warnings, Dask's errors only (and ignores Dask's Python warnings).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

#: Libraries whose warnings are routine (worker restarts, closing comms):
#: shown from ERROR up unless --debug.
NOISY = ("distributed", "tornado", "asyncio", "bokeh")


# ------------------------------------------------------------------ logging
def _ours(name: str) -> bool:
    """Whether the logger ``name`` is bngfit's own."""
    return name == "bngfit" or name.startswith("bngfit.")


class _CurrentStderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time of the record.

    The command swaps ``sys.stderr`` (see :class:`StandardStreams`), and
    pytest's capture swaps it per test: a handler bound to one stream object
    would write to a stale one.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        """The current ``sys.stderr`` (logging's attribute, read at each record)."""
        return sys.stderr


class _Formatter(logging.Formatter):
    """``bngfit: message`` for bngfit's records; other libraries name themselves."""

    def __init__(self, debug: bool) -> None:
        super().__init__("%(message)s")
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).removeprefix("bngfit: ")
        if _ours(record.name) and not self.debug:
            return f"bngfit: {text}"
        return f"bngfit: [{record.name}] {record.levelname.lower()}: {text}"


class _Quiet(logging.Filter):
    """bngfit's records from INFO, other libraries' from WARNING (noisy ones ERROR)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _ours(record.name):
            return record.levelno >= logging.INFO
        least = logging.ERROR if record.name.split(".")[0] in NOISY else logging.WARNING
        return record.levelno >= least


@contextlib.contextmanager
def configure_logging(debug: bool) -> Iterator[None]:
    """Log to standard error for the duration of one command.

    Without ``debug``: bngfit's records from INFO up, other libraries' from
    WARNING up (Dask's and tornado's from ERROR up). With ``debug``:
    everything, each line naming its logger. The handler sits on the root
    logger (so pytest's ``caplog`` still sees bngfit's records); levels and
    handlers are restored at the end.
    """
    root = logging.getLogger()
    ours = logging.getLogger("bngfit")
    saved = (root.level, ours.level)
    handler = _CurrentStderr()
    handler.setFormatter(_Formatter(debug))
    if not debug:
        handler.addFilter(_Quiet())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    ours.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        with warnings.catch_warnings():
            if not debug:  # e.g. Dask's "Port 8787 is already in use" for its dashboard
                for lib in NOISY:
                    warnings.filterwarnings("ignore", module=rf"{lib}(\.|$)")
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])


# ------------------------------------------------------------------ file descriptors
def _flush_c_streams() -> None:
    """Flush the C library's stdio buffers (C++ ``std::cout`` writes through them)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no libc to load (not on a POSIX system)
        pass


def _flush(stream: TextIO) -> None:
    """Flush ``stream``, unless it is closed or gone."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.flush()


def _owns_process_fds() -> bool:
    """Whether Python's stdout and stderr are the process's descriptors 1 and 2.

    Only then may the command move descriptors around; under a test runner's
    capture (or in a program that replaced them) they are left alone.
    """
    try:
        return (sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
                and sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2)
    except (AttributeError, ValueError, OSError):
        return False


def _text_stream(fd: int, like: TextIO) -> io.TextIOWrapper:
    """A text stream on ``fd`` that buffers and encodes like ``like`` does."""
    return io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(fd, "w", closefd=True)),
        encoding=like.encoding, errors=like.errors,
        line_buffering=like.line_buffering,
        write_through=getattr(like, "write_through", False))


class StandardStreams:
    """Keep what the solver prints from C++ off the command's standard output.

    On entry (when Python's streams are the process's descriptors 1 and 2):
    ``sys.stdout`` and ``sys.stderr`` become private duplicates of the two
    descriptors, and descriptor 1 points at standard error, so C and C++ code
    can no longer write to the real standard output. On exit everything is
    restored. Otherwise (a test runner capturing the streams) it does nothing.
    """

    def __init__(self) -> None:
        self.active = False
        self._saved: tuple[TextIO, TextIO] | None = None
        self._fds: tuple[int, int] = (-1, -1)

    def __enter__(self) -> StandardStreams:
        if not _owns_process_fds():
            return self
        _flush(sys.stdout)
        _flush(sys.stderr)
        _flush_c_streams()
        out_fd, err_fd = os.dup(1), os.dup(2)  # not inherited by programs started
        self._saved = (sys.stdout, sys.stderr)
        self._fds = (out_fd, err_fd)
        sys.stdout = _text_stream(out_fd, sys.stdout)
        sys.stderr = _text_stream(err_fd, sys.stderr)
        os.dup2(err_fd, 1)
        self.active = True
        _STACK.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        _STACK.remove(self)
        _flush_c_streams()
        out, err = sys.stdout, sys.stderr
        try:
            out.flush()
        except BrokenPipeError:  # the reader has gone: what is left goes nowhere
            silence_stdout()
        _flush(err)
        os.dup2(self._fds[0], 1)
        os.dup2(self._fds[1], 2)
        sys.stdout, sys.stderr = self._saved
        for stream in (out, err):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        self.active = False

    @contextlib.contextmanager
    def solver_output_to(self, path: str | os.PathLike) -> Iterator[None]:
        """Point descriptors 1 and 2 at ``path`` (appending) while the block runs.

        Python's ``sys.stderr`` keeps writing to the terminal (progress bar,
        messages); what C and C++ code print goes to the file. Worker
        processes forked meanwhile inherit the file as their descriptors.
        """
        if not self.active:
            yield
            return
        new = not os.path.exists(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _flush_c_streams()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        try:
            yield
        finally:
            _flush_c_streams()
            os.dup2(self._fds[1], 1)
            os.dup2(self._fds[1], 2)
            if new:  # a run refused before it started leaves no empty log behind
                with contextlib.suppress(OSError):
                    if os.path.getsize(path) == 0:
                        os.unlink(path)


_STACK: list[StandardStreams] = []


@contextlib.contextmanager
def solver_output_to(path: str | os.PathLike) -> Iterator[None]:
    """Send solver output to ``path`` while the block runs (see StandardStreams).

    Does nothing outside an active :class:`StandardStreams` (a library call,
    a test runner's capture).
    """
    if not _STACK:
        yield
        return
    with _STACK[-1].solver_output_to(path):
        yield


def silence_stdout() -> None:
    """Point standard output at the null device (its reader has gone).

    What is still buffered then goes nowhere instead of raising again when the
    interpreter flushes it at exit.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
