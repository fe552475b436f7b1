"""The plan stage: a problem compiled once into what each evaluation runs.

:func:`compile_plan` groups conditions into simulation experiments (phases,
sample grids, pre-equilibrations) and compiles observable formulas with their
placeholders into kernels.
"""

from bngfit import _compat

from ._compile import Experiment, Group, Plan, compile_plan

__all__ = ["Experiment", "Group", "Plan", "compile_plan"]

# bngfit 0.1's module bngfit.plan: its other names, deprecated
__getattr__ = _compat.old_names("plan", "plan._compile")
