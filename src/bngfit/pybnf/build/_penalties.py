"""``.prop`` constraints of a PyBNF configuration as trajectory penalties (both
editions; part of the PyBNF builder core).

A constraint file belongs to one simulation (edition 1: the action whose
suffix is the file's name, on the base model or a mutant; edition 2: its
experiment) and reads that simulation's outputs on its output grid, at PyBNF's
sample points (:mod:`bngfit.likelihood._penalties`). A bare name is an output of that
simulation; PyBNF's ``suffix.Name`` reference to another simulation is refused
(a penalty reads one simulation here), as is a name that is no output of the
model. Both are found while reading, so ``validate`` reports them with the
file and line.
"""

from __future__ import annotations

from pathlib import Path

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._problem import TrajectoryPenalty
from bngfit.pybnf.bpsl._prop import Constraint, read_prop


def constraint_penalties(path: Path, info: ModelInfo, preeq: str, condition: str,
                         times: tuple[float, ...]) -> list[TrajectoryPenalty]:
    """The constraints of file ``path``, each read on simulation ``condition``.

    Parameters
    ----------
    path : Path
        The ``.prop`` (or ``.con``) file.
    info : ModelInfo
        The model the simulation runs.
    preeq, condition : str
        The ids of the simulation's pre-phase (empty: none) and measured phase.
    times : tuple of float
        The simulation's output grid.

    Raises
    ------
    InputError
        A constraint that does not read, or reads a name that is no output of
        the model.
    UnsupportedError
        A constraint that reads another simulation (``suffix.Name``).
    """
    out = []
    for c in read_prop(path):
        check_constraint_names(path, c, info)
        names = tuple(n for n in c.names if n != "time")
        out.append(TrajectoryPenalty(names, preeq, condition, times, None,
                                     f"{path}:{c.line}", constraint=c))
    return out


def check_constraint_names(path: Path, constraint: Constraint, info: ModelInfo) -> None:
    """Refuse a name of the constraint that is no output of its simulation's model.

    Raises
    ------
    InputError
        A name that is no observable, function or species of the model.
    UnsupportedError
        A ``suffix.Name`` reference to another simulation.
    """
    names = [n for n in constraint.names if n != "time"]
    dotted = [n for n in names if "." in n]
    if dotted:
        raise UnsupportedError(f"'{dotted[0]}' reads another simulation; bngfit reads a "
                               "constraint on its own simulation only", file=str(path),
                               row=constraint.line, id=dotted[0])
    for name in names:
        if info.selector(name) is None:
            raise InputError("constraint reads a name that is no observable, function or "
                             f"species of the model {info.path.name}", file=str(path),
                             row=constraint.line, id=name)
