"""Compiled trajectory penalties and normalizations (part of the plan).

Where their series lie in an experiment's flat outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.observe import NormSpec
from bngfit.problem import ModelInfo, Normalization, NormKind, Problem, TrajectoryPenalty


@dataclass(frozen=True)
class PenaltySpec:
    """A compiled trajectory penalty: where its series are in the flat outputs.

    ``refs[j]`` are the flat indices of series ``names[j]`` on the grid ``t``;
    ``norms[j]`` is the (kind, reference indices) of the normalization applied
    to that output in this experiment, or None.
    """

    penalty: TrajectoryPenalty
    names: tuple[str, ...]
    t: np.ndarray
    refs: tuple[np.ndarray, ...]
    norms: tuple[tuple[NormKind, np.ndarray] | None, ...]


def penalty_spec(problem: Problem, info: ModelInfo, pen: TrajectoryPenalty,
                 norms_here: list[Normalization], norm_specs: list[NormSpec],
                 outputs: list[str], time_row: dict[float, int], offset: int,
                 n_out: int) -> PenaltySpec:
    """Compile a trajectory penalty; a normalized output is read normalized.

    Parameters
    ----------
    problem : Problem
        The problem.
    info : ModelInfo
        The names of the experiment's model.
    pen : TrajectoryPenalty
        The penalty, of this experiment.
    norms_here, norm_specs : list
        The experiment's normalizations and their compiled specs, in order.
    outputs : list of str
        The experiment's output selectors.
    time_row : dict
        Time -> its row of the experiment's sample grid.
    offset : int
        Where the experiment's outputs start in the flat outputs.
    n_out : int
        Number of outputs of the experiment.

    Returns
    -------
    PenaltySpec
    """
    g = np.array([time_row[t] for t in np.asarray(pen.times, float).tolist()], dtype=int)
    refs, norms = [], []
    for name in pen.names:
        refs.append(offset + g * n_out + outputs.index(info.selector(name)))
        norm = None
        for n, spec in zip(norms_here, norm_specs, strict=True):
            if problem.observables[n.observable].formula.symbols == (name,):
                norm = (n.kind, spec.ref)
        norms.append(norm)
    return PenaltySpec(pen, tuple(pen.names), np.asarray(pen.times, float), tuple(refs),
                       tuple(norms))


def norm_spec(problem: Problem, info: ModelInfo, n: Normalization, idx: list[int],
              outputs: list[str], time_row: dict[float, int], offset: int,
              n_out: int) -> NormSpec:
    """Compile one normalization: its measurement rows and reference values.

    Parameters
    ----------
    problem : Problem
        The problem.
    info : ModelInfo
        The names of the experiment's model.
    n : Normalization
        The normalization, of this experiment.
    idx : list of int
        The experiment's measurement indices.
    outputs, time_row, offset, n_out
        The experiment's outputs and grid, as for :func:`penalty_spec`.

    Returns
    -------
    NormSpec

    Raises
    ------
    UnsupportedError
        The observable is not one model output, or has no data in the experiment.
    """
    obs = problem.observables.get(n.observable)
    where = f"'{n.observable}' in condition '{n.condition}'"
    if obs is None or len(obs.formula.symbols) != 1 or \
            str(obs.formula.expr) != obs.formula.symbols[0]:
        raise UnsupportedError(f"normalization of {where}: the observable must be one model "
                               "output", id=n.observable)
    sel = info.selector(obs.formula.symbols[0])
    rows = np.array([i for i in idx if problem.measurements.observable[i] == n.observable],
                    dtype=int)
    if sel is None or sel not in outputs or not rows.size:
        raise UnsupportedError(f"normalization of {where}: no data of it there",
                               id=n.observable)
    times = np.asarray(n.times, float)
    g = np.array([time_row[t] for t in times.tolist()], dtype=int)
    ref = offset + g * n_out + outputs.index(sel)
    prev = None
    if n.kind is NormKind.INCIDENT:
        # each data time's previous reference time (a data time off the grid has
        # the grid point below it before it)
        k = np.searchsorted(times, problem.measurements.time[rows], side="left")
        prev = np.where(k > 0, ref[np.maximum(k - 1, 0)], -1)
    return NormSpec(n.kind, rows, ref, where, prev)
