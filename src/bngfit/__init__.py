"""bngfit: fit ODE models of biochemical networks with exact gradients.

Public API: :func:`load_problem`, :class:`Problem`, :class:`Objective`,
:class:`Evaluation`, :func:`check_grad`, :func:`check_grad_multi_eps`,
:func:`summarize`, :func:`check_res`, :func:`check_res_multi_eps`, :func:`fit` (its
progress events :class:`FitProgress`),
:class:`FitResult`, :func:`load_result`, :func:`bootstrap` (percentile intervals from
refits to resampled data: :class:`BootstrapResult`, :func:`load_bootstrap`),
:func:`profile` (profile likelihoods: :class:`ProfileResult`), and the
error types.

The package is laid out by stage (see the README's "Architecture"):
``problem`` (format-free types) <- readers ``petab`` and ``pybnf`` ->
``plan`` -> ``simulate`` -> ``observe`` -> ``likelihood`` -> ``objective`` ->
``optimize`` -> ``result``, with ``cli`` on top. This module wires the
readers and the engine's model services into :func:`load_problem`.
"""

from importlib.metadata import PackageNotFoundError, version

from . import _compat
from .errors import BngfitError, InputError, Issue, MissingExtraError, UnsupportedError
from .objective import (
    Agreement,
    Evaluation,
    FdValues,
    Objective,
    check_grad,
    check_grad_multi_eps,
    check_res,
    check_res_multi_eps,
    summarize,
)
from .optimize import FitProgress, ProfileSteps, bootstrap, fit, profile
from .petab import check_petab
from .problem import Problem, check_problem, load_problem, register_reader
from .pybnf import check_pybnf
from .result import (
    BootstrapResult,
    FitResult,
    ProfileClass,
    ProfileResult,
    Replicate,
    ReplicateStatus,
    StartResult,
    StartStatus,
    load_bootstrap,
    load_result,
)
from .simulate import MODEL_ACCESS

register_reader((".yaml", ".yml"), "a PEtab YAML file", check_petab, MODEL_ACCESS)
register_reader((".conf",), "a PyBNF configuration", check_pybnf)
_compat.install()

try:
    __version__ = version("bngfit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Agreement",
    "BngfitError",
    "BootstrapResult",
    "Evaluation",
    "FdValues",
    "FitProgress",
    "FitResult",
    "InputError",
    "Issue",
    "MissingExtraError",
    "Objective",
    "Problem",
    "ProfileClass",
    "ProfileResult",
    "ProfileSteps",
    "Replicate",
    "ReplicateStatus",
    "StartResult",
    "StartStatus",
    "UnsupportedError",
    "__version__",
    "bootstrap",
    "check_grad",
    "check_grad_multi_eps",
    "check_res",
    "check_res_multi_eps",
    "check_problem",
    "fit",
    "load_bootstrap",
    "load_problem",
    "load_result",
    "profile",
    "summarize",
]
