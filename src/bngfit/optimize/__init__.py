"""The optimize stage: local optimizers, races, start sampling, multistart, engines.

:func:`fit` runs a multistart fit on a process pool, sequentially or on Dask,
committing each start to a result store as it finishes.
"""

from ._executors import ExecutorName
from ._local import OptimizerName, minimize
from ._multistart import fit
from ._sampling import sample_starts
from ._settings import FitSettings

__all__ = ["ExecutorName", "FitSettings", "OptimizerName", "fit", "minimize", "sample_starts"]
