"""What the bngsim engine adapter saves: value+gradient time with it on and off.

Interleaved in one process (the machines are shared and noisy), per problem of a
folder of PEtab problems (default ``../shared/benchmarks/petab``): the median
time of one evaluation with sensitivities at the nominal point, adapter on and
off, their ratio, and the largest relative difference of fval and gradient
(expected 0)::

    python bench/engine_adapter.py [FOLDER] [--reps 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import bngfit
from bngfit.simulate import _adapter

REPO = Path(__file__).resolve().parents[1]
SLOW = {"Fiedler_BMCSystBiol2016"}  # a gradient takes seconds: left out


class _CoreClock:
    """Time spent inside bngsim's core ODE runs while counting."""

    def __init__(self) -> None:
        import bngsim

        self.total = 0.0
        self.counting = False
        cls = bngsim.Simulator
        inner = cls._run_ode_with_jacobian_fallback

        def timed(sim, *args, **kwargs):
            if not self.counting:
                return inner(sim, *args, **kwargs)
            t = time.perf_counter()
            try:
                return inner(sim, *args, **kwargs)
            finally:
                self.total += time.perf_counter() - t

        cls._run_ode_with_jacobian_fallback = timed


CLOCK: _CoreClock | None = None


def _time(obj, x) -> tuple[float, object]:
    t = time.perf_counter()
    ev = obj(x, sensi=1)
    return time.perf_counter() - t, ev


def measure(path: Path, reps: int) -> dict | None:
    """Interleaved timings and differences for one problem, or None if it does not load."""
    try:
        problem = bngfit.load_problem(path)
    except bngfit.BngfitError as err:
        print(f"{path.parent.name}: not loaded ({str(err)[:80]})")
        return None
    # one objective each: an objective keeps its last point
    obj_on, obj_off = bngfit.Objective(problem), bngfit.Objective(problem)
    x = problem.x_nominal
    obj_on(x, sensi=1)  # load, compile, the run check
    with _adapter.bypassed():
        obj_off(x, sensi=1)
    on, off, diff = [], [], 0.0
    CLOCK.total = 0.0
    for k in range(reps):
        xk = x + 1e-9 * (k + 1)
        with _adapter.bypassed():
            t_off, ev_off = _time(obj_off, xk)
        CLOCK.counting = True
        t_on, ev_on = _time(obj_on, xk)
        CLOCK.counting = False
        off.append(t_off)
        on.append(t_on)
        scale = np.maximum(np.abs(ev_off.grad), 1e-300)
        diff = max(diff, float(np.max(np.abs(ev_on.grad - ev_off.grad) / scale)),
                   abs(ev_on.fval - ev_off.fval) / max(abs(ev_off.fval), 1e-300))
    return {"on_ms": 1e3 * statistics.median(on), "off_ms": 1e3 * statistics.median(off),
            "diff": diff, "core": CLOCK.total / sum(on)}


def main() -> None:
    """Print one line per problem."""
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", default=str(REPO.parent / "shared/benchmarks/petab"))
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    global CLOCK
    CLOCK = _CoreClock()
    print(f"adapter active: {_adapter.install()}")
    print(f"{'problem':32s} {'off ms':>9s} {'on ms':>9s} {'on/off':>7s} {'max rel diff':>12s} "
          f"{'C++ share':>9s}")
    for d in sorted(p for p in Path(args.folder).iterdir() if p.is_dir()):
        if d.name in SLOW:
            continue
        yaml = sorted(d.glob("*.yaml"))
        if not yaml:
            continue
        m = measure(yaml[0], args.reps)
        if m:
            print(f"{d.name:32s} {m['off_ms']:9.2f} {m['on_ms']:9.2f} "
                  f"{m['on_ms'] / m['off_ms']:7.2f} {m['diff']:12.1e} {m['core']:9.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
