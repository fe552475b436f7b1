"""Evaluation statuses, and the rule that a non-finite derivative is no valid evaluation.

An optimizer steers by the gradient (and the residual Jacobian): a NaN or inf
in it, next to a finite objective value, would be followed as if it were a
direction. Such an evaluation keeps its value and its gradient (a gradient
check shows the offending row) but is not ``ok``: every optimizer rejects the
point as it rejects a failed simulation.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class EvalStatus(StrEnum):
    """What an evaluation of the objective is.

    Only ``OK`` is a valid evaluation. ``INVALID_GRADIENT`` keeps its finite
    ``fval`` and its (partly non-finite) ``grad``; the others have ``fval = inf``
    and a NaN gradient.
    """

    OK = "ok"
    SIMULATION_FAILED = "simulation_failed"  # the ODE solver failed (CVODE flag in the message)
    INVALID_VALUE = "invalid_value"  # a value left its domain (sigma <= 0, log of <= 0, ...)
    INVALID_GRADIENT = "invalid_gradient"  # finite fval, but NaN/inf in grad or res/sres


INVALID = frozenset(s for s in EvalStatus if s is not EvalStatus.OK)


def nonfinite_message(what: str, values: np.ndarray, names: list[str]) -> str | None:
    """A message naming the parameters whose derivative entries are not finite (None if all are).

    Parameters
    ----------
    what : str
        What the array is (``"gradient"``, ``"residual Jacobian"``).
    values : ndarray, shape (n_x,) or (n_res, n_x)
        The derivatives, one column per parameter.
    names : list of str
        Parameter ids, length n_x.
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
    return (f"the {what} is not finite in parameter{'s' if cols.size > 1 else ''} "
            f"{', '.join(shown)}{more}: the point is rejected (a formula or the model "
            "has no derivative there)")
