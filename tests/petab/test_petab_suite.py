"""The official PEtab v1 test suite, through the CLI (simulate and evaluate --json).

Expected simulations, chi2 and llh come from the suite's solution files, with
each case's own tolerances.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from bngfit.cli._main import main
from tests.helpers import SHARED

SUITE = SHARED / "petab_test_suite" / "v1"
CASES = sorted(p.name for p in SUITE.iterdir() if p.is_dir()) if SUITE.is_dir() else []


def _case(case: str):
    folder = SUITE / case
    if not folder.is_dir():
        pytest.skip(f"PEtab test suite not found at {SUITE}")
    solution = yaml.safe_load((folder / f"_{case}_solution.yaml").read_text())
    return folder / f"_{case}.yaml", folder, solution


def test_suite_present_when_shared_is():
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    assert len(CASES) == 20


@pytest.mark.parametrize("case", CASES or ["0001"])
def test_evaluate_json_matches_llh_and_chi2(case, capsys):
    problem, _, solution = _case(case)
    assert main(["evaluate", str(problem), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["llh"] == pytest.approx(solution["llh"], abs=solution["tol_llh"])
    assert out["chi2"] == pytest.approx(solution["chi2"], abs=solution["tol_chi2"])
    assert out["fval"] == pytest.approx(-solution["llh"], abs=solution["tol_llh"])
    assert all(np.isfinite(v) for v in out["grad"].values())


@pytest.mark.parametrize("case", CASES or ["0001"])
def test_simulate_matches_expected_table(case, tmp_path, capsys):
    problem, folder, solution = _case(case)
    out = tmp_path / "sim.tsv"
    assert main(["simulate", str(problem), "-o", str(out)]) == 0
    got = pd.read_csv(out, sep="\t")
    want = pd.concat(
        [pd.read_csv(folder / f, sep="\t") for f in solution["simulation_files"]],
        ignore_index=True,
    )
    assert len(got) == len(want)
    keys = ["observableId", "simulationConditionId", "time"]
    for k in keys:
        assert got[k].astype(str).tolist() == want[k].astype(str).tolist()
    np.testing.assert_allclose(got["simulation"], want["simulation"], rtol=0,
                               atol=solution["tol_simulations"])
