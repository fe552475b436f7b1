"""PyBNF free parameters that set species' initial values: closed forms, differences,
libroadrunner as PyBNF runs it, and refusals.

The conversion ``A -> B`` at rate k with a free initial value v of A:
A(t) = v exp(-k t), B(t) = v (1 - exp(-k t)), so dA/dv = exp(-k t). In an SBML or
Antimony model the free parameter is the species itself (``loguniform_var = A``,
as PyBNF reads it: the initial concentration); in a BNGL template a ``NAME__FREE``
parameter of a seed species. Expected values come from those closed forms (their
gradients by central differences of the closed form, never of bngfit), from
central differences of bngfit's objective value, or from libroadrunner run the
way PyBNF runs it (``init([S]) = value``, ``reset()``, ``simulate``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.linalg import expm

import bngfit
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.problem import Mutation, MutationOp
from tests.helpers import REPO, central_grad, copy_into, needs_bng

LN2PI = np.log(2 * np.pi)
T = np.arange(7.0)
AB = """model ab
  compartment c = 1;
  species A in c, B in c;
  A = 2; B = 0;
  J1: A -> B; k*A
  k = 0.5
end
"""


def _sbml(antimony_text):
    """The SBML of an Antimony model (written by the Antimony library, not bngfit)."""
    antimony = pytest.importorskip("antimony")
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(antimony_text) >= 0, antimony.getLastError()
    return antimony.getSBMLString(antimony.getModuleNames()[-1])


def _write_model(d, text, fmt, name="ab"):
    path = d / f"{name}.{fmt}"
    path.write_text(text if fmt == "ant" else _sbml(text))
    return path


def _write_exp(path, t, columns):
    """A PyBNF data table: ``columns`` maps a name to its values at ``t``."""
    rows = [" ".join([f"{ti:g}", *(repr(float(v[i])) for v in columns.values())])
            for i, ti in enumerate(t)]
    path.write_text("# time " + " ".join(columns) + "\n" + "\n".join(rows) + "\n")


def _ref_grad(fun, z, h=1e-6):
    """Central differences of an independent reference function (not bngfit's)."""
    g = np.zeros_like(z)
    for i in range(z.size):
        e = np.zeros_like(z)
        e[i] = h
        g[i] = (fun(z + e) - fun(z - e)) / (2 * h)
    return g


def _sos(sims, data):
    """PyBNF's sos objective as bngfit reports it: Gaussian nllh with sigma 1."""
    return sum(np.sum(0.5 * LN2PI + 0.5 * (sims[n] - data[n]) ** 2) for n in data)


def _assert_grad(actual, desired, rtol=1e-6):
    np.testing.assert_allclose(actual, desired, rtol=rtol,
                               atol=rtol * float(np.abs(desired).max()))


def _evaluate(conf, z):
    obj = bngfit.Objective(bngfit.load_problem(conf), rtol=1e-11, atol=1e-13)
    ev = obj(np.asarray(z, float), sensi=1)
    assert ev.ok, ev.message
    return obj, ev


# ------------------------------------------------------------ SBML and Antimony
def _ab_job(d, fmt, edition):
    _write_model(d, AB, fmt)
    data = {"A": 2.5 * np.exp(-0.4 * T) + 0.05 * np.cos(T),
            "B": 2.5 * (1 - np.exp(-0.4 * T)) - 0.03 * np.sin(T)}
    _write_exp(d / "p1.exp", T, data)
    conf = d / "job.conf"
    if edition == 1:
        conf.write_text(f"model = ab.{fmt} : p1.exp\nobjfunc = sos\n"
                        "loguniform_var = k 0.01 10\nloguniform_var = A 0.1 10\n"
                        "time_course = time: 6, suffix: p1\n")
    else:
        conf.write_text(f"edition = 2\nmodel: ab.{fmt}\nobjective = sos\n"
                        "loguniform_var = k 0.01 10\nloguniform_var = A 0.1 10\n"
                        "experiment: p1, data: p1.exp\n")
    return conf, data


@pytest.mark.parametrize("edition", [1, 2])
@pytest.mark.parametrize("fmt", ["ant", "xml"])
def test_species_as_free_parameter_matches_closed_form(tmp_path, fmt, edition):
    conf, data = _ab_job(tmp_path, fmt, edition)
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["k", "A"]
    # the species takes the parameter of its id, at the start of the simulation
    assert problem.conditions["p1"].mutations[0] == Mutation("A", MutationOp.SET, "A")

    def reference(z):
        k, v = 10**z
        # the data columns A and B read the trajectories, not the parameter A
        return _sos({"A": v * np.exp(-k * T), "B": v * (1 - np.exp(-k * T))}, data)

    z = np.log10([0.7, 1.8])
    obj, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    # the closed form's own derivatives: dA/dk = -t v e, dA/dv = e, dB/dk = t v e,
    # dB/dv = 1 - e (e = exp(-k t)); log10 coordinates: times v ln 10
    k, v = 10**z
    e = np.exp(-k * T)
    r_a, r_b = v * e - data["A"], v * (1 - e) - data["B"]
    exact = np.array([r_a @ (-T * v * e) + r_b @ (T * v * e), r_a @ e + r_b @ (1 - e)])
    np.testing.assert_allclose(ev.grad, exact * 10**z * np.log(10), rtol=1e-7)
    _assert_grad(ev.grad, _ref_grad(reference, z))
    _assert_grad(ev.grad, central_grad(obj, z), 1e-6)


def test_initial_value_alone_free(tmp_path):
    # no model parameter moves: the simulation has initial-value sensitivities only
    conf, data = _ab_job(tmp_path, "xml", 1)
    conf.write_text(conf.read_text().replace("loguniform_var = k 0.01 10\n", ""))
    k = 0.5  # the model's value

    def reference(z):
        v = 10 ** z[0]
        return _sos({"A": v * np.exp(-k * T), "B": v * (1 - np.exp(-k * T))}, data)

    z = np.log10([1.8])
    obj, ev = _evaluate(conf, z)
    assert [e.sens_params for e in obj.plan.experiments] == [()]
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z))


def test_gradient_against_the_initial_value_written_into_the_model(tmp_path):
    # An oracle that does not go through the free initial value at all: the model
    # file with A's initial value written in it, k fixed; central differences of
    # its objective value in v.
    conf, data = _ab_job(tmp_path, "ant", 1)
    k, v = 0.7, 1.8

    def fval_with_file_value(a0):
        d = tmp_path / f"file_{a0!r}"
        d.mkdir()
        _write_model(d, AB.replace("A = 2;", f"A = {a0!r};").replace("k = 0.5", f"k = {k!r}"),
                     "ant")
        _write_exp(d / "p1.exp", T, data)
        (d / "job.conf").write_text("model = ab.ant : p1.exp\nobjfunc = sos\n"
                                    "loguniform_var = k 0.01 10\n"
                                    "time_course = time: 6, suffix: p1\n")
        problem = bngfit.load_problem(d / "job.conf")
        obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
        ev = obj(problem.x_from_native({"k": k}), sensi=0)
        assert ev.ok, ev.message
        return ev.fval

    _, ev = _evaluate(conf, np.log10([k, v]))
    assert ev.fval == pytest.approx(fval_with_file_value(v), rel=1e-9)
    h = 1e-4
    d_dv = (fval_with_file_value(v + h) - fval_with_file_value(v - h)) / (2 * h)
    # optimizer coordinates are log10: d/dz = d/dv * v ln 10
    assert ev.grad[1] == pytest.approx(d_dv * v * np.log(10), rel=1e-6)


def test_mutants_change_the_free_initial_value(tmp_path):
    # PyBNF writes the parameter set into the model, then applies the mutant:
    # 'A*2' doubles the free initial value, 'A=5' replaces it.
    _write_model(tmp_path, AB, "ant")
    data = {"p1": 2.5 * np.exp(-0.4 * T) + 0.05 * np.cos(T),
            "p1dbl": 5.0 * np.exp(-0.4 * T) - 0.05,
            "p1five": 5.0 * np.exp(-0.3 * T) + 0.02}
    for name, values in data.items():
        _write_exp(tmp_path / f"{name}.exp", T, {"A": values})
    conf = tmp_path / "job.conf"
    conf.write_text("model = ab.ant : p1.exp\nmutant = ab dbl A*2 : p1dbl.exp\n"
                    "mutant = ab five A=5 : p1five.exp\nobjfunc = sos\n"
                    "loguniform_var = k 0.01 10\nloguniform_var = A 0.1 10\n"
                    "time_course = time: 6, suffix: p1\n")

    def reference(z):
        k, v = 10**z
        e = np.exp(-k * T)
        return _sos({"p1": v * e, "p1dbl": 2 * v * e, "p1five": 5 * e}, data)

    z = np.log10([0.6, 1.4])
    _, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z))


# A model of both kinds of species in a compartment of size 2: A given by
# initialConcentration, D by initialAmount (4, so concentration 2), C in amounts
# (hasOnlySubstanceUnits). Amt is A's amount.
SIZES = """model m
  compartment c = 2;
  species A in c, B in c, D in c;
  substanceOnly species C in c;
  A = 3; B = 0; D = 2; C = 1.5;
  J1: A -> B; c*k*A
  J2: C -> ; k2*C
  J3: D -> ; c*k*D
  Amt := A*c
  k = 0.5; k2 = 0.3
end
"""
SIZES_COLUMNS = ("A", "Amt", "C", "D")


def _sizes_job(d):
    libsbml = pytest.importorskip("libsbml")
    doc = libsbml.readSBMLFromString(_sbml(SIZES))
    d_species = doc.getModel().getSpecies("D")
    d_species.unsetInitialConcentration()
    d_species.setInitialAmount(4.0)
    (d / "m.xml").write_text(libsbml.writeSBMLToString(doc))
    data = {n: (1.0 + i) * np.exp(-0.4 * T) for i, n in enumerate(SIZES_COLUMNS)}
    _write_exp(d / "p1.exp", T, data)
    conf = d / "job.conf"
    conf.write_text("model = m.xml : p1.exp\nobjfunc = sos\nloguniform_var = k 0.01 10\n"
                    "loguniform_var = A 0.1 10\nloguniform_var = C 0.1 10\n"
                    "loguniform_var = D 0.1 10\ntime_course = time: 6, suffix: p1\n")
    return conf, data


def test_initial_concentrations_in_a_compartment_of_size_2_match_closed_form(tmp_path):
    # PyBNF sets an initial concentration: amount = value * 2 for every kind of
    # species (bngfit reads C, a species in amounts, as its amount).
    conf, data = _sizes_job(tmp_path)

    def sims(z):
        k, va, vc, vd = 10**z
        return {"A": va * np.exp(-k * T), "Amt": 2 * va * np.exp(-k * T),
                "C": 2 * vc * np.exp(-0.3 * T), "D": vd * np.exp(-k * T)}

    z = np.log10([0.7, 1.8, 0.9, 1.2])
    obj, ev = _evaluate(conf, z)
    np.testing.assert_allclose(ev.simulation, np.concatenate(list(sims(z).values())),
                               rtol=1e-8)
    assert ev.fval == pytest.approx(_sos(sims(z), data), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(lambda w: _sos(sims(w), data), z))
    _assert_grad(ev.grad, central_grad(obj, z), 1e-6)


def test_simulation_is_libroadrunner_as_pybnf_runs_it(tmp_path):
    # PyBNF's SBML model class: runner.model['init([S])'] = value, reset(), simulate.
    rr = pytest.importorskip("roadrunner")
    conf, _ = _sizes_job(tmp_path)
    k, va, vc, vd = 0.7, 1.8, 0.9, 1.2
    runner = rr.RoadRunner(str(tmp_path / "m.xml"))
    runner.integrator.relative_tolerance = 1e-12
    runner.integrator.absolute_tolerance = 1e-14
    runner.k = k
    for s, v in (("A", va), ("C", vc), ("D", vd)):
        runner.model[f"init([{s}])"] = v
    runner.reset()
    # amounts where bngfit reads amounts (C), concentrations elsewhere
    out = runner.simulate(0.0, 6.0, 7, selections=["[A]", "Amt", "C", "[D]"])
    expected = np.asarray(out).T.ravel()
    _, ev = _evaluate(conf, np.log10([k, va, vc, vd]))
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-6)


# ------------------------------------------------------------ edition 2: phases
PRODUCTION = """model pe
  J0: -> A; kp*on
  J1: A -> ; k*A
  A = 3; on = 0; kp = 1; k = 0.5
end
"""


def test_preequilibration_sets_the_initial_value_in_the_first_phase_only(tmp_path):
    # 2 time units with on = 1 from A(0) = v: A(2) = a + (v - a) exp(-2k), a = kp/k;
    # then washout (on = 0) from there: A(2) exp(-k t). Experiment 'plain' starts
    # from A(0) = v with on = 0. W = 2*A is a formula of the species, not the
    # parameter A.
    (tmp_path / "pe.ant").write_text(PRODUCTION)
    wash = 2.0 * np.exp(-0.5 * T) + 0.05 * np.cos(T)
    plain = 2.5 * np.exp(-0.5 * T) - 0.05
    _write_exp(tmp_path / "washout.exp", T, {"A": wash, "W": 2 * wash + 0.1})
    _write_exp(tmp_path / "plain.exp", T, {"A": plain})
    conf = tmp_path / "job.conf"
    conf.write_text("edition = 2\nmodel: pe.ant\nobjective = sos\n"
                    "loguniform_var = kp 0.01 10\nloguniform_var = k 0.01 10\n"
                    "loguniform_var = A 0.1 10\n"
                    "observable: W, formula: 2*A\n"
                    "condition: stim, perturbations: on = 1\n"
                    "condition: wash, perturbations: on = 0\n"
                    "experiment: washout, preequilibrate: stim, equil_t_end: 2, "
                    "condition: wash, data: washout.exp\n"
                    "experiment: plain, condition: wash, data: plain.exp\n")
    problem = bngfit.load_problem(conf)
    targets = {c: [m.target for m in problem.conditions[c].mutations]
               for c in ("washout__preeq", "washout", "plain")}
    # on = 1 of the pre-phase persists (a setParameter), A is not set again
    assert targets == {"washout__preeq": ["A", "on"], "washout": ["on", "on"],
                       "plain": ["A", "on"]}

    def reference(z):
        kp, k, v = 10**z
        a2 = kp / k + (v - kp / k) * np.exp(-2 * k)
        w = a2 * np.exp(-k * T)
        return _sos({"A": w, "W": 2 * w, "P": v * np.exp(-k * T)},
                    {"A": wash, "W": 2 * wash + 0.1, "P": plain})

    z = np.log10([1.7, 0.8, 2.2])
    obj, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-8)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-6)


def test_steady_state_preequilibration_keeps_the_total_the_free_initial_value_gives(
        tmp_path):
    # A <-> B conserves A + B = v: the steady state A = v kr/(kf + kr), B = v kf/(kf + kr)
    # depends on the free initial value. Then B is degraded (kd = 0.2):
    # x(t) = expm(M t) x_ss, M = [[-kf, kr], [kf, -kr - kd]].
    (tmp_path / "m.ant").write_text("""model m
  species A, B;
  A = 3; B = 0;
  J1: A -> B; kf*A
  J2: B -> A; kr*B
  J3: B -> ; kd*B*off
  kf = 0.5; kr = 0.3; kd = 0.2; off = 0
end
""")
    data = {"A": 1.0 + 0.1 * T, "B": 0.5 * np.exp(-0.1 * T)}
    _write_exp(tmp_path / "w.exp", T, data)
    conf = tmp_path / "job.conf"
    conf.write_text("edition = 2\nmodel: m.ant\nobjective = sos\n"
                    "loguniform_var = kf 0.01 10\nloguniform_var = kr 0.01 10\n"
                    "loguniform_var = A 0.1 10\n"
                    "condition: eq, perturbations: off = 0\n"
                    "condition: deg, perturbations: off = 1\n"
                    "experiment: w, preequilibrate: eq, condition: deg, data: w.exp\n")

    def reference(z):
        kf, kr, v = 10**z
        x_ss = v * np.array([kr, kf]) / (kf + kr)
        m = np.array([[-kf, kr], [kf, -kr - 0.2]])
        x = np.array([expm(m * t) @ x_ss for t in T])
        return _sos({"A": x[:, 0], "B": x[:, 1]}, data)

    z = np.log10([0.6, 0.4, 2.5])
    _, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-7)
    _assert_grad(ev.grad, _ref_grad(reference, z), 1e-5)


def test_edition2_condition_scales_the_free_initial_value(tmp_path):
    (tmp_path / "ab.ant").write_text(AB)
    data = 5.0 * np.exp(-0.4 * T) + 0.05 * np.cos(T)
    _write_exp(tmp_path / "p1.exp", T, {"A": data})
    conf = tmp_path / "job.conf"
    conf.write_text("edition = 2\nmodel: ab.ant\nobjective = sos\n"
                    "loguniform_var = k 0.01 10\nloguniform_var = A 0.1 10\n"
                    "condition: dbl, perturbations: A * 2\n"
                    "experiment: p1, condition: dbl, data: p1.exp\n")

    def reference(z):
        k, v = 10**z
        return _sos({"A": 2 * v * np.exp(-k * T)}, {"A": data})

    z = np.log10([0.6, 1.4])
    _, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z))


def test_several_species_sharing_one_initial_parameter(tmp_path):
    # A and C both start at the model parameter a0 (initial assignments): the
    # parameter route, total derivatives from bngsim.
    (tmp_path / "m.ant").write_text("""model m
  species A, C;
  A = a0; C = a0;
  J1: A -> ; k*A
  J2: C -> ; 2*k*C
  a0 = 1; k = 0.5
end
""")
    data = {"A": 2.0 * np.exp(-0.4 * T) + 0.05, "C": 2.0 * np.exp(-0.8 * T) - 0.05}
    _write_exp(tmp_path / "p1.exp", T, data)
    conf = tmp_path / "job.conf"
    conf.write_text("model = m.ant : p1.exp\nobjfunc = sos\nloguniform_var = k 0.01 10\n"
                    "loguniform_var = a0 0.1 10\ntime_course = time: 6, suffix: p1\n")

    def reference(z):
        k, a0 = 10**z
        return _sos({"A": a0 * np.exp(-k * T), "C": a0 * np.exp(-2 * k * T)}, data)

    z = np.log10([0.6, 1.4])
    _, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z))


# ------------------------------------------------------------ BNGL seed species
AB_BNGL = """begin model
begin parameters
  k k__FREE
  D0 A0__FREE
end parameters
begin molecule types
  A()
  B()
  C()
  D()
end molecule types
begin seed species
  A() A0__FREE
  C() 2*A0__FREE
  D() D0
end seed species
begin observables
  Molecules Atot A()
  Molecules Btot B()
  Molecules Ctot C()
  Molecules Dtot D()
end observables
begin reaction rules
  A() -> B() k
  C() -> 0 k
  D() -> 0 2*k
end reaction rules
end model
generate_network({overwrite=>1})
simulate({method=>"ode",t_end=>2,n_steps=>2,suffix=>"eq"})
simulate({method=>"ode",t_end=>6,n_steps=>6,suffix=>"p1"})
"""


@needs_bng
def test_bngl_seed_species_of_a_free_parameter_through_a_protocol(tmp_path):
    # A(0) = a0, C(0) = 2 a0 (an expression of the free parameter), D(0) = D0 =
    # a0 (a parameter of it); 2 time units of equilibration, then the measured
    # phase continues: A = a0 exp(-k (2 + t)), B = a0 - A, C = 2 A,
    # D = a0 exp(-2k (2 + t)). The mutant doubles A0__FREE.
    (tmp_path / "ab.bngl").write_text(AB_BNGL)
    base = {"Atot": 1.5 * np.exp(-0.4 * (2 + T)) + 0.02, "Btot": 1.5 - 1.5 * np.exp(-0.4 * T),
            "Ctot": 3.0 * np.exp(-0.4 * (2 + T)) - 0.02,
            "Dtot": 1.5 * np.exp(-0.8 * (2 + T)) + 0.03}
    dbl = {n: 2 * v + 0.01 for n, v in base.items()}
    _write_exp(tmp_path / "p1.exp", T, base)
    _write_exp(tmp_path / "p1dbl.exp", T, dbl)
    conf = tmp_path / "job.conf"
    conf.write_text("model = ab.bngl : p1.exp\nmutant = ab dbl A0__FREE*2 : p1dbl.exp\n"
                    "objfunc = sos\nloguniform_var = k__FREE 0.01 10\n"
                    "loguniform_var = A0__FREE 0.1 10\n")
    problem = bngfit.load_problem(conf)
    assert problem.conditions["p1__pre"].duration == 2.0

    def sims(k, a0):
        a = a0 * np.exp(-k * (2 + T))
        return {"Atot": a, "Btot": a0 - a, "Ctot": 2 * a, "Dtot": a0 * np.exp(-2 * k * (2 + T))}

    def reference(z):
        k, a0 = 10**z
        one, two = sims(k, a0), sims(k, 2 * a0)
        return _sos(one, base) + _sos(two, dbl)

    z = np.log10([0.6, 1.3])
    obj, ev = _evaluate(conf, z)
    assert ev.fval == pytest.approx(reference(z), rel=1e-9)
    _assert_grad(ev.grad, _ref_grad(reference, z))
    _assert_grad(ev.grad, central_grad(obj, z), 1e-6)


# ------------------------------------------------------------ the CLI
def test_check_grad_multi_eps_finds_no_mismatch(tmp_path, capsys):
    conf, _ = _sizes_job(tmp_path)
    assert main(["validate", str(conf)]) == 0
    capsys.readouterr()
    assert main(["check-grad", str(conf), "--multi-eps", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdicts"] == {"agrees": 4, "unresolved": 0, "mismatch": 0}, out


# ------------------------------------------------------------ refusals
REFUSED = [
    # (model text, free parameter, words of the message)
    ("model m\n  compartment c = 2;\n  species A in c;\n  A = 3;\n  J1: A -> ; k*A\n"
     "  k = 0.5\nend\n", "c", "is a compartment"),
    ("model m\n  species A;\n  A = 2*k;\n  J1: A -> ; k*A\n  k = 0.5\nend\n", "A",
     "an initial assignment sets its initial value"),
    ("model m\n  species A, $X;\n  A = 3; X = 1;\n  J1: A -> ; k*A*X\n  k = 0.5\nend\n", "X",
     "boundary or constant species"),
    ("model m\n  species A, R;\n  A = 3;\n  R := 2*A;\n  J1: A -> ; k*A\n  k = 0.5\nend\n",
     "R", "an assignment rule sets its value"),
    ("model m\n  species A, B;\n  A = 3; B = 2*A;\n  J1: A -> B; k*A\n  k = 0.5\nend\n", "A",
     "the initial assignment of 'B' reads its initial value"),
    ("model m\n  compartment c = 2;\n  c' = 0.1;\n  substanceOnly species C in c;\n  C = 3;\n"
     "  J1: C -> ; k*C\n  k = 0.5\nend\n", "C", "whose size is not a constant"),
    ("model m\n  species A;\n  A = 3;\n  p := 2*k;\n  J1: A -> ; p*A\n  k = 0.5\nend\n",
     "p", "rule, function or reaction rate"),
    ("model m\n  species A;\n  A = 3;\n  J1: A -> ; k*A\n  k = 0.5\nend\n", "J1",
     "has no parameter or species 'J1'"),
]


@pytest.mark.parametrize(("model", "pid", "words"), REFUSED,
                         ids=["compartment", "initial_assignment", "boundary",
                              "assignment_rule", "read_by_initial_assignment",
                              "amounts_in_variable_compartment", "rule", "reaction"])
@pytest.mark.parametrize("edition", [1, 2])
def test_what_pybnf_cannot_set_is_refused_naming_file_line_and_id(tmp_path, capsys, model,
                                                                   pid, words, edition):
    (tmp_path / "m.ant").write_text(model)
    _write_exp(tmp_path / "p1.exp", T[:3], {"A" if pid != "C" else "C": np.ones(3)})
    conf = tmp_path / "job.conf"
    if edition == 1:
        conf.write_text("model = m.ant : p1.exp\nobjfunc = sos\nloguniform_var = k 0.01 10\n"
                        f"loguniform_var = {pid} 0.1 10\ntime_course = time: 2, suffix: p1\n")
        line = 4
    else:
        conf.write_text("edition = 2\nmodel: m.ant\nobjective = sos\n"
                        f"loguniform_var = k 0.01 10\nloguniform_var = {pid} 0.1 10\n"
                        "experiment: p1, data: p1.exp\n")
        line = 5
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        bngfit.load_problem(conf)
    for command in ("validate", "check-grad"):
        assert main([command, str(conf)]) != 0
        out = capsys.readouterr()
        err = out.out + out.err
        assert f"job.conf:{line}" in err and f"'{pid}'" in err and words in err, err
        assert "Traceback" not in err


def test_operator_on_a_species_without_a_free_initial_value_stays_refused(tmp_path, capsys):
    _write_model(tmp_path, AB, "ant")
    _write_exp(tmp_path / "p1m1.exp", T, {"A": np.ones(T.size)})
    _write_exp(tmp_path / "p1.exp", T, {"A": np.ones(T.size)})
    conf = tmp_path / "job.conf"
    conf.write_text("model = ab.ant : p1.exp\nmutant = ab m1 B*2 : p1m1.exp\nobjfunc = sos\n"
                    "loguniform_var = k 0.01 10\nloguniform_var = A 0.1 10\n"
                    "time_course = time: 6, suffix: p1\n")
    assert main(["validate", str(conf)]) != 0
    out = capsys.readouterr()
    err = out.out + out.err
    assert "job.conf:2" in err and "'*' on the species 'B' is not supported" in err, err


# ------------------------------------------------------------ PyBNF's own example
ICFIT = REPO / "tests" / "data" / "pybnf_icfit"


def test_pybnf_initial_condition_fit_example(tmp_path, capsys):
    # PyBNF's own test job abc_ICfit.conf: 'uniform_var = A 5 50', A a species of
    # a COPASI-made SBML model (A <-> B <-> C). bngfit's simulation is
    # libroadrunner's run as PyBNF runs it; the gradient agrees with differences.
    rr = pytest.importorskip("roadrunner")
    conf = copy_into(ICFIT, tmp_path) / "abc_ICfit.conf"
    problem = bngfit.load_problem(conf)
    assert problem.x_names == ["kAB", "kBA", "kBC", "kCB", "A"]
    point = {"kAB": 0.02, "kBA": 0.005, "kBC": 0.2, "kCB": 0.05, "A": 30.0}
    runner = rr.RoadRunner(str(conf.parent / "abc.xml"))
    runner.integrator.relative_tolerance = 1e-12
    runner.integrator.absolute_tolerance = 1e-14
    for name, v in point.items():
        if name == "A":
            runner.model["init([A])"] = v
        else:
            setattr(runner, name, v)
    runner.reset()
    out = np.asarray(runner.simulate(0.0, 500.0, 51, selections=["time", "[A]", "[B]", "[C]"]))
    data = np.loadtxt(conf.parent / "abc" / "abc_data.exp", comments="#")
    rows = np.searchsorted(out[:, 0], data[:, 0])
    np.testing.assert_allclose(out[rows, 0], data[:, 0])
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    ev = obj(problem.x_from_native(point), sensi=1)
    assert ev.ok, ev.message
    np.testing.assert_allclose(ev.simulation, out[rows, 1:].T.ravel(), rtol=1e-7)
    assert main(["check-grad", str(conf), "--multi-eps", "--json", "--no-progress"]) == 0
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert verdicts == {"agrees": 5, "unresolved": 0, "mismatch": 0}, verdicts
