"""How a problem file asks to be fitted: the run settings it carries.

PEtab problems carry none. A PyBNF configuration carries its own (``fit_type``,
``population_size``, ``random_seed``, ``output_dir``, ``bootstrap``, ...): the
PyBNF reader maps each one it can onto a bngfit setting here, and lists the
others in :attr:`FitRequest.unused`. Command-line options and API arguments
override a request; a request overrides the library's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FitRequest:
    """Run settings a problem file asks for; None (or empty) where it asks nothing.

    Attributes
    ----------
    optimizer : str or None
        A bngfit optimizer name (:class:`~bngfit.optimize.OptimizerName` value).
    n_starts : int or None
        Number of starts.
    seed : int or None
        Seed of the start points.
    sampler : str or None
        Start-point sampler name (``uniform`` or ``lhs``).
    max_iterations : int or None
        Iteration budget of each local optimization.
    output_dir : Path or None
        Folder for the run's outputs (store, best parameters, ...); absolute.
    bootstrap : int
        Number of bootstrap refits after the fit (0: none).
    bootstrap_max_obj : float or None
        Bootstrap refits ending above this objective value are discarded (on the
        file's own scale: PyBNF's objective, see ``bootstrap_obj_scale``).
    bootstrap_obj_scale : (float, tuple of float) or None
        ``(a, c)``: the file's objective of a replicate with measurement weights
        ``w`` is ``(fval - c @ w) / a`` in bngfit's fval (``c`` one constant per
        measurement); None: the same scale as bngfit's fval.
    unused : tuple of str
        Settings read but not used, each ``"key = value (why)"``, in file order;
        shown in one line when a run starts.
    source_line : tuple of (str, int)
        (setting key, line of the file it was read from), for messages.
    """

    optimizer: str | None = None
    n_starts: int | None = None
    seed: int | None = None
    sampler: str | None = None
    max_iterations: int | None = None
    output_dir: Path | None = None
    bootstrap: int = 0
    bootstrap_max_obj: float | None = None
    bootstrap_obj_scale: tuple[float, tuple[float, ...]] | None = None
    unused: tuple[str, ...] = ()
    source_line: tuple[tuple[str, int], ...] = ()
