"""The optimize stage: local optimizers, races, start sampling, multistart, engines.

:func:`fit` runs a multistart fit on a process pool, sequentially or on Dask,
committing each start to a result store as it finishes; a progress callback
receives :class:`FitProgress` events while the starts run. :func:`bootstrap` refits
resampled data after a fit, for percentile intervals; :func:`profile` computes
profile likelihoods (likelihood-ratio intervals, identifiability classes).
"""

from ._bootstrap_run import bootstrap
from ._executors import ExecutorName
from ._local import OptimizerName, minimize
from ._multistart import fit
from ._profile import ProfileSteps
from ._profile_run import profile
from ._progress import FitProgress
from ._sampling import sample_starts
from ._settings import FitSettings

__all__ = ["ExecutorName", "FitProgress", "FitSettings", "OptimizerName", "bootstrap", "fit",
           "ProfileSteps", "minimize", "profile", "sample_starts"]
