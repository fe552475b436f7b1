"""What the tests share: paths, problem writers, models with closed forms, oracles.

Every piece that more than one test module uses lives here (fixtures live in
``conftest.py``, the gradient problem catalogues in ``catalogue.py``):

- paths and skips: the repository, ``../shared``, the examples, BioNetGen;
- the PEtab problem writer and builders of table rows;
- the conversion reaction A <-> B: its Antimony text and closed form, and the
  problems built on it (recovery fits, normalization and penalty tests);
- the blow-up model X' = k X^2 and its problem;
- the pre-equilibration model (production -> A <-> B -> degradation) and its
  closed form with derivatives;
- the one-species BNGL model of the model-text security tests;
- finite-difference oracles (gradient, residual Jacobian) and the comparisons
  that judge an exact derivative against them.

Expected values are computed here from closed forms and differences, never by
bngfit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm, expm_frechet

import bngfit

# ------------------------------------------------------------------ paths and skips
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLE = REPO / "examples" / "conversion" / "problem.yaml"
EDITION2 = REPO / "examples" / "pybnf_edition2"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test when that material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared material not found: {path}")
    return path


def copy_into(src: Path, tmp_path: Path) -> Path:
    """A copy of the folder ``src`` in ``tmp_path`` (same name); its path."""
    d = tmp_path / src.name
    shutil.copytree(src, d)
    return d


def conf_with_unknown_key(tmp_path: Path) -> Path:
    """The PyBNF demo (demo_xml.conf) with a misspelt key on line 12: a load warning."""
    d = copy_into(shared_path("benchmarks", "pybnf", "demo"), tmp_path)
    conf = d / "demo_xml.conf"
    conf.write_text(conf.read_text().replace("objfunc = chi_sq",
                                             "objfunc = chi_sq\nobjfnc = sos"))
    return conf


def _bng_available() -> bool:
    try:
        from bngsim._bngpath import resolve_bng
    except ImportError:
        return False
    return bool(resolve_bng().ok)


needs_bng = pytest.mark.skipif(not _bng_available(), reason="BioNetGen (BNG2.pl) not found")


def bng2_path() -> Path:
    """BNG2.pl as bngsim finds it; skips the test without BioNetGen."""
    from bngsim._bngpath import resolve_bng

    r = resolve_bng(None)
    if not r.ok:
        pytest.skip("BNG2.pl not found")
    return Path(r.bng2_pl)


# ------------------------------------------------------------------ PEtab problems
def _tsv(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["\t".join(cols)]
    lines += ["\t".join("" if r.get(c) is None else str(r.get(c)) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def write_problem(
    folder: Path,
    *,
    model: str,
    parameters: list[dict],
    observables: list[dict],
    measurements: list[dict],
    conditions: list[dict] | None = None,
    model_name: str = "model.ant",
) -> Path:
    """Write a PEtab v1 problem into ``folder`` and return its YAML path.

    ``model`` is the model file's text (Antimony by default, see
    ``model_name``); the tables are lists of row dicts (missing cells empty).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / model_name).write_text(model)
    (folder / "parameters.tsv").write_text(_tsv(parameters))
    (folder / "observables.tsv").write_text(_tsv(observables))
    (folder / "measurements.tsv").write_text(_tsv(measurements))
    conds = conditions if conditions is not None else [{"conditionId": "c0"}]
    (folder / "conditions.tsv").write_text(_tsv(conds))
    yaml_path = folder / "problem.yaml"
    yaml_path.write_text(
        "format_version: 1\n"
        "parameter_file: parameters.tsv\n"
        "problems:\n"
        f"- sbml_files: [{model_name}]\n"
        "  condition_files: [conditions.tsv]\n"
        "  observable_files: [observables.tsv]\n"
        "  measurement_files: [measurements.tsv]\n"
    )
    return yaml_path


def par(pid, nominal, scale="log10", estimate=1, lb=None, ub=None):
    """A parameter-table row: bounds a factor 100 around the nominal value (-100 to
    100 on the lin scale) unless given."""
    if lb is None:
        lb = nominal / 100 if scale != "lin" else -100
    if ub is None:
        ub = nominal * 100 if scale != "lin" else 100
    return {"parameterId": pid, "parameterScale": scale, "lowerBound": lb, "upperBound": ub,
            "nominalValue": nominal, "estimate": estimate}


MEAS_TIMES = (0.5, 1.0, 2.0, 4.0, 8.0)


def meas_rows(rng, obs, cond, times=MEAS_TIMES, *, preeq=None, lo=0.2, hi=1.5, op=None,
              np_=None):
    """Measurement rows with seeded random positive values (data need not fit the model).

    ``op`` / ``np_``: the observableParameters / noiseParameters cell, or a
    function of the time that gives it.
    """
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


# ------------------------------------------------------------- A <-> B, the conversion
def _num(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def conversion_model(*, a0: float = 1.0, b0: float = 0.0, k1: float = 0.8, k2: float = 0.6,
                     compartment: bool = True, a0_param: bool = False,
                     rules: tuple[str, ...] = ()) -> str:
    """Antimony text of the conversion reaction A <-> B (fwd ``k1*A``, rev ``k2*B``).

    Parameters
    ----------
    a0, b0 : the initial values of A and B.
    k1, k2 : the model's rate constants.
    compartment : A and B live in the compartment ``cell`` of size 1 (which a
        condition can resize); without it, in Antimony's default compartment.
    a0_param : A's initial value is the model parameter ``A0`` (= a0), which the
        parameter and condition tables can set.
    rules : assignment rules (model expressions) added to the model, e.g.
        ``"flux := k1*A - k2*B"``.
    """
    lines = ["model conversion"]
    if compartment:
        lines += ["  compartment cell = 1;", "  species A in cell, B in cell;"]
    else:
        lines += ["  species A, B;"]
    if a0_param:
        lines += [f"  A = A0; B = {_num(b0)};",
                  f"  A0 = {_num(a0)}; k1 = {_num(k1)}; k2 = {_num(k2)};"]
    else:
        lines += [f"  A = {_num(a0)}; B = {_num(b0)};", f"  k1 = {_num(k1)}; k2 = {_num(k2)};"]
    lines += [f"  {rule};" for rule in rules]
    lines += ["  fwd: A -> B; k1*A;", "  rev: B -> A; k2*B;", "end"]
    return "\n".join(lines) + "\n"


def conversion_a(t, k1, k2, a0=1.0, b0=0.0):
    """A(t) of A <-> B from A(0) = a0, B(0) = b0.

    A(t) = A_inf + (a0 - A_inf) exp(-(k1 + k2) t) with A_inf = (a0 + b0) k2 / (k1 + k2).
    """
    a_inf = (a0 + b0) * k2 / (k1 + k2)
    return a_inf + (a0 - a_inf) * np.exp(-(k1 + k2) * np.asarray(t, float))


def conversion_b(t, k1, k2, a0=1.0, b0=0.0):
    """B(t) of A <-> B: the total a0 + b0 less A(t)."""
    return (a0 + b0) - conversion_a(t, k1, k2, a0, b0)


# Recovery: noise-free data from the closed form at RECOVERY_TRUE (the exact optimum).
RECOVERY_TRUE = {"k1": 0.8, "k2": 0.6, "scale": 2.0}
RECOVERY_TIMES = [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8]


def recovery_problem(problem_writer, name="rec", noise="normal"):
    """A <-> B with B observed scaled and A unscaled, noise-free data; its YAML path.

    ``problem_writer`` is the fixture of that name (or any writer with its signature).
    """
    true = RECOVERY_TRUE
    b = {t: conversion_b(t, true["k1"], true["k2"]) for t in RECOVERY_TIMES}
    meas = [{"observableId": "obs_B", "simulationConditionId": "c0", "time": t,
             "measurement": repr(float(true["scale"] * b[t]))} for t in RECOVERY_TIMES]
    # A = 1 - B is observed unscaled, which makes the scale identifiable.
    meas += [{"observableId": "obs_A", "simulationConditionId": "c0", "time": t,
              "measurement": repr(float(1.0 - b[t]))} for t in RECOVERY_TIMES]
    return problem_writer(
        name,
        model=conversion_model(k1=0.5, k2=0.5, compartment=False),
        parameters=[
            {"parameterId": p, "parameterScale": "log10", "lowerBound": 0.01,
             "upperBound": 100, "nominalValue": 1, "estimate": 1} for p in true
        ],
        observables=[{"observableId": "obs_B", "observableFormula": "scale * B",
                      "noiseFormula": "0.01", "noiseDistribution": noise},
                     {"observableId": "obs_A", "observableFormula": "A",
                      "noiseFormula": "0.01", "noiseDistribution": noise}],
        measurements=meas,
    )


# Normalization and penalties: A <-> B with A(0) = 1, evaluated at k1 = K1, k2 = K2
# (the model's own 0.5 and 0.3 are overridden by the parameter table).
NORM_MODEL = conversion_model(k1=0.5, k2=0.3, compartment=False)
NORM_TIMES = [0.5, 2.0, 3.0, 7.5]
K1, K2 = 0.7, 0.25


def closed_a(t, k1=K1, k2=K2):
    """A(t) of NORM_MODEL (A(0) = 1, B(0) = 0), by default at K1, K2."""
    return conversion_a(t, k1, k2)


# ------------------------------------------------------------------ blow-up
BLOWUP = """
model blowup
  species X;
  X = 1;
  k = 0.1;
  grow: -> X; k*X^2;
end
"""


def blowup_problem(problem_writer, k_true=0.2, nominal=0.1):
    """dX/dt = k X^2, X(0)=1: X(t) = 1/(1 - k t) blows up at t = 1/k, so with data
    up to t=2 every k > 0.5 fails to simulate (k in [0.01, 10], log10, nominal value
    ``nominal``). The loaded problem."""
    meas = [{"observableId": "obs_X", "simulationConditionId": "c0", "time": t,
             "measurement": repr(float(1.0 / (1.0 - k_true * t)))} for t in (0.5, 1.0, 1.5, 2.0)]
    path = problem_writer(
        "blowup", model=BLOWUP,
        parameters=[{"parameterId": "k", "parameterScale": "log10", "lowerBound": 0.01,
                     "upperBound": 10, "nominalValue": nominal, "estimate": 1}],
        observables=[{"observableId": "obs_X", "observableFormula": "X",
                      "noiseFormula": "0.1"}],
        measurements=meas,
    )
    return bngfit.load_problem(path)


# ---------------------------------------------------- pre-equilibration, closed form
# production -> A <-> B -> degradation, linear:
#   A' = k0 u - k1 A + k2 B,    B' = k1 A - (k2 + k3) B,
# steady state x*(u) = u c with c = (k0 (k2+k3) / (k1 k3), k0 / k3). The
# pre-equilibration condition has u = U_PRE, the measured one u = U_MAIN, so the
# measured phase starts at x0 = U_PRE c (or at B = B_reset where the condition
# sets the species) and follows x(t) = U_MAIN c + expm(M t) (x0 - U_MAIN c),
# M = [[-k1, k2], [k1, -(k2+k3)]].
PREEQ_MODEL = """
model preeq
  compartment cell = 1;
  species A in cell, B in cell;
  A = 0; B = 0;
  k0 = 2; k1 = 0.8; k2 = 0.3; k3 = 0.5; u = 1; B_reset = 0.25;
  prod: -> A; k0*u;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
  deg: B -> ; k3*B;
end
"""
PREEQ_TIMES = (0.0, 0.3, 1.0, 2.5, 6.0, 15.0)
PREEQ_SIGMA = 0.05
U_PRE, U_MAIN = 1.0, 3.0
PREEQ_FREE = ("k0", "k1", "k2", "k3", "B_reset")
PREEQ_THETA = {"k0": 2.0, "k1": 0.8, "k2": 0.3, "k3": 0.5, "B_reset": 0.25}


def _preeq_steady(p):
    """c = x*(u=1) and dc/dp (2, 5) in PREEQ_FREE order."""
    k0, k1, k2, k3 = p["k0"], p["k1"], p["k2"], p["k3"]
    a = k0 * (k2 + k3) / (k1 * k3)
    b = k0 / k3
    da = [(k2 + k3) / (k1 * k3), -a / k1, k0 / (k1 * k3), -k0 * k2 / (k1 * k3**2), 0.0]
    db = [1 / k3, 0.0, 0.0, -k0 / k3**2, 0.0]
    return np.array([a, b]), np.array([da, db])


def _preeq_matrix(p):
    k1, k2, k3 = p["k1"], p["k2"], p["k3"]
    m = np.array([[-k1, k2], [k1, -(k2 + k3)]])
    dm = {  # d M / d p for each free parameter
        "k0": np.zeros((2, 2)),
        "k1": np.array([[-1.0, 0.0], [1.0, 0.0]]),
        "k2": np.array([[0.0, 1.0], [0.0, -1.0]]),
        "k3": np.array([[0.0, 0.0], [0.0, -1.0]]),
        "B_reset": np.zeros((2, 2)),
    }
    return m, dm


def preeq_closed_form(p, reset_b: bool):
    """States (n_t, 2) and their derivatives (n_t, 2, 5) at PREEQ_TIMES of the measured phase.

    Derivatives: dc/dp by hand, d expm(M t)/dp by the Frechet derivative
    (scipy.linalg.expm_frechet, exact to rounding).
    """
    c, dc = _preeq_steady(p)
    m, dm = _preeq_matrix(p)
    x0 = U_PRE * c
    dx0 = U_PRE * dc
    if reset_b:
        x0 = np.array([x0[0], p["B_reset"]])
        dx0 = dx0.copy()
        dx0[1] = 0.0
        dx0[1, PREEQ_FREE.index("B_reset")] = 1.0
    xs = U_MAIN * c
    dxs = U_MAIN * dc
    out = np.empty((len(PREEQ_TIMES), 2))
    dout = np.empty((len(PREEQ_TIMES), 2, len(PREEQ_FREE)))
    for i, t in enumerate(PREEQ_TIMES):
        e = expm(m * t)
        out[i] = xs + e @ (x0 - xs)
        for j, name in enumerate(PREEQ_FREE):
            de = expm_frechet(m * t, dm[name] * t, compute_expm=False)
            dout[i, :, j] = dxs[:, j] + de @ (x0 - xs) + e @ (dx0[:, j] - dxs[:, j])
    return out, dout


# ------------------------------------------------------------------ BNGL
# One species decaying, A() -> 0 at rate k from A0 = 2: A(t) = 2 exp(-0.5 t).
BNGL_DECAY = """begin model
begin parameters
  k 0.5
  A0 2
end parameters
begin molecule types
  A()
end molecule types
begin seed species
  A() A0
end seed species
begin observables
  Molecules Atot A()
end observables
begin reaction rules
  A() -> 0 k
end reaction rules
end model
"""


# ------------------------------------------------------- finite-difference oracles
# Solver settings and tolerances of the gradient oracles (objective/test_gradients,
# objective/test_gradient_combinations, objective/test_hierarchical).
RTOL_SOLVER = 1e-11
ATOL_SOLVER = 1e-13
H = 1e-5  # central-difference step, optimizer space
GRAD_RTOL = 1e-5
GRAD_ATOL_REL = 1e-6  # absolute floor, relative to the FD vector's 2-norm
# Entries of d res/dx that are exactly zero (a residual that does not see a
# parameter) hold solver noise of order rtol*|res|/h in their differences.
SRES_ATOL_REL = 1e-5


def native(problem, x):
    """Native parameter values of optimizer-space x (free parameters, in order)."""
    codes = [p.scale.value for p in problem.free]
    return np.array([v if c == "lin" else (np.exp(v) if c == "log" else 10.0**v)
                     for v, c in zip(np.asarray(x, float), codes, strict=True)])


def random_point(problem, rng):
    """Nominal values perturbed by up to ~40% (native), in optimizer space."""
    vals = {}
    for p in problem.free:
        f = float(np.exp(rng.uniform(-0.35, 0.35)))
        vals[p.id] = p.nominal * f if p.nominal != 0 else rng.uniform(-0.1, 0.1)
    return problem.x_from_native(vals)


def perturbed_point(problem, rng):
    """Nominal values times exp(U(-0.3, 0.3)), kept inside the bounds; optimizer space."""
    vals = {}
    for p in problem.free:
        v = p.nominal * float(np.exp(rng.uniform(-0.3, 0.3)))
        lo, hi = p.lb + 0.01 * (p.ub - p.lb), p.ub - 0.01 * (p.ub - p.lb)
        vals[p.id] = min(max(v, lo), hi)
    x = problem.x_from_native(vals)
    assert np.all(x > problem.lb) and np.all(x < problem.ub)
    return x


def central_grad(obj, x, h: float = 1e-5):
    """Central differences of ``obj(x, sensi=1).fval``: the gradient's oracle.

    Evaluated with sensitivities on, exactly the solver settings of the
    gradient it is compared with.
    """
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (obj(x + e, sensi=1).fval - obj(x - e, sensi=1).fval) / (2 * h)
    return g


def central_res_jac(obj, x, h=H):
    """Central differences of ``ev.res``, shape (n_res, n_x)."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((obj(x + e, sensi=1).res - obj(x - e, sensi=1).res) / (2 * h))
    return np.array(cols).T


def _richardson(fun, x, i, h):
    """Richardson-extrapolated central difference of fun along x_i (O(h^4))."""

    def central(step):
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        return (fun(xp) - fun(xm)) / (2.0 * step)

    return (4.0 * central(h / 2) - central(h)) / 3.0


def richardson_grad_and_jac(obj, x, h_rel=2e-3):
    """Richardson-extrapolated differences: the gradient of fval and the Jacobian of
    res (None without residuals).

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


def assert_close_to_max(got, expected, rtol, names, what):
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


def assert_close(got, expected, names, what, rtol=GRAD_RTOL, atol_rel=GRAD_ATOL_REL):
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


# ------------------------------------------------------------- a linear model
# y(t) = a + slope * t with Gaussian noise of known sd: the negative
# log-likelihood is exactly quadratic in (a, slope), so profiles have closed forms.
LINEAR_TIMES = np.arange(0.0, 10.0)
LINEAR_SIGMA = 0.3
LINEAR_DATA = 2.0 + 0.7 * LINEAR_TIMES + np.random.default_rng(1).normal(
    0.0, LINEAR_SIGMA, LINEAR_TIMES.size)
LINEAR_MODEL = ("model m\n  species X, Z\n  X = 0; Z = 0\n  J0: -> X; 1\n  J1: -> Z; c\n"
                "  c = 1; k1 = 1; k2 = 1\nend\n")


def linear_problem(folder: Path, *, product: bool = False) -> Path:
    """PEtab problem ``y = a + b * t`` (X' = 1, X(0) = 0: X = t), noise sd 0.3.

    ``a`` and ``b`` are on lin scale; ``c`` (log10) drives a species no
    observable reads. ``product=True``: the slope is ``k1 * k2`` (both log10 in
    [0.01, 100]) instead of ``b``.
    """
    lin = {"parameterScale": "lin", "estimate": 1}
    log = {"parameterScale": "log10", "lowerBound": 0.01, "upperBound": 100,
           "nominalValue": 1, "estimate": 1}
    params = [{"parameterId": "a", "lowerBound": -10, "upperBound": 10, "nominalValue": 1,
               **lin}]
    if product:
        params += [{"parameterId": "k1", **log}, {"parameterId": "k2", **log}]
    else:
        params += [{"parameterId": "b", "lowerBound": -5, "upperBound": 5,
                    "nominalValue": 0.5, **lin}, {"parameterId": "c", **log}]
    return write_problem(
        folder, model=LINEAR_MODEL, parameters=params,
        observables=[{"observableId": "y", "observableFormula":
                      "a + k1 * k2 * X" if product else "a + b * X",
                      "noiseFormula": LINEAR_SIGMA}],
        measurements=[{"observableId": "y", "simulationConditionId": "c0", "time": t,
                       "measurement": m} for t, m in zip(LINEAR_TIMES, LINEAR_DATA,
                                                         strict=True)])
