"""The result stage: what happened. Result types, the crash-safe SQLite store,
summaries and plots.
"""

from ._plots import PLOT_FILES, plot_all
from ._store import Store, fingerprint, load_result
from ._types import FitResult, StartResult, StartStatus

__all__ = ["PLOT_FILES", "FitResult", "StartResult", "StartStatus", "Store", "fingerprint",
           "load_result", "plot_all"]
