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
import warnings

import pytest

import bngfit

from .conftest import REPO

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
