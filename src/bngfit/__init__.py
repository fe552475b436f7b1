"""bngfit: fit ODE models of biochemical networks with exact gradients.

Public API: :func:`load_problem`, :class:`Objective`, :class:`Evaluation`,
:func:`check_grad`, :func:`check_grad_multi_eps`, :func:`fit`,
:class:`FitResult`, :func:`load_result`, and the error types.
"""

from .errors import BngfitError, InputError, Issue, MissingExtraError, UnsupportedError
from .gradcheck import check_grad, check_grad_multi_eps
from .loader import check_problem, load_problem
from .multistart import fit
from .objective import Evaluation, Objective
from .problem import Problem
from .results import FitResult, StartResult, StartStatus
from .store import load_result

__all__ = [
    "BngfitError",
    "Evaluation",
    "FitResult",
    "InputError",
    "Issue",
    "MissingExtraError",
    "Objective",
    "Problem",
    "StartResult",
    "StartStatus",
    "UnsupportedError",
    "check_grad",
    "check_grad_multi_eps",
    "check_problem",
    "fit",
    "load_problem",
    "load_result",
]

__version__ = "0.1.0"
