"""A problem as a notebook shows it, and a problem with parameters fixed.

:class:`~bngfit.problem.Problem` keeps only thin methods; what they do lives
here, so the dataclass stays a list of fields. The short text
(:func:`problem_repr`) is one line; the HTML (:func:`problem_html`) is a compact
table. :func:`fix_parameters` gives the new problem of ``Problem.fix``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bngfit.errors import InputError
from bngfit.files._html import html_fields, html_table

if TYPE_CHECKING:  # the type only: this module is imported by _problem
    from ._problem import Problem

#: Parameters listed by name in the HTML display before the rest is counted.
SHOWN_PARAMETERS = 12


def _model_text(p: Problem) -> str:
    """The model file(s) and their formats (the file suffix), e.g. ``model.xml (xml)``."""
    return ", ".join(f"{m.path.name} ({m.path.suffix.lstrip('.') or '?'})"
                     for m in p.models.values())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def problem_repr(p: Problem) -> str:
    """One line: source, model, parameter, condition, observable and data counts.

    Parameters
    ----------
    p : Problem

    Returns
    -------
    str
    """
    n_free = len(p.free)
    parts = [f"Problem({p.source.name!r}", f"model {_model_text(p)}",
             f"{n_free} free / {len(p.parameters) - n_free} fixed parameters",
             _plural(len(p.conditions), "condition"), _plural(len(p.observables), "observable"),
             _plural(len(p.measurements), "measurement")]
    if p.warnings:
        parts.append(_plural(len(p.warnings), "warning"))
    return ", ".join(parts) + ")"


def _ids(ids: list[str]) -> str:
    """Ids joined, the first SHOWN_PARAMETERS of them, the rest counted."""
    if len(ids) <= SHOWN_PARAMETERS:
        return ", ".join(ids) or "-"
    return ", ".join(ids[:SHOWN_PARAMETERS]) + f", ... ({len(ids) - SHOWN_PARAMETERS} more)"


def problem_html(p: Problem) -> str:
    """A compact HTML summary: counts, then the free parameters with scales and bounds.

    Parameters
    ----------
    p : Problem

    Returns
    -------
    str
        Every text escaped (:mod:`bngfit.files._html`).
    """
    fixed = [q.id for q in p.parameters if not q.estimate]
    summary = html_fields("Problem", [
        ("source", str(p.source)),
        ("model", _model_text(p)),
        ("free parameters", len(p.free)),
        ("fixed parameters", f"{len(fixed)}: {_ids(fixed)}" if fixed else 0),
        ("conditions", f"{len(p.conditions)}: {_ids(list(p.conditions))}"),
        ("observables", f"{len(p.observables)}: {_ids(list(p.observables))}"),
        ("measurements", len(p.measurements)),
        ("warnings", len(p.warnings)),
    ])
    rows = [(q.id, q.scale.value, q.lb, q.ub, q.nominal) for q in p.free[:SHOWN_PARAMETERS]]
    if len(p.free) > SHOWN_PARAMETERS:
        rows.append((f"... {len(p.free) - SHOWN_PARAMETERS} more", "", None, None, None))
    free = html_table(rows, ("free parameter", "scale", "lower", "upper", "nominal"))
    return summary + free


def fix_parameters(p: Problem, values: Mapping[str, float]) -> Problem:
    """A new problem with the given parameters fixed at native values.

    Parameters
    ----------
    p : Problem
    values : mapping of str to float
        Parameter id -> native value. A parameter already fixed gets the new
        value; a free one stops being estimated.

    Returns
    -------
    Problem
        ``p`` with those parameter rows changed (``estimate`` False, ``nominal``
        the value); everything else shared.

    Raises
    ------
    InputError
        An id that is no parameter of the problem, a value that is not a finite
        number, or one outside the parameter's bounds; naming the id and value.
    """
    by_id = {q.id: q for q in p.parameters}
    checked: dict[str, float] = {}
    for pid, raw in values.items():
        if pid not in by_id:
            raise InputError(f"cannot fix '{pid}': no parameter of the problem has this id "
                             f"(parameters: {_ids([q.id for q in p.parameters])})",
                             id=str(pid), value=repr(raw))
        try:
            v = float(raw)
        except (TypeError, ValueError):
            v = math.nan
        if isinstance(raw, bool) or not math.isfinite(v):
            raise InputError(f"cannot fix '{pid}' at {raw!r}: the value must be a finite "
                             "number", id=pid, value=repr(raw))
        spec = by_id[pid]
        # NaN bounds (allowed on fixed rows) compare False: no bound then
        if v < spec.lb or v > spec.ub:
            raise InputError(f"cannot fix '{pid}' at {v!r}: outside its bounds "
                             f"[{spec.lb!r}, {spec.ub!r}] (native values)", id=pid,
                             value=repr(v))
        checked[pid] = v
    params = tuple(dataclasses.replace(q, estimate=False, nominal=checked[q.id])
                   if q.id in checked else q for q in p.parameters)
    return dataclasses.replace(p, parameters=params)


def fixes_between(p: Problem, base: Problem) -> dict[str, float]:
    """The fixes that turn ``base`` into ``p``: parameters fixed in ``p`` at another value.

    A parameter counts as fixed by the user where ``p`` does not estimate it
    and ``base`` either estimates it or holds another nominal value. Engines
    whose workers rebuild the problem from its files apply these to what the
    files give (:meth:`Problem.fix`); whether that gives ``p`` exactly is for
    the caller to check (by fingerprint).

    Parameters
    ----------
    p, base : Problem

    Returns
    -------
    dict
        Parameter id -> native value, in ``p``'s parameter order.
    """
    old = {q.id: q for q in base.parameters}
    return {q.id: q.nominal for q in p.parameters if not q.estimate and q.id in old
            and (old[q.id].estimate or old[q.id].nominal != q.nominal)}


__all__ = ["SHOWN_PARAMETERS", "fix_parameters", "fixes_between", "problem_html",
           "problem_repr"]
