"""The problem stage: what is estimated, in format-free types.

A :class:`Problem` holds parameters (:class:`ParameterSpec`, scales),
observables (formulas with the placeholder convention, transforms, noise
families), conditions and their mutations, measurements, normalizations and
penalties, and the names of its models (:class:`ModelInfo`). Nothing here
reads a file format or runs a model: readers (:mod:`bngfit.petab`,
:mod:`bngfit.pybnf`) build problems, and :func:`load_problem` picks the reader
registered for a file's suffix.
"""

from bngfit import _compat

from ._conditions import Condition, Mutation, MutationOp
from ._formulas import PLACEHOLDER, TIME_SYMBOL, Formula, parse_formula, placeholder
from ._load import check_problem, load_problem, register_reader
from ._model_info import ModelAccess, ModelInfo
from ._priors import InitPrior
from ._problem import (
    SHAPE_FAMILIES,
    Measurements,
    NoiseFamily,
    Normalization,
    NormKind,
    Observable,
    ParameterSpec,
    Problem,
    TrajectoryPenalty,
    Transform,
)
from ._request import FitRequest
from ._scales import Scale
from ._visualization import (
    TIME_X,
    AxisScale,
    PlotTypeData,
    PlotTypeSimulation,
    VisualizationRow,
    group_plots,
)

__all__ = [
    "PLACEHOLDER", "SHAPE_FAMILIES", "TIME_SYMBOL", "TIME_X", "AxisScale", "Condition",
    "FitRequest", "Formula", "InitPrior",
    "Measurements", "ModelAccess", "ModelInfo", "Mutation", "MutationOp", "NoiseFamily",
    "NormKind", "Normalization", "Observable", "ParameterSpec", "PlotTypeData",
    "PlotTypeSimulation", "Problem", "Scale", "TrajectoryPenalty", "Transform",
    "VisualizationRow", "check_problem", "group_plots", "load_problem", "parse_formula",
    "placeholder", "register_reader",
]

# bngfit 0.1's module bngfit.problem: its other names, deprecated
__getattr__ = _compat.old_names("problem", "problem._problem")
