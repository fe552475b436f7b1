"""Malformed problems: each gets one clear message naming file, line, id and value, exit 2.

Every case copies ``examples/conversion`` into a temporary folder, applies one
mutation, runs the command line and checks the exit code (2), the absence of a
traceback and the pieces of the message (file, line, id, value). Most cases run
in-process through :func:`bngfit.cli.main`; a few run the installed console
script in a subprocess to check the real exit code and stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import bngfit
from bngfit.cli._main import main
from tests.helpers import REPO

EXAMPLE_DIR = REPO / "examples" / "conversion"


# ------------------------------------------------------------------ mutations
def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")


def set_cell(name: str, line: int, col: str, value: str) -> Callable[[Path], None]:
    """Set one cell; ``line`` counts the header as line 1."""

    def mutate(d: Path) -> None:
        rows = _rows(d / name)
        rows[line - 1][rows[0].index(col)] = value
        _write_rows(d / name, rows)

    return mutate


def drop_col(name: str, col: str) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        rows = _rows(d / name)
        j = rows[0].index(col)
        _write_rows(d / name, [r[:j] + r[j + 1:] for r in rows])

    return mutate


def add_col(name: str, col: str, default: str = "", **at_line: str) -> Callable[[Path], None]:
    """Add a column; cells ``default`` except ``L<n>=value`` for line n."""

    def mutate(d: Path) -> None:
        rows = _rows(d / name)
        rows[0].append(col)
        for i, r in enumerate(rows[1:], start=2):
            r.append(at_line.get(f"L{i}", default))
        _write_rows(d / name, rows)

    return mutate


def replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        text = (d / name).read_text()
        assert old in text, f"{old!r} not in {name}"
        (d / name).write_text(text.replace(old, new, 1))

    return mutate


def write(name: str, text: str | bytes) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        if isinstance(text, bytes):
            (d / name).write_bytes(text)
        else:
            (d / name).write_text(text)

    return mutate


def remove(name: str) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        (d / name).unlink()

    return mutate


def both(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        for m in mutations:
            m(d)

    return mutate


def nothing(d: Path) -> None:
    """No mutation (the bad input is on the command line)."""


def point(text: str) -> Callable[[Path], None]:
    return write("point.tsv", text)


BNGL = """begin model
begin parameters
  k1 0.8
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
  A() -> 0 k1
end reaction rules
end model
"""

SBML_BROKEN = '<?xml version="1.0"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/version2">\n'


# ---------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One malformed variant.

    ``expect`` are substrings the error output must contain (file, line, id,
    value); ``args`` is the command line after ``bngfit`` with ``{d}`` for the
    problem folder; ``absent`` names files the run must not create.
    """

    id: str
    mutate: Callable[[Path], None]
    expect: tuple[str, ...]
    args: tuple[str, ...] = ("evaluate", "{d}/problem.yaml")
    absent: tuple[str, ...] = ()
    subprocess: bool = False
    marks: tuple = field(default=())
    base: Path | None = None  # the example copied (default: examples/conversion)


# observableParameters for obs_B, on the odd lines of measurements.tsv
ODD_B = {f"L{i}": "scale_B" for i in range(3, 34, 2)}

PAR, CON, OBS, MEA, YML = ("parameters.tsv", "conditions.tsv", "observables.tsv",
                           "measurements.tsv", "problem.yaml")

CASES = [
    # ---- the YAML file
    Case("yaml-missing", remove(YML), ("problem.yaml", "not found"), subprocess=True),
    Case("yaml-not-yaml", write(YML, "format_version: [1\nproblems: {\n"),
         ("problem.yaml:2", "not valid YAML")),
    Case("yaml-not-mapping", write(YML, "- just\n- a list\n"), ("problem.yaml", "mapping")),
    Case("yaml-binary", write(YML, b"\xff\xfe\x00garbage\x00"), ("problem.yaml",)),
    Case("yaml-format-version", replace(YML, "format_version: 1", "format_version: 2"),
         ("problem.yaml", "format_version", "'2'")),
    Case("yaml-no-parameter-file", replace(YML, "parameter_file: parameters.tsv\n", ""),
         ("problem.yaml", "parameter_file", "missing")),
    Case("yaml-parameter-file-not-text", replace(YML, "parameter_file: parameters.tsv",
                                                 "parameter_file: 5"),
         ("problem.yaml", "parameter_file")),
    Case("yaml-no-problems", write(YML, "format_version: 1\nparameter_file: parameters.tsv\n"),
         ("problem.yaml", "problems")),
    Case("yaml-sbml-files-not-list", replace(YML, "sbml_files:\n  - model.ant",
                                             "sbml_files: model.ant"),
         ("problem.yaml", "sbml_files")),
    Case("yaml-two-models", replace(YML, "  - model.ant\n", "  - model.ant\n  - model.ant\n"),
         ("problem.yaml", "sbml_files", "one model")),
    Case("yaml-wrong-suffix", nothing, ("problem.txt", "format"),
         args=("validate", "{d}/problem.txt")),
    # ---- the model
    Case("model-missing", remove("model.ant"), ("model.ant", "not found")),
    Case("model-unknown-suffix", both(replace(YML, "model.ant", "model.txt"),
                                      write("model.txt", "model m\nend\n")),
         ("model.txt", "'.txt'")),
    Case("model-antimony-garbage", write("model.ant", "model m\n  A -> ; k1*\nend\n"),
         ("model.ant:2", "Antimony refuses", "k1*")),
    Case("model-sbml-broken", both(replace(YML, "model.ant", "model.xml"),
                                   write("model.xml", SBML_BROKEN)),
         ("model.xml", "invalid SBML")),
    Case("model-bngl-without-bng2", both(replace(YML, "model.ant", "model.bngl"),
                                         write("model.bngl", BNGL)),
         ("model.bngl", "bngfit[bngl]", "BNG2.pl"), subprocess=True),
    # ---- missing tables
    *[Case(f"missing-{name}", remove(name), (name, "not found"), subprocess=name == CON)
      for name in (PAR, CON, OBS, MEA)],
    # ---- missing required columns
    *[Case(f"nocol-{name.split('.')[0]}-{col}", drop_col(name, col),
           (f"{name}:1", col, "missing"))
      for name, cols in (
          (PAR, ("parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
               "estimate")),
          (CON, ("conditionId",)),
          (OBS, ("observableId", "observableFormula", "noiseFormula")),
          (MEA, ("observableId", "simulationConditionId", "time", "measurement")),
      ) for col in cols],
    # ---- empty and ragged tables
    Case("empty-parameters", write(PAR, ""), (PAR, "empty")),
    Case("empty-measurements", write(MEA, "observableId\tsimulationConditionId\ttime\t"
                                        "measurement\n"), (MEA, "no data rows")),
    Case("ragged-measurements", write(MEA, "observableId\tsimulationConditionId\ttime\t"
                                         "measurement\nobs_A\tlow\t1\n"),
         (f"{MEA}:2", "'obs_A'", "measurement", "(empty)")),
    Case("too-many-cells", write(MEA, "observableId\tsimulationConditionId\ttime\t"
                                    "measurement\nobs_A\tlow\t1\t0.5\t7\t8\n"),
         (f"{MEA}:2", "6 cells", "'7'")),
    Case("duplicate-column", add_col(CON, "A0", "2"), (f"{CON}:1", "'A0'", "more than once")),
    Case("unnamed-column", write(OBS, "observableId\t\tobservableFormula\tnoiseFormula\n"
                                      "obs_A\tx\tA\t0.1\nobs_B\t\tscale_B * B\tsigma_B\n"),
         (f"{OBS}:1", "no name")),
    Case("not-utf8-table", write(OBS, b"observableId\tobservableFormula\tnoiseFormula\n"
                                    b"obs_A\tA\xff\xfe\t0.1\n"),
         (f"{OBS}:2", "UTF-8")),
    # ---- the parameter table
    Case("param-duplicate", set_cell(PAR, 3, "parameterId", "k1"), (f"{PAR}:3", "'k1'",
                                                                   "duplicate")),
    Case("param-bad-id", set_cell(PAR, 2, "parameterId", "1k"), (f"{PAR}:2", "'1k'")),
    Case("param-bad-scale", set_cell(PAR, 2, "parameterScale", "ln"),
         (f"{PAR}:2", "'k1'", "'ln'", "parameterScale")),
    Case("param-estimate-2", set_cell(PAR, 3, "estimate", "2"), (f"{PAR}:3", "'k2'", "'2'",
                                                               "estimate")),
    Case("param-estimate-text", set_cell(PAR, 3, "estimate", "yes"), (f"{PAR}:3", "'yes'")),
    Case("param-inverted-bounds", both(set_cell(PAR, 2, "lowerBound", "10"),
                                       set_cell(PAR, 2, "upperBound", "1")),
         (f"{PAR}:2", "'k1'", "inverted")),
    Case("param-nan-bound", set_cell(PAR, 3, "upperBound", "nan"),
         (f"{PAR}:3", "'k2'", "upperBound")),
    Case("param-empty-bound", set_cell(PAR, 3, "lowerBound", ""),
         (f"{PAR}:3", "'k2'", "lowerBound")),
    Case("param-inf-bound", set_cell(PAR, 3, "upperBound", "inf"),
         (f"{PAR}:3", "'k2'", "finite")),
    Case("param-text-bound", set_cell(PAR, 3, "upperBound", "lots"),
         (f"{PAR}:3", "'k2'", "'lots'")),
    Case("param-equal-bounds", both(set_cell(PAR, 3, "lowerBound", "0.5"),
                                    set_cell(PAR, 3, "upperBound", "0.5"),
                                    set_cell(PAR, 3, "nominalValue", "0.5")),
         (f"{PAR}:3", "'k2'", "equals")),
    Case("param-nominal-nan", set_cell(PAR, 6, "nominalValue", "nan"),
         (f"{PAR}:6", "'sigma_A'", "nominalValue")),
    Case("param-log-nonpositive-lb", set_cell(PAR, 2, "lowerBound", "0"),
         (f"{PAR}:2", "'k1'", "log10", "positive")),
    Case("param-is-species", set_cell(PAR, 6, "parameterId", "B"), (f"{PAR}:6", "'B'",
                                                                  "species")),
    # ---- the condition table
    Case("cond-column-not-in-model", add_col(CON, "kk", "1"), (f"{CON}:1", "'kk'", "model")),
    Case("cond-value-unknown-id", set_cell(CON, 3, "A0", "bogus"),
         (f"{CON}:3", "'high'", "'bogus'")),
    Case("cond-value-formula", set_cell(CON, 3, "A0", "2*k1"), (f"{CON}:3", "'2*k1'")),
    Case("cond-negative-species", add_col(CON, "B", "0", L3="-1"),
         (f"{CON}:3", "'high'", "'B'", "-1", "negative")),
    Case("cond-inf-species", add_col(CON, "B", "0", L2="inf"), (f"{CON}:2", "'low'", "'B'",
                                                              "inf")),
    Case("cond-zero-compartment", add_col(CON, "cell", "1", L2="0"),
         (f"{CON}:2", "'low'", "'cell'", "size")),
    Case("cond-duplicate-id", set_cell(CON, 3, "conditionId", "low"), (f"{CON}:3", "'low'",
                                                                     "duplicate")),
    # ---- the observable table
    Case("obs-does-not-parse", set_cell(OBS, 2, "observableFormula", "A +* 2"),
         (f"{OBS}:2", "'obs_A'", "'A +* 2'", "parse")),
    Case("obs-unknown-symbol", set_cell(OBS, 3, "observableFormula", "scale_B * C"),
         (f"{OBS}:3", "'obs_B'", "'C'")),
    Case("obs-unknown-function", set_cell(OBS, 3, "observableFormula", "foo(B)"),
         (f"{OBS}:3", "'obs_B'", "foo")),
    Case("obs-comparison", set_cell(OBS, 2, "observableFormula", "A > 1"),
         (f"{OBS}:2", "'obs_A'", "condition")),
    Case("obs-empty-formula", set_cell(OBS, 2, "observableFormula", ""),
         (f"{OBS}:2", "'obs_A'", "empty")),
    Case("obs-duplicate", set_cell(OBS, 3, "observableId", "obs_A"), (f"{OBS}:3", "'obs_A'",
                                                                   "duplicate")),
    Case("obs-bad-transform", add_col(OBS, "observableTransformation", "lin", L2="ln"),
         (f"{OBS}:2", "'obs_A'", "'ln'")),
    Case("obs-bad-distribution", add_col(OBS, "noiseDistribution", "normal", L3="cauchy"),
         (f"{OBS}:3", "'obs_B'", "'cauchy'")),
    Case("noise-negative-constant", set_cell(OBS, 2, "noiseFormula", "-0.1"),
         (f"{OBS}:2", "'obs_A'", "-0.1", "positive")),
    Case("noise-zero-constant", set_cell(OBS, 2, "noiseFormula", "0"),
         (f"{OBS}:2", "'obs_A'", "positive")),
    Case("noise-huge-constant", set_cell(OBS, 2, "noiseFormula", "1e400"),
         (f"{OBS}:2", "'obs_A'", "1e400")),
    Case("formula-power-tower", set_cell(OBS, 2, "observableFormula", "A * 9^9^9^9"),
         (f"{OBS}:2", "'obs_A'", "double precision")),
    Case("formula-not-real", set_cell(OBS, 2, "observableFormula", "A + sqrt(-1)"),
         (f"{OBS}:2", "'obs_A'", "real")),
    Case("noise-unknown-symbol", set_cell(OBS, 3, "noiseFormula", "sigma_X"),
         (f"{OBS}:3", "'obs_B'", "'sigma_X'")),
    Case("obs-foreign-placeholder", set_cell(OBS, 2, "observableFormula",
                                             "observableParameter1_obs_B * A"),
         (f"{OBS}:2", "'obs_A'", "observableParameter1_obs_B")),
    # ---- formulas that try to run code: refused by the grammar, nothing runs
    *[Case(f"code-{name}", set_cell(OBS, 2, "observableFormula", text),
           (f"{OBS}:2", "'obs_A'", "parse"), absent=("PWNED",), subprocess=name == "import")
      for name, text in (
          ("import", "__import__('os').system('touch PWNED')"),
          ("open", "open('PWNED', 'w')"),
          ("lambda", "(lambda: __import__('os').system('touch PWNED'))()"),
          ("attribute", "A.__class__"),
          ("dunder-class", "[].__class__"),
          ("subclasses", "().__class__.__bases__[0].__subclasses__()"),
          ("semicolon", "A; __import__('os').system('touch PWNED')"),
          ("power-python", "A ** 2"),
      )],
    # a double quote in a cell is refused by the table reader, before any parsing
    *[Case(f"code-{name}", set_cell(OBS, 2, "observableFormula", text),
           (f"{OBS}:2", "observableFormula", "double quote"), absent=("PWNED",))
      for name, text in (
          ("exec", "exec(\"open('PWNED', 'w')\")"),
          ("eval", "eval(\"__import__('os').system('touch PWNED')\")"),
      )],
    Case("code-in-noise", set_cell(OBS, 3, "noiseFormula",
                                   "__import__('os').system('touch PWNED')"),
         (f"{OBS}:3", "'obs_B'", "noiseFormula"), absent=("PWNED",)),
    Case("code-in-condition", set_cell(CON, 2, "A0", "__import__('os').system('touch PWNED')"),
         (f"{CON}:2", "'low'"), absent=("PWNED",)),
    Case("code-in-overrides",
         both(set_cell(OBS, 3, "observableFormula", "observableParameter1_obs_B * B"),
              add_col(MEA, "observableParameters", "",
                      **{**ODD_B, "L3": "__import__('os').system('touch PWNED')"})),
         (f"{MEA}:3", "'obs_B'"), absent=("PWNED",)),
    # ---- the measurement table
    Case("meas-unknown-observable", set_cell(MEA, 4, "observableId", "obs_C"),
         (f"{MEA}:4", "'obs_C'", "unknown")),
    Case("meas-unknown-condition", set_cell(MEA, 5, "simulationConditionId", "medium"),
         (f"{MEA}:5", "'medium'", "unknown")),
    Case("meas-unknown-condition-many", set_cell(CON, 3, "conditionId", "hi"),
         (f"{MEA}:18", "'high'", "also on 15 more line(s)"), subprocess=True),
    Case("meas-unknown-preeq", add_col(MEA, "preequilibrationConditionId", "", L6="pre"),
         (f"{MEA}:6", "'pre'", "unknown")),
    Case("meas-empty-observable", set_cell(MEA, 4, "observableId", ""),
         (f"{MEA}:4", "observableId", "empty")),
    Case("meas-nan", set_cell(MEA, 7, "measurement", "NaN"), (f"{MEA}:7", "'obs_B'", "'NaN'")),
    Case("meas-empty", set_cell(MEA, 7, "measurement", ""), (f"{MEA}:7", "'obs_B'",
                                                             "measurement", "(empty)")),
    Case("meas-text", set_cell(MEA, 7, "measurement", "high"), (f"{MEA}:7", "'high'")),
    Case("meas-inf", set_cell(MEA, 6, "measurement", "inf"), (f"{MEA}:6", "'obs_A'", "'inf'")),
    Case("time-text", set_cell(MEA, 8, "time", "noon"), (f"{MEA}:8", "'obs_A'", "'noon'",
                                                         "time")),
    Case("time-negative", set_cell(MEA, 9, "time", "-1"), (f"{MEA}:9", "'obs_B'", "'-1'",
                                                           "negative")),
    Case("time-nan", set_cell(MEA, 8, "time", "nan"), (f"{MEA}:8", "'obs_A'", "time")),
    Case("time-empty", set_cell(MEA, 8, "time", ""), (f"{MEA}:8", "'obs_A'", "time")),
    Case("meas-negative-log", both(add_col(OBS, "observableTransformation", "lin", L2="log"),
                                   set_cell(MEA, 4, "measurement", "-0.2")),
         (f"{MEA}:4", "'obs_A'", "'-0.2'", "positive")),
    Case("overrides-count",
         both(set_cell(OBS, 3, "observableFormula", "observableParameter1_obs_B * B"),
              add_col(MEA, "observableParameters", "", **{**ODD_B, "L5": "scale_B;2"})),
         (f"{MEA}:5", "'obs_B'", "observableParameters", "'scale_B;2'")),
    Case("overrides-missing",
         both(set_cell(OBS, 3, "observableFormula", "observableParameter1_obs_B * B"),
              add_col(MEA, "observableParameters", "", **{**ODD_B, "L5": ""})),
         (f"{MEA}:5", "'obs_B'", "observableParameters")),
    Case("overrides-unknown-id",
         both(set_cell(OBS, 3, "observableFormula", "observableParameter1_obs_B * B"),
              add_col(MEA, "observableParameters", "", **{**ODD_B, "L7": "scale_Q"})),
         (f"{MEA}:7", "'obs_B'", "'scale_Q'")),
    Case("overrides-not-needed", add_col(MEA, "observableParameters", "", L7="3"),
         (f"{MEA}:7", "'obs_B'", "observableParameters")),
    Case("noise-parameter-negative",
         both(set_cell(OBS, 2, "noiseFormula", "noiseParameter1_obs_A"),
              add_col(MEA, "noiseParameters", "", **{f"L{i}": "0.1" for i in range(2, 34, 2)}),
              set_cell(MEA, 4, "noiseParameters", "-0.1")),
         (f"{MEA}:4", "'obs_A'", "-0.1", "positive")),
    Case("noise-parameter-nan",
         both(set_cell(OBS, 2, "noiseFormula", "noiseParameter1_obs_A"),
              add_col(MEA, "noiseParameters", "", **{f"L{i}": "0.1" for i in range(2, 34, 2)}),
              set_cell(MEA, 4, "noiseParameters", "nan")),
         (f"{MEA}:4", "'obs_A'", "noiseParameters")),
    # ---- the --point file and command-line options
    Case("point-missing", nothing, ("nope.tsv", "not found"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/nope.tsv")),
    Case("point-unknown-id", point("parameterId\tvalue\nk1\t-1\nk9\t0\n"),
         ("point.tsv:3", "'k9'"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("point-not-number", point("parameterId\tvalue\nk1\tfast\n"),
         ("point.tsv:2", "'k1'", "'fast'"),
         args=("check-grad", "{d}/problem.yaml", "--point", "{d}/point.tsv"),
         subprocess=True),
    Case("point-nan", point("parameterId\tvalue\nk2\tnan\n"), ("point.tsv:2", "'k2'", "nan"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("point-fixed", point("parameterId\tvalue\nsigma_A\t2\n"),
         ("point.tsv:2", "'sigma_A'", "fixed"),
         args=("simulate", "{d}/problem.yaml", "--point", "{d}/point.tsv", "-o",
               "{d}/sim.tsv")),
    Case("point-duplicate", point("parameterId\tvalue\nk1\t0\nk1\t1\n"),
         ("point.tsv:3", "'k1'", "twice"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("point-no-value-column", point("parameterId\tval\nk1\t0\n"),
         ("point.tsv:1", "value"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("point-empty", point(""), ("point.tsv",),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("point-ragged", point("parameterId\tvalue\nk1\n"), ("point.tsv:2", "'k1'"),
         args=("evaluate", "{d}/problem.yaml", "--point", "{d}/point.tsv")),
    Case("eps-negative", nothing, ("--eps", "-0.001"),
         args=("check-grad", "{d}/problem.yaml", "--eps", "-0.001")),
    Case("eps-zero", nothing, ("--eps", "0"),
         args=("check-grad", "{d}/problem.yaml", "--eps", "0")),
    Case("rtol-negative", nothing, ("--rtol",),
         args=("evaluate", "{d}/problem.yaml", "--rtol", "-1")),
    Case("simulate-output-unwritable", nothing, ("no_such_dir",),
         args=("simulate", "{d}/problem.yaml", "-o", "{d}/no_such_dir/sim.tsv")),
]


# ------------------------------------------------------- PyBNF, SBML, BNGL
ED2 = REPO / "examples" / "pybnf_edition2"
DEMO = REPO.parent / "shared" / "benchmarks" / "pybnf" / "demo"
CONF = ("evaluate", "{d}/job.conf")
XML_CONF = ("evaluate", "{d}/demo_xml.conf")
BNG_CONF = ("evaluate", "{d}/demo_bng.conf")


def append(name: str, text: str) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        with open(d / name, "a", encoding="utf-8") as fh:
            fh.write(text)

    return mutate


def sbml_model(old: str = "", new: str = "") -> Callable[[Path], None]:
    """Use the conversion model as SBML (from Antimony), with ``old`` replaced by ``new``."""

    def mutate(d: Path) -> None:
        import antimony

        antimony.clearPreviousLoads()
        assert antimony.loadAntimonyString((d / "model.ant").read_text()) != -1
        sbml = antimony.getSBMLString("conversion")
        assert old in sbml, old
        (d / "model.xml").write_text(sbml.replace(old, new, 1))
        replace(YML, "model.ant", "model.xml")(d)

    return mutate


def bngl_model(text: str) -> Callable[[Path], None]:
    return both(replace(YML, "model.ant", "model.bngl"), write("model.bngl", text))


EXP = "high.exp"
PROP = "plateau.prop"
PRODUCT = '<speciesReference species="B" stoichiometry="1" constant="true"/>\n        </listOf' \
          'Products>'

MORE_CASES = [
    # ---- PyBNF configuration (.conf), edition 2 and legacy
    Case("conf-not-a-line", append("job.conf", "this is not a line\n"),
         ("job.conf:27", "'this is not a line'", "configuration line"), CONF, base=ED2),
    Case("conf-unknown-objective", replace("job.conf", "objective = chi_sq", "objective = chi"),
         ("job.conf:10", "'objective'", "'chi'"), CONF, base=ED2),
    Case("conf-inverted-bounds", replace("job.conf", "k1 0.01 10", "k1 10 0.01"),
         ("job.conf:23", "'k1'", "below"), CONF, base=ED2),
    Case("conf-nan-bound", replace("job.conf", "k1 0.01 10", "k1 nan 10"),
         ("job.conf:23", "'k1'", "'nan'"), CONF, base=ED2),
    Case("conf-huge-bound", replace("job.conf", "k1 0.01 10", "k1 0.01 1e400"),
         ("job.conf:23", "'k1'", "1e400"), CONF, base=ED2),
    Case("conf-parameter-twice", append("job.conf", "loguniform_var = k1 0.1 1\n"),
         ("job.conf:27", "'k1'", "twice"), CONF, base=ED2),
    Case("conf-data-missing", replace("job.conf", "data: high.exp", "data: nope.exp"),
         ("job.conf:18", "'nope.exp'", "not found"), CONF, base=ED2),
    Case("conf-data-twice", replace("job.conf", "data: knockout.exp",
                                    "data: knockout.exp, ./knockout.exp"),
         ("job.conf:17", "'./knockout.exp'", "twice"), CONF, base=ED2),
    Case("conf-unknown-condition", replace("job.conf", "condition: high, data",
                                           "condition: higher, data"),
         ("job.conf:18", "'higher'"), CONF, base=ED2),
    Case("conf-legacy-line-in-edition-2", append("job.conf", "model = model.ant : high.exp\n"),
         ("job.conf:27", "edition-1"), CONF, base=ED2),
    Case("conf-not-utf8", write("job.conf", b"edition = 2\nmodel: m\xe9.ant\n"),
         ("job.conf:2", "UTF-8"), CONF, base=ED2),
    Case("conf-binary", write("job.conf", bytes(range(256))), ("job.conf",), CONF, base=ED2,
         subprocess=True),
    Case("conf-empty", write("job.conf", ""), ("job.conf", "no model"), CONF, base=ED2),
    Case("conf-huge-time-course", replace("demo_xml.conf", "time: 20", "time: 1e12"),
         ("demo_xml.conf:26", "1e+12", "1,000,000"), XML_CONF, base=DEMO),
    Case("conf-huge-time-course-steps", replace("demo_xml.conf", "time: 20",
                                                "time: 20, step: 1e-9"),
         ("demo_xml.conf:26", "step", "1,000,000"), XML_CONF, base=DEMO),
    Case("conf-legacy-data-twice", replace("demo_xml.conf", ": par1.exp", ": par1.exp, par1.exp"),
         ("demo_xml.conf:7", "'par1.exp'", "twice"), XML_CONF, base=DEMO),
    Case("conf-huge-n-steps",
         both(write("only.prop", "B < 1 always\n"),
              append("job.conf", "experiment: c, data: only.prop, t_end: 5, n_steps: 1e10\n")),
         ("job.conf:27", "'n_steps'", "1,000,000"), CONF, base=ED2),
    Case("conf-bngl-huge-n-steps", replace("parabola.bngl", "n_steps=>20", "n_steps=>1e12"),
         ("parabola.bngl:44", "'n_steps'", "1,000,000"), BNG_CONF, base=DEMO),
    # ---- PyBNF data (.exp)
    Case("exp-not-a-number", replace(EXP, "2.93198", "abc"), ("high.exp:2", "'A'", "'abc'"),
         CONF, base=ED2),
    Case("exp-inf", replace(EXP, "2.93198", "inf"), ("high.exp:2", "'A'", "'inf'"), CONF,
         base=ED2),
    Case("exp-huge", replace(EXP, "2.93198", "1e999"), ("high.exp:2", "'A'", "'1e999'"), CONF,
         base=ED2),
    Case("exp-negative-time", replace(EXP, "\n0.5 ", "\n-0.5 "),
         ("high.exp:3", "'time'", "negative"), CONF, base=ED2),
    Case("exp-no-time-column", replace(EXP, "# time", "# t"), ("high.exp:1", "'t'", "time"),
         CONF, base=ED2),
    Case("exp-negative-sd", replace(EXP, "0.05 0.05\n0.5", "-0.05 0.05\n0.5"),
         ("high.exp:2", "'A_SD'", "positive"), CONF, base=ED2),
    Case("exp-sd-without-observable", replace(EXP, "A_SD B_SD", "A_SD C_SD"),
         ("high.exp:1", "'C_SD'"), CONF, base=ED2),
    Case("exp-ragged", replace(EXP, "2.93198 ", ""), ("high.exp:2", "4 cells"), CONF,
         base=ED2),
    Case("exp-empty", write(EXP, ""), ("high.exp", "empty"), CONF, base=ED2),
    Case("exp-not-utf8", write(EXP, b"# time A\xe9 B\n0 1 2\n"), ("high.exp:1", "UTF-8"), CONF,
         base=ED2),
    Case("exp-unknown-column", replace(EXP, "# time A B A_SD B_SD", "# time A Q A_SD Q_SD"),
         ("high.exp", "'Q'"), CONF, base=ED2),
    # ---- PyBNF constraints (.prop / .con)
    Case("prop-does-not-parse", write(PROP, "B << 1 sometimes\n"),
         ("plateau.prop:1", "'B << 1 sometimes'"), CONF, base=ED2),
    Case("prop-unknown-output", write(PROP, "# c\nQ < 1 always weight 10\n"),
         ("plateau.prop:2", "'Q'"), CONF, base=ED2),
    Case("prop-negative-weight", write(PROP, "B < 1 always weight -3\n"),
         ("plateau.prop:1", "negative"), CONF, base=ED2),
    Case("prop-not-utf8", write(PROP, b"B < 1 always # \xff\n"), ("plateau.prop:1", "UTF-8"),
         CONF, base=ED2),
    Case("con-does-not-parse", both(write("plateau.con", "B < 1 at time x\n"),
                                    replace("job.conf", PROP, "plateau.con")),
         ("plateau.con:1", "'B < 1 at time x'"), CONF, base=ED2),
    # ---- SBML models
    Case("sbml-undefined-product", sbml_model(PRODUCT, PRODUCT.replace('"B"', '"C"')),
         ("model.xml:", "'C'", "undefined")),
    Case("sbml-negative-compartment", sbml_model('size="1"', 'size="-1"'),
         ("model.xml:6", "'cell'", "'-1'")),
    Case("sbml-undefined-symbol", sbml_model("<ci> k1 </ci>", "<ci> kx </ci>"),
         ("model.xml:", "'kx'")),
    Case("sbml-duplicate-id", sbml_model('<parameter id="k2"', '<parameter id="k1"'),
         ("model.xml:", "'k1'", "Duplicate")),
    Case("sbml-truncated", sbml_model("</listOfReactions>", ""), ("model.xml:", "XML")),
    Case("sbml-not-sbml", both(sbml_model(), write("model.xml", "<html><body/></html>\n")),
         ("model.xml",)),
    Case("sbml-empty", both(sbml_model(), write("model.xml", "")), ("model.xml",)),
    Case("sbml-binary", both(sbml_model(), write("model.xml", bytes(range(256)))),
         ("model.xml",), subprocess=True),
    # ---- Antimony models
    Case("antimony-undefined-parameter", replace("model.ant", "k1*A", "k1*A*k3"),
         ("model.ant", "'k3'")),
    Case("antimony-unclosed-model", replace("model.ant", "\nend", "\n"),
         ("model.ant", "Antimony refuses")),
    Case("antimony-empty", write("model.ant", ""), ("model.ant",)),
    Case("antimony-binary", write("model.ant", b"\xff\xfe\x00model"), ("model.ant", "UTF-8")),
    # ---- BNGL models: syntax errors BNG2.pl reports (not code: see test_bngl_template)
    Case("bngl-broken-rule", bngl_model(BNGL.replace("A() -> 0 k1", "A( -> 0 k1")),
         ("model.bngl",)),
    Case("bngl-unclosed-block", bngl_model(BNGL.replace("end reaction rules\n", "")),
         ("model.bngl",)),
    Case("bngl-template-broken-rule", replace("parabola.bngl", "0->counter() 1",
                                              "0->counter( 1"),
         ("parabola",), BNG_CONF, base=DEMO),
]
CASES += MORE_CASES


def _problem_dir(tmp_path: Path, case: Case) -> Path:
    base = case.base or EXAMPLE_DIR
    if not base.exists():
        pytest.skip(f"shared material not found: {base}")
    d = tmp_path / "problem"
    shutil.copytree(base, d)
    case.mutate(d)
    return d


def _argv(case: Case, d: Path) -> list[str]:
    return [a.format(d=d) for a in case.args]


def _check(case: Case, code: int, out: str, err: str, d: Path, cwd: Path) -> None:
    text = out + err
    assert "Traceback" not in text, text
    assert code == 2, f"exit code {code}, expected 2; output:\n{text}"
    assert err.strip(), "no message on stderr"
    assert "internal error" not in err, err
    for piece in case.expect:
        assert piece in err or piece in out, f"{piece!r} missing from:\n{err}"
    for name in case.absent:
        assert not (d / name).exists() and not (cwd / name).exists(), f"{name} was created"


def test_enough_variants():
    assert len({c.id for c in CASES}) == len(CASES)
    assert len(CASES) >= 35


# BioNetGen is installed with the test extras; the "no BNG2.pl" case hides it the
# way a machine without it looks to bngsim (no env vars, nothing on PATH, no
# bundled PyBioNetGen).
HIDE_BNG = ("import bngsim._bngpath as b; "
            "b._bundled_bngpath = lambda: (None, 'PyBioNetGen is not installed'); "
            "import bngfit.simulate._bngl_network as n; "
            "n._bundled_without_import = lambda failed: failed")


def _hide_bng(monkeypatch) -> None:
    import bngsim._bngpath as bngpath

    monkeypatch.delenv("BNG2_PL", raising=False)
    monkeypatch.delenv("BNGPATH", raising=False)
    monkeypatch.setattr(bngpath, "_bundled_bngpath",
                        lambda: (None, "PyBioNetGen is not installed"))
    from bngfit.simulate import _bngl_network

    monkeypatch.setattr(_bngl_network, "_bundled_without_import", lambda failed: failed)


def test_bng2_is_found_in_a_bionetgen_that_cannot_be_imported(monkeypatch):
    # `pip install --no-deps bionetgen` (no notebook stack): importing it fails, but
    # the BNG2.pl it bundles runs with perl alone
    import importlib.util

    import bngsim._bngpath as bngpath

    from bngfit.simulate._bngl_network import _bng2

    monkeypatch.delenv("BNG2_PL", raising=False)
    monkeypatch.delenv("BNGPATH", raising=False)
    monkeypatch.setenv("PATH", os.defpath)
    monkeypatch.setattr(bngpath, "_bundled_bngpath",
                        lambda: (None, "bionetgen not importable (ImportError)"))
    spec = importlib.util.find_spec("bionetgen")
    if spec is None or shutil.which("perl") is None:
        pytest.skip("BioNetGen or perl is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    assert _bng2().resolve().parent.parent == root.resolve()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_in_process(case: Case, tmp_path, monkeypatch, capsys):
    d = _problem_dir(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    # the command line's own argv: bionetgen (under bngsim's BNGL loading) reads the
    # process's sys.argv, and pytest's -q there sends sys.stdout/stderr to /dev/null
    monkeypatch.setattr(sys, "argv", ["bngfit"])
    if case.id == "model-bngl-without-bng2":
        _hide_bng(monkeypatch)
    code = main(_argv(case, d))
    out, err = capsys.readouterr()
    _check(case, code, out, err, d, tmp_path)


SUBPROCESS_CASES = [c for c in CASES if c.subprocess]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.id for c in SUBPROCESS_CASES])
def test_bad_input_subprocess(case: Case, tmp_path):
    d = _problem_dir(tmp_path, case)
    exe = shutil.which("bngfit")
    cmd = [exe] if exe else [sys.executable, "-m", "bngfit.cli"]
    if case.id == "model-bngl-without-bng2":
        cmd = [sys.executable, "-c", HIDE_BNG + "; import sys; from bngfit.cli import main; "
               "sys.exit(main(sys.argv[1:]))"]
    env = {k: v for k, v in os.environ.items() if k not in ("BNG2_PL", "BNGPATH")}
    proc = subprocess.run([*cmd, *_argv(case, d)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    _check(case, proc.returncode, proc.stdout, proc.stderr, d, tmp_path)
    # one paragraph: the message is a single line unless several errors are listed
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_validate_lists_all_errors(tmp_path, monkeypatch, capsys):
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    set_cell(PAR, 3, "estimate", "2")(d)
    both(set_cell(PAR, 4, "lowerBound", "5"), set_cell(PAR, 4, "upperBound", "1"))(d)
    set_cell(OBS, 3, "observableFormula", "scale_B * C")(d)
    set_cell(MEA, 7, "measurement", "nan")(d)
    set_cell(MEA, 9, "time", "-2")(d)
    set_cell(MEA, 11, "simulationConditionId", "medium")(d)
    monkeypatch.chdir(tmp_path)
    code = main(["validate", str(d / "problem.yaml")])
    out, err = capsys.readouterr()
    text = out + err
    assert code == 2
    assert "Traceback" not in text
    for where in (f"{PAR}:3", f"{PAR}:4", f"{OBS}:3", f"{MEA}:7", f"{MEA}:9", f"{MEA}:11"):
        assert where in text, f"{where} missing from:\n{text}"
    assert "6 error(s)" in err, text


def test_validate_clean_problem(capsys):
    assert main(["validate", str(EXAMPLE_DIR / "problem.yaml")]) == 0
    out, _ = capsys.readouterr()
    assert "no errors" in out


def test_nan_measurement_is_refused_not_dropped(tmp_path):
    """A NaN measurement stops loading; it is never silently left out."""
    from bngfit import load_problem
    from bngfit.errors import InputError

    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    set_cell(MEA, 7, "measurement", "nan")(d)
    with pytest.raises(InputError, match="measurements.tsv:7"):
        load_problem(d / "problem.yaml")


def test_debug_shows_the_traceback(tmp_path):
    """--debug re-raises, so the traceback is there for whoever asks."""
    from bngfit.errors import InputError

    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    remove(MEA)(d)
    with pytest.raises(InputError):
        main(["--debug", "evaluate", str(d / "problem.yaml")])


def test_tolerated_layout_gives_same_value(tmp_path, capsys):
    """CRLF line ends, trailing tabs, blank lines and a BOM are layout, not errors."""
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    for name in (PAR, CON, OBS, MEA):
        lines = (d / name).read_text().splitlines()
        lines.insert(2, "")
        (d / name).write_bytes(("\ufeff" + "\t\r\n".join(lines) + "\t\r\n").encode())
    assert main(["evaluate", "--json", str(EXAMPLE_DIR / "problem.yaml")]) == 0
    want = capsys.readouterr().out
    assert main(["evaluate", "--json", str(d / "problem.yaml")]) == 0
    got = capsys.readouterr().out
    assert got == want


def test_point_outside_bounds_warns(tmp_path, capsys, caplog):
    """A point outside the bounds (often a native value for a log parameter) is flagged."""
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    (d / "point.tsv").write_text("parameterId\tvalue\nk1\t5\n")
    with caplog.at_level("WARNING", logger="bngfit"):
        code = main(["evaluate", str(d / "problem.yaml"), "--point", str(d / "point.tsv"),
                     "--fill-nominal"])
    assert code == 0
    assert "point.tsv:2" in caplog.text and "'k1'" in caplog.text and "log10" in caplog.text


def test_a_point_missing_a_free_parameter_is_an_error_unless_filled(tmp_path, capsys, caplog):
    d = tmp_path / "problem"
    shutil.copytree(EXAMPLE_DIR, d)
    (d / "point.tsv").write_text("parameterId\tvalue\nk1\t-0.1\n")
    args = ["evaluate", str(d / "problem.yaml"), "--point", str(d / "point.tsv"), "--json"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "point.tsv" in err and "k2" in err and "--fill-nominal" in err
    assert "Traceback" not in err
    with caplog.at_level("WARNING", logger="bngfit"):
        assert main([*args, "--fill-nominal"]) == 0
    assert "does not list" in caplog.text and "k2" in caplog.text
    out = json.loads(capsys.readouterr().out)
    problem = bngfit.load_problem(d / "problem.yaml")
    x = problem.x_nominal.copy()
    x[problem.x_names.index("k1")] = -0.1
    assert out["fval"] == pytest.approx(bngfit.Objective(problem)(x, sensi=1).fval, rel=1e-12)


def test_version(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bngfit {version('bngfit')}"


def test_validate_warns_of_a_condition_column_in_the_parameter_table(tmp_path, capsys):
    d = tmp_path / "overlap"
    shutil.copytree(EXAMPLE_DIR, d)
    with open(d / "parameters.tsv", "a", encoding="utf-8") as fh:
        fh.write("A0\tlin\t0\t10\t1\t0\n")
    assert main(["validate", str(d / "problem.yaml")]) == 0  # a warning, not an error
    out = capsys.readouterr()
    text = out.out + out.err
    assert "conditions.tsv:1" in text and "'A0'" in text and "parameter table" in text


def test_check_grad_on_a_subset_and_at_a_random_point(tmp_path, capsys):
    problem = bngfit.load_problem(EXAMPLE_DIR / "problem.yaml")
    base = ["check-grad", str(EXAMPLE_DIR / "problem.yaml"), "--json"]
    assert main([*base, "--parameters", "k2", "k1"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["parameters"]
    assert [r["parameterId"] for r in rows] == ["k1", "k2"]  # in the problem's order
    # the object carries the point, fval and the verdicts
    assert out["point"] == dict(zip(problem.x_names, problem.x_nominal.tolist(), strict=True))
    assert out["fval"] == pytest.approx(bngfit.Objective(problem)(problem.x_nominal).fval,
                                        rel=1e-12)
    assert out["verdicts"] == {"agrees": 2, "unresolved": 0, "mismatch": 0}
    assert {r["verdict"] for r in rows} == {"agrees"}
    assert main([*base, "--parameters", "k9"]) == 2
    err = capsys.readouterr().err
    assert "'k9'" in err and "--parameters" in err and "k1" in err
    # a point drawn within the bounds from the seed: the same one every time
    assert main([*base, "--random", "--seed", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["parameters"]
    x = np.random.default_rng(3).uniform(problem.lb, problem.ub)
    assert np.all((problem.lb <= x) & (x <= problem.ub))
    grad = bngfit.Objective(problem)(x).grad
    np.testing.assert_allclose([r["grad"] for r in rows], grad, rtol=1e-12)
    assert not np.allclose(grad, bngfit.Objective(problem)(problem.x_nominal).grad)
    (tmp_path / "p.tsv").write_text("parameterId\tvalue\nk1\t0\n")
    assert main([*base, "--random", "--point", str(tmp_path / "p.tsv")]) == 2
    assert "either --point or --random" in capsys.readouterr().err
