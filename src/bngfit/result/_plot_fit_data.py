"""What the model-fit plot draws: the simulation at a point, smooth curves, x values.

:func:`simulate` evaluates the problem at a point once at the data and once
on a fine time grid per experiment (:func:`dense_problem`) for smooth
curves; :func:`input_values` gives each data point's value of a condition
input (the x of a dose-response plot); :func:`summarise` turns replicates into
means and bars as the visualization table's ``plotTypeData`` asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from bngfit.objective import Evaluation, Objective
from bngfit.problem import Measurements, MutationOp, PlotTypeData, Problem, Transform

log = logging.getLogger(__name__)

#: (observable, pre-equilibration, condition): one simulated experiment's output.
Key = tuple[str, str, str]


def dense_problem(problem: Problem, n_points: int = 101
                  ) -> tuple[Problem, list[tuple[Key, np.ndarray]]]:
    """The problem with its measurements replaced by a fine time grid.

    For every (observable, pre-equilibration, condition) group of the data,
    ``n_points`` times from 0 to the group's last finite time, each with the
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
        idx = np.array([i for i, k in enumerate(keys) if k == key and np.isfinite(m.time[i])])
        if idx.size == 0:  # steady-state data only: no trajectory to draw
            continue
        grid = np.linspace(0.0, float(m.time[idx].max()) or 1.0, n_points)
        near = idx[np.abs(m.time[idx][None, :] - grid[:, None]).argmin(axis=1)]
        start = len(cols["t"])
        for t, i in zip(grid, near, strict=True):
            for col, v in (("obs", key[0]), ("pre", key[1]), ("cond", key[2]), ("t", float(t)),
                           ("op", m.observable_params[i]), ("np", m.noise_params[i])):
                cols[col].append(v)
        groups.append((key, np.arange(start, len(cols["t"]))))
    n = len(cols["t"])
    dense = Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                         np.array(cols["t"]), np.ones(n), tuple(cols["op"]), tuple(cols["np"]),
                         tuple(range(n)))
    return replace(problem, measurements=dense), groups


@dataclass(frozen=True)
class Simulated:
    """The problem evaluated at one point, for drawing.

    Attributes
    ----------
    ev : Evaluation
        At the data points (``simulation`` and ``sigma`` have shape (n_meas,)
        when ``ev.ok``).
    curves : dict
        Key (observable, pre-equilibration, condition) -> (t, y), each of
        shape (n_points,): the smooth trajectory; empty when it failed.
    """

    ev: Evaluation
    curves: dict[Key, tuple[np.ndarray, np.ndarray]]


def simulate(problem: Problem, x: np.ndarray) -> Simulated:
    """Evaluate ``problem`` at ``x`` (optimizer space, shape (n_x,)), data and curves."""
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
    return Simulated(ev, curves)


def input_values(problem: Problem, input_id: str) -> np.ndarray:
    """Each data point's value of a condition input (NaN where its condition sets none).

    The value a point's simulation condition assigns to ``input_id`` (its
    last ``=`` mutation): a number, or a parameter's nominal value.

    Returns
    -------
    ndarray, shape (n_meas,)
    """
    nominal = {p.id: p.nominal for p in problem.parameters}
    per_condition = {}
    for cid, cond in problem.conditions.items():
        v = np.nan
        for mut in cond.mutations:
            if mut.target == input_id and mut.op is MutationOp.SET:
                v = mut.value if isinstance(mut.value, float | int) else nominal.get(
                    mut.value, np.nan)
        per_condition[cid] = float(v)
    return np.array([per_condition.get(c, np.nan) for c in problem.measurements.condition])


def noise_bars(value: np.ndarray, sigma: np.ndarray, transform: Transform
               ) -> np.ndarray:
    """Error bars of one noise-model sigma around ``value``, shape (2, n): below, above.

    A log-transformed observable's sigma is on the log scale: its bar spans
    ``value * exp(-+sigma)`` (``10**-+sigma`` for log10).
    """
    value, sigma = np.asarray(value, dtype=float), np.asarray(sigma, dtype=float)
    if transform is Transform.LIN:
        return np.vstack([sigma, sigma])
    base = np.e if transform is Transform.LOG else 10.0
    return np.vstack([value - value * base ** -sigma, value * base ** sigma - value])


def summarise(x: np.ndarray, y: np.ndarray, how: PlotTypeData, sigma: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Replicates at one x value made into one point with bars, as ``how`` asks.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
    how : PlotTypeData
        ``replicate`` keeps every point (no bars); ``provided`` keeps them with
        ``sigma`` as bars; ``MeanAndSD``/``MeanAndSEM`` give one mean per
        distinct x with the replicates' standard deviation / standard error.
    sigma : ndarray, shape (n,) or (2, n), optional
        Bars of ``provided`` (symmetric, or below and above).

    Returns
    -------
    x, y : ndarray, shape (m,)
        Sorted by x.
    bars : ndarray, shape (m,) or (2, m), or None
    """
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if how is PlotTypeData.REPLICATE:
        return x, y, None
    if how is PlotTypeData.PROVIDED:
        return x, y, None if sigma is None else np.asarray(sigma)[..., order]
    ux = np.unique(x)
    groups = [y[x == v] for v in ux]
    mean = np.array([g.mean() for g in groups])
    sd = np.array([g.std(ddof=1) if g.size > 1 else 0.0 for g in groups])
    if how is PlotTypeData.MEAN_AND_SEM:
        sd = sd / np.sqrt([g.size for g in groups])
    return ux, mean, sd if (sd > 0).any() else None
