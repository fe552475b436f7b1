"""Benchmark problems of the PEtab benchmark collection at nominal parameters.

Reference values are published: Boehm et al. 2014 fval 138.2220 (the
benchmark collection's reported optimum, reached at its nominal parameters);
Brannmark et al. 2010 (with pre-equilibration) llh -141.889.
"""

from __future__ import annotations

import json

import pytest

from bngfit.cli._main import main
from tests.helpers import shared_path

CASES = [
    ("Boehm_JProteomeRes2014", 138.2220),
    ("Brannmark_JBC2010", 141.889),
]


@pytest.mark.parametrize(("name", "fval"), CASES)
def test_nominal_matches_published(name, fval, capsys):
    yaml_path = shared_path("benchmarks", "petab", name, f"{name}.yaml")
    assert main(["evaluate", str(yaml_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fval"] == pytest.approx(fval, abs=1e-3)
    assert out["llh"] == pytest.approx(-fval, abs=1e-3)
