"""Load time of each problem in a fresh process, warm code cache.

Per problem of a folder (default ``../shared/benchmarks/petab``): seconds for
``import bngfit`` plus ``load_problem`` (parsing, model load), then for the
objective and its first value+gradient evaluation (plan compile, code
generation or its cache); each in a fresh interpreter, after one warm-up run::

    python bench/load_time.py [FOLDER]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = """
import json, time
t0 = time.perf_counter()
import bngfit
problem = bngfit.load_problem({path!r})
t1 = time.perf_counter()
bngfit.Objective(problem)(problem.x_nominal, sensi={sensi})
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1]))
"""


def timed(path: Path, sensi: int) -> list[float] | None:
    """[import+load s, objective+first evaluation s] in a fresh process, or None."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c",
                          CODE.format(path=str(path), sensi=sensi)],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print one line per problem."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared/benchmarks/petab"
    print(f"{'problem':32s} {'load s':>7s} {'first eval s':>12s} {'total s':>8s}")
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        yaml = sorted(d.glob("*.yaml"))
        if not yaml:
            continue
        sensi = 1
        timed(yaml[0], sensi)  # warm the code cache
        t = timed(yaml[0], sensi)
        if t is None:
            print(f"{d.name:32s} not loaded")
            continue
        print(f"{d.name:32s} {t[0]:7.2f} {t[1]:12.2f} {sum(t):8.2f}", flush=True)


if __name__ == "__main__":
    main()
