"""Model texts whose readers disagree about where a line ends cannot run code.

Two probes found after the BNGL filter existed (red-team review of issue 11):

* BNGL: a continuation backslash followed by a control character. Python's
  ``\\s`` takes ``\\x1c`` as white space, Perl's (BNG2.pl) does not, so the filter
  joined the next line (``end energy patterns``) into the block while BNG2.pl
  closed the block there and ran the following ``setOption(system(...))``.
* ``.net``: bngsim's C++ reader breaks lines at ``\\n`` only, its code generator
  (Python ``splitlines``) also at form feeds and the like: a functions block
  hidden in a comment line reached the generated C code, ``(system(...), 1)``.

Each probe must be refused with its file and line, and its marker never made.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bngfit
from bngfit.errors import InputError
from bngfit.files import _bngl_cache as bngl_cache
from bngfit.simulate._engine import read_model_info
from bngfit.simulate._net_text import check_net_text
from tests.helpers import BNGL_DECAY, bng2_path, needs_bng, write_problem

# characters some reader takes as a line end or white space and another does not
# (a CR before LF is a line end for all of them: CRLF files are fine)
BREAKERS = ["\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u3000"]
NET_BREAKERS = [*BREAKERS, "\r"]

# the BNGL model of files/test_bngl_security (helpers.BNGL_DECAY) with an
# energy-patterns block whose pattern line ends in a continuation backslash and
# then ``{ch}``
BNGL = BNGL_DECAY.replace("begin reaction rules\n", """begin energy patterns
  A() k \\{ch}
end energy patterns
setOption(system(q{{touch {marker}}}))
end energy patterns
begin reaction rules
""")

NET = """# Created by BioNetGen 2.9.3
begin parameters
    1 k     0.5
    2 A0    2
end parameters
begin species
    1 A() A0
end species
begin reactions
    1 1 0 k #_R1
end reactions
begin groups
    1 Atot                 1
end groups
"""
HIDDEN = ("# Created by BioNetGen 2.9.3{ch}begin functions{ch}    9 gg() "
          '(system("touch {marker}"), 1){ch}end functions\n')


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(bngl_cache, "_DIRS", {})


def _problem(folder: Path, model: str, name: str, fill=None) -> Path:
    times = (0.0, 1.0, 2.0)
    return write_problem(
        folder, model=model, model_name=name,
        parameters=[{"parameterId": "k", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": 0.5, "estimate": 1}],
        observables=[{"observableId": "obs_a", "observableFormula": "Atot",
                      "noiseFormula": 1}],
        measurements=[{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
                       "measurement": 2 * math.exp(-0.5 * t) if fill is None else fill}
                      for t in times])


def _bngfit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bngfit.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "XDG_CACHE_HOME": str(cwd / "xdg")})


@needs_bng
def test_the_bngl_probe_runs_on_bng2_itself(tmp_path):
    """The probe is real: BNG2.pl given the text as written runs the command."""
    marker = tmp_path / "marker"
    src = tmp_path / "ep.bngl"
    src.write_text(BNGL.format(ch="\x1c", marker=marker) + "generate_network({overwrite=>1})\n")
    subprocess.run(["perl", str(bng2_path()), "--outdir", str(tmp_path), str(src)],
                   capture_output=True, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL)
    assert marker.exists()


@pytest.mark.parametrize("ch", BREAKERS, ids=[f"U+{ord(c):04X}" for c in BREAKERS])
def test_bngl_control_character_after_a_continuation_is_refused(ch, tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "m.bngl"
    path.write_text(BNGL.format(ch=ch, marker=marker), newline="")
    with pytest.raises(InputError) as info:
        read_model_info(path)
    issue = info.value.issues[0]
    assert issue.file == str(path) and issue.row == 16, info.value
    assert "not allowed" in issue.message
    assert not marker.exists()


def test_bngl_comments_may_hold_any_text(tmp_path):
    """Only code is checked: a comment in another script stays allowed."""
    from bngfit.files._bngl_filter import filter_bngl

    text = BNGL.format(ch="", marker="x").replace(
        "begin energy patterns\n  A() k \\\nend energy patterns\n"
        "setOption(system(q{touch x}))\nend energy patterns\n", "")
    text = text.replace("  k 0.5\n", "  k 0.5  # µM⁻¹ s⁻¹ (Müller)\x0c\n")
    assert "k 0.5" in filter_bngl(text, file="m.bngl").text


@pytest.mark.parametrize("ch", NET_BREAKERS, ids=[f"U+{ord(c):04X}" for c in NET_BREAKERS])
def test_net_with_a_hidden_block_is_refused_through_the_command_line(ch, tmp_path):
    marker = tmp_path / "marker"
    text = HIDDEN.format(ch=ch, marker=marker) + NET.split("\n", 1)[1]
    folder = tmp_path / "p"
    folder.mkdir()
    yaml = _problem(folder, "", "model.net")
    (folder / "model.net").write_bytes(text.encode("utf-8"))
    for command in ("validate", "evaluate"):
        proc = _bngfit(command, str(yaml), cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "model.net:1" in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not marker.exists()


def test_net_with_code_in_a_plain_function_is_refused(tmp_path):
    marker = tmp_path / "marker"
    text = NET.replace("begin parameters", "begin functions\n    9 gg() "
                       f'(system("touch {marker}"), 1)\nend functions\nbegin parameters')
    yaml = _problem(tmp_path / "p", text, "model.net")
    with pytest.raises(InputError, match="model.net") as info:
        bngfit.Objective(bngfit.load_problem(yaml))(np.array([np.log10(0.5)]))
    assert str(bngl_cache.cache_root()) not in str(info.value)  # names the user's file
    assert not marker.exists()


def test_a_plain_net_model_evaluates_to_its_closed_form(tmp_path):
    """Data on the exact solution A = 2 exp(-k t), sigma 1: fval = n/2 log(2 pi)."""
    yaml = _problem(tmp_path / "p", NET, "model.net")
    ev = bngfit.Objective(bngfit.load_problem(yaml))(np.array([np.log10(0.5)]))
    assert ev.ok, ev.message
    assert ev.fval == pytest.approx(1.5 * math.log(2 * math.pi), rel=1e-8)
    assert abs(ev.grad[0]) < 1e-6  # the data are at the optimum


def test_check_net_text_names_line_and_character():
    with pytest.raises(InputError, match=r"'\\x0c'") as info:
        check_net_text(b"# a\nbegin parameters\n 1 k 1\x0c\nend parameters\n", "m.net")
    assert info.value.issues[0].row == 3
    with pytest.raises(InputError, match="0xc3") as info:
        check_net_text("# Müller\n".encode(), "m.net")
    assert info.value.issues[0].row == 1
    assert check_net_text(NET.replace("\n", "\r\n").encode(), "m.net") == NET


ANTIMONY = """model m
  import_placeholder
  A -> ; k*A
  A = 2; k = 0.5
end
"""


@pytest.mark.parametrize("statement", ['import "other.ant"', 'import /* c */ "other.ant"',
                                       "import 'other.ant'"])
def test_antimony_import_is_refused(statement, tmp_path):
    """Antimony opens an imported file itself: a named pipe there blocks it for ever
    (in C: no signal helps), and where it looks depends on how the text is read."""
    folder = tmp_path / "p"
    yaml = _problem(folder, ANTIMONY.replace("import_placeholder", statement), "model.ant")
    os.mkfifo(folder / "other.ant")
    os.mkfifo(tmp_path / "other.ant")  # the working folder, where a text read looks
    proc = _bngfit("validate", str(yaml), cwd=tmp_path)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "model.ant:2" in said and "'import' is not supported" in said, said


SBML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
SBML_BODY = ('<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
             '<model id="m"/></sbml>\n')


@pytest.mark.parametrize("text", [
    SBML_HEAD + '<!DOCTYPE sbml [<!ENTITY e SYSTEM "PIPE">]>\n' + SBML_BODY.replace(
        '<model id="m"/>', '<model id="m" name="&e;"/>'),
    SBML_HEAD + SBML_BODY.replace(
        '<model id="m"/>', '<model id="m"/><comp:listOfExternalModelDefinitions xmlns:comp='
        '"http://www.sbml.org/sbml/level3/version1/comp/version1"><comp:externalModelDefinition'
        ' comp:id="x" comp:source="PIPE"/></comp:listOfExternalModelDefinitions>'),
], ids=["external-entity", "comp-external-model"])
def test_sbml_that_opens_other_files_is_refused(text, tmp_path):
    folder = tmp_path / "p"
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    yaml = _problem(folder, text.replace("PIPE", str(pipe)), "model.xml")
    proc = _bngfit("validate", str(yaml), cwd=tmp_path)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "model.xml:" in said and "not supported" in said, said


def test_deeply_nested_yaml_is_bad_input(tmp_path):
    yaml = tmp_path / "problem.yaml"
    yaml.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = _bngfit("validate", str(yaml), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "nested too deeply" in proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@needs_bng
def test_finding_bng2_leaves_streams_signal_handlers_and_argv_alone(tmp_path):
    """PyBioNetGen's app, imported to find BNG2.pl, reads argv and sets signal handlers."""
    script = (
        "import signal, sys\n"
        "sys.argv = ['script.py', '-q']\n"
        "sigs = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)\n"
        "before = [signal.getsignal(s) for s in sigs], sys.stdout, sys.stderr\n"
        "from bngfit.simulate._bngl_network import _bng2\n"
        "_bng2()\n"
        "after = [signal.getsignal(s) for s in sigs], sys.stdout, sys.stderr\n"
        "assert before == after, (before, after)\n"
        "assert sys.argv == ['script.py', '-q']\n"
        "print('kept')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "kept", proc.stderr


STRUCTURE_PROBES = {
    # bngsim's code generator reads a block the C++ reader skips or replaces
    "two-spaces": NET.replace("begin groups", "begin  functions\n    1 gg() (system(\"MARK\"),"
                              " 1)\nend  functions\nbegin groups"),
    "functions-twice": NET.replace("begin groups", "begin functions\n    1 gg() (system("
                                   "\"MARK\"), 1)\nend functions\nbegin functions\n"
                                   "    1 hh() 1\nend functions\nbegin groups"),
    "species-twice": NET.replace("begin reactions", "begin species\n    2 B() 1\nend species\n"
                                 "begin reactions"),
    "hash-in-function": NET.replace("begin groups", "begin functions\n    1 gg() k # (system("
                                    "\"MARK\"), 1)\nend functions\nbegin groups"),
    "outside-blocks": NET + "1 stray line\n",
    "no-reactions": NET.replace("    1 1 0 k #_R1\n", "").replace(
        "begin reactions\nend reactions\n", ""),
}


@pytest.mark.parametrize("name", list(STRUCTURE_PROBES))
def test_net_blocks_the_two_readers_would_read_differently_are_refused(name, tmp_path):
    marker = tmp_path / "marker"
    text = STRUCTURE_PROBES[name].replace("MARK", f"touch {marker}")
    yaml = _problem(tmp_path / "p", text, "model.net")
    with pytest.raises(InputError, match="model.net"):
        bngfit.Objective(bngfit.load_problem(yaml))(np.array([np.log10(0.5)]))
    assert not marker.exists()


def test_bngl_parameter_statement_outside_the_block_is_refused(tmp_path):
    """BNG2.pl defines it (A0 = 5 here); skipping it silently fitted another model."""
    path = tmp_path / "m.bngl"
    text = BNGL.format(ch="", marker="x").replace(
        "begin energy patterns\n  A() k \\\nend energy patterns\n"
        "setOption(system(q{touch x}))\nend energy patterns\n", "")
    path.write_text(text.replace("end parameters\n", "end parameters\nparameter A0 5\n"))
    with pytest.raises(InputError, match="outside the parameters block") as info:
        read_model_info(path)
    assert info.value.issues[0].row == 6
