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

import dataclasses
from pathlib import Path

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._constraints import Enforcement, PenaltyModel
from bngfit.problem._model_info import ModelInfo
from bngfit.problem._problem import TrajectoryPenalty
from bngfit.pybnf.bngl._scan import MATCH_RTOL, Scan
from bngfit.pybnf.bpsl._prop import Constraint, read_prop


def constraint_penalties(path: Path, info: ModelInfo, preeq: str, condition: str,
                         times: tuple[float, ...], scale: float = 1.0
                         ) -> list[TrajectoryPenalty]:
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
    scale : float
        ``constraint_scale``: multiplies the weight of every static-model
        constraint, as PyBNF does (likelihood-model constraints keep theirs).

    Raises
    ------
    InputError
        A constraint that does not read, or reads a name that is no output of
        the model.
    UnsupportedError
        A constraint that reads another simulation (``suffix.Name``).
    """
    out = []
    for c in scaled(read_prop(path), scale):
        check_constraint_names(path, c, info)
        names = tuple(n for n in c.names if n != "time")
        out.append(TrajectoryPenalty(names, preeq, condition, times, None,
                                     f"{path}:{c.line}", constraint=c))
    return out


def scaled(constraints: tuple[Constraint, ...], scale: float) -> tuple[Constraint, ...]:
    """The constraints with PyBNF's ``constraint_scale`` applied to static weights."""
    if scale == 1.0:
        return constraints
    return tuple(dataclasses.replace(c, weight=c.weight * scale)
                 if c.model is PenaltyModel.STATIC else c for c in constraints)


def check_constraint_names(path: Path, constraint: Constraint, info: ModelInfo,
                           also: frozenset[str] = frozenset()) -> None:
    """Refuse a name of the constraint that is no output of its simulation's model
    (nor in ``also``: a scan's independent variable).

    Raises
    ------
    InputError
        A name that is no observable, function or species of the model.
    UnsupportedError
        A ``suffix.Name`` reference to another simulation.
    """
    names = [n for n in constraint.names if n != "time" and n not in also]
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


def scan_constraints(path: Path, info: ModelInfo, scan: Scan, x_names: frozenset[str],
                     scale: float = 1.0) -> list[tuple[Constraint, int]]:
    """The constraints of ``path`` on a parameter scan, each with the point it reads.

    A constraint on a scan reads the scan's outputs as PyBNF does, over the
    scanned parameter instead of time; bngfit reads the one form that names a
    single point: ``... at V`` (or ``at X=V`` with X the first column of the
    scan's data, ``x_names``), V a scan point (to a relative
    :data:`~bngfit.pybnf.bngl._scan.MATCH_RTOL`, as data rows are matched).

    Raises
    ------
    InputError
        A name that is no output of the model; a V that is no scan point.
    UnsupportedError
        Another form (``always``, ``once``, ``between``, ``everytime``,
        ``before``, or two points).
    """
    out = []
    for c in scaled(read_prop(path), scale):
        check_constraint_names(path, c, info, x_names)
        at = c.at
        if c.enforcement is not Enforcement.AT or at is None or c.rhs_at is not None \
                or at.everytime or at.before or at.var not in (None, *x_names):
            raise UnsupportedError(
                "on a parameter scan, bngfit reads constraints of the form '... at V' (V "
                f"a value of {scan.parameter}) only", file=str(path), row=c.line,
                value=c.text)
        k = scan.point_of(at.value)
        if k is None:
            raise InputError(
                f"{scan.parameter} = {at.value:g} is not a point of the scan ({scan.how}: "
                f"{scan.describe_points()}; to a relative {MATCH_RTOL:g})", file=str(path),
                row=c.line, id=scan.parameter, value=f"{at.value:g}")
        out.append((c, k))
    return out


def scan_penalties(path: Path, info: ModelInfo, scan: Scan, x_names: frozenset[str],
                   points: dict[int, tuple[str, str]], span: float, scale: float = 1.0
                   ) -> list[TrajectoryPenalty]:
    """The constraints of ``path`` on a scan, each a penalty on its point's simulation.

    The point's end state is the one sample read (at ``span``, its
    simulated time, or ``inf`` for a scan to steady state): ``at V`` becomes
    the same inequality enforced on that sample, with the same penalty model.

    Parameters
    ----------
    points : dict of int to (str, str)
        Point index -> (pre-phase, condition) of its simulation.
    span : float
        The time each point is read at (``inf``: its steady state).
    """
    out = []
    for c, k in scan_constraints(path, info, scan, x_names, scale):
        names = tuple(n for n in c.names if n not in ("time", *x_names))
        pre, cid = points[k]
        one = dataclasses.replace(c, enforcement=Enforcement.ALWAYS, at=None)
        out.append(TrajectoryPenalty(names, pre, cid, (span,), None, f"{path}:{c.line}",
                                     constraint=one))
    return out
