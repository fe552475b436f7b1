"""The plots people expect from a multistart fit (matplotlib, an optional extra).

:func:`plot_all` writes four PNGs from a :class:`~bngfit.result._types.FitResult`:
the waterfall of sorted final values, the parameters of the best starts
within their bounds, the model fit (data and simulation per observable and
condition, re-simulated at the best point) and a heatmap of the gradient
checks.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np

from bngfit.errors import InputError, MissingExtraError
from bngfit.objective import Objective
from bngfit.problem import Measurements, Problem, load_problem

from ._types import FitResult

log = logging.getLogger(__name__)


def _pyplot() -> ModuleType:
    """``matplotlib.pyplot`` drawing off screen (MissingExtraError without matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("plots need matplotlib; install it with: "
                                "pip install 'bngfit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def waterfall(result: FitResult, path: Path) -> Path:
    """Final fval of every start, sorted, relative to the best (log axis)."""
    plt = _pyplot()
    f = np.array([s.fval for s in result.starts], dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    finite = np.isfinite(f)
    if finite.any():
        best = f[finite].min()
        shift = f[finite] - best + 1e-3  # offset so the best start shows on a log axis
        colors = np.where(shift <= 0.01 + 1e-3, "tab:green", "tab:blue")
        ax.scatter(np.arange(1, shift.size + 1), shift, c=colors, zorder=3)
        ax.plot(np.arange(1, shift.size + 1), shift, color="0.6", zorder=2)
        ax.set_yscale("log")
        ax.axhline(0.01 + 1e-3, color="tab:green", ls=":", lw=1, label="within 0.01 of best")
        ax.legend(loc="upper left", frameon=False)
    n_bad = int((~finite).sum())
    ax.set_xlabel("start (sorted by final value)")
    ax.set_ylabel(f"fval - best + 1e-3   (best = {result.best_fval:.6g})")
    title = f"Waterfall: {len(f)} starts, {result.optimizer}"
    if n_bad:
        title += f", {n_bad} failed"
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def parameters(result: FitResult, lb: np.ndarray, ub: np.ndarray, path: Path,
               n_show: int = 10) -> Path:
    """Parameters of the best starts between their bounds ``lb``, ``ub``.

    All values are in optimizer space; ``lb`` and ``ub`` have shape (n_x,).
    """
    plt = _pyplot()
    names = result.x_names
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(names) + 1.5))
    y = np.arange(len(names))
    starts = [s for s in result.starts if np.isfinite(s.fval)][:n_show]
    # an unbounded side is drawn to the edge of the starts' range
    span = np.array([s.x for s in starts] or [np.zeros(len(names))])
    lo = np.where(np.isfinite(lb), lb, span.min(axis=0) - 1.0)
    hi = np.where(np.isfinite(ub), ub, span.max(axis=0) + 1.0)
    ax.hlines(y, lo, hi, color="0.85", lw=6, label="bounds")
    cmap = plt.get_cmap("viridis")
    for k, s in enumerate(reversed(starts)):
        rank = len(starts) - 1 - k
        ax.plot(s.x, y, "o-", ms=4, lw=0.8, alpha=0.9,
                color="tab:red" if rank == 0 else cmap(rank / max(len(starts), 2)),
                label="best" if rank == 0 else None, zorder=3 if rank == 0 else 2)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("value (optimizer space: log10 / ln / lin as in the problem)")
    ax.set_title(f"Parameters of the best {len(starts)} starts")
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def dense_problem(problem: Problem, n_points: int = 101
                  ) -> tuple[Problem, list[tuple[tuple[str, str, str], np.ndarray]]]:
    """The problem with its measurements replaced by a fine time grid.

    For every (observable, pre-equilibration, condition) group of the data,
    ``n_points`` times from 0 to the group's last time, each with the
    overrides of the nearest measured time (overrides may be time-specific).
    Measurement values are placeholders (1.0): only simulations are used.

    Returns
    -------
    dense : Problem
    groups : list of (key, rows)
        Per group: its key (observable, pre-equilibration, condition) and the
        indices of its rows in ``dense``'s measurements, shape (n_points,).
    """
    m = problem.measurements
    keys = list(zip(m.observable, m.preeq, m.condition, strict=True))
    cols: dict[str, list] = {k: [] for k in ("obs", "pre", "cond", "t", "op", "np")}
    groups = []
    for key in dict.fromkeys(keys):
        idx = np.array([i for i, k in enumerate(keys) if k == key])
        grid = np.linspace(0.0, float(m.time[idx].max()) or 1.0, n_points)
        near = idx[np.abs(m.time[idx][None, :] - grid[:, None]).argmin(axis=1)]
        start = len(cols["t"])
        for t, i in zip(grid, near, strict=True):
            cols["obs"].append(key[0])
            cols["pre"].append(key[1])
            cols["cond"].append(key[2])
            cols["t"].append(float(t))
            cols["op"].append(m.observable_params[i])
            cols["np"].append(m.noise_params[i])
        groups.append((key, np.arange(start, len(cols["t"]))))
    n = len(cols["t"])
    dense = Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                         np.array(cols["t"]), np.ones(n), tuple(cols["op"]), tuple(cols["np"]),
                         tuple(range(n)))
    return replace(problem, measurements=dense), groups


def model_fit(problem: Problem, x: np.ndarray, path: Path) -> Path:
    """Data (with +-sigma bars) and simulation per observable and condition.

    ``x`` is the point simulated, optimizer space, shape (n_x,).
    """
    plt = _pyplot()
    ev = Objective(problem)(x, sensi=0)
    curves = {}
    if ev.ok:
        try:  # smooth trajectories; the data-point values stand in if this fails
            dense, groups = dense_problem(problem)
            dev = Objective(dense)(x, sensi=0)
            if dev.ok:
                curves = {key: (dense.measurements.time[rows], dev.simulation[rows])
                          for key, rows in groups}
        except Exception as err:  # noqa: BLE001 - a plot must not fail over the curves
            log.warning("no dense trajectories for the model-fit plot: %s", err)
    m = problem.measurements
    obs_ids = list(dict.fromkeys(m.observable))
    n = len(obs_ids)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    cond_key = [f"{p}->{c}" if p else c for p, c in zip(m.preeq, m.condition, strict=True)]
    conds = list(dict.fromkeys(cond_key))
    colors = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(conds)}
    for ax, oid in zip(axes.flat, obs_ids, strict=False):
        for c in conds:
            sel = np.array([o == oid and k == c for o, k in zip(m.observable, cond_key,
                                                                 strict=True)])
            if not sel.any():
                continue
            t = m.time[sel]
            order = np.argsort(t, kind="stable")
            sig = ev.sigma[sel] if ev.ok else None
            ax.errorbar(t, m.value[sel], yerr=sig, fmt="o", ms=3.5, color=colors[c],
                        alpha=0.8, label=f"{c} data")
            key = next(k for k in zip(m.observable, m.preeq, m.condition, strict=True)
                       if k[0] == oid and (f"{k[1]}->{k[2]}" if k[1] else k[2]) == c)
            if key in curves:
                ax.plot(*curves[key], "-", color=colors[c], label=f"{c} simulation")
            elif ev.ok:
                ax.plot(t[order], ev.simulation[sel][order], "-", color=colors[c],
                        label=f"{c} simulation")
        tr = problem.observables[oid].transform.value
        if tr != "lin":
            ax.set_yscale("log")
        ax.set_title(oid)
        ax.set_xlabel("time")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if len(conds) <= 8:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)),
                   frameon=False, fontsize="small")
    status = f"fval {ev.fval:.6g}" if ev.ok else f"simulation failed: {ev.message[:80]}"
    fig.suptitle(f"Model fit at the best start ({status})")
    fig.tight_layout(rect=(0, 0.08 if len(conds) <= 8 else 0, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def gradcheck_heatmap(result: FitResult, path: Path) -> Path | None:
    """log10 errors of the stored gradient checks (parameters x check points).

    The relative error at the start point; the absolute error at the best
    optimum, where the gradient vanishes and relative errors are noise.
    """
    tables = {k: t for k, t in result.gradchecks.items() if "rel_err" in t}
    metric = {k: "abs_err" if k == "best" else "rel_err" for k in tables}
    if not tables:
        return None
    plt = _pyplot()
    names = result.x_names
    cols = list(tables)
    data = np.full((len(names), len(cols)), np.nan)
    for j, c in enumerate(cols):
        t = tables[c]
        for i, n in enumerate(names):
            if n in t.index:
                data[i, j] = np.log10(max(float(t.loc[n, metric[c]]), 1e-16))
    fig, ax = plt.subplots(figsize=(2.2 + 1.4 * len(cols), 0.4 * len(names) + 1.6))
    im = ax.imshow(data, cmap="RdYlGn_r", vmin=-12, vmax=0, aspect="auto")
    for i in range(len(names)):
        for j in range(len(cols)):
            if np.isfinite(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), [f"at {c}\n({metric[c]})" for c in cols])
    ax.set_yticks(range(len(names)), names)
    fig.colorbar(im, ax=ax, label="log10 error")
    ax.set_title("Gradient check")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _fitted_problem(result: FitResult) -> Problem | None:
    """The problem the stored run fitted, or None (with a warning saying why).

    The plots that need it (parameter bounds, the model fit) are left out when
    its file is gone, no longer loads, or no longer has the fitted parameters;
    the others are still drawn.
    """
    problem_path = result.settings.get("problem")
    if not problem_path:
        log.warning("the store names no problem file: no parameter or model-fit plot")
        return None
    if not Path(problem_path).is_file():
        log.warning("problem file %s not found: no parameter or model-fit plot", problem_path)
        return None
    try:
        problem = load_problem(problem_path)
    except (InputError, MissingExtraError) as err:
        log.warning("problem file %s no longer loads (%s): no parameter or model-fit plot",
                    problem_path, err)
        return None
    if list(problem.x_names) != list(result.x_names):
        log.warning("%s no longer has the fitted parameters: no parameter or model-fit "
                    "plot", problem_path)
        return None
    return problem


def plot_all(result: FitResult, folder: Path, problem: Problem | None = None) -> list[Path]:
    """Write every plot into ``folder`` (created if missing); return the files written.

    Raises
    ------
    InputError
        If ``folder`` cannot be created.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the plot folder: {err.strerror or err}",
                         file=str(folder)) from None
    files = [waterfall(result, folder / "waterfall.png")]
    if problem is None:
        problem = _fitted_problem(result)
    if problem is not None and result.best is not None:
        files.append(parameters(result, problem.lb, problem.ub, folder / "parameters.png"))
        files.append(model_fit(problem, result.best.x, folder / "model_fit.png"))
    heat = gradcheck_heatmap(result, folder / "gradcheck.png")
    if heat is not None:
        files.append(heat)
    return files
