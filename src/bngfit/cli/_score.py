"""A fit against a best known value: the benchmark's figures (``fit --best-known``).

The Grein et al. optimizer benchmark calls a problem solved when the best start
ends within 1.92 of the best known value (the 95% chi-square quantile of one
degree of freedom, halved), and ranks optimizers by how many starts end there
per unit of compute.
"""

from __future__ import annotations

import csv
import resource
from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.result import FitResult

#: A start within this of the best known value counts as a success.
SOLVED_GAP = 1.92


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def best_known(path: str | Path, problem_ids: list[str]) -> tuple[str, float]:
    """The best known value of the first of ``problem_ids`` in a ``best_known.tsv``.

    Raises
    ------
    InputError
        The file is missing or malformed, or names none of the ids.
    """
    p = Path(path)
    try:
        with p.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as err:
        raise InputError(f"cannot read the best known values: {err.strerror or err}",
                         file=str(p)) from None
    values: dict[str, tuple[int, str]] = {}
    for line, r in enumerate(rows, start=2):
        if "problemId" not in r or "best_known_fval" not in r:
            raise InputError("needs the columns problemId and best_known_fval", file=str(p),
                             row=1)
        values[r["problemId"]] = (line, r["best_known_fval"])
    for pid in problem_ids:
        if pid in values:
            line, text = values[pid]
            try:
                value = float(text)
            except (TypeError, ValueError):
                value = float("nan")
            if not np.isfinite(value):
                raise InputError("best_known_fval is not a finite number", file=str(p),
                                 row=line, id=pid, value=text)
            return pid, value
    raise InputError(f"no row for this problem (looked for {', '.join(problem_ids)})",
                     file=str(p))


def score(result: FitResult, reference: float, cpu_s: float) -> dict:
    """The benchmark's figures of a fit against the best known value ``reference``."""
    fvals = np.array([s.fval for s in result.starts], dtype=float)
    within = int(np.sum(fvals - reference < SOLVED_GAP))
    gap = float(result.best_fval - reference)
    return {"best_known_fval": reference, "gap": gap, "solved": bool(gap < SOLVED_GAP),
            "starts_within_1.92": within, "starts_run": int(fvals.size),
            "failed_starts": int(np.sum(~np.isfinite(fvals))), "cpu_s": cpu_s,
            "starts_within_per_cpu_hour": within / (cpu_s / 3600.0) if cpu_s > 0 else None}


def score_text(s: dict) -> str:
    """One line of :func:`score`'s figures."""
    rate = s["starts_within_per_cpu_hour"]
    verdict = "solved" if s["solved"] else "not solved"
    text = (f"gap to the best known value {s['gap']:.4g} ({verdict}: < {SOLVED_GAP}); "
            f"{s['starts_within_1.92']} of {s['starts_run']} starts within {SOLVED_GAP}, "
            f"{s['failed_starts']} failed; {s['cpu_s']:.0f} CPU s")
    return text + (f", {rate:.1f} such starts per CPU-hour" if rate is not None else "")
