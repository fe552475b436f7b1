"""Numbers a restructuring must not change: fval and gradient at the nominal point of
every shipped example and ``../shared`` benchmark problem, and short seeded fits.

Run before and after a change and compare the two JSON files::

    python bench/snapshot.py before.json
    python bench/snapshot.py after.json
    python bench/snapshot.py --compare before.json after.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import bngfit

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SLOW_GRADIENT = {"Fiedler_BMCSystBiol2016"}  # 15-25 s per gradient: value only


def problems() -> list[Path]:
    """The problems to snapshot: shipped examples, then the shared ones."""
    found = [REPO / "examples/conversion/problem.yaml", REPO / "examples/pybnf_edition2/job.conf"]
    bench = SHARED / "benchmarks" / "petab"
    if bench.is_dir():
        for d in sorted(p for p in bench.iterdir() if p.is_dir()):
            found += sorted(d.glob("*.yaml"))[:1]
    pybnf = SHARED / "benchmarks" / "pybnf"
    if pybnf.is_dir():
        found += sorted(pybnf.glob("*/*.conf"))
    return found


def snapshot(path: Path) -> dict:
    """fval and gradient at nominal; a short seeded fit for the shipped examples."""
    out: dict = {}
    t = time.perf_counter()
    try:
        problem = bngfit.load_problem(path)
        obj = bngfit.Objective(problem)
        x = problem.x_nominal
        sensi = 0 if path.parent.name in SLOW_GRADIENT else 1
        ev = obj(x, sensi=sensi)
        out["fval"] = float(ev.fval)
        out["grad"] = None if ev.grad is None else [float(g) for g in ev.grad]
        if REPO in path.parents:
            res = bngfit.fit(problem, n_starts=3, rng=1, engine="sequential")
            out["fit"] = sorted(float(s.fval) for s in res.starts)
    except Exception as exc:  # record, so a changed error shows up too
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
    out["seconds"] = round(time.perf_counter() - t, 2)
    return out


def compare(a: dict, b: dict) -> int:
    """Print every difference beyond 1e-12 relative; return the count."""
    bad = 0
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, {}), b.get(key, {})
        for field in ("fval", "grad", "fit", "error"):
            u, v = x.get(field), y.get(field)
            if isinstance(u, list) and isinstance(v, list) and len(u) == len(v):
                same = np.allclose(u, v, rtol=1e-12, atol=1e-12, equal_nan=True)
            elif isinstance(u, float) and isinstance(v, float):
                same = np.isclose(u, v, rtol=1e-12, atol=1e-12, equal_nan=True)
            else:
                same = u == v
            if not same:
                bad += 1
                print(f"DIFF {key} {field}: {u!r} -> {v!r}")
    print(f"{len(set(a) | set(b))} problems, {bad} differences")
    return bad


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        a, b = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        sys.exit(1 if compare(a, b) else 0)
    result = {}
    for p in problems():
        key = str(p.relative_to(p.parents[1]))
        result[key] = snapshot(p)
        print(key, result[key].get("fval"), result[key].get("error", ""), result[key]["seconds"],
              flush=True)
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1))
