"""The result stage: what happened. Result types, the crash-safe SQLite store,
summaries and plots.
"""

from ._bootstrap import BootstrapResult, Replicate, ReplicateStatus
from ._plots import PLOT_FILES, plot_all
from ._profile import ParameterProfile, ProfileClass, ProfilePoint, ProfileResult, SideEnd
from ._store import Store, fingerprint, load_result
from ._store_bootstrap import load_bootstrap
from ._types import FitResult, StartResult, StartStatus

__all__ = ["PLOT_FILES", "BootstrapResult", "FitResult", "ParameterProfile", "ProfileClass",
           "ProfilePoint", "ProfileResult", "SideEnd", "Replicate", "ReplicateStatus",
           "StartResult", "StartStatus", "Store", "fingerprint", "load_bootstrap", "load_result",
           "plot_all"]
