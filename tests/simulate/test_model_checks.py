"""Model files are checked before they are simulated: invalid SBML, Antimony errors.

Invalid SBML is refused with libsbml's message and line, a valid one loads,
every shared SBML model passes the check, an Antimony syntax error names its
line, and loading a BNGL model leaves the process's output streams alone.
"""

from __future__ import annotations

import sys

import pytest

from bngfit import load_problem
from bngfit.errors import InputError
from bngfit.simulate._engine import read_model_info
from bngfit.simulate._sbml_check import check_model_file
from tests.helpers import EXAMPLE, copy_into, shared_path

CONVERSION = EXAMPLE.parent  # the example folder, copied and changed by the tests


def _sbml_of_conversion() -> str:
    antimony = pytest.importorskip("antimony")
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString((CONVERSION / "model.ant").read_text()) != -1
    return antimony.getSBMLString("conversion")


SBML_BAD = [
    ("undefined-product",
     ('<speciesReference species="B" stoichiometry="1" constant="true"/>\n'
      "        </listOfProducts>",
      '<speciesReference species="C" stoichiometry="1" constant="true"/>\n'
      "        </listOfProducts>"),
     ("'C'", "undefined", "21111")),
    ("negative-compartment", ('size="1"', 'size="-1"'), ("'cell'", "'-1'", "positive")),
    ("zero-compartment", ('size="1"', 'size="0"'), ("'cell'", "positive")),
    ("undefined-symbol", ("<ci> k1 </ci>", "<ci> kx </ci>"), ("'kx'", "kineticLaw")),
    ("undefined-compartment", ('<species id="A" compartment="cell"',
                               '<species id="A" compartment="cyt"'), ("'cyt'", "'A'")),
    ("duplicate-id", ('<parameter id="k2"', '<parameter id="k1"'), ("'k1'", "Duplicate")),
    ("unknown-math", ("<times/>", "<foo/>"), ("<foo>",)),
]


@pytest.mark.parametrize("case", SBML_BAD, ids=[c[0] for c in SBML_BAD])
def test_invalid_sbml_is_refused_with_libsbml_message(tmp_path, case):
    _, (old, new), expect = case
    sbml = _sbml_of_conversion()
    assert old in sbml
    d = copy_into(CONVERSION, tmp_path)
    (d / "model.xml").write_text(sbml.replace(old, new, 1))
    y = d / "problem.yaml"
    y.write_text(y.read_text().replace("model.ant", "model.xml"))
    with pytest.raises(InputError) as exc:
        load_problem(y)
    msg = str(exc.value)
    assert "model.xml:" in msg  # with the line libsbml gives
    for piece in expect:
        assert piece in msg, msg


def test_valid_sbml_of_the_example_loads(tmp_path):
    d = copy_into(CONVERSION, tmp_path)
    (d / "model.xml").write_text(_sbml_of_conversion())
    y = d / "problem.yaml"
    y.write_text(y.read_text().replace("model.ant", "model.xml"))
    assert load_problem(y).model.species == ("A", "B")


def test_compartment_size_set_by_an_assignment_is_not_refused(tmp_path):
    sbml = _sbml_of_conversion().replace('size="1"', 'size="-1"').replace(
        "<listOfInitialAssignments>",
        '<listOfInitialAssignments>\n      <initialAssignment symbol="cell"><math '
        'xmlns="http://www.w3.org/1998/Math/MathML"><cn> 2 </cn></math>'
        "</initialAssignment>")
    p = tmp_path / "m.xml"
    p.write_text(sbml)
    check_model_file(p)  # no error


def test_every_shared_sbml_model_passes_the_check():
    models = sorted(shared_path("benchmarks", "petab").glob("*/*.xml"))
    models += sorted(shared_path("petab_test_suite").rglob("*.xml"))
    assert len(models) > 20
    for m in models:
        check_model_file(m)


def test_antimony_syntax_error_names_its_line(tmp_path):
    d = copy_into(CONVERSION, tmp_path)
    (d / "model.ant").write_text("model m\n  species A;\n  A -> ; k1*\nend\n")
    with pytest.raises(InputError) as exc:
        load_problem(d / "problem.yaml")
    assert "model.ant:3" in str(exc.value) and "Antimony" in str(exc.value)


def test_loading_bngl_keeps_the_output_streams(tmp_path, monkeypatch):
    bngl = shared_path("benchmarks", "pybnf", "demo", "parabola.bngl").read_text()
    for v in ("v1", "v2", "v3"):
        bngl = bngl.replace(f"{v}__FREE", "1")
    (tmp_path / "m.bngl").write_text(bngl)
    monkeypatch.setattr(sys, "argv", ["script.py", "-q"])
    before = (sys.stdout, sys.stderr)
    try:
        read_model_info(tmp_path / "m.bngl")
        after = (sys.stdout, sys.stderr)
    finally:
        sys.stdout, sys.stderr = before
    assert after == before
