"""The PyBNF configuration language: keys, records, values, checks."""

from ._conf import read_conf
from ._entries import PybnfConfig

__all__ = ["PybnfConfig", "read_conf"]
