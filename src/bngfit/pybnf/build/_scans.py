"""The simulations of an SBML or Antimony model's ``time_course`` and
``param_scan`` lines as conditions (part of the PyBNF builder core).

PyBNF simulates such a model only through these configuration lines
(``pybnf/pset.py``, ``SbmlModelNoTimeout.execute``): a ``time_course`` from the
model's initial state (mutant applied) to ``time``; a ``param_scan`` one run per
point, each from the initial state with the parameter (or a species' initial
value) set to the point's value, its last row kept. The points are
``numpy.linspace(min, max, n + 1)`` with ``n = round((max - min) / step)``;
PyBNF's SBML runner spaces them so even with ``logspace: 1`` (which only its
BNGL runner passes on), and bngfit runs what PyBNF runs. Each data row is
compared with the point of its value (:func:`match_rows`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._visualization import TIME_X, AxisScale, VisualizationRow
from bngfit.pybnf._exp import ExpTable
from bngfit.pybnf.bngl._scan import Scan
from bngfit.pybnf.conf._entries import ActionEntry, PybnfConfig

from ._models import Run
from ._protocol_conds import Measured, match_rows


def sbml_conditions(config: PybnfConfig, run: Run, muts: tuple[Mutation, ...],
                    info: ModelInfo, model: str) -> Measured:
    """The conditions of a data file of SBML model ``model`` (its action's).

    Raises
    ------
    InputError
        No action of the run's suffix; a scan of a name that is no parameter or
        species; data of the wrong kind for the action; a row that is no point.
    UnsupportedError
        Constraints on a scan.
    """
    action = _action(config, run, model)
    f = config.path
    if action.kind == "time_course":
        if run.table is not None and run.table.is_scan:
            raise InputError(f"the first column is '{run.table.x_name}', but the "
                             f"time_course of suffix '{run.suffix}' ({Path(f).name}, line "
                             f"{action.line}) is a time course: its data start with a time "
                             "column", file=run.table.path, row=run.table.header_line,
                             id=run.table.x_name)
        return Measured({run.name: Condition(run.name, muts, model=model)},
                        float(action.fields["time"]))
    scan = legacy_scan(action)
    name = scan.parameter
    if name not in info.parameters and name not in info.species:
        raise InputError(f"param_scan scans '{name}', which is no parameter or species of "
                         f"model '{model}'", file=f, row=action.line, id=name)
    if run.table is None:
        raise UnsupportedError(f"constraints (.prop) on the parameter scan '{run.name}' are "
                               "not supported; bngfit reads scan data from .exp files",
                               file=f, row=action.line, id=run.name)
    t = run.table
    if t.x_name not in (name, f"{name}_0"):
        raise InputError(f"the first column is '{t.x_name}', but the param_scan of suffix "
                         f"'{run.suffix}' ({Path(f).name}, line {action.line}) scans "
                         f"'{name}': its data start with a column of that name",
                         file=t.path, row=t.header_line, id=t.x_name)
    points = match_rows(t, scan, f"param_scan of {Path(f).name}, line {action.line}")
    conditions = {}
    for k in sorted(set(points)):
        cid = f"{run.name}__scan{k + 1}"
        conditions[cid] = Condition(
            cid, (*muts, Mutation(name, MutationOp.SET, float(scan.values[k]))), model=model)
    time = float(action.fields["time"])
    rows = tuple(("", f"{run.name}__scan{k + 1}") for k in points)
    points_sim = tuple((k, "", f"{run.name}__scan{k + 1}") for k in sorted(set(points)))
    return Measured(conditions, time, "", rows, time, scan, points_sim)


def legacy_scan(action: ActionEntry) -> Scan:
    """The points of a ``param_scan`` line, as PyBNF's SBML runner simulates them."""
    lo, hi = float(action.fields["min"]), float(action.fields["max"])
    step = float(action.fields["step"])
    n = int(np.round((hi - lo) / step))
    values = tuple(float(v) for v in np.linspace(lo, hi, n + 1))
    how = f"min {lo:g}, max {hi:g}, step {step:g}"
    if action.fields.get("logspace"):
        how += " (logspace: 1 ignored, as PyBNF's SBML runner does)"
    return Scan(str(action.fields["param"]), values, True, how)


def _action(config: PybnfConfig, run: Run, model: str) -> ActionEntry:
    """The ``time_course`` / ``param_scan`` line whose output ``run`` is compared with."""
    match = [a for a in config.actions if a.suffix == run.suffix
             and a.fields.get("model") in (None, model)]
    if not match:
        what = run.name if run.table is None else Path(run.table.path).name
        raise InputError(f"no time_course or param_scan with suffix '{run.suffix}' for "
                         f"{what}", file=config.path,
                         row=None if run.mutant is None else run.mutant.line, id=run.suffix)
    return match[0]


def experiment_scan(name: str, tables: list[ExpTable], muts: tuple[Mutation, ...],
                    info: ModelInfo, model: str, preeq: str, f: str, line: int
                    ) -> tuple[dict[str, Condition], list[tuple[tuple[str, str], ...]], str]:
    """The conditions of an edition-2 ``type: parameter_scan`` experiment.

    Each distinct value of the data's first column (the scanned parameter, or
    ``S_0`` for species S's initial value) is one simulation ``NAME__scanK``:
    the experiment's condition, then the parameter set to the value, run from
    the model's initial state (or the end of ``preeq``) for ``t_end``.

    Returns
    -------
    conditions : dict of str to Condition
    rows : list of tuple of (str, str)
        Per table, each row's (pre-phase, condition).
    target : str
        The model name the scan sets.

    Raises
    ------
    InputError
        Tables that scan different names, or a name that is no parameter or
        species of the model.
    """
    names = {t.x_name for t in tables}
    if len(names) != 1 or "time" in names:
        raise InputError(f"the data of parameter_scan experiment '{name}' must all start "
                         f"with the scanned parameter's column (found: "
                         f"{', '.join(sorted(names))})", file=f, row=line, id=name)
    x = names.pop()
    target = x if x in info.parameters or x in info.species else x.removesuffix("_0")
    if target not in info.parameters and target not in info.species:
        raise InputError(f"the data of experiment '{name}' scan '{x}', which is no "
                         "parameter or species of the model", file=tables[0].path,
                         row=tables[0].header_line, id=x)
    values = list(dict.fromkeys(float(v) for t in tables for v in t.time))
    cid = {v: f"{name}__scan{k + 1}" for k, v in enumerate(values)}
    conditions = {c: Condition(c, (*muts, Mutation(target, MutationOp.SET, v)), model=model)
                  for v, c in cid.items()}
    rows = [tuple((preeq, cid[float(v)]) for v in t.time) for t in tables]
    return conditions, rows, target


def data_plots(runs: list[tuple[str, ExpTable, str]]) -> tuple[VisualizationRow, ...]:
    """One model-fit panel per data file where a problem has parameter scans.

    A scan's panel is a dose-response plot over the scanned name (on a log
    axis where its values are positive and span two decades or more); a time
    course's, a plot over time. Without a scan, none (the default plots).

    Parameters
    ----------
    runs : list of (dataset id, table, scanned name or "")
    """
    if not any(scanned for _, _, scanned in runs):
        return ()
    out = []
    seen = set()
    for name, t, scanned in runs:
        if name in seen:  # a replicate table: the same dataset
            continue
        seen.add(name)
        x = np.asarray(t.time)
        wide = bool(scanned) and bool(np.all(x > 0)) and x.max() >= 100 * x.min()
        out.append(VisualizationRow(
            plot_id=name, plot_name=name, dataset_id=name, x_values=scanned or TIME_X,
            x_label=scanned or "time", x_scale=AxisScale.LOG10 if wide else AxisScale.LIN,
            legend_entry=name, file=t.path, row=t.header_line))
    return tuple(out)
