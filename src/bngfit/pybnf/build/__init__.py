"""A PyBNF configuration to a :class:`~bngfit.problem.Problem` (both editions)."""

from ._problem import check_pybnf

__all__ = ["check_pybnf"]
