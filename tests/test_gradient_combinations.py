"""Finite-difference oracle on problems that combine several features at once.

``test_gradients.py`` checks one feature per problem. Here every problem of a
fixed catalogue mixes three or more of: parameter scales lin/log/log10,
observable parameters overridden per measurement (numbers and ids), noise
formulas with estimated parameters, normal and Laplace noise, log and log10
observable transformations, condition-table overrides of parameters, species
initial values and compartment sizes (numbers, estimated and fixed parameter
ids), pre-equilibration together with condition overrides (the path that
carries sensitivities and the path that restarts from the pre-equilibrated
state), replicates and time-point-specific overrides.

All problems share one Antimony model (compiled code is cached by structure).
Each is checked at its nominal point and at a seeded perturbation inside the
bounds: ``ev.grad`` against central differences of ``fval`` (conftest's
``central_grad``, solver settings of the gradient), and for Gaussian problems
``ev.sres`` against central differences of ``ev.res`` and the convention pin
``grad = sres.T @ res``; runs without sensitivities must give the same value.
Closed-form checks make sure the overrides act (a gradient that is consistent
with a wrongly simulated problem passes every difference check), libpetab's
linter confirms that every problem is valid PEtab v1, and two valid problems
outside the catalogue pin a refusal (estimated compartment size) and an
acceptance (a condition value naming a model parameter).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import bngfit
from bngfit.problem import NoiseFamily

from .conftest import central_grad, write_problem
from .test_gradients import meas_rows

RTOL_SOLVER = 1e-11
ATOL_SOLVER = 1e-13
H = 1e-5  # central-difference step, optimizer space
GRAD_RTOL = 1e-5
GRAD_ATOL_REL = 1e-6  # absolute floor, relative to the FD vector's 2-norm
# Entries of d res/dx that are exactly zero (a residual that does not see a
# parameter) hold solver noise of order rtol*|res|/h in their differences.
SRES_ATOL_REL = 1e-5
TIMES = (0.5, 1.0, 2.0, 4.0, 8.0)

# A <-> B conserved, B drives the synthesis of C, stim scales the forward rate;
# one compartment whose size a condition can override (mass-action rates are
# amounts per time, so a volume V divides every rate of change by V); flux is
# a model expression (assignment rule) of states and parameters.
MODEL = """
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


def par(pid, nominal, scale="log10", estimate=1, lb=None, ub=None):
    """A parameter-table row (bounds a factor 100 around a positive nominal)."""
    if lb is None:
        lb = nominal / 100
    if ub is None:
        ub = nominal * 100
    return {"parameterId": pid, "parameterScale": scale, "lowerBound": lb,
            "upperBound": ub, "nominalValue": nominal, "estimate": estimate}


def obs(oid, formula, noise, transform="lin", family="normal"):
    return {"observableId": oid, "observableFormula": formula, "noiseFormula": noise,
            "observableTransformation": transform, "noiseDistribution": family}


def meas(rng, oid, cond, times=TIMES, **kwargs):
    """Measurement rows with seeded random positive values (data need not fit):
    ``test_gradients.meas_rows`` on this catalogue's times. ``op`` / ``np_``: the
    observableParameters / noiseParameters cell, or a function of the time."""
    return meas_rows(rng, oid, cond, times, **kwargs)


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


# ------------------------------------------------------------------ catalogue
def spec_scales_obspars_noisepars(rng):
    """All three scales; observable parameters (ids and numbers, per row); a noise
    formula with an estimated parameter and a noise parameter (id or number);
    condition overrides of a parameter by numbers."""
    m = (meas(rng, "obs_C", "c0", op="scale_a;off", np_="sig_C")
         + meas(rng, "obs_C", "c1", op="scale_b;0.05", np_="0.2")
         + meas(rng, "obs_C", "c1", (1.0, 4.0), op="1.3;off", np_="sig_C"))
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
    m = (meas(rng, "obs_B", "c0", np_="sig_B") + meas(rng, "obs_B", "c1", np_="sig_B")
         + meas(rng, "obs_B", "c2", np_="0.1")
         + sum((meas(rng, "obs_A", c) for c in ("c0", "c1", "c2")), []))
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_C", "main", t, preeq="pre")
         + meas(rng, "obs_B", "main", t, preeq="pre"))
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
    t = (0.0, *TIMES)
    m = []
    for _ in range(3):
        m += (meas(rng, "obs_B", "main", t, preeq="pre")
              + meas(rng, "obs_C", "main", t, preeq="pre", op="scale_C"))
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_C", "main", t, preeq="pre")
         + meas(rng, "obs_A", "main", t, preeq="pre", np_="sig_A"))
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_B", "main", t, preeq="pre", np_="sig_B")
         + meas(rng, "obs_C", "main", t, preeq="pre"))
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
    m = (meas(rng, "obs_A", "c0", op="s_A") + meas(rng, "obs_A", "c1", op="s_A")
         + meas(rng, "obs_A", "c2", op="1.0")
         + sum((meas(rng, "obs_C", c) for c in ("c0", "c1", "c2")), []))
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
    th = dict(zip(obj.x_names, _native(problem, ev.x), strict=True))
    vol = {"c0": 2.0, "c1": 0.5, "c2": 1.0}
    a_start = {"c0": th["A_init"], "c1": 1.5, "c2": th["A0"]}
    m = problem.measurements
    checked = 0
    for i in range(len(m)):
        if m.observable[i] != "obs_A":
            continue
        c = m.condition[i]
        k1, k2 = th["k1"] / vol[c], th["k2"] / vol[c]
        a = a_start[c] * (k2 + k1 * np.exp(-(k1 + k2) * m.time[i])) / (k1 + k2)
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
        m += (meas(rng, "obs_A", c) + meas(rng, "obs_B", c, np_="sig_B")
              + meas(rng, "obs_C", c))
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
    m = (meas(rng, "obs_A", "c0", np_="sA") + meas(rng, "obs_B", "c0", np_="sB")
         + meas(rng, "obs_C", "c0", np_="sC")
         + meas(rng, "obs_A", "c1", np_="0.1") + meas(rng, "obs_B", "c1", np_="sB")
         + meas(rng, "obs_C", "c1", np_="sC2"))
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
        m += meas(rng, "obs_B", c, op=op, np_=nps)
    m += meas(rng, "obs_B", "c0", (8.0, 4.0), op="s_late;0.05", np_="0.3")
    m += meas(rng, "obs_B", "c1", (1.0,), op="1.1;o_shared", np_="sig_late")
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

    t = (0.0, *TIMES)
    m = (meas(rng, "obs_C", "main", t, preeq="pre", np_=nps)
         + meas(rng, "obs_C", "main", (8.0, 8.0), preeq="pre", np_="0.05;sig_rel")
         + meas(rng, "obs_A", "main", t, preeq="pre"))
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
    m = (meas(rng, "obs_A", "c0", op="amp") + meas(rng, "obs_A", "c1", op="k2")
         + meas(rng, "obs_B", "c0") + meas(rng, "obs_B", "c1"))
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
        m += meas(rng, "obs_X", c) + meas(rng, "obs_C", c)
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_B", "main", t, preeq="pre")
         + meas(rng, "obs_C", "main", t, preeq="pre", np_="sig_C"))
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_T", "main", t, preeq="pre", op="off")
         + meas(rng, "obs_T", "main", (0.0, 2.0), preeq="pre", op="0.01"))
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
            m += meas(rng, "obs_A", c, np_="sig") + meas(rng, "obs_C", c, np_="sig")
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_B", "c0", op="s_B;off_fix", np_="rel_B")
         + meas(rng, "obs_B", "c1", op="s_B;0.1", np_="rel_fix")
         + meas(rng, "obs_A", "c0", t) + meas(rng, "obs_A", "c1", t)
         + meas(rng, "obs_A", "c2", (0.0,)))  # an experiment with data at t=0 only
    return Spec(
        parameters=[par("k1", 0.8, "log"), par("A_init", 1.4), par("s_B", 1.5, "lin",
                                                                  lb=0.1, ub=10),
                    par("rel_B", 0.2, "log"), par("rel_fix", 0.3, estimate=0),
                    par("off_fix", 0.05, "lin", estimate=0), par("k2_fix", 0.9, estimate=0)],
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
    m = (meas(rng, "obs_B", "c0") + meas(rng, "obs_C", "c0")
         + meas(rng, "obs_B", "c0", (0.0, 1.0, 4.0), preeq="c1")
         + meas(rng, "obs_C", "c0", (0.0, 1.0, 4.0), preeq="c1")
         + meas(rng, "obs_B", "c1") + meas(rng, "obs_C", "c1")
         + meas(rng, "obs_C", "c1", (0.0,), preeq="c0"))  # the pre-equilibrium only
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_C", "main", t, preeq="pre")
         + meas(rng, "obs_B", "main", t, preeq="pre"))
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
    t = (0.0, *TIMES)
    m = []
    for op in ("scale_1", "scale_2", "1.0"):
        m += meas(rng, "obs_B", "c0", t, preeq="c0", op=op, np_="sig_B")
    m += meas(rng, "obs_A", "c0", t, preeq="c0")
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_F", "main", t, preeq="pre", op="off_F", np_="sig_F", lo=-0.2,
              hi=0.8)
         + meas(rng, "obs_F", "main", (0.5, 2.0), preeq="pre", op="0.0", np_="0.1",
                lo=-0.2, hi=0.8)
         + meas(rng, "obs_B", "main", t, preeq="pre"))
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
    t = (0.0, *TIMES)
    m = (meas(rng, "obs_B", "main", t, preeq="pre",
              np_=lambda tt: "sig_a" if tt < 3 else "0.15")
         + meas(rng, "obs_C", "main", t, preeq="pre")
         + meas(rng, "obs_A", "main", t, preeq="pre"))
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
    th = dict(zip(obj.x_names, _native(problem, ev.x), strict=True))
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
    m = (meas(rng, "obs_A", "c0") + meas(rng, "obs_A", "c1")
         + meas(rng, "obs_A", "c1", (0.0, 1.0, 4.0), preeq="c0")
         + meas(rng, "obs_C", "c0", np_="sig_C") + meas(rng, "obs_C", "c1", np_="sig_C")
         + meas(rng, "obs_C", "c1", (0.0, 1.0, 4.0), preeq="c0", np_="0.2"))
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
    th = dict(zip(obj.x_names, _native(problem, ev.x), strict=True))
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
        m += (meas(rng, "obs_B", c, t, preeq="pre", np_="sig_B")
              + meas(rng, "obs_C", c, t, preeq="pre"))
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
    th = dict(zip(obj.x_names, _native(problem, ev.x), strict=True))
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
NAMES = list(SPECS)
POINTS = ("nominal", "perturbed")


# -------------------------------------------------------------------- helpers
def _native(problem, x):
    codes = [p.scale.value for p in problem.free]
    return np.array([v if c == "lin" else (np.exp(v) if c == "log" else 10.0**v)
                     for v, c in zip(np.asarray(x, float), codes, strict=True)])


def _perturbed(problem, rng):
    """Nominal values times exp(U(-0.3, 0.3)), kept inside the bounds; optimizer space."""
    vals = {}
    for p in problem.free:
        v = p.nominal * float(np.exp(rng.uniform(-0.3, 0.3)))
        lo, hi = p.lb + 0.01 * (p.ub - p.lb), p.ub - 0.01 * (p.ub - p.lb)
        vals[p.id] = min(max(v, lo), hi)
    x = problem.x_from_native(vals)
    assert np.all(x > problem.lb) and np.all(x < problem.ub)
    return x


def _central_res_jac(obj, x, h=H):
    """Central differences of ``ev.res``, shape (n_res, n_x)."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((obj(x + e, sensi=1).res - obj(x - e, sensi=1).res) / (2 * h))
    return np.array(cols).T


def _close(got, expected, names, what, rtol=GRAD_RTOL, atol_rel=GRAD_ATOL_REL):
    """|got - expected| <= rtol*|expected| + atol_rel*scale, entrywise.

    ``scale`` is the 2-norm of a vector, the largest |entry| of a matrix. The
    floor admits entries that are (nearly) zero, where the differences hold
    only solver noise: with ``rtol=1e-11`` and ``h=1e-5`` that noise is ~1e-6
    of the gradient's size (it drops below 1e-7 at h=1e-4: no gradient error).
    """
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if not expected.size:
        scale = 1.0
    elif expected.ndim == 1:
        scale = float(np.linalg.norm(expected))
    else:
        scale = float(np.max(np.abs(expected)))
    err = np.abs(got - expected)
    bad = err > rtol * np.abs(expected) + atol_rel * scale
    if np.any(bad):
        lines = [f"{what}: {int(bad.sum())} of {bad.size} entries off; first:"]
        for ix in np.argwhere(bad)[:8]:
            ix = tuple(ix)
            lines.append(f"  {ix} ({names[ix[-1]]}): got {got[ix]:.12g}, "
                         f"expected {expected[ix]:.12g}")
        pytest.fail("\n".join(lines))


def _laplace_rows(problem):
    fam = {o.id: o.family for o in problem.observables.values()}
    return np.array([fam[o] is NoiseFamily.LAPLACE for o in problem.measurements.observable])


@dataclass
class Built:
    spec: Spec
    problem: bngfit.Problem
    obj: bngfit.Objective
    x: dict  # point name -> x
    ev: dict  # point name -> Evaluation (sensi=1)
    fd: dict  # point name -> central differences of fval


_BUILT: dict[str, Built] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``built(name)``: the catalogue entry's problem, objective, points and FD
    gradients, computed once per module."""

    def get(name: str) -> Built:
        if name not in _BUILT:
            rng = np.random.default_rng(1000 + NAMES.index(name))
            spec = SPECS[name](rng)
            yaml = write_problem(tmp_path_factory.mktemp(name), model=MODEL,
                                 parameters=spec.parameters, observables=spec.observables,
                                 measurements=spec.measurements, conditions=spec.conditions)
            problem = bngfit.load_problem(yaml)
            obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
            xs = {"nominal": problem.x_nominal, "perturbed": _perturbed(problem, rng)}
            evs, fds = {}, {}
            for k, x in xs.items():
                ev = obj(x, sensi=1)
                assert ev.ok, ev.message
                evs[k] = ev
                fds[k] = central_grad(obj, x, h=H)
            _BUILT[name] = Built(spec, problem, obj, xs, evs, fds)
        return _BUILT[name]

    yield get
    _BUILT.clear()


CASES = [(n, p) for n in NAMES for p in POINTS]
CASE_IDS = [f"{n}-{p}" for n, p in CASES]


# ---------------------------------------------------------------------- tests
def test_catalogue_combines_features():
    """Every entry mixes at least three features, and together they cover the list."""
    rng = np.random.default_rng(0)
    covered = set()
    for name in NAMES:
        spec = SPECS[name](rng)
        assert len(set(spec.features)) >= 3, name
        covered |= set(spec.features)
    assert {"scales", "obs_params", "noise_formula_estimated", "noise_params", "laplace",
            "log", "log10", "cond_param_number", "cond_param_id", "cond_species_number",
            "cond_species_id", "cond_compartment_number", "cond_compartment_fixed_id",
            "preeq", "replicates", "time_specific"} <= covered


@pytest.mark.parametrize(("name", "point"), CASES, ids=CASE_IDS)
def test_grad_matches_central_differences(name, point, built):
    b = built(name)
    ev, fd = b.ev[point], b.fd[point]
    assert np.all(np.isfinite(ev.grad))
    _close(ev.grad, fd, b.obj.x_names, f"{name}@{point}: grad vs central FD of fval")
    # Every free parameter must reach the objective, else the check proves little.
    top = np.max(np.abs(fd))
    for i, pid in enumerate(b.obj.x_names):
        if pid in b.spec.may_vanish:
            assert abs(ev.grad[i]) <= 1e-9 * top, f"{pid} should have no effect"
        else:
            assert abs(fd[i]) > 1e-6 * top, f"{pid} has no effect on the objective"
    # Laplace terms: the differences must not straddle a kink |z - zm| = 0.
    lap = _laplace_rows(b.problem)
    if lap.any():
        gap = np.abs(ev.simulation - b.problem.measurements.value)[lap]
        assert gap.min() > 1e-3


@pytest.mark.parametrize(("name", "point"), CASES, ids=CASE_IDS)
def test_residual_form(name, point, built):
    """Gaussian problems: sres = central FD of res, and grad = sres.T @ res.

    With constant sigma the residuals are the data's only and the identity is
    the plain least-squares one. Where sigma moves with the parameters the NLL
    has the extra log sigma term, so the data residuals alone do not give the
    gradient; bngfit appends one sigma residual sqrt(2 log sigma + 120) per
    such data point, which restores ``grad = sres.T @ res`` (checked here
    together with sres against differences of res). Laplace (or mixed)
    problems have no residual form.
    """
    b = built(name)
    obj, ev, x = b.obj, b.ev[point], b.x[point]
    n_meas = len(b.problem.measurements)
    if _laplace_rows(b.problem).any():
        assert not obj.has_residuals
        assert ev.res is None and ev.sres is None
        return
    assert obj.has_residuals
    n_sigma = obj.plan.sigma_rows.size
    assert ev.res.shape == (n_meas + n_sigma,)
    assert ev.sres.shape == (n_meas + n_sigma, x.size)
    np.testing.assert_allclose(
        ev.res[:n_meas], (_transformed(b.problem, ev.simulation)
                          - _transformed(b.problem, b.problem.measurements.value)) / ev.sigma,
        rtol=1e-12, atol=1e-14)
    _close(ev.sres, _central_res_jac(obj, x), obj.x_names,
           f"{name}@{point}: sres vs central FD of res", atol_rel=SRES_ATOL_REL)
    _close(ev.grad, ev.sres.T @ ev.res, obj.x_names,
           f"{name}@{point}: grad vs sres.T @ res", rtol=1e-9, atol_rel=1e-12)
    # fval = 0.5 * chi2 of the data + sum 0.5 log(2 pi sigma^2) + log-scale terms
    data = ev.res[:n_meas]
    assert ev.fval == pytest.approx(0.5 * float(data @ data)
                                    + _gauss_const(b.problem, ev.sigma), rel=1e-11)
    if n_sigma:
        rows = obj.plan.sigma_rows
        sr = ev.res[n_meas:]
        assert 0.5 * float(sr @ sr) == pytest.approx(
            float(np.sum(np.log(ev.sigma[rows]))) + 60.0 * n_sigma, rel=1e-12)
        # the data residuals alone miss the log sigma term's gradient
        partial = ev.sres[:n_meas].T @ data
        assert np.max(np.abs(partial - ev.grad)) > 1e-3 * np.linalg.norm(ev.grad)


@pytest.mark.parametrize("name", NAMES)
def test_value_without_sensitivities_agrees(name, built):
    """fval of a run without sensitivities (another code path in the engine,
    including its own pre-equilibration sharing) equals the sensitivity run's
    to solver accuracy, and repeating the evaluation reproduces it."""
    b = built(name)
    for point in POINTS:
        x = b.x[point]
        b.obj.clear_cache()
        plain = b.obj(x, sensi=0)
        assert plain.ok, plain.message
        assert plain.grad is None
        assert plain.fval == pytest.approx(b.ev[point].fval, rel=1e-8)
        np.testing.assert_allclose(plain.simulation, b.ev[point].simulation, rtol=1e-7,
                                   atol=1e-10)
        b.obj.clear_cache()
        again = b.obj(x, sensi=1)
        assert again.fval == b.ev[point].fval
        np.testing.assert_array_equal(again.grad, b.ev[point].grad)


def _transformed(problem, values):
    tr = [problem.observables[o].transform.value for o in problem.measurements.observable]
    v = np.asarray(values, float)
    return np.array([x if t == "lin" else (np.log(x) if t == "log" else np.log10(x))
                     for x, t in zip(v, tr, strict=True)])


def _gauss_const(problem, sigma):
    """sum 0.5 log(2 pi sigma^2) plus the change-of-variables terms of log scales."""
    m = problem.measurements
    total = float(np.sum(0.5 * np.log(2 * np.pi * sigma**2)))
    for oid, v in zip(m.observable, m.value, strict=True):
        t = problem.observables[oid].transform.value
        total += 0.0 if t == "lin" else (np.log(v) if t == "log" else np.log(v * np.log(10)))
    return total


@pytest.mark.parametrize("name", ["compartment_species_obspars",
                                  "preeq_main_species_overrides",
                                  "initial_value_parameter_in_conditions",
                                  "shared_preeq_many_main_conditions"])
def test_overrides_act(name, built):
    """Closed-form checks that the overrides the gradients go through do act
    (a gradient consistent with a wrongly simulated problem passes FD checks)."""
    b = built(name)
    for point in POINTS:
        b.spec.check(b.problem, b.obj, b.ev[point])


def test_preeq_reaches_the_pre_condition_steady_state(built):
    """t=0 data after pre-equilibration (compartment 2, stim 1) are the steady
    state B = A0 k1/(k1 + k2), C = ksyn B/kdeg (the volume cancels), not the
    model's initial state, although the main condition has stim 3."""
    b = built("preeq_compartment_replicates")
    m = b.problem.measurements
    for point in POINTS:
        ev = b.ev[point]
        th = dict(zip(b.obj.x_names, _native(b.problem, ev.x), strict=True))
        b_ss = th["A0"] * th["k1"] / (th["k1"] + th["k2"])
        want = {"obs_B": b_ss, "obs_C": th["scale_C"] * th["ksyn"] * b_ss / th["kdeg"]}
        sel = np.flatnonzero(m.time == 0.0)
        assert sel.size == 6
        for i in sel:
            assert ev.simulation[i] == pytest.approx(want[m.observable[i]], rel=1e-6)


# ------------------------------------------------------- validity and refusals
def _sbml_of_model() -> str:
    antimony = pytest.importorskip("antimony")
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(MODEL) >= 0, antimony.getLastError()
    return antimony.getSBMLString("combo")


def _petab_lint(folder, sbml: str) -> bool:
    """True if libpetab's v1 linter reports errors for the problem in ``folder``."""
    pv1 = pytest.importorskip("petab.v1")
    from petab.v1.models.sbml_model import SbmlModel

    with warnings.catch_warnings():  # libpetab's pandas deprecations
        warnings.simplefilter("ignore")
        problem = pv1.Problem(
            model=SbmlModel.from_string(sbml),
            condition_df=pv1.get_condition_df(str(folder / "conditions.tsv")),
            measurement_df=pv1.get_measurement_df(str(folder / "measurements.tsv")),
            observable_df=pv1.get_observable_df(str(folder / "observables.tsv")),
            parameter_df=pv1.get_parameter_df(str(folder / "parameters.tsv")))
        return bool(pv1.lint_problem(problem))


def _write(folder, spec: Spec):
    return write_problem(folder, model=MODEL, parameters=spec.parameters,
                         observables=spec.observables, measurements=spec.measurements,
                         conditions=spec.conditions)


def test_catalogue_is_valid_petab_v1(tmp_path):
    """libpetab's linter accepts every catalogue problem (with the model as SBML),
    and rejects a deliberately broken one (so the check can fail)."""
    sbml = _sbml_of_model()
    for name in NAMES:
        spec = SPECS[name](np.random.default_rng(1000 + NAMES.index(name)))
        _write(tmp_path / name, spec)
        assert not _petab_lint(tmp_path / name, sbml), name
    broken = SPECS[NAMES[0]](np.random.default_rng(0))
    broken.parameters.append(par("stim", 1.0))  # also a condition column: invalid
    _write(tmp_path / "broken", broken)
    assert _petab_lint(tmp_path / "broken", sbml)


def _small_spec(rng, conditions, parameters):
    return Spec(parameters=[par("k1", 0.8), par("k2", 0.6), *parameters],
                observables=[obs("obs_B", "B", 0.1)],
                conditions=conditions,
                measurements=meas(rng, "obs_B", "c0") + meas(rng, "obs_B", "c1"),
                features=())


def test_estimated_compartment_size_is_refused_clearly(tmp_path):
    """PEtab v1 lets a condition set a compartment size to an estimated parameter;
    bngfit refuses it on purpose (bngsim has no volume sensitivities), before
    any simulation, naming the condition and the compartment."""
    spec = _small_spec(np.random.default_rng(7),
                       [{"conditionId": "c0", "cell": "vol"},
                        {"conditionId": "c1", "cell": 1}], [par("vol", 1.5)])
    yaml = _write(tmp_path / "p", spec)
    assert not _petab_lint(tmp_path / "p", _sbml_of_model())
    with pytest.raises(bngfit.UnsupportedError) as err:
        bngfit.Objective(bngfit.load_problem(yaml))
    text = str(err.value)
    assert "cell" in text and "c0" in text and "volume" in text


def test_condition_value_naming_a_model_parameter(tmp_path):
    """PEtab v1 lets a condition value be an id 'defined in the SBML model, the
    parameter table or both': stim is set to the model's kdeg = 0.5 (not in the
    parameter table) in c0 and to a number in c1, with pre-equilibration and an
    estimated noise parameter. (bngfit at a98405a refused this with an
    InputError from petab_io._read_conditions.)"""
    rng = np.random.default_rng(11)
    spec = _small_spec(rng, [{"conditionId": "c0", "stim": "kdeg"},
                             {"conditionId": "c1", "stim": 2}], [par("sig", 0.1)])
    spec.observables = [obs("obs_B", "B", "sig")]
    spec.measurements += meas(rng, "obs_B", "c0", preeq="c1")
    yaml = _write(tmp_path / "p", spec)
    assert not _petab_lint(tmp_path / "p", _sbml_of_model())
    problem = bngfit.load_problem(yaml)
    obj = bngfit.Objective(problem, rtol=RTOL_SOLVER, atol=ATOL_SOLVER)
    x = problem.x_nominal
    ev = obj(x, sensi=1)
    assert ev.ok, ev.message
    _close(ev.grad, central_grad(obj, x, h=H), obj.x_names, "grad vs central FD")
    # c0 runs with stim = kdeg = 0.5 (the model's value): B(t) of the conversion
    th = dict(zip(obj.x_names, _native(problem, x), strict=True))
    m = problem.measurements
    k1, k2 = 0.5 * th["k1"], th["k2"]
    for i in range(len(m)):
        if m.condition[i] == "c0" and not m.preeq[i]:
            b = k1 / (k1 + k2) * (1 - np.exp(-(k1 + k2) * m.time[i]))
            assert ev.simulation[i] == pytest.approx(b, rel=1e-7)
