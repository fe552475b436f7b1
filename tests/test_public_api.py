"""The public names only grow.

``data/public_names_0.1.0.json`` lists, for bngfit 0.1.0 in its flat layout
(commit f399215), the names of the package and the public classes, functions
and constants each of its modules defined. Every one must stay importable
under its old path (through the deprecated flat-module aliases) so user code
written against 0.1.0 keeps running for one release.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings

import pytest

import bngfit
from tests.helpers import REPO

NAMES = json.loads((REPO / "tests" / "data" / "public_names_0.1.0.json").read_text())


def test_package_names_only_grow():
    assert set(NAMES["bngfit"]) <= set(bngfit.__all__)
    for name in bngfit.__all__:
        assert getattr(bngfit, name) is not None


@pytest.mark.parametrize("module", sorted(m for m in NAMES if m != "bngfit"))
def test_old_module_paths_still_import(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mod = importlib.import_module(module)
        missing = [n for n in NAMES[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lost {missing}"


@pytest.mark.parametrize("old", ["petab_io", "multistart", "pybnf_conf", "store"])
def test_old_flat_paths_warn(old):
    from bngfit._compat import MOVED

    sys.modules.pop(f"bngfit.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"bngfit.{old} is deprecated.*bngfit.{MOVED[old]}"):
        mod = importlib.import_module(f"bngfit.{old}")
    assert mod is importlib.import_module(f"bngfit.{MOVED[old]}")


def test_old_names_of_renamed_packages_warn():
    import bngfit.simulate

    with pytest.warns(DeprecationWarning, match="bngfit.simulate.sample_grid"):
        grid = bngfit.simulate.sample_grid
    from bngfit.simulate._engine import sample_grid

    assert grid is sample_grid


def test_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    assert bngfit.__version__ == version("bngfit")
