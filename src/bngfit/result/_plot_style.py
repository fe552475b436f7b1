"""What every plot shares: matplotlib off screen, one style, start clusters and their colours.

One look across all figures: the same sizes, fonts and resolution, legends
outside the data (beside or below, never over it), every axis labelled. The
starts of a multistart are grouped into clusters of final value
(:func:`cluster_starts`) so that the waterfall, the parameter plot and the
optimizer history colour the same start the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from bngfit.errors import InputError, MissingExtraError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ._types import StartResult

#: Resolution of the PNGs, dots per inch.
DPI = 100
#: Starts whose final values differ by at most this much (consecutive in the
#: sorted order) form one cluster: the same optimum reached again.
CLUSTER_TOL = 0.1
#: Added to ``fval - best`` on logarithmic axes, so that the best start shows.
LOG_OFFSET = 1e-3
#: Colour of the best cluster, and of the clusters behind it (repeated), of a
#: start alone in its cluster, and of failed starts.
BEST_COLOR = "#1f77b4"
CLUSTER_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                  "#17becf")
LONE_COLOR = "0.6"
FAILED_COLOR = "#d62728"

_RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "0.92",
    "grid.linewidth": 0.6, "legend.frameon": False, "savefig.dpi": DPI,
}


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` drawing off screen (MissingExtraError without matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("plots need matplotlib; install it with: "
                                "pip install 'bngfit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def style() -> Iterator[ModuleType]:
    """``pyplot`` with the shared style in force for the figures made inside."""
    plt = pyplot()
    with plt.rc_context(_RC):
        yield plt


def plot_folder(folder: str | Path) -> Path:
    """``folder``, created if missing (InputError naming it where it cannot be)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the plot folder: {err.strerror or err}",
                         file=str(folder)) from None
    return folder


def save(fig: object, path: Path) -> Path:
    """Write ``fig`` to ``path`` (legends outside the axes included) and close it."""
    plt = pyplot()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def legend_beside(ax: object, **kw: object) -> object:
    """A legend to the right of ``ax``, outside its data area."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


@dataclass(frozen=True)
class StartClusters:
    """Starts grouped by final value, best cluster first.

    Attributes
    ----------
    label : dict of int to int
        Start index -> cluster number (0: the best); failed starts (non-finite
        fval) have none.
    size : tuple of int
        Starts in each cluster.
    fval : tuple of float
        Lowest final value of each cluster.
    """

    label: dict[int, int]
    size: tuple[int, ...]
    fval: tuple[float, ...]

    def color(self, index: int) -> str:
        """Colour of start ``index``: its cluster's, grey when alone, red when failed."""
        c = self.label.get(index)
        if c is None:
            return FAILED_COLOR
        return cluster_color(c, self.size[c])

    def name(self, cluster: int) -> str:
        """Legend text of a cluster."""
        what = "best cluster" if cluster == 0 else f"cluster {cluster + 1}"
        return f"{what}: {self.size[cluster]} start(s), fval {self.fval[cluster]:.6g}"


def cluster_color(cluster: int, size: int) -> str:
    """Colour of cluster number ``cluster`` with ``size`` starts."""
    if cluster == 0:
        return BEST_COLOR
    if size < 2:
        return LONE_COLOR
    return CLUSTER_COLORS[(cluster - 1) % len(CLUSTER_COLORS)]


def cluster_starts(starts: Sequence[StartResult], tol: float = CLUSTER_TOL) -> StartClusters:
    """Group starts whose sorted final values lie within ``tol`` of their neighbour.

    Parameters
    ----------
    starts : sequence of StartResult
    tol : float, default :data:`CLUSTER_TOL`
        Largest gap in fval (objective units) between consecutive sorted
        starts of one cluster.

    Returns
    -------
    StartClusters
    """
    done = sorted((float(s.fval), s.index) for s in starts if np.isfinite(s.fval))
    label: dict[int, int] = {}
    size: list[int] = []
    fval: list[float] = []
    prev = None
    for f, i in done:
        if prev is None or f - prev > tol:
            size.append(0)
            fval.append(f)
        label[i] = len(size) - 1
        size[-1] += 1
        prev = f
    return StartClusters(label, tuple(size), tuple(fval))


def cluster_handles(clusters: StartClusters, n_failed: int = 0, *, marker: str = "o",
                    max_clusters: int = 6) -> list:
    """Legend handles of the clusters (the first ``max_clusters``; the rest in one entry)."""
    from matplotlib.lines import Line2D

    out = []
    for c in range(min(len(clusters.size), max_clusters)):
        out.append(Line2D([], [], color=cluster_color(c, clusters.size[c]), marker=marker,
                          ls="", ms=6, label=clusters.name(c)))
    rest = len(clusters.size) - max_clusters
    if rest > 0:
        n = sum(clusters.size[max_clusters:])
        out.append(Line2D([], [], color=LONE_COLOR, marker=marker, ls="", ms=6,
                          label=f"{rest} more cluster(s): {n} start(s)"))
    if n_failed:
        out.append(Line2D([], [], color=FAILED_COLOR, marker="x", ls="", ms=6,
                          label=f"failed: {n_failed} start(s)"))
    return out
