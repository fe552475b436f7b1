"""BNGL templates of PyBNF jobs: ``X__FREE`` binding and the actions as a protocol."""

from ._protocol import Phase, phases_for_data, protocol
from ._template import bind_free_parameters, free_parameters, parse_actions

__all__ = ["Phase", "bind_free_parameters", "free_parameters", "parse_actions",
           "phases_for_data", "protocol"]
