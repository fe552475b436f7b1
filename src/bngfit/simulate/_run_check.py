"""The run check of the engine adapter: a process's first sensitivity run, twice.

The first sensitivity run of each process runs once without the adapter
(bngsim as it is) and once with it; the two must agree (outputs and
sensitivities, :func:`verify_run`), or the adapter is turned off for the process
with a warning (:mod:`bngfit.simulate._adapter`). During the unpatched run,
bngsim's own partial derivatives of derived initial conditions are kept, and the
adapted run's first use of each compiled derivative is compared with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _compiled_seeds
from ._adapter import STATE, _check_lock, _refuse, bypassed


def needs_run_check() -> bool:
    """Whether this process's first sensitivity run still has to be checked."""
    return STATE.active and not STATE.run_checked


def checked(run: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
    """``run()``; the first time in a process, also unpatched, compared (see :func:`verify_run`).

    Parameters
    ----------
    run : callable
        One sensitivity run from the same start, returning ``(y, dy)``.

    Returns
    -------
    tuple of ndarray
        The run's ``(y, dy)`` (the unpatched one where they differ).
    """
    if not needs_run_check():
        return run()
    with _check_lock:  # one check; runs of other threads meanwhile are unpatched: exact
        if not needs_run_check():
            return run()
        STATE.references, STATE.checking = {}, True
        try:
            with bypassed():
                plain = run()
            STATE.checking = False
            adapted = run()  # its first uses of compiled partials compare with those kept
        finally:
            STATE.references, STATE.checking = None, False
        return adapted if verify_run(plain, adapted) else plain


def verify_run(plain: tuple[Any, Any], adapted: tuple[Any, Any]) -> bool:
    """Compare an unpatched run's (outputs, sensitivities) with the adapted one's.

    Bit for bit with the exact memos only; to 1e-12 relative with compiled
    partials (:mod:`bngfit.simulate._compiled_seeds`).

    Parameters
    ----------
    plain, adapted : tuple of ndarray
        ``(y, dy)`` of the same run without and with the adapter.

    Returns
    -------
    bool
        Whether they agree; otherwise the adapter is turned off.
    """
    import numpy as np

    STATE.run_checked = True
    rtol = _compiled_seeds.RTOL if STATE.compiled else 0.0

    def close(a: Any, b: Any) -> bool:
        # relative to each entry and to the array's largest entry: a sensitivity
        # that is 0 in exact arithmetic comes out as rounding noise of the others
        a, b = np.asarray(a, float), np.asarray(b, float)
        if a.shape != b.shape:
            return False
        scale = float(np.nanmax(np.abs(b), initial=0.0))
        return bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True))

    same = all(close(a, b) for a, b in zip(plain, adapted, strict=True))
    if not same:
        _refuse("a sensitivity run with it differs from the same run without it")
    return same
