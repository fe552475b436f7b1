"""Qualitative constraints on model outputs, independent of any file format.

A :class:`Constraint` is an inequality between model outputs (or an output and
a number), enforced over a trajectory, with a penalty model: what PyBNF's
``.prop`` lines say (:mod:`bngfit.pybnf.bpsl._prop` reads them), and what
:mod:`bngfit.likelihood._penalties` scores. Nothing here reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

Operand = str | float
"""One side of an inequality: a series name, or a number."""


class Enforcement(Enum):
    """When an inequality is enforced."""

    AT = "at"
    ALWAYS = "always"
    ONCE = "once"
    BETWEEN = "between"
    ONCE_BETWEEN = "once between"


class PenaltyModel(Enum):
    """How a violation is scored (see :mod:`bngfit.likelihood._penalties`)."""

    STATIC = "static"
    LIKELIHOOD = "likelihood"


@dataclass(frozen=True)
class Inequality:
    """``lhs op rhs`` as written.

    Attributes
    ----------
    lhs, rhs : str or float
        Series names or numbers (at least one is a name).
    op : str
        One of ``<``, ``<=``, ``>``, ``>=``.
    """

    lhs: Operand
    op: str
    rhs: Operand

    @property
    def or_equal(self) -> bool:
        """Whether equality satisfies the inequality (``<=``, ``>=``)."""
        return self.op.endswith("=")

    @property
    def lesser(self) -> Operand:
        """The side that must be the smaller one."""
        return self.lhs if self.op.startswith("<") else self.rhs

    @property
    def greater(self) -> Operand:
        """The side that must be the larger one."""
        return self.rhs if self.op.startswith("<") else self.lhs

    @property
    def names(self) -> tuple[str, ...]:
        """The series names read, in order, without repeats."""
        return tuple(dict.fromkeys(q for q in (self.lhs, self.rhs) if isinstance(q, str)))

    def __str__(self) -> str:
        return f"{format_operand(self.lhs)}{self.op}{format_operand(self.rhs)}"


@dataclass(frozen=True)
class Condition:
    """A point of a trajectory: where quantity ``var`` crosses ``value``.

    Attributes
    ----------
    value : float
        The value to reach.
    var : str or None
        The quantity compared with ``value``; None for the independent
        variable (``at 6``). ``at time=6`` keeps ``"time"`` as written.
    everytime : bool
        ``at ... everytime``: enforce at every crossing, not just the first.
    before : bool
        ``at ... before``: use the sample just before the chosen one.
    """

    value: float
    var: str | None = None
    everytime: bool = False
    before: bool = False


@dataclass(frozen=True)
class Constraint:
    """One line of a ``.prop`` file.

    Attributes
    ----------
    ineq : Inequality
        The inequality to satisfy.
    enforcement : Enforcement
        When it is enforced.
    at : Condition or None
        For ``AT``: the point where both sides are read, or, in the split form
        ``A at C1 < B at C2``, the point of ``ineq.lhs``.
    rhs_at : Condition or None
        The split form only: the point of ``ineq.rhs``.
    start, end : Condition or None
        For ``BETWEEN`` and ``ONCE_BETWEEN``: the ends of the window.
    model : PenaltyModel
        Static (weight) or likelihood (confidence / pmin, pmax).
    weight : float
        Static model: multiplies the extent of violation (1 by default).
    min_penalty : float
        Static model: the least penalty (before weighting) of a violation.
    alt : Inequality or None
        Static model: ``altpenalty``, the inequality that measures a violation
        in place of ``ineq``.
    confidence : float or None
        Likelihood model, when given as ``confidence``.
    pmin, pmax : float or None
        Likelihood model: the probability of the constraint holding when it is
        clearly violated, and clearly satisfied.
    tolerance : float
        Likelihood model: standard deviation of the violation (0: a step).
    file : str
        The file read ("" when parsed from a string).
    line : int
        1-based line number in that file.
    text : str
        The line as written, stripped.
    """

    ineq: Inequality
    enforcement: Enforcement
    at: Condition | None = None
    rhs_at: Condition | None = None
    start: Condition | None = None
    end: Condition | None = None
    model: PenaltyModel = PenaltyModel.STATIC
    weight: float = 1.0
    min_penalty: float = 0.0
    alt: Inequality | None = None
    confidence: float | None = None
    pmin: float | None = None
    pmax: float | None = None
    tolerance: float = 0.0
    file: str = ""
    line: int = 0
    text: str = ""

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The conditions that locate the points read."""
        return tuple(c for c in (self.at, self.rhs_at, self.start, self.end) if c is not None)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the constraint reads, in order, without repeats.

        The operands, the altpenalty inequality's and the condition variables.
        """
        out = list(self.ineq.names)
        if self.alt is not None:
            out += self.alt.names
        out += [c.var for c in self.conditions if c.var is not None]
        return tuple(dict.fromkeys(out))


def format_operand(q: Operand) -> str:
    """An operand as written: a name as is, a number by its ``repr``."""
    return q if isinstance(q, str) else repr(q)
