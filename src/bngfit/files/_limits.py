"""Documented limits on the size of what an input file may ask for.

A simulation's output grid is allocated in full (times, outputs and, with
sensitivities, outputs times parameters), so a file that asks for an absurd
grid (``time_course = time: 1e12``) would exhaust memory before anything is
simulated. Readers refuse such a file up front, naming the file, line and value.
"""

from __future__ import annotations

import math

#: Most output time points one simulation may be asked for (one million).
MAX_OUTPUT_POINTS = 1_000_000


def too_many_points(n: float) -> str | None:
    """A message if ``n`` output points exceed :data:`MAX_OUTPUT_POINTS`, else None."""
    if math.isfinite(n) and n <= MAX_OUTPUT_POINTS:
        return None
    count = f"{n:.3g}" if math.isfinite(n) else "infinitely many"
    return (f"asks for {count} output time points in one simulation; bngfit allows at most "
            f"{MAX_OUTPUT_POINTS:,} (a larger step or a shorter span, perhaps?)")
