"""What the ODE solver prints during a fit: kept off the screen, passed to ``logging``.

bngsim's SUNDIALS prints ``[WARNING] ... CVode`` lines on file descriptor 1 and
``[ERROR]`` lines on descriptor 2, from C++, below Python: ``sys.stdout``,
``contextlib.redirect_stdout`` and logging cannot catch them. A notebook shows
whatever reaches those descriptors in the cell's output, so a fit of a stiff
model would bury its progress under thousands of rejected trial points.

Every engine therefore writes them into one file per run (:class:`SolverLog`):
the store's ``STORE.solver.log`` when there is a store, else a temporary file.
Local worker processes (process pool, local Dask cluster) point their
descriptors at it once (:func:`bngfit.optimize._workers.redirect_output`); the
sequential engine points this process's descriptors away while a start runs
and sorts what they received: the solver's lines into the file, anything else
back to standard error (:class:`Redirect`); it restores them for the progress
callback. After each
start the new lines are passed to the ``bngfit.solver`` logger at DEBUG level
(one INFO line per run counts them); a temporary file is then deleted, and a
store's log that stayed empty is not left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger("bngfit.solver")

#: Bytes of solver output passed to the logger per relay at most (the rest is skipped).
MAX_RELAY = 4 << 20


def flush_c_streams() -> None:
    """Flush the C library's stdio buffers (C++ ``std::cout`` writes through them)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no libc to load (not on a POSIX system)
        pass


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()


class SolverLog:
    """The file that receives a run's solver output, and its relay to logging.

    Parameters
    ----------
    path : str, optional
        The store's solver log (appended to, kept). Without it a temporary
        file is used and deleted by :meth:`close`.

    Attributes
    ----------
    path : str
        The file engines point descriptors 1 and 2 at.
    n_lines : int
        Lines passed to the logger so far.
    """

    def __init__(self, path: str | None = None) -> None:
        self.temporary = path is None
        if path is None:
            fd, path = tempfile.mkstemp(prefix="bngfit-solver-", suffix=".log")
            os.close(fd)
        self.path = str(path)
        self.existed = os.path.exists(self.path)
        self.offset = os.path.getsize(self.path) if self.existed else 0
        self.n_lines = 0

    def relay(self) -> int:
        """Pass the lines written since the last call to the logger; how many.

        Returns
        -------
        int
            Lines passed now.
        """
        flush_c_streams()
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                fh.seek(self.offset)
                data = fh.read(MAX_RELAY)
        except OSError:  # not created yet (no worker started) or removed by the user
            return 0
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        skipped = 0
        if len(data) == MAX_RELAY and size > self.offset + MAX_RELAY:
            # a flood: what is past the limit is skipped (it stays in a store's log)
            end, skipped = len(data), size - self.offset - len(data)
        self.offset += end + skipped
        lines = [ln for ln in data[:end].decode(errors="replace").splitlines() if ln.strip()]
        for line in lines:
            log.debug("%s", line)
        if skipped:
            log.debug("... %d more bytes of solver output not passed on", skipped)
        self.n_lines += len(lines)
        return len(lines)

    def close(self) -> None:
        """Relay what is left, say how much there was, remove a temporary or empty file."""
        self.relay()
        if self.n_lines:
            where = ("the 'bngfit.solver' logger has them at DEBUG level" if self.temporary
                     else f"they are in {self.path}")
            log.info("the ODE solver printed %d line(s) during the fit; %s", self.n_lines,
                     where)
        with contextlib.suppress(OSError):
            if self.temporary or (not self.existed and os.path.getsize(self.path) == 0):
                os.unlink(self.path)


#: A line the solver printed (SUNDIALS' ``[WARNING][rank 0][file:line][CVode] ...``).
SOLVER_LINE = re.compile(r"^\[[A-Z]+\]|sundials|cvode", re.IGNORECASE)


class Redirect:
    """Point this process's descriptors 1 and 2 away while the block runs.

    They go to an anonymous temporary file. At :meth:`drain` (when the block
    ends, and at each :meth:`paused`) its lines are sorted: the solver's
    (:data:`SOLVER_LINE`) are appended to ``path``, the solver log; any other
    line (a Python logging handler writing to the terminal's standard error,
    say) is written back to the original standard error, so nothing but the
    solver's output is hidden. :meth:`paused` gives the descriptors back for a
    moment (a progress bar drawn on the terminal between two evaluations).

    Parameters
    ----------
    path : str
        The solver log (appended to, created if missing).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._saved: tuple[int, int] | None = None
        self._tmp: int | None = None

    def __enter__(self) -> Redirect:
        _flush_python_streams()
        flush_c_streams()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:  # no descriptors 1 and 2 (a daemon): nothing to keep clean
            return self
        self._saved = saved
        with tempfile.TemporaryFile() as fh:  # deleted already: nothing is left behind
            self._tmp = os.dup(fh.fileno())
        self._point()
        return self

    def _point(self) -> None:
        _flush_python_streams()
        os.dup2(self._tmp, 1)
        os.dup2(self._tmp, 2)

    def _restore(self) -> None:
        _flush_python_streams()
        flush_c_streams()
        out, err = self._saved
        os.dup2(out, 1)
        os.dup2(err, 2)

    def drain(self) -> None:
        """Sort what was written so far: solver lines to the log, others back to stderr."""
        if self._tmp is None:
            return
        flush_c_streams()
        size = os.fstat(self._tmp).st_size
        if not size:
            return
        data = os.pread(self._tmp, size, 0)
        # every writer shares this file's offset: start it over for the next lines
        os.ftruncate(self._tmp, 0)
        os.lseek(self._tmp, 0, os.SEEK_SET)
        solver, other = [], []
        for line in data.decode(errors="replace").splitlines(keepends=True):
            (solver if SOLVER_LINE.search(line) else other).append(line)
        if solver:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.writelines(line if line.endswith("\n") else line + "\n" for line in solver)
        if other:
            with contextlib.suppress(OSError):
                os.write(self._saved[1], "".join(other).encode())

    def __exit__(self, *exc: object) -> None:
        if self._saved is None:
            return
        self._restore()
        try:
            self.drain()
        finally:
            for fd in (*self._saved, self._tmp):
                os.close(fd)
            self._saved = self._tmp = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The original descriptors while the block runs, the redirect again after it."""
        if self._saved is None:
            yield
            return
        self._restore()
        self.drain()
        try:
            yield
        finally:
            self._point()


__all__ = ["MAX_RELAY", "SOLVER_LINE", "Redirect", "SolverLog", "flush_c_streams"]
