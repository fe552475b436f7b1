"""How a problem's data should be drawn: the PEtab visualization table, format-free.

Each :class:`VisualizationRow` is one data series of one plot: the points of a
dataset (or of an observable), drawn against time or against a condition's
value of an input such as a dose. Rows with the same ``plot_id`` share one
panel. Readers resolve the table's defaults (labels from the ids, legend
entries from the dataset), so plotting code reads the fields as they are.
Nothing here changes the objective: the table only says how to look at it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

#: ``xValues`` of a time-course plot (any other value names a condition input).
TIME_X = "time"


class PlotTypeSimulation(StrEnum):
    """How the simulation of a series is drawn (PEtab ``plotTypeSimulation``)."""

    LINE_PLOT = "LinePlot"
    BAR_PLOT = "BarPlot"
    SCATTER_PLOT = "ScatterPlot"


class PlotTypeData(StrEnum):
    """How replicate measurements are summarised (PEtab ``plotTypeData``).

    ``MeanAndSD``/``MeanAndSEM``: one mean per x value with the standard
    deviation or standard error of the replicates as bars; ``replicate``:
    every point; ``provided``: the noise level of the noise model as bars.
    """

    MEAN_AND_SD = "MeanAndSD"
    MEAN_AND_SEM = "MeanAndSEM"
    REPLICATE = "replicate"
    PROVIDED = "provided"


class AxisScale(StrEnum):
    """Scale of a plot axis (PEtab ``xScale``/``yScale``).

    ``log`` and ``log10`` both draw a logarithmic axis (they differ only in
    the tick labels tools choose); ``order`` (x only) places the distinct x
    values equidistantly, in increasing order.
    """

    LIN = "lin"
    LOG = "log"
    LOG10 = "log10"
    ORDER = "order"


@dataclass(frozen=True)
class VisualizationRow:
    """One data series of one plot (a row of the PEtab visualization table).

    Attributes
    ----------
    plot_id : str
        The panel the series is drawn in.
    plot_name : str
        Title of the panel (``""``: none given).
    dataset_id : str
        Measurements of this dataset (``""``: every measurement of
        ``y_values``).
    y_values : str
        Observable id drawn (``""``: every observable of the dataset).
    x_values : str
        :data:`TIME_X`, or the id of a condition input (a column of the
        condition table, e.g. a dose) whose value in each measurement's
        condition is the x value: a dose-response plot.
    plot_type_simulation : PlotTypeSimulation
    plot_type_data : PlotTypeData
    x_offset, y_offset : float
        Added to the x and y values drawn (data and simulation alike).
    x_label, y_label : str
        Axis labels, defaulted to ``x_values`` and ``y_values``.
    x_scale : AxisScale
    y_scale : AxisScale
        Never ``ORDER``.
    legend_entry : str
        The series' name in the legend, defaulted to ``dataset_id`` (else
        ``y_values``).
    file : str
        The table's file, for messages.
    row : int
        Line in that file (the header is line 1).
    """

    plot_id: str
    plot_name: str = ""
    dataset_id: str = ""
    y_values: str = ""
    x_values: str = TIME_X
    plot_type_simulation: PlotTypeSimulation = PlotTypeSimulation.LINE_PLOT
    plot_type_data: PlotTypeData = PlotTypeData.MEAN_AND_SD
    x_offset: float = 0.0
    x_label: str = ""
    x_scale: AxisScale = AxisScale.LIN
    y_offset: float = 0.0
    y_label: str = ""
    y_scale: AxisScale = AxisScale.LIN
    legend_entry: str = ""
    file: str = ""
    row: int = 0

    @property
    def dose_response(self) -> bool:
        """Whether the x values are a condition input rather than time."""
        return self.x_values != TIME_X


def group_plots(rows: Iterable[VisualizationRow]) -> dict[str, tuple[VisualizationRow, ...]]:
    """The rows of each plot, plots in order of first appearance.

    Parameters
    ----------
    rows : iterable of VisualizationRow

    Returns
    -------
    dict of str to tuple of VisualizationRow
        ``plot_id`` -> its rows, in table order.
    """
    out: dict[str, list[VisualizationRow]] = {}
    for r in rows:
        out.setdefault(r.plot_id, []).append(r)
    return {k: tuple(v) for k, v in out.items()}
