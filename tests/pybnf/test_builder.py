"""The PyBNF builder core, shared by both editions, read with a fake ModelAccess.

The reader is handed its model services: here a fake that returns a hand-built
ModelInfo and never loads a model, so these tests run without bngsim or
BNG2.pl. Expected values are computed here (the normal distribution from the
standard library), not by bngfit.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from statistics import NormalDist

import pytest

from bngfit.errors import UnsupportedError
from bngfit.problem._formulas import placeholder
from bngfit.problem._model_info import ModelAccess, ModelInfo
from bngfit.problem._problem import NoiseFamily
from bngfit.pybnf.build._problem import check_pybnf
from tests.helpers import REPO

SRC = REPO / "src" / "bngfit"
PHI = NormalDist()


class FakeModels:
    """A ModelAccess stand-in: fixed names, a record of what it was asked."""

    def __init__(self, **names: tuple[str, ...]) -> None:
        self.names = {"species": ("A",), "observables": (), "expressions": ("y",),
                      "parameters": ("k", "k2"), **names}
        self.info_calls: list[Path] = []
        self.network_calls: list[Path] = []

    def access(self) -> ModelAccess:
        return ModelAccess(info=self._info, network=self._network)

    def _info(self, path: Path) -> ModelInfo:
        self.info_calls.append(Path(path))
        return ModelInfo(Path(path), self.names["species"], self.names["observables"],
                         self.names["expressions"], self.names["parameters"], (), {})

    def _network(self, filtered: object, source: Path, line_of: object) -> Path:
        self.network_calls.append(Path(source))
        return Path(source).with_suffix(".net")


@pytest.fixture(autouse=True)
def no_engine(monkeypatch, tmp_path):
    """No bngsim import can succeed; bound templates go to a private cache here."""
    monkeypatch.setitem(sys.modules, "bngsim", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _job(tmp_path, lines, exp="# time A y\n0 1 2\n5 3 4\n", model="m.xml"):
    (tmp_path / model).write_text("not read: the fake ModelAccess answers for it\n")
    (tmp_path / "obs.exp").write_text(exp)
    conf = tmp_path / "job.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


ED1 = ["model = m.xml : obs.exp", "time_course = time: 10, suffix: obs"]
ED2 = ["edition = 2", "model: m.xml", "experiment: obs, data: obs.exp"]


def _errors(issues):
    return [i for i in issues if i.severity == "error"]


# ------------------------------------------------------------ no engine needed
def test_reader_validates_with_a_fake_model_access(tmp_path):
    fake = FakeModels()
    conf = _job(tmp_path, [*ED1, "objfunc = sos", "uniform_var = k 1 3"],
                exp="# time A Bad\n0 1 2\n5 3 4\n")
    problem, issues = check_pybnf(conf, fake.access())
    assert problem is None
    (err,) = _errors(issues)
    assert err.file == str(tmp_path / "obs.exp") and err.row == 1 and err.id == "Bad"
    assert "no observable, function or species" in err.message
    assert fake.info_calls == [tmp_path / "m.xml"] and fake.network_calls == []


@pytest.mark.parametrize("head", [ED1, ED2], ids=["edition1", "edition2"])
def test_a_problem_builds_with_a_fake_model_access(tmp_path, head):
    obj = "objfunc = sos" if head is ED1 else "objective = sos"
    conf = _job(tmp_path, [*head, obj, "uniform_var = k 1 3"])
    problem, issues = check_pybnf(conf, FakeModels().access())
    assert problem is not None, issues
    assert problem.x_names == ["k"] and problem.free[0].nominal == 2.0
    m = problem.measurements
    assert list(m.observable) == ["A", "A", "y", "y"]
    assert m.value.tolist() == [1.0, 3.0, 2.0, 4.0]
    assert m.noise_params == ((1.0,),) * 4


# ------------------------------------------------------------ nominal values
def _truncated_median(mean, sd, lo, hi):
    a, b = PHI.cdf((lo - mean) / sd), PHI.cdf((hi - mean) / sd)
    return mean + sd * PHI.inv_cdf(0.5 * (a + b))


@pytest.mark.parametrize(("line", "expected"), [
    # PyBNF's normal_var is truncated at 0: the median, not the mean
    ("normal_var = k 1 2", _truncated_median(1.0, 2.0, 0.0, math.inf)),
    # a mean at or below the truncation point (formerly the sd, 1)
    ("normal_var = k -1 1", _truncated_median(-1.0, 1.0, 0.0, math.inf)),
    # far from the truncation point the median is the mean
    ("normal_var = k 10 1", 10.0),
    ("lognormal_var = k -0.3 0.2", 10 ** -0.3),
])
def test_edition1_normal_nominal_is_the_truncated_median(tmp_path, line, expected):
    conf = _job(tmp_path, [*ED1, "objfunc = sos", line])
    problem, issues = check_pybnf(conf, FakeModels().access())
    assert problem is not None, issues
    assert problem.free[0].nominal == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("record", "expected"), [
    # mean outside the box (formerly clipped to the upper bound, 2)
    ("prior: normal, mean: 5, sd: 1, lower: 0, upper: 2", _truncated_median(5, 1, 0, 2)),
    ("prior: normal, mean: 1, sd: 0.5, lower: 0.5, upper: inf",
     _truncated_median(1, 0.5, 0.5, math.inf)),
    ("parameter_scale: log10, prior: normal, mean: 0, sd: 1, lower: 0.1, upper: 100",
     10 ** _truncated_median(0, 1, -1, 2)),
    ("prior: normal, mean: -2, sd: 1", -2.0),  # not truncated: the mean
    ("prior: normal, mean: 5, sd: 1, lower: 0, upper: 2, initial_value: 0.5", 0.5),
])
def test_edition2_normal_nominal_is_the_truncated_median(tmp_path, record, expected):
    conf = _job(tmp_path, [*ED2, "objective = sos", f"parameter: k, {record}"])
    problem, issues = check_pybnf(conf, FakeModels().access())
    assert problem is not None, issues
    p = problem.free[0]
    assert p.nominal == pytest.approx(expected, rel=1e-12)
    assert p.lb <= p.nominal <= p.ub


# ------------------------------------------------------------ objective tokens
def test_edition1_sod_is_laplace_with_scale_fixed_at_1(tmp_path):
    # PyBNF: sod desugars to laplace, scale = fix_at 1 (as objective = sod does in
    # edition 2): a per-point scale of 1
    for head, obj in ((ED1, "objfunc = sod"), (ED2, "objective = sod")):
        conf = _job(tmp_path, [*head, obj, "uniform_var = k 1 3"])
        problem, issues = check_pybnf(conf, FakeModels().access())
        assert problem is not None, issues
        y = problem.observables["y"]
        assert y.family is NoiseFamily.LAPLACE
        assert y.noise.text == placeholder("noise", 1, "y")
        assert problem.measurements.noise_params == ((1.0,),) * 4


def test_edition1_noise_parameter_may_be_a_template_placeholder(tmp_path):
    # PyBNF's chi_sq_dynamic "requires sigma__FREE in the model and the
    # configuration file": a BNGL template that uses it gets it bound
    bngl = ("begin model\nbegin parameters\n  k k__FREE\n  s sigma__FREE\nend parameters\n"
            "begin molecule types\n  A()\nend molecule types\n"
            "begin seed species\n  A() 1\nend seed species\n"
            "begin observables\n  Molecules Atot A()\nend observables\n"
            "begin reaction rules\n  A() -> 0 k\nend reaction rules\nend model\n"
            "generate_network({overwrite=>1})\n"
            "simulate({method=>\"ode\",t_end=>10,n_steps=>10,suffix=>\"obs\"})\n")
    fake = FakeModels(species=("A()",), observables=("Atot",), expressions=(),
                      parameters=("k__FREE", "sigma__FREE", "k", "s"))
    conf = _job(tmp_path, ["model = m.bngl : obs.exp", "objfunc = chi_sq_dynamic",
                           "loguniform_var = k__FREE 0.1 10",
                           "loguniform_var = sigma__FREE 0.01 100"],
                exp="# time Atot\n0 1\n5 0.5\n", model="m.bngl")
    (tmp_path / "m.bngl").write_text(bngl)
    problem, issues = check_pybnf(conf, fake.access())
    assert problem is not None, issues
    assert problem.x_names == ["k__FREE", "sigma__FREE"]
    assert fake.network_calls == [tmp_path / "m.bngl"]
    bound = fake.info_calls[0].read_text()
    assert "sigma__FREE 1" in bound and "k__FREE 1" in bound  # geometric means
    assert problem.observables["Atot"].noise.text == "sigma__FREE"


@pytest.mark.parametrize("head", [ED1, ED2], ids=["edition1", "edition2"])
def test_neg_bin_r_is_checked_whatever_the_objective(tmp_path, head):
    obj = "objfunc = sos" if head is ED1 else "objective = sos"
    lines = [*head, obj, "uniform_var = k 1 3", "neg_bin_r = 0"]
    problem, issues = check_pybnf(_job(tmp_path, lines), FakeModels().access())
    (err,) = _errors(issues)
    assert problem is None and err.id == "neg_bin_r" and err.row == len(lines)


# ------------------------------------------------------------ constraints and data
def test_edition1_constraint_on_another_simulation_is_refused(tmp_path):
    # PyBNF's suffix.Name reads another simulation; one penalty reads one here
    conf = _job(tmp_path, ["model = m.xml : obs.exp, obs.prop",
                           "time_course = time: 10, suffix: obs", "objfunc = sos",
                           "uniform_var = k 1 3"])
    (tmp_path / "obs.prop").write_text("A < 5 always\nobs.A < 5 at time=6\n")
    problem, issues = check_pybnf(conf, FakeModels().access())
    assert problem is None
    (err,) = _errors(issues)
    assert err.file == str(tmp_path / "obs.prop") and err.row == 2 and err.id == "obs.A"
    assert "reads another simulation" in err.message


def test_constraints_alone_are_refused_as_unsupported(tmp_path):
    conf = _job(tmp_path, ["model = m.xml : obs.prop", "time_course = time: 10, suffix: obs",
                           "objfunc = sos", "uniform_var = k 1 3"])
    (tmp_path / "obs.prop").write_text("A < 5 always\n")
    problem, issues = check_pybnf(conf, FakeModels().access())
    (err,) = _errors(issues)
    assert problem is None and err.id == "data" and "constraints alone" in err.message
    with pytest.raises(UnsupportedError):
        from bngfit.pybnf.build._problem import build_problem
        from bngfit.pybnf.conf._conf import read_conf

        build_problem(read_conf(conf), FakeModels().access())


@pytest.mark.parametrize("edition", [1, 2])
def test_a_mutation_target_that_is_no_model_name_is_refused_alike(tmp_path, edition):
    if edition == 1:
        lines = [*ED1, "objfunc = sos", "uniform_var = k 1 3",
                 "mutant = m m1 nope*2 : obsm1.exp"]
    else:
        lines = ["edition = 2", "model: m.xml", "objective = sos", "uniform_var = k 1 3",
                 "condition: c1, perturbations: nope * 2",
                 "experiment: obs, condition: c1, data: obs.exp"]
    conf = _job(tmp_path, lines)
    (tmp_path / "obsm1.exp").write_text("# time A\n0 1\n")
    problem, issues = check_pybnf(conf, FakeModels().access())
    (err,) = _errors(issues)
    assert problem is None and err.id == "nope" and err.row == 5
    assert err.message.endswith("'nope' is no parameter or species of the model")
