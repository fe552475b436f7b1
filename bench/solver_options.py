"""What bngsim's solver choices do to one value+gradient evaluation, per problem.

For each PEtab problem of a folder (default ``../shared/benchmarks/petab``), one
objective per variant at the nominal point, calls interleaved (the machines are
shared and noisy), on one thread; printed: each variant's median time over the
default's, and the largest gradient difference from the default relative to the
gradient's largest entry (a variant that changes the answer beyond the solver's
tolerance is no speed-up). Variants, each a keyword of ``bngsim.Simulator``:

- ``simultaneous``: ``sensitivity_method="simultaneous"`` (AMICI's default; bngsim's
  is ``"staggered"``);
- ``dense`` / ``sparse``: ``force_dense_linear_solver`` / ``force_sparse_linear_solver``
  (bngsim chooses by model size by default);
- ``staggered``: the default itself again (the noise floor of the ratios).

::

    python bench/solver_options.py [FOLDER] [--reps 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("BNGFIT_THREADS", "1")

import bngsim  # noqa: E402

import bngfit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "staggered": {},
    "simultaneous": {"sensitivity_method": "simultaneous"},
    "dense": {"force_dense_linear_solver": True},
    "sparse": {"force_sparse_linear_solver": True},
}
_INIT = bngsim.Simulator.__init__
_CURRENT: dict = {}


def _init(self, *args, **kwargs):
    # every Simulator built while a variant is current gets its keywords
    _INIT(self, *args, **{**kwargs, **_CURRENT})


bngsim.Simulator.__init__ = _init


def measure(path: Path, reps: int) -> str:
    """One printed row for one problem."""
    problem = bngfit.load_problem(path)
    x = problem.x_nominal
    objs, base = {}, None
    for name, kw in VARIANTS.items():
        _CURRENT.clear()
        _CURRENT.update(kw)
        try:
            obj = bngfit.Objective(problem)
            ev = obj(x, sensi=1)
        except (bngsim.BngsimError, bngfit.BngfitError, RuntimeError, ValueError) as err:
            objs[name] = str(err).splitlines()[0][:40]
            continue
        if not ev.ok:
            objs[name] = ev.message[:40]
            continue
        objs[name] = (obj, kw, ev.grad)
        base = base if base is not None else ev.grad
    times: dict[str, list[float]] = {n: [] for n, v in objs.items() if isinstance(v, tuple)}
    for k in range(reps):
        for name in times:
            obj, kw, _ = objs[name]
            _CURRENT.clear()
            _CURRENT.update(kw)
            t = time.perf_counter()
            obj(x + 1e-9 * (k + 1), sensi=1)
            times[name].append(time.perf_counter() - t)
    ref = statistics.median(times["staggered"]) if "staggered" in times else float("nan")
    cells = [f"{ref * 1e3:9.1f}"]
    scale = float(np.max(np.abs(base))) if base is not None else 1.0
    for name in VARIANTS:
        v = objs.get(name)
        if not isinstance(v, tuple):
            cells.append(f"{'failed':>18}")
            continue
        diff = float(np.max(np.abs(v[2] - base))) / scale
        cells.append(f"{statistics.median(times[name]) / ref:8.2f} {diff:9.1e}")
    return f"{path.parent.name:<28}" + " ".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", default=str(REPO.parent / "shared/benchmarks/petab"))
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    print("per variant: median time / staggered default, max |grad - default| / max|grad|")
    print(f"{'problem':<28}{'default ms':>9} " + " ".join(f"{n:>18}" for n in VARIANTS))
    for yaml in sorted(Path(args.folder).glob("*/*.yaml")):
        try:
            print(measure(yaml, args.reps), flush=True)
        except bngfit.BngfitError as err:
            print(f"{yaml.parent.name:<28}not loaded ({str(err)[:60]})", flush=True)


if __name__ == "__main__":
    main()
