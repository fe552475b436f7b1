"""Objectives and evaluations as a notebook shows them: one line, or a small table.

The dataclass repr of an :class:`~bngfit.objective.Evaluation` prints every
array it holds and an :class:`~bngfit.objective.Objective` had none of its own;
these give the few numbers one looks at first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bngfit.files._html import fmt, html_fields

if TYPE_CHECKING:  # types only: both modules import this one
    from ._evaluation import Evaluation
    from ._objective import Objective


def _terms(obj: Objective) -> str:
    """The terms summed, by kind: ``data likelihood, trajectory penalties, priors``."""
    names = {"DataLikelihood": "data likelihood", "TrajectoryPenalties": "trajectory penalties",
             "ObjectivePriors": "objective priors"}
    return ", ".join(names.get(type(t).__name__, type(t).__name__) for t in obj.terms)


def _objective_fields(obj: Objective) -> list[tuple[str, object]]:
    p = obj.problem
    return [("problem", p.source.name), ("n_x", len(obj.x_names)),
            ("measurements", len(p.measurements)), ("terms", _terms(obj)),
            ("residual form", bool(obj.has_residuals)),
            ("rtol", obj.settings.rtol), ("atol", obj.settings.atol),
            ("gradient", "none: " + obj.no_gradient if obj.no_gradient else "exact")]


def objective_repr(obj: Objective) -> str:
    """``Objective('problem.yaml', n_x=4, 32 measurements, rtol=1e-08, atol=1e-10, ...)``.

    Parameters
    ----------
    obj : Objective

    Returns
    -------
    str
    """
    p = obj.problem
    return (f"Objective({p.source.name!r}, n_x={len(obj.x_names)}, "
            f"{len(p.measurements)} measurements, terms: {_terms(obj)}, "
            f"rtol={obj.settings.rtol:g}, atol={obj.settings.atol:g}"
            f"{', residuals' if obj.has_residuals else ''})")


def objective_html(obj: Objective) -> str:
    """A two-column HTML table of :func:`objective_repr`'s facts.

    Parameters
    ----------
    obj : Objective

    Returns
    -------
    str
    """
    return html_fields("Objective", _objective_fields(obj))


def _grad_norm(ev: Evaluation) -> float | None:
    return None if ev.grad is None else float(np.linalg.norm(ev.grad))


def _n_res(ev: Evaluation) -> int | None:
    """Residuals when they are already built (reading them must not compute them)."""
    pair = None if ev.residuals is None else ev.residuals.peek()
    return None if pair is None else int(pair[0].size)


def evaluation_repr(ev: Evaluation) -> str:
    """``Evaluation(fval=12.5, |grad|=0.031, status=ok, n_x=4, n_res=32)``.

    Parameters
    ----------
    ev : Evaluation

    Returns
    -------
    str
        With the message where the evaluation is not ok.
    """
    gnorm = _grad_norm(ev)
    parts = [f"fval={fmt(float(ev.fval), 8)}",
             "no gradient" if gnorm is None else f"|grad|={gnorm:.3g}",
             f"status={ev.status.value}", f"n_x={np.size(ev.x)}"]
    n_res = _n_res(ev)
    if n_res is not None:
        parts.append(f"n_res={n_res}")
    if ev.prior:
        parts.append(f"prior={fmt(float(ev.prior))}")
    if not ev.ok and ev.message:
        parts.append(f"message={ev.message[:200]!r}")
    return f"Evaluation({', '.join(parts)})"


def evaluation_html(ev: Evaluation) -> str:
    """A two-column HTML table: fval, gradient norm, status, sizes, message.

    Parameters
    ----------
    ev : Evaluation

    Returns
    -------
    str
    """
    fields: list[tuple[str, object]] = [
        ("fval", float(ev.fval)), ("|grad|", _grad_norm(ev)), ("status", ev.status.value),
        ("chi2", float(ev.chi2)), ("n_x", int(np.size(ev.x))), ("n_res", _n_res(ev))]
    if ev.prior:
        fields.append(("negative log-prior", float(ev.prior)))
    if ev.message:
        fields.append(("message", ev.message))
    return html_fields("Evaluation", fields)


__all__ = ["evaluation_html", "evaluation_repr", "objective_html", "objective_repr"]
