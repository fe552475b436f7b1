"""bngfit: fit ODE models of biochemical networks with exact gradients.

Public API: :func:`load_problem`, :class:`Objective`, :class:`Evaluation`,
:func:`check_grad`, :func:`check_grad_multi_eps`, and the error types.
"""

from .errors import BngfitError, InputError, Issue, MissingExtraError, UnsupportedError
from .gradcheck import check_grad, check_grad_multi_eps
from .loader import check_problem, load_problem
from .objective import Evaluation, Objective
from .problem import Problem

__all__ = [
    "BngfitError",
    "Evaluation",
    "InputError",
    "Issue",
    "MissingExtraError",
    "Objective",
    "Problem",
    "UnsupportedError",
    "check_grad",
    "check_grad_multi_eps",
    "check_problem",
    "load_problem",
]

__version__ = "0.1.0"
