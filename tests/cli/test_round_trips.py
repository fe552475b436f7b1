"""Round trips without a line of Python: fit -> check at the best point -> show, from any folder.

The point of a check can come from a point TSV, the PEtab parameter table fit
writes (native values), or the store itself (best start or STORE:INDEX); a
store finds its problem relative to its own folder; a finished run takes more
starts; parameters that end at a bound are flagged.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bngfit.cli._main import main
from bngfit.result import load_result
from tests.helpers import EXAMPLE

FIT = ["--engine", "sequential", "--no-progress", "--race", "1"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The shipped example copied into a folder, fitted there with 3 starts."""
    root = tmp_path_factory.mktemp("fitted")
    shutil.copytree(EXAMPLE.parent, root / "prob")
    store = root / "fit.db"
    best = root / "best.tsv"
    assert main(["fit", str(root / "prob" / "problem.yaml"), "--starts", "3", "-o",
                 str(store), "--best", str(best), "--check-grad", *FIT]) == 0
    return root, store, best


def _check_json(capsys, problem, *args):
    assert main(["check-grad", str(problem), "--json", "--parameters", "k1", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_check_at_the_best_point_from_the_table_and_from_the_store(fitted, capsys):
    root, store, best = fitted
    problem = root / "prob" / "problem.yaml"
    result = load_result(store)
    x_best = dict(zip(result.x_names, result.best.x, strict=True))
    # the PEtab parameter table fit writes holds native values: back on the log10 scale
    from_table = _check_json(capsys, problem, "--point", str(best))["point"]
    assert from_table == pytest.approx(x_best, rel=1e-12, abs=1e-12)
    from_store = _check_json(capsys, problem, "--point", str(store))["point"]
    assert from_store == pytest.approx(x_best, rel=1e-13, abs=1e-15)
    # STORE:INDEX takes that start's end point
    other = next(s for s in result.starts if s.index == 2)
    indexed = _check_json(capsys, problem, "--point", f"{store}:2")["point"]
    assert indexed == pytest.approx(dict(zip(result.x_names, other.x, strict=True)),
                                    rel=1e-13, abs=1e-15)
    # evaluate takes the same sources
    assert main(["evaluate", str(problem), "--point", str(store), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["fval"] == pytest.approx(result.best_fval, rel=1e-9)
    assert evaluated["point"] == pytest.approx(x_best, rel=1e-13, abs=1e-15)


def test_point_sources_that_cannot_give_a_point_exit_2(fitted, capsys, tmp_path):
    root, store, best = fitted
    problem = root / "prob" / "problem.yaml"
    assert main(["check-grad", str(problem), "--point", f"{store}:7"]) == 2
    err = capsys.readouterr().err
    assert "no finished start 7" in err and "finished: 0, 1, 2" in err
    table = pd.read_csv(best, sep="\t")
    table.loc[table["parameterId"] == "k2", "nominalValue"] = -1.0
    table.to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    assert main(["evaluate", str(problem), "--point", str(tmp_path / "bad.tsv")]) == 2
    err = capsys.readouterr().err
    assert "bad.tsv" in err and "'k2'" in err and "-1" in err and "above 0" in err
    assert ":3" in err  # the file's line of k2 (header is line 1)


def test_show_json_carries_the_best_point_by_name_and_the_checks(fitted, capsys):
    _, store, _ = fitted
    assert main(["show", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    result = load_result(store)
    assert out["best_x_by_name"] == dict(zip(result.x_names, result.best.x, strict=True))
    assert out["best_native_by_name"] == pytest.approx(
        {n: 10.0**v for n, v in out["best_x_by_name"].items()}, rel=1e-14)
    assert set(out["gradchecks"]) == {"start", "best"}
    start = out["gradchecks"]["start"]
    assert start["verdicts"]["agrees"] == 4 and start["verdicts"]["mismatch"] == 0
    assert [r["parameterId"] for r in start["parameters"]] == result.x_names
    assert all(r["verdict"] == "agrees" and r["rel_err"] < 1e-4 for r in start["parameters"])
    assert out["at_bounds"] == {}


def test_a_store_moved_with_its_problem_still_finds_it(fitted, tmp_path, capsys):
    root, store, _ = fitted
    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved)
    # the original is gone: only the path relative to the store can find the problem
    hidden = root.parent / (root.name + "_hidden")
    root.rename(hidden)
    try:
        assert load_result(moved / "fit.db").settings["problem"] == str(
            moved / "prob" / "problem.yaml")
        assert main(["plot", str(moved / "fit.db"), "-o", str(tmp_path / "plots")]) == 0
        assert (tmp_path / "plots" / "model_fit.png").is_file()
        # a store alone, its problem elsewhere: --problem names it
        alone = tmp_path / "alone"
        alone.mkdir()
        shutil.copy(moved / "fit.db", alone / "fit.db")
        shutil.rmtree(moved / "prob")
        assert main(["plot", str(alone / "fit.db"), "-o", str(tmp_path / "p2")]) == 0
        assert not (tmp_path / "p2" / "model_fit.png").exists()
        capsys.readouterr()
        assert main(["plot", str(alone / "fit.db"), "-o", str(tmp_path / "p3"), "--problem",
                     str(hidden / "prob" / "problem.yaml")]) == 0
        assert (tmp_path / "p3" / "model_fit.png").is_file()
        # a --problem that is not the fitted one is refused, naming both parameter lists
        other = tmp_path / "other"
        shutil.copytree(hidden / "prob", other)
        params = pd.read_csv(other / "parameters.tsv", sep="\t")
        params.loc[params["parameterId"] == "k2", "estimate"] = 0
        params.to_csv(other / "parameters.tsv", sep="\t", index=False)
        capsys.readouterr()
        assert main(["show", str(alone / "fit.db"), "--problem",
                     str(other / "problem.yaml")]) == 2
        err = capsys.readouterr().err
        assert "--problem" in err and "k1, scale_B, sigma_B" in err
    finally:
        hidden.rename(root)


def test_resume_with_more_starts_keeps_the_first_ones(tmp_path, capsys):
    problem = str(EXAMPLE)
    grown, fresh = tmp_path / "grown.db", tmp_path / "fresh.db"
    assert main(["fit", problem, "--starts", "2", "-o", str(grown), *FIT]) == 0
    before = {s.index: s for s in load_result(grown).starts}
    assert main(["fit", problem, "--starts", "4", "-o", str(grown), "--resume", *FIT]) == 0
    assert main(["fit", problem, "--starts", "4", "-o", str(fresh), *FIT]) == 0
    after = {s.index: s for s in load_result(grown).starts}
    new = {s.index: s for s in load_result(fresh).starts}
    assert sorted(after) == [0, 1, 2, 3] and load_result(grown).n_starts == 4
    for i in (0, 1):  # the stored starts are untouched
        assert after[i].wall_s == before[i].wall_s and np.array_equal(after[i].x, before[i].x)
    for i in range(4):  # and the run is the one a 4-start run would have made
        assert np.array_equal(after[i].x0, new[i].x0)
        assert after[i].fval == pytest.approx(new[i].fval, rel=1e-12)
    capsys.readouterr()
    # fewer starts than stored: refused; a Latin hypercube cannot grow
    assert main(["fit", problem, "--starts", "3", "-o", str(grown), "--resume", *FIT]) == 2
    assert "n_starts: stored 4, given 3" in capsys.readouterr().err
    lhs = tmp_path / "lhs.db"
    assert main(["fit", problem, "--starts", "2", "--sampler", "lhs", "-o", str(lhs),
                 *FIT]) == 0
    capsys.readouterr()
    assert main(["fit", problem, "--starts", "3", "-o", str(lhs), "--resume", *FIT]) == 2
    assert "sampler is lhs" in capsys.readouterr().err


def test_parameters_at_a_bound_are_flagged(tmp_path, capsys):
    prob = tmp_path / "prob"
    shutil.copytree(EXAMPLE.parent, prob)
    params = pd.read_csv(prob / "parameters.tsv", sep="\t").astype({"upperBound": float})
    # the optimum has k1 ~ 0.83: an upper bound of 0.3 holds it at the bound
    params.loc[params["parameterId"] == "k1", "upperBound"] = 0.3
    params.to_csv(prob / "parameters.tsv", sep="\t", index=False)
    store = tmp_path / "fit.db"
    assert main(["fit", str(prob / "problem.yaml"), "--starts", "2", "-o", str(store),
                 *FIT]) == 0
    text = capsys.readouterr().out
    assert "at upper bound" in text and "1 parameter(s) at or within 1e-3" in text
    assert main(["show", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["at_bounds"] == {"k1": "upper"}
    assert main(["check-grad", str(prob / "problem.yaml"), "--point", str(store)]) == 0
    assert "at or near a bound" in capsys.readouterr().out
    # the same from the API, stored or in memory
    import bngfit

    assert load_result(store).at_bounds() == {"k1": "upper"}
    problem = bngfit.load_problem(prob / "problem.yaml")
    result = bngfit.fit(problem, n_starts=2, engine="sequential", race=1)
    assert result.at_bounds() == {"k1": "upper"}
    assert result.summary_dict()["at_bounds"] == {"k1": "upper"}
    # bounds given override the recorded ones: a wider box flags nothing
    assert result.at_bounds(problem.lb - 1, problem.ub + 1) == {}


def test_check_grad_residuals_from_the_command_line(capsys):
    assert main(["check-grad", str(EXAMPLE), "--residuals", "--multi-eps", "--rtol", "1e-10",
                 "--atol", "1e-12"]) == 0
    out = capsys.readouterr().out
    assert "residual Jacobian check of 4 parameters: 4 agree" in out and "entry" in out
    assert main(["check-grad", str(EXAMPLE), "--residuals", "--json", "--fd-values",
                 "plain"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["checked"] == "residuals" and out["fd_values"] == "plain"
    assert all(isinstance(r["entry"], int) for r in out["parameters"])


def test_a_store_moved_alone_finds_its_problem_where_it_was(fitted, tmp_path, capsys):
    root, store, _ = fitted
    shutil.copy(store, tmp_path / "copy.db")
    assert load_result(tmp_path / "copy.db").settings["problem"] == str(
        (root / "prob" / "problem.yaml").resolve())
    assert main(["plot", str(tmp_path / "copy.db"), "-o", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "parameters.png").is_file()


def test_check_grad_shows_progress_per_parameter_and_step_on_a_terminal(monkeypatch, capsys):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(["check-grad", str(EXAMPLE), "--parameters", "k2", "--eps", "1e-4"]) == 0
    shown = term.getvalue()
    assert "k2, step 0.0001" in shown and "2/2" in shown
    # not on a pipe or a log file, and never with --no-progress
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    assert main(["check-grad", str(EXAMPLE), "--parameters", "k2"]) == 0
    term2 = Terminal()
    monkeypatch.setattr(sys, "stderr", term2)
    assert main(["check-grad", str(EXAMPLE), "--parameters", "k2", "--no-progress"]) == 0
    assert "step" not in pipe.getvalue() and "step" not in term2.getvalue()


def test_fit_json_carries_the_checks_the_point_and_the_bound_flags(tmp_path, capsys):
    assert main(["fit", str(EXAMPLE), "--starts", "2", "-o", str(tmp_path / "r.db"),
                 "--best", str(tmp_path / "b.tsv"), "--check-grad", "--json", *FIT]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["gradchecks"]) == {"start", "best"}
    assert out["gradchecks"]["start"]["verdicts"]["mismatch"] == 0
    assert list(out["best_x_by_name"]) == ["k1", "k2", "scale_B", "sigma_B"]
    assert out["best_x_by_name"]["k1"] == out["best_x"][0]
    assert out["at_bounds"] == {} and out["best_parameters"] == str(tmp_path / "b.tsv")
    assert main(["show", str(tmp_path / "r.db"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["gradchecks"] == out["gradchecks"]
    assert shown["best_x_by_name"] == out["best_x_by_name"]


def test_a_store_point_reaches_a_problem_that_rescaled_a_parameter(fitted, tmp_path, capsys):
    root, store, _ = fitted
    prob = tmp_path / "lin"
    shutil.copytree(root / "prob", prob)
    params = pd.read_csv(prob / "parameters.tsv", sep="\t")
    params.loc[params["parameterId"] == "k1", "parameterScale"] = "lin"
    params.to_csv(prob / "parameters.tsv", sep="\t", index=False)
    native = load_result(store).best_parameters()
    point = _check_json(capsys, prob / "problem.yaml", "--point", str(store))["point_native"]
    assert point == pytest.approx(native.to_dict(), rel=1e-12)


def test_more_starts_with_another_sampler_names_the_sampler(tmp_path, capsys):
    store = tmp_path / "u.db"
    assert main(["fit", str(EXAMPLE), "--starts", "2", "-o", str(store), *FIT]) == 0
    capsys.readouterr()
    assert main(["fit", str(EXAMPLE), "--starts", "3", "--sampler", "lhs", "-o", str(store),
                 "--resume", *FIT]) == 2
    assert "sampler: stored 'uniform', given 'lhs'" in capsys.readouterr().err
