"""Reading PyBNF .conf files: the shared examples, both editions, one test per bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._conditions import MutationOp
from bngfit.problem._scales import Scale
from bngfit.pybnf._exp import read_exp
from bngfit.pybnf.build._settings import unused_issue
from bngfit.pybnf.conf._conf import (
    NormalizationType,
    Objfunc,
    ParamKind,
    check_supported,
    read_conf,
    unsupported_math,
)
from bngfit.pybnf.conf._keys import IGNORED_KEYS, RUN_KEYS, STRUCTURE_KEYS, UNSUPPORTED_MATH_KEYS
from tests.helpers import shared_path

SHARED_CONFS = [
    ("receptor", "receptor.conf"),
    ("demo", "demo_bng.conf"),
    ("demo", "demo_xml.conf"),
    ("demo", "parabola_bootstrap.conf"),
    ("constraint_demo", "parabola.conf"),
]


def _conf(folder: str, name: str) -> Path:
    return shared_path("benchmarks", "pybnf", folder, name)


def _line_of(path: Path, start: str) -> int:
    """1-based number of the first line of ``path`` starting with ``start``."""
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(start):
            return i
    raise AssertionError(f"{start!r} not in {path}")


# ------------------------------------------------------------ shared examples
def test_receptor_conf():
    path = _conf("receptor", "receptor.conf")
    c = read_conf(path)
    assert c.edition == 1
    assert [m.name for m in c.models] == ["receptor"]
    m = c.models[0]
    assert m.path == path.parent / "receptor.bngl"
    assert m.data == (path.parent / "receptor.exp",)
    assert m.line == _line_of(path, "model=")
    names = ["KD1__FREE", "km1__FREE", "K2RT__FREE", "km2__FREE", "kphos__FREE",
             "kdephos__FREE"]
    assert [p.name for p in c.parameters] == names
    first = _line_of(path, "loguniform_var=KD1__FREE")
    for i, p in enumerate(c.parameters):
        assert p.kind is ParamKind.LOGUNIFORM and p.scale is Scale.LOG10
        assert (p.lower, p.upper) == (0.001, 1000.0)
        assert p.numbers == (0.001, 1000.0)
        assert p.enforce_bounds and p.line == first + i
    assert c.objfunc is Objfunc.SOS and c.objfunc_line == _line_of(path, "objfunc=")
    assert c.setting("fit_type") == "ss"
    assert c.setting("max_iterations") == 50 and c.setting("population_size") == 12
    assert c.setting("verbosity") == 2 and c.setting("output_dir") == "output/receptor"
    assert c.settings["max_iterations"][1] == _line_of(path, "max_iterations=")
    assert c.warnings == ()
    check_supported(c)


def test_demo_bng_conf():
    path = _conf("demo", "demo_bng.conf")
    c = read_conf(path)
    assert c.models[0].path.name == "parabola.bngl"
    assert [d.name for d in c.models[0].data] == ["par1.exp"]
    assert [(p.name, p.kind, p.lower, p.upper) for p in c.parameters] == [
        (f"v{i}__FREE", ParamKind.UNIFORM, 0.0, 10.0) for i in (1, 2, 3)]
    assert c.objfunc is Objfunc.CHI_SQ
    assert c.setting("fit_type") == "de" and c.setting("population_size") == 20
    assert c.setting("max_iterations") == 30


def test_demo_xml_conf_sbml_ids_and_time_course():
    path = _conf("demo", "demo_xml.conf")
    c = read_conf(path)
    assert c.models[0].path.name == "parabola.xml"
    assert [p.name for p in c.parameters] == ["v1", "v2", "v3"]  # plain SBML ids
    (a,) = c.actions
    assert a.kind == "time_course" and a.fields == {"time": 20.0, "suffix": "par1"}
    assert a.suffix == "par1" and a.method == "ode"
    assert a.line == _line_of(path, "time_course")


def test_bootstrap_conf_reads_bootstrap_as_a_run_setting():
    path = _conf("demo", "parabola_bootstrap.conf")
    c = read_conf(path)
    assert c.setting("bootstrap") == 10 and c.setting("fit_type") == "pso"
    assert c.settings["bootstrap"][1] == _line_of(path, "bootstrap =")
    assert c.setting("bootstrap_max_obj") == 100.0
    check_supported(c)  # bootstrap changes no objective: bngfit runs it after the fit
    # the PSO tuning keys have no effect: the builder lists them, bootstrap not
    assert c.warnings == ()
    w = unused_issue(c)
    assert "cognitive" in w.message and "social" in w.message
    assert "bootstrap" not in w.message
    assert c.setting("cognitive") == "1.5"


def test_constraint_demo_conf():
    path = _conf("constraint_demo", "parabola.conf")
    c = read_conf(path)
    assert [d.name for d in c.models[0].data] == ["par.prop", "par.exp"]
    assert [p.name for p in c.parameters] == [f"{x}__FREE" for x in "abcde"]
    assert all((p.lower, p.upper) == (0, 10) for p in c.parameters)
    assert c.objfunc is Objfunc.SOS
    assert c.setting("initialization") == "lh" and c.setting("delete_old_files") == 1
    assert c.setting("max_iterations") == 100


@pytest.mark.parametrize(("folder", "name"), SHARED_CONFS)
def test_shared_data_files_read(folder, name):
    c = read_conf(_conf(folder, name))
    for m in c.models:
        assert m.path.is_file()
        for d in m.data:
            if d.suffix == ".exp":
                assert read_exp(d).n_rows > 0


# ------------------------------------------------------------ helpers
def _setup(tmp_path: Path, text: str, files=("m.bngl", "d.exp")) -> Path:
    for name in files:
        p = tmp_path / name
        p.write_text("# time x x_SD\n0 1 1\n" if name.endswith(".exp") else "")
    path = tmp_path / "job.conf"
    path.write_text(text)
    return path


def _fails(path: Path, line: int | None, *parts: str) -> str:
    with pytest.raises(InputError) as err:
        read_conf(path)
    msg = str(err.value)
    assert path.name in msg
    if line is not None:
        assert re.search(rf"{re.escape(path.name)}:{line}[,:]", msg), msg
    for part in parts:
        assert part in msg, msg
    return msg


BASE = "model = m.bngl : d.exp\nuniform_var = k__FREE 0 10\n"


# ------------------------------------------------------------ legacy features
LEGACY = """\
# all legacy features
model = m.bngl : d.exp, e.exp
model=n.xml: n1.exp
loguniform_var = k__FREE 0.01 100 U
normal_var = a__FREE 10 1
lognormal_var = b__FREE 1 0.1
var = c__FREE 5
logvar = e__FREE -3 0.5
objfunc = norm_sos
normalization = init: d.exp, (e.exp: 1,3-4)
normalization = peak: (n1.exp: x, y)
mutant = m ko k__FREE*2 L0 = 100 ka-1 : dko.exp
time_course = model: n, time: 100, suffix: n1, step: 0.5
param_scan = param: L0, min: 1, max: 100, step: 10, time: 60, suffix: scan, logspace: 1
noise_model x = laplace, scale = fit e__FREE, location = median
noise_model = normal, sigma = read_exp_file _SD
max_iterations = 20   # a trailing comment
max_iterations = 20
population_size = 5
mystery_key = 3
other_unknown = x
smoothing = 1
"""


def test_legacy_features(tmp_path):
    path = _setup(tmp_path, LEGACY, files=("m.bngl", "n.xml", "d.exp", "e.exp", "n1.exp",
                                           "dko.exp"))
    c = read_conf(path)
    assert [(m.name, [d.name for d in m.data], m.line) for m in c.models] == [
        ("m", ["d.exp", "e.exp"], 2), ("n", ["n1.exp"], 3)]
    p = {q.name: q for q in c.parameters}
    assert p["k__FREE"].kind is ParamKind.LOGUNIFORM and not p["k__FREE"].enforce_bounds
    assert (p["k__FREE"].lower, p["k__FREE"].upper) == (0.01, 100)
    assert (p["a__FREE"].mean, p["a__FREE"].sd, p["a__FREE"].lower) == (10, 1, 0.0)
    assert p["b__FREE"].kind is ParamKind.LOGNORMAL and p["b__FREE"].scale is Scale.LOG10
    assert (p["b__FREE"].mean, p["b__FREE"].sd, p["b__FREE"].lower) == (1, 0.1, None)
    assert p["c__FREE"].kind is ParamKind.VAR and p["c__FREE"].initial == 5
    assert p["c__FREE"].step is None
    assert p["e__FREE"].initial == pytest.approx(1e-3) and p["e__FREE"].step == 0.5
    assert p["e__FREE"].line == 8
    assert c.objfunc is Objfunc.NORM_SOS
    norms = [(n.type, n.file and n.file.name, n.columns, n.line) for n in c.normalization]
    assert norms == [(NormalizationType.INIT, "d.exp", None, 10),
                     (NormalizationType.INIT, "e.exp", (1, 3, 4), 10),
                     (NormalizationType.PEAK, "n1.exp", ("x", "y"), 11)]
    (ko,) = c.conditions
    assert (ko.name, ko.model, [d.name for d in ko.data], ko.line) == ("ko", "m", ["dko.exp"],
                                                                      12)
    assert [(q.target, q.op, q.value) for q in ko.perturbations] == [
        ("k__FREE", MutationOp.MUL, 2.0), ("L0", MutationOp.SET, 100.0),
        ("ka", MutationOp.SUB, 1.0)]
    tc, scan = c.actions
    assert tc.fields == {"model": "n", "time": 100.0, "suffix": "n1", "step": 0.5}
    assert scan.kind == "param_scan" and scan.fields["param"] == "L0"
    assert scan.fields["logspace"] == 1 and scan.suffix == "scan"
    nx, nall = c.noise_models
    assert (nx.family, nx.observable, nx.parameter, nx.source, nx.argument, nx.location) == (
        "laplace", "x", "scale", "fit", "e__FREE", "median")
    assert (nall.observable, nall.source, nall.argument) == (None, "read_exp_file", "_SD")
    assert c.settings["max_iterations"] == (20, 17)
    assert c.setting("smoothing") == 1
    check_supported(c)  # smoothing = 1 is neutral
    repeated, unknown = c.warnings
    assert repeated.row == 18 and repeated.id == "max_iterations"
    assert "mystery_key (line 20)" in unknown.message
    assert "other_unknown (line 21)" in unknown.message
    assert "mystery_key" not in c.settings


def test_unsupported_math_lists_keys_and_methods(tmp_path):
    text = BASE + "smoothing = 3\nconstraint_scale = 1\ntime_course = time: 5, method: ssa\n"
    c = read_conf(_setup(tmp_path, text))
    found = unsupported_math(c)
    assert [(i.id, i.row, i.value) for i in found] == [("smoothing", 3, "3"),
                                                       ("time_course method", 5, "ssa")]
    with pytest.raises(UnsupportedError, match="smoothing"):
        check_supported(c)
    assert [i.id for i in unsupported_math(c, supported={"smoothing"})] == [
        "time_course method"]
    check_supported(c, supported={"smoothing", "method"})


def test_key_tables_are_disjoint_and_documented():
    tables = [set(STRUCTURE_KEYS), set(RUN_KEYS), set(IGNORED_KEYS),
              set(UNSUPPORTED_MATH_KEYS)]
    for i, a in enumerate(tables):
        for b in tables[i + 1:]:
            assert not a & b
    assert all(IGNORED_KEYS.values()) and all(s.help for s in RUN_KEYS.values())
    assert all(k == k.lower() for t in tables for k in t)


# ------------------------------------------------------------ legacy errors
def test_missing_conf(tmp_path):
    with pytest.raises(InputError, match="not found") as err:
        read_conf(tmp_path / "nope.conf")
    assert "nope.conf" in str(err.value)


LEGACY_BAD = [
    ("no_equals", BASE + "max_iterations 50\n", 3, ["max_iterations 50", "key = value"]),
    ("bad_number", BASE + "loguniform_var = p__FREE 0.001 abc\n", 3, ["'abc'", "p__FREE"]),
    ("lo_ge_hi", BASE + "uniform_var = p__FREE 5 5\n", 3, ["p__FREE", "'5 5'", "below"]),
    ("log_nonpositive", BASE + "loguniform_var = p__FREE 0 10\n", 3, ["p__FREE", "'0'"]),
    ("declared_twice", BASE + "loguniform_var = k__FREE 1 10\n", 3,
     ["k__FREE", "line 2"]),
    ("var_shape", BASE + "uniform_var = p__FREE 1\n", 3, ["uniform_var", "LOWER UPPER"]),
    ("normal_sd", BASE + "normal_var = p__FREE 1 0\n", 3, ["p__FREE", "'0'"]),
    ("model_missing", "model = gone.bngl : d.exp\nuniform_var = k__FREE 0 10\n", 1,
     ["gone.bngl", "not found"]),
    ("model_suffix", "model = m.txt : d.exp\nuniform_var = k__FREE 0 10\n", 1,
     ["m.txt", ".bngl"]),
    ("model_no_colon", "model = m.bngl\nuniform_var = k__FREE 0 10\n", 1,
     ["'m.bngl'", ": none"]),
    ("data_missing", "model = m.bngl : d.exp, gone.exp\nuniform_var = k__FREE 0 10\n", 1,
     ["gone.exp", "not found"]),
    ("data_suffix", "model = m.bngl : d.exp, d.con\nuniform_var = k__FREE 0 10\n", 1,
     ["d.con", ".exp", ".prop"]),
    ("not_free", BASE + "uniform_var = kf 0 10\n", 3, ["'kf'", "__FREE"]),
    ("no_model", "uniform_var = k__FREE 0 10\n", None, ["no model"]),
    ("no_param", "model = m.bngl : d.exp\nmax_iterations = 3\n", None,
     ["no free parameter"]),
    ("no_data", "model = m.bngl : none\nuniform_var = k__FREE 0 10\n", None, ["no data"]),
    ("setting_number", BASE + "max_iterations = many\n", 3, ["max_iterations", "'many'"]),
    ("setting_choice", BASE + "fit_type = magic\n", 3, ["fit_type", "'magic'", "pso"]),
    ("setting_twice", BASE + "population_size = 5\npopulation_size = 6\n", 4,
     ["population_size", "line 3", "'6'"]),
    ("objfunc", BASE + "objfunc = lsq\n", 3, ["objfunc", "'lsq'", "chi_sq"]),
    ("record_in_legacy", BASE + "parameter: p, lower: 1, upper: 2\n", 3,
     ["edition = 2", "parameter"]),
    ("job_type_legacy", BASE + "job_type = de\n", 3, ["job_type", "fit_type"]),
    ("mutant_base", BASE + "mutant = other ko k__FREE=0 : d.exp\n", 3, ["'other'", "ko"]),
    ("mutant_statement", BASE + "mutant = m ko k__FREE^2 : d.exp\n", 3, ["k__FREE^2"]),
    ("mutant_value", BASE + "mutant = m ko k__FREE=2x : d.exp\n", 3, ["'2x'", "k__FREE"]),
    ("norm_type", BASE + "normalization = max\n", 3, ["normalization", "'max'", "peak"]),
    ("norm_file", BASE + "normalization = init: other.exp\n", 3, ["other.exp"]),
    ("norm_global_twice", BASE + "normalization = init\nnormalization = peak: d.exp\n", 3,
     ["only normalization", "line 4"]),
    ("norm_column", BASE + "normalization = init: (d.exp: 0-2)\n", 3, ["'0-2'"]),
    ("action_field", BASE + "time_course = time: 10, color: red\n", 3, ["'color'", "'red'"]),
    ("action_required", BASE + "param_scan = param: L0, time: 10\n", 3,
     ["param_scan", "min, max, step"]),
    ("action_model", BASE + "time_course = time: 10, model: zz\n", 3, ["'zz'"]),
    ("sbml_action", "model = m.xml : d.exp\nuniform_var = k 0 10\n", 1,
     ["suffix: d", "d.exp", "SBML"]),
    ("noise_family", BASE + "noise_model = cauchy, sigma = fix_at 1\n", 3, ["'cauchy'"]),
    ("noise_fit", BASE + "noise_model = normal, sigma = fit s__FREE\n", 3, ["'s__FREE'"]),
    ("edition_bad", "edition = 3\n" + BASE, 1, ["edition"]),
    ("edition_twice", "edition = 1\n" + BASE + "edition = 1\n", 4, ["line 1"]),
]


@pytest.mark.parametrize(("name", "text", "line", "parts"), LEGACY_BAD,
                         ids=[b[0] for b in LEGACY_BAD])
def test_legacy_errors(tmp_path, name, text, line, parts):
    files = ("m.bngl", "m.xml", "d.exp", "d.con")
    _fails(_setup(tmp_path, text, files=files), line, *parts)


def test_all_errors_reported_together(tmp_path):
    text = BASE + "uniform_var = p__FREE 5 1\nmax_iterations = x\n"
    msg = _fails(_setup(tmp_path, text), None)
    assert "job.conf:3" in msg and "job.conf:4" in msg


def test_mixed_bngl_and_sbml_skips_free_suffix_check(tmp_path):
    text = ("model = m.bngl : d.exp\nmodel = s.xml : none\nuniform_var = kf 0 10\n"
            "uniform_var = k__FREE 0 1\n")
    c = read_conf(_setup(tmp_path, text, files=("m.bngl", "s.xml", "d.exp")))
    assert [p.name for p in c.parameters] == ["kf", "k__FREE"]


# ------------------------------------------------------------ edition 2
EDITION2 = """\
# an edition-2 job
edition = 2
model: m.bngl
parameter: kf, scale: log10, lower: 1e-3, upper: 1e3, initial: 1
parameter: kr, lower: 0, upper: 10
parameter: s, prior: normal, mean: 1, sd: 0.5, lower: -2, upper: 4
parameter: g, parameter_scale: log10, prior: normal, mean: -1, sd: 1
parameter: h, initial_value: 3
condition: high, perturbations: L0 = 100, kf * 2
condition: ko, model: m, perturbations: kr=0
experiment: base, data: d.exp, r2.exp
experiment: dose, data: e.exp, s.prop, condition: high, preequilibrate: ko
noise_model: normal, sigma: read_exp_file _SD
noise_model: lognormal, observable: y, sigma: relative 0.1, location: mean
objective: chi_sq
job_type: de
max_iterations = 40
normalization x = init
"""


def test_edition2_example(tmp_path):
    path = _setup(tmp_path, EDITION2, files=("m.bngl", "d.exp", "r2.exp", "e.exp", "s.prop"))
    c = read_conf(path)
    assert c.edition == 2
    assert [(m.name, m.data, m.line) for m in c.models] == [("m", (), 3)]
    p = {q.name: q for q in c.parameters}
    kf = p["kf"]
    assert (kf.kind, kf.scale, kf.lower, kf.upper, kf.initial, kf.line) == (
        ParamKind.LOGUNIFORM, Scale.LOG10, 1e-3, 1e3, 1.0, 4)
    assert kf.numbers == (1e-3, 1e3, 1.0)
    assert (p["kr"].kind, p["kr"].scale) == (ParamKind.UNIFORM, Scale.LIN)
    assert (p["s"].kind, p["s"].mean, p["s"].sd, p["s"].lower) == (ParamKind.NORMAL, 1, 0.5,
                                                                   -2)
    assert (p["g"].kind, p["g"].lower) == (ParamKind.LOGNORMAL, None)
    assert (p["h"].kind, p["h"].initial) == (ParamKind.VAR, 3)
    high, ko = c.conditions
    assert (high.name, high.model, high.line) == ("high", None, 9)
    assert [(q.target, q.op, q.value) for q in high.perturbations] == [
        ("L0", MutationOp.SET, 100.0), ("kf", MutationOp.MUL, 2.0)]
    assert (ko.model, ko.perturbations[0].value) == ("m", 0.0)
    base, dose = c.experiments
    assert [d.name for d in base.data] == ["d.exp", "r2.exp"]
    assert (base.condition, base.preequilibrate, base.line) == (None, None, 11)
    assert (dose.condition, dose.preequilibrate) == ("high", "ko")
    assert [d.name for d in dose.data] == ["e.exp"]
    assert [d.name for d in dose.constraints] == ["s.prop"]
    n0, n1 = c.noise_models
    assert (n0.family, n0.observable, n0.source, n0.argument) == ("normal", None,
                                                                  "read_exp_file", "_SD")
    assert (n1.observable, n1.source, n1.argument, n1.location) == ("y", "relative", 0.1,
                                                                    "mean")
    assert c.objfunc is Objfunc.CHI_SQ and c.objfunc_line == 15
    assert c.settings["job_type"] == ("de", 16)
    assert c.setting("max_iterations") == 40
    assert c.normalization == ()
    (norm,) = c.obs_normalization
    assert (norm.type, norm.experiment, norm.observable) == (NormalizationType.INIT, None, "x")
    assert c.warnings == ()


def test_edition2_two_models(tmp_path):
    text = ("edition = 2\nmodel: m.bngl, n.xml\nparameter: k, lower: 0, upper: 1\n"
            "experiment: e1, data: d.exp, model: n\n")
    c = read_conf(_setup(tmp_path, text, files=("m.bngl", "n.xml", "d.exp")))
    assert [m.name for m in c.models] == ["m", "n"] and c.experiments[0].model == "n"


E2 = "edition = 2\nmodel: m.bngl\nparameter: k, lower: 0, upper: 1\n"
E2_DATA = "experiment: e1, data: d.exp\n"

EDITION2_BAD = [
    ("legacy_key", E2 + E2_DATA + "objfunc = sos\n", 5, ["objfunc", "objective = NAME"]),
    ("legacy_mutant", E2 + E2_DATA + "mutant = m ko k=0 : d.exp\n", 5, ["condition:"]),
    ("legacy_model", E2 + E2_DATA + "model = m.bngl : d.exp\n", 5, ["model:", "experiment:"]),
    ("legacy_fit_type", E2 + E2_DATA + "fit_type = de\n", 5, ["job_type"]),
    ("unknown_record", E2 + E2_DATA + "dataset: x, data: d.exp\n", 5, ["'dataset'",
                                                                       "experiment"]),
    ("unknown_field", E2 + "experiment: e1, data: d.exp, colour: red\n", 4,
     ["'colour'", "'red'"]),
    ("field_twice", E2 + "experiment: e1, data: d.exp, data: d.exp\n", 4, ["'data'"]),
    ("list_in_single", E2 + "experiment: e1, data: d.exp, condition: a, b\n", 4,
     ["'condition'", "'a, b'"]),
    ("missing_data", E2 + "experiment: e1, condition: c\n", 4, ["data:"]),
    ("empty_value", E2 + "experiment: e1, data: d.exp,\n", 4, ["empty"]),
    ("bad_condition_ref", E2 + "experiment: e1, data: d.exp, condition: nope\n", 4,
     ["'nope'", "condition"]),
    ("bad_perturbation", E2 + E2_DATA + "condition: c, perturbations: k ** 2\n", 5,
     ["k ** 2"]),
    ("param_no_range", E2 + E2_DATA + "parameter: p\n", 5, ["'p'", "bounds"]),
    ("param_one_bound", E2 + E2_DATA + "parameter: p, lower: 1\n", 5, ["both lower"]),
    ("param_scale", E2 + E2_DATA + "parameter: p, scale: log, lower: 1, upper: 2\n", 5,
     ["'log'", "log10"]),
    ("param_number", E2 + E2_DATA + "parameter: p, lower: 1, upper: ten\n", 5,
     ["'upper'", "'ten'"]),
    ("param_twice", E2 + E2_DATA + "parameter: k, lower: 1, upper: 2\n", 5, ["'k'", "line 3"]),
    ("param_initial_out", E2 + E2_DATA + "parameter: p, lower: 1, upper: 2, initial: 5\n", 5,
     ["'initial_value'", "'5'"]),
    ("param_log_bound", E2 + E2_DATA + "parameter: p, scale: log10, lower: 0, upper: 2\n", 5,
     ["'p'", "positive"]),
    ("normal_no_sd", E2 + E2_DATA + "parameter: p, prior: normal, mean: 1\n", 5,
     ["mean and sd"]),
    ("noise_param", E2 + E2_DATA + "noise_model: laplace, sigma: fix_at 1\n", 5,
     ["'sigma'", "scale"]),
    ("noise_source", E2 + E2_DATA + "noise_model: normal, sigma: guess\n", 5, ["'guess'"]),
    ("objective", E2 + E2_DATA + "objective: lsq\n", 5, ["'lsq'"]),
    ("job_type", E2 + E2_DATA + "job_type: magic\n", 5, ["'magic'"]),
    ("two_models_no_ref", "edition = 2\nmodel: m.bngl, n.xml\n"
     "parameter: k, lower: 0, upper: 1\nexperiment: e1, data: d.exp\n", 4, ["model: NAME"]),
    ("experiment_twice", E2 + E2_DATA + E2_DATA, 5, ["'e1'", "line 4"]),
    ("no_experiment", E2, None, ["no data", "experiment:"]),
    ("garbage", E2 + E2_DATA + "just words here\n", 5, ["just words here"]),
    ("edition_colon", "edition: 2\n" + BASE, 1, ["edition = 2"]),
    ("record_with_equals", E2 + E2_DATA + "condition = c\n", 5, ["condition: VALUE"]),
]


@pytest.mark.parametrize(("name", "text", "line", "parts"), EDITION2_BAD,
                         ids=[b[0] for b in EDITION2_BAD])
def test_edition2_errors(tmp_path, name, text, line, parts):
    _fails(_setup(tmp_path, text, files=("m.bngl", "n.xml", "d.exp")), line, *parts)


def test_no_data_reported_despite_warnings(tmp_path):
    text = "model = m.bngl : none\nuniform_var = k__FREE 0 10\nverbosity = 1\nverbosity = 1\n"
    _fails(_setup(tmp_path, text), None, "no data")


def test_gaussian_is_an_alias_of_normal():
    from bngfit.pybnf.conf._parse import noise

    entry = noise("Gaussian", None, {"sigma": "fix_at 1"}, 3)
    assert entry.family == "normal" and entry.argument == 1.0


# ------------------------------------------------ edition 2 as PyBNF writes it
UPSTREAM = """\
output_dir = output/x
edition = 2
model: m.bngl
bngl_backend = bngsim
job_type = lbfgs
objective = chi_sq
noise_model y = student_t, sigma = read_exp_file _SD, df = fit nu   # Student-t
noise_model z = lnnormal, sigma = prediction_formula 0.1 + s*z, cumulative
condition: stim, model: m.bngl, perturbations: "A(b,c)" = 5, kf * 2, L0 = kr
experiment: wash, preequilibrate: stim, equil_t_end: 60, data: d.exp, r2.exp, s.con, gml: 9
experiment: qual, data: s.prop, t_end: 8, n_steps: 16
observable: z, column: z_measured
observable: ratio, formula: max(A_tot, 1e-9) / B_tot
normalization = init
normalization z = peak
normalization wash.y = unit
uniform_var = kf 0.05 3.0 u
normal_var = kr 1 0.5
lognormal_var = nu 1 0.5
parameter: s, prior: normal, mean: 1, sd: 0.5, lower: 0, upper: inf, initial_value: 2
parameter: L, parameter_scale: ln, lower: 0.1, upper: 10
loguniform_var = k9 0.01 100 b
sbml_rtol = 1e-8
mystery = 3
"""


def test_edition2_as_pybnf_documents_it(tmp_path):
    files = ("m.bngl", "d.exp", "r2.exp", "s.con", "s.prop")
    c = read_conf(_setup(tmp_path, UPSTREAM, files=files))
    assert c.settings["job_type"] == ("lbfgs", 5)
    assert c.objfunc is Objfunc.CHI_SQ and c.objfunc_line == 6
    ny, nz = c.noise_models
    assert (ny.family, ny.observable, ny.source, ny.argument, ny.extra) == (
        "student_t", "y", "read_exp_file", "_SD", (("df", "fit", "nu"),))
    assert (nz.family, nz.source, nz.argument, nz.cumulative) == (
        "lnnormal", "prediction_formula", "0.1 + s*z", True)
    (stim,) = c.conditions
    assert stim.model == "m"
    assert [(q.target, q.op, q.value, q.species) for q in stim.perturbations] == [
        ("A(b,c)", MutationOp.SET, 5.0, True), ("kf", MutationOp.MUL, 2.0, False),
        ("L0", MutationOp.SET, "kr", False)]
    wash, qual = c.experiments
    assert [d.name for d in wash.data] == ["d.exp", "r2.exp"]
    assert [d.name for d in wash.constraints] == ["s.con"]
    assert (wash.preequilibrate, wash.equil_t_end) == ("stim", 60.0)
    assert (qual.data, qual.t_end, qual.n_steps) == ((), 8.0, 16)
    rename, ratio = c.observables
    assert (rename.name, rename.column, ratio.formula) == ("z", "z_measured",
                                                            "max(A_tot, 1e-9) / B_tot")
    assert [(n.type.value, n.experiment, n.observable) for n in c.obs_normalization] == [
        ("init", None, None), ("peak", None, "z"), ("unit", "wash", "y")]
    p = {q.name: q for q in c.parameters}
    assert not p["kf"].enforce_bounds and p["k9"].enforce_bounds
    assert (p["kr"].kind, p["kr"].lower) == (ParamKind.NORMAL, None)  # untruncated
    assert (p["nu"].kind, p["nu"].scale) == (ParamKind.LOGNORMAL, Scale.LOG10)
    assert (p["s"].lower, p["s"].upper, p["s"].initial) == (0.0, None, 2.0)
    assert (p["L"].kind, p["L"].scale) == (ParamKind.LOGUNIFORM, Scale.LOG)
    gml, unknown = c.warnings
    assert (gml.row, gml.id, gml.value) == (10, "gml", "9")
    ignored = unused_issue(c)  # keys with no effect: in the builder's one line
    assert "bngl_backend = " in ignored.message and "(line 4)" in ignored.message
    assert "sbml_rtol" in ignored.message
    assert unknown.message == "unknown key(s), not read: mystery (line 24)"


def test_edition2_record_forms_still_read(tmp_path):
    text = (E2 + E2_DATA + "objective: sos\njob_type: de\n"
            "noise_model: student_t, observable: x, sigma: fix_at 2, df: fix_at 5\n"
            "parameter: p, scale: log10, lower: 1, upper: 2, initial: 1.5\n")
    c = read_conf(_setup(tmp_path, text))
    assert c.objfunc is Objfunc.SOS and c.setting("job_type") == "de"
    (n,) = c.noise_models
    assert (n.observable, n.argument, n.extra) == ("x", 2.0, (("df", "fix_at", 5.0),))
    assert c.parameters[1].initial == 1.5 and c.parameters[1].scale is Scale.LOG10
