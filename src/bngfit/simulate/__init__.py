"""The simulate stage, the only importer of bngsim.

Loading models of every format (BNGL through filtered BNG2.pl runs, checked
``.net`` text, validated SBML and Antimony), reading their names
(:func:`read_model_info`), and running them with forward sensitivities
(:class:`Engine`). :data:`MODEL_ACCESS` is what readers are handed.
"""

from bngfit import _compat

from ._engine import Engine, SolverSettings
from ._models import MODEL_ACCESS, read_model_info

__all__ = ["MODEL_ACCESS", "Engine", "SolverSettings", "read_model_info"]

# bngfit 0.1's module bngfit.simulate: its other names, deprecated
__getattr__ = _compat.old_names("simulate", "simulate._engine")
