"""The data of a PyBNF problem (both editions): the observable of a data column and
the measurements of ``.exp`` tables (part of the PyBNF builder core).

A data column is compared with the model output of its name (an edition-2
``observable:`` record may define a formula instead, see
:mod:`bngfit.pybnf.build._edition2`); each non-missing value of the column is one
measurement, with the noise scale its noise model gives it
(:func:`bngfit.pybnf.build._noise.point_sigma`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, Issue, UnsupportedError
from bngfit.problem._formulas import parse_formula
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._problem import Measurements, Observable
from bngfit.pybnf._exp import ExpTable
from bngfit.pybnf.conf._entries import Objfunc, PybnfConfig

from ._models import Run, time_course_end  # noqa: F401 - a 0.1.0 name of this module
from ._noise import (  # noqa: F401 - NEG_BIN_R_DEFAULT, NOISE_PARAMETER, neg_bin_r: 0.1.0
    NEG_BIN_R_DEFAULT,
    NOISE_PARAMETER,
    Noise,
    neg_bin_r,
    noise_for,
    noise_of_token,
    observable_noise,
    token_noise,
)
from ._noise import point_sigma as noise_point_sigma


@dataclass(frozen=True)
class DataRun:
    """One data table and the simulation it is compared with.

    Attributes
    ----------
    table : ExpTable
    condition : str
        The id of the measured condition.
    preeq : str
        The id of the condition run before it (empty: none).
    t_end : float or None
        The end of the simulated span, where the simulation's length is set
        by something other than the data (an action); None: the data's last
        time.
    rows : tuple of (str, str) or None
        A parameter scan's table: each row's (pre-phase, measured condition),
        which then replace ``preeq`` and ``condition``; every row is measured
        at ``scan_time``. None: a time course.
    scan_time : float
        A scan's measured time (``inf``: steady state).
    """

    table: ExpTable
    condition: str
    preeq: str = ""
    t_end: float | None = None
    rows: tuple[tuple[str, str], ...] | None = None
    scan_time: float = float("nan")


def column_observable(t: ExpTable, col: str, n: Noise, info: ModelInfo, f: str,
                      hint: str = "") -> Observable:
    """The observable of data column ``col``: the model output of that name.

    ``f`` is the configuration file (where the noise model ``n`` is written).

    Raises
    ------
    InputError
        ``col`` is no observable, function or species of the model (``hint``
        is added to the message).
    """
    if info.selector(col) is None:
        raise InputError(f"data column '{col}' is no observable, function or species of "
                         f"the model{hint}", file=t.path, row=t.header_line, id=col)
    formula = parse_formula(col, file=t.path, row=t.header_line, id=col)
    return observable_noise(col, formula, n, t.header_line, f)


def measurements(runs: list[DataRun], noise: dict[str | None, Noise], f: str
                 ) -> Measurements:
    """One measurement per non-missing value of each column of each run's table.

    Raises
    ------
    InputError
        Data beyond a run's simulated span (its ``t_end``); a value its noise
        model cannot take (see :func:`~bngfit.pybnf.build._noise.point_sigma`).
    UnsupportedError
        No data point at all (constraints alone are not fitted).
    """
    cols: dict[str, list] = {k: [] for k in ("obs", "pre", "cond", "t", "m", "np", "rows")}
    for run in runs:
        t = run.table
        if run.t_end is not None and run.rows is None:
            late = np.nonzero(t.time > run.t_end)[0]
            if late.size:
                raise InputError(f"data at time {t.time[late[0]]:g} lie beyond the simulated "
                                 f"span (t_end {run.t_end:g})", file=t.path,
                                 row=int(t.lines[late[0]]), value=f"{t.time[late[0]]:g}")
        for col in t.columns:
            sigma = noise_point_sigma(t, col, noise_for(noise, col))
            for i in np.nonzero(~np.isnan(t.values[col]))[0]:
                pre, cond = (run.preeq, run.condition) if run.rows is None else run.rows[i]
                cols["obs"].append(col)
                cols["pre"].append(pre)
                cols["cond"].append(cond)
                cols["t"].append(float(t.time[i]) if run.rows is None else run.scan_time)
                cols["m"].append(float(t.values[col][i]))
                cols["np"].append(() if sigma is None else (float(sigma[i]),))
                cols["rows"].append(int(t.lines[i]))
    # points are grouped by data file for the dose-response plots of scans
    cols["ds"] = [run.condition for run in runs for col in run.table.columns
                  for _ in np.nonzero(~np.isnan(run.table.values[col]))[0]]
    n = len(cols["t"])
    if n == 0:
        raise UnsupportedError("the data files hold no data point; bngfit fits data, with "
                               ".prop constraints as added terms (constraints alone are not "
                               "supported yet)", file=f, id="data")
    scans = any(run.rows is not None for run in runs)
    return Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                        np.array(cols["t"]), np.array(cols["m"]), ((),) * n,
                        tuple(cols["np"]), tuple(cols["rows"]),
                        dataset_id=tuple(cols["ds"]) if scans else ())


def nearest_times(t: ExpTable, grid: tuple[float, ...], config: PybnfConfig
                  ) -> tuple[ExpTable, tuple[Issue, ...]]:
    """``ind_var_rounding = 1``: each data time moved to the nearest simulated time.

    PyBNF (``pybnf/objective.py``) then compares a row with the simulation row
    closest to its time, and warns where that is more than 1 and 10% away;
    so does this, once per table, and it says how many times moved.

    Parameters
    ----------
    t : ExpTable
    grid : tuple of float
        The simulated output times, sorted.

    Returns
    -------
    table : ExpTable
        ``t`` with its times replaced.
    warnings : tuple of Issue
    """
    g = np.asarray(grid, dtype=float)
    if not g.size:
        return t, ()
    pos = np.searchsorted(g, t.time).clip(0, g.size - 1)
    prev = (pos - 1).clip(0)
    # the nearer of the two neighbours (the earlier on a tie)
    idx = np.where(np.abs(t.time - g[prev]) <= np.abs(g[pos] - t.time), prev, pos)
    new = g[idx]
    moved = np.nonzero(new != t.time)[0]
    if not moved.size:
        return t, ()
    diff = np.abs(new - t.time)
    far = np.nonzero((diff > 1.0) & (diff > 0.1 * np.abs(t.time)))[0]
    worst = int(np.argmax(diff))
    notes = [Issue("warning", f"ind_var_rounding = 1: {moved.size} data time(s) of "
                   f"{Path(t.path).name} compared with the nearest simulated time (the "
                   f"largest move {t.time[worst]:g} -> {new[worst]:g})", t.path,
                   int(t.lines[worst]), id="time", value=f"{t.time[worst]:g}",
                   affects_result=True)]
    if far.size:
        i = int(far[0])
        notes.append(Issue("warning", f"no simulated time near {t.time[i]:g}: the nearest "
                           f"is {new[i]:g}", t.path, int(t.lines[i]), id="time",
                           value=f"{t.time[i]:g}", affects_result=True))
    time = np.array(new)
    time.setflags(write=False)
    return dataclasses.replace(t, time=time), tuple(notes)


def data_warnings(tables: list[ExpTable]) -> tuple:
    """The warnings of reading the tables, in order."""
    return tuple(w for t in tables for w in t.warnings)



# ------------------------------------------------------------------ 0.1.0 names
# The objfunc-based helpers this module had in bngfit 0.1.0, kept for one release
# (tests/data/public_names_0.1.0.json); they go through the shared core.
def data_observables(tables: list[ExpTable], info: ModelInfo, objfunc: Objfunc,
                     r: float = NEG_BIN_R_DEFAULT) -> dict[str, Observable]:
    """One observable per data column of ``tables`` under objective token ``objfunc``.

    ``r`` is the dispersion of ``neg_bin``.
    """
    n = noise_of_token(objfunc, r)
    out: dict[str, Observable] = {}
    for t in tables:
        for col in t.columns:
            if col not in out:
                out[col] = column_observable(t, col, n, info, t.path)
    return out


def point_sigma(t: ExpTable, col: str, objfunc: Objfunc, config: PybnfConfig
                ) -> np.ndarray | None:
    """Each row's noise scale of a column under ``objfunc`` (None: estimated)."""
    return noise_point_sigma(t, col, token_noise(config, objfunc, "objfunc"))


def data_measurements(runs: list[Run], t_end: dict[str, float], preeq: dict[str, str],
                      objfunc: Objfunc, config: PybnfConfig) -> Measurements:
    """The measurements of edition-1 runs under objective token ``objfunc``."""
    data = [DataRun(r.table, r.name, preeq[r.name], t_end[r.name]) for r in runs]
    return measurements(data, {None: token_noise(config, objfunc, "objfunc")}, config.path)
