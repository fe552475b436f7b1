"""PyBNF BNGL templates: free parameters, binding, actions and the protocol."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from bngfit.errors import InputError
from bngfit.pybnf.bngl._protocol import Phase, phases_for_data, protocol
from bngfit.pybnf.bngl._template import (
    bind_free_parameters,
    bound_line_shift,
    free_parameters,
    parse_actions,
)
from tests.helpers import shared_path

RECEPTOR_FREE = ("KD1__FREE", "km1__FREE", "K2RT__FREE", "km2__FREE", "kphos__FREE",
                 "kdephos__FREE")

MODEL = """\
# a one-species template
begin model
begin parameters
  # rates

  k k__FREE
  A0 A0__FREE*2
end parameters
begin molecule types
  A()
end molecule types
begin seed species
  A() A0
end seed species
begin observables
  Molecules Atot A()
end observables
begin reaction rules
  A() -> 0 k
end reaction rules
end model
"""


def template(name: str) -> str:
    return shared_path("benchmarks", "pybnf", *name.split("/")).read_text()


def load(text: str, tmp_path: Path):
    """The bound text loaded as bngfit loads BNGL (filtered, then BNG2.pl); skips
    when BNG2.pl cannot run here."""
    pytest.importorskip("bngsim")
    from bngfit.errors import MissingExtraError
    from bngfit.simulate._bngl_network import load_bngl

    path = tmp_path / "bound.bngl"
    path.write_text(text)
    try:
        return load_bngl(path)
    except MissingExtraError as e:  # pragma: no cover - depends on the install
        pytest.skip(f"BNG2.pl is not usable: {e}")


def actions(text: str, *, model: bool = False):
    return parse_actions((MODEL if model else "") + text, "t.bngl")


def refused(text: str, match: str, row: int | None = None) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        protocol(parse_actions(text, "t.bngl"), file="t.bngl")
    issue = info.value.issues[0]
    assert issue.file == "t.bngl"
    if row is not None:
        assert issue.row == row
    return info.value


# ---------------------------------------------------------------- shared templates


def test_receptor_free_parameters_bind_and_load(tmp_path):
    text = template("receptor/receptor.bngl")
    assert free_parameters(text) == RECEPTOR_FREE
    values = {name: 0.1 * (i + 1) for i, name in enumerate(RECEPTOR_FREE)}
    bound = bind_free_parameters(text, values)
    assert len(bound.splitlines()) == len(text.splitlines())
    assert bound_line_shift(text) == (5, 0)
    model = load(bound, tmp_path)
    primary = set(model.primary_param_names)
    assert set(RECEPTOR_FREE) <= primary
    assert not {"KD1", "km1", "kp1"} & primary
    for name, value in values.items():
        assert model.get_param(name) == pytest.approx(value, rel=1e-15)
    assert model.get_param("kp1") == pytest.approx(0.2 / 0.1, rel=1e-12)
    model.set_param("KD1__FREE", 4.0)
    assert model.get_param("kp1") == pytest.approx(0.2 / 4.0, rel=1e-12)


def test_receptor_protocol():
    phases = protocol(parse_actions(template("receptor/receptor.bngl")))
    equil, stim = phases
    assert (equil.t_start, equil.t_end, equil.n_steps, equil.sample_times) == (0, 600, 1, None)
    assert (equil.suffix, equil.set_params, equil.continue_) == ("equil", (), False)
    assert stim.set_params == (("Ligand_isPresent", 1.0),)
    assert (stim.t_start, stim.t_end, stim.n_steps, stim.suffix) == (0, 60, None, "receptor")
    assert stim.sample_times == tuple(float(t) for t in range(0, 61, 5))
    assert stim.output_times() == stim.sample_times
    assert stim.reset_to is None and stim.set_species == ()
    assert phases_for_data(phases, "receptor.exp") == (1,)


@pytest.mark.parametrize("name, free, suffix, t_end, n_steps", [
    ("demo/parabola.bngl", ("v1__FREE", "v2__FREE", "v3__FREE"), "par1", 20, 20),
    ("constraint_demo/parabola.bngl", tuple(f"{c}__FREE" for c in "abcde"), "par", 10, 1000),
])
def test_parabola_templates(name, free, suffix, t_end, n_steps, tmp_path):
    text = template(name)
    assert free_parameters(text) == free
    (phase,) = protocol(parse_actions(text))
    assert (phase.t_start, phase.t_end, phase.n_steps, phase.suffix) == (0, t_end, n_steps,
                                                                         suffix)
    assert phase.output_times()[:3] == (0.0, t_end / n_steps, 2 * t_end / n_steps)
    assert len(phase.output_times()) == n_steps + 1
    values = {n: 0.5 + i for i, n in enumerate(free)}
    bound = bind_free_parameters(text, values)
    after, shift = bound_line_shift(text)
    assert len(bound.splitlines()) == len(text.splitlines()) + shift
    # every definition comes before the block's first use of a __FREE name
    lines = bound.splitlines()
    first_use = min(i for i, line in enumerate(lines)
                    if any(f in line.split("#")[0] for f in free)
                    and not any(line.strip().startswith(f"{f} ") for f in free))
    assert all(i < first_use for i, line in enumerate(lines)
               if any(line.strip().startswith(f"{f} ") for f in free))
    model = load(bound, tmp_path)
    assert set(free) <= set(model.primary_param_names)
    derived = free[1].removesuffix("__FREE")  # v2 v2__FREE, b b__FREE
    assert derived not in model.primary_param_names
    assert model.get_param(derived) == pytest.approx(1.5)


# ------------------------------------------------------------------------- binding


def test_bind_keeps_lines_and_comments():
    bound = bind_free_parameters(MODEL, {"k__FREE": 2.0, "A0__FREE": 1e-5})
    lines = bound.splitlines()
    assert lines[3] == "  k__FREE 2.0 # rates"
    assert lines[4] == "A0__FREE 1e-05"
    assert lines[5:] == MODEL.splitlines()[5:]
    assert bound.endswith("\n")


def test_bind_loads_with_derived_parameters(tmp_path):
    model = load(bind_free_parameters(MODEL, {"k__FREE": 2.0, "A0__FREE": 3.0}), tmp_path)
    assert {"k__FREE", "A0__FREE"} <= set(model.primary_param_names)
    assert model.get_param("A0") == pytest.approx(6.0)


def test_bind_inserts_when_the_block_has_no_room(tmp_path):
    text = MODEL.replace("  # rates\n\n", "")
    after, n = bound_line_shift(text)
    assert (after, n) == (3, 2)
    bound = bind_free_parameters(text, {"k__FREE": 1, "A0__FREE": 2})
    lines, old = bound.splitlines(), text.splitlines()
    assert lines[2:5] == ["begin parameters", "  k__FREE 1.0", "  A0__FREE 2.0"]
    assert lines[:after] == old[:after] and lines[after + n:] == old[after:]
    assert load(bound, tmp_path).get_param("A0") == pytest.approx(4.0)


def test_bind_skips_a_continued_blank_line():
    text = MODEL.replace("  # rates\n\n  k k__FREE", "  k \\\n\n  k__FREE")
    # line 5 continues line 4: only the lines the block really leaves free count
    assert bound_line_shift(text) == (3, 2)


def test_bind_refuses_template_without_parameters_block():
    text = MODEL.replace("begin parameters", "begin params").replace(
        "end parameters", "end params")
    with pytest.raises(InputError, match="no 'begin parameters' block") as info:
        bind_free_parameters(text, {"k__FREE": 1.0, "A0__FREE": 1.0}, file="m.bngl")
    assert info.value.issues[0].file == "m.bngl"


@pytest.mark.parametrize("definition, row", [
    ("  k__FREE 3\n", 4),
    ("", 1),
])
def test_bind_refuses_a_defined_free_name(definition, row):
    text = MODEL.replace("  # rates\n", definition)
    if not definition:
        text = "parameter k__FREE 3\n" + MODEL.replace("# a one-species template\n", "")
    with pytest.raises(InputError, match="must not be defined") as info:
        bind_free_parameters(text, {"k__FREE": 1.0, "A0__FREE": 1.0}, file="m.bngl")
    issue = info.value.issues[0]
    assert (issue.file, issue.row, issue.id) == ("m.bngl", row, "k__FREE")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "1", True, None])
def test_bind_refuses_a_value_that_is_not_a_finite_number(value):
    with pytest.raises(InputError, match="finite number") as info:
        bind_free_parameters(MODEL, {"k__FREE": value, "A0__FREE": 1.0}, file="m.bngl")
    assert info.value.issues[0].id == "k__FREE"


def test_bind_refuses_missing_and_unknown_values():
    with pytest.raises(InputError, match="no value given") as info:
        bind_free_parameters(MODEL, {"k__FREE": 1.0})
    assert info.value.issues[0].id == "A0__FREE"
    with pytest.raises(InputError, match="not a free parameter") as info:
        bind_free_parameters(MODEL, {"k__FREE": 1.0, "A0__FREE": 1.0, "kk__FREE": 1.0})
    assert info.value.issues[0].id == "kk__FREE"


def test_free_parameters_ignore_comments_and_look_alikes():
    text = "# x__FREE\nbegin parameters\n a b__FREE+c__FREEd # z__FREE\n a2 2b__FREE\n" \
           "end parameters\nsetParameter(\"a\", \"d__FREE*2\")\n"
    assert free_parameters(text) == ("b__FREE", "d__FREE")


# ------------------------------------------------------------------------- actions


def test_parse_actions_arguments_and_lines():
    acts = actions(
        "begin actions\n"
        "generate_network({overwrite=>1, max_stoich=>{R=>2, 'L'=>4}}) # note\n"
        "simulate_ode({t_end=>10, sample_times=>[0, 1e-1,2.5E1], suffix=>\"a b\",\\\n"
        "    atol=>1e-10});  setParameter(\"k\", 1)\n"
        "setConcentration('L(r)', \"2*L0\"); resetConcentrations()\n"
        "saveConcentrations(\"s1\")\n"
        "simulate({method=>\"ode\",\n"
        "          t_end=>k*2})\n"
        "setOption(\"SpeciesLabel\", \"HNauty\")\n"
        "end actions\n", model=True)
    names = [(a.name, a.line) for a in acts]
    offset = MODEL.count("\n")
    assert names == [("generate_network", offset + 2), ("simulate_ode", offset + 3),
                     ("setParameter", offset + 4), ("setConcentration", offset + 5),
                     ("resetConcentrations", offset + 5), ("saveConcentrations", offset + 6),
                     ("simulate", offset + 7), ("setOption", offset + 9)]
    gen, sim, setp, setc, reset, save, sim2, opt = acts
    assert gen.args == {"overwrite": 1.0, "max_stoich": {"R": 2.0, "L": 4.0}}
    assert sim.args == {"t_end": 10.0, "sample_times": (0.0, 0.1, 25.0), "suffix": "a b",
                        "atol": 1e-10}
    assert setp.args == {"name": "k", "value": 1.0}
    assert setc.args == {"species": "L(r)", "value": "2*L0"}
    assert reset.args == {} and save.args == {"label": "s1"}
    assert sim2.args == {"method": "ode", "t_end": "k*2"}
    assert opt.args == {"args": ("SpeciesLabel", "HNauty")}
    with pytest.raises(TypeError):
        sim.args["t_end"] = 1.0  # read-only


def test_parse_actions_after_end_model_without_block():
    acts = actions("generate_network()\nsimulate({method=>\"ode\",t_end=>1})\n", model=True)
    assert [a.name for a in acts] == ["generate_network", "simulate"]
    assert acts[0].args == {}


@pytest.mark.parametrize("text, match", [
    ("simulate({method=>\"ode\"\n", "expected a key|expected ','"),
    ("simulate({method=>\"ode})\n", "unterminated string"),
    ("simulate({method \"ode\"})\n", "expected '=>'"),
    ("hello world\n", "expected '\\('"),
    ("simulate({t_end=>1}) simulate({t_end=>2})\n", "unexpected text"),
    ("setParameter(\"k\")\n", "takes 2 argument"),
    ("begin actions\nsimulate({t_end=>1})\n", "no matching 'end actions'"),
])
def test_parse_actions_refuses_malformed_actions(text, match):
    with pytest.raises(InputError, match=match) as info:
        parse_actions("\n" + text, "t.bngl")
    assert info.value.issues[0].file == "t.bngl"
    assert info.value.issues[0].row == 2


# ------------------------------------------------------------------------ protocol


def test_protocol_save_reset_and_species():
    phases = protocol(parse_actions(
        'setConcentration("L()", 5)\n'
        'simulate({method=>"ode",t_end=>100,suffix=>"equil"})\n'
        'saveConcentrations()\n'
        'setConcentration("L()", "L0*2"); setParameter("k", "2*k0")\n'
        'simulate({method=>"ode",t_end=>10,n_steps=>5,suffix=>"d1"})\n'
        'resetConcentrations()\n'
        'setConcentration("L()", 3)\n'
        'simulate({method=>"ode",t_end=>10,n_steps=>5,suffix=>"d2"})\n'
        'setConcentration("L()", 7)\n'
        'resetConcentrations()\n'
        'simulate({method=>"ode",t_end=>10,n_steps=>5,suffix=>"d3"})\n'
        'setParameter("k", 9)\n'
    ))
    equil, d1, d2, d3 = phases
    assert equil.set_species == (("L()", 5.0),) and equil.reset_to is None
    assert d1.set_species == (("L()", "L0*2"),) and d1.set_params == (("k", "2*k0"),)
    assert d1.reset_to is None  # saved and resumed from the same state
    assert d2.reset_to == 1 and d2.set_species == (("L()", 3.0),)
    assert d3.reset_to == 1 and d3.set_species == ()  # the reset overwrites the set


def test_protocol_reset_without_save_is_the_initial_state():
    phases = protocol(parse_actions(
        'simulate_ode({t_end=>1})\nresetConcentrations()\nsimulate_ode({t_end=>1})\n'))
    assert [p.reset_to for p in phases] == [None, 0]


def test_protocol_ignores_output_actions_and_stops_at_quit():
    phases = protocol(parse_actions(
        'setOption("SpeciesLabel","HNauty")\ngenerate_network({overwrite=>1})\n'
        'writeSBML()\nsimulate({method=>"cvode",t_end=>1,print_functions=>1,atol=>1e-9})\n'
        'simulate_ode({t_end=>1e3,steady_state=>1})\n'
        'quit()\nsimulate({method=>"ssa",t_end=>1})\n'))
    assert [p.steady_state for p in phases] == [False, True]


def test_output_times_follow_bionetgen():
    """Times measured with BNG2.pl 2.9.3's run_network (.gdat rows)."""
    phases = protocol(parse_actions(
        'simulate({method=>"ode",t_start=>0,t_end=>2,n_steps=>2,suffix=>"a"})\n'
        'simulate({method=>"ode",sample_times=>[2,3,4],suffix=>"a",continue=>1})\n'
        'simulate({method=>"ode",t_start=>4,sample_times=>[5,6,7],suffix=>"a",continue=>1})\n'
        'simulate({method=>"ode",t_start=>2,sample_times=>[0,1,3,4],suffix=>"b"})\n'
        'simulate({method=>"ode",t_start=>0,sample_times=>[1,5,8],t_end=>6,suffix=>"c"})\n'
        'simulate({method=>"ode",sample_times=>[1,5,8],t_end=>6,n_steps=>3,suffix=>"d"})\n'
    ))
    times = [p.output_times() for p in phases]
    assert times == [(0, 1, 2), (3, 4), (5, 6, 7), (2, 3, 4), (0, 1, 5, 6), (0, 2, 4, 6)]
    assert [p.t_start for p in phases] == [0, 2, 4, 2, 0, 0]
    assert phases[5].sample_times is None  # n_steps wins
    assert phases_for_data(phases, "a") == (0, 1, 2)
    assert phases_for_data(phases, "zz.exp") == ()


def test_output_times_match_bng2_gdat(tmp_path):
    """Oracle: run BNG2.pl on a small protocol and compare the .gdat times."""
    spec = importlib.util.find_spec("bionetgen")  # located, not imported (slow, noisy)
    bng2 = Path(spec.origin).parent / "bng-linux" / "BNG2.pl" if spec and spec.origin else None
    if bng2 is None or not bng2.is_file() or shutil.which("perl") is None:
        pytest.skip("BNG2.pl or perl not available")
    acts = ('generate_network({overwrite=>1})\n'
            'simulate({method=>"ode",t_end=>2,n_steps=>4,suffix=>"a"})\n'
            'simulate({method=>"ode",sample_times=>[1,3,9],t_end=>5,suffix=>"a",continue=>1})\n'
            'simulate({method=>"ode",t_start=>1,sample_times=>[0,2,3],suffix=>"b"})\n')
    text = bind_free_parameters(MODEL, {"k__FREE": 1.0, "A0__FREE": 1.0}) + acts
    (tmp_path / "m.bngl").write_text(text)
    subprocess.run(["perl", str(bng2), "m.bngl"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    phases = protocol(parse_actions(text))
    for suffix in ("a", "b"):
        rows = (tmp_path / f"m_{suffix}.gdat").read_text().splitlines()[1:]
        gdat = [float(r.split()[0]) for r in rows]
        ours = [t for i in phases_for_data(phases, suffix) for t in phases[i].output_times()]
        assert gdat == pytest.approx(ours, abs=1e-12)


def test_refuses_stochastic_simulation_naming_the_line():
    refused('generate_network()\n\nsimulate({method=>"ssa",t_end=>1})\n', "ODE fitter", 3)
    refused('simulate_nf({t_end=>1})\n', "ODE fitter", 1)
    refused('simulate({t_end=>1})\n', "needs method", 1)


@pytest.mark.parametrize("text, match", [
    ('bifurcate({parameter=>"k",par_min=>1,par_max=>2,n_scan_pts=>2,'
     'method=>"ode",t_end=>1})', "bifurcation scan"),
    ('parameter_scan({par_min=>1,par_max=>2,n_scan_pts=>2,method=>"ode",t_end=>1})',
     "needs parameter"),
    ('parameter_scan({parameter=>"k",par_min=>1,par_max=>2,n_scan_pts=>1,method=>"ode",'
     't_end=>1})', "more than 1"),
    ('parameter_scan({parameter=>"k",par_min=>0,par_max=>2,n_scan_pts=>3,log_scale=>1,'
     'method=>"ode",t_end=>1})', "positive with log_scale"),
    ('parameter_scan({parameter=>"k",par_min=>1,par_max=>2,n_scan_pts=>2.5,method=>"ode",'
     't_end=>1})', "whole number"),
    ('parameter_scan({parameter=>"k",par_min=>1,par_max=>2,n_scan_pts=>1e12,'
     'method=>"ode",t_end=>1})', "n_scan_pts"),
    ('parameter_scan({parameter=>"k",par_min=>1,par_max=>2,method=>"ode",t_end=>1})',
     "par_scan_vals"),
    ('parameter_scan({parameter=>"k",par_scan_vals=>[],method=>"ode",t_end=>1})', "empty"),
    ('parameter_scan({parameter=>"k",par_scan_vals=>[1,2],method=>"ssa",t_end=>1})',
     "not ode"),
    ('parameter_scan({parameter=>"k",par_scan_vals=>[1,2],method=>"ode"})', "t_end"),
    ('addConcentration("A()", 1)', "adds to the current amount"),
    ('readFile({file=>"x.bngl"})', "another model"),
    ('equilibrate({t_end=>100})', "unknown action"),
    ('simulate({method=>"ode",t_end=>1,stop_if=>"A>1"})', "stop_if"),
    ('simulate({method=>"ode",t_end=>"tmax"})', "finite number"),
    ('simulate({method=>"ode",t_start=>5,t_end=>5})', "greater than t_start"),
    ('simulate({method=>"ode",sample_times=>[1,2]})', "3 or more"),
    ('simulate({method=>"ode",t_end=>1,n_steps=>2.5})', "positive integer"),
    ('simulate({method=>"ode"})', "t_end is needed"),
    ('simulate({method=>"ode",t_start=>3,t_end=>5,continue=>1})', "current time 0"),
    ('resetConcentrations("x")', "no concentrations were saved as 'x'"),
    ('setConcentration("A()", 1); saveConcentrations()', "save it before"),
])
def test_refuses_actions_a_phase_cannot_carry(text, match):
    refused(text + "\nsimulate_ode({t_end=>1})\n", match, 1)


def test_refuses_set_option_after_a_simulation():
    refused('simulate_ode({t_end=>1})\nsetOption("NumberPerQuantityUnit",6e23)\n'
            'simulate_ode({t_end=>1})\n', "mid-protocol", 2)


def test_phase_is_frozen():
    phase = Phase(0.0, 1.0, None, 1, None, False, (), (), 1)
    with pytest.raises(AttributeError):
        phase.t_end = 2.0  # type: ignore[misc]


def test_a_huge_output_grid_is_refused_while_reading_the_actions():
    """n_steps beyond the documented limit is refused before any grid exists."""
    from bngfit.files._limits import MAX_OUTPUT_POINTS

    ok = f'simulate({{method=>"ode",t_end=>10,n_steps=>{MAX_OUTPUT_POINTS - 1}}})\n'
    assert protocol(parse_actions(ok))[0].n_steps == MAX_OUTPUT_POINTS - 1
    text = 'begin actions\nsimulate({method=>"ode",t_end=>10,n_steps=>1e9})\nend actions\n'
    with pytest.raises(InputError, match="output time points") as info:
        protocol(parse_actions(text, file="t.bngl"), file="t.bngl")
    assert info.value.issues[0].row == 2 and info.value.issues[0].file == "t.bngl"
