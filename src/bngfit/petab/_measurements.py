"""The PEtab measurement table: data points and their placeholder overrides."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bngfit.files import too_many_points
from bngfit.problem import Condition, Measurements, Observable, Transform

from ._cells import ID, Issues, also_lines, cell_number, cell_value, read_table, records
from ._observables import n_placeholders

_REQUIRED = ["observableId", "simulationConditionId", "time", "measurement"]


def read_measurements(paths: list[Path], issues: Issues, observables: dict[str, Observable],
                      declared_obs: set[str] | None, conditions: dict[str, Condition] | None,
                      param_ids: set[str] | None) -> Measurements:
    """Read the measurement table(s).

    Parameters
    ----------
    paths : list of Path
        The tables, in the problem file's order.
    issues : Issues
        Where problems are reported.
    observables : dict
        Observable id -> Observable, the observables without errors.
    declared_obs, param_ids : set of str or None
        Every observable id and every parameter id of their tables; None: that
        table could not be read, and ids that would refer to it are not checked.
    conditions : dict or None
        Condition id -> Condition (None: as above).

    Returns
    -------
    Measurements
        The rows without errors. Unknown ids are reported once per id, with
        the lines where they occur.
    """
    reader = _MeasurementReader(issues, observables, declared_obs, conditions, param_ids)
    for path in paths:
        df = read_table(path, issues, _REQUIRED)
        if df is None:
            continue
        f = str(path)
        if df.empty:
            issues.error("measurement table has no data rows", f, df.attrs["header_line"] + 1)
        for line, r in records(df):
            reader.row(r, f, line)
    _check_sample_counts(reader.cols, paths, issues)
    reader.report_unknown()
    return reader.measurements()


class _MeasurementReader:
    """Checks measurement rows one by one and collects the good ones by column."""

    def __init__(self, issues: Issues, observables: dict[str, Observable],
                 declared_obs: set[str] | None, conditions: dict[str, Condition] | None,
                 param_ids: set[str] | None) -> None:
        self.issues = issues
        self.observables = observables
        self.declared_obs = declared_obs
        self.conditions = conditions
        self.param_ids = param_ids
        self.cols: dict[str, list] = {k: [] for k in ("observable", "preeq", "condition",
                                                      "time", "value", "op", "np", "rows",
                                                      "dataset")}
        # (file, column, id) -> lines where an id of no table occurs
        self.unknown: dict[tuple[str, str, str], list[int]] = {}

    def row(self, r: dict[str, str], f: str, line: int) -> None:
        """Check one row; keep it if it has no error."""
        oid = r["observableId"]
        obs = self.observables.get(oid)
        bad = self._observable_ref(oid, obs, f, line)
        cid = r["simulationConditionId"]
        pid = r.get("preequilibrationConditionId", "")
        bad |= self._condition_refs(cid, pid, oid, f, line)
        t = self._time(r["time"], oid, f, line)
        m = self._value(r["measurement"], obs, oid, f, line)
        if obs is None:
            return
        n_op = max(n_placeholders(obs.formula, "observableParameter", oid),
                   n_placeholders(obs.noise, "observableParameter", oid))
        ops = self._overrides(r.get("observableParameters", ""), n_op, "observableParameters",
                              f, line, oid, positive=False)
        nps = self._overrides(r.get("noiseParameters", ""),
                              n_placeholders(obs.noise, "noiseParameter", oid),
                              "noiseParameters", f, line, oid,
                              positive=str(obs.noise.expr).startswith("noiseParameter"))
        if bad or t is None or m is None or ops is None or nps is None:
            return
        for key, value in (("observable", oid), ("preeq", pid), ("condition", cid),
                           ("time", t), ("value", m), ("op", ops), ("np", nps),
                           ("rows", line), ("dataset", r.get("datasetId", "").strip())):
            self.cols[key].append(value)

    def _observable_ref(self, oid: str, obs: Observable | None, f: str, line: int) -> bool:
        """Whether the row's observable is missing (an unknown id is noted for later)."""
        if oid == "":
            self.issues.error("observableId is empty", f, line)
            return True
        if obs is None:
            if self.declared_obs is not None and oid not in self.declared_obs:
                self.unknown.setdefault((f, "observableId", oid), []).append(line)
            return True
        return False

    def _condition_refs(self, cid: str, pid: str, oid: str, f: str, line: int) -> bool:
        """Whether the row's simulation or pre-equilibration condition is missing."""
        bad = False
        if cid == "":
            self.issues.error("simulationConditionId is empty", f, line, id=oid)
            bad = True
        for col, c in (("simulationConditionId", cid), ("preequilibrationConditionId", pid)):
            if c and self.conditions is not None and c not in self.conditions:
                self.unknown.setdefault((f, col, c), []).append(line)
                bad = True
        return bad

    def _time(self, text: str, oid: str, f: str, line: int) -> float | None:
        """The row's time, model time units (inf: the steady state); None (reported) if invalid."""
        t = cell_number(text)
        if t is None or np.isnan(t):
            self.issues.error("time is not a number", f, line, id=oid, value=text or "(empty)")
            return None
        if t == -np.inf:
            self.issues.error("time is -inf (inf, a steady state, is the only infinite "
                              "time)", f, line, id=oid, value=text)
            return None
        if t < 0:
            self.issues.error("time is negative", f, line, id=oid, value=text)
            return None
        return t

    def _value(self, text: str, obs: Observable | None, oid: str, f: str,
               line: int) -> float | None:
        """The measured value; None (reported) unless finite and, where the
        observable is log-transformed, positive.
        """
        m = cell_number(text)
        if m is None or not np.isfinite(m):
            self.issues.error("measurement is not a finite number (NaN and empty cells are "
                              "not allowed; remove the row instead)", f, line, id=oid,
                              value=text or "(empty)")
            return None
        if obs is not None and obs.transform is not Transform.LIN and m <= 0:
            self.issues.error(f"measurement must be positive for an observable with "
                              f"{obs.transform.value} transformation", f, line, id=oid,
                              value=text)
            return None
        return m

    def _overrides(self, text: str, n_needed: int, what: str, f: str, line: int, oid: str,
                   *, positive: bool) -> tuple[float | str, ...] | None:
        """The placeholder values of a row (numbers or parameter ids), or None (reported).

        ``n_needed`` values, ';'-separated, are needed; with ``positive`` a
        single number must be positive (it is a noise scale).
        """
        items = [] if text == "" else [t.strip() for t in text.split(";")]
        if len(items) != n_needed and not (n_needed == 0 and items == []):
            self.issues.error(f"{what} has {len(items)} value(s) but the observable's "
                              f"formulas have {n_needed} placeholder(s)", f, line, id=oid,
                              value=text or "(empty)")
            return None
        out = []
        for t in items:
            v = cell_value(t)
            problem = self._override_problem(v, t, text, what, n_needed, positive)
            if problem is not None:
                message, value = problem
                self.issues.error(message, f, line, id=oid, value=value)
                return None
            out.append(v)
        return tuple(out)

    def _override_problem(self, v: float | str | None, item: str, text: str, what: str,
                          n_needed: int, positive: bool) -> tuple[str, str] | None:
        """What is wrong with one placeholder value (message, value as written), or None."""
        if v is None:
            return f"{what} has an empty or NaN entry", text
        if isinstance(v, str) and not ID.match(v):
            return f"{what} entry '{v}' is neither a number nor a parameter id", v
        if isinstance(v, str) and self.param_ids is not None and v not in self.param_ids:
            return f"{what} names '{v}', which is not in the parameter table", v
        if isinstance(v, float) and not np.isfinite(v):
            return f"{what} has a non-finite entry", item
        if positive and isinstance(v, float) and v <= 0 and n_needed == 1:
            return f"{what}: a noise parameter must be positive", item
        return None

    def report_unknown(self) -> None:
        """Report each unknown id once, on its first line, naming the others."""
        for (f, col, ident), lines in self.unknown.items():
            table = "observable" if col == "observableId" else "condition"
            self.issues.error(f"unknown {col} (not in the {table} table){also_lines(lines)}",
                              f, lines[0], id=ident)

    def measurements(self) -> Measurements:
        """The rows kept, in table order."""
        cols = self.cols
        return Measurements(
            observable=tuple(cols["observable"]),
            preeq=tuple(cols["preeq"]),
            condition=tuple(cols["condition"]),
            time=np.array(cols["time"], dtype=float),
            value=np.array(cols["value"], dtype=float),
            observable_params=tuple(cols["op"]),
            noise_params=tuple(cols["np"]),
            rows=tuple(cols["rows"]),
            # no datasetId column (or an empty one): no datasets
            dataset_id=tuple(cols["dataset"]) if any(cols["dataset"]) else (),
        )


def _check_sample_counts(cols: dict[str, list], paths: list[Path], issues: Issues) -> None:
    """Refuse a simulation asked for more sample times than the documented limit."""
    times: dict[tuple[str, str], set[float]] = {}
    for pre, cid, t in zip(cols["preeq"], cols["condition"], cols["time"], strict=True):
        times.setdefault((pre, cid), set()).add(t)
    for (_, cid), ts in times.items():
        problem = too_many_points(len(ts))
        if problem is not None:
            issues.error(f"the measurements of condition '{cid}' {problem}",
                         ";".join(map(str, paths)), id=cid, value=str(len(ts)))
