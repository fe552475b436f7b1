"""Experimental conditions as mutations, and the chain rule through them.

A condition is a list of :class:`Mutation` (target, op, value). A target's value
in a condition is its base value (model default or parameter table) with the
mutations applied in order; each value is a :class:`Quantity`, a small
expression over the free parameters theta that evaluates to its value and its
gradient d/dtheta. The operators follow the convention pin:

- ``=`` : the target is replaced; the base's column vanishes (only the new
  value's own dependence remains);
- ``*c``: factor c on the base's column, ``/c``: factor 1/c, ``+c``/``-c``: factor 1;
  where c is itself a free parameter, it brings its own column (product and
  quotient rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class MutationOp(StrEnum):
    """Operator of a condition mutation."""

    SET = "="
    MUL = "*"
    DIV = "/"
    ADD = "+"
    SUB = "-"


@dataclass(frozen=True)
class Mutation:
    """One change a condition makes to the model.

    Attributes
    ----------
    target : str
        Model parameter, species (initial value) or compartment id, or a
        problem-level symbol used in observable formulas.
    op : MutationOp
    value : float or str
        A number, or the id of a (free or fixed) problem parameter.
    """

    target: str
    op: MutationOp
    value: float | str


@dataclass(frozen=True)
class Condition:
    """A named experimental condition: its mutations, applied in order.

    ``duration`` matters only where the condition is a pre-equilibration
    phase: None (PEtab) runs it to steady state; a number runs it for that
    long (model time units), as a protocol's equilibration phase does.
    ``previous`` (pre-phases only) names the condition of the phase run just
    before this one, so that protocols of several phases form a chain; the
    first phase of a chain starts from the model's initial state.
    ``model`` names the model the condition runs on, a key of
    :attr:`~bngfit.problem.Problem.models` (None: the problem's first model);
    the phases of one protocol run on one model.
    """

    id: str
    mutations: tuple[Mutation, ...]
    duration: float | None = None
    previous: str | None = None
    model: str | None = None


class Quantity:
    """A value that may depend on theta; evaluates to (value, d value / d theta)."""

    deps: frozenset[int]

    def eval(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the value and its gradient, shape (n_theta,)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Quantity):
    """A number."""

    value: float
    deps: frozenset[int] = frozenset()

    def eval(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return self.value, np.zeros(theta.shape[0])


@dataclass(frozen=True)
class Theta(Quantity):
    """Free parameter number ``index``."""

    index: int

    @property
    def deps(self) -> frozenset[int]:
        return frozenset((self.index,))

    def eval(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(theta.shape[0])
        g[self.index] = 1.0
        return float(theta[self.index]), g


@dataclass(frozen=True)
class Apply(Quantity):
    """``base op operand`` for a non-assignment mutation."""

    op: MutationOp
    base: Quantity
    operand: Quantity

    @property
    def deps(self) -> frozenset[int]:
        return self.base.deps | self.operand.deps

    def eval(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, da = self.base.eval(theta)
        b, db = self.operand.eval(theta)
        if self.op is MutationOp.MUL:
            return a * b, b * da + a * db
        if self.op is MutationOp.DIV:
            # numpy floats: a zero divisor gives inf (the simulation then fails
            # and the evaluation says so), never a ZeroDivisionError
            a, b = np.float64(a), np.float64(b)
            with np.errstate(divide="ignore", invalid="ignore"):
                return float(a / b), da / b - (a / b**2) * db
        if self.op is MutationOp.ADD:
            return a + b, da + db
        if self.op is MutationOp.SUB:
            return a - b, da - db
        raise ValueError(f"not a combining operator: {self.op}")


def apply_mutation(base: Quantity, op: MutationOp, operand: Quantity) -> Quantity:
    """The target's quantity after one mutation."""
    if op is MutationOp.SET:
        return operand
    if isinstance(base, Const) and isinstance(operand, Const):
        return Const(Apply(op, base, operand).eval(np.zeros(0))[0])
    return Apply(op, base, operand)
