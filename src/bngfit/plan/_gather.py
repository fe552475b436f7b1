"""How the per-measurement vectors of an evaluation are read (part of the plan).

Every formula symbol of a group reads its values at the group's rows from
one of three sources: the flat outputs of all experiments (a model output),
theta (a free parameter), or a constant; :class:`OperandBuilder` collects
these over the experiments and builds the :class:`Operand` of a compiled
formula. For the observables ``h`` and the noise scales ``sigma`` at every
measurement, :func:`gather` then sorts the formulas once by how cheaply they
are filled: constants into a template, plain outputs and parameters into one
index gather each, and only the rest evaluated per call (:class:`Gather`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.observe import compile_kernel
from bngfit.observe._kernels import FormulaEval, Operand
from bngfit.problem import Formula
from bngfit.problem._conditions import Quantity, Theta


class OperandBuilder:
    """Collects one symbol's per-row sources over the blocks of a group.

    Blocks are added in row order: model outputs (flat indices), or values
    (constants, free parameters, quantities of theta).
    """

    def __init__(self) -> None:
        self.flat: list[np.ndarray] = []
        self.const: list[np.ndarray] = []
        self.tidx: list[np.ndarray] = []
        self.quantities: list[tuple[np.ndarray, Quantity]] = []
        self.n = 0

    def add_out(self, flat: np.ndarray) -> None:
        """Rows read from the flat outputs at ``flat``, shape (n,)."""
        self.flat.append(flat)
        self.n += flat.size

    def add_values(self, const: np.ndarray, tidx: np.ndarray) -> None:
        """Rows of constants ``const``, or of theta's column ``tidx`` where it is not -1."""
        self.const.append(const)
        self.tidx.append(tidx)
        self.n += const.size

    def add_quantity(self, q: Quantity, n: int) -> None:
        """``n`` rows with the value of ``q``."""
        if isinstance(q, Theta):
            self.add_values(np.zeros(n), np.full(n, q.index, dtype=int))
        elif not q.deps:
            self.add_values(np.full(n, float(q.eval(np.zeros(0))[0])),
                            np.full(n, -1, dtype=int))
        else:
            self.quantities.append((np.arange(self.n, self.n + n), q))
            self.add_values(np.zeros(n), np.full(n, -1, dtype=int))

    def build(self, symbol: str, observable: str) -> Operand:
        """The operand of ``symbol`` (of ``observable``, for messages).

        Raises
        ------
        UnsupportedError
            The symbol is a model output in some rows and a value in others.
        """
        if self.flat:
            if self.const:  # only with several models: one's output, another's parameter
                raise UnsupportedError(
                    f"'{symbol}' is a model output in one condition and a parameter in "
                    "another (of another model); bngfit reads a formula symbol one way",
                    id=observable, value=symbol)
            return Operand(np.concatenate(self.flat))
        return Operand(None, np.concatenate(self.const), np.concatenate(self.tidx),
                       tuple(self.quantities))


def formula_eval(formula: Formula, builders: list[OperandBuilder], n: int,
                 observable: str) -> FormulaEval:
    """``formula`` compiled over ``n`` rows, its symbols read through ``builders``."""
    operands = tuple(b.build(sym, observable)
                     for sym, b in zip(formula.symbols, builders, strict=True))
    wrt = tuple(j for j, op in enumerate(operands) if op.varies)
    return FormulaEval(compile_kernel(formula, wrt), operands, n)


@dataclass(frozen=True)
class Gather:
    """How one per-measurement vector (``h`` or ``sigma``) and its derivatives are filled.

    Attributes
    ----------
    values : ndarray, shape (n_meas,)
        Template: the constants (read-only).
    derivs : ndarray, shape (n_meas, n_theta)
        Template of the derivatives: 1 where a row is a free parameter
        (read-only).
    out_rows, out_flat : ndarray of int
        Rows that are a model output, and where it is in the flat outputs.
    par_rows, par_cols : ndarray of int
        Rows that are a free parameter, and its column of theta.
    general : tuple of (ndarray, FormulaEval)
        Rows computed by a formula per call.
    warning_free : bool
        Whether no general formula can warn (division by zero, ...).
    """

    values: np.ndarray
    derivs: np.ndarray
    out_rows: np.ndarray
    out_flat: np.ndarray
    par_rows: np.ndarray
    par_cols: np.ndarray
    general: tuple[tuple[np.ndarray, FormulaEval], ...]
    warning_free: bool

    def fill(self, y: np.ndarray, dy: np.ndarray | None, theta: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray | None]:
        """The vector, shape (n_meas,), and its derivatives, shape (n_meas, n_theta).

        Parameters
        ----------
        y : ndarray, shape (n_flat,)
            All experiments' outputs, flat.
        dy : ndarray, shape (n_flat, n_theta), or None
            Their derivatives (None: values only, and None returned for them).
        theta : ndarray, shape (n_theta,)
            Free parameters, native values.
        """
        v = self.values.copy()
        # Derivatives that are the same at every evaluation (constants, plain
        # parameters) are the read-only template itself: no copy.
        varying = self.out_rows.size or self.general
        d = None if dy is None else (self.derivs.copy() if varying else self.derivs)
        if self.out_rows.size:
            v[self.out_rows] = y[self.out_flat]
            if d is not None:
                d[self.out_rows] = dy[self.out_flat]
        if self.par_rows.size:
            v[self.par_rows] = theta[self.par_cols]
        for rows, fe in self.general:
            gv, gd = fe.evaluate(y, dy, theta)
            v[rows] = gv
            if d is not None:
                d[rows] = gd
        return v, d


def gather(parts: Iterable[tuple[np.ndarray, FormulaEval]], n: int, n_theta: int) -> Gather:
    """Sort the formulas of a per-measurement vector by how they are filled.

    Parameters
    ----------
    parts : iterable of (ndarray, FormulaEval)
        Rows of the vector and the formula that gives them, one per group.
    n : int
        Length of the vector (the number of measurements).
    n_theta : int
        Number of free parameters.

    Returns
    -------
    Gather
    """
    values = np.zeros(n)
    derivs = np.zeros((n, n_theta))
    out_rows: list[np.ndarray] = []
    out_flat: list[np.ndarray] = []
    par_rows: list[np.ndarray] = []
    par_cols: list[np.ndarray] = []
    general: list[tuple[np.ndarray, FormulaEval]] = []
    for rows, fe in parts:
        if fe.kernel.kind == "const":
            values[rows] = fe.kernel.const
            continue
        op = fe.operands[0]
        if fe.kernel.kind in ("general", "product") or op.quantities:
            general.append((rows, fe))
        elif op.flat is not None:
            out_rows.append(rows)
            out_flat.append(op.flat)
        else:
            tpos = np.nonzero(op.theta_idx >= 0)[0]  # rows that are a free parameter
            tcol = op.theta_idx[tpos]
            values[rows] = op.const
            par_rows.append(rows[tpos])
            par_cols.append(tcol)
            derivs[rows[tpos], tcol] = 1.0
    for a in (values, derivs):
        a.setflags(write=False)
    return Gather(values, derivs, _cat(out_rows), _cat(out_flat), _cat(par_rows),
                  _cat(par_cols), tuple(general),
                  all(fe.kernel.warning_free for _, fe in general))


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    """The index arrays joined (an empty int array for none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=int)
