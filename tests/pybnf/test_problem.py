"""PyBNF configurations as problems: values against the closed form, fits, refusals.

The parabola demo: a counter starts at -10 and grows at rate 1, so x(t) = t - 10,
and y = v1 x^2 + v2 x + v3. Expected values are computed here from that closed
form and the numbers in the .exp file, not by bngfit.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bngfit
from bngfit.cli._main import main
from bngfit.errors import InputError
from tests.helpers import central_grad, conversion_a, needs_bng, shared_path


def _exp_columns(path):
    """time, x, y, x_SD, y_SD columns of par1.exp, read with numpy."""
    return np.loadtxt(path, comments="#")


def _closed_form_nllh(v, table, sigma_of):
    """Gaussian nllh and its gradient in (v1, v2, v3) for columns x and y."""
    t, xm, ym = table[:, 0], table[:, 1], table[:, 2]
    x = t - 10.0
    y = v[0] * x**2 + v[1] * x + v[2]
    sx, sy = sigma_of(table)
    f = 0.0
    g = np.zeros(3)
    for sim, m, s in ((x, xm, sx), (y, ym, sy)):
        f += np.sum(0.5 * np.log(2 * np.pi * s**2) + 0.5 * ((sim - m) / s) ** 2)
    ry = (y - ym) / sy**2
    g += np.array([np.sum(ry * x**2), np.sum(ry * x), np.sum(ry)])
    return f, g


def CHI_SQ(tab):  # noqa: N802 - sigma from the x_SD and y_SD columns
    return tab[:, 3], tab[:, 4]


@pytest.mark.parametrize("conf", [pytest.param("demo_bng.conf", marks=needs_bng),
                                  "demo_xml.conf"])
def test_parabola_value_and_gradient_match_closed_form(conf):
    path = shared_path("benchmarks", "pybnf", "demo", conf)
    problem = bngfit.load_problem(path)
    obj = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)
    v = np.array([0.7, 1.3, 2.1])
    ev = obj(v, sensi=1)
    assert ev.ok, ev.message
    f, g = _closed_form_nllh(v, _exp_columns(path.parent / "par1.exp"), CHI_SQ)
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


@needs_bng
def test_bngl_and_sbml_versions_agree():
    demo = shared_path("benchmarks", "pybnf", "demo")
    a = bngfit.Objective(bngfit.load_problem(demo / "demo_bng.conf"))
    b = bngfit.Objective(bngfit.load_problem(demo / "demo_xml.conf"))
    x = np.array([3.0, 4.0, 5.0])
    assert a(x).fval == pytest.approx(b(x).fval, rel=1e-9)


@needs_bng
def test_fit_recovers_the_generating_parameters():
    problem = bngfit.load_problem(shared_path("benchmarks", "pybnf", "demo", "demo_bng.conf"))
    result = bngfit.fit(problem, optimizer="least_squares", n_starts=3, rng=0,
                        engine="sequential")
    np.testing.assert_allclose(result.best.x, [0.5, 1.0, 3.0], rtol=1e-6)
    table = _exp_columns(problem.source.parent / "par1.exp")
    n = 2 * len(table)  # x and y, all exact: only the normalisation is left
    assert result.best_fval == pytest.approx(n * 0.5 * np.log(2 * np.pi), abs=1e-6)


def _copy_demo(tmp_path):
    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    return d


def _y_only_nllh(v, table, sigma):
    t, ym = table[:, 0], table[:, 2]
    x = t - 10.0
    y = v[0] * x**2 + v[1] * x + v[2]
    f = np.sum(0.5 * np.log(2 * np.pi * sigma**2) + 0.5 * ((y - ym) / sigma) ** 2)
    ry = (y - ym) / sigma**2
    return f, np.array([np.sum(ry * x**2), np.sum(ry * x), np.sum(ry)])


@pytest.mark.parametrize(
    ("objfunc", "sigma_of"),
    [("sos", lambda ym: np.ones_like(ym)),
     ("norm_sos", lambda ym: np.abs(ym)),
     ("ave_norm_sos", lambda ym: np.full_like(ym, abs(ym.mean())))],
)
def test_objective_functions_set_sigma(tmp_path, objfunc, sigma_of):
    d = _copy_demo(tmp_path)
    table = _exp_columns(d / "par1.exp")
    # Only y (x crosses 0: norm_sos and ave_norm_sos cannot divide by it).
    lines = ["# time y"] + [f"{t:g} {float(y)!r}" for t, y in zip(table[:, 0], table[:, 2],
                                                          strict=True)]
    (d / "par1.exp").write_text("\n".join(lines) + "\n")
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("objfunc = chi_sq", f"objfunc = {objfunc}"))
    problem = bngfit.load_problem(conf)
    v = np.array([0.4, 1.5, 2.5])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v)
    f, g = _y_only_nllh(v, table, sigma_of(table[:, 2]))
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def test_norm_sos_refuses_a_zero_data_value(tmp_path):
    d = _copy_demo(tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("objfunc = chi_sq", "objfunc = norm_sos"))
    # par1.exp holds x = 0 at t = 10 (line 12): norm_sos would divide by it.
    with pytest.raises(InputError, match="norm_sos divides by the data value") as err:
        bngfit.load_problem(conf)
    assert "par1.exp:12" in str(err.value)


def test_check_grad_on_a_pybnf_problem(capsys):
    path = shared_path("benchmarks", "pybnf", "demo", "demo_xml.conf")
    problem = bngfit.load_problem(path)
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    table = bngfit.check_grad_multi_eps(obj, np.array([2.0, 6.0, 1.0]))
    assert (table["rel_err"] < 1e-6).all(), table


@pytest.mark.parametrize(
    ("line", "error", "where"),
    [("smoothing = 3", "smoothing", "demo_xml.conf:27")],
)
def test_unsupported_features_are_refused_with_their_line(tmp_path, line, error, where, capsys):
    path = _copy_demo(tmp_path) / "demo_xml.conf"
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(InputError, match=error) as err:
        bngfit.load_problem(path)
    assert where in str(err.value)
    assert main(["evaluate", str(path)]) == 2
    out = capsys.readouterr().err
    assert where in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("edit", "match", "where"),
    [(("par1.exp", "# time  x   y   x_SD y_SD", "# time  x   z   x_SD z_SD"),
      "no observable, function or species", "par1.exp:1"),
     (("demo_xml.conf", "uniform_var = v3 0 10", "uniform_var = v9 0 10"),
      "not a parameter of the model", "demo_xml.conf"),
     (("demo_xml.conf", "time_course = time: 20", "time_course = time: 15"),
      "beyond the simulated span", "par1.exp"),
     (("par1.exp", "x_SD y_SD", "x_SD w_SD"), "", "par1.exp:1")],
)
def test_bad_pybnf_inputs_name_file_and_line(tmp_path, capsys, edit, match, where):
    d = _copy_demo(tmp_path)
    name, old, new = edit
    p = d / name
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    assert main(["evaluate", str(d / "demo_xml.conf")]) == 2
    err = capsys.readouterr().err
    assert match in err and where in err and "Traceback" not in err


@needs_bng
def test_receptor_protocol_equilibrates_then_measures():
    path = shared_path("benchmarks", "pybnf", "receptor", "receptor.conf")
    problem = bngfit.load_problem(path)
    pre, main_ = problem.conditions["receptor__pre"], problem.conditions["receptor"]
    # simulate 0..600 with Ligand_isPresent = 0 (the model's value), then
    # setParameter("Ligand_isPresent", 1) and the measured 0..60.
    assert pre.duration == 600.0 and pre.mutations == ()
    assert [(m.target, m.op.value, m.value) for m in main_.mutations] == [
        ("Ligand_isPresent", "=", 1.0)]
    assert set(problem.measurements.preeq) == {"receptor__pre"}
    obj = bngfit.Objective(problem, rtol=1e-12, atol=1e-12)
    table = bngfit.check_grad_multi_eps(obj, problem.x_nominal)
    assert (table["rel_err"] < 1e-4).all(), table


# A <-> B (kf = k__FREE, kr = r), total 1. Phase "eq" runs to steady state,
# then r = 2 for 3 time units with B set to 0.5 ("pulse"), then r = 0.2 and
# the data are taken ("data"). A(t) = A_inf + (A(0) - A_inf) exp(-(kf + kr) t)
# with A_inf = total kr / (kf + kr), phase by phase (helpers.conversion_a). The
# model stays inline: it is BNGL with a protocol of actions, not the Antimony text.
THREE_PHASES = """begin model
begin parameters
  k k__FREE
  r 0.5
end parameters
begin molecule types
  A()
  B()
end molecule types
begin seed species
  A() 1
  B() 0
end seed species
begin observables
  Molecules Aobs A()
end observables
begin reaction rules
  A() <-> B() k, r
end reaction rules
end model
simulate({method=>"ode",t_end=>100,n_steps=>1,steady_state=>1,suffix=>"eq"})
setParameter("r", 2)
setConcentration("B()", 0.5)
simulate({method=>"ode",t_end=>3,n_steps=>3,suffix=>"pulse"})
setParameter("r", 0.2)
simulate({method=>"ode",t_end=>10,n_steps=>10,suffix=>"data"})
"""


@needs_bng
def test_protocol_of_three_phases_matches_closed_form(tmp_path):
    (tmp_path / "m.bngl").write_text(THREE_PHASES)
    (tmp_path / "data.exp").write_text("# time Aobs\n0 0.3\n2 0.4\n5 0.6\n10 0.7\n")
    (tmp_path / "job.conf").write_text("model = m.bngl : data.exp\nobjfunc = sos\n"
                                       "loguniform_var = k__FREE 0.01 10\n")
    problem = bngfit.load_problem(tmp_path / "job.conf")
    assert problem.conditions["data__pre2"].previous == "data__pre1"
    assert problem.conditions["data__pre1"].duration is None  # steady state
    assert problem.conditions["data__pre2"].duration == 3.0
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.array([np.log10(0.8)])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    kf = 0.8
    a1 = 0.5 / (kf + 0.5)  # steady state with r = 0.5, total 1
    total = a1 + 0.5  # B set to 0.5 before the pulse
    a2 = conversion_a(3.0, kf, 2.0, a0=a1, b0=0.5)
    expected = conversion_a(problem.measurements.time, kf, 0.2, a0=a2, b0=total - a2)
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-7)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


@needs_bng
def test_reset_to_the_initial_state_keeps_only_the_parameters_set_before(tmp_path):
    # resetConcentrations() before "data": the phases before leave r = 0.2 behind
    # and the species start again from A = 1, B = 0 (BioNetGen's default reset)
    text = THREE_PHASES.replace('setParameter("r", 0.2)\n',
                                'setParameter("r", 0.2)\nresetConcentrations()\n')
    (tmp_path / "m.bngl").write_text(text)
    (tmp_path / "data.exp").write_text("# time Aobs\n0 1\n5 0.5\n10 0.25\n")
    (tmp_path / "job.conf").write_text("model = m.bngl : data.exp\nobjfunc = sos\n"
                                       "loguniform_var = k__FREE 0.01 10\n")
    problem = bngfit.load_problem(tmp_path / "job.conf")
    assert not problem.measurements.preeq[0]  # no pre-phase is left to run
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    x = np.array([np.log10(0.8)])
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    expected = conversion_a(problem.measurements.time, 0.8, 0.2, a0=1.0, b0=0.0)
    np.testing.assert_allclose(ev.simulation, expected, rtol=1e-7)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6, atol=1e-9)


@needs_bng
def test_protocol_resetting_to_a_saved_state_is_refused_with_its_line(tmp_path, capsys):
    text = THREE_PHASES.replace('setParameter("r", 2)\n',
                                'saveConcentrations("eq")\nsetParameter("r", 2)\n')
    text = text.replace('setParameter("r", 0.2)\n',
                        'setParameter("r", 0.2)\nresetConcentrations("eq")\n')
    (tmp_path / "m.bngl").write_text(text)
    (tmp_path / "data.exp").write_text("# time Aobs\n0 1\n5 0.5\n10 0.25\n")
    (tmp_path / "job.conf").write_text("model = m.bngl : data.exp\nobjfunc = sos\n"
                                       "loguniform_var = k__FREE 0.01 10\n")
    assert main(["evaluate", str(tmp_path / "job.conf")]) == 2
    err = capsys.readouterr().err
    assert "m.bngl:" in err and "saved state" in err


# ------------------------------------------------------------------ mutants
# PyBNF's legacy ``mutant = BASE NAME STATEMENT ... : DATA`` (docs/config_keys.rst):
# the data file of a mutant is the base model's action suffix followed by the
# mutant name (par1 + dbl: par1dbl.exp). Expected values below come from the
# closed form with the mutated parameters w(v) and the chain rule dw/dv.
MUTANTS = {  # name: (target, statement after the target, w(v), dw/dv)
    "dbl": ("v1", "*2", lambda v: v * np.array([2.0, 1.0, 1.0]), np.diag([2.0, 1.0, 1.0])),
    "five": ("v3", "=5", lambda v: np.array([v[0], v[1], 5.0]), np.diag([1.0, 1.0, 0.0])),
}
TRUTH = np.array([0.5, 1.0, 3.0])  # the values that generated par1.exp


def _write_parabola_exp(path, w):
    """Exact data of y = w1 x^2 + w2 x + w3, x = t - 10, t = 0..20, SD 1."""
    t = np.arange(21.0)
    x = t - 10.0
    y = w[0] * x**2 + w[1] * x + w[2]
    rows = [f"{a:g} {float(b)!r} {float(c)!r} 1 1" for a, b, c in zip(t, x, y, strict=True)]
    path.write_text("# time x y x_SD y_SD\n" + "\n".join(rows) + "\n")


def _add_line(conf, line):
    """Append ``line`` to a configuration file; return its line number."""
    text = conf.read_text()
    text = text if text.endswith("\n") else text + "\n"
    conf.write_text(text + line + "\n")
    return len(text.splitlines()) + 1


def _mutant_demo(tmp_path, conf_name):
    """The parabola demo with mutants dbl (v1 * 2) and five (v3 = 5) and their data."""
    d = _copy_demo(tmp_path)
    conf = d / conf_name
    free = "__FREE" if conf_name == "demo_bng.conf" else ""
    for name, (target, statement, w, _) in MUTANTS.items():
        _write_parabola_exp(d / f"par1{name}.exp", w(TRUTH))
        _add_line(conf, f"mutant = parabola {name} {target}{free}{statement} : par1{name}.exp")
    return conf


@pytest.mark.parametrize("conf_name", [pytest.param("demo_bng.conf", marks=needs_bng),
                                       "demo_xml.conf"])
def test_mutants_value_and_gradient_match_closed_form(tmp_path, conf_name):
    conf = _mutant_demo(tmp_path, conf_name)
    problem = bngfit.load_problem(conf)
    free = "__FREE" if conf_name == "demo_bng.conf" else ""
    assert [(m.target, m.op.value, m.value) for m in problem.conditions["par1dbl"].mutations
            ] == [(f"v1{free}", "*", 2.0)]
    assert [(m.target, m.op.value, m.value) for m in problem.conditions["par1five"].mutations
            ] == [(f"v3{free}", "=", 5.0)]
    assert set(problem.measurements.condition) == {"par1", "par1dbl", "par1five"}
    v = np.array([0.7, 1.3, 2.1])
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(v, sensi=1)
    assert ev.ok, ev.message
    f, g = _closed_form_nllh(v, _exp_columns(conf.parent / "par1.exp"), CHI_SQ)
    for name, (_, _, w, jac) in MUTANTS.items():
        fm, gm = _closed_form_nllh(w(v), _exp_columns(conf.parent / f"par1{name}.exp"),
                                   CHI_SQ)
        f, g = f + fm, g + jac.T @ gm
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


@pytest.mark.parametrize("conf_name", [pytest.param("demo_bng.conf", marks=needs_bng),
                                       "demo_xml.conf"])
def test_fit_with_mutants_recovers_the_generating_parameters(tmp_path, conf_name):
    problem = bngfit.load_problem(_mutant_demo(tmp_path, conf_name))
    result = bngfit.fit(problem, optimizer="least_squares", n_starts=3, rng=0,
                        engine="sequential")
    np.testing.assert_allclose(result.best.x, TRUTH, rtol=1e-6)
    n = 3 * 2 * 21  # three files of x and y, all exact: only the normalisation is left
    assert result.best_fval == pytest.approx(n * 0.5 * np.log(2 * np.pi), abs=1e-6)


DECAY = """begin model
begin parameters
  ks k__FREE*s__FREE
end parameters
begin molecule types
  A()
end molecule types
begin seed species
  A() 1
end seed species
begin observables
  Molecules Atot A()
end observables
begin reaction rules
  A() -> 0 ks
end reaction rules
end model
generate_network({overwrite=>1})
simulate({method=>"ode",t_end=>5,n_steps=>1,suffix=>"eq"})
setParameter("s__FREE", 3)
simulate({method=>"ode",t_end=>4,n_steps=>4,suffix=>"obs"})
"""
# A(t) = exp(-r_eq * 5 - r_obs * t): decay at rate k*s for 5, then at 3k.
# Mutant fast (k__FREE*2) holds in both phases; mutant half (s__FREE=0.5) only
# in the first, since the protocol's setParameter follows it (as in PyBNF,
# where the mutant is written into the model and the actions run on it).
DECAY_RUNS = {  # data file: (r_eq, r_obs, d r_eq / d(k, s), d r_obs / d(k, s))
    "obs": (lambda k, s: k * s, lambda k, s: 3 * k, lambda k, s: (s, k), (3.0, 0.0)),
    "obsfast": (lambda k, s: 2 * k * s, lambda k, s: 6 * k, lambda k, s: (2 * s, 2 * k),
                (6.0, 0.0)),
    "obshalf": (lambda k, s: 0.5 * k, lambda k, s: 3 * k, lambda k, s: (0.5, 0.0), (3.0, 0.0)),
}


def _decay_job(tmp_path, k=0.4, s=1.0):
    (tmp_path / "decay.bngl").write_text(DECAY)
    t = np.arange(5.0)
    for name, (r_eq, r_obs, _, _) in DECAY_RUNS.items():
        a = np.exp(-5 * r_eq(k, s) - r_obs(k, s) * t)
        rows = [f"{ti:g} {float(ai)!r}" for ti, ai in zip(t, a, strict=True)]
        (tmp_path / f"{name}.exp").write_text("# time Atot\n" + "\n".join(rows) + "\n")
    conf = tmp_path / "job.conf"
    conf.write_text("model = decay.bngl : obs.exp\n"
                    "mutant = decay fast k__FREE*2 : obsfast.exp\n"
                    "mutant = decay half s__FREE=0.5 : obshalf.exp\n"
                    "objfunc = sos\n"
                    "uniform_var = k__FREE 0.01 2\n"
                    "uniform_var = s__FREE 0.1 10\n")
    return conf


@needs_bng
def test_mutant_holds_in_both_phases_and_the_protocol_follows_it(tmp_path):
    problem = bngfit.load_problem(_decay_job(tmp_path))

    def muts(cond):
        return [(m.target, m.op.value, m.value) for m in problem.conditions[cond].mutations]

    assert muts("obshalf__pre") == [("s__FREE", "=", 0.5)]
    assert muts("obshalf") == [("s__FREE", "=", 0.5), ("s__FREE", "=", 3.0)]
    assert muts("obsfast__pre") == [("k__FREE", "*", 2.0)]
    assert muts("obsfast") == [("k__FREE", "*", 2.0), ("s__FREE", "=", 3.0)]
    k, s = 0.7, 1.6
    ev = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(np.array([k, s]), sensi=1)
    assert ev.ok, ev.message
    t = np.arange(5.0)
    f, g = 0.0, np.zeros(2)
    for name, (r_eq, r_obs, d_eq, d_obs) in DECAY_RUNS.items():
        data = np.loadtxt(tmp_path / f"{name}.exp", comments="#")[:, 1]
        a = np.exp(-5 * r_eq(k, s) - r_obs(k, s) * t)
        da = -(5 * np.outer(np.ones_like(t), d_eq(k, s)) + np.outer(t, d_obs)) * a[:, None]
        f += np.sum(0.5 * np.log(2 * np.pi) + 0.5 * (a - data) ** 2)
        g += (a - data) @ da
    assert ev.fval == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)


def _mutant_error(tmp_path, capsys, line, files=()):
    """Add a mutant line to the SBML demo; evaluate; the error text and the line."""
    d = _copy_demo(tmp_path)
    conf = d / "demo_xml.conf"
    for name, text in files:
        (d / name).write_text(text)
    n = _add_line(conf, line)
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err, f"demo_xml.conf:{n}"


@pytest.mark.parametrize(
    ("line", "match"),
    [("mutant = parabola m1 v9*2 : par1m1.exp", "'v9' is no parameter or species"),
     ("mutant = parabola m1 v1^2 : par1m1.exp", "not a perturbation"),
     ("mutant = parabola m1 v1*v2 : par1m1.exp", "'v2' is not a number"),
     ("mutant = parabola m1 v1/0 : par1m1.exp", "not 0 after '/'"),
     ("mutant = parabola m1 v1*2 : par1.exp", "par1.exp of mutant 'm1' matches no simulation"),
     ("mutant = parabola m1 v1*2 : other.exp", "e.g. par1m1.exp"),
     ("mutant = parabola m1 x*2 : par1m1.exp", "'*' on the species 'x' is not supported"),
     ("mutant = parabola m1 v1*2 : par1.prop", "par1.prop of mutant 'm1' matches no simulation")],
)
def test_bad_mutants_are_refused_with_file_and_line(tmp_path, capsys, line, match):
    files = [(n, "# time x\n0 -10\n") for n in ("par1m1.exp", "other.exp")]
    files.append(("par1.prop", "x < 100 always\n"))
    err, where = _mutant_error(tmp_path, capsys, line, files)
    assert match in err and where in err, err


@pytest.mark.parametrize(
    ("first", "match"),
    [("mutant = parabola dbl v1*2 : par1dbl.exp", "the data of mutant 'dbl'"),
     (None, "the model's own action or data 'par1dbl'")],
)
def test_mutant_outputs_that_collide_are_refused(tmp_path, capsys, first, match):
    # With actions par1 and pa, mutant r1dbl's par1dbl.exp is pa + r1dbl, but
    # par1dbl is also par1 + dbl (mutant dbl) or an action of the model itself:
    # PyBNF would overwrite one output with the other.
    d = _copy_demo(tmp_path)
    conf = d / "demo_xml.conf"
    _write_parabola_exp(d / "par1dbl.exp", TRUTH)
    _add_line(conf, "time_course = time: 20, suffix: pa")
    if first is None:
        _add_line(conf, "time_course = time: 20, suffix: par1dbl")
    else:
        _add_line(conf, first)
    n = _add_line(conf, "mutant = parabola r1dbl v1*2 : par1dbl.exp")
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert f"demo_xml.conf:{n}" in err and match in err, err


@needs_bng
def test_bngl_mutant_of_a_parameter_that_is_not_free_is_refused(tmp_path, capsys):
    d = _copy_demo(tmp_path)
    n = _add_line(d / "demo_bng.conf", "mutant = parabola m1 v1*2 : par1m1.exp")
    (d / "par1m1.exp").write_text("# time x\n0 -10\n")
    assert main(["evaluate", str(d / "demo_bng.conf")]) == 2
    err = capsys.readouterr().err
    assert f"demo_bng.conf:{n}" in err and "did you mean 'v1__FREE'" in err, err


@needs_bng
def test_declared_parameter_the_template_does_not_use_is_refused_on_its_line(tmp_path, capsys):
    (tmp_path / "m.bngl").write_text(THREE_PHASES)
    (tmp_path / "data.exp").write_text("# time Aobs\n0 0.3\n2 0.4\n")
    (tmp_path / "job.conf").write_text("model = m.bngl : data.exp\nobjfunc = sos\n"
                                       "loguniform_var = k__FREE 0.01 10\n"
                                       "loguniform_var = z__FREE 0.01 10\n")
    assert main(["evaluate", str(tmp_path / "job.conf")]) == 2
    err = capsys.readouterr().err
    assert "job.conf:4" in err and "m.bngl uses k__FREE" in err, err


# ------------------------------------------------------------------ var / logvar
def test_var_and_logvar_are_unbounded_start_values_and_fit(tmp_path):
    """PyBNF's start points for local optimizers: unbounded, starts drawn around them."""
    from bngfit.problem._priors import InitPrior

    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    conf = d / "job.conf"
    conf.write_text("model = parabola.xml : par1.exp\nobjfunc = chi_sq\n"
                    "time_course = time: 20, suffix: par1\n"
                    "var = v1 0.7 0.2\nvar = v2 2\nlogvar = v3 0.5 0.25\n")
    problem = bngfit.load_problem(conf)
    v1, v2, v3 = problem.free
    assert (v1.lb, v1.ub, v1.nominal, v1.init_prior) == (
        -np.inf, np.inf, 0.7, (InitPrior.PS_NORMAL, 0.7, 0.2))
    assert v2.init_prior == (InitPrior.PS_NORMAL, 2.0, 1.0)  # step 1 when not given
    assert v3.scale.value == "log10" and v3.nominal == pytest.approx(10**0.5)
    assert problem.x_nominal[2] == pytest.approx(0.5)
    assert np.all(np.isinf(problem.lb)) and np.all(np.isinf(problem.ub))
    starts = bngfit.optimize._multistart.sample_starts(
        problem.lb, problem.ub, 2000, np.random.default_rng(0),
        priors=[p.init_prior for p in problem.free], scales=problem.x_scales)
    np.testing.assert_allclose(starts.mean(axis=0), [0.7, 2.0, 0.5], atol=0.06)
    np.testing.assert_allclose(starts.std(axis=0), [0.2, 1.0, 0.25], rtol=0.06)
    # par1.exp holds the parabola 0.5 x^2 + x + 3 exactly: every optimizer recovers it
    for optimizer in ("least_squares", "fides", "lbfgsb"):
        result = bngfit.fit(problem, optimizer=optimizer, n_starts=2,
                            rng=np.random.default_rng(1), engine="sequential")
        best = result.best
        assert best.x == pytest.approx([0.5, 1.0, np.log10(3.0)], abs=1e-4), optimizer
