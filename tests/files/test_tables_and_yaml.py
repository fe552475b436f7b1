"""Tables, YAML files and numbers are read as written or refused.

Quotes in table cells, NUL bytes, duplicate YAML keys, and numbers Python's
float() would stretch: no silent wrong answer from the file readers
(``bngfit.files``), whichever format's files they read.
"""

from __future__ import annotations

import shutil

import pytest

from bngfit.cli._main import main
from bngfit.errors import InputError
from bngfit.files._tables import parse_float, read_tsv
from bngfit.files._yaml import load_yaml
from bngfit.problem._load import check_problem
from tests.helpers import EXAMPLE, copy_into

CONVERSION = EXAMPLE.parent  # the example folder, copied and changed by the tests


# ------------------------------------------------------------------ TSV quotes
def test_stray_quote_in_measurements_is_refused_with_its_line(tmp_path, capsys):
    """The probe's case: a '"' swallowed the rows up to the next quote, validate said ok."""
    d = copy_into(CONVERSION, tmp_path)
    lines = (d / "measurements.tsv").read_text().splitlines()
    lines[3] = lines[3].replace("\tlow\t", '\t"low\t')  # line 4
    lines[9] = lines[9].replace("\tlow\t", '\tlow"\t')  # line 10: closes the "quote"
    (d / "measurements.tsv").write_text("\n".join(lines) + "\n")
    assert main(["validate", str(d / "problem.yaml")]) == 2
    out, err = capsys.readouterr()
    assert "no errors" not in out
    assert "measurements.tsv:4" in out + err and "double quote" in out + err
    assert main(["evaluate", str(d / "problem.yaml")]) == 2
    err = capsys.readouterr().err
    assert "measurements.tsv:4" in err and "simulationConditionId" in err and '"low' in err


@pytest.mark.parametrize("cell", ['"obs_A"', 'a"b', '"'])
def test_any_quote_in_a_cell_is_refused(tmp_path, cell):
    p = tmp_path / "t.tsv"
    p.write_text(f"id\tname\nx\t{cell}\ny\tz\n")
    with pytest.raises(InputError) as exc:
        read_tsv(p)
    assert "t.tsv:2" in str(exc.value) and "column 'name'" in str(exc.value)
    assert cell in str(exc.value)


def test_quote_in_header_is_refused(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text('"id"\tname\nx\ty\n')
    with pytest.raises(InputError, match="t.tsv:1"):
        read_tsv(p)


def test_cells_are_split_at_every_tab_only(tmp_path):
    """No quoting, no escapes: a row keeps its cells and its own line number."""
    p = tmp_path / "t.tsv"
    p.write_bytes(b"a\tb\r\n1\t x y \r\n\n'2'\t\\t\n3\t\x0c4\n")
    df = read_tsv(p)
    assert list(df.index) == [2, 4, 5]
    assert df["a"].tolist() == ["1", "'2'", "3"]
    assert df["b"].tolist() == ["x y", "\\t", "4"]  # \x0c is whitespace: stripped


def test_nul_byte_in_a_table_is_refused(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_bytes(b"a\tb\n1\t2\x00\n")
    with pytest.raises(InputError, match="t.tsv:2.*NUL"):
        read_tsv(p)


# ------------------------------------------------------------------- YAML keys
def test_duplicate_top_level_yaml_key_is_refused(tmp_path, capsys):
    d = copy_into(CONVERSION, tmp_path)
    text = (d / "problem.yaml").read_text()
    (d / "problem.yaml").write_text(text.replace(
        "parameter_file: parameters.tsv\n",
        "parameter_file: parameters.tsv\nparameter_file: other.tsv\n"))
    assert main(["evaluate", str(d / "problem.yaml")]) == 2
    err = capsys.readouterr().err
    assert "problem.yaml:3" in err and "'parameter_file'" in err and "line 2" in err


def test_duplicate_nested_yaml_key_is_refused(tmp_path):
    """Two measurement_files lists: PyYAML would keep only the second, silently."""
    d = copy_into(CONVERSION, tmp_path)
    shutil.copy(d / "measurements.tsv", d / "more.tsv")
    with open(d / "problem.yaml", "a") as fh:
        fh.write("  measurement_files:\n  - more.tsv\n")
    problem, items = check_problem(d / "problem.yaml")
    assert problem is None
    [issue] = items
    assert issue.row == 12 and "'measurement_files'" in issue.message
    assert "line 10" in issue.message


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    assert load_yaml("a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\n") == {"a": {"k": 1}, "b": {"k": 2}}


# ---------------------------------------------------------- numbers as written
@pytest.mark.parametrize("text", ["1_0", "0x10", "\u0661", "1e", "1.2.3", "--1"])
def test_numbers_python_would_stretch_are_refused(text):
    """Python's float() reads '1_0' as 10 and an Arabic-Indic one as 1; other tools do not."""
    with pytest.raises(ValueError):
        parse_float(text)


@pytest.mark.parametrize("text,value", [("1", 1.0), ("-1.5", -1.5), (".5", 0.5), ("5.", 5.0),
                                        ("1E-3", 1e-3), ("+inf", float("inf")), (" 2 ", 2.0)])
def test_plain_numbers_are_read(text, value):
    assert parse_float(text) == value
