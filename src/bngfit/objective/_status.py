"""Evaluation statuses, and the rule that a non-finite derivative is no valid evaluation.

An optimizer steers by the gradient (and the residual Jacobian): a NaN or inf
in it, next to a finite objective value, would be followed as if it were a
direction. Such an evaluation keeps its value and its gradient (a gradient
check shows the offending row) but is not ``ok``: every optimizer rejects the
point as it rejects a failed simulation.

Every message of an invalid evaluation starts with its status's sentence
(:data:`STATUS_MESSAGES`) and goes on with what happened where
(:func:`status_message`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class EvalStatus(StrEnum):
    """What an evaluation of the objective is.

    Only ``OK`` is a valid evaluation. ``INVALID_GRADIENT`` keeps its finite
    ``fval`` and its (partly non-finite) ``grad``; the others have ``fval = inf``
    and a NaN gradient. :data:`STATUS_MESSAGES` says each in a sentence.
    """

    OK = "ok"
    SIMULATION_FAILED = "simulation_failed"
    INVALID_VALUE = "invalid_value"
    INVALID_GRADIENT = "invalid_gradient"

    @property
    def sentence(self) -> str:
        """What the status means, for humans (from :data:`STATUS_MESSAGES`)."""
        return STATUS_MESSAGES[self]


STATUS_MESSAGES: dict[EvalStatus, str] = {
    EvalStatus.OK: "the objective has a finite value and finite derivatives",
    EvalStatus.SIMULATION_FAILED: "the simulation failed",
    EvalStatus.INVALID_VALUE: "a value left its domain",
    EvalStatus.INVALID_GRADIENT: "a derivative is not finite, so the point is rejected",
}

INVALID = frozenset(s for s in EvalStatus if s is not EvalStatus.OK)


def status_message(status: EvalStatus, detail: str) -> str:
    """The message of an evaluation: its status's sentence, then what happened where.

    Parameters
    ----------
    status : EvalStatus
    detail : str
        What happened and where (a condition, an observable and its line, ...).

    Returns
    -------
    str
        ``"<sentence>: <detail>"``, or the sentence alone for an empty detail.
    """
    sentence = STATUS_MESSAGES[EvalStatus(status)]
    return f"{sentence}: {detail}" if detail else sentence


def nonfinite_message(what: str, values: np.ndarray, names: list[str]) -> str | None:
    """A message naming the parameters whose derivative entries are not finite.

    Parameters
    ----------
    what : str
        What the array is (``"gradient"``, ``"residual Jacobian"``).
    values : ndarray, shape (n_x,) or (n_res, n_x)
        The derivatives, one column per parameter.
    names : list of str
        Parameter ids, length n_x.

    Returns
    -------
    str or None
        An ``INVALID_GRADIENT`` message (:func:`status_message`); None where every
        entry is finite.
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    cols = np.nonzero(bad if bad.ndim == 1 else bad.any(axis=0))[0]
    shown = []
    for j in cols[:5].tolist():
        col = values[j] if values.ndim == 1 else values[:, j]
        v = col if np.ndim(col) == 0 else col[~np.isfinite(col)][0]
        shown.append(f"'{names[j] if j < len(names) else j}' ({float(v)})")
    more = f" and {cols.size - 5} more" if cols.size > 5 else ""
    return status_message(
        EvalStatus.INVALID_GRADIENT,
        f"the {what} is not finite in parameter{'s' if cols.size > 1 else ''} "
        f"{', '.join(shown)}{more}; a formula or the model has no derivative there")
