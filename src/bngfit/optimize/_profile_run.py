"""Running profiles: :func:`profile` (the API) and :func:`run_profile`.

How a profile steps and what it gives: :mod:`bngfit.optimize._profile`. Here
each (parameter, direction) side runs its points one after the other, each
committed to the fit's store as it finishes; a run started again (after a
kill, or with more parameters) continues every side from its stored points.
Engine: sequential only (in this process), for now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.objective._objective import Objective
from bngfit.problem._problem import Problem
from bngfit.result._frames import native_values
from bngfit.result._profile import (
    DEFAULT_ALPHA,
    ProfilePoint,
    ProfileResult,
    SideEnd,
    check_alpha,
    threshold_of,
)
from bngfit.result._store import Store
from bngfit.result._store_profile import (
    add_point,
    add_profile_wall,
    open_profile,
    profile_meta,
    profile_points,
)
from bngfit.result._types import FitResult

from ._bootstrap_run import replicate_fit_settings
from ._fitted import fitted_source
from ._profile import (
    ProfileSteps,
    free_indices,
    next_point,
    optimize_held,
    parameter_profile,
    point_at,
    side_of,
)

log = logging.getLogger(__name__)

#: Default tolerance: a profile point this far below the fit's best fval is reported.
BETTER_TOL = 1e-3


def profile(
    source: Problem | str | Path,
    parameters: Sequence[str] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    problem: Problem | None = None,
    store: str | Path | None = None,
    steps: ProfileSteps | None = None,
    better_tol: float = BETTER_TOL,
    replace: bool = False,
    callback: Callable[[ProfilePoint], None] | None = None,
    fit_opts: dict | None = None,
) -> ProfileResult:
    """Profile likelihoods from a fit's best point: intervals and identifiability classes.

    Each profiled parameter is stepped in optimizer space (its own scale) in
    both directions from the best point, the other parameters re-optimized at
    each step with the fit's optimizer (warm-started from the previous point),
    until the rise of fval (the negative log-likelihood, plus the negative
    log-prior where the problem has objective priors) exceeds
    ``chi2.ppf(alpha, 1) / 2`` or the bound is reached. Runs sequentially in
    this process; see :mod:`bngfit.optimize._profile`.

    Parameters
    ----------
    source : Problem, str or Path
        A result store holding a fit (the points are committed to it), or a
        problem, which is fitted first (:func:`bngfit.fit` with ``fit_opts``
        and ``store``).
    parameters : sequence of str, optional
        Parameter ids to profile; default every free parameter.
    alpha : float
        Confidence level, in (0, 1); default 0.95.
    problem : Problem, optional
        With a store: the fitted problem, where its recorded path no longer
        gives it; checked against the store's fingerprint.
    store : path, optional
        With a problem: the store of its fit and profiles.
    steps : ProfileSteps, optional
        Step settings (default :class:`ProfileSteps()`).
    better_tol : float
        A point whose fval lies this far below the fit's best is reported as
        :attr:`ProfileResult.better_point`.
    replace : bool
        Drop stored profiles with other settings and begin anew.
    callback : callable, optional
        Called with each point once it is stored (an exception it raises
        stops the run; the finished points stay stored).
    fit_opts : dict, optional
        With a problem: keywords of :func:`bngfit.fit`.

    Returns
    -------
    ProfileResult

    Raises
    ------
    InputError
        A bad alpha, an unknown or fixed parameter id, a store without a fit
        with a finite best point, stored profiles with other settings.
    """
    alpha = check_alpha(alpha)
    problem, fitted, path = fitted_source(source, problem, store, fit_opts, "profiles'")
    return run_profile(problem, fitted, parameters, alpha=alpha, store=path,
                       steps=steps or ProfileSteps(), better_tol=better_tol, replace=replace,
                       callback=callback)


def run_profile(problem: Problem, fitted: FitResult, parameters: Sequence[str] | None = None,
                *, alpha: float = DEFAULT_ALPHA, store: str | Path | None = None,
                steps: ProfileSteps | None = None, better_tol: float = BETTER_TOL,
                replace: bool = False, callback: Callable[[ProfilePoint], None] | None = None
                ) -> ProfileResult:
    """Run (or continue) profiles of a fit; see :func:`profile`."""
    alpha = check_alpha(alpha)
    st_ = steps or ProfileSteps()
    if isinstance(better_tol, bool) or not isinstance(better_tol, int | float) \
            or not better_tol >= 0:
        raise InputError("better_tol must be a number >= 0", id="better_tol",
                         value=repr(better_tol))
    best = fitted.best
    if best is None or not np.isfinite(best.fval):
        raise InputError("the fit has no start with a finite fval: nothing to profile",
                         file=None if store is None else str(store))
    names = list(problem.x_names)
    if list(fitted.x_names) != names:
        raise InputError("the fit's parameters are not the problem's",
                         value=", ".join(fitted.x_names))
    indices = free_indices(names, parameters, [p.id for p in problem.parameters])
    fs = replicate_fit_settings(problem, fitted, engine="sequential")
    objective = Objective(problem, **fs.objective_opts)
    lb, ub = np.asarray(problem.lb, float), np.asarray(problem.ub, float)
    scales = [s.value for s in problem.x_scales]
    x_best, f_best = np.asarray(best.x, float), float(best.fval)
    thr = threshold_of(alpha)
    record = {"alpha": alpha, "estimate": [float(v) for v in x_best], "fval_best": f_best,
              "optimizer": {"name": fs.optimizer.value,
                            "options": {k: repr(v) for k, v in fs.optimizer_opts.items()}},
              "step": st_.record()}
    t0 = last = time.perf_counter()
    stored: list[ProfilePoint] = []
    with Store(store) if store is not None else nullcontext() as st:
        if st is not None:
            st.check_same_problem(problem)
            open_profile(st, record, replace=replace)
            stored = profile_points(st, len(names))
        by_side: dict[tuple[str, int], list[ProfilePoint]] = {}
        for p in stored:
            by_side.setdefault((p.parameter, p.direction), []).append(p)
        try:
            for i in indices:
                for d in (-1, 1):
                    side = side_of(i, d, x_best, f_best, lb, ub, thr)
                    pts = by_side.setdefault((names[i], d), [])
                    while not isinstance(nxt := next_point(side, pts, st_), SideEnd):
                        s, x_start = nxt
                        t1 = time.perf_counter()
                        x, fval, n_fval, msg = optimize_held(
                            objective, i, s, x_start, lb, ub, fs.optimizer, fs.optimizer_opts)
                        native = float(native_values(np.array([s]), [scales[i]])[0])
                        point = point_at(side, names[i], len(pts), s, native, x, fval, lb, ub,
                                         names, n_fval, time.perf_counter() - t1, msg)
                        pts.append(point)
                        if st is not None:
                            now = time.perf_counter()
                            add_point(st, point, now - last)
                            last = now
                        log.info("profile %s %s: %s = %.6g, rise %.4g", names[i],
                                 "down" if d < 0 else "up", names[i], s, fval - f_best)
                        if callback is not None:
                            callback(point)
        finally:
            if st is not None:
                add_profile_wall(st, time.perf_counter() - last)
                wall = float(profile_meta(st).get("wall_s", 0.0))
            else:
                wall = time.perf_counter() - t0
    profiles = []
    for i in indices:
        sides = [side_of(i, d, x_best, f_best, lb, ub, thr) for d in (-1, 1)]
        profiles.append(parameter_profile(names[i], scales[i], sides,
                                          [by_side[(names[i], d)] for d in (-1, 1)], st_))
    points = [q for p in profiles for q in p.points]
    below = [q for q in points if q.fval < f_best - better_tol]
    better = min(below, key=lambda q: q.fval) if below else None
    if better is not None:
        log.warning("profile point of %s at %.6g has fval %.10g, below the fit's best %.10g: "
                    "the fit did not find the optimum; refit from that point",
                    better.parameter, better.value, better.fval, f_best)
    return ProfileResult(x_names=names, x_scales=scales, estimate=x_best, fval_best=f_best,
                         alpha=alpha, threshold=thr, profiles=tuple(profiles),
                         better_point=better, better_tol=float(better_tol),
                         settings={"optimizer": fs.optimizer.value, "engine": "sequential",
                                   **st_.record()}, wall_s=wall)


__all__ = ["BETTER_TOL", "profile", "run_profile"]
