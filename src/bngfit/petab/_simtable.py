"""PEtab simulation tables: the measurement table with simulated values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bngfit.problem import Problem


def _join(values: tuple[float | str, ...]) -> str:
    """Placeholder overrides as PEtab writes them: ';'-separated, numbers in full."""
    return ";".join(v if isinstance(v, str) else repr(float(v)) for v in values)


def simulation_table(problem: Problem, simulation: np.ndarray) -> pd.DataFrame:
    """Build a PEtab simulation table.

    Parameters
    ----------
    problem : Problem
        The problem simulated.
    simulation : ndarray, shape (n_meas,)
        Observable values at each measurement, untransformed.

    Returns
    -------
    pandas.DataFrame
        Columns observableId, [modelId], [preequilibrationConditionId],
        simulationConditionId, time, simulation, [observableParameters],
        [noiseParameters], in measurement order. ``modelId`` (as in PEtab 2's
        measurement table) names each row's model where the problem has
        several.
    """
    m = problem.measurements
    cols: dict[str, object] = {"observableId": list(m.observable)}
    if len(problem.models) > 1:
        model_of = {c: problem.model_id(c) for c in dict.fromkeys(m.condition)}
        cols["modelId"] = [model_of[c] for c in m.condition]
    if any(m.preeq):
        cols["preequilibrationConditionId"] = list(m.preeq)
    cols["simulationConditionId"] = list(m.condition)
    cols["time"] = m.time
    cols["simulation"] = np.asarray(simulation, dtype=float)
    if any(m.observable_params):
        cols["observableParameters"] = [_join(v) for v in m.observable_params]
    if any(m.noise_params):
        cols["noiseParameters"] = [_join(v) for v in m.noise_params]
    return pd.DataFrame(cols)
