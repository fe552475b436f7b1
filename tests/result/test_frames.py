"""FitResult as tables: starts DataFrame, native best parameters, PEtab parameter table,
and the short reprs and HTML of fit results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bngfit
from bngfit.result._frames import parameter_table
from bngfit.result._store import Store, load_result
from bngfit.result._types import FitResult, StartResult, StartStatus
from tests.helpers import EXAMPLE


def _start(index, x, fval, status=StartStatus.CONVERGED, message="ok"):
    return StartResult(index, np.zeros(len(x)), np.array(x, float), fval, 0.5, 7, 1.25,
                       status, message, np.array([fval]))


def _result(scales=("log10", "log", "lin"), **settings):
    starts = (_start(2, [1.0, 0.0, -3.0], 1.5),
              _start(0, [2.0, 1.0, 4.0], 2.5, StartStatus.STALLED, "no step <b>"))
    return FitResult(["k1", "k2", "c"], starts, "least_squares", 3, 4, 9.0,
                     {"x_scales": list(scales) if scales else None, **settings})


def test_to_dataframe_has_one_row_per_start_with_x_by_name():
    df = _result().to_dataframe()
    assert list(df.columns) == ["index", "fval", "status", "n_fval", "wall_s", "grad_norm",
                                "message", "k1", "k2", "c"]
    assert df["index"].tolist() == [2, 0]
    assert df["status"].tolist() == ["converged", "stalled"]
    assert df["fval"].tolist() == [1.5, 2.5]
    assert df.loc[1, "k2"] == 1.0 and df.loc[0, "c"] == -3.0
    assert df["n_fval"].tolist() == [7, 7] and df["wall_s"].tolist() == [1.25, 1.25]


def test_to_dataframe_of_no_start_has_the_columns():
    r = FitResult(["a"], (), "fides", 0, 2, 0.0, {})
    df = r.to_dataframe()
    assert len(df) == 0 and list(df.columns)[-1] == "a"


def test_best_parameters_are_native_by_scale():
    best = _result().best_parameters()
    assert isinstance(best, pd.Series)
    assert list(best.index) == ["k1", "k2", "c"]
    assert best["k1"] == pytest.approx(10.0)  # log10 at x = 1
    assert best["k2"] == pytest.approx(1.0)  # log at x = 0
    assert best["c"] == -3.0  # lin


def test_best_parameters_need_scales_and_a_finite_best():
    with pytest.raises(ValueError, match="scales"):
        _result(scales=None).best_parameters()
    failed = FitResult(["a"], (_start(0, [0.0], float("inf"), StartStatus.ERROR),),
                       "fides", 0, 1, 0.0, {"x_scales": ["lin"]})
    with pytest.raises(ValueError, match="no start finished with a finite fval"):
        failed.best_parameters()


def test_parameter_table_has_petab_columns_native_values_and_fixed_rows():
    problem = bngfit.load_problem(EXAMPLE)  # k1 k2 scale_B sigma_B log10, sigma_A fixed lin
    x = np.array([1.0, -1.0, 0.0, -2.0])
    table = parameter_table(problem, x)
    assert list(table.columns) == ["parameterId", "parameterScale", "lowerBound",
                                   "upperBound", "nominalValue", "estimate"]
    by = table.set_index("parameterId")
    assert by.loc["k1", "nominalValue"] == pytest.approx(10.0)
    assert by.loc["k2", "nominalValue"] == pytest.approx(0.1)
    assert by.loc["sigma_B", "nominalValue"] == pytest.approx(0.01)
    assert by.loc["sigma_A", "nominalValue"] == 0.1 and by.loc["sigma_A", "estimate"] == 0
    assert by.loc["k1", "lowerBound"] == 0.001 and by.loc["k1", "parameterScale"] == "log10"


def test_best_parameter_table_from_a_stored_fit_and_a_fixed_problem(tmp_path):
    problem = bngfit.load_problem(EXAMPLE)
    db = tmp_path / "run.db"
    r = bngfit.fit(problem, n_starts=2, engine="sequential", race=1, store=db)
    stored = load_result(db)
    assert stored.x_scales == ["log10"] * 4 == r.x_scales
    table = stored.best_parameter_table()  # the problem read again from its file
    native = stored.best_parameters()
    got = table.set_index("parameterId")["nominalValue"]
    for pid in problem.x_names:
        assert got[pid] == pytest.approx(native[pid], rel=1e-15)
        assert native[pid] == pytest.approx(10 ** r.best.x[problem.x_names.index(pid)])
    fixed = problem.fix({"k2": 0.6})
    rf = bngfit.fit(fixed, n_starts=1, engine="sequential", race=1)
    with pytest.raises(bngfit.InputError, match="not the fit's"):
        rf.best_parameter_table(problem)
    tf = rf.best_parameter_table(fixed).set_index("parameterId")
    assert tf.loc["k2", "nominalValue"] == 0.6 and tf.loc["k2", "estimate"] == 0


def test_a_store_without_scales_still_loads(tmp_path):
    db = tmp_path / "old.db"
    with Store(db) as st:
        st.init_run(fp="f" * 64, problem_path=str(EXAMPLE), x_names=["a"], x_scales=[],
                    optimizer="fides", seed=0, n_starts=1, settings={})
        st.conn.execute("DELETE FROM meta WHERE key = 'x_scales'")
        st.conn.commit()
        st.add_start(_start(0, [1.0], 3.0))
    r = load_result(db)
    assert r.x_scales is None
    assert r.to_dataframe()["a"].tolist() == [1.0]
    with pytest.raises(ValueError, match="scales"):
        r.best_parameters()


def test_fit_result_repr_is_one_short_line():
    text = repr(_result())
    assert "\n" not in text and len(text) < 250
    assert text.startswith("FitResult(best fval 1.5, 2 of 4 starts (converged 1, stalled 1)")
    assert "optimizer least_squares, seed 3, 14 evaluations" in text


def test_fit_result_html_lists_best_starts_escaped():
    page = _result()._repr_html_()
    assert page.count("<table") == 2
    assert "best 2 of 2 starts" in page
    assert "converged 1, stalled 1" in page
    assert "<b>" not in page  # a start's message is never markup
    start_page = _result().starts[1]._repr_html_()
    assert "no step &lt;b&gt;" in start_page


def test_start_result_repr_is_short():
    assert repr(_start(4, [0.0] * 50, 1.25)) == (
        "StartResult(index=4, fval=1.25, status=converged, n_fval=7, wall_s=1.25, "
        "grad_norm=0.5)")


def test_parameter_table_is_the_table_the_cli_writes():
    from bngfit.cli._fit import best_parameter_table as cli_table

    problem = bngfit.load_problem(EXAMPLE)
    x = np.array([0.3, -1.2, 0.5, -2.0])
    ours = parameter_table(problem, x).to_csv(sep="\t", index=False, float_format="%.17g")
    assert ours == cli_table(problem, x).to_csv(sep="\t", index=False, float_format="%.17g")
