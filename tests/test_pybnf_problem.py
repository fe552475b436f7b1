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
from bngfit.cli import main
from bngfit.errors import InputError

from .conftest import shared_path


def _bng_available() -> bool:
    try:
        from bngsim._bngpath import resolve_bng
    except ImportError:
        return False
    return bool(resolve_bng().ok)


needs_bng = pytest.mark.skipif(not _bng_available(), reason="BioNetGen (BNG2.pl) not found")


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
    ("folder", "conf", "error", "where"),
    [("constraint_demo", "parabola.conf", ".prop constraint", "parabola.conf:5"),
     ("demo", "parabola_bootstrap.conf", "bootstrap", "parabola_bootstrap.conf:16")],
)
def test_unsupported_features_are_refused_with_their_line(folder, conf, error, where, capsys):
    path = shared_path("benchmarks", "pybnf", folder, conf)
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


THREE_PHASES = """begin model
begin parameters
  k k__FREE
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
  A() -> 0 k
end reaction rules
end model
simulate({method=>"ode",t_end=>10,n_steps=>1,suffix=>"one"})
simulate({method=>"ode",t_end=>10,n_steps=>1,suffix=>"two"})
simulate({method=>"ode",t_end=>10,n_steps=>10,suffix=>"data"})
"""


@needs_bng
def test_protocol_with_too_many_phases_is_refused_with_its_line(tmp_path, capsys):
    (tmp_path / "m.bngl").write_text(THREE_PHASES)
    (tmp_path / "data.exp").write_text("# time Atot\n0 1\n5 0.5\n10 0.25\n")
    (tmp_path / "job.conf").write_text("model = m.bngl : data.exp\nobjfunc = sos\n"
                                       "loguniform_var = k__FREE 0.01 10\n")
    assert main(["evaluate", str(tmp_path / "job.conf")]) == 2
    err = capsys.readouterr().err
    assert "m.bngl:20" in err and "2 phases before the measured one" in err
