"""PyBNF's lexical rules for .conf files, as its own grammar reads them.

PyBNF's parser (pybnf/parse.py) ends a number, name or file at a ``#`` and
drops the rest as a comment, with or without a blank before it; a string
key's value (``output_dir``) keeps a ``#`` attached to it. Keys are matched
without regard to case; blank and comment-only lines, trailing blanks and
Windows line endings do not matter.
"""

from __future__ import annotations

import shutil

import pytest

from bngfit.pybnf.conf._conf import read_conf, uncomment
from tests.helpers import shared_path

RECEPTOR = shared_path("benchmarks", "pybnf", "receptor")


@pytest.mark.parametrize(("raw", "text"), [
    ("loguniform_var = kp1__FREE 1e-8 1e-4# binding", "loguniform_var = kp1__FREE 1e-8 1e-4"),
    ("max_iterations=50#iterations", "max_iterations=50"),
    ("# a whole-line comment", ""),
    ("   ", ""),
    ("population_size = 12   ", "population_size = 12"),
    ("output_dir = runs#2", "output_dir = runs#2"),  # PyBNF keeps it: a string value
    ("output_dir = runs #2", "output_dir = runs"),
    # PyBNF reads a file name up to its extension: a # inside one is part of it
    ("model = runs#2/model.bngl : data.exp", "model = runs#2/model.bngl : data.exp"),
    ("model = m.bngl : d#1.exp", "model = m.bngl : d#1.exp"),
    ("model = m.bngl : d.exp# the data", "model = m.bngl : d.exp"),
    ("model: run#2/model.ant", "model: run#2/model.ant"),
    ('condition: c1, perturbations: "A#1()" = 5 # set',
     'condition: c1, perturbations: "A#1()" = 5'),
])
def test_comments_end_a_line_as_pybnf_reads_them(raw, text):
    assert uncomment(raw) == text


def _receptor(tmp_path):
    if not RECEPTOR.is_dir():
        pytest.skip("../shared is not beside the repository")
    d = tmp_path / "receptor"
    shutil.copytree(RECEPTOR, d)
    return d / "receptor.conf"


def test_a_job_written_with_attached_comments_reads_as_the_original(tmp_path):
    conf = _receptor(tmp_path)
    original = read_conf(conf)
    text = conf.read_text()
    text = text.replace("loguniform_var=KD1__FREE 0.001 1000",
                        "LOGUNIFORM_VAR=KD1__FREE 0.001 1000# binding   ")
    text = text.replace("max_iterations=50", "Max_Iterations=50#at most")
    text = text.replace("output_dir=output/receptor", "output_dir=output/receptor#2")
    conf.write_bytes(text.replace("\n", "\r\n").encode())  # Windows line endings
    again = read_conf(conf)
    assert again.parameters == original.parameters
    assert again.settings["max_iterations"][0] == original.settings["max_iterations"][0] == 50
    assert again.settings["output_dir"][0] == "output/receptor#2"
    assert [m.path for m in again.models] == [m.path for m in original.models]
