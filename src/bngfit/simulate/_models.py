"""Loading a model with bngsim and reading its names (part of the simulate stage).

Every format goes through :func:`_load_bngsim_model`: BNGL through bngfit's own
filtered network generation (:mod:`bngfit.simulate._bngl_network`), ``.net`` through a
checked copy (:mod:`bngfit.simulate._net_text`), SBML and Antimony after
:mod:`bngfit.simulate._sbml_check`. :class:`ModelInfo` carries the names as plain data.
"""

from __future__ import annotations

from pathlib import Path

from bngfit.errors import InputError, MissingExtraError
from bngfit.problem._model_info import ModelAccess, ModelInfo

MODEL_SUFFIXES = (".xml", ".sbml", ".ant", ".net", ".bngl")


def _load_bngsim_model(path: Path):
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
        from ._bngl_network import load_bngl

        return load_bngl(path)
    if suffix == ".net":
        # bngsim compiles this file's expressions into C later: it gets a
        # checked copy in bngfit's private cache (see bngfit.simulate._net_text)
        from bngfit.files import _bngl_cache as bngl_cache

        from ._net_text import check_net_text

        try:
            text = check_net_text(path.read_bytes(), str(path))
        except OSError as err:
            raise InputError(f"cannot read the model: {err.strerror or err}",
                             file=str(path)) from None
        source, path = path, bngl_cache.store_text(path.stem, text, suffix=".net")
    else:
        source = path
    try:
        return bngsim.Model.load(path)
    except ImportError as err:
        raise MissingExtraError(
            f"loading {path.name} needs an optional package ({err}); "
            "install it with: pip install 'bngsim[antimony]'"
        ) from None
    except bngsim.BngsimError as err:
        text = str(err).replace(str(path), source.name)  # the user's file, not the copy
        raise InputError(f"model does not load: {text.splitlines()[0]}",
                         file=str(source)) from None
    except (OSError, ValueError) as err:
        text = str(err).replace(str(path), source.name)
        raise InputError(f"model does not load: {text}", file=str(source)) from None


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
    from ._sbml_check import check_model_file

    path = Path(path)
    check_model_file(path)
    model = _load_bngsim_model(path)
    info = _info_of(path, model)
    if not (info.species or info.parameters or info.expressions):
        raise InputError("the model is empty: no species, parameters or rules (an empty or "
                         "truncated file?)", file=str(path))
    return info


def _info_of(path: Path, model) -> ModelInfo:
    internal = set(model._internal_param_names())
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
    )


def _network(filtered, source: Path, line_of=None) -> Path:
    from ._bngl_network import network

    return network(filtered, source, line_of)


MODEL_ACCESS = ModelAccess(info=read_model_info, network=_network)
"""The model services the readers are handed: bngsim loading and BNG2.pl."""
