"""Parsing formulas imports petab without jsonschema's IRI grammars, and hides nothing else."""

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
print("rfc3987_syntax" in sys.modules, sys.modules.get("rfc3987_syntax", 0) is None,
      "petab.v1.math" in sys.modules)
"""


def _run(before: str) -> list[str]:
    code = CHECK.format(before=before, path=str(EXAMPLE))
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_petab_is_imported_without_the_iri_grammars_and_nothing_stays_hidden():
    # not imported, and no None left in sys.modules that would break a later import
    assert _run("") == ["False", "False", "True"]


def test_a_process_that_loaded_jsonschema_first_keeps_it_whole():
    out = _run("import jsonschema\ntry:\n    import rfc3987_syntax\nexcept ImportError:\n"
               "    pass")
    assert out[1] == "False" and out[2] == "True"
