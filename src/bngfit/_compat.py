"""Deprecated flat import paths of bngfit 0.1 (``bngfit.petab_io``, ...).

Version 0.1 kept every module flat in ``bngfit/``; since 0.2 the package is laid
out by stage. For one release the old paths keep importing, as aliases of the
modules that now hold the same code, with a :class:`DeprecationWarning` naming the
new place. Five old names are now package names (``problem``, ``plan``,
``simulate``, ``objective``, ``cli``); those packages answer the old module's
names themselves through :func:`old_names`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# old flat module -> the module that holds its code now
MOVED = {
    "model_info": "problem._model_info", "conditions": "problem._conditions",
    "scales": "problem._scales", "formulas": "problem._formulas",
    "mathfuncs": "problem._mathfuncs", "priors": "problem._priors",
    "loader": "problem._load",
    "tables": "files._tables", "yamlfile": "files._yaml", "limits": "files._limits",
    "outputs": "files._outputs", "bngl_cache": "files._bngl_cache",
    "bngl_filter": "files._bngl_filter",
    "net_text": "simulate._net_text", "sbml_check": "simulate._sbml_check",
    "bngl_network": "simulate._bngl_network", "simulate_models": "simulate._models",
    "petab_io": "petab._read", "petab_cells": "petab._cells",
    "petab_observables": "petab._observables", "petab_yaml": "petab._yaml",
    "simtable": "petab._simtable",
    "pybnf_conf": "pybnf.conf._conf", "pybnf_conf_checks": "pybnf.conf._checks",
    "pybnf_keys": "pybnf.conf._keys", "pybnf_parse": "pybnf.conf._parse",
    "pybnf_records": "pybnf.conf._records", "pybnf_entries": "pybnf.conf._entries",
    "pybnf_support": "pybnf.conf._support", "pybnf_exp": "pybnf._exp",
    "pybnf_prop": "pybnf.bpsl._prop", "bngl_template": "pybnf.bngl._template",
    "bngl_protocol": "pybnf.bngl._protocol", "pybnf_problem": "pybnf.build._problem",
    "pybnf_edition2": "pybnf.build._edition2", "pybnf_noise2": "pybnf.build._noise2",
    "pybnf_data": "pybnf.build._data", "pybnf_models": "pybnf.build._models",
    "plan_phases": "plan._phases", "plan_outputs": "plan._outputs",
    "kernels": "observe._kernels", "transforms": "observe._transforms",
    "noise": "likelihood._noise", "constraints": "likelihood._penalties",
    "evaluation": "objective._evaluation", "validity": "objective._status",
    "hierarchical": "objective._hierarchical", "gradcheck": "objective._gradcheck",
    "optimizers": "optimize._local", "fides_dense": "optimize._fides_dense",
    "racing": "optimize._racing", "sampling": "optimize._sampling",
    "multistart": "optimize._multistart", "fit_settings": "optimize._settings",
    "executors": "optimize._executors", "pool": "optimize._pool",
    "workers": "optimize._workers", "dask_engine": "optimize._dask",
    "results": "result._types", "store": "result._store",
    "store_files": "result._store_files", "plots": "result._plots",
    "cli_args": "cli._args", "cli_fit": "cli._fit", "cli_io": "cli._io",
    "points": "cli._points",
}


def _warn(old: str, new: str) -> None:
    """Warn that ``bngfit.<old>`` is deprecated in favour of ``bngfit.<new>``."""
    warnings.warn(f"bngfit.{old} is deprecated and will be removed in bngfit 0.3; "
                  f"import from bngfit.{new} instead", DeprecationWarning, stacklevel=3)


class _AliasLoader(importlib.abc.Loader):
    """Hands out the new module under the old name."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        """The new module (imported if need be)."""
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing: the module is the new one, already executed."""
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``bngfit.<old flat name>`` and aliases it to its new module."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """An alias spec for an old flat name (warning that it moved), else None."""
        head, _, old = fullname.partition(".")
        if head != "bngfit" or old not in MOVED:
            return None
        new = MOVED[old]
        _warn(old, new)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"bngfit.{new}"))


def install() -> None:
    """Make the old flat paths importable (once per process)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())


def old_names(package: str, old_module: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` answering the old flat module's names, with a warning.

    Parameters
    ----------
    package : str
        The package that took the old module's name (``"simulate"``).
    old_module : str
        The module that holds the old module's code now (``"simulate._engine"``).
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        module = importlib.import_module(f"bngfit.{old_module}")
        try:
            value = getattr(module, name)
        except AttributeError:
            raise AttributeError(f"module 'bngfit.{package}' has no attribute '{name}'") from None
        _warn(f"{package}.{name}", f"{old_module.split('._')[0]} (or bngfit.{old_module})")
        return value

    return __getattr__
