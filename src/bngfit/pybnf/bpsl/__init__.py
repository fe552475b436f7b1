"""The property language of PyBNF ``.prop``/``.con`` files (BPSL)."""

from ._prop import parse_constraint, read_prop

__all__ = ["parse_constraint", "read_prop"]
