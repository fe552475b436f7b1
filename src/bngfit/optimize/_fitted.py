"""The fit an analysis after fitting starts from (bootstrap, profiles).

Such an analysis takes a fit store, or a problem that it fits first (into
``store`` where given, resuming a store that already holds a run).
"""

from __future__ import annotations

from pathlib import Path

from bngfit.errors import InputError
from bngfit.problem._load import load_problem
from bngfit.problem._problem import Problem
from bngfit.result._store import Store
from bngfit.result._types import FitResult

from ._multistart import fit


def fitted_source(source: str | Path | Problem, problem: Problem | None,
                  store: str | Path | None, fit_opts: dict | None, whose: str
                  ) -> tuple[Problem, FitResult, Path | None]:
    """The problem, its fit and the store the analysis writes to (None: none).

    Parameters
    ----------
    source : str, Path or Problem
        A fit store, or a problem to fit now.
    problem : Problem or None
        With a store as source: the fitted problem, where the store's recorded
        path no longer finds it (checked against the store).
    store : str, Path or None
        With a problem as source: where the fit (and the analysis) is stored.
    fit_opts : dict or None
        With a problem as source: keywords of :func:`~bngfit.optimize.fit`.
    whose : str
        The analysis, for messages (``"bootstrap's"``, ``"profiles'"``).

    Raises
    ------
    InputError
        A problem given twice, ``store`` / ``fit_opts`` with a store as
        source, a store that does not read or holds another problem.
    """
    if isinstance(source, Problem):
        if problem is not None:
            raise InputError("give the problem once: as source, or with a store as source")
        resume = store is not None and Path(store).is_file() and Path(store).stat().st_size > 0
        fitted = fit(source, store=store, resume=resume, **(fit_opts or {}))
        return source, fitted, None if store is None else Path(store)
    if store is not None or fit_opts:
        raise InputError("store and fit_opts go with a problem as source; a store as "
                         f"source is the {whose} store", file=str(source))
    path = Path(source)
    with Store(path, readonly=True) as st:
        fitted = st.result()
        if problem is None:
            problem = load_problem(st.problem_path())
        st.check_same_problem(problem)
    return problem, fitted, path
