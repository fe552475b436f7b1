"""PyBNF's ``bootstrap`` / ``bootstrap_max_obj``: read into the problem's request, put
on bngfit's scale exactly, refused with file and line where they cannot be, and run
by ``bngfit fit JOB.conf``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import bngfit
from bngfit.cli import main
from bngfit.errors import InputError
from tests.helpers import shared_path

pytestmark = pytest.mark.skipif(not shared_path("benchmarks", "pybnf", "demo").is_dir(),
                                reason="needs ../shared/benchmarks/pybnf")

SDS = np.linspace(0.5, 3.0, 21)  # distinct y_SD per row: the constants differ per point


def _job(tmp_path, *lines, objfunc="chi_sq"):
    d = tmp_path / "demo"
    shutil.copytree(shared_path("benchmarks", "pybnf", "demo"), d)
    exp = d / "par1.exp"
    rows = exp.read_text().splitlines()
    out = [rows[0]]
    for i, row in enumerate(r for r in rows[1:] if r.strip()):
        cells = row.split()
        cells[4] = f"{SDS[i % SDS.size]:g}"  # y_SD
        out.append("\t".join(cells))
    exp.write_text("\n".join(out) + "\n")
    conf = d / "demo_xml.conf"
    text = conf.read_text().replace("objfunc = chi_sq", f"objfunc = {objfunc}")
    conf.write_text(text + "".join(f"{line}\n" for line in lines))
    return conf, len(text.splitlines())


def test_bootstrap_keys_fill_the_request(tmp_path):
    conf, n = _job(tmp_path, "bootstrap = 5", "bootstrap_max_obj = 40")
    problem = bngfit.load_problem(conf)
    req = problem.request
    assert req.bootstrap == 5 and req.bootstrap_max_obj == 40.0
    a, c = req.bootstrap_obj_scale
    assert a == 1.0 and len(c) == len(problem.measurements)
    # c_i = log sigma_i + log(2 pi)/2, sigma_i read from the file here
    table = np.loadtxt(conf.parent / "par1.exp")
    sig = np.concatenate([table[:, 3], table[:, 4]])  # x then y, as the columns are read
    assert sorted(np.round(c, 12)) == sorted(np.round(np.log(sig) + 0.5 * np.log(2 * np.pi),
                                                      12))
    plain = bngfit.load_problem(_job(tmp_path / "b", "bootstrap = 0")[0]).request
    assert plain.bootstrap == 0 and plain.bootstrap_max_obj is None


def test_the_scale_map_gives_pybnf_chi_sq_of_a_resample(tmp_path):
    conf, _ = _job(tmp_path, "bootstrap = 3", "bootstrap_max_obj = 40")
    problem = bngfit.load_problem(conf)
    a, c = problem.request.bootstrap_obj_scale
    rng = np.random.default_rng(0)
    w = rng.integers(0, 3, size=len(problem.measurements)).astype(float)
    x = np.array([0.6, 0.9, 3.2])
    ev = bngfit.Objective(problem, weights=w)(x, sensi=0)
    m = problem.measurements
    sigma = np.array([p[0] for p in m.noise_params])
    # PyBNF's chi_sq: sum over drawn points of (sim - data)^2 / (2 sd^2)
    pybnf = float(np.sum(w * (ev.simulation - m.value) ** 2 / (2 * sigma**2)))
    assert (ev.fval - np.asarray(c) @ w) / a == pytest.approx(pybnf, rel=1e-10)


@pytest.mark.parametrize(("line", "text"), [
    ("bootstrap = -1", "must be at least 0"),
    ("bootstrap = x", "expected an integer"),
    ("bootstrap = 2.5", "expected an integer"),
    ("bootstrap_max_obj = abc", "expected a number"),
])
def test_bad_values_are_refused_with_file_and_line(tmp_path, capsys, line, text):
    conf, n = _job(tmp_path, line)
    with pytest.raises(InputError, match=text) as err:
        bngfit.load_problem(conf)
    assert f"demo_xml.conf:{n + 1}" in str(err.value)
    assert main(["validate", str(conf)]) == 2
    out = capsys.readouterr()
    assert f"demo_xml.conf:{n + 1}" in out.out + out.err and "Traceback" not in out.err


def test_a_threshold_without_an_exact_scale_is_refused(tmp_path):
    # bngfit's laplace (b__FREE) is no objective of PyBNF's: no value to compare with
    conf, n = _job(tmp_path, "uniform_var = b__FREE 0.01 10", "bootstrap = 2",
                   "bootstrap_max_obj = 10", objfunc="laplace")
    with pytest.raises(InputError, match="bootstrap_max_obj") as err:
        bngfit.load_problem(conf)
    assert f"demo_xml.conf:{n + 3}" in str(err.value) and "--max-fval" in str(err.value)
    assert "PyBNF has no objective 'laplace'" in str(err.value)


def test_fit_of_a_job_runs_its_bootstrap(tmp_path, capsys):
    conf, _ = _job(tmp_path, "bootstrap = 3", "bootstrap_max_obj = 1e6")
    db = tmp_path / "job.db"
    rc = main(["fit", str(conf), "--starts", "1", "--race", "1", "--engine", "sequential",
               "-o", str(db), "--best", str(tmp_path / "best.tsv"), "--no-progress", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    boot = out["bootstrap"]
    assert boot["n_requested"] == boot["n_accepted"] == 3
    assert "bootstrap_max_obj 1e+06 (PyBNF's objective)" in boot["settings"]["threshold"]
    # --bootstrap 0 overrides the job's request
    db2 = tmp_path / "none.db"
    assert main(["fit", str(conf), "--starts", "1", "--race", "1", "--engine", "sequential",
                 "-o", str(db2), "--best", str(tmp_path / "b2.tsv"), "--no-progress",
                 "--bootstrap", "0", "--json"]) == 0
    assert "bootstrap" not in json.loads(capsys.readouterr().out)
