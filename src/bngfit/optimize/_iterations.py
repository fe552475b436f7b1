"""The iteration limit of each local run (``max_iterations``), on every optimizer.

Each optimizer counts its budget its own way (:mod:`bngfit.optimize._local`):
:func:`with_iterations` turns one number of iterations into the option that
caps it, so ``fit(max_iterations=N)``, ``bngfit fit --max-iterations N`` and
a PyBNF job's ``max_iterations`` mean the same on each.
"""

from __future__ import annotations

from bngfit.errors import InputError

from ._local import LBFGSB_MAX_NFEV, OptimizerName

#: The option that caps each optimizer's iterations. TRF makes one residual
#: evaluation per iteration and scipy counts its budget in evaluations; L-BFGS-B
#: and fides count iterations.
ITERATION_KEYS = {
    OptimizerName.LEAST_SQUARES: "max_nfev",
    OptimizerName.LBFGSB: "maxiter",
    OptimizerName.FIDES: "maxiter",
}


def check_iterations(n: object) -> int | None:
    """``n`` checked: None (no limit) or a whole number of at least 1 (InputError)."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise InputError("the iteration limit of a local run (max_iterations) must be a whole "
                         "number of at least 1", value=repr(n))
    return n


def with_iterations(optimizer: OptimizerName, options: dict | None, n: int | None) -> dict:
    """``options`` with the iteration limit of each local run set to ``n`` (None: as they are).

    ``n`` replaces the optimizer's own iteration option (:data:`ITERATION_KEYS`).
    L-BFGS-B's evaluation budget is raised to at least ``2 n`` (it makes one
    or more evaluations per iteration), so that it does not end a run first;
    the fides continuation of a least_squares run (``switch_maxiter``) is held
    to ``n`` as well, so that no local run goes further.
    """
    out = dict(options or {})
    if n is None:
        return out
    out[ITERATION_KEYS[optimizer]] = int(n)
    if optimizer is OptimizerName.LBFGSB:
        out["max_nfev"] = max(int(out.get("max_nfev", LBFGSB_MAX_NFEV)), 2 * int(n))
    if out.get("switch_maxiter"):
        out["switch_maxiter"] = min(int(out["switch_maxiter"]), int(n))
    return out
