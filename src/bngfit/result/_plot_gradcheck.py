"""The gradient-check figure: the verdict per parameter and check point, with the errors.

A cell's colour is the verdict stored with the check (judged when it ran, on
every step's rows and with the check point's fval;
:func:`bngfit.objective.summarize` for checks stored before verdicts were
kept): agrees, unresolved, mismatch, a category rather than a colour scale: an
entry the finite differences cannot resolve (typically a component about 0 at
an optimum) is not a failure, so it is never drawn in the colour of one. The
errors are printed in the cells, one metric per panel, since relative and
absolute errors have no common scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bngfit.objective._gradcheck import Agreement, judged

from ._plot_style import save, style
from ._types import FitResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Cell colour of each verdict.
VERDICT_COLORS = {Agreement.AGREES: "#7fc97f", Agreement.UNRESOLVED: "#d9d9d9",
                  Agreement.MISMATCH: "#e34a33"}
VERDICT_TEXT = {Agreement.AGREES: "agrees", Agreement.UNRESOLVED: "not resolved by the "
                "differences", Agreement.MISMATCH: "mismatch"}
#: The errors shown, one panel each.
METRICS = ("rel_err", "abs_err")


def verdicts(result: FitResult) -> dict[str, dict[str, Agreement]]:
    """Check point (``"start"``, ``"best"``) -> parameter id -> verdict.

    The verdicts stored with each table are used: they were made on every
    step's rows and with the check point's fval (the round-off floor of its
    differences), neither of which a stored table keeps. A table stored
    without them is judged again, the best point with the best start's fval.
    """
    out = {}
    for point, table in result.gradchecks.items():
        if not {"grad", "fd_c", "fd_err", "abs_err", "rel_err"} <= set(table.columns):
            continue
        fval = result.best_fval if point == "best" and np.isfinite(result.best_fval) else None
        out[point] = dict(judged(table, fval).verdict)
    return out


def _fmt(v: float) -> str:
    return f"{v:.1e}" if np.isfinite(v) else str(v)


def gradcheck(result: FitResult, path: Path) -> Path | None:
    """Write :func:`gradcheck_figure` to ``path``; None (nothing written) without checks."""
    fig = gradcheck_figure(result)
    return None if fig is None else save(fig, path)


def gradcheck_figure(result: FitResult) -> Figure | None:
    """Verdict (colour) and error (text) per parameter and check point; None without checks."""
    judged = verdicts(result)
    if not judged:
        return None
    points = list(judged)
    names = [n for n in result.x_names if any(n in judged[p] for p in points)]
    names += [n for p in points for n in judged[p] if n not in names]
    with style() as plt:
        from matplotlib.colors import to_rgb
        from matplotlib.patches import Patch

        fig, axes = plt.subplots(1, len(METRICS), figsize=(2.2 + 1.5 * len(points) * len(METRICS),
                                                           0.32 * len(names) + 1.9),
                                 layout="constrained", squeeze=False, sharey=True)
        for ax, metric in zip(axes[0], METRICS, strict=True):
            img = np.ones((len(names), len(points), 3))
            for j, p in enumerate(points):
                table: pd.DataFrame = result.gradchecks[p]
                for i, n in enumerate(names):
                    verdict = judged[p].get(n)
                    if verdict is None:
                        continue
                    img[i, j] = to_rgb(VERDICT_COLORS[verdict])
                    ax.text(j, i, _fmt(float(table.loc[n, metric])), ha="center",
                            va="center", fontsize=7.5)
            ax.imshow(img, aspect="auto", interpolation="nearest")
            for k in range(1, len(names)):  # white rules between the cells
                ax.axhline(k - 0.5, color="white", lw=1.5)
            for k in range(1, len(points)):
                ax.axvline(k - 0.5, color="white", lw=3)
            ax.set_xticks(range(len(points)), [f"at {p}" for p in points])
            ax.set_yticks(range(len(names)), names)
            ax.set_xlabel("check point")
            ax.set_title(metric)
            ax.grid(False)
            ax.tick_params(length=0)
        axes[0][0].set_ylabel("parameter")
        counts = {a: sum(v is a for p in points for v in judged[p].values()) for a in Agreement}
        handles = [Patch(color=VERDICT_COLORS[a], label=f"{VERDICT_TEXT[a]} ({counts[a]})")
                   for a in Agreement]
        fig.legend(handles=handles, loc="outside lower center", ncol=3)
        fig.suptitle("Gradient check: verdict (colour) and error (text) per parameter")
        return fig
