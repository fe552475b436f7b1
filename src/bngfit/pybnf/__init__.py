"""Reader 2: PyBNF configurations (``.conf`` + ``.exp`` + ``.prop``/``.con``),
editions 1 and 2, to a :class:`~bngfit.problem.Problem`.

:mod:`~bngfit.pybnf.conf` reads the configuration language, :mod:`._exp` the
data tables, :mod:`~bngfit.pybnf.bpsl` the property language of ``.prop`` files,
:mod:`~bngfit.pybnf.bngl` binds BNGL templates and replays their actions, and
:mod:`~bngfit.pybnf.build` turns a configuration into a problem (with the run
settings the job asks for, :mod:`bngfit.pybnf.build._settings`), and
:mod:`._results` writes a fit's results in PyBNF's shapes.
"""

from ._results import result_files, write_results
from .build import check_pybnf

__all__ = ["check_pybnf", "result_files", "write_results"]
