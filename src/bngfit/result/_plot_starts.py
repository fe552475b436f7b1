"""Plots of the starts of a multistart: waterfall, parameters, optimizer history.

All three colour a start by its cluster of final value
(:func:`~bngfit.result._plot_style.cluster_starts`), so that a cluster seen in
the waterfall can be found in the parameters it reached and in the history of
how it got there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bngfit.problem import Scale

from ._bounds import BoundSide, near_bounds
from ._plot_style import (
    BEST_COLOR,
    CLUSTER_TOL,
    FAILED_COLOR,
    LOG_OFFSET,
    cluster_handles,
    cluster_starts,
    legend_beside,
    save,
    style,
)
from ._types import FitResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Near-bound flag colour of a parameter's tick label.
BOUND_FLAG_COLOR = "#d62728"


def _shift(f: np.ndarray, best: float) -> np.ndarray:
    """``f - best + LOG_OFFSET``, for a logarithmic axis."""
    return np.asarray(f, dtype=float) - best + LOG_OFFSET


def waterfall(result: FitResult, path: Path) -> Path:
    """Write :func:`waterfall_figure` to ``path``."""
    return save(waterfall_figure(result), path)


def waterfall_figure(result: FitResult) -> Figure:
    """Final fval of every start, sorted, relative to the best, coloured by cluster.

    Failed starts (no finite final value) are counted in a band of their own
    at the right end.
    """
    clusters = cluster_starts(result.starts)
    done = sorted((s for s in result.starts if np.isfinite(s.fval)), key=lambda s: s.fval)
    failed = [s for s in result.starts if not np.isfinite(s.fval)]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
        if done:
            best = done[0].fval
            rank = np.arange(1, len(done) + 1)
            y = _shift([s.fval for s in done], best)
            ax.plot(rank, y, color="0.75", lw=1, zorder=1)
            ax.scatter(rank, y, c=[clusters.color(s.index) for s in done], s=28, zorder=3,
                       edgecolors="white", linewidths=0.4, gid="final-values")
            ax.scatter(rank[:1], y[:1], marker="*", s=160, c=BEST_COLOR, edgecolors="black",
                       linewidths=0.6, zorder=4)
            ax.set_yscale("log")
            # at least two decades: starts that all agree would otherwise get an axis
            # of 1e-8 wide with unreadable tick labels
            ax.set_ylim(LOG_OFFSET / 2, max(float(y.max()) * 2, 100 * LOG_OFFSET))
        if failed:
            x0 = len(done) + 1
            ax.axvspan(x0 - 0.5, x0 + len(failed) - 0.5, color=FAILED_COLOR, alpha=0.08, lw=0)
            top = ax.get_ylim()[1] if done else 1.0
            ax.scatter(np.arange(x0, x0 + len(failed)), np.full(len(failed), top),
                       marker="x", c=FAILED_COLOR, clip_on=False, zorder=3)
        ax.set_xlabel("start, sorted by final value")
        best_text = f"{result.best_fval:.6g}" if done else "none"
        ax.set_ylabel(f"fval - best + {LOG_OFFSET:g}\n(best fval = {best_text})")
        if len(done) + len(failed) <= 30:
            ax.set_xticks(np.arange(1, len(done) + len(failed) + 1))
        ax.set_title(f"Waterfall: {len(result.starts)} starts ({result.optimizer}), clusters "
                     f"within {CLUSTER_TOL:g} in fval")
        legend_beside(ax, handles=cluster_handles(clusters, len(failed)))
        return fig


def _scale_word(scale: Scale | str | None) -> str:
    return "lin" if scale is None else str(getattr(scale, "value", scale))


def parameters(result: FitResult, lb: np.ndarray, ub: np.ndarray, path: Path,
               n_show: int | None = None, *, scales: Sequence[Scale] | None = None) -> Path:
    """Write :func:`parameters_figure` to ``path``."""
    return save(parameters_figure(result, lb, ub, n_show, scales=scales), path)


def parameters_figure(result: FitResult, lb: np.ndarray, ub: np.ndarray,
                      n_show: int | None = None, *,
                      scales: Sequence[Scale] | None = None) -> Figure:
    """Start and final points of every start within the bounds, coloured by cluster.

    Parameters
    ----------
    result : FitResult
    lb, ub : ndarray, shape (n_x,)
        Bounds, optimizer space.
    n_show : int, optional
        Draw only the best ``n_show`` starts (default: all).
    scales : sequence of Scale, optional
        Each parameter's optimizer scale, named in its tick label.

    Notes
    -----
    Parameters the best start left at or within a tolerance of a bound
    (:func:`~bngfit.result._bounds.near_bounds`) have a red tick label and
    a triangle at that bound.
    """
    names = list(result.x_names)
    n = len(names)
    clusters = cluster_starts(result.starts)
    starts = [s for s in result.starts if np.isfinite(s.fval)]
    starts = starts[:n_show] if n_show else starts
    y = np.arange(n)
    span = np.array([s.x for s in starts] + [s.x0 for s in starts] or [np.zeros(n)])
    lo = np.where(np.isfinite(lb), lb, span.min(axis=0) - 1.0)
    hi = np.where(np.isfinite(ub), ub, span.max(axis=0) + 1.0)
    best = starts[0] if starts else None
    flagged = near_bounds(best.x, lb, ub, names) if best is not None else {}
    with style() as plt:
        fig, ax = plt.subplots(figsize=(7.0, 0.32 * n + 1.6), layout="constrained")
        ax.hlines(y, lo, hi, color="0.88", lw=7, zorder=0)
        ax.plot(lo, y, "|", color="0.45", ms=10)
        ax.plot(hi, y, "|", color="0.45", ms=10)
        for s in reversed(starts):  # the best drawn last, on top
            ax.scatter(s.x0, y, marker="o", s=10, color="0.5", alpha=0.45, zorder=1,
                       edgecolors="none")
            ax.plot(s.x, y, "-", color=clusters.color(s.index), lw=0.5, alpha=0.35, zorder=2)
            ax.scatter(s.x, y, s=18, color=clusters.color(s.index), alpha=0.85, zorder=3,
                       edgecolors="none", gid=f"final-{s.index}")
        if best is not None:
            ax.plot(best.x, y, "-", color=BEST_COLOR, lw=1.2, zorder=4)
            ax.scatter(best.x, y, marker="*", s=110, color=BEST_COLOR, edgecolors="black",
                       linewidths=0.5, zorder=5)
        for name, side in flagged.items():
            i = names.index(name)
            at = lo[i] if side is BoundSide.LOWER else hi[i]
            ax.scatter([at], [i], marker=">" if side is BoundSide.LOWER else "<", s=60,
                       color=BOUND_FLAG_COLOR, zorder=6)
        sc = list(scales) if scales is not None else [None] * n
        ax.set_yticks(y, [f"{nm} ({_scale_word(s)})" for nm, s in zip(names, sc, strict=True)])
        for label, name in zip(ax.get_yticklabels(), names, strict=True):
            if name in flagged:
                label.set_color(BOUND_FLAG_COLOR)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel("value in the parameter's optimizer scale (in brackets)")
        ax.set_ylabel("parameter (scale)")
        ax.set_title(f"Parameters: {len(starts)} start(s), start points faint")
        legend_beside(ax, handles=_parameter_handles(clusters, flagged))
        return fig


def _parameter_handles(clusters: object, flagged: dict[str, BoundSide]) -> list:
    from matplotlib.lines import Line2D

    out = [Line2D([], [], marker="*", color=BEST_COLOR, mec="black", ms=10, ls="-",
                  label="best start"),
           Line2D([], [], marker="o", ms=4, color="0.5", alpha=0.6, ls="",
                  label="start points (x0)"),
           Line2D([], [], color="0.88", lw=7, label="bounds"),
           *cluster_handles(clusters)]
    if flagged:
        out.append(Line2D([], [], marker=">", color=BOUND_FLAG_COLOR, ls="",
                          label=f"red: at or near a bound ({len(flagged)})"))
    return out


def history(result: FitResult, path: Path) -> Path:
    """Write :func:`history_figure` to ``path``."""
    return save(history_figure(result), path)


def history_figure(result: FitResult) -> Figure:
    """The objective over the evaluations of each start: best so far, every value faint.

    The y axis is ``fval - best + LOG_OFFSET`` on a log scale; failed
    evaluations (inf) are left out.
    """
    clusters = cluster_starts(result.starts)
    best = result.best_fval
    traces = [(s, np.asarray(s.trace, dtype=float)) for s in result.starts]
    finite = [t[np.isfinite(t)] for _, t in traces]
    low = min((float(t.min()) for t in finite if t.size), default=np.inf)
    ref = min(best, low) if np.isfinite(low) or np.isfinite(best) else 0.0
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
        drawn = 0
        for s, t in reversed(traces):  # the best drawn last, on top
            if not np.isfinite(t).any():
                continue
            k = np.arange(1, t.size + 1)
            ok = np.isfinite(t)
            color = clusters.color(s.index)
            ax.plot(k[ok], _shift(t[ok], ref), ".", ms=2, color=color, alpha=0.25)
            so_far = np.minimum.accumulate(np.where(ok, t, np.inf))
            keep = np.isfinite(so_far)
            ax.plot(k[keep], _shift(so_far[keep], ref), "-", lw=1.6 if s is result.best else 1,
                    color=color, alpha=0.9, gid=f"history-{s.index}")
            drawn += 1
        if drawn:
            ax.set_yscale("log")
            lo, hi = ax.get_ylim()  # at least two decades, as in the waterfall
            ax.set_ylim(min(lo, LOG_OFFSET / 2), max(hi, 100 * LOG_OFFSET))
        race = int(result.settings.get("race") or 1)
        ax.set_xlabel("objective evaluation of the start" + (
            f"\n(each start races {race} candidates one after another, then continues "
            "the best)" if race > 1 else ""))
        ax.set_ylabel(f"fval - best + {LOG_OFFSET:g}")
        ax.set_title(f"Optimizer history: best so far (lines), every evaluation (dots); "
                     f"{drawn} start(s)")
        n_failed = sum(1 for s in result.starts if not np.isfinite(s.fval))
        legend_beside(ax, handles=cluster_handles(clusters, n_failed, marker="s"))
        if not drawn:
            ax.text(0.5, 0.5, "no evaluations stored", transform=ax.transAxes, ha="center",
                    color=FAILED_COLOR)
        return fig
