"""Fides with dense diagonal matrices in place of its scipy.sparse ones.

Fides (0.7, 0.8) builds its affine scaling ``D`` and the term ``diag(|g|) J_v``
of every trust-region step as ``scipy.sparse.csc_matrix(np.diag(v))``, and each
candidate step copies and multiplies them. With the few to hundreds of
parameters of ODE models, creating and multiplying these sparse matrices is a
large part of fides' own time per iteration, which shows in the wall time of
fits of models that evaluate in milliseconds.

:func:`dense_diagonals` swaps in :class:`Diagonal`, which has the algebra fides
uses (``dot``, ``*`` as the matrix product, ``+``, ``copy``, ``diagonal``), for
the duration of a run. The first use in a process runs a small bounded problem
both ways and keeps the swap only if the iterates agree to round-off (a fides
release that uses the matrices otherwise falls back to its own code).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

log = logging.getLogger(__name__)

# fides modules that construct the matrices (module attribute ``csc_matrix``)
_MODULES = ("fides.minimize", "fides.trust_region")


class Diagonal:
    """A diagonal matrix with the operations fides applies to its sparse ones.

    Parameters
    ----------
    values : ndarray, shape (n,)
        The diagonal.
    """

    __slots__ = ("d",)
    __array_ufunc__ = None  # ndarray <op> Diagonal defers to the reflected method

    def __init__(self, values: np.ndarray) -> None:
        self.d = np.asarray(values, dtype=float)

    @classmethod
    def from_dense(cls, matrix: np.ndarray) -> Diagonal:
        """The stand-in for ``csc_matrix(np.diag(v))`` (fides passes ``np.diag(v)``)."""
        return cls(np.diagonal(matrix).copy())

    def dot(self, v: np.ndarray) -> np.ndarray:
        """The product with a vector or a matrix."""
        v = np.asarray(v)
        return self.d * v if v.ndim == 1 else self.d[:, None] * v

    def __mul__(self, other: Diagonal | np.ndarray) -> Diagonal | np.ndarray:
        # the matrix product, as for scipy.sparse matrices
        if isinstance(other, Diagonal):
            return Diagonal(self.d * other.d)
        other = np.asarray(other)
        return self.d[:, None] * other if other.ndim == 2 else self.d * other

    def __rmul__(self, other: np.ndarray) -> np.ndarray:
        other = np.asarray(other)
        return other * self.d[None, :] if other.ndim == 2 else other * self.d

    def __add__(self, other: Diagonal | np.ndarray) -> Diagonal | np.ndarray:
        if isinstance(other, Diagonal):
            return Diagonal(self.d + other.d)
        return np.asarray(other) + np.diag(self.d)

    __radd__ = __add__

    def copy(self) -> Diagonal:
        """A copy."""
        return Diagonal(self.d.copy())

    def diagonal(self) -> np.ndarray:
        """The diagonal, shape (n,) (a copy)."""
        return self.d.copy()


_lock = threading.Lock()
_active = 0
_saved: list = []
_verdict: bool | None = None  # whether the swap reproduces fides here


def _swap(on: bool) -> None:
    import importlib

    if on:
        for name in _MODULES:
            mod = importlib.import_module(name)
            _saved.append((mod, mod.csc_matrix))
            mod.csc_matrix = Diagonal.from_dense
    else:
        while _saved:
            mod, original = _saved.pop()
            mod.csc_matrix = original


def _reproduces() -> bool:
    """Whether fides runs the same with the swap (a bounded test problem)."""
    import fides

    a = np.random.default_rng(0).standard_normal((12, 3))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        r = np.sin(a @ x) - 0.3
        jac = np.cos(a @ x)[:, None] * a
        return 0.5 * r @ r, jac.T @ r, jac.T @ jac

    def run() -> tuple:
        opt = fides.Optimizer(fun, ub=np.full(3, 1.0), lb=np.full(3, -1.0),
                              verbose=logging.ERROR, options={fides.Options.MAXITER: 50})
        opt.minimize(np.array([0.9, -0.8, 0.5]))
        return opt.x_min.copy(), opt.fval_min, opt.iteration

    try:
        ref = run()
        _swap(True)
        try:
            got = run()
        finally:
            _swap(False)
    except Exception:  # noqa: BLE001 - any difference means: keep fides as it is
        log.debug("fides with dense diagonals failed; using its own matrices", exc_info=True)
        return False
    return bool(got[2] == ref[2] and np.allclose(got[0], ref[0], rtol=1e-12, atol=1e-14)
                and abs(got[1] - ref[1]) <= 1e-12 * (1 + abs(ref[1])))


@contextmanager
def dense_diagonals() -> Iterator[bool]:
    """Run fides with :class:`Diagonal` matrices inside the block.

    Yields whether the swap is in effect (False where this fides release does
    not reproduce its own iterates with it).
    """
    global _active, _verdict
    with _lock:
        if _verdict is None:
            _verdict = _reproduces()
        use = _verdict
        if use:
            if _active == 0:
                _swap(True)
            _active += 1
    try:
        yield use
    finally:
        if use:
            with _lock:
                _active -= 1
                if _active == 0:
                    _swap(False)
