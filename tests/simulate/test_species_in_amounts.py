"""Species in amounts (SBML hasOnlySubstanceUnits) in compartments of any size.

The model: S decays by a second-order rate law written in amounts,
``k * S * S / C`` (amount per time), so with S in amounts

    dS/dt = -k S^2 / C,   S(t) = S0 / (1 + k S0 t / C).

Read as a concentration (what bngsim 0.16 would do with the file as it is),
both the values and the dynamics are off by the compartment's size. The
references are this closed form and central finite differences of the values.
"""

from __future__ import annotations

import numpy as np
import pytest

import bngfit
from bngfit.simulate._models import read_model_info
from bngfit.simulate._sbml_check import check_model_file
from tests.helpers import write_problem

TIMES = (0.5, 1.0, 2.0, 4.0)
S0, K = 4.0, 0.5

SBML = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m">
    <listOfCompartments>
      <compartment id="C" spatialDimensions="3" size="{size}" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S" compartment="C" {initial} hasOnlySubstanceUnits="true"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters><parameter id="k" value="0.5" constant="true"/></listOfParameters>
    <listOfReactions>
      <reaction id="r1" reversible="false">
        <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/>
        </listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><divide/><apply><times/><ci>k</ci><ci>S</ci><ci>S</ci></apply><ci>C</ci>
          </apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""
ANTIMONY = ("model m\n  compartment C = {size};\n  substanceOnly species S in C;\n"
            "  S = 4; k = 0.5;\n  r1: S -> ; k*S*S/C;\nend\n")


def closed_form(t, k=K, size=2.0):
    return S0 / (1.0 + k * S0 * np.asarray(t, float) / size)


def _problem(folder, model, model_name="model.xml", conditions=None, extra=()):
    path = write_problem(
        folder, model=model, model_name=model_name,
        parameters=[{"parameterId": "k", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": K, "estimate": 1}, *extra],
        observables=[{"observableId": "obs_S", "observableFormula": "S", "noiseFormula": 0.1}],
        measurements=[{"observableId": "obs_S", "simulationConditionId": "c0", "time": t,
                       "measurement": 1.0} for t in TIMES],
        conditions=conditions)
    return bngfit.load_problem(path)


@pytest.mark.parametrize(("name", "model", "model_name"), [
    ("amount", SBML.format(size=2, initial='initialAmount="4"'), "model.xml"),
    # a concentration of 2 in a compartment of size 2 is an amount of 4
    ("concentration", SBML.format(size=2, initial='initialConcentration="2"'), "model.xml"),
    ("antimony", ANTIMONY.format(size=2), "model.ant"),
])
def test_values_and_gradients_are_those_of_amounts(tmp_path, name, model, model_name):
    problem = _problem(tmp_path / name, model, model_name)
    assert read_model_info(problem.models[next(iter(problem.models))].path) \
        .amount_compartments == ("C",)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = problem.x_nominal + 0.1
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    np.testing.assert_allclose(ev.simulation, closed_form(TIMES, k=10 ** x[0]), rtol=1e-7)
    h = 1e-5
    fd = (obj(x + h, sensi=0).fval - obj(x - h, sensi=0).fval) / (2 * h)
    np.testing.assert_allclose(ev.grad, [fd], rtol=1e-6)


def test_the_tables_may_resize_a_compartment_of_species_in_amounts(tmp_path):
    # A condition sets C to 0.5: the amounts start at 4 all the same, and the
    # rate law (which names C) sees the new size.
    model = SBML.format(size=2, initial='initialAmount="4"')
    problem = _problem(tmp_path / "cond", model, conditions=[{"conditionId": "c0", "C": 0.5}])
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(problem.x_nominal, sensi=0)
    np.testing.assert_allclose(ev.simulation, closed_form(TIMES, size=0.5), rtol=1e-7)
    row = {"parameterId": "C", "parameterScale": "lin", "lowerBound": 0.1, "upperBound": 3,
           "nominalValue": 1.5, "estimate": 0}
    problem = _problem(tmp_path / "par", model, extra=[row])
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(problem.x_nominal, sensi=0)
    np.testing.assert_allclose(ev.simulation, closed_form(TIMES, size=1.5), rtol=1e-7)


def test_a_concentration_in_a_compartment_sized_by_an_assignment(tmp_path):
    # C's size comes from an initial assignment (2 * V0 = 2): the initial amount
    # of S is its concentration times that size, known only when the model runs
    model = SBML.format(size=1, initial='initialConcentration="2"').replace(
        '<parameter id="k" value="0.5" constant="true"/>',
        '<parameter id="k" value="0.5" constant="true"/>'
        '<parameter id="V0" value="1" constant="true"/>').replace(
        "<listOfReactions>",
        '<listOfInitialAssignments><initialAssignment symbol="C">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><cn>2</cn>'
        '<ci>V0</ci></apply></math></initialAssignment></listOfInitialAssignments>'
        "<listOfReactions>")
    problem = _problem(tmp_path / "ia", model)
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(problem.x_nominal, sensi=0)
    np.testing.assert_allclose(ev.simulation, closed_form(TIMES, size=2.0), rtol=1e-7)


def test_the_users_file_is_left_as_it_is(tmp_path):
    path = tmp_path / "m.xml"
    text = SBML.format(size=2, initial='initialAmount="4"')
    path.write_text(text)
    assert check_model_file(path) == ("C",)
    read_model_info(path)
    assert path.read_text() == text
