"""The scoreboard: load, check and fit every problem of a collection, one table.

For every problem folder under the given directories (default
``../shared/benchmarks/petab``; ``--only NAME ...`` to pick some), in a row:

- ``load s``: ``load_problem``; ``nominal``: fval at the nominal point (or why not);
- ``grad check``: ``check_grad_multi_eps`` at a displaced point (nominal moved by
  ``--displace`` on each parameter's scale, seeded, inside the bounds: the nominal
  point is often the optimum, where every gradient entry is ~0) at rtol 1e-10 /
  atol 1e-12; the count of parameters that agree / are not resolved / MISMATCH;
- a fit with ``--starts`` starts (seed ``--seed``) and the defaults otherwise:
  best fval, its gap to ``best_known_fval`` where a ``best_known.tsv`` lies beside
  the problem folders, solved (gap < 1.92), starts within 1.92 of the best known
  value / starts run, failed starts (and their most common reason), evaluations,
  CPU seconds of the fit (this process and its workers) and starts within 1.92 per
  CPU-hour.

``--no-fit`` stops after the checks. The table goes to standard output and, with
``--out FILE``, to a TSV file; SUNDIALS' own messages to ``--solver-log``::

    python bench/collection.py [DIR ...] [--only NAME ...] [--starts 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import time
from pathlib import Path

import numpy as np

import bngfit
from bngfit.cli._io import solver_output_to
from bngfit.cli._score import SOLVED_GAP, cpu_seconds, score
from bngfit.objective import _gradcheck

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["problem", "load s", "nominal", "grad check", "best fval", "gap", "solved",
           "within 1.92", "failed", "evaluations", "CPU s", "wall s", "per CPU-h"]


def _best_known(folder: Path) -> dict[str, float]:
    table = folder / "best_known.tsv"
    if not table.is_file():
        return {}
    with table.open() as f:
        return {r["problemId"]: float(r["best_known_fval"])
                for r in csv.DictReader(f, delimiter="\t")}


def _displaced(problem: bngfit.Problem, shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = problem.x_nominal + rng.uniform(-shift, shift, len(problem.x_names))
    return np.clip(x, problem.lb, problem.ub)


def _grad_check(problem: bngfit.Problem, x: np.ndarray) -> str:
    """Verdict counts of a multi-eps check at rtol 1e-10 / atol 1e-12.

    A parameter found a mismatch there is checked again at 1e-12 / 1e-14, and
    that verdict counts: the values' own solver error can bias differences that
    agree with each other (near a switch time, Beer 2014). The column says how
    many were checked again.
    """
    verdict, note = {}, ""
    for rtol, atol in ((1e-10, 1e-12), (1e-12, 1e-14)):
        again = [p for p, v in verdict.items() if v == "mismatch"]
        if verdict and not again:
            break
        obj = bngfit.Objective(problem, rtol=rtol, atol=atol)
        ev = obj(x)
        if not ev.ok:
            return f"no value at rtol {rtol:g}: {ev.message[:60]}"
        table = bngfit.check_grad_multi_eps(
            obj, x, x_indices=[problem.x_names.index(p) for p in again] or None)
        verdict.update({k: v.value for k, v in
                        _gradcheck.summarize(table, ev.fval).verdict.items()})
        if again:
            note = f" ({len(again)} checked again at rtol {rtol:g})"
    counts = collections.Counter(verdict.values())
    return " ".join(f"{k} {n}" for k, n in sorted(counts.items())) + note


def _problem_files(d: Path) -> list[Path]:
    """The problem file of each folder: ``NAME/NAME.yaml`` where there is one, else each."""
    out = []
    for folder in sorted(p for p in d.iterdir() if p.is_dir()):
        own = folder / f"{folder.name}.yaml"
        out.extend([own] if own.is_file() else sorted(folder.glob("*.yaml")))
    return out


def row(yaml: Path, best_known: dict[str, float], args: argparse.Namespace) -> dict:
    """One row of the table for one problem."""
    name = yaml.parent.name
    out = dict.fromkeys(COLUMNS, "")
    out["problem"] = name
    t = time.perf_counter()
    try:
        problem = bngfit.load_problem(yaml)
    except bngfit.BngfitError as err:
        out["nominal"] = f"not loaded: {str(err)[:80]}"
        return out
    out["load s"] = f"{time.perf_counter() - t:.2f}"
    ev = bngfit.Objective(problem)(problem.x_nominal, sensi=0)
    out["nominal"] = f"{ev.fval:.6g}" if ev.ok else f"failed: {ev.message[:60]}"
    if not args.no_check:
        out["grad check"] = _grad_check(problem, _displaced(problem, args.displace, args.seed))
    if args.no_fit:
        return out
    if args.keep is not None:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    cpu, wall = cpu_seconds(), time.perf_counter()
    with solver_output_to(args.solver_log):  # SUNDIALS' own lines, as in bngfit fit
        result = bngfit.fit(problem, n_starts=args.starts, rng=args.seed,
                            optimizer=args.optimizer, optimizer_opts=args.options,
                            store=None if args.keep is None else Path(args.keep) / f"{name}.db")
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    out["wall s"] = f"{wall:.0f}"
    failed = [s for s in result.starts if not np.isfinite(s.fval)]
    out["best fval"] = f"{result.best_fval:.6f}"
    out["evaluations"] = str(result.n_fval)
    out["CPU s"] = f"{cpu:.0f}"
    reasons = collections.Counter(s.message.split(":")[0][:40] for s in failed)
    out["failed"] = f"{len(failed)}" + (f" ({reasons.most_common(1)[0][0]})" if failed else "")
    ref = best_known.get(name)
    if ref is not None:
        s = score(result, ref, cpu)
        out["gap"] = f"{s['gap']:.4g}"
        out["solved"] = "yes" if s["solved"] else "no"
        out["within 1.92"] = f"{s['starts_within_1.92']}/{s['starts_run']}"
        rate = s["starts_within_per_cpu_hour"]
        out["per CPU-h"] = "" if rate is None else f"{rate:.1f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*", default=[str(REPO.parent / "shared/benchmarks/petab")])
    ap.add_argument("--only", nargs="*", default=None, help="problem folder names")
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--displace", type=float, default=0.1,
                    help="shift of the gradient-check point on each parameter's scale")
    ap.add_argument("--no-fit", action="store_true")
    ap.add_argument("--no-check", action="store_true", help="skip the gradient check")
    ap.add_argument("--out", default=None, help="also write the table as TSV")
    ap.add_argument("--solver-log", default="collection.solver.log",
                    help="where the solver's own messages go (default %(default)s)")
    ap.add_argument("--optimizer", default=None, help="instead of the default optimizer")
    ap.add_argument("--options", type=json.loads, default=None, metavar="JSON",
                    help="optimizer options over the defaults', e.g. '{\"maxiter\": 500}'")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="keep each fit's store as DIR/PROBLEM.db")
    args = ap.parse_args()
    rows = []
    print("\t".join(COLUMNS), flush=True)
    for d in map(Path, args.dirs):
        best_known = _best_known(d)
        for yaml in _problem_files(d):
            if args.only and yaml.parent.name not in args.only:
                continue
            r = row(yaml, best_known, args)
            rows.append(r)
            print("\t".join(r[c] for c in COLUMNS), flush=True)
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    scored = [r for r in rows if r["solved"]]
    if scored:  # fits with a best known value to score them against
        solved = sum(r["solved"] == "yes" for r in scored)
        print(f"\nsolved {solved} of {len(scored)} (gap < {SOLVED_GAP} to best_known_fval)")


if __name__ == "__main__":
    main()
