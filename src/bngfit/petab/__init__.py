"""Reader 1: PEtab v1 problems (YAML + TSV tables) to a :class:`~bngfit.problem.Problem`,
and PEtab tables out (:func:`simulation_table`).

A reader imports only :mod:`bngfit.problem` and :mod:`bngfit.files`; it learns a
model's names through the :class:`~bngfit.problem.ModelAccess` it is handed.
"""

from ._read import check_petab
from ._simtable import simulation_table

__all__ = ["check_petab", "simulation_table"]
