"""Parsing formulas imports only petab's grammar (a private copy), and hides nothing."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import EXAMPLE

CHECK = """
import sys
{before}
import bngfit
problem = bngfit.load_problem({path!r})
assert problem.observables, "the formulas were parsed"
heavy = [m for m in ("jsonschema", "scipy.stats", "matplotlib", "rfc3987_syntax")
         if m in sys.modules]
print(",".join(heavy) or "-", "petab" in sys.modules, "petab.v1.math" in sys.modules,
      sys.modules.get("rfc3987_syntax", 0) is None)
{after}
"""

# a user's own import of petab after bngfit's: the whole package, working
USER = """
import petab
import petab.v1.math
assert str(petab.v1.math.sympify_petab("a + 2*b")) == "a + 2.0*b"
assert hasattr(petab.v1, "Problem") and hasattr(petab.v1, "visualize")
print("user-ok")
"""


def _run(before: str, after: str = "") -> list[str]:
    code = CHECK.format(before=before, path=str(EXAMPLE), after=after)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_parsing_loads_neither_petabs_package_nor_its_heavy_imports():
    # nothing of petab stays in sys.modules, nor a None that would break a later import
    assert _run("", USER) == ["-", "False", "False", "False", "user-ok"]


def test_a_process_that_imported_petab_first_keeps_it_whole():
    out = _run("import petab", USER)
    assert out[1:] == ["True", "True", "False", "user-ok"]
    assert "rfc3987_syntax" not in out[0].split(",") or out[3] == "False"
