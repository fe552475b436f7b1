"""How the shifted points of a gradient check are solved: auto against sensi, side by side.

For each problem, at its nominal point and at the nominal point moved by
``--shift`` in every coordinate (optimizer space, clipped to the bounds), this
runs ``check_grad`` (one step) with ``values="auto"`` and ``values="sensi"``
one after the other in the same process and prints the wall times, their
ratio and the verdict counts of both, and the parameters whose verdicts
differ::

    python bench/fd_values.py PROBLEM.yaml [PROBLEM.yaml ...] [--shift 0.1] [--eps 1e-5]

Bachmann 2011 from the PEtab benchmark collection (113 parameters) is the
case this is about: a sensitivity solve there costs about 50 value-only ones.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

import bngfit


def _run(obj, x, eps, values):
    t0 = time.perf_counter()
    table = bngfit.check_grad(obj, x, eps, values=values)
    return time.perf_counter() - t0, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("problems", nargs="+")
    ap.add_argument("--shift", type=float, default=0.1)
    ap.add_argument("--eps", type=float, default=1e-5)
    args = ap.parse_args()
    print("problem\tpoint\tn_x\tauto s\tsensi s\tsensi/auto\tauto verdicts\tsensi verdicts"
          "\tdiffer")
    for path in args.problems:
        problem = bngfit.load_problem(path)
        obj = bngfit.Objective(problem)
        points = {"nominal": problem.x_nominal,
                  f"nominal+{args.shift:g}": np.clip(problem.x_nominal + args.shift,
                                                     problem.lb, problem.ub)}
        for label, x in points.items():
            obj(x, sensi=1)  # compiled and cached before either is timed
            t_auto, auto = _run(obj, x, args.eps, "auto")
            t_sensi, sensi = _run(obj, x, args.eps, "sensi")
            differ = [p for p in auto.index if auto.loc[p, "verdict"] != sensi.loc[p,
                                                                                  "verdict"]]
            print(f"{problem.source.stem}\t{label}\t{len(problem.x_names)}\t{t_auto:.1f}\t"
                  f"{t_sensi:.1f}\t{t_sensi / t_auto:.2f}\t"
                  f"{dict(Counter(auto['verdict']))}\t{dict(Counter(sensi['verdict']))}\t"
                  f"{', '.join(differ) or '-'}", flush=True)


if __name__ == "__main__":
    main()
