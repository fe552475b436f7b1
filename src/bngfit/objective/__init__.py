"""The objective stage: negative log-likelihood with its exact gradient.

:class:`Objective` evaluates a problem at an optimizer-space point, returning an
:class:`Evaluation` (fval, grad, res, sres); noise parameters in closed form
(:class:`ProfiledObjective`); gradient checks against finite differences
(:func:`check_grad`, :func:`check_grad_multi_eps`, :func:`summarize`) and of
the residual Jacobian (:func:`check_res`, :func:`check_res_multi_eps`).
"""

from bngfit import _compat

from ._evaluation import Evaluation
from ._gradcheck import (
    Agreement,
    FdValues,
    GradCheckSummary,
    check_grad,
    check_grad_multi_eps,
    check_res,
    check_res_multi_eps,
    summarize,
)
from ._hierarchical import ProfiledObjective
from ._objective import Objective
from ._status import EvalStatus

__all__ = ["Agreement", "EvalStatus", "Evaluation", "FdValues", "GradCheckSummary", "Objective",
           "ProfiledObjective", "check_grad", "check_grad_multi_eps", "check_res",
           "check_res_multi_eps", "summarize"]

# bngfit 0.1's module bngfit.objective: its other names, deprecated
__getattr__ = _compat.old_names("objective", "objective._objective")
