"""Reading PyBNF .exp data tables: the shared examples, and one test per bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bngfit.errors import InputError
from bngfit.pybnf._exp import read_exp
from tests.helpers import shared_path


def test_receptor_exp_values():
    t = read_exp(shared_path("benchmarks", "pybnf", "receptor", "receptor.exp"))
    assert t.columns == ("RLbonds", "pR")
    assert t.header == ("time", "RLbonds", "pR")
    assert t.sd == {}
    assert t.n_rows == 13
    np.testing.assert_array_equal(t.time, np.arange(0, 61, 5))
    # row 3 of the file's data: " 10 9580 4390" on line 4
    assert (t.time[2], t.values["RLbonds"][2], t.values["pR"][2]) == (10, 9580, 4390)
    assert t.lines[2] == 4
    assert (t.time[-1], t.values["RLbonds"][-1], t.values["pR"][-1]) == (60, 10100, 4820)
    np.testing.assert_array_equal(t.lines, np.arange(2, 15))
    assert t.warnings == ()


def test_par1_exp_has_sd_columns():
    t = read_exp(shared_path("benchmarks", "pybnf", "demo", "par1.exp"))
    assert t.columns == ("x", "y")
    assert t.header == ("time", "x", "y", "x_SD", "y_SD")
    assert set(t.sd) == {"x", "y"}
    assert t.n_rows == 21
    np.testing.assert_array_equal(t.time, np.arange(21))
    np.testing.assert_array_equal(t.values["x"], np.arange(-10, 11))
    assert t.values["y"][0] == 43 and t.values["y"][1] == 34.5 and t.values["y"][-1] == 63
    np.testing.assert_array_equal(t.sd["x"], np.ones(21))
    np.testing.assert_array_equal(t.sd["y"], np.ones(21))


def test_constraint_demo_exp_has_missing_values():
    t = read_exp(shared_path("benchmarks", "pybnf", "constraint_demo", "par.exp"))
    assert t.columns == ("par", "line")
    np.testing.assert_array_equal(t.time, [2, 3.5, 8])
    np.testing.assert_array_equal(t.values["par"], [1, np.nan, 13])
    np.testing.assert_array_equal(t.values["line"], [np.nan, 5, np.nan])
    assert t.warnings == ()


def test_arrays_are_read_only():
    t = read_exp(shared_path("benchmarks", "pybnf", "receptor", "receptor.exp"))
    with pytest.raises(ValueError):
        t.time[0] = 1.0
    with pytest.raises(ValueError):
        t.values["pR"][0] = 1.0


def test_layout_variants(tmp_path):
    p = tmp_path / "v.exp"
    p.write_text("\n# Time  a()  b  a_SD\n\n0 1 NaN 0.5\n# a comment\n1\t2\tnan\t0.5\n"
                 "1 3 4 0.5\n")
    t = read_exp(p)
    assert t.header_line == 2
    assert t.columns == ("a", "b")
    np.testing.assert_array_equal(t.lines, [4, 6, 7])
    np.testing.assert_array_equal(t.time, [0, 1, 1])  # repeated times are allowed
    np.testing.assert_array_equal(t.values["a"], [1, 2, 3])
    np.testing.assert_array_equal(t.values["b"], [np.nan, np.nan, 4])
    np.testing.assert_array_equal(t.sd["a"], [0.5, 0.5, 0.5])
    assert t.warnings == ()


def test_header_without_hash(tmp_path):
    p = tmp_path / "h.exp"
    p.write_text("time x\n0 1\n")
    assert read_exp(p).columns == ("x",)


def test_all_nan_column_warns(tmp_path):
    p = tmp_path / "w.exp"
    p.write_text("# time x y\n0 1 nan\n1 2 nan\n")
    t = read_exp(p)
    assert len(t.warnings) == 1
    w = t.warnings[0]
    assert w.severity == "warning" and w.id == "y" and w.row == 1 and "w.exp" in w.file


def test_sd_may_be_missing_where_value_is_missing(tmp_path):
    p = tmp_path / "s.exp"
    p.write_text("# time x x_SD\n0 nan nan\n1 2 0.1\n")
    t = read_exp(p)
    assert np.isnan(t.sd["x"][0]) and t.sd["x"][1] == 0.1


BAD = [
    ("no_header", "0 1 2\n1 2 3\n", 1, "no header"),
    ("empty", "\n\n", None, "empty"),
    ("scan_nan", "# L0 x\n1 1\nnan 2\n", 3, "missing"),
    ("scan_sd", "# L0 x L0_SD\n1 1 1\n", 1, "'L0_SD'"),
    ("dup", "# time x x\n0 1 2\n", 1, "'x'"),
    ("sd_alone", "# time x y_SD\n0 1 2\n", 1, "'y_SD'"),
    ("time_sd", "# time x time_SD\n0 1 2\n", 1, "'time_SD'"),
    ("cells", "# time x y\n0 1 2\n1 2\n", 3, "'1 2'"),
    ("text", "# time x\n0 1\n1 abc\n", 3, "'abc'"),
    ("inf", "# time x\n0 inf\n", 2, "'inf'"),
    ("nan_time", "# time x\n0 1\nnan 2\n", 3, "id 'time'"),
    ("neg_time", "# time x\n-1 1\n", 2, "'-1'"),
    ("unsorted", "# time x\n0 1\n5 1\n3 1\n", 4, "sorted"),
    ("sd_zero", "# time x x_SD\n0 1 1\n1 1 0\n", 3, "'x_SD'"),
    ("sd_negative", "# time x x_SD\n0 1 -2\n", 2, "'-2'"),
    ("sd_nan", "# time x x_SD\n0 1 nan\n", 2, "missing"),
    ("no_rows", "# time x\n", 1, "no data rows"),
]


@pytest.mark.parametrize(("name", "text", "line", "part"), BAD, ids=[b[0] for b in BAD])
def test_bad_tables(tmp_path, name, text, line, part):
    p = tmp_path / f"{name}.exp"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        read_exp(p)
    msg = str(err.value)
    assert f"{name}.exp" in msg
    if line is not None:
        assert re.search(rf"{name}\.exp:{line}[,:]", msg)
    assert part in msg


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as err:
        read_exp(tmp_path / "gone.exp")
    assert "gone.exp" in str(err.value)


def test_not_utf8(tmp_path):
    p = tmp_path / "bin.exp"
    p.write_bytes(b"# time x\n0 \xff\n")
    with pytest.raises(InputError, match="UTF-8") as err:
        read_exp(p)
    assert "bin.exp:2" in str(err.value)
