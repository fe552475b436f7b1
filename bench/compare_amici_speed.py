"""Speed of bngfit against AMICI: one value and one value+gradient at the nominal point.

Per PEtab problem (every problem folder of ``FOLDER``, default
``../shared/benchmarks/petab``, or the YAML files given), one row:

- bngfit load: ``bngfit.load_problem`` + ``Objective`` + the first evaluation with
  sensitivities (load, compile, first code generation; a second run measures the
  warm caches);
- AMICI import: ``import_petab_problem`` of the model compiled under ``--model-dir``
  (the first time, the model is compiled there and the column shows that time);
- for two tolerance settings, (a) each tool at its defaults (bngfit's ``Objective``:
  rtol 1e-8, atol 1e-10; AMICI's solver: rtol 1e-8, atol 1e-16) and (b) both at
  ``--rtol``/``--atol`` (default 1e-8/1e-10): the median wall time of a value
  (bngfit ``obj(x, sensi=0)``, AMICI sensitivity order none) and of a value+gradient
  (bngfit ``obj(x, sensi=1)``, AMICI first-order forward sensitivities, also in
  pre-equilibration), the ratio bngfit/AMICI of each, and the share of bngfit's
  value+gradient time spent in bngsim's C++ core run
  (``bngsim.Simulator._run_ode_with_jacobian_fallback``, see ``engine_adapter.py``).

Calls are interleaved (bngfit, AMICI, bngfit, ...) after untimed warm-up calls,
``--reps`` of each (fewer when ``--max-seconds`` per problem would be exceeded, at
least 3), at the nominal point moved by 1e-9 * (k + 1) in call k so that no
one-point cache answers (both tools get the same point). AMICI is timed on the path
a pyPESTO user gets: the ExpData list and the parameter mapping are built once; a
call fills in the parameters for x (``fill_in_parameters``), runs
``run_simulations(..., num_threads=1)`` and sums llh and sllh (gradient with respect
to the parameters on their PEtab scale, bngfit's x). That path's llh and gradient
are checked once per problem against ``simulate_petab``'s. AMICI may take 10**7
steps (as in ``compare_amici.py``). bngfit runs on ``--bngfit-threads`` threads
(default 1, as AMICI here; 0 keeps bngfit's default of one thread per usable core,
and the C++ share, summed over threads, may then exceed 100%). The ``fval``
column says whether bngfit's fval (-log-likelihood with all constants) and
AMICI's -llh agree to 1e-4 * max(1, |fval|) in both settings.

AMICI is not a dependency of bngfit; install it in a separate virtual environment
(AMICI 1.1 needs Python >= 3.12), e.g.::

    /root/.pyenv/versions/3.12.1/bin/python -m venv /tmp/amici-venv
    . /tmp/amici-venv/bin/activate
    pip install "amici[petab]" antimony && pip install -e .
    python bench/compare_amici_speed.py [FOLDER | problem.yaml ...] [--reps 15]

The AMICI import (Antimony conversion, model cache, compiler output) is that of
``compare_amici.py``, whose docstring says more. Exit status: 0, or 2 if AMICI is
not importable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_amici as ca  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT.parent / "shared" / "benchmarks" / "petab"
SETTINGS = ("a", "b")  # (a) each tool's defaults, (b) equal tolerances
MODES = ("val", "grad")
MAX_STEPS = 10**7


class AmiciFast:
    """AMICI on the pyPESTO path: ExpDatas and mapping built once, fill in and run per call."""

    def __init__(self, side: ca.AmiciSide, names: list[str]) -> None:
        import amici.sim.sundials as asd
        from amici.sim.sundials.petab.v1 import create_edatas, fill_in_parameters
        from amici.sim.sundials.petab.v1._parameter_mapping import create_parameter_mapping

        self.asd, self._fill = asd, fill_in_parameters
        self.model, pp = side.model, side.petab_problem
        conds = pp.get_simulation_conditions_from_measurement_df()
        self.mapping = create_parameter_mapping(petab_problem=pp, simulation_conditions=conds,
                                                scaled_parameters=True, amici_model=self.model)
        self.edatas = create_edatas(amici_model=self.model, petab_problem=pp,
                                    simulation_conditions=conds)
        free = self.mapping.free_symbols
        self.defaults = {k: v for k, v in zip(pp.x_ids, pp.get_x_nominal(scaled=True),
                                              strict=True) if k in free}
        self.names = names
        self._idx: list[np.ndarray] | None = None

    def solver(self, sensi: int, rtol: float | None, atol: float | None):
        """A solver: forward sensitivities of order ``sensi``; tolerances if not None."""
        asd = self.asd
        s = self.model.create_solver()
        s.set_sensitivity_order(asd.SensitivityOrder.first if sensi
                                else asd.SensitivityOrder.none)
        s.set_sensitivity_method(asd.SensitivityMethod.forward)
        s.set_sensitivity_method_pre_equilibration(asd.SensitivityMethod.forward)
        if rtol is not None:
            s.set_relative_tolerance(rtol)
            s.set_absolute_tolerance(atol)
        s.set_max_steps(MAX_STEPS)
        return s

    def _gradient_index(self) -> list[np.ndarray]:
        """Per ExpData: the position in x of each sllh entry (-1: not estimated)."""
        pos = {n: i for i, n in enumerate(self.names)}
        free_ids = self.model.get_free_parameter_ids()
        out = []
        for edata, cmap in zip(self.edatas, self.mapping, strict=True):
            plist = list(edata.plist) or range(len(free_ids))
            out.append(np.array([pos.get(cmap.map_sim_var[free_ids[ip]], -1)
                                 if isinstance(cmap.map_sim_var[free_ids[ip]], str) else -1
                                 for ip in plist], dtype=int))
        return out

    def __call__(self, x: np.ndarray, solver, sensi: int) -> tuple[float, np.ndarray | None]:
        """(-llh, -sllh or None) at x, on the parameters' PEtab scales."""
        params = self.defaults | dict(zip(self.names, x.tolist(), strict=True))
        self._fill(self.edatas, params, True, self.mapping, self.model)
        rdatas = self.asd.run_simulations(self.model, solver, self.edatas, num_threads=1)
        for r in rdatas:
            if r.status != self.asd.AMICI_SUCCESS:
                raise RuntimeError(f"AMICI simulation status {r.status}")
        llh = sum(r.llh for r in rdatas)
        if not sensi:
            return -llh, None
        if self._idx is None:
            self._idx = self._gradient_index()
        g = np.zeros(len(self.names))
        for r, idx in zip(rdatas, self._idx, strict=True):
            keep = idx >= 0
            np.add.at(g, idx[keep], np.asarray(r.sllh)[keep])
        return -llh, -g


def _flattened(yaml_path: Path, workdir: Path) -> tuple[Path, str]:
    """The YAML for AMICI, flattened (as pyPESTO does) if it has timepoint-specific
    observable or noise parameter overrides, which AMICI's import refuses; and a note."""
    import petab.v1 as petab

    pp = petab.Problem.from_yaml(str(yaml_path))
    lint = petab.lint
    numeric_ok = not lint.observable_table_has_nontrivial_noise_formula(pp.observable_df)
    if not lint.measurement_table_has_timepoint_specific_mappings(
            pp.measurement_df, allow_scalar_numeric_noise_parameters=numeric_ok):
        return yaml_path, ""
    pp.visualization_df = None  # not needed (flattening would warn that it drops it)
    petab.flatten_timepoint_specific_output_overrides(pp)
    dest = workdir / (ca._ident(ca._label(yaml_path)) + "_flat")
    out = Path(pp.to_files_generic(dest))
    named = out.with_name(yaml_path.name)  # the label (and model name) come from the name
    out.rename(named)
    return named, ("timepoint-specific overrides flattened for AMICI "
                   "(petab.flatten_timepoint_specific_output_overrides)")


def _why(what: str, e: Exception) -> str:
    """A one-line reason: the end of the first line of the message (it names the cause)."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = msg if len(msg) <= 150 else "..." + msg[-147:]
    return f"{what} failed: {type(e).__name__}: {msg}"


def _timed(f, *args) -> tuple[float, object]:
    t = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t, out


def _bng(obj, x: np.ndarray, sensi: int):
    ev = obj(x, sensi=sensi)
    if not np.isfinite(ev.fval):
        raise RuntimeError(f"bngfit evaluation failed: {ev.message}")
    return ev


def measure(obj, fast: AmiciFast, solvers: dict, x0: np.ndarray, args, clock) -> dict:
    """Median times (s), ratios and C++ share per (setting, mode), and fval agreement."""
    out: dict = {"fval_ok": True, "fvals": []}
    plan = []
    for s in SETTINGS:
        for m, sensi in zip(MODES, (0, 1), strict=True):
            ta = tb = 0.0
            for w in range(args.warmup):  # the first at x0: the fvals compared
                xw = x0 + 1e-9 * (w + 1000) if w else x0
                tb, ev = _timed(_bng, obj[s], xw, sensi)
                ta, (fa, _) = _timed(fast, xw, solvers[s, sensi], sensi)
                if max(ta, tb) > 1.0:
                    break
            if args.warmup and sensi:
                fb = float(ev.fval)
                out["fvals"].append((s, fb, fa))
                out["fval_ok"] &= abs(fb - fa) <= 1e-4 * max(1.0, abs(fa))
            plan.append((s, m, sensi, ta + tb))
    per_loop = args.max_seconds / len(plan)
    for s, m, sensi, pair in plan:
        reps = max(3, min(args.reps, int(per_loop / max(pair, 1e-9))))
        tb, ta = [], []
        clock.total = 0.0
        for k in range(reps):
            xk = x0 + 1e-9 * (k + 1)
            clock.counting = bool(sensi)
            t, _ = _timed(_bng, obj[s], xk, sensi)
            clock.counting = False
            tb.append(t)
            ta.append(_timed(fast, xk, solvers[s, sensi], sensi)[0])
        mb, ma = statistics.median(tb), statistics.median(ta)
        out[s, m] = (mb, ma, mb / ma, reps)
        if sensi:
            out[s, "core"] = clock.total / sum(tb)
    return out


def check_fast_path(side: ca.AmiciSide, fast: AmiciFast, solver, x0: np.ndarray) -> str:
    """'' if the fast path's fval and gradient equal simulate_petab's at x0, else a note."""
    fs, gs = side(fast.names, x0)
    ff, gf = fast(x0, solver, 1)
    scale = max(1.0, float(np.max(np.abs(gs)))) if gs.size else 1.0
    if abs(fs - ff) <= 1e-9 * max(1.0, abs(fs)) and np.all(np.abs(gs - gf) <= 1e-9 * scale):
        return ""
    return (f"fast path differs from simulate_petab: fval {ff!r} vs {fs!r}, "
            f"max |grad diff| {float(np.max(np.abs(gs - gf))) if gs.size else 0.0:.3g}")


def yamls(items: list[str]) -> list[Path]:
    """The PEtab YAML files: the given ones, and one per problem folder of a folder."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            for d in sorted(q for q in p.iterdir() if q.is_dir()):
                own = d / f"{d.name}.yaml"
                found = [own] if own.exists() else sorted(d.glob("*.yaml"))[:1]
                out.extend(found)
        else:
            out.append(p)
    return [p.resolve() for p in out]


HEAD = (f"{'':28s} {'':>3s} {'load s':>15s} |{'(a) defaults':^47s}|{'(b) equal tol':^47s}|\n"
        f"{'problem':28s} {'n_x':>3s} {'bngfit':>7s} {'AMICI':>7s} |"
        + (f"{'val ms':>7s} {'AMICI':>7s} {'ratio':>6s} {'grad ms':>7s} {'AMICI':>7s} "
           f"{'ratio':>6s} {'C++':>4s}|") * 2 + f" {'reps':>5s} fval")


def row(label: str, n_x: int, t_load: float, t_imp: float, m: dict) -> str:
    """One table row."""
    cells = f"{label:28s} {n_x:3d} {t_load:7.3f} {t_imp:7.3f} |"
    for s in SETTINGS:
        for mode in MODES:
            tb, ta, r, _ = m[s, mode]
            cells += f"{1e3 * tb:7.1f} {1e3 * ta:7.1f} {r:6.2f} "
        cells = cells + f"{m[s, 'core']:4.0%}|"
    reps = sorted({m[s, mode][3] for s in SETTINGS for mode in MODES})
    rep = str(reps[0]) if len(reps) == 1 else f"{reps[0]}-{reps[-1]}"
    return cells + f" {rep:>5s} {'ok' if m['fval_ok'] else 'DIFF'}"


def run_problem(yaml_path: Path, args, api, workdir: Path, clock, notes: list[str]):
    """Measure one problem: (n_x, load s, import s, measurements), or a str reason."""
    import bngfit

    label = ca._label(yaml_path)
    try:
        t = time.perf_counter()
        problem = bngfit.load_problem(yaml_path)
        x0 = np.asarray(problem.x_nominal, dtype=float)
        obj_a = bngfit.Objective(problem)
        _bng(obj_a, x0, 1)
        t_load = time.perf_counter() - t
        obj = {"a": obj_a, "b": bngfit.Objective(problem, rtol=args.rtol, atol=args.atol)}
    except Exception as e:  # a row with the reason
        return _why("bngfit", e)
    names = list(problem.x_names)
    try:
        amici_yaml, changed = ca._amici_petab_copy(yaml_path, workdir)
        notes += [f"{label}: {n}" for n in changed]
        if amici_yaml is None:
            return f"AMICI skipped: {changed[-1]}"
        amici_yaml, flat = _flattened(amici_yaml, workdir)
        if flat:
            notes.append(f"{label}: {flat}")
        side = ca.AmiciSide(amici_yaml, args.model_dir, args.rtol, args.atol, api)
        fast = AmiciFast(side, names)
        solvers = {(s, k): fast.solver(k, *((None, None) if s == "a" else
                                              (args.rtol, args.atol)))
                   for s in SETTINGS for k in (0, 1)}
        note = check_fast_path(side, fast, solvers["b", 1], x0)
        if note:
            notes.append(f"{label}: {note}")
    except Exception as e:  # a row with the reason
        return _why("AMICI", e)
    try:
        m = measure(obj, fast, solvers, x0, args, clock)
    except Exception as e:  # a row with the reason
        return _why("timing", e)
    if not m["fval_ok"]:
        notes += [f"{label}: setting ({s}) fval bngfit {fb:.10g}, AMICI {fa:.10g}"
                  for s, fb, fa in m["fvals"]]
    return len(names), t_load, side.import_seconds, m


def summary(results: dict) -> None:
    """Per setting: how many problems have a value+gradient ratio <= 1 and <= 0.5."""
    print()
    for s, what in zip(SETTINGS, ("each tool's defaults", "equal tolerances"), strict=True):
        rg = [m[s, "grad"][2] for m in results.values()]
        rv = [m[s, "val"][2] for m in results.values()]
        if not rg:
            continue
        print(f"({s}) {what}: value+gradient bngfit/AMICI <= 1.0 in "
              f"{sum(r <= 1.0 for r in rg)}/{len(rg)}, <= 0.5 in {sum(r <= 0.5 for r in rg)}"
              f"/{len(rg)}; median ratio {statistics.median(rg):.2f} (value only "
              f"{statistics.median(rv):.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="*", default=[str(FOLDER)],
                    help="folders of PEtab problem folders, or PEtab YAML files")
    ap.add_argument("--reps", type=int, default=15, help="timed calls per tool and mode")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="rough timing budget per problem; reduces reps (at least 3)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="setting (b), both tools")
    ap.add_argument("--atol", type=float, default=1e-10, help="setting (b), both tools")
    ap.add_argument("--bngfit-threads", type=int, default=1,
                    help="BNGFIT_THREADS for bngfit's evaluations (AMICI runs on one "
                         "thread); 0: bngfit's own default (the usable cores)")
    ap.add_argument("--model-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "bngfit-amici-models")
    args = ap.parse_args(argv)
    args.warmup = max(args.warmup, 1)
    if args.bngfit_threads > 0:
        os.environ["BNGFIT_THREADS"] = str(args.bngfit_threads)

    # AMICI builds model wrappers with the swig on PATH: the one beside this interpreter.
    os.environ["PATH"] = sysconfig.get_path("scripts") + os.pathsep + os.environ.get("PATH", "")
    api = ca._import_amici()
    from engine_adapter import _CoreClock

    warnings.filterwarnings("ignore", category=RuntimeWarning, module="amici")
    clock = _CoreClock()
    args.model_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="compare_amici_speed_"))
    print(f"bngfit vs AMICI at the nominal point; (b) rtol={args.rtol:g} atol={args.atol:g}; "
          f"median of up to {args.reps} interleaved calls; times in ms, ratio bngfit/AMICI; "
          "C++ = bngfit's gradient time in bngsim's core run (summed over threads); "
          f"BNGFIT_THREADS={os.environ.get('BNGFIT_THREADS', '(unset)')}, AMICI 1 thread\n")
    print(HEAD, flush=True)
    notes: list[str] = []
    results: dict = {}
    t_all = time.perf_counter()
    try:
        for yaml_path in yamls(args.problems):
            label = ca._label(yaml_path)
            got = run_problem(yaml_path, args, api, workdir, clock, notes)
            if isinstance(got, str):
                print(f"{label:28s} {got}", flush=True)
                continue
            results[label] = got[3]
            print(row(label, *got), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary(results)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    for n in notes:
        print("note:", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
