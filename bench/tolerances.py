"""The tolerance steps of a fit: what each costs and what the per-problem choice picks.

For each PEtab problem of a folder (default ``../shared/benchmarks/petab``):

- the tolerances :func:`bngfit.optimize._tolerances.choose_tolerances` picks, the
  time the choice took and its reason;
- the cost of one value+gradient evaluation at each step of ``STEPS`` relative to
  the first (rtol 1e-8 / atol 1e-10), as the ratio of summed times over ``--points``
  points drawn uniformly in the bounds (seeded), calls interleaved, on one thread;
  points where any step fails are left out of the times and counted.

::

    python bench/tolerances.py [FOLDER] [--only NAME ...] [--points 12]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("BNGFIT_THREADS", "1")

import bngfit  # noqa: E402
from bngfit.optimize._tolerances import STEPS, choose_tolerances  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _costs(problem: bngfit.Problem, n_points: int) -> tuple[list[float], list[int]]:
    """Time per step over the first step's, and failed points per step."""
    objs = [bngfit.Objective(problem, rtol=r, atol=a, threads=1) for r, a in STEPS]
    for o in objs:
        o(problem.x_nominal, sensi=1)  # compile and warm up
    rng = np.random.default_rng(0)
    points = [rng.uniform(problem.lb, problem.ub) for _ in range(n_points)]
    total = np.zeros(len(objs))
    fails = [0] * len(objs)
    for x in points:
        times, oks = [], []
        for k, o in enumerate(objs):
            t0 = time.perf_counter()
            ev = o(x, sensi=1)
            times.append(time.perf_counter() - t0)
            oks.append(ev.ok)
            fails[k] += not ev.ok
        if all(oks):
            total += times
    return [t / total[0] if total[0] else float("nan") for t in total], fails


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(REPO.parent / "shared/benchmarks/petab"))
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--points", type=int, default=12)
    args = ap.parse_args()
    steps = "  ".join(f"{r:g}" for r, _ in STEPS)
    print(f"{'problem':26s} {'chosen':>7s} {'choice s':>8s}  time at rtol {steps}  failed")
    for folder in sorted(p for p in Path(args.folder).iterdir() if p.is_dir()):
        if args.only and folder.name not in args.only:
            continue
        problem = bngfit.load_problem(folder / f"{folder.name}.yaml")
        t0 = time.perf_counter()
        choice = choose_tolerances(problem, {})
        took = time.perf_counter() - t0
        ratios, fails = _costs(problem, args.points)
        print(f"{folder.name:26s} {choice.rtol:7.0e} {took:8.1f}  "
              + "  ".join(f"{r:5.2f}" for r in ratios) + f"  {fails}", flush=True)
        print(f"    {choice.reason}")


if __name__ == "__main__":
    main()
