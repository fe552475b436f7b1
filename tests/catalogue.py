"""The problem catalogues of the gradient oracles (tests/objective/).

Two catalogues, each a mapping from a name to a function of a seeded generator
that builds one problem:

- :data:`BUILDERS`, one feature per problem (``test_gradients.py``, and
  ``test_hierarchical.py`` for the cases with a closed-form noise parameter):
  ``case_*(writer, name, rng)`` writes the problem with ``writer`` (the
  ``problem_writer`` fixture's signature) and returns its path, or the problem
  itself, and the :class:`Case` fields beyond problem and point;
- :data:`SPECS`, three or more features per problem
  (``test_gradient_combinations.py``, ``test_objective_terms.py``,
  ``test_hierarchical.py``): ``spec_*(rng)`` returns the PEtab tables of one
  problem on :data:`COMBO_MODEL` as a :class:`Spec`, which names the features
  it combines and may carry a closed-form ``check`` of the simulation;
  :func:`write_spec` writes it.

Table-row builders, closed forms, solver settings and tolerances come from
:mod:`tests.helpers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import bngfit
from bngfit.problem._conditions import Condition, Mutation, MutationOp
from tests.helpers import (
    MEAS_TIMES,
    conversion_a,
    conversion_model,
    meas_rows,
    native,
    par,
    random_point,
    write_problem,
)

# ============================================================ one feature per problem
# A <-> B with A's initial value the parameter A0 (= 1), k1 = 0.8, k2 = 0.6.
CONVERSION = conversion_model(a0_param=True)
# The same with an assignment rule (a model expression) that depends on a
# parameter directly and on the states.
CONVERSION_EXPR = conversion_model(a0_param=True, rules=("flux := k1*A - k2*B",))

# Conversion with a conserved total A0 (so the steady state depends on the
# initial value) and a product C made from B; stim scales the forward rate.
# Inline, not conversion_model(): a third species and a different forward rate.
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
    times = (0.0, *MEAS_TIMES)  # t=0: the (overridden) pre-equilibrated state itself
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
        measurements=sum((meas_rows(rng, o, c, (0.0, *MEAS_TIMES)) for o in ("obs_A", "obs_B")
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
        th = dict(zip(obj.x_names, native(problem, ev.x), strict=True))
        meas = problem.measurements
        for i in range(len(meas)):
            d = 2.0 if meas.condition[i] == "c1" else 1.0
            k1, k2, a0, t = th["k1"] / d, th["k2"] / d, th["A0"], meas.time[i]
            expected = conversion_a(t, k1, k2, a0)
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


# ============================================================ features combined
# A <-> B conserved, B drives the synthesis of C, stim scales the forward rate;
# one compartment whose size a condition can override (mass-action rates are
# amounts per time, so a volume V divides every rate of change by V); flux is
# a model expression (assignment rule) of states and parameters. PREEQ above with
# the rule flux; inline, not conversion_model(), for the same reasons.
COMBO_MODEL = """
model combo
  compartment cell = 1;
  species A in cell, B in cell, C in cell;
  A = A0; B = 0; C = 0;
  A0 = 1; k1 = 0.8; k2 = 0.6; ksyn = 1; kdeg = 0.5; stim = 1;
  flux := k1*stim*A - k2*B;
  fwd: A -> B; k1*stim*A;
  rev: B -> A; k2*B;
  prod: -> C; ksyn*B;
  deg: C -> ; kdeg*C;
end
"""


def write_spec(folder, spec):
    """Write a combination as a PEtab problem in ``folder``; its YAML path."""
    return write_problem(folder, model=COMBO_MODEL, parameters=spec.parameters,
                         observables=spec.observables, measurements=spec.measurements,
                         conditions=spec.conditions)


def obs(oid, formula, noise, transform="lin", family="normal"):
    return {"observableId": oid, "observableFormula": formula, "noiseFormula": noise,
            "observableTransformation": transform, "noiseDistribution": family}


@dataclass
class Spec:
    """One catalogue entry: the PEtab tables and what to expect of them."""

    parameters: list[dict]
    observables: list[dict]
    measurements: list[dict]
    conditions: list[dict]
    features: tuple[str, ...]
    # Free parameters whose gradient legitimately vanishes (overridden away).
    may_vanish: tuple[str, ...] = ()
    # Extra checks on (problem, objective, evaluation) at the nominal point.
    check: Callable | None = field(default=None, repr=False)


def spec_scales_obspars_noisepars(rng):
    """All three scales; observable parameters (ids and numbers, per row); a noise
    formula with an estimated parameter and a noise parameter (id or number);
    condition overrides of a parameter by numbers."""
    m = (meas_rows(rng, "obs_C", "c0", op="scale_a;off", np_="sig_C")
         + meas_rows(rng, "obs_C", "c1", op="scale_b;0.05", np_="0.2")
         + meas_rows(rng, "obs_C", "c1", (1.0, 4.0), op="1.3;off", np_="sig_C"))
    return Spec(
        parameters=[par("k1", 0.8, "lin", lb=0.01, ub=10), par("k2", 0.6, "log"),
                    par("ksyn", 1.0, "log10"), par("kdeg", 0.5, estimate=0),
                    par("scale_a", 1.2, "log10"), par("scale_b", 0.7, "log"),
                    par("off", 0.1, "lin", lb=-1, ub=1), par("sig_C", 0.15, "log10"),
                    par("b_rel", 0.3, "lin", lb=0, ub=5)],
        observables=[obs("obs_C",
                         "observableParameter1_obs_C * C + observableParameter2_obs_C",
                         "noiseParameter1_obs_C * (1 + b_rel * C)")],
        conditions=[{"conditionId": "c0", "stim": 1}, {"conditionId": "c1", "stim": 2.5}],
        measurements=m,
        features=("scales", "obs_params", "noise_formula_estimated", "cond_param_number"),
    )


def spec_laplace_log10_condition_ids(rng):
    """Laplace noise, log10 and lin transforms; conditions set a parameter and a
    species initial value to estimated ids and to numbers; estimated noise
    parameter in some conditions, a number in another."""
    m = (meas_rows(rng, "obs_B", "c0", np_="sig_B") + meas_rows(rng, "obs_B", "c1", np_="sig_B")
         + meas_rows(rng, "obs_B", "c2", np_="0.1")
         + sum((meas_rows(rng, "obs_A", c) for c in ("c0", "c1", "c2")), []))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("A_init", 1.5, "log"),
                    par("stim_lo", 0.5, "lin", lb=0.01, ub=5), par("stim_hi", 2.5),
                    par("sig_B", 0.2)],
        observables=[obs("obs_B", "B", "noiseParameter1_obs_B", "log10", "laplace"),
                     obs("obs_A", "A", 0.1, "lin", "laplace")],
        conditions=[{"conditionId": "c0", "stim": "stim_lo", "A": "A_init"},
                    {"conditionId": "c1", "stim": "stim_hi", "A": 0.8},
                    {"conditionId": "c2", "stim": 1, "A": ""}],
        measurements=m,
        features=("laplace", "log10", "cond_param_id", "cond_species_id",
                  "cond_species_number", "noise_params"),
    )


def spec_preeq_species_id_log_noiseformula(rng):
    """Pre-equilibration; the main condition sets a parameter and a species to
    estimated ids (restart from the pre-equilibrated state); log transform;
    noise formula with two estimated parameters and a state."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_C", "main", t, preeq="pre")
         + meas_rows(rng, "obs_B", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("ksyn", 1.0),
                    par("kdeg", 0.5, "lin", lb=0.05, ub=5), par("A0", 1.0),
                    par("stim_hi", 3.0), par("B_add", 0.3, "lin", lb=0, ub=2),
                    par("sig_abs", 0.05), par("sig_rel", 0.2, "log")],
        observables=[obs("obs_C", "C", "sig_abs + sig_rel * C", "log"),
                     obs("obs_B", "B", 0.1)],
        conditions=[{"conditionId": "pre", "stim": 1, "B": ""},
                    {"conditionId": "main", "stim": "stim_hi", "B": "B_add"}],
        measurements=m,
        features=("preeq", "cond_param_id", "cond_species_id", "log",
                  "noise_formula_estimated", "scales"),
    )


def spec_preeq_compartment_replicates(rng):
    """Pre-equilibration with the compartment size overridden (same number in
    both phases) and a parameter changed by number in the main phase (carried
    sensitivities); replicates; an observable parameter id."""
    t = (0.0, *MEAS_TIMES)
    m = []
    for _ in range(3):
        m += (meas_rows(rng, "obs_B", "main", t, preeq="pre")
              + meas_rows(rng, "obs_C", "main", t, preeq="pre", op="scale_C"))
    m = [m[i] for i in rng.permutation(len(m))]
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0, "log"),
                    par("kdeg", 0.5), par("A0", 1.0, "lin", lb=0.1, ub=10),
                    par("scale_C", 0.5, "log")],
        observables=[obs("obs_B", "B", 0.1),
                     obs("obs_C", "observableParameter1_obs_C * C", 0.1)],
        conditions=[{"conditionId": "pre", "cell": 2, "stim": 1},
                    {"conditionId": "main", "cell": 2, "stim": 3}],
        measurements=m,
        features=("preeq", "cond_compartment_number", "cond_param_number", "replicates",
                  "obs_params", "scales"),
    )


def spec_preeq_compartment_species_restart(rng):
    """Compartment size 0.5 in both phases; the pre-equilibration condition sets a
    parameter to an estimated id; the main one sets a species to an estimated
    id (restart path with a non-unit volume); Laplace noise, log transform."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_C", "main", t, preeq="pre")
         + meas_rows(rng, "obs_A", "main", t, preeq="pre", np_="sig_A"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0), par("kdeg", 0.5),
                    par("A0", 1.0, "log"), par("stim_pre", 0.7, "lin", lb=0.05, ub=5),
                    par("C_init", 0.4, "log"), par("sig_A", 0.2)],
        observables=[obs("obs_C", "C", 0.2, "log", "laplace"),
                     obs("obs_A", "A", "noiseParameter1_obs_A", "log", "laplace")],
        conditions=[{"conditionId": "pre", "cell": 0.5, "stim": "stim_pre", "C": ""},
                    {"conditionId": "main", "cell": 0.5, "stim": 2, "C": "C_init"}],
        measurements=m,
        features=("preeq", "cond_compartment_number", "cond_param_id", "cond_species_id",
                  "laplace", "log", "noise_params"),
    )


def spec_compartment_change_between_phases(rng):
    """The compartment size differs between pre-equilibration (1) and the main
    phase (2), which also changes a parameter by number; log10 transform with an
    estimated noise parameter; lin observable with a fixed sigma."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_B", "main", t, preeq="pre", np_="sig_B")
         + meas_rows(rng, "obs_C", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8, "log"), par("k2", 0.6), par("ksyn", 1.0),
                    par("kdeg", 0.5), par("A0", 1.0), par("sig_B", 0.15, "lin", lb=0.01,
                                                           ub=2)],
        observables=[obs("obs_B", "B", "noiseParameter1_obs_B", "log10"),
                     obs("obs_C", "C", 0.1)],
        conditions=[{"conditionId": "pre", "cell": 1, "stim": 1},
                    {"conditionId": "main", "cell": 2, "stim": 3}],
        measurements=m,
        features=("preeq", "cond_compartment_number", "cond_param_number", "log10",
                  "noise_params", "scales"),
    )


def spec_compartment_species_obspars(rng):
    """Compartment sizes 2, 0.5 and default per condition together with species
    overrides (estimated id, number, default); observable parameters (id and
    number); all three scales."""
    m = (meas_rows(rng, "obs_A", "c0", op="s_A") + meas_rows(rng, "obs_A", "c1", op="s_A")
         + meas_rows(rng, "obs_A", "c2", op="1.0")
         + sum((meas_rows(rng, "obs_C", c) for c in ("c0", "c1", "c2")), []))
    return Spec(
        parameters=[par("k1", 0.8, "lin", lb=0.01, ub=10), par("k2", 0.6),
                    par("ksyn", 1.0, "log"), par("kdeg", 0.5, "lin", lb=0.01, ub=10),
                    par("A0", 1.0), par("A_init", 2.0, "log"), par("s_A", 0.9)],
        observables=[obs("obs_A", "observableParameter1_obs_A * A", 0.1),
                     obs("obs_C", "C", 0.1)],
        conditions=[{"conditionId": "c0", "cell": 2, "A": "A_init"},
                    {"conditionId": "c1", "cell": 0.5, "A": 1.5},
                    {"conditionId": "c2", "cell": "", "A": ""}],
        measurements=m,
        features=("cond_compartment_number", "cond_species_id", "cond_species_number",
                  "obs_params", "scales"),
        check=_check_compartment_species,
    )


def _check_compartment_species(problem, obj, ev):
    """The volume override acts: A + B is conserved at A(0) and C obeys V-scaled
    rates, so at t -> 8 the conditions' simulated A differ as the closed form says."""
    th = dict(zip(obj.x_names, native(problem, ev.x), strict=True))
    vol = {"c0": 2.0, "c1": 0.5, "c2": 1.0}
    a_start = {"c0": th["A_init"], "c1": 1.5, "c2": th["A0"]}
    m = problem.measurements
    checked = 0
    for i in range(len(m)):
        if m.observable[i] != "obs_A":
            continue
        c = m.condition[i]
        k1, k2 = th["k1"] / vol[c], th["k2"] / vol[c]
        a = conversion_a(m.time[i], k1, k2, a_start[c])
        s = th["s_A"] if c != "c2" else 1.0
        assert ev.simulation[i] == pytest.approx(s * a, rel=1e-7)
        checked += 1
    assert checked == 15


def spec_compartment_fixed_id_mixed_families(rng):
    """A condition sets the compartment size to a fixed parameter id and a rate
    to an estimated id; normal (lin, log10) and Laplace (log, estimated noise
    parameter) observables in one problem."""
    m = []
    for c in ("c0", "c1"):
        m += (meas_rows(rng, "obs_A", c) + meas_rows(rng, "obs_B", c, np_="sig_B")
              + meas_rows(rng, "obs_C", c))
    return Spec(
        parameters=[par("k1_c", 0.9), par("k2", 0.6, "log"), par("ksyn", 1.0),
                    par("kdeg", 0.5, "lin", lb=0.01, ub=5), par("A0", 1.0),
                    par("sig_B", 0.2, "log"), par("vol_fix", 1.5, estimate=0)],
        observables=[obs("obs_A", "A", 0.1),
                     obs("obs_B", "B", "noiseParameter1_obs_B", "log", "laplace"),
                     obs("obs_C", "C", 0.15, "log10")],
        conditions=[{"conditionId": "c0", "cell": "vol_fix", "k1": "k1_c"},
                    {"conditionId": "c1", "cell": 1, "k1": 0.8}],
        measurements=m,
        features=("cond_compartment_fixed_id", "cond_param_id", "cond_param_number",
                  "laplace", "normal", "log", "log10", "noise_params"),
    )


def spec_mixed_transforms_estimated_sigma(rng):
    """lin, log and log10 observables (normal) with noise parameters that are
    estimated ids in one condition and partly numbers in another; a condition
    override of a parameter by numbers."""
    m = (meas_rows(rng, "obs_A", "c0", np_="sA") + meas_rows(rng, "obs_B", "c0", np_="sB")
         + meas_rows(rng, "obs_C", "c0", np_="sC")
         + meas_rows(rng, "obs_A", "c1", np_="0.1") + meas_rows(rng, "obs_B", "c1", np_="sB")
         + meas_rows(rng, "obs_C", "c1", np_="sC2"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "lin", lb=0.01, ub=5),
                    par("ksyn", 1.0, "log"), par("A0", 1.0), par("sA", 0.1),
                    par("sB", 0.2, "log"), par("sC", 0.15, "lin", lb=0.01, ub=2),
                    par("sC2", 0.1)],
        observables=[obs("obs_A", "A", "noiseParameter1_obs_A"),
                     obs("obs_B", "B", "noiseParameter1_obs_B", "log"),
                     obs("obs_C", "C", "noiseParameter1_obs_C", "log10")],
        conditions=[{"conditionId": "c0", "kdeg": 0.5}, {"conditionId": "c1", "kdeg": 1.2}],
        measurements=m,
        features=("lin", "log", "log10", "noise_params", "cond_param_number", "scales"),
    )


def spec_time_specific_replicates_laplace(rng):
    """Time-point-specific observable and noise parameters, replicates at the same
    time with different overrides, Laplace noise on a log scale, two conditions
    that set a parameter by number."""
    def op(t):
        return "s_early;o_shared" if t < 3 else "s_late;o_shared"

    def nps(t):
        return "sig_early" if t < 3 else "sig_late"

    m = []
    for c in ("c0", "c1"):
        m += meas_rows(rng, "obs_B", c, op=op, np_=nps)
    m += meas_rows(rng, "obs_B", "c0", (8.0, 4.0), op="s_late;0.05", np_="0.3")
    m += meas_rows(rng, "obs_B", "c1", (1.0,), op="1.1;o_shared", np_="sig_late")
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("s_early", 1.2),
                    par("s_late", 1.8, "log"), par("o_shared", 0.05, "lin", lb=0, ub=0.5),
                    par("sig_early", 0.1), par("sig_late", 0.2, "lin", lb=0.01, ub=2)],
        observables=[obs("obs_B", "observableParameter1_obs_B * B + observableParameter2_obs_B",
                         "noiseParameter1_obs_B", "log", "laplace")],
        conditions=[{"conditionId": "c0", "stim": 1}, {"conditionId": "c1", "stim": 2}],
        measurements=m,
        features=("time_specific", "replicates", "laplace", "log", "obs_params",
                  "noise_params", "cond_param_number"),
    )


def spec_preeq_time_specific_two_noise_params(rng):
    """Pre-equilibration (carried sensitivities) with time-point-specific noise
    parameters in a two-placeholder noise formula with a state; replicates."""
    def nps(t):
        return "sig0;0.1" if t < 3 else "sig0;sig_rel"

    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_C", "main", t, preeq="pre", np_=nps)
         + meas_rows(rng, "obs_C", "main", (8.0, 8.0), preeq="pre", np_="0.05;sig_rel")
         + meas_rows(rng, "obs_A", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0, "log"),
                    par("kdeg", 0.5), par("A0", 1.0), par("scale_C", 0.6, "lin", lb=0.01,
                                                           ub=5),
                    par("sig0", 0.05), par("sig_rel", 0.15, "log")],
        observables=[obs("obs_C", "scale_C * C",
                         "noiseParameter1_obs_C + noiseParameter2_obs_C * C"),
                     obs("obs_A", "A", 0.1)],
        conditions=[{"conditionId": "pre", "stim": 1}, {"conditionId": "main", "stim": 2}],
        measurements=m,
        features=("preeq", "cond_param_number", "time_specific", "replicates",
                  "noise_formula_estimated", "noise_params", "scales"),
    )


def spec_shared_parameter_many_roles(rng):
    """One estimated parameter is a species override, an observable parameter and
    a term of a noise formula at once; another model parameter is an observable
    parameter; conditions also set a parameter by number."""
    m = (meas_rows(rng, "obs_A", "c0", op="amp") + meas_rows(rng, "obs_A", "c1", op="k2")
         + meas_rows(rng, "obs_B", "c0") + meas_rows(rng, "obs_B", "c1"))
    return Spec(
        parameters=[par("k1", 0.8, "log"), par("k2", 0.6), par("amp", 1.3, "log")],
        observables=[obs("obs_A", "observableParameter1_obs_A * A", 0.1),
                     obs("obs_B", "B", "0.05 + 0.1 * amp * B")],
        conditions=[{"conditionId": "c0", "A": "amp", "stim": 1},
                    {"conditionId": "c1", "A": 1.0, "stim": 2}],
        measurements=m,
        features=("cond_species_id", "cond_species_number", "obs_params",
                  "noise_formula_estimated", "cond_param_number", "scales"),
    )


def spec_condition_values_in_formulas(rng):
    """Observable and noise formulas read condition-overridden model parameters
    (an estimated id and a number), the overridden compartment size and a model
    parameter outside the parameter table; an estimated parameter named
    directly in a noise formula; log10."""
    m = []
    for c in ("c0", "c1"):
        m += meas_rows(rng, "obs_X", c) + meas_rows(rng, "obs_C", c)
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("ksyn", 1.0, "lin", lb=0.01,
                                                                ub=10),
                    par("A0", 1.0, "lin", lb=0.1, ub=10), par("stim_a", 2.0),
                    par("sig_C", 0.1, "log")],
        observables=[obs("obs_X", "k1 * A + stim * B", "0.02 * (1 + cell) * stim", "log10"),
                     obs("obs_C", "C", "sig_C * kdeg")],
        conditions=[{"conditionId": "c0", "stim": "stim_a", "cell": 2},
                    {"conditionId": "c1", "stim": 1.5, "cell": 1}],
        measurements=m,
        features=("cond_param_id", "cond_param_number", "cond_compartment_number",
                  "log10", "noise_formula_estimated", "scales"),
    )


def spec_preeq_estimated_pre_condition_laplace(rng):
    """The pre-equilibration condition sets a parameter and a species to
    estimated ids (so the model's A0 has no effect); the main condition sets a
    parameter and a species by numbers (restart path); Laplace, log10 and lin."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_B", "main", t, preeq="pre")
         + meas_rows(rng, "obs_C", "main", t, preeq="pre", np_="sig_C"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0, "log"),
                    par("kdeg", 0.5, "log"), par("A0", 1.0), par("stim_pre", 0.6),
                    par("A_pre", 1.5, "lin", lb=0.1, ub=10), par("sig_C", 0.2)],
        observables=[obs("obs_B", "B", 0.1, "log10", "laplace"),
                     obs("obs_C", "C", "noiseParameter1_obs_C", "lin", "laplace")],
        conditions=[{"conditionId": "pre", "stim": "stim_pre", "A": "A_pre", "C": ""},
                    {"conditionId": "main", "stim": 3, "A": "", "C": 0.2}],
        measurements=m,
        features=("preeq", "cond_param_id", "cond_species_id", "cond_species_number",
                  "laplace", "log10", "noise_params", "scales"),
        may_vanish=("A0",),
    )


def spec_preeq_t0_time_formula_log10(rng):
    """Pre-equilibration, then a main condition that sets a parameter and a
    species to estimated ids; data at t=0 (the overridden pre-equilibrated
    state); the time symbol and an observable parameter (number or id) in the
    formula; log10 transform."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_T", "main", t, preeq="pre", op="off")
         + meas_rows(rng, "obs_T", "main", (0.0, 2.0), preeq="pre", op="0.01"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("A0", 1.0),
                    par("stim_hi", 2.0), par("A_add", 0.5, "lin", lb=0.01, ub=5),
                    par("decay", 0.2, "log"), par("off", 0.05, "lin", lb=0.001, ub=1)],
        observables=[obs("obs_T", "B * exp(-decay * time) + observableParameter1_obs_T",
                         0.1, "log10")],
        conditions=[{"conditionId": "pre", "stim": 1, "A": ""},
                    {"conditionId": "main", "stim": "stim_hi", "A": "A_add"}],
        measurements=m,
        features=("preeq", "cond_param_id", "cond_species_id", "log10", "obs_params",
                  "time_symbol", "scales"),
    )


def spec_mixed_families_shared_sigma(rng):
    """A normal (lin) and a Laplace (log10) observable share one estimated noise
    parameter; replicates; a species override by number; all three scales."""
    m = []
    for _ in range(2):
        for c in ("c0", "c1"):
            m += meas_rows(rng, "obs_A", c, np_="sig") + meas_rows(rng, "obs_C", c, np_="sig")
    return Spec(
        parameters=[par("k1", 0.8, "lin", lb=0.01, ub=10), par("k2", 0.6, "log"),
                    par("ksyn", 1.0), par("kdeg", 0.5), par("A0", 1.0, "log"),
                    par("sig", 0.2)],
        observables=[obs("obs_A", "A", "noiseParameter1_obs_A"),
                     obs("obs_C", "C", "noiseParameter1_obs_C", "log10", "laplace")],
        conditions=[{"conditionId": "c0", "B": ""}, {"conditionId": "c1", "B": 0.5}],
        measurements=m,
        features=("normal", "laplace", "log10", "noise_params", "replicates",
                  "cond_species_number", "scales"),
    )


def spec_noise_with_obs_placeholders_fixed_ids(rng):
    """A proportional noise model written with the observable's own placeholders
    (PEtab v1 allows observable parameters in noise formulas); observable and
    noise parameters that name fixed (estimate 0) parameters, estimated ids and
    numbers; a condition sets a rate to a fixed parameter id; data at t=0 see a
    species override by an estimated id."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_B", "c0", op="s_B;off_fix", np_="rel_B")
         + meas_rows(rng, "obs_B", "c1", op="s_B;0.1", np_="rel_fix")
         + meas_rows(rng, "obs_A", "c0", t) + meas_rows(rng, "obs_A", "c1", t)
         + meas_rows(rng, "obs_A", "c2", (0.0,)))  # an experiment with data at t=0 only
    return Spec(
        parameters=[par("k1", 0.8, "log"), par("A_init", 1.4), par("s_B", 1.5, "lin",
                                                                  lb=0.1, ub=10),
                    par("rel_B", 0.2, "log"), par("rel_fix", 0.3, estimate=0),
                    par("off_fix", 0.05, "lin", lb=0.0005, ub=5.0, estimate=0),
                    par("k2_fix", 0.9, estimate=0)],
        observables=[obs("obs_B", "observableParameter1_obs_B * B + observableParameter2_obs_B",
                         "noiseParameter1_obs_B * (observableParameter1_obs_B * B"
                         " + observableParameter2_obs_B)"),
                     obs("obs_A", "A", 0.1)],
        conditions=[{"conditionId": "c0", "k2": "k2_fix", "A": "A_init"},
                    {"conditionId": "c1", "k2": 0.6, "A": ""},
                    {"conditionId": "c2", "k2": 0.6, "A": "A_init"}],
        measurements=m,
        features=("obs_params", "obs_params_in_noise", "noise_params", "fixed_ids",
                  "cond_param_fixed_id", "cond_param_number", "cond_species_id",
                  "t0_data", "scales"),
    )


def spec_shared_theta_two_targets_all_log10(rng):
    """All parameters on log10; one estimated parameter is the condition value of
    two rates, and an estimated model parameter is the condition value of
    another; the same simulation condition is measured with and without
    pre-equilibration (two experiments, different parameter maps per phase);
    log transform with a sigma named directly in the noise formula."""
    m = (meas_rows(rng, "obs_B", "c0") + meas_rows(rng, "obs_C", "c0")
         + meas_rows(rng, "obs_B", "c0", (0.0, 1.0, 4.0), preeq="c1")
         + meas_rows(rng, "obs_C", "c0", (0.0, 1.0, 4.0), preeq="c1")
         + meas_rows(rng, "obs_B", "c1") + meas_rows(rng, "obs_C", "c1")
         + meas_rows(rng, "obs_C", "c1", (0.0,), preeq="c0"))  # the pre-equilibrium only
    return Spec(
        parameters=[par("krate", 0.7), par("ksyn", 1.0), par("kdeg", 0.5), par("A0", 1.0),
                    par("sig", 0.15)],
        observables=[obs("obs_B", "B", "sig", "log"), obs("obs_C", "C", "sig", "log")],
        conditions=[{"conditionId": "c0", "k1": "krate", "k2": "krate", "stim": 1},
                    {"conditionId": "c1", "k1": 0.8, "k2": "krate", "stim": "kdeg"}],
        measurements=m,
        features=("all_log10", "cond_param_id", "cond_param_number", "preeq",
                  "preeq_and_plain", "log", "noise_formula_estimated"),
    )


def spec_preeq_ic_in_pre_laplace_state_noise(rng):
    """The pre-equilibration condition sets a species to an estimated id (the
    main phase then restarts without species overrides of its own) with a
    compartment size 2 in both phases; the main phase sets a parameter to an
    estimated id; Laplace noise whose scale depends on parameters and a state;
    log10 transform."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_C", "main", t, preeq="pre")
         + meas_rows(rng, "obs_B", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6), par("ksyn", 1.0, "log"),
                    par("kdeg", 0.5), par("A_pre", 1.2, "lin", lb=0.1, ub=10),
                    par("stim_hi", 2.5), par("sig_abs", 0.05), par("sig_rel", 0.1, "log")],
        observables=[obs("obs_C", "C", "sig_abs + sig_rel * C", "log10", "laplace"),
                     obs("obs_B", "B", 0.05, "lin", "laplace")],
        conditions=[{"conditionId": "pre", "cell": 2, "stim": 1, "A": "A_pre"},
                    {"conditionId": "main", "cell": 2, "stim": "stim_hi", "A": ""}],
        measurements=m,
        features=("preeq", "cond_species_id", "cond_param_id", "cond_compartment_number",
                  "laplace", "log10", "noise_formula_estimated", "scales"),
    )


def spec_preeq_same_condition_species_reset(rng):
    """Pre-equilibrated with the simulation condition itself, whose species
    override (an estimated id) is applied again after pre-equilibration;
    replicates with observable parameters per replicate (id and number); log
    transform with an estimated noise parameter."""
    t = (0.0, *MEAS_TIMES)
    m = []
    for op in ("scale_1", "scale_2", "1.0"):
        m += meas_rows(rng, "obs_B", "c0", t, preeq="c0", op=op, np_="sig_B")
    m += meas_rows(rng, "obs_A", "c0", t, preeq="c0")
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "lin", lb=0.01, ub=5),
                    par("A_init", 1.3, "log"), par("stim_c", 1.5), par("scale_1", 1.1),
                    par("scale_2", 0.8, "log"), par("sig_B", 0.2)],
        observables=[obs("obs_B", "observableParameter1_obs_B * B", "noiseParameter1_obs_B",
                         "log"),
                     obs("obs_A", "A", 0.1)],
        conditions=[{"conditionId": "c0", "A": "A_init", "stim": "stim_c"}],
        measurements=m,
        features=("preeq", "cond_species_id", "cond_param_id", "replicates", "obs_params",
                  "noise_params", "log", "scales"),
    )


def spec_preeq_expression_condition_id(rng):
    """A model expression (assignment rule of states and of a parameter the main
    condition sets to an estimated id) observed after pre-equilibration, from
    t=0; observable and noise parameters (ids and numbers); log scales."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_F", "main", t, preeq="pre", op="off_F", np_="sig_F", lo=-0.2,
              hi=0.8)
         + meas_rows(rng, "obs_F", "main", (0.5, 2.0), preeq="pre", op="0.0", np_="0.1",
                lo=-0.2, hi=0.8)
         + meas_rows(rng, "obs_B", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8, "log"), par("k2", 0.6), par("A0", 1.0, "log"),
                    par("stim_hi", 2.0), par("off_F", 0.1, "lin", lb=-1, ub=1),
                    par("sig_F", 0.1, "log")],
        observables=[obs("obs_F", "flux + observableParameter1_obs_F",
                         "noiseParameter1_obs_F"),
                     obs("obs_B", "B", 0.1)],
        conditions=[{"conditionId": "pre", "stim": 1}, {"conditionId": "main",
                                                         "stim": "stim_hi"}],
        measurements=m,
        features=("preeq", "model_expression", "cond_param_id", "obs_params",
                  "noise_params", "t0_data", "scales"),
    )


def spec_preeq_main_species_overrides(rng):
    """Pre-equilibration, then a main condition that changes a parameter by a
    number (same parameter map in both phases) and sets two species, one to an
    estimated id and one to a number; time-point-specific noise parameters;
    log transform; t=0 data see the overridden and the equilibrated states."""
    t = (0.0, *MEAS_TIMES)
    m = (meas_rows(rng, "obs_B", "main", t, preeq="pre",
              np_=lambda tt: "sig_a" if tt < 3 else "0.15")
         + meas_rows(rng, "obs_C", "main", t, preeq="pre")
         + meas_rows(rng, "obs_A", "main", t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("ksyn", 1.0),
                    par("kdeg", 0.5, "lin", lb=0.05, ub=5), par("A0", 1.0),
                    par("B_add", 0.4, "lin", lb=0.01, ub=5), par("sig_a", 0.1)],
        observables=[obs("obs_B", "B", "noiseParameter1_obs_B"),
                     obs("obs_C", "C", 0.1, "log"), obs("obs_A", "A", 0.1)],
        conditions=[{"conditionId": "pre", "stim": 1, "B": "", "C": ""},
                    {"conditionId": "main", "stim": 3, "B": "B_add", "C": 0.3}],
        measurements=m,
        features=("preeq", "cond_param_number", "cond_species_id", "cond_species_number",
                  "time_specific", "noise_params", "log", "t0_data", "scales"),
        check=_check_preeq_main_species,
    )


def _check_preeq_main_species(problem, obj, ev):
    """At t=0 of the main phase: B and C are the condition's values, A is the
    pre-equilibrium A0*k2/(k1*stim + k2) with stim = 1."""
    th = dict(zip(obj.x_names, native(problem, ev.x), strict=True))
    expected = {"obs_B": th["B_add"], "obs_C": 0.3,
                "obs_A": th["A0"] * th["k2"] / (th["k1"] + th["k2"])}
    m = problem.measurements
    seen = set()
    for i in range(len(m)):
        if m.time[i] == 0.0:
            assert ev.simulation[i] == pytest.approx(expected[m.observable[i]], rel=1e-6)
            seen.add(m.observable[i])
    assert seen == set(expected)


def spec_initial_value_parameter_in_conditions(rng):
    """Conditions set the model parameter behind A's initial value (A = A0) to
    estimated ids and to a number, with compartment sizes 2 and 0.5; one
    experiment pre-equilibrates under an estimated A0 and runs the main phase
    under a numeric one (the initial value is not re-applied after
    pre-equilibration); Laplace and normal observables, log10 transform."""
    m = (meas_rows(rng, "obs_A", "c0") + meas_rows(rng, "obs_A", "c1")
         + meas_rows(rng, "obs_A", "c1", (0.0, 1.0, 4.0), preeq="c0")
         + meas_rows(rng, "obs_C", "c0", np_="sig_C") + meas_rows(rng, "obs_C", "c1", np_="sig_C")
         + meas_rows(rng, "obs_C", "c1", (0.0, 1.0, 4.0), preeq="c0", np_="0.2"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("ksyn", 1.0),
                    par("kdeg", 0.5), par("A0_c", 1.5, "lin", lb=0.1, ub=10),
                    par("sig_C", 0.2, "log")],
        observables=[obs("obs_A", "A", 0.1, "log10", "laplace"),
                     obs("obs_C", "C", "noiseParameter1_obs_C")],
        conditions=[{"conditionId": "c0", "A0": "A0_c", "cell": 2},
                    {"conditionId": "c1", "A0": 0.7, "cell": 0.5}],
        measurements=m,
        features=("cond_param_id", "cond_param_number", "initial_value_parameter",
                  "cond_compartment_number", "preeq", "preeq_and_plain", "laplace",
                  "normal", "log10", "noise_params", "scales"),
        check=_check_initial_value_preeq,
    )


def _check_initial_value_preeq(problem, obj, ev):
    """After pre-equilibration under c0 (A0 = A0_c, volume 2) the main phase of c1
    (A0 = 0.7, volume 0.5) starts from c0's steady state (concentrations carry
    over; the initial value is not re-applied)."""
    th = dict(zip(obj.x_names, native(problem, ev.x), strict=True))
    b_ss = th["A0_c"] * th["k1"] / (th["k1"] + th["k2"])
    want = {"obs_A": th["A0_c"] - b_ss, "obs_C": th["ksyn"] * b_ss / th["kdeg"]}
    m = problem.measurements
    sel = [i for i in range(len(m)) if m.time[i] == 0.0 and m.preeq[i] == "c0"]
    assert len(sel) == 2
    for i in sel:
        assert ev.simulation[i] == pytest.approx(want[m.observable[i]], rel=1e-6)


def spec_shared_preeq_many_main_conditions(rng):
    """Five measured conditions share one pre-equilibration condition (which sets
    a parameter to an estimated id), so one evaluation runs it once and the
    later conditions restart from its end state: their main phases change a
    parameter by numbers, set species to an estimated id and to a number,
    change the compartment size, or are the pre-equilibration condition
    itself; Laplace (log) and normal (lin, estimated noise parameter) data."""
    t = (0.0, 1.0, 4.0)
    m = []
    for c in ("m_plain", "m_species_id", "m_species_num", "m_volume", "pre"):
        m += (meas_rows(rng, "obs_B", c, t, preeq="pre", np_="sig_B")
              + meas_rows(rng, "obs_C", c, t, preeq="pre"))
    return Spec(
        parameters=[par("k1", 0.8), par("k2", 0.6, "log"), par("ksyn", 1.0),
                    par("kdeg", 0.5, "lin", lb=0.05, ub=5), par("A0", 1.0),
                    par("stim_pre", 0.7), par("B_add", 0.4, "lin", lb=0.01, ub=5),
                    par("sig_B", 0.15, "log")],
        observables=[obs("obs_B", "B", "noiseParameter1_obs_B"),
                     obs("obs_C", "C", 0.1, "log", "laplace")],
        conditions=[
            {"conditionId": "pre", "stim": "stim_pre", "cell": 1, "B": "", "C": ""},
            {"conditionId": "m_plain", "stim": 2, "cell": 1, "B": "", "C": ""},
            {"conditionId": "m_species_id", "stim": 3, "cell": 1, "B": "B_add", "C": ""},
            {"conditionId": "m_species_num", "stim": 1, "cell": 1, "B": "", "C": 0.3},
            {"conditionId": "m_volume", "stim": 2, "cell": 2, "B": "", "C": ""}],
        measurements=m,
        features=("preeq", "shared_preeq", "cond_param_id", "cond_param_number",
                  "cond_species_id", "cond_species_number", "cond_compartment_number",
                  "laplace", "log", "noise_params", "scales"),
        check=_check_shared_preeq,
    )


def _check_shared_preeq(problem, obj, ev):
    """Every condition starts from the pre-equilibrium under stim_pre (B and C
    overridden where the condition says so)."""
    th = dict(zip(obj.x_names, native(problem, ev.x), strict=True))
    k1 = th["k1"] * th["stim_pre"]
    b_ss = th["A0"] * k1 / (k1 + th["k2"])
    c_ss = th["ksyn"] * b_ss / th["kdeg"]
    want = {("obs_B", "m_species_id"): th["B_add"], ("obs_C", "m_species_num"): 0.3}
    m = problem.measurements
    n = 0
    for i in range(len(m)):
        if m.time[i] == 0.0:
            key = (m.observable[i], m.condition[i])
            default = b_ss if key[0] == "obs_B" else c_ss
            assert ev.simulation[i] == pytest.approx(want.get(key, default), rel=1e-6), key
            n += 1
    assert n == 10


SPECS = {
    f.__name__.removeprefix("spec_"): f
    for f in [
        spec_scales_obspars_noisepars,
        spec_laplace_log10_condition_ids,
        spec_preeq_species_id_log_noiseformula,
        spec_preeq_compartment_replicates,
        spec_preeq_compartment_species_restart,
        spec_compartment_change_between_phases,
        spec_compartment_species_obspars,
        spec_compartment_fixed_id_mixed_families,
        spec_mixed_transforms_estimated_sigma,
        spec_time_specific_replicates_laplace,
        spec_preeq_time_specific_two_noise_params,
        spec_shared_parameter_many_roles,
        spec_condition_values_in_formulas,
        spec_preeq_estimated_pre_condition_laplace,
        spec_preeq_t0_time_formula_log10,
        spec_mixed_families_shared_sigma,
        spec_noise_with_obs_placeholders_fixed_ids,
        spec_shared_theta_two_targets_all_log10,
        spec_preeq_ic_in_pre_laplace_state_noise,
        spec_preeq_same_condition_species_reset,
        spec_preeq_expression_condition_id,
        spec_preeq_main_species_overrides,
        spec_initial_value_parameter_in_conditions,
        spec_shared_preeq_many_main_conditions,
    ]
}
SPEC_NAMES = list(SPECS)
POINTS = ("nominal", "perturbed")


def every_problem(writer, folder) -> list[tuple[str, bngfit.Problem, np.ndarray]]:
    """Every problem of both catalogues with a seeded random point: (name, problem, x).

    ``writer`` is the ``problem_writer`` fixture, ``folder`` a temporary folder for
    the :data:`SPECS` problems.
    """
    cases = []
    for name in sorted(BUILDERS):
        rng = np.random.default_rng(sum(map(ord, name)))
        out, _ = BUILDERS[name](writer, name, rng)
        problem = out if isinstance(out, bngfit.Problem) else bngfit.load_problem(out)
        cases.append((name, problem, random_point(problem, rng)))
    for name in SPEC_NAMES:
        rng = np.random.default_rng(1000 + SPEC_NAMES.index(name))
        problem = bngfit.load_problem(write_spec(folder / name, SPECS[name](rng)))
        cases.append((name, problem, random_point(problem, rng)))
    return cases
