"""Formulas compiled for vectorised evaluation over the rows of a plan group.

A formula's symbols get their per-row values from :class:`Operand` s (model
outputs read from the flat output vector of an evaluation, or numbers and free
parameters); :func:`compile_kernel` turns the formula into the value and the
partial derivatives it needs, once per formula. Split from :mod:`bngfit.plan`,
which builds the operands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import sympy as sp

from bngfit.problem._conditions import Quantity
from bngfit.problem._formulas import Formula
from bngfit.problem._mathfuncs import lambdify, prepare


class _ThetaColumns:
    """Where an operand's per-row values are free parameters (filled once, at construction)."""

    __slots__ = ("columns", "positions", "single")

    def __init__(self) -> None:
        self.positions = np.zeros(0, dtype=int)
        self.columns = np.zeros(0, dtype=int)
        self.single = -1

    def fill(self, theta_idx: np.ndarray) -> None:
        """Derive positions, columns and the single column from ``theta_idx``."""
        pos = np.nonzero(theta_idx >= 0)[0]
        self.positions = pos
        self.columns = theta_idx[pos]
        # One free parameter at every row (the usual scale or offset): plain
        # slicing instead of fancy indexing.
        single = (pos.size == theta_idx.size and pos.size
                  and np.all(self.columns == self.columns[0]))
        self.single = int(self.columns[0]) if single else -1


@dataclass(frozen=True)
class Operand:
    """How one formula symbol gets its values at the rows of a group.

    Either ``flat`` (model outputs: the index of each row's value in the flat
    concatenation of all experiments' output arrays), or a per-row value:
    ``const`` where ``theta_idx`` is -1, else free parameter ``theta_idx``,
    overridden at ``positions`` by general quantities.
    """

    flat: np.ndarray | None
    const: np.ndarray | None = None
    theta_idx: np.ndarray | None = None
    quantities: tuple[tuple[np.ndarray, Quantity], ...] = ()
    _columns: _ThetaColumns = field(default_factory=_ThetaColumns, init=False, repr=False,
                                    compare=False)

    def __post_init__(self) -> None:
        if self.flat is None:
            self._columns.fill(self.theta_idx)

    @property
    def theta_positions(self) -> np.ndarray:
        """Rows whose value is a free parameter, shape (k,) (empty for model outputs)."""
        return self._columns.positions

    @property
    def theta_columns(self) -> np.ndarray:
        """The free parameter (theta column) at each of :attr:`theta_positions`, shape (k,)."""
        return self._columns.columns

    @property
    def single_column(self) -> int:
        """The theta column every row takes, or -1 where the rows differ."""
        return self._columns.single

    @property
    def varies(self) -> bool:
        """Whether the values depend on theta."""
        if self.flat is not None:
            return True
        return bool(self.theta_positions.size) or any(q.deps for _, q in self.quantities)

    def values(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray | float:
        """Values at the rows, shape (n,), or one float where every row has it.

        Parameters
        ----------
        y : ndarray, shape (n_flat,)
            All experiments' outputs, flat.
        theta : ndarray, shape (n_theta,)
            Native values of the free parameters.

        Returns
        -------
        ndarray, shape (n,), or float
        """
        if self.flat is not None:
            return y[self.flat]
        cols = self._columns
        if not cols.positions.size and not self.quantities:
            return self.const
        if cols.single >= 0 and not self.quantities:
            # one value for all rows: broadcasts. A numpy float, not a Python
            # one: 1/p at p = 0 is then inf (an invalid evaluation), never a
            # ZeroDivisionError.
            return theta[cols.single]
        v = self.const.copy()
        v[cols.positions] = theta[cols.columns]
        for pos, q in self.quantities:
            v[pos] = q.eval(theta)[0]
        return v


class KernelKind(StrEnum):
    """How a formula is evaluated over the rows of a group (:data:`KERNEL_KINDS` says each)."""

    CONST = "const"
    NAME = "name"
    PRODUCT = "product"
    GENERAL = "general"

    @property
    def sentence(self) -> str:
        """What the kind means, for humans (from :data:`KERNEL_KINDS`)."""
        return KERNEL_KINDS[self]


KERNEL_KINDS: dict[KernelKind, str] = {
    KernelKind.CONST: "a number: the formula has no symbols",
    KernelKind.NAME: "one symbol: its values are read, no function is called",
    KernelKind.PRODUCT: "the product of two symbols: two multiplications",
    KernelKind.GENERAL: "compiled numpy functions for the value and the partials needed",
}


@dataclass(frozen=True)
class Kernel:
    """A formula compiled for evaluation over the rows of a group.

    ``kind`` (:class:`KernelKind`): ``CONST`` (``const`` is the value),
    ``NAME``, ``PRODUCT`` or ``GENERAL``: ``value_fn(*args)`` is the formula,
    ``partials_fn(*args)`` the list of its partial derivatives by the operands
    ``wrt`` (those that vary with theta), common subexpressions shared.
    """

    formula: Formula
    kind: KernelKind
    wrt: tuple[int, ...]
    const: float | None = None
    value_fn: Callable | None = None
    partials_fn: Callable | None = None
    warning_free: bool = True
    # numpy's printed ``logical_and.reduce((a, b))`` needs operands of one
    # shape: such kernels get every operand as an array of the group's rows.
    arrays: bool = False


_KERNELS: dict[tuple, Kernel] = {}


def _warning_free(expr: sp.Expr) -> bool:
    """Whether a formula (and so its partials) is a polynomial in its symbols.

    Sums, products and non-negative integer powers cannot divide by zero or
    leave a function's domain on finite input, so evaluating them needs no
    ``np.errstate`` guard (which costs microseconds per evaluation).
    """
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow):
            if not (node.exp.is_Integer and node.exp >= 0):
                return False
        elif isinstance(node, sp.Function) or not (node.is_Atom or node.is_Add
                                                   or node.is_Mul):
            return False
    return True


def compile_kernel(formula: Formula, wrt: tuple[int, ...]) -> Kernel:
    """Compile (once per formula and ``wrt``) the value and needed partials."""
    key = (formula.text, formula.symbols, str(formula.expr), wrt)
    k = _KERNELS.get(key)
    if k is not None:
        return k
    expr = formula.expr
    syms = [sp.Symbol(n) for n in formula.symbols]
    if not syms:
        # numpy evaluates the constant exactly as the formula's own function does
        value = lambdify([], prepare(expr))()
        k = Kernel(formula, KernelKind.CONST, wrt, const=float(np.asarray(value, dtype=float)))
    elif len(syms) == 1 and expr == syms[0]:
        k = Kernel(formula, KernelKind.NAME, wrt)
    elif len(syms) == 2 and expr == syms[0] * syms[1]:
        # A scaling factor times an output, the commonest observable: two
        # multiplications instead of two generated-function calls.
        k = Kernel(formula, KernelKind.PRODUCT, wrt)
    else:
        # abs, sign, min, max in forms with numpy derivatives (subgradients at kinks)
        real = prepare(expr)
        value_fn = lambdify(syms, real)
        partials_fn = None
        if wrt:
            partials_fn = lambdify(syms, [sp.diff(real, syms[j]) for j in wrt], cse=True)
        k = Kernel(formula, KernelKind.GENERAL, wrt, value_fn=value_fn, partials_fn=partials_fn,
                   warning_free=_warning_free(expr),
                   arrays=real.has(sp.And, sp.Or, sp.Xor))
    _KERNELS[key] = k
    return k


@dataclass(frozen=True)
class FormulaEval:
    """One formula over the rows of a group: kernel and operands."""

    kernel: Kernel
    operands: tuple[Operand, ...]
    n: int

    def evaluate(self, y: np.ndarray, dy: np.ndarray | None,
                 theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Value (n,) and, with ``dy``, d value / d theta (n, n_theta).

        ``y`` (flat outputs of all experiments) and ``dy`` (their derivatives,
        shape (n_flat, n_theta)) are read through the operands. Call under
        ``np.errstate(all="ignore")``. The returned arrays may be shared: read
        them, do not write to them.
        """
        k = self.kernel
        n = self.n
        if k.kind is KernelKind.CONST:
            return np.full(n, k.const), (None if dy is None else np.zeros((n, theta.size)))
        args = [op.values(y, theta) for op in self.operands]
        if k.arrays:
            args = [np.broadcast_to(a, (n,)) for a in args]
        if k.kind is KernelKind.NAME:
            value = args[0]
            if not isinstance(value, np.ndarray):
                value = np.full(n, value)
        elif k.kind is KernelKind.PRODUCT:
            value = args[0] * args[1]
        else:
            value = k.value_fn(*args)
        if not (isinstance(value, np.ndarray) and value.shape == (n,)
                and value.dtype == np.float64):
            value = np.full(n, value, dtype=float)
        if dy is None:
            return value, None
        if not k.wrt:
            return value, np.zeros((n, theta.size))
        if k.kind is KernelKind.PRODUCT:
            partials = [args[1 - j] for j in k.wrt]
        else:
            partials = (1.0,) if k.partials_fn is None else k.partials_fn(*args)
        grad = None
        for j, p in zip(k.wrt, partials, strict=True):
            op = self.operands[j]
            if not (isinstance(p, np.ndarray) and p.shape == (n,)):
                # A partial that is the same at every row stays a scalar.
                p = float(p) if np.ndim(p) == 0 else np.broadcast_to(p, (n,)).astype(float)
            if op.flat is not None:
                term = (p if isinstance(p, float) else p[:, None]) * dy[op.flat]
                if grad is None:
                    grad = term
                else:
                    grad += term
            else:
                if grad is None:
                    grad = np.zeros((n, theta.size))
                _add_param_grad(op, grad, p, theta)
        return value, grad


def _add_param_grad(op: Operand, grad: np.ndarray, p: np.ndarray | float,
                    theta: np.ndarray) -> None:
    """Add ``p * d operand / d theta`` to ``grad`` (n, n_theta); ``p`` per row or one float."""
    if op.single_column >= 0:
        grad[:, op.single_column] += p
    elif op.theta_positions.size:
        pos = op.theta_positions
        grad[pos, op.theta_columns] += p if isinstance(p, float) else p[pos]
    for pos, q in op.quantities:
        if q.deps:
            pp = p if isinstance(p, float) else p[pos, None]
            grad[pos] += pp * q.eval(theta)[1][None, :]
