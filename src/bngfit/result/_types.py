"""What happened in a fit: typed, frozen results of one start and of a multistart."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from bngfit.errors import InputError
from bngfit.problem._load import load_problem
from bngfit.problem._problem import Problem

from ._bounds import near_bounds
from ._frames import (
    best_native,
    best_table,
    fit_html,
    fit_repr,
    start_html,
    start_repr,
    starts_frame,
)


class StartStatus(StrEnum):
    """How one local optimization ended."""

    CONVERGED = "converged"  # the optimizer's own convergence test passed
    MAX_ITER = "max_iter"  # stopped by an evaluation or iteration budget
    # no step improves any more (fides' trust region shrank to nothing, L-BFGS-B's
    # line search found no decrease): typically at an optimum where the ODE
    # solver's accuracy ends progress before the convergence test passes
    STALLED = "stalled"
    FAILED = "failed"  # the optimizer stopped abnormally (line search, radius, ...)
    # the start could not finish: the objective failed at its point, the start
    # raised (its message and traceback are kept), or its worker process died
    ERROR = "error"
    # the worker could not set the start up (the problem could not be built
    # there): nothing of the start ran, so it is not stored and a resumed run
    # runs it
    NOT_RUN = "not_run"


STATUS_TEXT = {
    StartStatus.CONVERGED: "converged",
    StartStatus.MAX_ITER: "stopped by the iteration/evaluation budget",
    StartStatus.STALLED: "stopped where no step improves (often at an optimum limited by "
                         "the solver's accuracy)",
    StartStatus.FAILED: "optimizer stopped without convergence",
    StartStatus.ERROR: "start failed (objective failure at its point, an error, or its "
                       "worker process died)",
    StartStatus.NOT_RUN: "start not run (its worker could not set it up; a resumed run "
                         "runs it)",
}


@dataclass(frozen=True)
class StartResult:
    """The result of one local optimization.

    Attributes
    ----------
    index : int
        Start number (0-based) in the multistart.
    x0, x : ndarray, shape (n_x,)
        Start and end point, optimizer space (for a raced start, the winning
        candidate's start point).
    fval : float
        Negative log-likelihood at ``x`` (``inf`` if the start failed).
    grad_norm : float
        Euclidean norm of the gradient at ``x``, optimizer space.
    n_fval : int
        Objective evaluations of the start, every race candidate's included
        (each with sensitivities unless stated).
    wall_s : float
        Wall time of the start, seconds.
    status : StartStatus
    message : str
        The optimizer's own words, or the error.
    trace : ndarray, shape (n_trace,)
        fval after each evaluation, in order (inf where a simulation failed);
        a raced start's candidates one after another, then the continuation.
    eval_s : float
        Part of ``wall_s`` spent inside objective evaluations, seconds.
    detail : str
        For a start that raised: the traceback (shown with ``--debug``).
    """

    index: int
    x0: np.ndarray
    x: np.ndarray
    fval: float
    grad_norm: float
    n_fval: int
    wall_s: float
    status: StartStatus
    message: str
    trace: np.ndarray = field(repr=False)
    eval_s: float = 0.0
    detail: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return start_repr(self)

    def _repr_html_(self) -> str:
        return start_html(self)


@dataclass(frozen=True)
class FitResult:
    """A multistart fit.

    Attributes
    ----------
    x_names : list of str
        Free parameter ids, length n_x.
    starts : tuple of StartResult
        Finished starts, best (lowest fval) first.
    optimizer : str
    seed : int or None
        Seed of the start points' generator (None for user start points only).
    n_starts : int
        Starts requested (may exceed ``len(starts)`` for an unfinished run).
    wall_s : float
        Wall time of the multistart, seconds (sum over sessions when resumed).
    settings : dict
        Everything else that defines the run (tolerances, engine, sampling).
    gradchecks : dict
        ``"start"``/``"best"`` -> gradient-check table (pandas DataFrame).
    """

    x_names: list[str]
    starts: tuple[StartResult, ...]
    optimizer: str
    seed: int | None
    n_starts: int
    wall_s: float
    settings: dict = field(default_factory=dict)
    gradchecks: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return fit_repr(self)

    def _repr_html_(self) -> str:
        return fit_html(self)

    @property
    def x_scales(self) -> list[str] | None:
        """Scale of each free parameter (``lin``, ``log``, ``log10``), length n_x.

        Recorded by :func:`~bngfit.fit` and in stores; None for a store written
        before scales were kept.
        """
        scales = self.settings.get("x_scales")
        return None if scales is None else [str(s) for s in scales]

    def at_bounds(self, lb: np.ndarray | None = None, ub: np.ndarray | None = None
                  ) -> dict[str, str]:
        """Parameters of the best start at or within 1e-3 of the bound interval of a bound.

        Parameters
        ----------
        lb, ub : ndarray, shape (n_x,), optional
            Bounds in optimizer space (default: those recorded by
            :func:`~bngfit.fit` and in stores; a store written before bounds
            were kept flags nothing without them).

        Returns
        -------
        dict of str to str
            Parameter id -> ``"lower"`` or ``"upper"``.
        """
        if lb is None or ub is None:
            recorded = self.settings.get("x_bounds")
            if recorded is None or self.best is None:
                return {}
            lb, ub = (np.asarray(v, dtype=float) for v in recorded)
        if self.best is None:
            return {}
        flags = near_bounds(self.best.x, lb, ub, self.x_names)
        return {name: side.value for name, side in flags.items()}

    def to_dataframe(self) -> pd.DataFrame:
        """The finished starts as a table, best first.

        Returns
        -------
        pandas.DataFrame
            One row per start: ``index``, ``fval``, ``status``, ``n_fval``,
            ``wall_s`` (seconds), ``grad_norm``, ``message``, then the end point
            ``x`` in optimizer space, one column per free parameter id.
        """
        return starts_frame(self)

    def best_parameters(self) -> pd.Series:
        """The best start's parameters as native values (not optimizer space).

        Returns
        -------
        pandas.Series
            Indexed by free parameter id, e.g. 10.0 for a log10 parameter at x = 1.

        Raises
        ------
        ValueError
            No start finished with a finite fval, or the result does not record
            the parameters' scales (a store from before they were kept).
        """
        return best_native(self)

    def best_parameter_table(self, problem: Problem | None = None) -> pd.DataFrame:
        """The problem's PEtab parameter table at the best point, as ``bngfit fit`` writes it.

        Parameters
        ----------
        problem : Problem, optional
            The problem that was fitted (needed where it differs from its files,
            e.g. with fixed parameters). Default: read again from the file the
            result records.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameterId``, ``parameterScale``, ``lowerBound``,
            ``upperBound``, ``nominalValue`` (native: the best point for free
            parameters, the fixed value for the others), ``estimate``.

        Raises
        ------
        ValueError
            No start finished with a finite fval.
        InputError
            The problem's free parameters are not the fit's, or its file cannot
            be read.
        """
        if problem is None:
            source = self.settings.get("problem")
            if not source:
                raise InputError("the result does not record its problem file: pass the "
                                 "problem")
            problem = load_problem(source)
        return best_table(self, problem)

    @property
    def best(self) -> StartResult | None:
        """The start with the lowest fval, or None when no start finished."""
        return self.starts[0] if self.starts else None

    @property
    def best_fval(self) -> float:
        """Lowest fval over the finished starts (``inf`` if none)."""
        return self.starts[0].fval if self.starts else float("inf")

    def n_converged(self, tol: float = 0.01) -> int:
        """Starts whose fval lies within ``tol`` of the best one."""
        best = self.best_fval
        if not np.isfinite(best):
            return 0
        return sum(1 for s in self.starts if s.fval <= best + tol)

    @property
    def n_fval(self) -> int:
        """Objective evaluations over all finished starts."""
        return sum(s.n_fval for s in self.starts)

    def status_counts(self) -> dict[str, int]:
        """Finished starts per status (value -> count), statuses in enum order."""
        counts = {st.value: 0 for st in StartStatus}
        for s in self.starts:
            counts[s.status.value] += 1
        return {k: v for k, v in counts.items() if v}

    def tolerances(self) -> dict:
        """The run's ODE tolerances: ``rtol``, ``atol`` and ``chosen`` (how).

        Runs stored before tolerances were chosen per problem ran with the
        ones in their objective settings, else rtol 1e-8 / atol 1e-10.
        """
        tol = self.settings.get("tolerances")
        if tol:
            return dict(tol)
        opts = self.settings.get("objective_opts") or {}
        given = "rtol" in opts or "atol" in opts
        return {"rtol": float(opts.get("rtol", 1e-8)), "atol": float(opts.get("atol", 1e-10)),
                "chosen": "given" if given else "the defaults"}

    def summary_dict(self) -> dict:
        """The summary as plain JSON-ready values (non-finite numbers as None)."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "best_fval": num(self.best_fval),
            "n_starts": self.n_starts,
            "n_finished": len(self.starts),
            "n_converged": self.n_converged(),
            "statuses": self.status_counts(),
            "n_fval": self.n_fval,
            "wall_s": self.wall_s,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "race": self.settings.get("race", 1),
            "race_budget": self.settings.get("race_budget"),
            "tolerances": self.tolerances(),
            "max_evals": self.settings.get("max_evals"),
            "max_start_time": self.settings.get("max_start_time"),
            "closed_form_noise": list(self.settings.get("closed_form_noise") or []),
            "warnings": list(self.settings.get("warnings") or []),
            "x_names": list(self.x_names),
            "best_x": None if self.best is None else [float(v) for v in self.best.x],
            "at_bounds": self.at_bounds(),
            "starts": [
                {
                    "index": s.index,
                    "x": [float(v) for v in s.x],
                    "x0": [float(v) for v in s.x0],
                    "fval": num(s.fval),
                    "grad_norm": num(s.grad_norm),
                    "status": s.status.value,
                    "message": s.message,
                    "n_fval": s.n_fval,
                    "wall_s": s.wall_s,
                    "eval_s": s.eval_s,
                }
                for s in self.starts
            ],
        }
