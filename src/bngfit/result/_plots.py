"""The plots people expect from a multistart fit (matplotlib, an optional extra).

:func:`plot_all` writes five PNGs from a :class:`~bngfit.result._types.FitResult`,
all in one style (:mod:`bngfit.result._plot_style`): the waterfall of sorted
final values and the optimizer history, both coloured by cluster of final
value; the parameters of every start within their bounds, in the same
colours; the model fit at the best start (data and simulation, following the
problem's PEtab visualization table when it has one); and the verdicts of the
stored gradient checks. The drawing lives in :mod:`._plot_starts`,
:mod:`._plot_fit` and :mod:`._plot_gradcheck`; this module picks the problem
and names the files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, MissingExtraError
from bngfit.problem import Problem, load_problem

from ._plot_fit import model_fit as _model_fit
from ._plot_fit_data import dense_problem
from ._plot_gradcheck import gradcheck
from ._plot_starts import history, parameters, waterfall
from ._plot_style import plot_folder
from ._types import FitResult

log = logging.getLogger(__name__)

#: The files :func:`plot_all` may write, in order.
PLOT_FILES = ("waterfall.png", "parameters.png", "model_fit.png", "history.png",
              "gradcheck.png")

__all__ = ["PLOT_FILES", "dense_problem", "gradcheck", "gradcheck_heatmap", "history",
           "model_fit", "parameters", "plot_all", "waterfall"]


def model_fit(problem: Problem, x: np.ndarray, path: Path) -> Path:
    """Data and simulation of ``problem`` at ``x`` (optimizer space, shape (n_x,))."""
    return _model_fit(problem, x, path)


def gradcheck_heatmap(result: FitResult, path: Path) -> Path | None:
    """The gradient-check figure (bngfit 0.1's name of :func:`gradcheck`)."""
    return gradcheck(result, path)


def _fitted_problem(result: FitResult) -> Problem | None:
    """The problem the stored run fitted, or None (with a warning saying why).

    The plots that need it (parameter bounds, the model fit) are left out when
    its file is gone or no longer loads; the others are still drawn.
    """
    problem_path = result.settings.get("problem")
    if not problem_path:
        log.warning("the store names no problem file: no parameter or model-fit plot")
        return None
    if not Path(problem_path).is_file():
        log.warning("problem file %s not found: no parameter or model-fit plot", problem_path)
        return None
    try:
        return load_problem(problem_path)
    except (InputError, MissingExtraError) as err:
        log.warning("problem file %s no longer loads (%s): no parameter or model-fit plot",
                    problem_path, err)
        return None


def _matching(problem: Problem | None, result: FitResult) -> Problem | None:
    """``problem`` if it has the fitted parameters, else None (with a warning)."""
    if problem is not None and list(problem.x_names) != list(result.x_names):
        log.warning("%s does not have the fitted parameters (%s): no parameter or model-fit "
                    "plot", problem.source, ", ".join(result.x_names))
        return None
    return problem


def plot_all(result: FitResult, folder: Path, problem: Problem | None = None) -> list[Path]:
    """Write every plot into ``folder`` (created if missing); return the files written.

    Parameters
    ----------
    result : FitResult
    folder : Path
    problem : Problem, optional
        The problem fitted; default: loaded from the file the run names
        (``result.settings["problem"]``). Without one, or when its free
        parameters differ from the run's, the parameter and model-fit plots
        are left out. Without stored gradient checks there is no
        gradcheck.png.

    Raises
    ------
    InputError
        If ``folder`` cannot be created.
    """
    folder = plot_folder(folder)
    files = [waterfall(result, folder / "waterfall.png")]
    problem = _matching(problem if problem is not None else _fitted_problem(result), result)
    if problem is not None and result.best is not None:
        files.append(parameters(result, problem.lb, problem.ub, folder / "parameters.png",
                                scales=problem.x_scales))
        files.append(_model_fit(problem, result.best.x, folder / "model_fit.png",
                                title=f"Model fit at the best start ({result.best.index})"))
    files.append(history(result, folder / "history.png"))
    check = gradcheck(result, folder / "gradcheck.png")
    if check is not None:
        files.append(check)
    return files
