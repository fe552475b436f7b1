"""Parameter scans (dose-response data) in PyBNF jobs: BNGL ``parameter_scan``
actions and legacy ``param_scan`` lines of SBML/Antimony models.

The model: X is made at rate kin = p*L (a derived parameter, so the chain rule
runs through the scanned L and the free p) and decays at rate k, so from X(0)
over a time T

    X(T) = kin/k + (X(0) - kin/k) exp(-k T),       X(inf) = kin/k.

Every expected simulation below is that closed form; every gradient is checked
against central differences of the objective.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import bngfit
from bngfit.cli import main
from bngfit.errors import InputError
from tests.helpers import central_grad, needs_bng

MODEL = """begin model
begin parameters
  k k__FREE
  p p__FREE
  X0 1
  L 1
  kin p*L
end parameters
begin molecule types
  X()
end molecule types
begin seed species
  X() X0
end seed species
begin observables
  Molecules Xobs X()
end observables
begin reaction rules
  0 -> X() kin
  X() -> 0 k
end reaction rules
end model
generate_network({overwrite=>1})
"""
K, P = 0.7, 1.3
X_POINT = np.log10([K, P])


def x_end(x0, L, T, k=K, p=P):
    """X after time T from X(0) = x0 with L (closed form)."""
    kin = p * L
    return kin / k + (x0 - kin / k) * math.exp(-k * T)


def _job(tmp_path, actions, exps, extra=""):
    (tmp_path / "m.bngl").write_text(MODEL + actions)
    for name, text in exps.items():
        (tmp_path / f"{name}.exp").write_text(text)
    files = ", ".join(f"{n}.exp" for n in exps)
    (tmp_path / "job.conf").write_text(
        f"model = m.bngl : {files}\nobjfunc = sos\n"
        "loguniform_var = k__FREE 0.01 10\nloguniform_var = p__FREE 0.01 10\n" + extra)
    return tmp_path / "job.conf"


def _checked(problem):
    """Simulation at X_POINT and its gradient checked against central differences."""
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    ev = obj(X_POINT, sensi=1)
    assert ev.ok, ev.message
    np.testing.assert_allclose(ev.grad, central_grad(obj, X_POINT), rtol=1e-6, atol=1e-9)
    return ev.simulation


@needs_bng
def test_log_scale_scan_of_a_seed_amount_matches_the_closed_form(tmp_path):
    # BioNetGen's log_scale points: exp of equally spaced natural logs, 0.5 1 2 4
    conf = _job(tmp_path, 'parameter_scan({parameter=>"X0",par_min=>0.5,par_max=>4,'
                'n_scan_pts=>4,log_scale=>1,method=>"ode",t_end=>2,suffix=>"dose"})\n',
                {"dose": "# X0 Xobs\n0.5 1.0\n2 1.5\n2.0000001 1.6\n4 2\n"})
    problem = bngfit.load_problem(conf)
    # one simulation per point the data name: 0.5, 2 and 4 (two rows share 2)
    scans = sorted(c for c in problem.conditions if "__scan" in c)
    assert scans == ["dose__scan1", "dose__scan3", "dose__scan4"]
    assert np.all(problem.measurements.time == 2.0)
    sim = _checked(problem)
    expected = [x_end(x0, 1.0, 2.0) for x0 in (0.5, 2.0, 2.0, 4.0)]
    np.testing.assert_allclose(sim, expected, rtol=1e-7)


@needs_bng
def test_scan_to_steady_state_is_measured_at_the_steady_state(tmp_path):
    conf = _job(tmp_path, 'parameter_scan({parameter=>"L",par_scan_vals=>[0.1,1,10],'
                'method=>"ode",t_end=>200,steady_state=>1,suffix=>"ss"})\n',
                {"ss": "# L Xobs\n0.1 0.2\n1 2\n10 20\n"})
    problem = bngfit.load_problem(conf)
    assert np.all(np.isinf(problem.measurements.time))
    sim = _checked(problem)
    np.testing.assert_allclose(sim, [P * L / K for L in (0.1, 1.0, 10.0)], rtol=1e-6)


@needs_bng
def test_scan_after_equilibration_shares_the_chain_and_later_phases_see_its_end(tmp_path):
    # eq: 0..5 with L = 1 from X0 = 1; each scan point restarts from the end of
    # eq (reset_conc default 1); afterwards L keeps the last value (3) and the
    # species are back at the end of eq, where "after" starts.
    actions = ('simulate({method=>"ode",t_end=>5,n_steps=>1,suffix=>"eq"})\n'
               'parameter_scan({parameter=>"L",par_min=>1,par_max=>3,n_scan_pts=>3,'
               'method=>"ode",t_end=>1,suffix=>"dose"})\n'
               'simulate({method=>"ode",t_end=>2,n_steps=>2,suffix=>"after"})\n')
    conf = _job(tmp_path, actions, {"dose": "# L Xobs\n1 1\n2 2\n3 3\n",
                                    "after": "# time Xobs\n1 2\n2 3\n"})
    problem = bngfit.load_problem(conf)
    pres = {problem.measurements.preeq[i] for i in range(len(problem.measurements.time))
            if problem.measurements.condition[i].startswith("dose__scan")}
    assert pres == {"dose__pre"}  # one pre-phase chain for every point
    sim = _checked(problem)
    x_eq = x_end(1.0, 1.0, 5.0)
    expected = [x_end(x_eq, L, 1.0) for L in (1.0, 2.0, 3.0)]
    expected += [x_end(x_eq, 3.0, t) for t in (1.0, 2.0)]
    np.testing.assert_allclose(sim, expected, rtol=1e-7)


@needs_bng
def test_scan_without_reset_continues_point_to_point(tmp_path):
    actions = ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2,3],reset_conc=>0,'
               'method=>"ode",t_end=>1,suffix=>"dose"})\n'
               'simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"after"})\n')
    conf = _job(tmp_path, actions, {"dose": "# L Xobs\n3 1\n1 2\n",
                                    "after": "# time Xobs\n1 2\n"})
    problem = bngfit.load_problem(conf)
    sim = _checked(problem)
    x1 = x_end(1.0, 1.0, 1.0)
    x2 = x_end(x1, 2.0, 1.0)
    x3 = x_end(x2, 3.0, 1.0)
    np.testing.assert_allclose(sim, [x3, x1, x_end(x3, 3.0, 1.0)], rtol=1e-7)


@needs_bng
def test_check_grad_multi_eps_on_a_scan_job_has_no_mismatch(tmp_path, capsys):
    conf = _job(tmp_path, 'parameter_scan({parameter=>"L",par_scan_vals=>[0.5,2],'
                'method=>"ode",t_end=>3,suffix=>"dose"})\n',
                {"dose": "# L Xobs Xobs_SD\n0.5 1 0.1\n2 3 0.2\n"}).parent / "job.conf"
    text = conf.read_text().replace("objfunc = sos", "objfunc = chi_sq")
    conf.write_text(text)
    assert main(["check-grad", str(conf), "--multi-eps", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "0 mismatch" in out


@needs_bng
@pytest.mark.parametrize(("actions", "exp", "error", "match", "where"), [
    ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2],method=>"ode",t_end=>1,'
     'suffix=>"dose"})\n', "# L Xobs\n1 1\n1.5 2\n", InputError,
     "L = 1.5 is not a point of the parameter_scan", "dose.exp:3"),
    ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2],method=>"ode",t_end=>1,'
     'suffix=>"dose"})\n', "# time Xobs\n1 1\n", InputError, "scans 'L'", "dose.exp:1"),
    ('simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"dose"})\n',
     "# L Xobs\n1 1\n", InputError, "is a time course", "dose.exp:1"),
    ('parameter_scan({parameter=>"Lx",par_scan_vals=>[1,2],method=>"ode",t_end=>1,'
     'suffix=>"dose"})\n', "# Lx Xobs\n1 1\n", InputError, "no independent parameter",
     "m.bngl:"),
    ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2],method=>"ode",t_start=>1,'
     't_end=>2,suffix=>"dose"})\n', "# L Xobs\n1 1\n", InputError, "t != 0",
     "m.bngl:"),
])
def test_bad_scans_are_refused_naming_file_and_line(tmp_path, capsys, actions, exp, error,
                                                    match, where):
    conf = _job(tmp_path, actions, {"dose": exp})
    with pytest.raises(error, match=match):
        bngfit.load_problem(conf)
    assert main(["validate", str(conf)]) != 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert where in text and "Traceback" not in text


@needs_bng
def test_normalizing_scan_data_is_refused(tmp_path):
    conf = _job(tmp_path, 'parameter_scan({parameter=>"L",par_scan_vals=>[1,2],'
                'method=>"ode",t_end=>1,suffix=>"dose"})\n', {"dose": "# L Xobs\n1 1\n"},
                extra="normalization = init\n")
    with pytest.raises(InputError, match="parameter scan"):
        bngfit.load_problem(conf)


ANTIMONY = """model m
  J0: -> X; p*L
  J1: X -> ; k*X
  X = 1; k = 0.5; p = 1; L = 1
end
"""


def _ant_job(tmp_path, scan, exp):
    (tmp_path / "m.ant").write_text(ANTIMONY)
    (tmp_path / "dose.exp").write_text(exp)
    (tmp_path / "job.conf").write_text(
        "model = m.ant : dose.exp\nobjfunc = sos\nloguniform_var = k 0.01 10\n"
        f"loguniform_var = p 0.01 10\nparam_scan = {scan}\n")
    return tmp_path / "job.conf"


@pytest.mark.parametrize(("scan", "exp", "x0", "levels"), [
    # PyBNF's SBML runner: numpy.linspace(min, max, round((max - min)/step) + 1)
    ("param: L, min: 1, max: 3, step: 0.5, time: 2, suffix: dose",
     "# L X\n1 1\n2.5 2\n3 3\n", [1.0, 1.0, 1.0], [1.0, 2.5, 3.0]),
    # a species: its initial value is scanned
    ("param: X, min: 0, max: 4, step: 2, time: 2, suffix: dose",
     "# X_0 X\n0 1\n4 2\n", [0.0, 4.0], [1.0, 1.0]),
])
def test_sbml_param_scan_matches_the_closed_form(tmp_path, scan, exp, x0, levels):
    problem = bngfit.load_problem(_ant_job(tmp_path, scan, exp))
    sim = _checked(problem)
    expected = [x_end(a, L, 2.0) for a, L in zip(x0, levels, strict=True)]
    np.testing.assert_allclose(sim, expected, rtol=1e-7)


def test_sbml_param_scan_row_off_the_grid_names_the_points(tmp_path):
    conf = _ant_job(tmp_path, "param: L, min: 1, max: 3, step: 1, time: 2, suffix: dose",
                    "# L X\n1 1\n2.5 2\n")
    with pytest.raises(InputError, match=r"L = 2\.5 is not a point.*1, 2, 3") as err:
        bngfit.load_problem(conf)
    assert "dose.exp:3" in str(err.value)


def _edition2_job(tmp_path, experiment, exps, extra=""):
    (tmp_path / "m.ant").write_text(ANTIMONY)
    for name, text in exps.items():
        (tmp_path / f"{name}.exp").write_text(text)
    (tmp_path / "job.conf").write_text(
        "edition = 2\nmodel: m.ant\nobjective = sos\nloguniform_var = k 0.01 10\n"
        f"loguniform_var = p 0.01 10\ncondition: double, perturbations: p = 2\n"
        f"{experiment}\n{extra}")
    return tmp_path / "job.conf"


def test_edition2_parameter_scan_experiment_matches_the_closed_form(tmp_path):
    # two replicate tables share the points: one simulation per distinct value;
    # the scan runs under the experiment's condition (p = 2: not free there)
    conf = _edition2_job(
        tmp_path, "experiment: dose, type: parameter_scan, t_end: 2, data: r1.exp, r2.exp",
        {"r1": "# L X\n1 1\n3 2\n", "r2": "# L X\n3 2.5\n0.5 1\n"})
    problem = bngfit.load_problem(conf)
    assert sorted(c for c in problem.conditions) == ["dose__scan1", "dose__scan2",
                                                      "dose__scan3"]
    sim = _checked(problem)
    np.testing.assert_allclose(sim, [x_end(1.0, L, 2.0) for L in (1.0, 3.0, 3.0, 0.5)],
                               rtol=1e-7)
    conf.write_text(conf.read_text().replace("type: parameter_scan,",
                                             "type: parameter_scan, condition: double,"))
    sim = _checked(bngfit.load_problem(conf))
    np.testing.assert_allclose(sim, [x_end(1.0, L, 2.0, p=2.0) for L in (1.0, 3.0, 3.0, 0.5)],
                               rtol=1e-7)


@pytest.mark.parametrize(("experiment", "exps", "match", "where"), [
    ("experiment: dose, type: parameter_scan, data: r1.exp", {"r1": "# L X\n1 1\n"},
     "t_end", "job.conf:7"),
    ("experiment: dose, t_end: 2, type: parameter_scan, data: r1.exp",
     {"r1": "# time X\n1 1\n"}, "scanned parameter", "job.conf:7"),
    ("experiment: dose, type: parameter_scan, t_end: 2, data: r1.exp",
     {"r1": "# Q X\n1 1\n"}, "no parameter or species", "r1.exp:1"),
    ("experiment: dose, data: r1.exp", {"r1": "# L X\n1 1\n"}, "is a time course",
     "r1.exp:1"),
    ("experiment: dose, type: bifurcate, data: r1.exp", {"r1": "# L X\n1 1\n"},
     "bifurcate", "job.conf:7"),
])
def test_edition2_bad_scans_name_file_and_line(tmp_path, experiment, exps, match, where):
    conf = _edition2_job(tmp_path, experiment, exps)
    with pytest.raises(InputError, match=match) as err:
        bngfit.load_problem(conf)
    assert where in str(err.value)


@needs_bng
def test_time_course_and_param_scan_lines_run_on_a_bngl_model(tmp_path):
    # PyBNF appends them to the template's actions, each after a
    # resetConcentrations(): both start from the model's initial state (X0 = 1).
    # A BNGL param_scan honours logspace: round((9 - 1)/4) + 1 = 3 points
    # 1, 3, 9 equally spaced in the logarithm.
    conf = _job(tmp_path, "", {"tc": "# time Xobs\n0 1\n1 2\n2 2\n",
                               "dose": "# L Xobs\n1 1\n3 2\n9 3\n"},
                extra="time_course = time: 2, step: 0.5, suffix: tc\n"
                      "param_scan = param: L, min: 1, max: 9, step: 4, logspace: 1, "
                      "time: 2, suffix: dose\n")
    problem = bngfit.load_problem(conf)
    sim = _checked(problem)
    expected = [x_end(1.0, 1.0, t) for t in (0.0, 1.0, 2.0)]
    expected += [x_end(1.0, L, 2.0) for L in (1.0, 3.0, 9.0)]
    np.testing.assert_allclose(sim, expected, rtol=1e-7)


@needs_bng
def test_scanning_a_seed_amount_after_a_simulation_leaves_the_state_alone(tmp_path):
    # BioNetGen resets each point to the numbers saved when the scan began;
    # the seed expression X0 is not evaluated again, so X0 changes nothing
    actions = ('simulate({method=>"ode",t_end=>5,n_steps=>1,suffix=>"eq"})\n'
               'parameter_scan({parameter=>"X0",par_scan_vals=>[1,5],method=>"ode",'
               't_end=>1,suffix=>"dose"})\n')
    conf = _job(tmp_path, actions, {"dose": "# X0 Xobs\n1 1\n5 2\n"})
    sim = _checked(bngfit.load_problem(conf))
    x_eq = x_end(1.0, 1.0, 5.0)
    np.testing.assert_allclose(sim, [x_end(x_eq, 1.0, 1.0)] * 2, rtol=1e-7)


@needs_bng
def test_model_fit_plot_draws_a_scan_over_its_parameter(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from bngfit.result._plot_fit import model_fit_figure

    actions = ('simulate({method=>"ode",t_end=>2,n_steps=>2,suffix=>"tc"})\n'
               'parameter_scan({parameter=>"L",par_min=>0.1,par_max=>100,n_scan_pts=>4,'
               'log_scale=>1,method=>"ode",t_end=>1,suffix=>"dose"})\n')
    conf = _job(tmp_path, actions, {"tc": "# time Xobs\n1 2\n2 3\n",
                                    "dose": "# L Xobs\n0.1 1\n1 2\n10 3\n100 4\n"})
    problem = bngfit.load_problem(conf)
    fig = model_fit_figure(problem, X_POINT)
    panels = {ax.get_title().split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {"tc", "dose"}
    dose = panels["dose"]
    assert (dose.get_xlabel(), dose.get_xscale()) == ("L", "log")
    xs = sorted({float(v) for line in dose.get_lines() for v in line.get_xdata()})
    np.testing.assert_allclose(xs, [0.1, 1.0, 10.0, 100.0], rtol=1e-9)
    assert panels["tc"].get_xscale() == "linear"
    plt.close(fig)


@needs_bng
def test_reset_parameters_takes_back_the_scan_and_later_settings(tmp_path):
    # the egfr_ode pattern of PyBNF's examples: save, scan, reset both, simulate
    actions = ('saveConcentrations()\nsaveParameters()\n'
               'parameter_scan({parameter=>"L",par_scan_vals=>[2,4],method=>"ode",t_end=>1,'
               'suffix=>"dose"})\n'
               'resetConcentrations()\nresetParameters()\n'
               'simulate({method=>"ode",t_end=>2,n_steps=>2,suffix=>"tc"})\n')
    conf = _job(tmp_path, actions, {"dose": "# L Xobs\n2 1\n4 2\n",
                                    "tc": "# time Xobs\n1 1\n2 2\n"})
    sim = _checked(bngfit.load_problem(conf))
    expected = [x_end(1.0, 2.0, 1.0), x_end(1.0, 4.0, 1.0)]
    expected += [x_end(1.0, 1.0, t) for t in (1.0, 2.0)]  # L is the model's 1 again
    np.testing.assert_allclose(sim, expected, rtol=1e-7)


@needs_bng
def test_reset_parameters_to_a_label_restores_the_values_set_before_it(tmp_path):
    actions = ('setParameter("L", 3)\nsaveParameters("s")\nsetParameter("L", 5)\n'
               'simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"a"})\n'
               'resetParameters("s")\n'
               'simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"b"})\n')
    conf = _job(tmp_path, actions, {"a": "# time Xobs\n1 1\n", "b": "# time Xobs\n1 1\n"})
    sim = _checked(bngfit.load_problem(conf))
    xa = x_end(1.0, 5.0, 1.0)
    np.testing.assert_allclose(sim, [xa, x_end(xa, 3.0, 1.0)], rtol=1e-7)


@needs_bng
def test_reset_parameters_without_a_save_is_refused_with_its_line(tmp_path):
    actions = ('simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"a"})\n'
               'resetParameters("s")\n'
               'simulate({method=>"ode",t_end=>1,n_steps=>1,suffix=>"b"})\n')
    conf = _job(tmp_path, actions, {"b": "# time Xobs\n1 1\n"})
    with pytest.raises(InputError, match="no parameters were saved as 's'") as err:
        bngfit.load_problem(conf)
    line = MODEL.count("\n") + 2  # the action after the first simulate
    assert f"m.bngl:{line}," in str(err.value)


def _with_prop(tmp_path, actions, exp, prop):
    conf = _job(tmp_path, actions, {"dose": exp})
    plain = bngfit.Objective(bngfit.load_problem(conf), rtol=1e-11, atol=1e-13)
    (tmp_path / "dose.prop").write_text(prop)
    conf.write_text(conf.read_text().replace("dose.exp", "dose.exp, dose.prop"))
    return plain, bngfit.load_problem(conf)


@needs_bng
@pytest.mark.parametrize(("steady", "expected"), [
    # X(1) from X0 = 1 at L = 4 is 4.236 > 2: weight 3 times the miss;
    # L = 1 gives 1.431 > 1: satisfied
    (False, 3 * (x_end(1.0, 4.0, 1.0) - 2.0)),
    # at steady state X = p L / k: 7.43 at L = 4 (and 1.86 > 1 at L = 1)
    (True, 3 * (P * 4.0 / K - 2.0)),
])
def test_constraints_on_scan_points_add_pybnf_penalties(tmp_path, steady, expected):
    opt = ",steady_state=>1" if steady else ""
    t_end = 200 if steady else 1
    actions = (f'parameter_scan({{parameter=>"L",par_scan_vals=>[1,2,4],method=>"ode",'
               f't_end=>{t_end}{opt},suffix=>"dose"}})\n')
    plain, problem = _with_prop(tmp_path, actions, "# L Xobs\n2 1\n",
                                "Xobs < 2 at 4 weight 3\nXobs > 1 at L=1\n")
    assert len(problem.penalties) == 2
    sim = _checked(problem)  # gradient of data and penalties against differences
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    gap = obj(X_POINT).fval - plain(X_POINT).fval
    assert gap == pytest.approx(expected, rel=1e-7)
    assert sim.size == 1


@needs_bng
@pytest.mark.parametrize(("prop", "match"), [
    ("Xobs < 2 always\n", "'... at V'"),
    ("Xobs < 2 at 3\n", "L = 3 is not a point"),
    ("Xobs < 2 between 1, 2\n", "'... at V'"),
])
def test_other_constraints_on_scans_are_refused_with_their_line(tmp_path, prop, match):
    actions = ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2,4],method=>"ode",'
               't_end=>1,suffix=>"dose"})\n')
    conf = _job(tmp_path, actions, {"dose": "# L Xobs\n2 1\n"})
    (tmp_path / "dose.prop").write_text(prop)
    conf.write_text(conf.read_text().replace("dose.exp", "dose.exp, dose.prop"))
    with pytest.raises(InputError, match=match) as err:
        bngfit.load_problem(conf)
    assert "dose.prop:1" in str(err.value)


@needs_bng
def test_scan_data_named_by_an_output_are_matched_to_the_points_with_a_warning(tmp_path):
    # PyBNF's constraint_raf names its first column after an observable that
    # follows the scanned parameter; the rows are matched to the scan points
    conf = _job(tmp_path, 'parameter_scan({parameter=>"L",par_scan_vals=>[1,2],'
                'method=>"ode",t_end=>1,suffix=>"dose"})\n', {"dose": "# Xobs Xobs\n1 1\n"})
    conf.parent.joinpath("dose.exp").write_text("# Xobs x2\n2 1\n")
    with pytest.raises(InputError, match="no observable"):
        bngfit.load_problem(conf)  # x2 is no output: the data column, not the first
    conf.parent.joinpath("m.bngl").write_text(
        (MODEL + 'parameter_scan({parameter=>"L",par_scan_vals=>[1,2],method=>"ode",'
         't_end=>1,suffix=>"dose"})\n').replace("Molecules Xobs X()",
                                              "Molecules Xobs X()\n  Molecules x2 X()"))
    problem = bngfit.load_problem(conf)
    (w,) = [w for w in problem.warnings if w.id == "Xobs"]
    assert w.affects_result and "matches it with the point where 'L'" in w.message
    np.testing.assert_allclose(_checked(problem), [x_end(1.0, 2.0, 1.0)], rtol=1e-7)


@needs_bng
def test_constraint_scale_multiplies_static_weights_only(tmp_path):
    # PyBNF's constraint.py: weight *= constraint_scale; a likelihood-model
    # constraint (confidence) keeps its penalty: violated with tolerance 0 it
    # is -log(pmin), pmin = (1 - 0.9) / 2
    actions = ('parameter_scan({parameter=>"L",par_scan_vals=>[1,2,4],method=>"ode",'
               't_end=>1,suffix=>"dose"})\n')
    plain, _ = _with_prop(tmp_path, actions, "# L Xobs\n2 1\n",
                          "Xobs < 2 at 4 weight 3\nXobs > 100 at 1 confidence 0.9\n")
    conf = tmp_path / "job.conf"
    conf.write_text(conf.read_text() + "constraint_scale = 2.5\n")
    problem = bngfit.load_problem(conf)
    assert not [w for w in problem.warnings if "constraint_scale" in w.message]
    gap = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)(X_POINT).fval \
        - plain(X_POINT).fval
    expected = 2.5 * 3 * (x_end(1.0, 4.0, 1.0) - 2.0) - math.log(0.05)
    assert gap == pytest.approx(expected, rel=1e-7)


@needs_bng
def test_ind_var_rounding_compares_each_row_with_the_nearest_simulated_time(tmp_path):
    # simulate writes t = 0, 0.5, ..., 2; the rows at 0.6 and 1.9 are compared
    # with 0.5 and 2 (PyBNF's objective.py with ind_var_rounding = 1)
    conf = _job(tmp_path, 'simulate({method=>"ode",t_end=>2,n_steps=>4,suffix=>"tc"})\n',
                {"tc": "# time Xobs\n0.6 1\n1.9 2\n"}, extra="ind_var_rounding = 1\n")
    problem = bngfit.load_problem(conf)
    np.testing.assert_array_equal(problem.measurements.time, [0.5, 2.0])
    (w,) = [w for w in problem.warnings if "ind_var_rounding" in w.message]
    assert w.affects_result and "tc.exp" in w.message
    np.testing.assert_allclose(_checked(problem), [x_end(1.0, 1.0, 0.5), x_end(1.0, 1.0, 2.0)],
                               rtol=1e-7)
    conf.write_text(conf.read_text().replace("ind_var_rounding = 1", "ind_var_rounding = 2"))
    with pytest.raises(InputError, match="ind_var_rounding") as err:
        bngfit.load_problem(conf)
    assert "job.conf:5" in str(err.value)
