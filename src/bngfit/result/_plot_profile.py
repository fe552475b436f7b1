"""Profile-likelihood plots: one panel per parameter, and the intervals side by side.

``profiles.png``: each parameter's rise ``fval - fval_best`` against its value
(optimizer scale), the likelihood-ratio threshold as a dashed line and the
interval shaded; points where another parameter sits at a bound are drawn in
:data:`~bngfit.result._plot_style.FAILED_COLOR`. ``profile_intervals.png``:
every interval as a bar around its estimate, in units of the parameter's
optimizer scale, an open side drawn to the last point reached.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._plot_style import BEST_COLOR, FAILED_COLOR, plot_folder, save, style
from ._profile import ParameterProfile, ProfileResult

#: Panels per row of profiles.png.
COLUMNS = 3
PROFILE_FILES = ("profiles.png", "profile_intervals.png")


def _axis_label(p: ParameterProfile) -> str:
    return p.parameter if p.scale == "lin" else f"{p.scale}({p.parameter})"


def profiles_figure(result: ProfileResult) -> object:
    """The figure of every parameter's profile (see the module doc)."""
    n = len(result.profiles)
    rows = max(1, math.ceil(n / COLUMNS))
    cols = min(COLUMNS, max(n, 1))
    with style() as plt:
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
        for ax, p in zip(axes.flat, result.profiles, strict=False):
            _panel(ax, p, result.threshold, result.fval_best)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        # one legend for all panels, below them: every panel draws the same things
        handles: dict[str, object] = {}
        for ax in list(axes.flat)[:n]:
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, h)
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=len(handles), bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(f"Profile likelihoods ({result.alpha:g} confidence; threshold "
                     f"{result.threshold:.3g} above the best fval {result.fval_best:.6g})")
        fig.tight_layout()
    return fig


def _panel(ax: object, p: ParameterProfile, threshold: float, best: float) -> None:
    from matplotlib.ticker import MaxNLocator  # matplotlib is the plot extra: not at import

    pts = [q for q in p.points if np.isfinite(q.fval)]
    # the fit's best point (rise 0) joins the two directions
    x = np.array([q.value for q in pts] + [p.estimate])
    rise = np.array([q.fval for q in pts] + [best]) - best
    order = np.argsort(x, kind="stable")
    ax.plot(x[order], rise[order], "-", color=BEST_COLOR, lw=1.2, label="profile")
    ax.plot(x, rise, "o", color=BEST_COLOR, ms=3)
    flagged = [i for i, q in enumerate(pts) if q.at_bounds]
    if flagged:
        ax.plot(x[flagged], rise[flagged], "o", color=FAILED_COLOR, ms=4,
                label="another parameter at a bound")
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.axhline(threshold, color="0.3", ls="--", lw=1, label="threshold")
    lo = p.lower if p.lower is not None else (x.min() if x.size else p.estimate)
    hi = p.upper if p.upper is not None else (x.max() if x.size else p.estimate)
    ax.axvspan(lo, hi, color=BEST_COLOR, alpha=0.08, label="interval")
    ax.axvline(p.estimate, color="0.5", lw=0.8)
    ax.set_xlabel(_axis_label(p))
    ax.set_ylabel("fval - best fval")
    ax.set_title(f"{p.parameter}\n{p.profile_class.value.replace('_', ' ')}")


def intervals_figure(result: ProfileResult) -> object:
    """Every interval around its estimate, optimizer-scale units (see the module doc)."""
    n = len(result.profiles)
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.0, 0.45 * n + 1.2))
        for i, p in enumerate(result.profiles):
            values = [q.value for q in p.points if np.isfinite(q.fval)] or [p.estimate]
            lo = p.lower if p.lower is not None else min(values)
            hi = p.upper if p.upper is not None else max(values)
            color = BEST_COLOR if p.lower is not None and p.upper is not None \
                else FAILED_COLOR
            ax.plot([lo - p.estimate, hi - p.estimate], [i, i], color=color, lw=3)
            for end, side in ((p.lower, lo), (p.upper, hi)):
                if end is None:  # open: an arrow head at the last point reached
                    ax.plot(side - p.estimate, i, marker="<" if side < hi else ">",
                            color=color, ms=7)
            ax.plot(0.0, i, "o", color="0.2", ms=4)
        ax.set_yticks(range(n))
        ax.set_yticklabels([_axis_label(p) for p in result.profiles])
        ax.invert_yaxis()
        ax.axvline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("interval minus estimate (optimizer scale)")
        ax.set_title(f"{result.alpha:g} profile intervals (red: open on a side)")
        fig.tight_layout()
    return fig


def plot_profiles(result: ProfileResult, folder: Path) -> list[Path]:
    """Write :data:`PROFILE_FILES` into ``folder`` (created if missing); the files written.

    Raises
    ------
    InputError
        If ``folder`` cannot be created.
    """
    folder = plot_folder(folder)
    return [save(profiles_figure(result), folder / PROFILE_FILES[0]),
            save(intervals_figure(result), folder / PROFILE_FILES[1])]
