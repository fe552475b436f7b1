"""PyBNF .prop constraints: parsing, penalties against PyBNF's formulas, gradients.

Expected values are computed here from the formulas of PyBNF's docs/config.rst
("Property (BPSL) files"), on small hand-made arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from bngfit.errors import InputError
from bngfit.likelihood._penalties import penalty
from bngfit.pybnf.bpsl._prop import (
    Condition,
    Enforcement,
    Inequality,
    PenaltyModel,
    parse_constraint,
    read_prop,
)
from tests.helpers import shared_path


def pen(text, t, interpolate=False, **series):
    value, _ = penalty(parse_constraint(text), np.asarray(t, float),
                       {k: np.asarray(v, float) for k, v in series.items()},
                       interpolate=interpolate)
    return value


def cdf(mu, sigma):
    """PyBNF's cdf(mu, sigma, 0): a Gaussian of mean mu, sd sigma, at 0."""
    return norm.cdf(0.0, loc=mu, scale=sigma)


# -- parsing ------------------------------------------------------------------------------------
def test_shared_par_prop():
    path = shared_path("benchmarks", "pybnf", "constraint_demo", "par.prop")
    cs = read_prop(path)
    assert len(cs) == 129
    first, last = cs[0], cs[-1]
    assert first.ineq == Inequality("par", ">", "line")
    assert first.enforcement is Enforcement.AT
    assert first.at == Condition(0.0, "x")
    assert (first.line, first.text, first.file) == (1, "par>line at x=0.0", str(path))
    assert last.ineq.op == ">" and last.at.value == 10.0 and last.line == 129
    assert cs[13].ineq.op == "<" and cs[13].at.value == 1.015625
    assert first.names == ("par", "line", "x")
    assert all(c.model is PenaltyModel.STATIC and c.weight == 1.0 for c in cs)


def test_shared_demo_penalty_zero_at_truth():
    """The demo's true parabola and line satisfy every constraint; others do not."""
    cs = read_prop(shared_path("benchmarks", "pybnf", "constraint_demo", "par.prop"))
    t = np.linspace(0.0, 10.0, 1001)  # the model's t_end 10, n_steps 1000; x = t
    for interpolate in (False, True):
        truth = {"x": t, "par": 0.5 * t**2 - 3 * t + 5, "line": t + 1.5}
        assert sum(penalty(c, t, truth, interpolate=interpolate)[0] for c in cs) == 0.0
        off = {"x": t, "par": 0.5 * t**2 - 3 * t + 5, "line": t + 3.0}
        assert sum(penalty(c, t, off, interpolate=interpolate)[0] for c in cs) > 0.0


ALL_FORMS = """\
# every form PyBNF documents
A < 5 always
A >= B once

A < 5 at 6 weight 2
A < 5 at time=6 weight 2 min 4
A < 5 at B=6 everytime
A<5 at B=6 first before
A < 5 between 7, B=6
A < 5 once between 7, B=6
A at 5 < B at C=6
A < 5 at B=3 weight 10 altpenalty A2<4 min 1
A < 5 at time = 4 confidence 0.98 tolerance 1
A > 5 always confidence 0.98
A < 5 at 4 pmin 0.01 pmax 0.98 tolerance 1   # trailing comment
6 > wt.A ONCE Weight 1.5e-1
"""


def test_every_form(tmp_path):
    path = tmp_path / "forms.prop"
    path.write_text(ALL_FORMS)
    c = read_prop(path)
    assert [x.line for x in c] == [2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    assert c[0].enforcement is Enforcement.ALWAYS and c[0].ineq == Inequality("A", "<", 5.0)
    assert c[1].enforcement is Enforcement.ONCE and c[1].ineq.or_equal
    assert c[1].ineq.lesser == "B" and c[1].ineq.greater == "A"
    assert c[2].at == Condition(6.0) and c[2].weight == 2.0 and c[2].min_penalty == 0.0
    assert c[3].at == Condition(6.0, "time") and c[3].min_penalty == 4.0
    assert c[4].at == Condition(6.0, "B", everytime=True)
    assert c[5].at == Condition(6.0, "B", everytime=False, before=True)
    assert c[6].enforcement is Enforcement.BETWEEN
    assert (c[6].start, c[6].end) == (Condition(7.0), Condition(6.0, "B"))
    assert c[7].enforcement is Enforcement.ONCE_BETWEEN
    assert c[8].at == Condition(5.0) and c[8].rhs_at == Condition(6.0, "C")
    assert c[8].names == ("A", "B", "C")
    assert c[9].alt == Inequality("A2", "<", 4.0) and c[9].weight == 10.0
    assert c[9].min_penalty == 1.0 and c[9].names == ("A", "A2", "B")
    assert c[10].model is PenaltyModel.LIKELIHOOD and c[10].confidence == 0.98
    assert c[10].pmin == pytest.approx(0.01) and c[10].pmax == pytest.approx(0.99)
    assert c[10].tolerance == 1.0 and c[10].at == Condition(4.0, "time")
    assert c[11].tolerance == 0.0
    assert (c[12].pmin, c[12].pmax, c[12].confidence) == (0.01, 0.98, None)
    assert c[12].text.endswith("# trailing comment")
    assert c[13].ineq == Inequality(6.0, ">", "wt.A") and c[13].weight == 0.15
    assert c[13].enforcement is Enforcement.ONCE


def test_empty_file(tmp_path):
    path = tmp_path / "e.prop"
    path.write_text("# nothing\n\n   \n")
    assert read_prop(path) == ()


BAD_LINES = [
    ("A < 5 always $", "unexpected character '$'"),
    ("A < 5", "expected 'always', 'once', 'at' or 'between'"),
    ("A < 5 sometimes", "found 'sometimes'"),
    ("3 < 5 always", "compares two numbers"),
    ("A 5 always", "expected one of < <= > >="),
    ("A = 5 always", "expected one of < <= > >="),
    ("A < always", "expected 'always', 'once', 'at' or 'between' after 'A<always'"),
    ("A <", "expected a name or a number after '<'"),
    ("A < 5 at B", "expected a number or NAME=number after 'at'"),
    ("A < 5 at B=C", "expected a number after 'B='"),
    ("A < 5 between 1 2", "expected ','"),
    ("A < 5 between 1,", "after ','"),
    ("A < 5 always weight x", "expected a number after 'weight'"),
    ("A < 5 always weight -1", "weight -1 is negative"),
    ("A < 5 always weight 1 min -2", "min -2 is negative"),
    ("A < 5 always weight 1 altpenalty A2", "expected one of < <= > >= after 'A2'"),
    ("A < 5 always weight 1 min 1 altpenalty B<2", "unexpected 'altpenalty'"),
    ("A < 5 always weight 1 confidence 0.9", "unexpected 'confidence'"),
    ("A < 5 always weight 2 extra", "unexpected 'extra'"),
    ("A < 5 always tolerance 1", "expected 'weight', 'confidence', 'pmin'"),
    ("A < 5 always confidence 1.5", "confidence 1.5 is not between 0 and 1"),
    ("A < 5 always confidence 0.9 tolerance -1", "tolerance -1 is negative"),
    ("A < 5 always pmin 0.1", "expected 'pmax'"),
    ("A < 5 always pmin 0.5 pmax 0.2", "pmin 0.5 is larger than pmax 0.2"),
    ("A < 5 always pmin 0 pmax 1.2", "must be between 0 and 1"),
    ("A < 5 always pmin 0 pmax 0", "pmax 0"),
    ("A < 5 always weight 1e999", "not finite"),
    ("A at 5 everytime < B at 6", "'everytime' is not supported"),
    ("A at 5 < B always", "expected 'at' after 'B'"),
    ("A at 5 < 3 at 6", "both sides"),
    ("5 at 3 < B at 6", "a number cannot carry an 'at' clause"),
]


@pytest.mark.parametrize("line, message", BAD_LINES)
def test_malformed_line(tmp_path, line, message):
    path = tmp_path / "bad.prop"
    path.write_text(f"# header\nA < 5 always\n{line}\n")
    with pytest.raises(InputError) as err:
        read_prop(path)
    text = str(err.value)
    assert f"{path}:3" in text
    assert message in text
    assert line in text


def test_every_bad_line_reported(tmp_path):
    path = tmp_path / "bad.prop"
    path.write_text("A < 5\nA < 5 always\nB > 2 at\n")
    with pytest.raises(InputError) as err:
        read_prop(path)
    assert f"{path}:1" in str(err.value) and f"{path}:3" in str(err.value)
    assert len(err.value.issues) == 2


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="property file not found"):
        read_prop(tmp_path / "nope.prop")


def test_missing_series_named():
    c = parse_constraint("A < B always", file="f.prop", line=4)
    with pytest.raises(InputError) as err:
        penalty(c, np.arange(3.0), {"A": np.zeros(3)})
    assert "f.prop:4" in str(err.value) and "id 'B'" in str(err.value)
    with pytest.raises(InputError, match="shape"):
        penalty(c, np.arange(3.0), {"A": np.zeros(3), "B": np.zeros(4)})


# -- values against the docs' formulas ------------------------------------------------------------
T5 = [0.0, 2.5, 5.0, 7.5, 10.0]


def test_always_and_once():
    a = [1.0, 6.0, 3.0, 7.0, 2.0]
    assert pen("A < 5 always", T5, A=a) == 2.0          # worst miss: max(A - 5)
    assert pen("A < 8 always", T5, A=a) == 0.0
    assert pen("A < 5 once", T5, A=a) == 0.0            # A < 5 somewhere
    assert pen("A > 9 once weight 3", T5, A=a) == 3 * 2.0   # 3 * min(9 - A)
    assert pen("A >= B always", T5, A=a, B=[0, 6, 4, 5, 2]) == 1.0
    assert pen("A > B always", T5, A=a, B=[0, 6, 3, 5, 2]) == 0.0   # equality, no min
    assert pen("A > B always weight 2 min 0.5", T5, A=a, B=[0, 6, 3, 5, 2]) == 1.0
    assert pen("A >= B always weight 2 min 0.5", T5, A=a, B=[0, 6, 3, 5, 2]) == 0.0


def test_at_weight_min():
    # "A < 5 at 6 weight 2 min 4": penalty 2*max(A-5, 4) when violated.
    t = [0.0, 3.0, 6.0, 9.0]
    line = "A < 5 at 6 weight 2 min 4"
    assert pen(line, t, A=[0, 0, 4.9, 9]) == 0.0
    assert pen(line, t, A=[0, 0, 5.0, 9]) == 8.0          # strict <: min applies at A=5
    assert pen(line, t, A=[0, 0, 5.5, 9]) == 8.0
    assert pen(line, t, A=[0, 0, 10.0, 9]) == 10.0
    assert pen("A <= 5 at 6 weight 2 min 4", t, A=[0, 0, 5.0, 9]) == 0.0
    assert pen("A < 5 at time=6 weight 2", t, A=[0, 0, 7.0, 9]) == 4.0


def test_altpenalty():
    # "A < 5 at B=3 weight 10 altpenalty A2<4 min 1": 10*max(1, A2-4) if A >= 5.
    t = [0.0, 1.0, 2.0, 3.0]
    b = [0.0, 2.0, 3.0, 5.0]      # B reaches 3 at sample 2
    line = "A < 5 at B=3 weight 10 altpenalty A2<4 min 1"
    assert pen(line, t, A=[9, 9, 4, 9], A2=[0, 0, 9, 0], B=b) == 0.0
    assert pen(line, t, A=[0, 0, 6, 0], A2=[0, 0, 4.5, 0], B=b) == 10.0
    assert pen(line, t, A=[0, 0, 6, 0], A2=[0, 0, 7.0, 0], B=b) == 30.0
    assert pen(line, t, A=[0, 0, 6, 0], A2=[0, 0, 3.0, 0], B=b) == 10.0
    no_min = "A < 5 at B=3 weight 10 altpenalty 4>A2"
    assert pen(no_min, t, A=[0, 0, 6, 0], A2=[0, 0, 3.0, 0], B=b) == 0.0
    assert pen(no_min, t, A=[0, 0, 6, 0], A2=[0, 0, 4.25, 0], B=b) == 2.5


def test_at_point_choice_pybnf():
    a = [10.0, 20.0, 30.0, 40.0, 50.0]
    # No sample at 6: PyBNF reads the last sample before the crossing (t=5).
    assert pen("A < 0 at 6", T5, A=a) == 30.0
    # A sample at exactly 5 (within 1e-5 relative) is read itself.
    assert pen("A < 0 at 5", T5, A=a) == 30.0
    assert pen("A < 0 at 5.00001", T5, A=a) == 30.0
    assert pen("A < 0 at 7.4", T5, A=a) == 30.0
    assert pen("A < 0 at 7.5 before", T5, A=a) == 30.0
    assert pen("A < 0 at 6 before", T5, A=a) == 20.0
    # Never crossed (starts exactly at the value, or never reaches it): not enforced.
    assert pen("A < 0 at 0", T5, A=a) == 0.0
    assert pen("A < 0 at 11", T5, A=a) == 0.0
    # A falling quantity crosses too.
    assert pen("A < 0 at B=1.5", T5, A=a, B=[4, 3, 2, 1, 0]) == 30.0


def test_at_everytime():
    b = [0.0, 2.0, 0.0, 2.0, 0.0]       # crosses 1 on segments 0, 1, 2, 3
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert pen("A < 0 at B=1", T5, A=a, B=b) == 1.0
    assert pen("A < 0 at B=1 everytime", T5, A=a, B=b) == 1 + 2 + 3 + 4
    assert pen("A < 0 at B=1 everytime before", T5, A=a, B=b) == 1 + 1 + 2 + 3


def test_at_interpolated():
    a = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert pen("A < 0 at 6", T5, True, A=a) == pytest.approx(30 + 0.4 * 10)
    assert pen("A < 0 at 6 before", T5, True, A=a) == 20.0
    # At x=V with x a series: x reaches 1.5 a quarter into segment 1.
    x = [0.0, 1.0, 3.0, 4.0, 5.0]
    assert pen("A < 0 at x=1.5", T5, True, A=a, x=x) == pytest.approx(20 + 0.25 * 10)


def test_between():
    t = np.arange(10.0)
    a = np.array([9, 9, 1, 2, 3, 4, 8, 9, 9, 9.0])
    b = np.array([0, 0, 0, 0, 0, 5, 7, 7, 7, 7.0])   # B crosses 6 on segment 5
    # Window: from sample 2 (t=2 exactly) to sample 5 (last before B reaches 6).
    assert pen("A < 0 between 2, B=6", t, A=a, B=b) == 4.0
    assert pen("A > 0 once between 2, B=6", t, A=a, B=b) == 0.0
    assert pen("A > 5 once between 2, B=6 weight 2", t, A=a, B=b) == 2 * (5 - 4)
    # End never met: enforced to the end of the run.
    assert pen("A < 0 between 2, B=60", t, A=a, B=b) == 9.0
    # Start never met: never enforced.
    assert pen("A < 0 between 20, B=6", t, A=a, B=b) == 0.0
    # Interpolated: ends at t=2 (a sample) and at B=6 on segment 5 (fraction 0.5).
    assert pen("A < 0 between 2, B=6", t, True, A=a, B=b) == pytest.approx(4 + 0.5 * 4)
    # once: 7 - A over A(1.5) = 5, samples 2..5, A(end) = 6 -> smallest miss 1, at the end.
    assert pen("A > 7 once between 1.5, B=6", t, True, A=a, B=b) == pytest.approx(1.0)
    # PyBNF's window starts at sample 1 (t=1, the last before 1.5), where A = 9 > 7.
    assert pen("A > 7 once between 1.5, B=6", t, A=a, B=b) == 0.0
    assert pen("A > 10 once between 1.5, B=6", t, A=a, B=b) == 1.0


def test_split_at():
    t = [0.0, 1.0, 2.0, 3.0]
    a = [1.0, 5.0, 2.0, 0.0]
    b = [0.0, 3.0, 4.0, 6.0]
    c = [0.0, 1.0, 2.0, 3.0]
    # A(t=1) = 5 against B where C first reaches 2 (sample 2) = 4.
    assert pen("A at 1 < B at C=2", t, A=a, B=b, C=c) == 1.0
    assert pen("B at C=2 > A at 1 weight 3", t, A=a, B=b, C=c) == 3.0
    assert pen("A at 1 > B at C=2", t, A=a, B=b, C=c) == 0.0
    assert pen("A at 1 < B at C=20", t, A=a, B=b, C=c) == 0.0
    assert pen("A at 1 < B at C=1.5", t, True, A=a, B=b, C=c) == pytest.approx(5 - 3.5)


def test_likelihood_matches_docs():
    t = [0.0, 4.0, 8.0]
    for a4 in (3.0, 5.0, 6.5):
        a = [0.0, a4, 0.0]
        # "A < 5 at time = 4 confidence 0.98 tolerance 1"
        got = pen("A < 5 at time = 4 confidence 0.98 tolerance 1", t, A=a)
        assert got == pytest.approx(-math.log(0.01 + 0.98 * cdf(a4 - 5, 1)), rel=1e-12)
        # "A < 5 at time = 4 pmin 0.01 pmax 0.98" (with a tolerance of 2)
        got = pen("A < 5 at time = 4 pmin 0.01 pmax 0.98 tolerance 2", t, A=a)
        assert got == pytest.approx(-math.log(0.01 + 0.97 * cdf(a4 - 5, 2)), rel=1e-12)
    # "A > 5 always confidence 0.98": -log(0.99) if min(A) > 5, else -log(0.01).
    assert pen("A > 5 always confidence 0.98", t, A=[6, 7, 8]) == pytest.approx(-math.log(0.99))
    assert pen("A > 5 always confidence 0.98", t, A=[6, 5, 8]) == pytest.approx(-math.log(0.01))
    assert pen("A >= 5 always confidence 0.98", t, A=[6, 5, 8]) == pytest.approx(-math.log(0.99))
    assert pen("A > 5 always confidence 1", t, A=[6, 4, 8]) == math.inf
    # Far in the tail the value stays finite and accurate (log_ndtr).
    far = pen("A < 5 at 4 pmin 0 pmax 1 tolerance 1", t, A=[0, 45.0, 0])
    assert far == pytest.approx(-norm.logcdf(-40.0), rel=1e-10)
    # Never-met points contribute nothing, as in PyBNF.
    assert pen("A < 5 at 40 confidence 0.9 tolerance 1", t, A=[0, 9, 0]) == 0.0


# -- gradients against central differences ---------------------------------------------------------
def smooth(rng, t, offset=0.0):
    """A random smooth series."""
    c = rng.normal(size=3)
    return offset + c[0] * np.sin(2 * t + c[1]) * 0.3 + c[2] * 0.2 * t**2


GRAD_CASES = [
    "A < B always weight 2",
    "B > A once weight 1.5",
    "A < 0.1 at R=0.5 weight 3",
    "A < B at R=0.45 everytime",
    "A < C between 0.3, R=0.7 weight 2",
    "A < C once between 0.2, R=0.8",
    "A at 0.35 < B at R=0.6 weight 2",
    "A < 0 always weight 2 altpenalty C>1 min 0.01",
    "A < B at 0.4 confidence 0.9 tolerance 0.5",
    "A > 0.2 once between 0.1, R=0.5 pmin 0.05 pmax 0.9 tolerance 0.3",
]


@pytest.mark.parametrize("interpolate", [False, True])
@pytest.mark.parametrize("line", GRAD_CASES)
def test_gradient_finite_differences(line, interpolate):
    c = parse_constraint(line)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        t = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, 20)]))
        series = {
            "A": smooth(rng, t, 2.0),      # A above B, C: "A < ..." violated
            "B": smooth(rng, t),
            "C": smooth(rng, t, -1.0),
            "R": t + 0.05 * np.sin(3 * t + rng.uniform()),   # rising: crossings exist
        }
        value, grad = penalty(c, t, series, interpolate=interpolate)
        assert value > 0.0 and set(grad) == set(c.names)
        assert any(np.any(g != 0) for g in grad.values())
        h = 1e-6
        for name, g in grad.items():
            for i in range(t.size):
                up = dict(series)
                up[name] = series[name].copy()
                up[name][i] += h
                down = dict(series)
                down[name] = series[name].copy()
                down[name][i] -= h
                fd = (penalty(c, t, up, interpolate=interpolate)[0]
                      - penalty(c, t, down, interpolate=interpolate)[0]) / (2 * h)
                assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-7), (name, i)


def test_kink_choices():
    t = np.arange(4.0)
    # Equality under <=: satisfied, flat side.
    v, g = penalty(parse_constraint("A <= 1 always"), t, {"A": np.array([0, 1.0, 0, 0])})
    assert v == 0.0 and not g["A"].any()
    # Ties in the worst miss: the first sample carries the gradient.
    v, g = penalty(parse_constraint("A < 1 always weight 2"), t,
                   {"A": np.array([0, 3.0, 3.0, 0])})
    assert v == 4.0 and g["A"].tolist() == [0, 2.0, 0, 0]
    # On the min floor: flat.
    v, g = penalty(parse_constraint("A < 1 always weight 2 min 5"), t,
                   {"A": np.array([0, 3.0, 0, 0])})
    assert v == 10.0 and not g["A"].any()
    # Step likelihood: zero derivative.
    v, g = penalty(parse_constraint("A < 1 always confidence 0.9"), t,
                   {"A": np.array([0, 3.0, 0, 0])})
    assert v == pytest.approx(-math.log(0.05)) and not g["A"].any()


def test_nonfinite_series_gives_nan():
    v, g = penalty(parse_constraint("A < 1 always"), np.arange(3.0),
                   {"A": np.array([0, np.nan, 0])})
    assert math.isnan(v) and not g["A"].any()
