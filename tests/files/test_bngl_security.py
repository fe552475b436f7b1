"""A BNGL file cannot run code; the private BNGL cache; BNG2.pl's messages and time limit.

Each probe is a BNGL text that makes BNG2.pl run ``touch MARKER`` (or write a
file of its choosing) through one path by which BNG2.pl turns model-file text
into Perl code (``Perl2/BNGModel.pm::readFile`` evals action statements,
top-level ``setOption`` without turning ``"`` into ``'``, ``begin actions``
blocks, ``generate_network`` options; ``readFile`` of an ``.xml`` builds a shell
command). ``test_probe_fires_without_the_filter`` runs BNG2.pl itself on the
unfiltered text to show every probe is live; every other test asserts that
through bngfit (library, PEtab CLI, PyBNF editions 1 and 2) the probe is
refused with its file, line and statement, and the marker never appears.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bngfit
from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.files import _bngl_cache as bngl_cache
from bngfit.files._bngl_filter import filter_bngl
from bngfit.simulate._engine import read_model_info
from tests.helpers import BNGL_DECAY, bng2_path, needs_bng, shared_path, write_problem

TEMPLATE = BNGL_DECAY.replace("  k 0.5\n", "  k k__FREE\n\n")
SIM = 'simulate({method=>"ode",t_end=>4,n_steps=>4,suffix=>"d"})\n'


def _touch(marker: Path) -> str:
    return f"system(q{{touch {marker}}})"


def _after_model(text: str, extra: str) -> str:
    return text + extra


def _before_model(text: str, extra: str) -> str:
    return extra + text


def _in_model(text: str, extra: str) -> str:
    return text.replace("end model\n", extra + "end model\n")


# (id, where the statement goes, statement(marker), text the message must quote)
PROBES = [
    ("setoption-system", _before_model, lambda m: f"setOption({_touch(m)})\n", "setOption("),
    ("unknown-verb", _before_model, lambda m: f"foo({_touch(m)})\n", "foo("),
    ("generate-option", _after_model,
     lambda m: f"generate_network({{max_iter=>{_touch(m)}}})\n", "generate_network("),
    ("backticks", _before_model, lambda m: f'setParameter("k",`touch {m}`)\n', "setParameter("),
    ("actions-block", _in_model,
     lambda m: f"begin actions\nsetOption({_touch(m)})\nend actions\n", "setOption("),
    ("actions-block-no-space", _after_model,
     lambda m: f"beginactions\nsetParameter(\"k\",{_touch(m)})\nend actions\n",
     "setParameter("),
    ("setoption-interpolation", _before_model,
     lambda m: f'setOption("SpeciesLabel@{{[{_touch(m)}]}}","HNauty")\n', "SpeciesLabel@"),
    ("quote-escape", _before_model,
     lambda m: f"setParameter(\"k'.{_touch(m)}.'\",1)\n", "setParameter("),
    ("readfile-shell", _after_model,
     lambda m: f"readFile({{file=>'x\";touch {m};echo \".xml'}})\n", "readFile("),
    ("setconcentration-backticks", _after_model,
     lambda m: f'setConcentration("A()",`touch {m}`)\ngenerate_network()\n',
     "setConcentration("),
    ("perl-statement", _before_model, lambda m: f"{_touch(m)};\n", "system("),
    ("protocol-block", _after_model,
     lambda m: f"begin protocol\nsetParameter(\"k\",{_touch(m)})\nend protocol\n",
     "setParameter("),
    ("simulate-option", _after_model,
     lambda m: f"generate_network()\nsimulate({{t_end=>{_touch(m)}}})\n", "simulate("),
    ("q-string", _before_model, lambda m: f"setParameter(\"k\",q{{1}}.{_touch(m)})\n",
     "setParameter("),
]
PROBE_IDS = [p[0] for p in PROBES]


def _probe(pid: str, marker: Path, base: str = BNGL_DECAY) -> tuple[str, int, str]:
    """The probe's text, the line of its statement and the text quoted."""
    _, where, stmt, quoted = next(p for p in PROBES if p[0] == pid)
    text = where(base, stmt(marker))
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if str(marker) in ln)
    return text, line, quoted


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (XDG_CACHE_HOME) and BNG2.pl's normal limit."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("BNGFIT_BNGL_TIMEOUT", raising=False)
    monkeypatch.setattr(bngl_cache, "_DIRS", {})
    return tmp_path / "xdg" / "bngfit" / "bngl"


# ----------------------------------------------------------- the probes are live
@needs_bng
@pytest.mark.parametrize("pid", [p for p in PROBE_IDS if p not in (
    "readfile-shell", "simulate-option", "protocol-block", "q-string", "perl-statement",
    "actions-block-no-space")])
def test_probe_fires_without_the_filter(pid, tmp_path):
    # BNG2.pl on the text as bngsim used to hand it over: the probe runs.
    # (Probes left out do not fire in this BNG2.pl version through bngsim's
    # cut, or run only in an experiment bngsim dropped: refused all the same.)
    marker = tmp_path / "marker"
    text, _, _ = _probe(pid, marker)
    from bngsim._bngl_loader import generate_network_call, generation_source

    work = tmp_path / "work"
    work.mkdir()
    (work / "m.bngl").write_text(generation_source(text) + "\n"
                                 + generate_network_call(text) + "\n")
    subprocess.run(["perl", str(bng2_path()), "--outdir", str(work), str(work / "m.bngl")],
                   cwd=work, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    assert marker.exists()


# --------------------------------------------------------- refused, every route
@pytest.mark.parametrize("pid", PROBE_IDS)
def test_filter_refuses_probe_with_file_line_and_statement(pid, tmp_path):
    marker = tmp_path / "marker"
    text, line, quoted = _probe(pid, marker)
    with pytest.raises(InputError) as err:
        filter_bngl(text, file="m.bngl")
    issue = err.value.issues[0] if err.value.issues else None
    msg = str(err.value)
    assert f"m.bngl:{line}" in msg, msg
    assert quoted in (issue.value if issue else msg)
    assert "Perl" in msg
    assert not marker.exists()


@needs_bng
@pytest.mark.parametrize("pid", PROBE_IDS)
def test_model_load_refuses_probe(pid, tmp_path):
    marker = tmp_path / "marker"
    text, line, _ = _probe(pid, marker)
    path = tmp_path / "m.bngl"
    path.write_text(text)
    with pytest.raises(InputError, match=f"m.bngl:{line}"):
        read_model_info(path)
    assert not marker.exists()


def _petab(tmp_path: Path, text: str) -> Path:
    return write_problem(
        tmp_path / "petab", model=text, model_name="model.bngl",
        parameters=[{"parameterId": "k", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": 0.5, "estimate": 1}],
        observables=[{"observableId": "obs_a", "observableFormula": "Atot",
                      "noiseFormula": 1}],
        measurements=[{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
                       "measurement": 2 * np.exp(-0.5 * t)} for t in (0.0, 1.0, 2.0)])


@needs_bng
@pytest.mark.parametrize("pid", PROBE_IDS)
def test_petab_validate_refuses_probe(pid, tmp_path, capsys):
    marker = tmp_path / "marker"
    text, line, quoted = _probe(pid, marker)
    yaml = _petab(tmp_path, text)
    code = main(["validate", str(yaml)])
    out, err = capsys.readouterr()
    err = out + err
    assert code == 2, err
    assert f"model.bngl:{line}" in err and quoted in err, err
    assert "Traceback" not in err
    assert not marker.exists()


def _cli(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None):
    exe = shutil.which("bngfit")
    cmd = [exe] if exe else [sys.executable, "-m", "bngfit.cli"]
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


@needs_bng
@pytest.mark.parametrize("pid", ["setoption-system", "actions-block", "generate-option"])
def test_cli_subprocess_refuses_probe(pid, tmp_path):
    marker = tmp_path / "marker"
    text, line, quoted = _probe(pid, marker)
    yaml = _petab(tmp_path, text)
    for command in (["validate", str(yaml)], ["evaluate", str(yaml)]):
        proc = _cli(command, tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
        said = proc.stdout + proc.stderr
        assert proc.returncode == 2, said
        assert f"model.bngl:{line}" in said and quoted in said
        assert "Traceback" not in said and "internal error" not in said
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not marker.exists()


def _edition1(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "pybnf1"
    d.mkdir()
    (d / "m.bngl").write_text(text)
    (d / "d.exp").write_text("# time Atot\n0 2\n1 1.2\n2 0.7\n3 0.45\n4 0.27\n")
    conf = d / "job.conf"
    conf.write_text("model = m.bngl : d.exp\nfit_type = de\nobjfunc = sos\n"
                    "loguniform_var = k__FREE 0.01 10\n")
    return conf


def _edition2(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "pybnf2"
    d.mkdir()
    (d / "m.bngl").write_text(text)
    (d / "d.exp").write_text("# time Atot\n0 2\n1 1.2\n2 0.7\n")
    conf = d / "job.conf"
    conf.write_text("edition = 2\nmodel: m.bngl\nparameter: k__FREE, lower: 0.01, upper: 10\n"
                    "objective: sos\nexperiment: d, data: d.exp\n")
    return conf


@needs_bng
@pytest.mark.parametrize("edition", [1, 2])
@pytest.mark.parametrize("pid", PROBE_IDS)
def test_pybnf_template_refuses_probe(pid, edition, tmp_path, capsys):
    marker = tmp_path / "marker"
    text, line, quoted = _probe(pid, marker, TEMPLATE + (SIM if edition == 1 else ""))
    conf = (_edition1 if edition == 1 else _edition2)(tmp_path, text)
    code = main(["validate", str(conf)])
    out, err = capsys.readouterr()
    err = out + err
    assert code == 2, err
    assert f"m.bngl:{line}" in err, err
    assert "Traceback" not in err
    assert not marker.exists()


@needs_bng
def test_pybnf_cli_subprocess_refuses_probe(tmp_path):
    marker = tmp_path / "marker"
    text, line, _ = _probe("setoption-system", marker, TEMPLATE + SIM)
    conf = _edition1(tmp_path, text)
    proc = _cli(["evaluate", str(conf)], tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert proc.returncode == 2, proc.stderr
    assert f"m.bngl:{line}" in proc.stderr and "setOption(" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


# ------------------------------------------------------- dropped, never forwarded
@needs_bng
@pytest.mark.parametrize("statement", [
    'generate_network({overwrite=>1,prefix=>"{m}"})',
    "writeFile({format=>'bngl',prefix=>'{m}'})",
    "writeSBML({prefix=>'{m}'})",
    "setOutputDir('{d}')",
])
def test_output_paths_of_actions_are_not_forwarded(statement, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    marker = elsewhere / "marker"
    path = tmp_path / "m.bngl"
    path.write_text(BNGL_DECAY
                    + statement.replace("{m}", str(marker)).replace("{d}", str(elsewhere))
                    + "\n")
    info = read_model_info(path)
    assert info.defaults == {"k": 0.5, "A0": 2.0}
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("text, match", [
    (BNGL_DECAY.replace("A() -> 0 k", "A() -> 0 k\u00a0"), "not allowed"),
    (BNGL_DECAY.replace("  k 0.5\n", "  k 0.5\rsetOption(1)\n"), "not allowed"),
    (BNGL_DECAY.replace("begin functions", "x").replace(
        "end model", "begin functions\n f() = TFUN(Atot, 'x.dat')\nend functions\nend model"),
     "TFUN"),
    (BNGL_DECAY.replace("begin observables", "begin evil"), "unknown block 'evil'"),
    (BNGL_DECAY.replace("end parameters", "end parameter"), "does not close"),
    (BNGL_DECAY.replace("  A0 2\n", "  A0 2\nbegin species\n"), "'begin' inside block"),
    (BNGL_DECAY + 'setOption("SpeciesLabel","Evil")\n', "takes one of"),
    (BNGL_DECAY + 'setOption("Unheard",1)\n', "not one bngfit forwards"),
    (BNGL_DECAY + "generate_network({max_iter=>2*3})\n", "takes a number"),
    (BNGL_DECAY + "generate_network({evil=>1})\n", "not one bngfit forwards"),
    (BNGL_DECAY + "generate_network({max_stoich=>{A=>x}})\n", "max_stoich"),
    ('readFile({file=>"other.bngl"})\n' + BNGL_DECAY, "before the network is generated"),
    (BNGL_DECAY + "end actions\n", "without a matching 'begin'"),
    ('setOption("SpeciesLabel","HNauty"); setParameter("k",1)\n' + BNGL_DECAY, "line of its own"),
])
def test_filter_refuses_other_unsafe_forms(text, match):
    with pytest.raises(InputError, match=match):
        filter_bngl(text, file="m.bngl")


BLOCK_PROBES = [
    ("parameters", "  k 0.5\n", "  k 0.5+system(q{touch MARK})\n"),
    ("parameters-interpolation", "  A0 2\n", "  A0 2\n  B0 @{[system(q{touch MARK})]}\n"),
    ("parameters-backticks", "  A0 2\n", "  A0 2\n  B0 `touch MARK`\n"),
    ("seed-species", "  A() A0\n", '  A() A0\n  A() "@{[system(q{touch MARK})]}"\n'),
    ("molecule-types", "  A()\n", "  A(s~@{[system(q{touch MARK})]})\n"),
    ("observables", "  Molecules Atot A()\n", "  Molecules Atot A()>=1;system(q{touch MARK})\n"),
    ("rule-name", "  A() -> 0 k\n", "  r${\\system(q{touch MARK})}: A() -> 0 k\n"),
    ("rate-law", "  A() -> 0 k\n", "  A() -> 0 system(q{touch MARK})\n"),
    ("functions", "end observables\n",
     "end observables\nbegin functions\n  f() = system(q{touch MARK})\nend functions\n"),
    ("compartments", "begin molecule types\n",
     "begin compartments\n  C 3 system(q{touch MARK})\nend compartments\n"
     "begin molecule types\n"),
]


@needs_bng
@pytest.mark.parametrize("old, new", [p[1:] for p in BLOCK_PROBES],
                         ids=[p[0] for p in BLOCK_PROBES])
def test_model_block_text_never_runs(old, new, tmp_path):
    # Block lines go to BNG2.pl's parsers (never to eval): refused by the
    # filter or by BNG2.pl with its message, and nothing runs.
    marker = tmp_path / "marker"
    path = tmp_path / "m.bngl"
    path.write_text(BNGL_DECAY.replace(old, new.replace("MARK", str(marker)), 1))
    assert path.read_text() != BNGL_DECAY
    with pytest.raises(InputError, match="m.bngl"):
        read_model_info(path)
    assert not marker.exists()


def test_filtered_text_keeps_lines_and_only_rewritten_statements():
    text = ('setOption("NumberPerQuantityUnit", 6.0221e23) # avogadro\n'
            + BNGL_DECAY
            + "begin actions\n"
            + "  setParameter('k', 0.25)\n"
            + "  generate_network({max_iter=>3, max_stoich=>{A=>2}, 'overwrite'=>1,"
              " suffix=>\"x\"})\n"
            + "  " + SIM + "end actions\n")
    f = filter_bngl(text)
    lines = f.text.splitlines()
    src = text.splitlines()
    assert lines[0] == "setOption('NumberPerQuantityUnit',6.0221e+23)"
    assert lines[1:len(BNGL_DECAY.splitlines()) + 1] == src[1:len(BNGL_DECAY.splitlines()) + 1]
    assert lines[-1] == "generate_network({max_iter=>3,max_stoich=>{A=>2},overwrite=>1})"
    assert f.generate_line == len(lines) == src.index(
        "  generate_network({max_iter=>3, max_stoich=>{A=>2}, 'overwrite'=>1, suffix=>\"x\"})"
    ) + 1
    assert f.kept == ("setOption('NumberPerQuantityUnit',6.0221e+23)",
                      "setParameter('k',0.25)")
    assert "simulate" not in f.text and "begin actions" not in f.text
    # idempotent: the filtered text filters to itself
    assert filter_bngl(f.text).text == f.text


def test_a_last_line_continuation_does_not_take_in_the_generation_call():
    f = filter_bngl(BNGL_DECAY.replace("end model\n", "end model \\\n"))
    lines = f.text.splitlines()
    assert lines[-2:] == ["", "generate_network({overwrite=>1})"]
    assert filter_bngl(f.text).text == f.text


def test_template_mode_generates_before_the_first_action_but_keeps_set_option():
    text = 'setOption("NumberPerQuantityUnit",1e3)\n' + BNGL_DECAY + "setParameter('k',2)\n" + SIM
    assert filter_bngl(text, network_first=True).kept == (
        "setOption('NumberPerQuantityUnit',1000)",)
    # bngsim's rule for plain models: without generate_network, after all actions
    assert filter_bngl(text).kept == ("setOption('NumberPerQuantityUnit',1000)",
                                      "setParameter('k',2)")


# ------------------------------------------------------------ legit models load
BIMOLECULAR = """setOption("NumberPerQuantityUnit", 6.0221e23)
begin model
begin parameters
  V 1e-12
  kon 1e5
  L0 1000
  R0 1000
end parameters
begin compartments
  C 3 V
end compartments
begin molecule types
  L(r)
  R(l)
end molecule types
begin seed species
  L(r)@C L0
  R(l)@C R0
end seed species
begin observables
  Molecules LR L(r!1).R(l!1)
end observables
begin reaction rules
  L(r) + R(l) -> L(r!1).R(l!1) kon
end reaction rules
end model
generate_network({overwrite=>1})
simulate({method=>"ode",t_end=>10,n_steps=>10})
"""


@needs_bng
def test_number_per_quantity_unit_model_keeps_its_option(tmp_path):
    # Oracle: BNG2.pl itself on the original file (trusted here), its .net loaded.
    import bngsim

    path = tmp_path / "bimol.bngl"
    path.write_text(BIMOLECULAR)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(path, work / "orig.bngl")
    (work / "orig.bngl").write_text(BIMOLECULAR.replace("simulate(", "#"))
    subprocess.run(["perl", str(bng2_path()), "--outdir", str(work), str(work / "orig.bngl")],
                   cwd=work, capture_output=True, timeout=120, check=True)
    ref = bngsim.Model.from_net(str(work / "orig.net"))
    from bngfit.simulate._engine import _load_bngsim_model

    got = _load_bngsim_model(path)
    t = np.linspace(0, 10, 6)
    a = bngsim.Simulator(got).run(sample_times=t).outputs(["observable:LR"])
    b = bngsim.Simulator(ref).run(sample_times=t).outputs(["observable:LR"])
    np.testing.assert_allclose(a, b, rtol=1e-10)
    # and its value is what BNG2.pl used: kon/(N V) per molecule pair, 10x faster
    # binding at a tenth of N
    path.write_text(BIMOLECULAR.replace("6.0221e23", "6.0221e22"))
    c = bngsim.Simulator(_load_bngsim_model(path)).run(sample_times=t).outputs(
        ["observable:LR"])
    k = 1e5 / (6.0221e23 * 1e-12)
    assert a[1, 0] == pytest.approx(1000 * 1000 * k * 2 / (1 + 1000 * k * 2), rel=1e-6)
    assert c[1, 0] == pytest.approx(1000 * 1000 * 10 * k * 2 / (1 + 10000 * k * 2), rel=1e-6)


@needs_bng
def test_set_parameter_before_generation_still_shapes_plain_models(tmp_path):
    path = tmp_path / "m.bngl"
    path.write_text(BNGL_DECAY + "setParameter(\"k\", 0.125)\ngenerate_network()\n" + SIM)
    assert read_model_info(path).defaults["k"] == 0.125


@needs_bng
def test_pybnf_demo_template_loads_with_unchanged_results(tmp_path):
    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    problem = bngfit.load_problem(d / "demo_bng.conf")
    ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(np.array([0.5, 1.0, 3.0]),
                                                         sensi=0)
    # par1.exp was generated at (0.5, 1, 3): the parabola y = v1 x^2 + v2 x + v3
    data = np.loadtxt(d / "par1.exp", comments="#")
    x = data[:, 0] - 10.0
    resid = 0.5 * x**2 + x + 3.0 - data[:, 2]
    assert ev.ok, ev.message
    assert np.max(np.abs(resid)) < 1e-6  # the data are the closed form
    assert ev.fval == pytest.approx(problem_fval_closed_form(problem, data), abs=1e-6)


def problem_fval_closed_form(problem, data) -> float:
    # chi_sq with the data's own SD columns: 0.5 * sum(((y - m) / sd)^2) + constants;
    # at the generating point y == m, so only the constants remain.
    sds = data[:, 3:]
    return float(np.sum(0.5 * np.log(2 * np.pi * sds**2)))


# --------------------------------------------------------------- BNG2.pl messages
@needs_bng
def test_bng2_error_is_shown_with_file_and_line(tmp_path):
    path = tmp_path / "m.bngl"
    text = BNGL_DECAY.replace("A() -> 0 k", "A() -> B() k")
    path.write_text(text)
    line = text.splitlines().index("  A() -> B() k") + 1
    with pytest.raises(InputError) as err:
        read_model_info(path)
    msg = str(err.value)
    assert f"m.bngl:{line}" in msg and "BNG2.pl" in msg
    assert "B" in msg and "install" not in msg


@needs_bng
def test_bng2_error_in_a_template_names_the_template_line(tmp_path, capsys):
    text = TEMPLATE.replace("A() -> 0 k", "A() -> B() k") + SIM
    conf = _edition1(tmp_path, text)
    line = text.splitlines().index("  A() -> B() k") + 1
    code = main(["validate", str(conf)])
    out, err = capsys.readouterr()
    err = out + err
    assert code == 2
    assert f"m.bngl:{line}" in err and "BNG2.pl" in err and "install" not in err, err


@needs_bng
def test_load_time_limit_is_a_clear_refusal(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BNGFIT_BNGL_TIMEOUT", "0.01")
    yaml = _petab(tmp_path, BNGL_DECAY)
    code = main(["validate", str(yaml)])
    out, err = capsys.readouterr()
    err = out + err
    assert code == 2
    assert "within 0.01 s" in err and "BNGFIT_BNGL_TIMEOUT" in err and "max_iter" in err


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_load_time_limit_must_be_a_positive_number(value, tmp_path, monkeypatch):
    from bngfit.simulate._bngl_network import load_timeout

    monkeypatch.setenv("BNGFIT_BNGL_TIMEOUT", value)
    with pytest.raises(InputError, match="BNGFIT_BNGL_TIMEOUT"):
        load_timeout()


# -------------------------------------------------------------------- the cache
@needs_bng
def test_cache_is_private_and_holds_the_bound_template(tmp_path, private_cache):
    conf = _edition1(tmp_path, TEMPLATE + SIM)
    bngfit.load_problem(conf)
    assert stat.S_IMODE(private_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(private_cache.parent.stat().st_mode) == 0o700
    bound = [p for p in private_cache.glob("m-*.bngl")]
    nets = list(private_cache.glob("*.net"))
    assert bound and nets
    assert all((p.parent / (p.name + ".sha256")).is_file() for p in nets)


@needs_bng
def test_planted_bound_template_is_rewritten_not_used(tmp_path, private_cache):
    from bngfit.pybnf.build._models import bind_bngl
    from bngfit.simulate import MODEL_ACCESS

    tpl = tmp_path / "m.bngl"
    tpl.write_text(TEMPLATE + SIM)
    out = bind_bngl(tpl, tpl.read_text(), ("k__FREE",), {"k__FREE": 0.5}, network_first=True,
                    models=MODEL_ACCESS)
    good = out.read_text()
    marker = tmp_path / "marker"
    out.write_text(f"setOption({_touch(marker)})\n" + BNGL_DECAY.replace("k 0.5", "k 99"))
    again = bind_bngl(tpl, tpl.read_text(), ("k__FREE",), {"k__FREE": 0.5},
                      network_first=True, models=MODEL_ACCESS)
    assert again == out and again.read_text() == good
    assert read_model_info(again).defaults["k__FREE"] == 0.5
    assert not marker.exists()


@needs_bng
def test_planted_network_is_detected_and_regenerated(tmp_path, private_cache):
    path = tmp_path / "m.bngl"
    path.write_text(BNGL_DECAY)
    assert read_model_info(path).defaults["k"] == 0.5
    (net,) = private_cache.glob("m-*.net")
    good = net.read_bytes()
    net.write_bytes(good.replace(b"k     0.5", b"k     7"))
    assert read_model_info(path).defaults["k"] == 0.5
    assert net.read_bytes() == good


@needs_bng
@pytest.mark.parametrize("unsafe", ["group-writable", "symlink"])
def test_unsafe_cache_folder_is_not_used(unsafe, tmp_path, private_cache, caplog):
    private_cache.parent.mkdir(parents=True)
    if unsafe == "group-writable":
        private_cache.mkdir(mode=0o700)
        os.chmod(private_cache, 0o777)
    else:
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        private_cache.symlink_to(other)
    path = tmp_path / "m.bngl"
    path.write_text(BNGL_DECAY)
    with caplog.at_level("WARNING", logger="bngfit"):
        assert read_model_info(path).defaults["k"] == 0.5
    assert "not using the BNGL cache folder" in caplog.text
    target = private_cache.resolve()
    assert list(target.iterdir()) == []


def test_cache_root_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert bngl_cache.cache_root() == tmp_path / "c" / "bngfit" / "bngl"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the spec says
    assert bngl_cache.cache_root() == Path.home() / ".cache" / "bngfit" / "bngl"


# an unbounded network
POLYMER = BNGL_DECAY.replace("  A()\n", "  A(a,b)\n").replace(
    "  A() A0\n", "  A(a,b) A0\n").replace(
    "  A() -> 0 k\n", "  A(a) + A(b) -> A(a!1).A(b!1) k\n")


@needs_bng
def test_unbounded_network_is_refused_at_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("BNGFIT_BNGL_TIMEOUT", "3")
    path = tmp_path / "poly.bngl"
    path.write_text(POLYMER)
    with pytest.raises(InputError, match=r"poly.bngl: BNG2.pl did not finish .* within 3 s"):
        read_model_info(path)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@needs_bng
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PDEATHSIG")
def test_bng2_dies_with_a_killed_bngfit(tmp_path):
    import signal
    import time

    path = tmp_path / "poly.bngl"
    path.write_text(POLYMER)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    code = ("import sys; from pathlib import Path; from bngfit.simulate import read_model_info; "
            "read_model_info(Path(sys.argv[1]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        perl = []
        while not perl and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            perl = _children(proc.pid)
        assert perl, "BNG2.pl never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while _alive(perl[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(perl[0])
    finally:
        if proc.poll() is None:
            proc.kill()
