"""Loading a model with bngsim and reading its names (part of the simulate stage).

Every format goes through :func:`load_bngsim_model`: BNGL through bngfit's own
filtered network generation (:mod:`bngfit.simulate._bngl_network`), ``.net`` through a
checked copy (:mod:`bngfit.simulate._net_text`), SBML and Antimony after
:mod:`bngfit.simulate._sbml_check`. :class:`ModelInfo` carries the names as plain data.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bngfit.errors import InputError, MissingExtraError
from bngfit.files import store_text
from bngfit.problem import ModelAccess, ModelInfo

from ._bngl_network import load_bngl, network
from ._net_text import check_net_text
from ._sbml_amounts import sbml_for_bngsim
from ._sbml_check import (
    ANTIMONY_SUFFIXES,
    SBML_SUFFIXES,
    amount_compartments,
    antimony_to_sbml,
    checked_document,
)
from ._sbml_initials import species_initials

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import bngsim

MODEL_SUFFIXES = (".xml", ".sbml", ".ant", ".net", ".bngl")


def load_bngsim_model(path: Path) -> bngsim.Model:
    """The bngsim model of the file ``path``, loaded by its suffix (see the module doc).

    Raises
    ------
    InputError
        The file is missing, of unknown format, refused, or does not load.
    MissingExtraError
        The format needs an optional package that is not installed.
    """
    import bngsim

    if not path.is_file():
        raise InputError("model file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise InputError(
            f"cannot tell the model format from the suffix '{suffix}'; "
            f"use one of {', '.join(MODEL_SUFFIXES)}",
            file=str(path),
        )
    if suffix == ".bngl":
        # Never bngsim.Model.load: it hands BNG2.pl (which runs actions as Perl)
        # the file's own statements; see bngfit.simulate._bngl_network.
        return load_bngl(path)
    # bngsim compiles a .net file's expressions into C later: it gets a checked
    # copy in bngfit's private cache (see bngfit.simulate._net_text); SBML with
    # species in amounts a copy where they are in a compartment of size 1
    loaded = _checked_net_copy(path) if suffix == ".net" else _amounts_moved(path) or path
    try:
        return bngsim.Model.load(loaded)
    except ImportError as err:
        raise MissingExtraError(
            f"loading {loaded.name} needs an optional package ({err}); "
            "install it with: pip install 'bngsim[antimony]'"
        ) from None
    except bngsim.BngsimError as err:
        text = str(err).replace(str(loaded), path.name)  # the user's file, not the copy
        raise InputError(f"model does not load: {text.splitlines()[0]}",
                         file=str(path)) from None
    except (OSError, ValueError) as err:
        text = str(err).replace(str(loaded), path.name)
        raise InputError(f"model does not load: {text}", file=str(path)) from None


def _amounts_moved(path: Path) -> Path | None:
    """A copy of an SBML or Antimony model with its species in amounts moved, or None.

    See :mod:`bngfit.simulate._sbml_amounts`; None where the model has none
    (or is of another format): bngsim loads the file itself.
    """
    suffix = path.suffix.lower()
    if suffix not in (*SBML_SUFFIXES, *ANTIMONY_SUFFIXES):
        return None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the model: {err.strerror or err}",
                         file=str(path)) from None
    if suffix in SBML_SUFFIXES:
        if b"hasOnlySubstanceUnits" not in data:
            return None
        text = sbml_for_bngsim(path)
    else:
        if b"substanceOnly" not in data and b"hasOnlySubstanceUnits" not in data:
            return None
        sbml = antimony_to_sbml(path)
        text = None if sbml is None else sbml_for_bngsim(path, sbml)
    return None if text is None else store_text(path.stem, text, suffix=".xml")


def _checked_net_copy(path: Path) -> Path:
    """A copy of the network file ``path`` in the private cache, after its text is checked.

    Raises
    ------
    InputError
        The file cannot be read, or its text is refused (:func:`check_net_text`).
    """
    try:
        text = check_net_text(path.read_bytes(), str(path))
    except OSError as err:
        raise InputError(f"cannot read the model: {err.strerror or err}",
                         file=str(path)) from None
    return store_text(path.stem, text, suffix=".net")


def read_model_info(path: str | Path) -> ModelInfo:
    """Load a model and return its names (see :class:`ModelInfo`).

    Raises
    ------
    InputError
        If the file is missing, of unknown format, invalid (an SBML or
        Antimony model, see :mod:`bngfit.simulate._sbml_check`), or does not load.
    MissingExtraError
        If the format needs an optional extra that is not installed.
    """
    path = Path(path)
    doc = checked_document(path)
    in_amounts = amount_compartments(doc)
    factors, fixed = species_initials(doc)
    model = load_bngsim_model(path)
    info = dataclasses.replace(model_info_of(path, model), amount_compartments=in_amounts,
                               initial_factors=factors, fixed_initials=fixed)
    if not (info.species or info.parameters or info.expressions):
        raise InputError("the model is empty: no species, parameters or rules (an empty or "
                         "truncated file?)", file=str(path))
    return info


def model_info_of(path: Path, model: bngsim.Model) -> ModelInfo:
    """The names and default parameter values of a loaded model.

    Parameters
    ----------
    path : Path
        The model file (recorded in the result).
    model : bngsim.Model
        Its bngsim model.

    Returns
    -------
    ModelInfo
        Compartment sizes are listed as compartments, not parameters; bngsim's
        synthesized parameter slots are left out.
    """
    internal = _internal_params(model)
    comps = tuple(model.compartment_size_params)
    primary = [p for p in model.primary_param_names if p not in internal]
    params = tuple(p for p in primary if p not in comps)
    defaults = {p: float(model.get_param(p)) for p in (*params, *comps)}
    return ModelInfo(
        path=path,
        species=tuple(model.species_names),
        observables=tuple(model.observable_names),
        expressions=tuple(model.function_names),
        parameters=params,
        compartments=comps,
        defaults=defaults,
        no_gradient=_no_gradient(model),
    )


def _no_gradient(model: bngsim.Model) -> str | None:
    """Why bngsim has no sensitivities through this model's events whatever is fitted.

    bngsim's own check with no parameter requested tests what does not depend on
    the request (an execution delay, a non-persistent trigger); what depends on
    it is decided at each run.
    """
    core = model._core
    if getattr(core, "n_events", 0) <= 0:
        return None
    try:
        reason = core.event_sensitivity_unsupported_reason([], [])
    except (AttributeError, TypeError, RuntimeError):  # another bngsim: decided at run time
        return None
    return " ".join(str(reason).split()) if reason else None


def _internal_params(model: bngsim.Model) -> set[str]:
    """The parameter slots bngsim synthesizes (``_V0_<comp>``, function values): no knobs."""
    try:
        flags = model.param_is_internal
    except AttributeError:  # a bngsim without the flag synthesizes none
        return set()
    return {n for n, f in zip(model.param_names, flags, strict=True) if f}


MODEL_ACCESS = ModelAccess(info=read_model_info, network=network)
"""The model services the readers are handed: bngsim loading and BNG2.pl."""


def plain_simulator(model: bngsim.Model) -> bngsim.Simulator:
    """A Simulator without sensitivities, on compiled RHS code where possible.

    Compiled code (the same cached artifact a sensitivity Simulator builds) is
    faster than bngsim's expression evaluator even for small models, and makes
    plain runs independent of whether a sensitivity Simulator was built first
    (which otherwise hands its compiled code to later Simulators).
    """
    import bngsim

    try:
        return bngsim.Simulator(model, codegen=True)
    except (RuntimeError, OSError, ValueError) as err:  # no compiler, unsupported model
        log.debug("compiled RHS unavailable, using bngsim's evaluator: %s", err)
        return bngsim.Simulator(model)


def codegen_cache_dir() -> str:
    """Where bngsim caches compiled sensitivity code (for messages and docs)."""
    return os.environ.get(
        "BNGSIM_CODEGEN_CACHE_DIR", str(Path.home() / ".cache" / "bngsim" / "codegen")
    )
