"""Load warnings reach every command once, and a fit keeps those that change the objective.

Real processes (``python -m bngfit.cli``); the warning is the misspelt key of
``helpers.conf_with_unknown_key``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import conf_with_unknown_key


@pytest.mark.parametrize("command", ["evaluate", "check-grad", "simulate"])
def test_every_command_prints_load_warnings(tmp_path, command):
    """On stderr, once, through the command line's own logging (a real process)."""
    conf = conf_with_unknown_key(tmp_path)
    argv = [command, str(conf)]
    if command == "simulate":
        argv += ["-o", str(tmp_path / "sim.tsv")]
    proc = subprocess.run([sys.executable, "-m", "bngfit.cli", *argv], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "objfnc" in ln]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("bngfit: warning: ") and "demo_xml.conf:12" in lines[0]
    assert "objfnc" not in proc.stdout


def test_a_fit_keeps_and_shows_the_warnings_that_change_the_objective(tmp_path):
    """fit prints the warning once, its summary names it, the store keeps it for show."""
    conf = conf_with_unknown_key(tmp_path)
    store = tmp_path / "run.db"
    proc = subprocess.run(
        [sys.executable, "-m", "bngfit.cli", "fit", str(conf), "--starts", "2", "--race", "1",
         "--engine", "sequential", "--no-progress", "--store", str(store)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if "objfnc" in ln]) == 1, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if "objfnc" in ln]
    assert line.startswith("the objective differs from the files as written:")
    assert "demo_xml.conf:12" in line
    shown = subprocess.run([sys.executable, "-m", "bngfit.cli", "show", str(store), "--json"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    [warning] = json.loads(shown.stdout)["warnings"]
    assert "objfnc" in warning and "demo_xml.conf:12" in warning
