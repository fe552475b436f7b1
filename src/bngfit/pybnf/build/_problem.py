"""Build a :class:`~bngfit.problem.Problem` from a PyBNF configuration.

The entry point reads the configuration (:mod:`bngfit.pybnf.conf._conf`), refuses
what bngfit does not compute, and hands the configuration to the builder of
its edition: :mod:`bngfit.pybnf.build._edition1` (legacy ``model`` / ``mutant``
lines and actions) or :mod:`bngfit.pybnf.build._edition2` (``edition = 2``:
experiments, conditions, noise models). Both build on one core, shared piece
by piece:

===============================  ==============================================
:mod:`~bngfit.pybnf.build._params`      free parameters: bounds, nominal values, start
                                 distributions
:mod:`~bngfit.pybnf.build._perturb`     mutant / condition perturbations as checked
                                 mutations
:mod:`~bngfit.pybnf.build._noise`       objective tokens as noise models; each point's
                                 noise scale
:mod:`~bngfit.pybnf.build._data`        data columns as observables; measurements
:mod:`~bngfit.pybnf.build._penalties`   ``.prop`` constraints as penalties
:mod:`~bngfit.pybnf.build._models`      model files read, BNGL templates bound
===============================  ==============================================

Readers never load models themselves: the model services (bngsim, BNG2.pl)
come in as a :class:`~bngfit.problem._model_info.ModelAccess`.
"""

from __future__ import annotations

from pathlib import Path

from bngfit.errors import InputError, Issue, UnsupportedError
from bngfit.problem._model_info import ModelAccess
from bngfit.problem._problem import Problem
from bngfit.pybnf.conf._conf import PybnfConfig, check_supported, read_conf

from ._edition1 import edition1_problem
from ._edition2 import edition2_problem
from ._noise import (  # noqa: F401 - NEG_BIN_R_DEFAULT, NOISE_PARAMETER: 0.1.0 names
    NEG_BIN_R_DEFAULT,
    NOISE_PARAMETER,
    SUPPORTED_OBJFUNCS,
)
from ._params import (  # noqa: F401 - the kinds and start_value_spec: 0.1.0 names
    START_KINDS,
    SUPPORTED_KINDS,
    refuse_unsupported_kinds,
    start_value_spec,
)
from ._penalties import check_constraint_names  # noqa: F401 - a 0.1.0 name here
from ._perturb import perturbation_error  # noqa: F401 - a 0.1.0 name here
from ._settings import unused_issue


def check_pybnf(path: str | Path, models: ModelAccess) -> tuple[Problem | None, list[Issue]]:
    """Read a PyBNF problem; return it (or None) with every issue found.

    Parameters
    ----------
    path : str or Path
        The ``.conf`` file.
    models : ModelAccess
        How to load model files and generate BNGL networks
        (:data:`bngfit.simulate._models.MODEL_ACCESS` for bngsim and BNG2.pl).
    """
    path = Path(path)
    try:
        config = read_conf(path)
    except InputError as err:
        return None, list(err.issues)
    try:
        problem = build_problem(config, models)
        # one line for every setting not used, after the file's other warnings
        unused = unused_issue(config)
        return problem, [*config.warnings, *problem.warnings, *([unused] if unused else [])]
    except InputError as err:
        return None, [*config.warnings, *err.issues]


def build_problem(config: PybnfConfig, models: ModelAccess) -> Problem:
    """The problem a PyBNF configuration describes, built by its edition's builder.

    Raises
    ------
    InputError
        Anything the configuration, its data or its models get wrong (file,
        line, id and value named).
    UnsupportedError
        A feature this version does not compute.
    """
    _refuse_unsupported(config)
    if config.edition == 2:
        return edition2_problem(config, models)
    return edition1_problem(config, models)


def _refuse_unsupported(config: PybnfConfig) -> None:
    f = config.path
    check_supported(config)
    if config.noise_models and config.edition == 1:
        raise UnsupportedError("noise_model is not supported yet by bngfit", file=f,
                               row=config.noise_models[0].line)
    if config.objfunc is not None and config.objfunc not in SUPPORTED_OBJFUNCS:
        raise UnsupportedError(
            f"objfunc '{config.objfunc.value}' is not supported yet; use one of "
            f"{', '.join(o.value for o in SUPPORTED_OBJFUNCS)}", file=f,
            row=config.objfunc_line, value=config.objfunc.value)
    refuse_unsupported_kinds(config)
