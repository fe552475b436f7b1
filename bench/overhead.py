"""Overhead of one bngfit evaluation over the raw bngsim runs it needs.

Acceptance criterion: one objective(+gradient) evaluation costs at most 1.3x
the raw bngsim sensitivity simulations it needs.

For each problem this script times ``Objective(problem)(x, sensi=s)`` at the
nominal point (the objective's one-point cache cleared before every call)
against the same bngsim work written directly against bngsim, as a user of
bngsim would write it: per experiment one parameter write, ``reset()``, the
species overrides, ``Simulator.run`` at the same sample times and tolerances
(the pre-equilibration phase first where the problem has one, carrying
sensitivities into the measured phase), and the extraction of the same
outputs and output sensitivities. Everything that does not depend on x
(Simulators, parameter dictionaries, sample grids, selectors) is built once
before timing, as a user would. Both sides run on separate but identical
bngsim models.

Timing: per problem and ``sensi``, ``--repeats`` samples, each a block of
``k`` calls (``k`` chosen so that a block lasts at least ``--block-ms``),
bngfit and raw blocks interleaved in alternating order; the table reports
the median time per call and their ratio.

Usage::

    python bench/overhead.py [--repeats 21] [--block-ms 50] [--max-ratio 1.3] [problem.yaml ...]

Exit status 1 if an objective+gradient (``sensi=1``) ratio exceeds
``--max-ratio`` (the criterion); ``sensi=0`` rows are for information. On a
shared or busy machine the small problems' ratios move by about +-0.05 from
run to run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import bngsim
import numpy as np

from bngfit import Objective, load_problem
from bngfit.problem._scales import scale_codes, unscale

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "benchmarks" / "petab"
DEFAULT_PROBLEMS = [
    ROOT / "examples" / "conversion" / "problem.yaml",
    *(BENCH / n / f"{n}.yaml"
      for n in ("Boehm_JProteomeRes2014", "Brannmark_JBC2010", "Perelson_Science1996")),
]


def _values(quantities: dict, theta: np.ndarray) -> dict[str, float]:
    return {name: float(q.eval(theta)[0]) for name, q in quantities.items()}


class RawRuns:
    """The bngsim calls one evaluation needs, at one fixed point, built once.

    Parameters
    ----------
    obj : Objective
        Source of the experiment list (conditions, outputs, times, the
        parameters with sensitivities) and of the solver settings.
    x : ndarray, shape (n_x,)
        The point, optimizer space.
    """

    def __init__(self, obj: Objective, x: np.ndarray) -> None:
        theta = unscale(x, scale_codes(obj.problem.x_scales))
        s = obj.settings
        self.opts = {"rtol": s.rtol, "atol": s.atol, "timeout": s.timeout}
        self.preeq_kw = obj.engine.preeq_run_kwargs()
        self.model = bngsim.Model.load(obj.problem.model.path)
        self.species = list(self.model.species_names)
        self.species_sel = [f"species:{n}" for n in self.species]
        self.plain = bngsim.Simulator(self.model, codegen=True)
        self._sims: dict = {}
        self.exps = [self._experiment(e, theta) for e in obj.plan.experiments]

    def _sim(self, sens: tuple[str, ...], ic) -> bngsim.Simulator:
        key = (tuple(sens), tuple(ic))
        if key not in self._sims:
            self._sims[key] = bngsim.Simulator(self.model, sensitivity_params=list(sens),
                                               sensitivity_ic=list(ic) or None)
        return self._sims[key]

    def _experiment(self, e, theta: np.ndarray) -> dict:
        grid = np.unique(np.concatenate([[0.0], e.times])).tolist()
        if len(grid) < 2:
            grid = [0.0, 1e-6]
        if len(e.pre) > 1:
            raise SystemExit(f"{e.condition_id}: protocols of several pre-phases are not "
                             "replayed by this benchmark")
        main, pre = e.main, (e.pre[0] if e.pre else None)
        exp = {"outputs": list(e.outputs), "grid": grid, "n_sens": len(e.sens_params),
               "main_p": _values(main.quantities, theta),
               "main_s": _values(main.species_quantities, theta),
               "pre_p": None, "pre_s": None, "carry": False, "sim2": None}
        if pre is None:
            exp["ic"] = sorted(n for n, q in main.species_quantities.items() if q.deps)
            exp["sim"] = self._sim(e.sens_params, exp["ic"])
            return exp
        exp["pre_p"] = _values(pre.quantities, theta)
        exp["pre_s"] = _values(pre.species_quantities, theta)
        exp["ic"] = sorted(n for n, q in pre.species_quantities.items() if q.deps)
        exp["sim"] = self._sim(e.sens_params, exp["ic"])
        # The measured phase carries the pre-equilibration sensitivities when
        # both phases map parameters to theta alike and it sets no species;
        # otherwise it restarts from x_ss with every species as an
        # initial-condition sensitivity (the engine's two routes).
        exp["carry"] = not main.species_quantities and not exp["ic"] and all(
            np.array_equal(main.quantities[n].eval(theta)[1], pre.quantities[n].eval(theta)[1])
            for n in e.sens_params)
        # Conditions of one evaluation with the same pre-equilibration run it once
        # (as the engine does): the later ones restart from its end state.
        exp["share"] = (tuple(sorted(exp["pre_p"].items())), tuple(sorted(exp["pre_s"].items())),
                        tuple(exp["ic"]), tuple(e.sens_params))
        exp["sim2"] = self._sim(e.sens_params, self.species)
        return exp

    def _start(self, params: dict, species: dict) -> None:
        m = self.model
        m.set_params(params)
        m.reset()
        for name, value in species.items():
            m.set_concentration(name, value)

    def _restart(self, e: dict, x_end: np.ndarray) -> None:
        """Set the model to start the measured phase from a pre-equilibrated state."""
        x0 = x_end.copy()
        for name, value in e["main_s"].items():
            x0[self.species.index(name)] = value
        self.model.set_params(e["main_p"])
        self.model.reset()
        self.model.set_state(x0)

    def __call__(self, sensi: int) -> list[np.ndarray]:
        """Run every experiment; return the measured outputs, one array each."""
        opts = self.opts
        ys = []
        ends: dict = {}  # pre-equilibration end states of this evaluation
        for e in self.exps:
            outs = e["outputs"]
            if not sensi:
                if e["pre_p"] is not None and e["share"] in ends:
                    self._restart(e, ends[e["share"]])
                elif e["pre_p"] is not None:
                    self._start(e["pre_p"], e["pre_s"])
                    r1 = self.plain.run(**self.preeq_kw, **opts)
                    ends[e["share"]] = r1.outputs(self.species_sel)[-1]
                    self.model.set_params(e["main_p"])
                    for name, value in e["main_s"].items():
                        self.model.set_concentration(name, value)
                else:
                    self._start(e["main_p"], e["main_s"])
                r = self.plain.run(sample_times=e["grid"], **opts)
                ys.append(r.outputs(outs))
                continue
            sim = e["sim"]
            if e["pre_p"] is None:
                self._start(e["main_p"], e["main_s"])
                r = sim.run(sample_times=e["grid"], **opts)
                axes_ic = bool(e["ic"])
            elif e["share"] in ends:
                self._restart(e, ends[e["share"]])
                r = e["sim2"].run(sample_times=e["grid"], **opts)
                axes_ic = True
            else:
                self._start(e["pre_p"], e["pre_s"])
                r1 = sim.run(**self.preeq_kw, **opts)
                x = r1.outputs(self.species_sel)
                ends[e["share"]] = x[-1]
                if e["n_sens"]:
                    r1.output_sensitivities(self.species_sel, axis="parameter")
                if e["ic"]:
                    r1.output_sensitivities(self.species_sel, axis="ic")
                if e["carry"]:
                    self.model.set_params(e["main_p"])
                    r = sim.run(sample_times=e["grid"], carry_sensitivities=True, **opts)
                    axes_ic = False
                else:
                    self._restart(e, x[-1])
                    r = e["sim2"].run(sample_times=e["grid"], **opts)
                    axes_ic = True
            ys.append(r.outputs(outs))
            if e["n_sens"]:
                r.output_sensitivities(outs, axis="parameter")
            if axes_ic:
                r.output_sensitivities(outs, axis="ic")
        return ys


def _check_same_work(obj: Objective, x: np.ndarray, raw: RawRuns, sensi: int) -> None:
    """The raw runs must reproduce the engine's outputs (else we time other work)."""
    theta = unscale(x, scale_codes(obj.problem.x_scales))
    tl = theta.tolist()
    obj.engine.new_point()
    for e, y_raw in zip(obj.plan.experiments, raw(sensi), strict=True):
        y, _ = obj.engine.run(e.outputs, e.grid, e.main.inputs(theta, tl, sensi),
                              tuple(p.inputs(theta, tl, sensi) for p in e.pre),
                              e.sens_params, obj.plan.n_theta, sensi)
        if not np.allclose(y, y_raw, rtol=1e-12, atol=0):
            raise RuntimeError(f"raw bngsim runs disagree with bngfit's in {e.condition_id}")


def _block(fn, k: int) -> float:
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k


def measure(path: Path, repeats: int, block_ms: float) -> list[tuple]:
    """Rows (problem, sensi, n_x, n_exp, t_bngfit, t_raw) for one problem."""
    problem = load_problem(path)
    obj = Objective(problem)
    x = np.asarray(problem.x_nominal, dtype=float)
    raw = RawRuns(obj, x)
    rows = []
    for sensi in (1, 0):
        ev = obj(x, sensi=sensi)
        if not ev.ok:
            raise RuntimeError(f"{path.name}: evaluation fails at nominal x: {ev.message}")
        _check_same_work(obj, x, raw, sensi)

        def fit_call(s=sensi):
            obj.clear_cache()
            obj(x, sensi=s)

        def raw_call(s=sensi):
            raw(s)

        for _ in range(3):  # warm up both sides
            fit_call()
            raw_call()
        t1 = _block(fit_call, 1)
        k = max(1, int(np.ceil(block_ms * 1e-3 / max(t1, 1e-9))))
        t_fit, t_raw = [], []
        for i in range(repeats):
            if i % 2:
                t_raw.append(_block(raw_call, k))
                t_fit.append(_block(fit_call, k))
            else:
                t_fit.append(_block(fit_call, k))
                t_raw.append(_block(raw_call, k))
        rows.append((path.stem if path.stem != "problem" else path.parent.name, sensi,
                     len(problem.x_names), len(obj.plan.experiments),
                     statistics.median(t_fit), statistics.median(t_raw)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="*", type=Path, help="PEtab problem YAML files")
    ap.add_argument("--repeats", type=int, default=21, help="timed samples per case")
    ap.add_argument("--block-ms", type=float, default=50.0,
                    help="minimum duration of one timed block of calls, ms")
    ap.add_argument("--max-ratio", type=float, default=1.3,
                    help="exit 1 if bngfit/raw exceeds this")
    args = ap.parse_args(argv)
    paths = args.problems or DEFAULT_PROBLEMS
    header = f"{'problem':<24} {'sensi':>5} {'n_x':>4} {'n_exp':>5} " \
             f"{'bngfit_ms':>10} {'raw_ms':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    worst = {0: 0.0, 1: 0.0}
    for path in paths:
        if not path.is_file():
            print(f"{path}: missing, skipped")
            continue
        for name, sensi, n_x, n_exp, t_fit, t_raw in measure(path, args.repeats,
                                                              args.block_ms):
            ratio = t_fit / t_raw
            worst[sensi] = max(worst[sensi], ratio)
            print(f"{name:<24} {sensi:>5} {n_x:>4} {n_exp:>5} {t_fit * 1e3:>10.3f} "
                  f"{t_raw * 1e3:>10.3f} {ratio:>6.3f}", flush=True)
    print(f"worst ratio: objective+gradient (sensi=1) {worst[1]:.3f} "
          f"(criterion: <= {args.max_ratio}); value only (sensi=0) {worst[0]:.3f}")
    return 0 if worst[1] <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
