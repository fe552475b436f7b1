"""Fit Boehm et al. 2014 with each optimizer and report convergence side by side.

The best-known value of this PEtab benchmark problem is fval 138.2220 (published).
For each optimizer and each race setting (candidates per start, default 5; 1 is
the plain multistart), with noise parameters in closed form unless
``--no-hierarchical``: best fval, starts within 0.01 of 138.2220, objective evaluations (all
of them, every race candidate's included), starts reaching it per 1000 evaluations,
wall time, and the share of the starts' time spent outside objective evaluations
(the optimizer's own work and bngfit's bookkeeping), with the same seed (so the
same start points) for all.

Run: python bench/fit_boehm.py [--starts 10] [--seed 0] [--engine process]
         [--optimizers least_squares,fides,lbfgsb] [--race 5,1] [--race-budget 35]
         [--no-hierarchical] [--problem PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import bngfit
from bngfit.optimize._racing import Race

HERE = Path(__file__).resolve().parent
DEFAULT = (HERE.parent.parent / "shared" / "benchmarks" / "petab" / "Boehm_JProteomeRes2014"
           / "Boehm_JProteomeRes2014.yaml")
BEST_KNOWN = 138.2220


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default=str(DEFAULT))
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine", default="process")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--optimizers", default="least_squares,fides,lbfgsb")
    ap.add_argument("--race", default=f"{Race().candidates},1",
                    help="comma-separated candidates per start to compare (1 = plain)")
    ap.add_argument("--race-budget", type=int, default=Race().budget)
    ap.add_argument("--best-known", type=float, default=BEST_KNOWN)
    ap.add_argument("--no-hierarchical", action="store_true",
                    help="optimize the noise parameters too")
    args = ap.parse_args()

    problem = bngfit.load_problem(args.problem)
    rows = []
    for name in args.optimizers.split(","):
        for race in (int(v) for v in args.race.split(",")):
            t0 = time.perf_counter()
            r = bngfit.fit(problem, optimizer=name, n_starts=args.starts, rng=args.seed,
                           engine=args.engine, workers=args.workers, race=race,
                           race_budget=args.race_budget,
                           hierarchical=not args.no_hierarchical)
            wall = time.perf_counter() - t0
            f = np.array([s.fval for s in r.starts])
            hits = int(np.sum(f <= args.best_known + 0.01))
            # time of the starts not spent in objective evaluations: the optimizer's
            # own work plus bngfit's bookkeeping around each evaluation
            outside = 1 - sum(s.eval_s for s in r.starts) / max(sum(s.wall_s for s in r.starts),
                                                                1e-12)
            rows.append((name, race, r.best_fval, hits, r.n_fval, wall, outside))
            print(f"{name:>14} race {race:>3}: best {r.best_fval:.4f}, {hits}/{args.starts} "
                  f"within 0.01 of {args.best_known}, {r.n_fval} evaluations, {wall:.1f} s   "
                  f"fvals {np.round(np.sort(f), 3).tolist()}", flush=True)
    print(f"\n{'optimizer':>14} {'race':>5} {'best fval':>11} {'reached':>8} {'evals':>7} "
          f"{'per 1000':>9} {'wall s':>7} {'outside':>8}")
    for name, race, best, hits, nf, wall, outside in rows:
        print(f"{name:>14} {race:>5} {best:11.4f} {hits:>5}/{args.starts:<2} {nf:7d} "
              f"{1000 * hits / max(nf, 1):9.3f} {wall:7.1f} {100 * outside:7.1f}%")
    print("outside: share of the starts' time not spent in objective evaluations")


if __name__ == "__main__":
    main()
