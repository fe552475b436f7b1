"""The model-fit plot: data and simulation, as the problem's visualization table says.

With a PEtab visualization table (:attr:`Problem.visualization`), one panel
per ``plotId``: its series (datasets or observables) against time or against
a condition input such as a dose, with the table's labels, scales, offsets,
plot types and legend entries. Without one, one panel per observable, the
experiments (pre-equilibration -> condition) as colours shared by all panels.
Either way each series has one legend entry (its data and its simulation in
one colour), legends sit outside the data, and every axis is labelled.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bngfit.problem import (
    TIME_X,
    AxisScale,
    PlotTypeData,
    PlotTypeSimulation,
    Problem,
    Transform,
    VisualizationRow,
    group_plots,
)

from ._plot_fit_data import Simulated, input_values, noise_bars, simulate, summarise
from ._plot_style import legend_beside, save, style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Experiments up to this many get the qualitative palette, more a colour map.
MAX_QUALITATIVE = 10
#: Observables whose data lie at one time in at least this many experiments are
#: drawn against the experiment (a dose-response without a table), not time.
MIN_CATEGORIES = 3


def _colors(plt: object, n: int) -> list:
    if n <= MAX_QUALITATIVE:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    return [plt.get_cmap("viridis")(v) for v in np.linspace(0.0, 0.92, n)]


def _ncol(n: int) -> int:
    """Columns of a grid of ``n`` panels (2 x 2 for four, at most three)."""
    return 2 if n in (2, 4) else min(3, n)


def _grid(plt: object, n: int, *, width: float, height: float = 3.0,
          extra: float = 0.0) -> tuple:
    """A grid of ``n`` panels of ``width`` x ``height`` inches, ``extra`` inches wider."""
    ncol = _ncol(n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol + extra, height * nrow),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _handle(color: object, marker: str = "o", ls: str = "-", label: str = "") -> object:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, marker=marker, ms=4, ls=ls, label=label)


def model_fit(problem: Problem, x: np.ndarray, path: Path, *, title: str = "") -> Path:
    """Write :func:`model_fit_figure` to ``path``."""
    return save(model_fit_figure(problem, x, title=title), path)


def model_fit_figure(problem: Problem, x: np.ndarray, *, title: str = "") -> Figure:
    """Data and simulation of ``problem`` at ``x`` (optimizer space, shape (n_x,)).

    Follows the problem's visualization table when it has one (see the
    module doc); ``title`` heads the figure (default: the fval at ``x``).
    """
    sim = simulate(problem, x)
    ev = sim.ev
    status = f"fval {ev.fval:.6g}" if ev.ok else f"simulation failed: {ev.message[:80]}"
    heading = f"{title or 'Model fit'} ({status})"
    with style() as plt:
        if problem.visualization:
            fig = _from_table(plt, problem, sim)
        else:
            fig = _default(plt, problem, sim)
        fig.suptitle(heading + "\nmarkers: data; lines (bars): simulation")
        return fig


# ------------------------------------------------------------------ default layout
def _experiments(problem: Problem) -> tuple[list[str], str]:
    """Each point's experiment name, and what all share (the one pre-equilibration)."""
    m = problem.measurements
    pre = set(m.preeq)
    if len(pre) == 1:  # one pre-equilibration (or none): said once, in the legend title
        only = pre.pop()
        return list(m.condition), f", pre-equilibrated in {only}" if only else ""
    return [f"{p} -> {c}" if p else c for p, c in zip(m.preeq, m.condition, strict=True)], ""


def _default(plt: object, problem: Problem, sim: Simulated) -> object:
    """One panel per observable, experiments as colours, one figure legend beside."""
    m = problem.measurements
    names_of, shared = _experiments(problem)
    exp = np.array(names_of, dtype=object)
    obs = np.array(m.observable, dtype=object)
    names = list(dict.fromkeys(exp))
    colors = dict(zip(names, _colors(plt, len(names)), strict=True))
    obs_ids = list(dict.fromkeys(m.observable))
    # about twelve entries a column per row of panels: the legend stays as tall as the grid
    n_rows = int(np.ceil(len(obs_ids) / _ncol(len(obs_ids))))
    ncol = int(np.ceil(len(names) / (12 * n_rows)))
    fig, axes = _grid(plt, len(obs_ids), width=4.0, extra=1.2 * ncol)
    for ax, oid in zip(axes, obs_ids, strict=True):
        sel = obs == oid
        transform = problem.observables[oid].transform
        t0 = m.time[sel][0]
        one_time = len(np.unique(m.time[sel])) == 1
        if one_time and (len(set(exp[sel])) >= MIN_CATEGORIES or not np.isfinite(t0)):
            _categorical(ax, problem, sim, sel, exp, colors)
            when = "at steady state" if not np.isfinite(t0) else f"all at t = {t0:g}"
            ax.set_xlabel(f"experiment ({when})")
        else:
            for e in dict.fromkeys(exp[sel]):
                _time_course(ax, problem, sim, sel & (exp == e), colors[e], transform)
            ax.set_xlabel("time")
        if transform is not Transform.LIN:
            ax.set_yscale("log")
        scale = "" if transform is Transform.LIN else f" ({transform.value} scale)"
        ax.set_ylabel(f"{oid}{scale}")
        ax.set_title(oid)
    handles = [_handle(colors[e], label=e) for e in names]
    # beside the first row's last panel: the layout makes room for it there, and
    # it cannot collide with the figure's title as a figure legend can
    top_right = axes[_ncol(len(axes)) - 1]
    legend_beside(top_right, handles=handles, ncol=ncol,
                  title=f"experiment ({len(names)}{shared})")
    return fig


def _time_course(ax: object, problem: Problem, sim: Simulated, sel: np.ndarray, color: object,
                 transform: Transform) -> None:
    """One experiment's data (noise-model bars) and trajectory of one observable."""
    m = problem.measurements
    t, y = m.time[sel], m.value[sel]
    ev = sim.ev
    bars = noise_bars(y, ev.sigma[sel], transform) if ev.ok else None
    ax.errorbar(t, y, yerr=bars, fmt="o", ms=3.5, color=color, alpha=0.85, elinewidth=0.8)
    i = int(np.flatnonzero(sel)[0])
    key = (m.observable[i], m.preeq[i], m.condition[i])
    if key in sim.curves:
        ax.plot(*sim.curves[key], "-", color=color, lw=1.2)
    elif ev.ok:
        order = np.argsort(t, kind="stable")
        ax.plot(t[order], ev.simulation[sel][order], "-", color=color, lw=1.2)


def _categorical(ax: object, problem: Problem, sim: Simulated, sel: np.ndarray,
                 exp: np.ndarray, colors: dict) -> None:
    """Data and simulation of an observable measured at one time, one x per experiment."""
    m = problem.measurements
    names = list(dict.fromkeys(exp[sel]))
    for k, e in enumerate(names):
        s = sel & (exp == e)
        bars = noise_bars(m.value[s], sim.ev.sigma[s],
                          problem.observables[m.observable[int(np.flatnonzero(s)[0])]].transform
                          ) if sim.ev.ok else None
        ax.errorbar(np.full(s.sum(), k), m.value[s], yerr=bars, fmt="o", ms=4,
                    color=colors[e], elinewidth=0.8)
        if sim.ev.ok:
            ax.plot([k - 0.3, k + 0.3], [sim.ev.simulation[s].mean()] * 2, "-",
                    color=colors[e], lw=2)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")


# ------------------------------------------------------------- visualization table
def _series_mask(problem: Problem, row: VisualizationRow) -> np.ndarray:
    m = problem.measurements
    sel = np.ones(len(m), dtype=bool)
    if row.y_values:
        sel &= np.array([o == row.y_values for o in m.observable])
    if row.dataset_id:
        ds = m.dataset_id or ("",) * len(m)
        sel &= np.array([d == row.dataset_id for d in ds])
    return sel


def _from_table(plt: object, problem: Problem, sim: Simulated) -> object:
    """One panel per plotId of the visualization table."""
    plots = group_plots(problem.visualization)
    fig, axes = _grid(plt, len(plots), width=4.8, height=3.2)
    for ax, (pid, rows) in zip(axes, plots.items(), strict=True):
        first = rows[0]
        colors = _colors(plt, len(rows))
        bars = first.plot_type_simulation is PlotTypeSimulation.BAR_PLOT
        notes = []
        for k, (row, color) in enumerate(zip(rows, colors, strict=True)):
            note = (_bar(ax, problem, sim, row, color, k) if bars
                    else _series(ax, problem, sim, row, color))
            if note:
                notes.append(note)
        if first.x_scale in (AxisScale.LOG, AxisScale.LOG10):
            ax.set_xscale("log")
        if first.y_scale in (AxisScale.LOG, AxisScale.LOG10):
            ax.set_yscale("log")
        scatter = first.plot_type_simulation is PlotTypeSimulation.SCATTER_PLOT
        if scatter:  # the diagonal, where simulation equals measurement
            lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
            hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--", zorder=0)
        xlabel = f"measurement: {first.y_label}" if scatter else first.x_label
        # what could not be drawn goes under the x label, where the layout makes room
        ax.set_xlabel("\n".join([xlabel, *notes]))
        ax.set_ylabel(f"simulation: {first.y_label}" if scatter else first.y_label or "value")
        name = first.plot_name or pid
        if bars:  # the series are named under their bars
            ax.set_title(name)
            ax.set_xticks(range(len(rows)), [_wrap(r.legend_entry) for r in rows],
                          rotation=45, ha="right")
        elif len(rows) == 1:  # one series: named in the title, no legend to crowd the panel
            entry = first.legend_entry
            ax.set_title(name if entry in ("", name) else f"{name}\n{_wrap(entry, 48)}")
        else:
            ax.set_title(name)
            legend_beside(ax, handles=[
                _handle(c, marker="o", ls="" if scatter else "-", label=_wrap(r.legend_entry))
                for r, c in zip(rows, colors, strict=True)])
    return fig


def _point_bars(problem: Problem, sel: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Noise-model bars (below, above) of the selected points, shape (2, n_sel)."""
    m = problem.measurements
    idx = np.flatnonzero(sel)
    out = np.empty((2, idx.size))
    for k, i in enumerate(idx):
        transform = problem.observables[m.observable[i]].transform
        out[:, k] = noise_bars(m.value[i:i + 1], sigma[i:i + 1], transform)[:, 0]
    return out


def _wrap(text: str, width: int = 28) -> str:
    """``text`` broken into lines of at most ``width`` characters (a legend stays narrow)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def _bar(ax: object, problem: Problem, sim: Simulated, row: VisualizationRow, color: object,
         k: int) -> str:
    """One series of a bar plot at x = ``k``: simulation as a bar, data as mean and bars."""
    sel = _series_mask(problem, row)
    if not sel.any():
        return f"{row.legend_entry}: no data"
    m = problem.measurements
    ys = m.value[sel] + row.y_offset
    _, py, err = summarise(np.zeros(ys.size), ys, row.plot_type_data,
                           _point_bars(problem, sel, sim.ev.sigma) if sim.ev.ok else None)
    if sim.ev.ok:
        ax.bar([k], [sim.ev.simulation[sel].mean() + row.y_offset], width=0.6, color=color,
               alpha=0.35)
    ax.errorbar(np.full(py.size, k), py, yerr=err, fmt="o", ms=4, color=color,
                elinewidth=0.8)
    return ""


def _series(ax: object, problem: Problem, sim: Simulated, row: VisualizationRow,
            color: object) -> str:
    """Draw one series; return a note on what could not be drawn (or "")."""
    m = problem.measurements
    ev = sim.ev
    sel = _series_mask(problem, row)
    if not sel.any():
        return f"{row.legend_entry}: no data"
    sigma = _point_bars(problem, sel, ev.sigma) if ev.ok else None
    simulated = ev.simulation[sel] if ev.ok else None
    if row.plot_type_simulation is PlotTypeSimulation.SCATTER_PLOT:
        if simulated is not None:
            ax.scatter(m.value[sel] + row.y_offset, simulated + row.y_offset, s=14,
                       color=color)
        return ""
    note = ""
    xs = input_values(problem, row.x_values)[sel] if row.dose_response else m.time[sel]
    if row.dose_response and np.isnan(xs).all():  # as the reader warned: against time
        note = f"{row.legend_entry}: no condition sets {row.x_values}, drawn against time"
        row = replace(row, x_values=TIME_X)
        xs = m.time[sel]
    xs = xs + row.x_offset
    ys = m.value[sel] + row.y_offset
    keep = np.isfinite(xs)
    log_x = row.x_scale in (AxisScale.LOG, AxisScale.LOG10)
    if log_x:
        bad = int((keep & (xs <= 0)).sum())
        keep &= xs > 0
        note = f"{row.legend_entry}: {bad} point(s) at x <= 0 not shown" if bad else note
    order_x = row.x_scale is AxisScale.ORDER
    ranks = {v: k for k, v in enumerate(np.unique(xs[keep]))}
    pos = np.array([ranks.get(v, np.nan) for v in xs]) if order_x else xs
    px, py, bars = summarise(pos[keep], ys[keep], row.plot_type_data,
                             None if sigma is None else sigma[:, keep])
    marker = "s" if row.plot_type_simulation is PlotTypeSimulation.BAR_PLOT else "o"
    ax.errorbar(px, py, yerr=bars, fmt=marker, ms=4, color=color, elinewidth=0.8, alpha=0.9)
    if order_x and ranks:
        ax.set_xticks(list(ranks.values()), [f"{v:g}" for v in ranks])
    if simulated is None:
        return note
    _simulation(ax, problem, sim, row, sel, pos, keep, simulated, color, log_x)
    return note


def _simulation(ax: object, problem: Problem, sim: Simulated, row: VisualizationRow,
                sel: np.ndarray, pos: np.ndarray, keep: np.ndarray, simulated: np.ndarray,
                color: object, log_x: bool) -> None:
    """The series' simulation: trajectories on a time axis, else at the data's x values."""
    m = problem.measurements
    if row.plot_type_simulation is PlotTypeSimulation.BAR_PLOT:
        sx, sy, _ = summarise(pos[keep], simulated[keep] + row.y_offset,
                              PlotTypeData.MEAN_AND_SD)
        ax.bar(sx, sy, width=0.6 * _spacing(sx), color=color, alpha=0.3, zorder=0)
        return
    if not row.dose_response and row.x_scale is not AxisScale.ORDER:
        keys = dict.fromkeys(zip(*(np.array(c, dtype=object)[sel] for c in (
            m.observable, m.preeq, m.condition)), strict=True))
        if all(tuple(k) in sim.curves for k in keys):
            for k in keys:
                t, y = sim.curves[tuple(k)]
                t = t + row.x_offset
                ok = t > 0 if log_x else np.ones(t.size, dtype=bool)
                ax.plot(t[ok], y[ok] + row.y_offset, "-", color=color, lw=1.2)
            return
    sx, sy, _ = summarise(pos[keep], simulated[keep] + row.y_offset, PlotTypeData.MEAN_AND_SD)
    ax.plot(sx, sy, "-", color=color, lw=1.2)


def _spacing(x: np.ndarray) -> float:
    d = np.diff(np.unique(x))
    return float(d.min()) if d.size else 1.0
