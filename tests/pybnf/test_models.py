"""PyBNF configurations with several models: closed forms, gradients, fits, refusals.

Two Antimony models share the decay rate ``k``; each has a parameter of its own:

- ``a``: A' = -k A, A(0) = a0, so A(t) = a0 exp(-k t); output Tot = A;
- ``b``: B' = p - k B, B(0) = 0, so B(t) = p/k (1 - exp(-k t)); output Tot = 2 B.

Both models have data named ``p1.exp`` (in folders a/ and b/), so bngfit calls
those conditions ``a.p1`` and ``b.p1``; ``Tot`` is a column of both models'
data, one observable read in each model. Expected values come from the closed
forms above, not from bngfit.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bngfit
from bngfit.cli._main import main
from bngfit.errors import InputError
from tests.helpers import central_grad, needs_bng

LN2PI = np.log(2 * np.pi)
TRUTH = np.array([0.4, 3.0, 1.5])  # k, a0, p
MODEL_A = """model a
  J1: A -> ; k*A
  A = a0
  Tot := A
  k = 0.5; a0 = 2
end
"""
MODEL_B = """model b
  J1: -> B; p
  J2: B -> ; k*B
  B = 0
  Tot := 2*B
  k = 0.5; p = 1
end
"""
# data file: (model, span, columns); each column is (name, value(t, k, a0, p),
# d value / d(k, a0, p))
RUNS = {
    "a/p1": ("a", 10.0, ("A", "Tot")),
    "a2": ("a", 5.0, ("Tot",)),
    "b/p1": ("b", 8.0, ("B", "Tot")),
}


def _closed(model, column, t, v):
    """A model output and its derivative by (k, a0, p), shapes (n,) and (n, 3)."""
    k, a0, p = v
    e = np.exp(-k * t)
    if model == "a":
        y = a0 * e
        d = np.stack([-t * y, e, 0 * t], axis=1)
    else:
        y = p / k * (1 - e)
        d = np.stack([-p / k**2 * (1 - e) + p / k * t * e, 0 * t, (1 - e) / k], axis=1)
        if column == "Tot":
            y, d = 2 * y, 2 * d
    return y, d


def _write_exp(path, model, span, columns, v):
    t = np.arange(0.0, span + 1.0)
    cols = [_closed(model, c, t, v)[0] for c in columns]
    rows = [" ".join([f"{ti:g}", *(repr(float(c[i])) for c in cols)]) for i, ti in enumerate(t)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# time " + " ".join(columns) + "\n" + "\n".join(rows) + "\n")


def _job(tmp_path, data_at=TRUTH, extra=""):
    (tmp_path / "a.ant").write_text(MODEL_A)
    (tmp_path / "b.ant").write_text(MODEL_B)
    for name, (model, span, columns) in RUNS.items():
        _write_exp(tmp_path / f"{name}.exp", model, span, columns, data_at)
    conf = tmp_path / "job.conf"
    conf.write_text("model = a.ant : a/p1.exp, a2.exp\n"
                    "model = b.ant : b/p1.exp\n"
                    "objfunc = sos\n"
                    "loguniform_var = k 0.01 10\n"
                    "loguniform_var = a0 0.1 10\n"
                    "loguniform_var = p 0.01 10\n"
                    "time_course = model: a, time: 10, suffix: p1\n"
                    "time_course = model: a, time: 5, suffix: a2\n"
                    "time_course = model: b, time: 8, suffix: p1\n" + extra)
    return conf


def _expected(tmp_path, v, runs=RUNS):
    """Gaussian (sigma 1) nllh and its gradient in log10 coordinates."""
    f, g = 0.0, np.zeros(3)
    for name, (model, _, columns) in runs.items():
        table = np.loadtxt(tmp_path / f"{name}.exp", comments="#", ndmin=2)
        for j, c in enumerate(columns):
            y, d = _closed(model, c, table[:, 0], v)
            r = y - table[:, j + 1]
            f += np.sum(0.5 * LN2PI + 0.5 * r**2)
            g += r @ d
    return f, g * v * np.log(10)


def test_two_models_share_a_parameter_value_and_gradient_match_closed_form(tmp_path):
    conf = _job(tmp_path, data_at=np.array([0.3, 2.5, 1.2]))
    problem = bngfit.load_problem(conf)
    assert list(problem.models) == ["a", "b"] and problem.model is problem.models["a"]
    assert {c: problem.model_id(c) for c in problem.conditions} == {
        "a.p1": "a", "a2": "a", "b.p1": "b"}
    assert problem.files["model"].split(";") == [str(tmp_path / "a.ant"),
                                                 str(tmp_path / "b.ant")]
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    assert len(obj.engines) == 2 and obj.engine is obj.engines[0]
    # p is no parameter of model a: no sensitivity there
    sens = {e.condition_id: set(e.sens_params) for e in obj.plan.experiments}
    assert sens == {"a.p1": {"k", "a0"}, "a2": {"k", "a0"}, "b.p1": {"k", "p"}}
    v = np.array([0.7, 2.0, 1.0])
    x = np.log10(v)
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    f, g = _expected(tmp_path, v)
    assert ev.fval == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)
    table = bngfit.check_grad_multi_eps(obj, x)
    assert (table["rel_err"] < 1e-6).all(), table


def test_fit_and_plots_of_two_models(tmp_path, capsys, monkeypatch):
    conf = _job(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(conf), "--starts", "2", "--seed", "1", "--engine", "sequential",
                 "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(10 ** np.array(out["best_x"]), TRUTH, rtol=1e-6)
    n = 11 * 2 + 6 + 9 * 2  # exact data: only the normalisation is left
    assert out["best_fval"] == pytest.approx(n * 0.5 * LN2PI, abs=1e-6)
    assert main(["plot", "job.fit.db", "-o", "plots"]) == 0
    assert (tmp_path / "plots" / "model_fit.png").stat().st_size > 5000


def test_simulation_table_covers_both_models(tmp_path, capsys):
    conf = _job(tmp_path)
    out = tmp_path / "sim.tsv"
    assert main(["simulate", str(conf), "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns[:3]) == ["observableId", "modelId", "simulationConditionId"]
    assert set(zip(table.modelId, table.simulationConditionId, strict=True)) == {
        ("a", "a.p1"), ("a", "a2"), ("b", "b.p1")}
    v = np.sqrt(np.array([0.01 * 10, 0.1 * 10, 0.01 * 10]))  # nominal: middle in log10
    for (model, cond, obs), rows in table.groupby(["modelId", "simulationConditionId",
                                                   "observableId"]):
        y, _ = _closed(model, obs, rows.time.to_numpy(), v)
        np.testing.assert_allclose(rows.simulation, y, rtol=1e-6, err_msg=f"{cond} {obs}")


EDITION2 = """edition = 2
model: a.ant, b.ant
objective = sos
loguniform_var = k 0.01 10
loguniform_var = a0 0.1 10
loguniform_var = p 0.01 10
condition: twice, model: b, perturbations: p * 2
experiment: ea, model: a, data: a/p1.exp
experiment: eb, model: b.ant, data: b/p1.exp
experiment: eb2, model: b, condition: twice, data: b2.exp
"""


def test_edition2_experiments_on_two_models_match_closed_form(tmp_path):
    _job(tmp_path)
    _write_exp(tmp_path / "b2.exp", "b", 8.0, ("B", "Tot"), TRUTH * [1.0, 1.0, 2.0])
    conf = tmp_path / "job2.conf"
    conf.write_text(EDITION2)
    problem = bngfit.load_problem(conf)
    assert {c: problem.model_id(c) for c in problem.conditions} == {
        "ea": "a", "eb": "b", "eb2": "b"}
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    v = np.array([0.7, 2.0, 1.0])
    x = np.log10(v)
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    f, g = _expected(tmp_path, v, {k: RUNS[k] for k in ("a/p1", "b/p1")})
    # eb2: model b with p doubled (d/dp picks up the factor 2)
    t = np.arange(9.0)
    data = np.loadtxt(tmp_path / "b2.exp", comments="#")
    for j, c in enumerate(("B", "Tot")):
        y, d = _closed("b", c, t, v * [1.0, 1.0, 2.0])
        r = y - data[:, j + 1]
        f += np.sum(0.5 * LN2PI + 0.5 * r**2)
        g += (r @ (d * [1.0, 1.0, 2.0])) * v * np.log(10)
    assert ev.fval == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-7)
    np.testing.assert_allclose(ev.grad, central_grad(obj, x), rtol=1e-6)


# A BNGL template and an Antimony model share k__FREE (the template's
# placeholder, the Antimony model's parameter id): C(t) = s exp(-k t); a mutant
# of the template doubles k; B as above with k = k__FREE.
MODEL_C = """begin model
begin parameters
  kc k__FREE
  s s__FREE
end parameters
begin molecule types
  C()
end molecule types
begin seed species
  C() s
end seed species
begin observables
  Molecules Tot C()
end observables
begin reaction rules
  C() -> 0 kc
end reaction rules
end model
simulate({method=>"ode",t_end=>6,n_steps=>6,suffix=>"p1"})
"""


@needs_bng
def test_bngl_and_antimony_models_with_a_mutant(tmp_path):
    (tmp_path / "c.bngl").write_text(MODEL_C)
    (tmp_path / "b.ant").write_text(MODEL_B.replace("k", "k__FREE"))
    t, tb = np.arange(7.0), np.arange(9.0)
    data = {"p1": 2.0 * np.exp(-0.3 * t) + 0.1, "p1dbl": 2.0 * np.exp(-0.6 * t),
            "bp": 2 * 1.2 / 0.3 * (1 - np.exp(-0.3 * tb)) - 0.2}
    for name, values in data.items():
        tt = tb if name == "bp" else t
        rows = [f"{ti:g} {float(y)!r}" for ti, y in zip(tt, values, strict=True)]
        (tmp_path / f"{name}.exp").write_text("# time Tot\n" + "\n".join(rows) + "\n")
    conf = tmp_path / "job.conf"
    conf.write_text("model = c.bngl : p1.exp\nmodel = b.ant : bp.exp\n"
                    "mutant = c dbl k__FREE*2 : p1dbl.exp\nobjfunc = sos\n"
                    "loguniform_var = k__FREE 0.01 10\nloguniform_var = s__FREE 0.1 10\n"
                    "loguniform_var = p 0.01 10\ntime_course = model: b, time: 8, suffix: bp\n")
    problem = bngfit.load_problem(conf)
    assert {c: problem.model_id(c) for c in problem.conditions} == {
        "p1": "c", "p1dbl": "c", "bp": "b"}
    obj = bngfit.Objective(problem, rtol=1e-11, atol=1e-13)
    k, s, p = v = np.array([0.5, 1.5, 0.8])
    x = np.log10(v)
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    expected = {"p1": s * np.exp(-k * t), "p1dbl": s * np.exp(-2 * k * t),
                "bp": 2 * p / k * (1 - np.exp(-k * tb))}

    def nllh(z):
        kk, ss, pp = 10**z
        sims = {"p1": ss * np.exp(-kk * t), "p1dbl": ss * np.exp(-2 * kk * t),
                "bp": 2 * pp / kk * (1 - np.exp(-kk * tb))}
        return sum(np.sum(0.5 * LN2PI + 0.5 * (sims[n] - data[n]) ** 2) for n in data)

    np.testing.assert_allclose(ev.simulation, np.concatenate(list(expected.values())),
                               rtol=1e-8)
    assert ev.fval == pytest.approx(nllh(x), rel=1e-9)
    h = 1e-6
    ref = np.array([(nllh(x + h * e) - nllh(x - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(ev.grad, ref, rtol=1e-6)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("conf", "extra", "match", "line"),
    [("job.conf", "loguniform_var = q 0.1 10\n", "used by none of the models", 10),
     ("job.conf", "mutant = b m1 a0*2 : p1m1.exp\n", "'a0' is no parameter or species", 10),
     ("job2.conf", "experiment: ec, model: a, condition: twice, data: a2.exp\n",
      "is for model 'b'", 11),
     ("job2.conf", "experiment: ec, data: a2.exp\n", "say which one with 'model: NAME'", 11)],
)
def test_refusals_name_file_and_line(tmp_path, capsys, conf, extra, match, line):
    job = _job(tmp_path)
    _write_exp(tmp_path / "b2.exp", "b", 8.0, ("B", "Tot"), TRUTH)
    _write_exp(tmp_path / "p1m1.exp", "b", 8.0, ("B", "Tot"), TRUTH)
    if conf == "job2.conf":
        job = tmp_path / conf
        job.write_text(EDITION2 + extra)
    else:
        job.write_text(job.read_text() + extra)
    with pytest.raises(InputError, match=match):
        bngfit.load_problem(job)
    assert main(["evaluate", str(job)]) == 2
    err = capsys.readouterr().err
    assert f"{conf}:{line}" in err and "Traceback" not in err, err


@needs_bng
def test_free_parameter_that_a_bngl_model_has_but_pybnf_would_not_set(tmp_path, capsys):
    (tmp_path / "c.bngl").write_text(MODEL_C.replace("  s s__FREE\n", "  s s__FREE\n  p 1\n"))
    (tmp_path / "b.ant").write_text(MODEL_B.replace("k", "k__FREE"))
    (tmp_path / "p1.exp").write_text("# time Tot\n0 1\n1 0.5\n")
    (tmp_path / "bp.exp").write_text("# time Tot\n0 0\n1 0.5\n")
    conf = tmp_path / "job.conf"
    conf.write_text("model = c.bngl : p1.exp\nmodel = b.ant : bp.exp\nobjfunc = sos\n"
                    "loguniform_var = k__FREE 0.01 10\nloguniform_var = s__FREE 0.1 10\n"
                    "loguniform_var = p 0.01 10\ntime_course = model: b, time: 8, suffix: bp\n")
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "job.conf:6" in err and "where PyBNF would not set it" in err, err


def test_formula_symbol_read_differently_by_two_models_is_refused(tmp_path, capsys):
    _job(tmp_path)
    # 'A' is a species of model a and a parameter of model b
    (tmp_path / "b.ant").write_text(MODEL_B.replace("p = 1", "p = 1; A = 1"))
    (tmp_path / "w.exp").write_text("# time W\n0 1\n1 2\n")
    conf = tmp_path / "job3.conf"
    conf.write_text(EDITION2.split("condition:")[0] + "observable: W, formula: 2*A\n"
                    "experiment: ea, model: a, data: w.exp\n"
                    "experiment: eb, model: b, data: w.exp\n")
    assert main(["evaluate", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "job3.conf:7" in err and "model output of a and not of b" in err, err
