"""Finite-difference oracle for every gradient term of the objective.

Each case is a small PEtab problem exercising one feature (formula partials,
overrides, noise parameters, transformations, Laplace noise, pre-equilibration,
species/compartment overrides, parameter scales, replicates, time-point-specific
overrides, condition mutation operators). At a random, non-optimal point and
tight solver tolerances, ``ev.grad`` is compared with Richardson-extrapolated
central differences of ``ev.fval`` and ``ev.sres`` with differences of
``ev.res``. The differences are written here, independent of
``bngfit.objective._gradcheck``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import bngfit
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from bngfit.problem._problem import NoiseFamily

RTOL_SOLVER = 1e-11
ATOL_SOLVER = 1e-13
GRAD_RTOL = 1e-5
TIMES = (0.5, 1.0, 2.0, 4.0, 8.0)

CONVERSION = """
model conversion
  compartment cell = 1;
  species A in cell, B in cell;
  A = A0; B = 0;
  A0 = 1; k1 = 0.8; k2 = 0.6;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
end
"""

# Conversion with an assignment rule (a model expression) that depends on a
# parameter directly and on the states.
CONVERSION_EXPR = """
model conversion_expr
  compartment cell = 1;
  species A in cell, B in cell;
  A = A0; B = 0;
  A0 = 1; k1 = 0.8; k2 = 0.6;
  flux := k1*A - k2*B;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
end
"""

# Conversion with a conserved total A0 (so the steady state depends on the
# initial value) and a product C made from B; stim scales the forward rate.
PREEQ = """
model preeq
  compartment cell = 1;
  species A in cell, B in cell, C in cell;
  A = A0; B = 0; C = 0;
  A0 = 1; k1 = 0.8; k2 = 0.6; ksyn = 1; kdeg = 0.5; stim = 1;
  fwd: A -> B; k1*stim*A;
  rev: B -> A; k2*B;
  prod: -> C; ksyn*B;
  deg: C -> ; kdeg*C;
end
"""


def par(pid, nominal, scale="log10", estimate=1, lb=None, ub=None):
    """A parameter-table row (bounds wide around the nominal value)."""
    if lb is None:
        lb = nominal / 100 if scale != "lin" else -100
    if ub is None:
        ub = nominal * 100 if scale != "lin" else 100
    return {"parameterId": pid, "parameterScale": scale, "lowerBound": lb, "upperBound": ub,
            "nominalValue": nominal, "estimate": estimate}


def meas_rows(rng, obs, cond, times=TIMES, *, preeq=None, lo=0.2, hi=1.5, op=None, np_=None):
    """Measurement rows with random positive values (data need not fit the model)."""
    rows = []
    for t in times:
        r = {"observableId": obs, "simulationConditionId": cond, "time": t,
             "measurement": round(float(rng.uniform(lo, hi)), 6)}
        if preeq is not None:
            r["preequilibrationConditionId"] = preeq
        if op is not None:
            r["observableParameters"] = op(t) if callable(op) else op
        if np_ is not None:
            r["noiseParameters"] = np_(t) if callable(np_) else np_
        rows.append(r)
    return rows


@dataclass
class Case:
    """A built problem and the point to check it at."""

    problem: bngfit.Problem
    x: np.ndarray
    # Free parameters whose gradient may legitimately vanish.
    may_vanish: tuple[str, ...] = ()
    check: Callable | None = field(default=None, repr=False)


# ----------------------------------------------------------------- the cases
def case_formula_partial(writer, name, rng):
    """h = scale*B + offset and h = A + k2*B: partials in free parameters."""
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("scale", 1.5, "lin"),
                    par("offset", 0.2, "lin"), par("A0", 1.0, estimate=0)],
        observables=[
            {"observableId": "obs_B", "observableFormula": "scale * B + offset",
             "noiseFormula": 0.1},
            {"observableId": "obs_A", "observableFormula": "A + k2 * B",
             "noiseFormula": 0.2},
        ],
        measurements=meas_rows(rng, "obs_B", "c0") + meas_rows(rng, "obs_A", "c0"),
    )
    return y, {}


def case_expression_and_time(writer, name, rng):
    """Observables of a model expression and of the time symbol."""
    y = writer(
        name, model=CONVERSION_EXPR,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("A0", 1.0), par("decay", 0.3)],
        observables=[
            {"observableId": "obs_flux", "observableFormula": "flux", "noiseFormula": 0.05},
            {"observableId": "obs_t", "observableFormula": "B * exp(-decay * time)",
             "noiseFormula": 0.1},
        ],
        measurements=meas_rows(rng, "obs_flux", "c0", lo=-0.2, hi=0.5)
        + meas_rows(rng, "obs_t", "c0", lo=0.1, hi=0.5),
    )
    return y, {}


def case_observable_parameters(writer, name, rng):
    """observableParameters: numbers and estimated ids, differing per measurement."""
    ops = {"c0": "scale1;offset1", "c1": "scale2;0.05", "c2": "1.5;offset1"}
    meas = []
    for c in ops:
        meas += meas_rows(rng, "obs_B", c, op=ops[c])
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("scale1", 1.2),
                    par("scale2", 0.7, "log"), par("offset1", 0.1, "lin"),
                    par("A0", 1.0, estimate=0)],
        observables=[{"observableId": "obs_B",
                      "observableFormula":
                          "observableParameter1_obs_B * B + observableParameter2_obs_B",
                      "noiseFormula": "0.05 + 0.1 * observableParameter1_obs_B"}],
        conditions=[{"conditionId": "c0", "A0": 1}, {"conditionId": "c1", "A0": 2},
                    {"conditionId": "c2", "A0": 0.5}],
        measurements=meas,
    )
    return y, {}


def case_noise_parameters(writer, name, rng):
    """Estimated sigma via noiseParameters (ids per condition, and a number)."""
    nps = {"c0": "sigma_a", "c1": "sigma_b", "c2": "0.3"}
    meas = []
    for c in nps:
        meas += meas_rows(rng, "obs_A", c, np_=nps[c])
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("sigma_a", 0.2),
                    par("sigma_b", 0.3, "lin", lb=0.01, ub=5)],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "noiseParameter1_obs_A"}],
        conditions=[{"conditionId": "c0", "A0": 1}, {"conditionId": "c1", "A0": 2},
                    {"conditionId": "c2", "A0": 1.5}],
        measurements=meas,
    )
    return y, {}


def case_noise_formula_states(writer, name, rng):
    """sigma = sigma_abs + sigma_rel * B: sigma depends on theta and on a state."""
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("sigma_abs", 0.05),
                    par("sigma_rel", 0.2), par("A0", 1.0)],
        observables=[{"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": "sigma_abs + sigma_rel * B"},
                     {"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "sigma_abs * (1 + k1 * A)"}],
        measurements=meas_rows(rng, "obs_B", "c0") + meas_rows(rng, "obs_A", "c0"),
    )
    return y, {}


def _transform_case(writer, name, rng, transform, family):
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("scale", 2.0), par("sigma_B", 0.2),
                    par("A0", 1.0, estimate=0)],
        observables=[
            {"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.15,
             "observableTransformation": transform, "noiseDistribution": family},
            {"observableId": "obs_B", "observableFormula": "scale * B",
             "noiseFormula": "sigma_B", "observableTransformation": transform,
             "noiseDistribution": family},
        ],
        measurements=meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_B", "c0"),
    )
    return y, {}


def case_transform_log(writer, name, rng):
    return _transform_case(writer, name, rng, "log", "normal")


def case_transform_log10(writer, name, rng):
    return _transform_case(writer, name, rng, "log10", "normal")


def case_laplace_lin(writer, name, rng):
    return _transform_case(writer, name, rng, "lin", "laplace")


def case_laplace_log(writer, name, rng):
    return _transform_case(writer, name, rng, "log", "laplace")


def case_laplace_log10(writer, name, rng):
    return _transform_case(writer, name, rng, "log10", "laplace")


def _preeq_case(writer, name, rng, main_row, extra_params=(), pre_row=None, vanish=()):
    params = [par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0), par("kdeg", 0.5),
              par("A0", 1.0), par("scale_C", 0.5, "lin"), *extra_params]
    pre_row = {"stim": 1} if pre_row is None else pre_row
    conds = [{"conditionId": "pre", **pre_row}, {"conditionId": "main", **main_row}]
    times = (0.0, *TIMES)  # t=0: the (overridden) pre-equilibrated state itself
    meas = (meas_rows(rng, "obs_B", "main", times, preeq="pre")
            + meas_rows(rng, "obs_C", "main", times, preeq="pre"))
    y = writer(
        name, model=PREEQ, parameters=params, conditions=conds,
        observables=[{"observableId": "obs_B", "observableFormula": "B", "noiseFormula": 0.1},
                     {"observableId": "obs_C", "observableFormula": "scale_C * C",
                      "noiseFormula": 0.1}],
        measurements=meas,
    )
    return y, {"may_vanish": vanish}


def case_preeq_parameters_only(writer, name, rng):
    """Main condition changes a fixed parameter only (sensitivities carried over).

    The pre-equilibration condition also sets a species to a number.
    """
    return _preeq_case(writer, name, rng, {"stim": 3}, pre_row={"stim": 1, "C": 0.5})


def case_preeq_condition_estimated(writer, name, rng):
    """The pre-equilibration condition sets a parameter and a species to estimated ids.

    A's model initial value A0 is then overridden in both phases: no effect.
    """
    return _preeq_case(writer, name, rng, {"stim": 3},
                       [par("stim_lo", 0.5), par("A_pre", 1.5)],
                       pre_row={"stim": "stim_lo", "A": "A_pre"}, vanish=("A0",))


def case_preeq_parameter_estimated(writer, name, rng):
    """Main condition sets a parameter to an estimated id (different parameter map)."""
    return _preeq_case(writer, name, rng, {"stim": "stim_hi"}, [par("stim_hi", 3.0)])


def case_preeq_species_number(writer, name, rng):
    """Main condition also sets a species initial value to a number."""
    return _preeq_case(writer, name, rng, {"stim": 3, "B": 0.2})


def case_preeq_species_parameter(writer, name, rng):
    """Main condition also sets a species initial value to an estimated parameter."""
    return _preeq_case(writer, name, rng, {"stim": 3, "B": "B_init"}, [par("B_init", 0.3)])


def case_species_override_parameter(writer, name, rng):
    """Condition table sets A(0) to an estimated id; A0 (model initial value) estimated."""
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("A_init", 2.0), par("A0", 1.0),
                    par("A_fixed", 1.4, estimate=0)],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1},
                     {"observableId": "obs_B", "observableFormula": "B", "noiseFormula": 0.1}],
        conditions=[{"conditionId": "c0", "A": ""}, {"conditionId": "c1", "A": "A_init"},
                    {"conditionId": "c2", "A": 0.7}, {"conditionId": "c3", "A": "A_fixed"}],
        measurements=sum((meas_rows(rng, o, c, (0.0, *TIMES)) for o in ("obs_A", "obs_B")
                          for c in ("c0", "c1", "c2", "c3")), []),
    )
    return y, {}


def case_compartment_number(writer, name, rng):
    """Condition table sets the compartment size to a number."""
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("A0", 1.0)],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1}],
        conditions=[{"conditionId": "c0", "cell": ""}, {"conditionId": "c1", "cell": 2}],
        measurements=meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_A", "c1"),
    )

    def check(problem, obj, ev):
        # The override must act: with SBML semantics, a volume of 2 halves both rates.
        th = dict(zip(obj.x_names, _native(problem, ev.x), strict=True))
        meas = problem.measurements
        for i in range(len(meas)):
            d = 2.0 if meas.condition[i] == "c1" else 1.0
            k1, k2, a0, t = th["k1"] / d, th["k2"] / d, th["A0"], meas.time[i]
            expected = a0 * (k2 + k1 * np.exp(-(k1 + k2) * t)) / (k1 + k2)
            assert ev.simulation[i] == pytest.approx(expected, rel=1e-7)

    return y, {"check": check}


def case_parameter_scales(writer, name, rng):
    """parameterScale lin, log and log10 all present."""
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8, "lin", lb=0.01, ub=10), par("k2", 0.6, "log"),
                    par("A0", 1.3, "log10"), par("scale_B", 2.0, "log"),
                    par("offset", 0.1, "lin")],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1},
                     {"observableId": "obs_B", "observableFormula": "scale_B * B + offset",
                      "noiseFormula": 0.1}],
        measurements=meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_B", "c0"),
    )
    return y, {}


def case_replicates(writer, name, rng):
    """Three replicates at each time point (duplicate times), estimated sigma.

    The measurement rows are shuffled (times out of order, observables mixed).
    """
    meas = []
    for _ in range(3):
        meas += meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_B", "c0")
    meas = [meas[i] for i in rng.permutation(len(meas))]
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("sigma", 0.2), par("A0", 1.0)],
        observables=[{"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "sigma"},
                     {"observableId": "obs_B", "observableFormula": "B",
                      "noiseFormula": 0.1}],
        measurements=meas,
    )

    def check(problem, obj, ev):
        t = problem.measurements.time
        assert len(np.unique(t)) < len(t)

    return y, {"check": check}


def case_time_specific_overrides(writer, name, rng):
    """Different observableParameters / noiseParameters ids at different times."""
    def op(t):
        return "s_early;o_early" if t < 3 else "s_late;o_early"

    def nps(t):
        return "sig_early" if t < 3 else "sig_late"

    meas = meas_rows(rng, "obs_B", "c0", op=op, np_=nps)
    # Two more rows at a late time with a numeric offset and numeric sigma.
    meas += meas_rows(rng, "obs_B", "c0", times=(8.0, 4.0), op="s_late;0.1", np_="0.25")
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("s_early", 1.2), par("s_late", 1.8),
                    par("o_early", 0.1, "lin"), par("sig_early", 0.1), par("sig_late", 0.2),
                    par("A0", 1.0, estimate=0)],
        observables=[{"observableId": "obs_B",
                      "observableFormula":
                          "observableParameter1_obs_B * B + observableParameter2_obs_B",
                      "noiseFormula": "noiseParameter1_obs_B"}],
        measurements=meas,
    )
    return y, {}


# Mutation operators (not reachable from PEtab tables): the problem is read
# with empty conditions, then conditions are swapped in with dataclasses.replace.
MUTATIONS = {
    "mul": (Mutation("k1", MutationOp.MUL, "fac"),),
    "div": (Mutation("k2", MutationOp.DIV, "fac"), Mutation("k1", MutationOp.DIV, 2.0)),
    "add": (Mutation("k1", MutationOp.ADD, "shift"), Mutation("k2", MutationOp.ADD, 0.1)),
    "sub": (Mutation("k2", MutationOp.SUB, "shift"), Mutation("k1", MutationOp.SUB, 0.1)),
    "chain": (Mutation("k1", MutationOp.MUL, "k2"),  # value is a free model parameter
              Mutation("k1", MutationOp.ADD, "shift"),
              Mutation("A0", MutationOp.MUL, "fac"),  # initial value through a parameter
              Mutation("k2", MutationOp.MUL, "fixfac"),
              Mutation("k2", MutationOp.DIV, "fac")),
}


def _mutation_case(writer, name, rng, key):
    y = writer(
        name, model=CONVERSION,
        parameters=[par("k1", 0.8), par("k2", 0.6), par("A0", 1.0), par("fac", 1.7),
                    par("shift", 0.15, "lin", lb=-1, ub=0.5), par("fixfac", 1.3, estimate=0)],
        observables=[{"observableId": "obs_A", "observableFormula": "A", "noiseFormula": 0.1},
                     {"observableId": "obs_B", "observableFormula": "B", "noiseFormula": 0.1},
                     # the formula sees the condition's (mutated) value of k1
                     {"observableId": "obs_kA", "observableFormula": "k1 * A",
                      "noiseFormula": 0.1}],
        conditions=[{"conditionId": "c0"}, {"conditionId": "ref"}],
        measurements=sum((meas_rows(rng, o, c) for o in ("obs_A", "obs_B", "obs_kA")
                          for c in ("c0", "ref")), []),
    )
    problem = bngfit.load_problem(y)
    conds = dict(problem.conditions)
    conds["c0"] = Condition("c0", MUTATIONS[key])
    problem = dataclasses.replace(problem, conditions=conds)
    used = {m.value for m in MUTATIONS[key]}
    vanish = tuple(p for p in ("fac", "shift") if p not in used)
    return problem, {"may_vanish": vanish}


def _mutation_builder(key):
    def build(writer, name, rng):
        return _mutation_case(writer, name, rng, key)

    build.__name__ = f"case_mutation_{key}"
    return build


BUILDERS = {
    f.__name__.removeprefix("case_"): f
    for f in [
        case_formula_partial, case_expression_and_time, case_observable_parameters,
        case_noise_parameters, case_noise_formula_states, case_transform_log, case_transform_log10,
        case_laplace_lin, case_laplace_log, case_laplace_log10, case_preeq_parameters_only,
        case_preeq_parameter_estimated, case_preeq_species_number,
        case_preeq_species_parameter, case_preeq_condition_estimated,
        case_species_override_parameter,
        case_compartment_number, case_parameter_scales, case_replicates,
        case_time_specific_overrides,
        *(_mutation_builder(k) for k in MUTATIONS),
    ]
}


def _native(problem, x):
    codes = [p.scale.value for p in problem.free]
    x = np.asarray(x, dtype=float)
    return np.array([v if c == "lin" else (np.exp(v) if c == "log" else 10.0**v)
                     for v, c in zip(x, codes, strict=True)])


def _random_point(problem, rng):
    """Nominal values perturbed by up to ~40% (native), in optimizer space."""
    free = problem.free
    vals = {}
    for p in free:
        f = float(np.exp(rng.uniform(-0.35, 0.35)))
        vals[p.id] = p.nominal * f if p.nominal != 0 else rng.uniform(-0.1, 0.1)
    return problem.x_from_native(vals)


# ------------------------------------------------------------ differences
def _richardson(fun, x, i, h):
    """Richardson-extrapolated central difference of fun along x_i (O(h^4))."""

    def central(step):
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        return (fun(xp) - fun(xm)) / (2.0 * step)

    return (4.0 * central(h / 2) - central(h)) / 3.0


def _fd(obj, x, h_rel=2e-3):
    """FD gradient of fval and FD Jacobian of res (None without residuals).

    The step shrinks until no shifted point changes the sign of any
    simulation-minus-data difference, so the differences never straddle the
    kink of a Laplace term.
    """
    n = x.size
    g = np.empty(n)
    has_res = obj.has_residuals
    meas = obj.problem.measurements.value
    signs: list[np.ndarray] = []

    def both(xx):
        ev = obj(xx, sensi=1)  # same solver settings as the gradient
        assert ev.ok, ev.message
        signs.append(np.sign(ev.simulation - meas))
        out = [ev.fval]
        if has_res:
            out += list(ev.res)
        return np.array(out)

    base = np.sign(obj(x, sensi=1).simulation - meas)
    cols = []
    for i in range(n):
        h = h_rel * max(1.0, abs(x[i]))
        for _ in range(12):
            signs.clear()
            d = _richardson(both, x, i, h)
            if all(np.array_equal(sg, base) for sg in signs):
                break
            h /= 4.0
        else:
            raise AssertionError(f"no kink-free step for parameter {i}")
        g[i] = d[0]
        cols.append(d[1:])
    jac = np.array(cols).T if has_res else None
    return g, jac


_BUILT: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def _built_cache():
    yield _BUILT
    _BUILT.clear()


@pytest.fixture
def built(problem_writer, _built_cache):
    """Build a case once per module: (case, objective, evaluation, fd_grad, fd_jac).

    The problem files live under the first requesting test's tmp_path, which
    pytest keeps for the whole session.
    """

    def get(name):
        if name not in _BUILT:
            rng = np.random.default_rng(sum(map(ord, name)) * 7919)
            out, extra = BUILDERS[name](problem_writer, name, rng)
            problem = out if isinstance(out, bngfit.Problem) else bngfit.load_problem(out)
            case = Case(problem, _random_point(problem, rng), **extra)
            obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            ev = obj(case.x, sensi=1)
            assert ev.ok, ev.message
            g, jac = _fd(obj, case.x)
            _BUILT[name] = (case, obj, ev, g, jac)
        return _BUILT[name]

    return get


NAMES = list(BUILDERS)
NORMAL = [n for n in NAMES if not n.startswith("laplace")]


def _assert_close(got, expected, rtol, names, what):
    """|got - expected| <= rtol*|expected| + 0.01*rtol*max|expected|, entrywise.

    The small absolute floor admits entries that are exactly zero (a residual
    that does not depend on a parameter), where differences hold only solver
    noise of order tol/step.
    """
    scale = np.max(np.abs(expected)) if np.size(expected) else 1.0
    err = np.abs(got - expected)
    bad = err > rtol * np.abs(expected) + 1e-2 * rtol * scale
    if np.any(bad):
        idx = np.argwhere(bad)
        lines = [f"{what}: {int(bad.sum())} entries off; first:"]
        for ix in idx[:8]:
            ix = tuple(ix)
            label = names[ix[-1]] if names is not None else ix
            lines.append(f"  {ix} ({label}): got {got[ix]:.12g}, expected {expected[ix]:.12g}")
        pytest.fail("\n".join(lines))


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_finite_differences(name, built):
    case, obj, ev, fd_g, _ = built(name)
    assert np.all(np.isfinite(ev.grad))
    _assert_close(ev.grad, fd_g, GRAD_RTOL, obj.x_names, "grad vs FD of fval")
    # Every free parameter must reach the objective (else the check proves little).
    for i, pid in enumerate(obj.x_names):
        if pid not in case.may_vanish:
            assert abs(fd_g[i]) > 1e-6 * np.max(np.abs(fd_g)), f"{pid} has no effect"
    if case.check is not None:
        case.check(case.problem, obj, ev)


@pytest.mark.parametrize("name", NORMAL)
def test_sres_matches_finite_differences(name, built):
    case, obj, ev, _, fd_jac = built(name)
    assert obj.has_residuals
    assert ev.res is not None and ev.sres is not None
    assert ev.sres.shape == (ev.res.size, case.x.size)
    _assert_close(ev.sres, fd_jac, GRAD_RTOL, obj.x_names, "sres vs FD of res")


@pytest.mark.parametrize("name", NORMAL)
def test_grad_equals_sres_transpose_res(name, built):
    """Convention pin: grad = J^T rho (with the sigma residuals where sigma varies)."""
    _, obj, ev, _, _ = built(name)
    _assert_close(ev.grad, ev.sres.T @ ev.res, 1e-9, obj.x_names, "grad vs sres.T @ res")


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("laplace")])
def test_laplace_has_no_residuals(name, built):
    _, obj, ev, _, _ = built(name)
    assert not obj.has_residuals
    assert ev.res is None and ev.sres is None
    assert all(o.family is NoiseFamily.LAPLACE for o in obj.problem.observables.values())


@pytest.mark.parametrize("name", ["formula_partial", "parameter_scales", "mutation_chain"])
def test_residuals_are_weighted_differences(name, built):
    """Fixed sigma: res == (h - m)/sigma exactly, one per measurement."""
    case, obj, ev, _, _ = built(name)
    meas = case.problem.measurements
    sig = np.array([float(case.problem.observables[o].noise.constant)
                    for o in meas.observable])
    assert ev.res.size == len(meas)
    np.testing.assert_allclose(ev.res, (ev.simulation - meas.value) / sig, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("name", ["formula_partial", "transform_log10", "noise_parameters",
                                  "laplace_log"])
def test_fval_is_closed_form_nllh(name, built):
    """fval = full nllh with constants, computed here from the simulation and sigma."""
    case, obj, ev, _, _ = built(name)
    meas = case.problem.measurements
    obs = case.problem.observables
    h, m, s = ev.simulation, meas.value, ev.sigma
    total = 0.0
    for i, oid in enumerate(meas.observable):
        tr = obs[oid].transform.value
        fam = obs[oid].family.value
        if tr == "lin":
            z, zm, jac = h[i], m[i], 0.0
        elif tr == "log":
            z, zm, jac = np.log(h[i]), np.log(m[i]), np.log(m[i])
        else:
            z, zm, jac = np.log10(h[i]), np.log10(m[i]), np.log(m[i] * np.log(10.0))
        if fam == "normal":
            term = 0.5 * np.log(2 * np.pi * s[i] ** 2) + 0.5 * ((z - zm) / s[i]) ** 2
        else:
            term = np.log(2 * s[i]) + abs(z - zm) / s[i]
        total += term + jac
    assert ev.fval == pytest.approx(total, rel=1e-12)
    # And the sigmas are the ones the tables give (numbers, or the point's values).
    native = dict(zip(obj.x_names, _native(case.problem, ev.x), strict=True))
    for i, oid in enumerate(meas.observable):
        c = obs[oid].noise.constant
        if c is not None:
            assert s[i] == pytest.approx(c, rel=1e-15)
        if meas.noise_params[i]:
            v = meas.noise_params[i][0]
            if isinstance(v, str):
                v = native[v]
            assert s[i] == pytest.approx(v, rel=1e-13)
