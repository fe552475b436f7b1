"""The data of a PyBNF problem: observables, per-point sigma and measurements
from the ``.exp`` tables (part of the PyBNF builder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.problem._formulas import parse_formula
from bngfit.problem._problem import Measurements, NoiseFamily, Observable, Transform
from bngfit.pybnf.conf._conf import PybnfConfig
from bngfit.pybnf.conf._entries import Objfunc
from bngfit.pybnf._exp import ExpTable
from ._models import Run
from bngfit.simulate._engine import ModelInfo

# Objective functions whose noise parameter (scale, or negative-binomial
# dispersion) is a free parameter, and its name.
NOISE_PARAMETER = {Objfunc.CHI_SQ_DYNAMIC: "sigma__FREE", Objfunc.LAPLACE: "b__FREE",
                   Objfunc.NEG_BIN_DYNAMIC: "r__FREE"}
NEG_BIN_R_DEFAULT = 24.0  # PyBNF's default neg_bin_r


def time_course_end(config: PybnfConfig, run: Run, model: str) -> float:
    """The simulated span of a data file of SBML model ``model`` (its time_course)."""
    match = [a for a in config.actions if a.kind == "time_course" and a.suffix == run.suffix
             and a.fields.get("model") in (None, model)]
    if not match:
        what = run.name if run.table is None else Path(run.table.path).name
        raise InputError(f"no time_course with suffix '{run.suffix}' for {what}",
                         file=config.path,
                         row=None if run.mutant is None else run.mutant.line, id=run.suffix)
    return float(match[0].fields["time"])


# --------------------------------------------------------------- the data
def neg_bin_r(config: PybnfConfig) -> float:
    """The fixed negative-binomial dispersion (``neg_bin_r``, PyBNF's default 24)."""
    value, line = config.settings.get("neg_bin_r", (NEG_BIN_R_DEFAULT, None))
    try:
        r = float(value)
    except (TypeError, ValueError):
        r = float("nan")
    if not (np.isfinite(r) and r > 0):
        raise InputError("neg_bin_r must be a positive number", file=config.path, row=line,
                         id="neg_bin_r", value=str(value))
    return r


def data_observables(tables: list[ExpTable], info: ModelInfo, objfunc: Objfunc,
                 neg_bin_r: float = NEG_BIN_R_DEFAULT) -> dict[str, Observable]:
    """One observable per data column: the model output of that name.

    ``lognormal`` is Gaussian in log10 of the output (PyBNF's convention,
    prediction as the median); ``laplace`` is Laplace with scale ``b__FREE``;
    ``chi_sq_dynamic`` Gaussian with sigma ``sigma__FREE``; the others Gaussian
    with a per-point sigma (see :func:`_sigma`); ``neg_bin`` /
    ``neg_bin_dynamic`` negative binomial with the simulation as mean and
    dispersion ``neg_bin_r`` / ``r__FREE``.
    """
    noise = NOISE_PARAMETER.get(objfunc)
    transform = Transform.LOG10 if objfunc is Objfunc.LOGNORMAL else Transform.LIN
    family = NoiseFamily.LAPLACE if objfunc is Objfunc.LAPLACE else NoiseFamily.NORMAL
    shape: float | str | None = None
    if objfunc is Objfunc.SOD:
        # sum of |differences|: Laplace with scale 1, the same minimiser
        family, noise = NoiseFamily.LAPLACE, "1"
    if objfunc in (Objfunc.NEG_BIN, Objfunc.NEG_BIN_DYNAMIC):
        # mean = the simulation, dispersion r fixed (neg_bin_r) or r__FREE
        family = NoiseFamily.NEG_BINOMIAL
        shape = noise if noise is not None else float(neg_bin_r)
        noise = "1"  # the negative binomial has no separate scale
    out: dict[str, Observable] = {}
    for t in tables:
        for col in t.columns:
            if col in out:
                continue
            if info.selector(col) is None:
                raise InputError(
                    f"data column '{col}' is no observable, function or species of the "
                    "model", file=t.path, row=t.header_line, id=col)
            out[col] = Observable(
                col, parse_formula(col, file=t.path, row=t.header_line, id=col),
                parse_formula(noise or f"noiseParameter1_{col}"), transform, family,
                t.header_line, shape)
    return out


def point_sigma(t: ExpTable, col: str, objfunc: Objfunc, config: PybnfConfig) -> np.ndarray:
    """Noise scale of each row of a column under PyBNF's objective function."""
    values = t.values[col]
    if objfunc is Objfunc.SOS:
        return np.ones_like(values)
    if objfunc in (Objfunc.CHI_SQ, Objfunc.LOGNORMAL):
        if col not in t.sd:
            raise InputError(f"objfunc {objfunc.value} needs the standard deviations of "
                             f"'{col}' in a column '{col}_SD'", file=t.path,
                             row=t.header_line, id=col)
        if objfunc is Objfunc.LOGNORMAL:
            bad = np.nonzero(values <= 0.0)[0]
            if bad.size:
                raise InputError("objfunc lognormal needs positive data (it compares log10 "
                                 "values)", file=t.path, row=int(t.lines[bad[0]]), id=col,
                                 value=f"{values[bad[0]]:g}")
        return t.sd[col]
    if objfunc is Objfunc.NORM_SOS:
        zero = np.nonzero(values == 0.0)[0]
        if zero.size:
            raise InputError("objfunc norm_sos divides by the data value, which is 0 here",
                             file=t.path, row=int(t.lines[zero[0]]), id=col, value="0")
        return np.abs(values)
    mean = float(np.nanmean(values))
    if mean == 0.0:
        raise InputError("objfunc ave_norm_sos divides by the mean of the column, which is 0",
                         file=t.path, row=t.header_line, id=col)
    return np.full_like(values, abs(mean))


def data_measurements(runs: list[Run], t_end: dict[str, float], preeq: dict[str, str],
                  objfunc: Objfunc, config: PybnfConfig) -> Measurements:
    cols: dict[str, list] = {k: [] for k in ("obs", "pre", "cond", "t", "m", "np", "rows")}
    for run in runs:
        t, name = run.table, run.name
        late = np.nonzero(t.time > t_end[name])[0]
        if late.size:
            raise InputError(f"data at time {t.time[late[0]]:g} lie beyond the simulated "
                             f"span (t_end {t_end[name]:g})", file=t.path,
                             row=int(t.lines[late[0]]), value=f"{t.time[late[0]]:g}")
        for col in t.columns:
            dynamic = objfunc in NOISE_PARAMETER or objfunc in (Objfunc.NEG_BIN, Objfunc.SOD)
            sigma = None if dynamic else point_sigma(t, col, objfunc, config)
            for i in np.nonzero(~np.isnan(t.values[col]))[0]:
                cols["obs"].append(col)
                cols["pre"].append(preeq[name])
                cols["cond"].append(name)
                cols["t"].append(float(t.time[i]))
                cols["m"].append(float(t.values[col][i]))
                cols["np"].append(() if dynamic else (float(sigma[i]),))
                cols["rows"].append(int(t.lines[i]))
    n = len(cols["t"])
    if n == 0:
        raise InputError("the data files hold no data point", file=config.path)
    return Measurements(tuple(cols["obs"]), tuple(cols["pre"]), tuple(cols["cond"]),
                        np.array(cols["t"]), np.array(cols["m"]), ((),) * n,
                        tuple(cols["np"]), tuple(cols["rows"]))
