"""Parameter scans: the points a ``parameter_scan`` action simulates, and which
data row is which point.

A scan runs one simulation per value of one parameter and writes the last row
of each (BioNetGen 2.9 ``parameter_scan``, ``Perl2/BNGAction.pm``):

- the values are ``par_scan_vals``, or ``n_scan_pts`` values from ``par_min``
  to ``par_max``, equally spaced, or with ``log_scale=>1`` equally spaced in
  the logarithm (BioNetGen takes ``exp`` of equally spaced natural logs); the
  range wins where both are given, as in BioNetGen;
- before each point the parameter is set; with ``reset_conc=>1`` (the
  default) the species are reset to the state the scan started from, so every
  point starts there; with ``reset_conc=>0`` each point continues from the
  end of the one before;
- afterwards the parameter keeps the last value and, with ``reset_conc=>1``,
  the species are back at the scan's starting state.

PyBNF compares a data file whose first column is the scanned parameter with
the scan of that suffix, matching each data row to the first point whose value
equals the row's to a relative 1e-5 (``numpy.isclose`` with ``atol=0``, as
``pybnf/objective.py`` does); a row that matches no point is an error there,
and here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Relative tolerance of matching a data row's value to a scan point (PyBNF's).
MATCH_RTOL = 1e-5


@dataclass(frozen=True)
class Scan:
    """The points of a parameter scan.

    Attributes
    ----------
    parameter : str
        The scanned model parameter (or, in an SBML model, species).
    values : tuple of float
        The scanned values, in the order they are simulated.
    reset_conc : bool
        True: every point starts from the scan's starting state; False: each
        point continues from the end of the one before.
    how : str
        How the values were given, for messages (``par_min 1, par_max 100,
        n_scan_pts 5, log_scale 1``).
    """

    parameter: str
    values: tuple[float, ...]
    reset_conc: bool = True
    how: str = ""

    def point_of(self, x: float) -> int | None:
        """Index of the first point equal to ``x`` to :data:`MATCH_RTOL` (None: no point)."""
        for k, v in enumerate(self.values):
            if abs(v - x) <= MATCH_RTOL * abs(x):
                return k
        return None

    def describe_points(self, limit: int = 8) -> str:
        """The points as text (the first and last few where there are many)."""
        vals = [f"{v:.6g}" for v in self.values]
        if len(vals) > limit:
            vals = [*vals[: limit // 2], "...", *vals[-(limit // 2):]]
        return ", ".join(vals)


def scan_values(par_min: float | None, par_max: float | None, n_pts: float | None,
                log_scale: bool, vals: tuple[float, ...] | None) -> tuple[float, ...]:
    """The scanned values as BioNetGen computes them.

    Parameters
    ----------
    par_min, par_max : float or None
        The range (both, with ``n_pts``, or neither).
    n_pts : float or None
        ``n_scan_pts``.
    log_scale : bool
    vals : tuple of float or None
        ``par_scan_vals``, used where the range is not given.

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        With a message saying what is wrong (BioNetGen's own rules: more than
        one point unless the range is a single value, a positive range on a
        log scale, at least one value).
    """
    if par_min is not None and par_max is not None and n_pts is not None:
        if not float(n_pts).is_integer():
            raise ValueError(f"n_scan_pts must be a whole number, not {n_pts:g}")
        n = int(n_pts)
        if par_min == par_max:
            if n < 1:
                raise ValueError("n_scan_pts must be at least 1")
        elif n <= 1:
            raise ValueError("n_scan_pts must be more than 1 where par_max != par_min")
        if log_scale and (par_min <= 0 or par_max <= 0):
            raise ValueError("par_min and par_max must be positive with log_scale=>1")
        lo, hi = (math.log(par_min), math.log(par_max)) if log_scale else (par_min, par_max)
        delta = (hi - lo) / (n - 1) if n > 1 else 0.0
        out = [lo + k * delta for k in range(n)]
        return tuple(math.exp(v) for v in out) if log_scale else tuple(out)
    if vals is None:
        raise ValueError("give par_min, par_max and n_scan_pts, or par_scan_vals")
    if not vals:
        raise ValueError("par_scan_vals is empty")
    return tuple(vals)
