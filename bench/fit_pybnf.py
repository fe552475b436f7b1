"""Fit the shared PyBNF examples from their .conf files and count simulations.

For each configuration and optimizer: the best negative log-likelihood, the same
value in PyBNF's own objective units (``sos``: sum of squares; ``chi_sq``: sum of
squared weighted residuals, i.e. bngfit's chi2), the starts that reached the best
value, objective evaluations and model simulations (one evaluation runs every
phase of every data file once, with sensitivities), and wall time. The
configuration's own metaheuristic budget, ``population_size * max_iterations``, is
printed next to ours (scatter search runs more, about pop*(pop-1) per iteration).

Run: python bench/fit_pybnf.py [--starts 10] [--seed 0] [CONF ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import bngfit

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "benchmarks" / "pybnf"
DEFAULT = [SHARED / "demo" / "demo_bng.conf", SHARED / "demo" / "demo_xml.conf",
           SHARED / "receptor" / "receptor.conf",
           SHARED / "constraint_demo" / "parabola.conf"]


def pybnf_budget(conf: Path) -> str:
    """population_size x max_iterations as written in the configuration."""
    keys = {}
    for line in conf.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = (s.strip() for s in line.split("=", 1))
            keys[k] = v
    try:
        return str(int(keys["population_size"]) * int(keys["max_iterations"]))
    except (KeyError, ValueError):
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("confs", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--optimizers", default="least_squares,fides")
    args = ap.parse_args()
    print(f"{'problem':<18} {'optimizer':<14} {'best fval':>14} {'PyBNF obj':>14} "
          f"{'reached':>8} {'evals':>6} {'sims':>7} {'pop x iter':>10} {'wall s':>7}")
    for conf in args.confs:
        if not conf.is_file():
            print(f"{conf}: not found, skipped")
            continue
        problem = bngfit.load_problem(conf)
        n_phases = len({(p, c) for p, c in zip(problem.measurements.preeq,
                                               problem.measurements.condition, strict=True)})
        n_phases += sum(1 for p in set(problem.measurements.preeq) if p)
        for name in args.optimizers.split(","):
            t0 = time.perf_counter()
            try:
                r = bngfit.fit(problem, optimizer=name, n_starts=args.starts, rng=args.seed,
                               engine="process")
            except bngfit.InputError as err:  # e.g. least_squares without residuals
                print(f"{conf.stem:<18} {name:<14} refused: {str(err)[:80]}")
                continue
            wall = time.perf_counter() - t0
            best = r.best
            ev = bngfit.Objective(problem)(best.x, sensi=0)
            f = np.array([s.fval for s in r.starts])
            hits = int(np.sum(f <= r.best_fval + 0.01))
            print(f"{conf.stem:<18} {name:<14} {r.best_fval:14.6g} {ev.chi2:14.6g} "
                  f"{hits:>5}/{args.starts:<2} {r.n_fval:6d} {r.n_fval * n_phases:7d} "
                  f"{pybnf_budget(conf):>10} {wall:7.1f}", flush=True)


if __name__ == "__main__":
    main()
