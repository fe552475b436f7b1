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
    workers : int or None
        Worker processes of the process and Dask engines.
    table_rows : int or None
        The most rows of a sorted parameter table written beside the store
        (PyBNF's ``num_to_output``); None: one per start.
    max_time : float or None
        Wall seconds of the whole run (as ``fit(max_time=...)``); None: no limit.
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
    origin : tuple of (str, str)
        (field of this request, what in the file asked for it, e.g.
        ``("optimizer", "fit_type = trf")``), for the line a fit logs. A field
        the file asked for but that could not be met is listed too, its value
        left None (``("optimizer", "fit_type = de: no gradient method of that
        kind")``).
    """

    optimizer: str | None = None
    n_starts: int | None = None
    seed: int | None = None
    sampler: str | None = None
    max_iterations: int | None = None
    output_dir: Path | None = None
    workers: int | None = None
    table_rows: int | None = None
    max_time: float | None = None
    bootstrap: int = 0
    bootstrap_max_obj: float | None = None
    bootstrap_obj_scale: tuple[float, tuple[float, ...]] | None = None
    unused: tuple[str, ...] = ()
    source_line: tuple[tuple[str, int], ...] = ()
    origin: tuple[tuple[str, str], ...] = ()

    def asked(self, field: str) -> str | None:
        """What in the file asked for ``field`` (None: nothing)."""
        return dict(self.origin).get(field)

    def line_of(self, key: str) -> int | None:
        """The line setting ``key`` was read from (None: not read)."""
        return dict(self.source_line).get(key)
