"""What is estimated: a parameter-estimation problem, independent of file format.

Loaders (:mod:`bngfit.petab._read`, later PyBNF) produce a :class:`Problem`; the
objective compiles it against the model. Vectors in optimizer space (``x``)
follow :attr:`Problem.x_names`, each parameter on its own scale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from bngfit.errors import Issue
from bngfit.problem._model_info import ModelInfo

from ._conditions import Condition
from ._constraints import Constraint
from ._describe import fix_parameters, problem_html, problem_repr
from ._formulas import Formula
from ._request import FitRequest
from ._sampling import Sampler, sample_starts
from ._scales import Scale, scale_codes, to_scale, unscale
from ._visualization import VisualizationRow


class Transform(StrEnum):
    """Observable transformation before the noise model (PEtab)."""

    LIN = "lin"
    LOG = "log"
    LOG10 = "log10"


class NoiseFamily(StrEnum):
    """Noise distribution of an observable.

    ``student_t`` and ``neg_binomial`` have a shape parameter besides the scale
    (:attr:`Observable.shape`): degrees of freedom, dispersion ``r``.
    """

    NORMAL = "normal"
    LAPLACE = "laplace"
    STUDENT_T = "student_t"
    NEG_BINOMIAL = "neg_binomial"


SHAPE_FAMILIES = (NoiseFamily.STUDENT_T, NoiseFamily.NEG_BINOMIAL)


@dataclass(frozen=True)
class ParameterSpec:
    """One row of the parameter table.

    Attributes
    ----------
    id : str
    scale : Scale
    lb, ub : float
        Bounds, native values.
    nominal : float
        Nominal value, native.
    estimate : bool
    row : int
        Line in the parameter file (header is line 1).
    init_prior : tuple or None
        ``(InitPrior, a, b)``: where multistart draws its start
        (:mod:`bngfit.problem._priors`); None: uniform between the bounds on its scale.
    objective_prior : tuple or None
        ``(InitPrior, a, b)``: a prior of the objective (a term of the negative
        log-posterior, :mod:`bngfit.likelihood._priors`); None: none.
    """

    id: str
    scale: Scale
    lb: float
    ub: float
    nominal: float
    estimate: bool
    row: int = 0
    init_prior: tuple | None = None
    objective_prior: tuple | None = None


@dataclass(frozen=True)
class Observable:
    """An observable: its formula, noise formula, transform and noise family.

    ``shape`` is the family's shape parameter where it has one: a number or the
    id of a (free or fixed) problem parameter: Student-t degrees of freedom,
    negative-binomial dispersion ``r`` (whose mean is the observable; its noise
    formula is then unused).
    """

    id: str
    formula: Formula
    noise: Formula
    transform: Transform
    family: NoiseFamily
    row: int = 0
    shape: float | str | None = None


@dataclass(frozen=True)
class Measurements:
    """The measurement table as arrays, one entry per data point (length n).

    ``preeq`` holds ``""`` where there is no pre-equilibration. The override
    tuples hold numbers or parameter ids, one tuple per data point.
    ``dataset_id`` holds each point's PEtab ``datasetId`` (``""`` where none),
    or is empty when the tables have no such column; it only groups points
    for plots, so it takes no part in comparisons (nor in fingerprints).
    """

    observable: tuple[str, ...]
    preeq: tuple[str, ...]
    condition: tuple[str, ...]
    time: np.ndarray
    value: np.ndarray
    observable_params: tuple[tuple[float | str, ...], ...]
    noise_params: tuple[tuple[float | str, ...], ...]
    rows: tuple[int, ...]
    dataset_id: tuple[str, ...] = field(default=(), compare=False)

    def __len__(self) -> int:
        return len(self.observable)


class NormKind(StrEnum):
    """How a simulated trajectory is normalized before comparison (PyBNF's types).

    Statistics are taken over the trajectory's reference times (the simulated
    output grid): ``init`` divides by the first value, ``peak`` by the maximum,
    ``zero`` subtracts the mean and divides by the (population) standard
    deviation, ``unit`` maps ``(y - init) / (max - init)`` (or, when the maximum
    is the initial value, ``(y - init) / (init - min)``). ``incident`` turns a
    cumulative output into increments: ``y(t) - y(t')`` with ``t'`` the reference
    time before ``t`` (the first reference time keeps its value), as PyBNF does
    for cumulative columns.
    """

    INIT = "init"
    PEAK = "peak"
    ZERO = "zero"
    UNIT = "unit"
    INCIDENT = "incident"  # cumulative -> per-interval: y(t) - y(previous reference time)


@dataclass(frozen=True)
class Normalization:
    """Normalize one observable's simulation in one experiment.

    Attributes
    ----------
    kind : NormKind
    observable : str
        Observable id; its formula must be one model output.
    preeq, condition : str
        The experiment (pre-equilibration id or ``""``, condition id).
    times : tuple of float
        Reference times the statistics are taken over, model time units.
    """

    kind: NormKind
    observable: str
    preeq: str
    condition: str
    times: tuple[float, ...]


@dataclass(frozen=True)
class TrajectoryPenalty:
    """A term added to the negative log-likelihood that reads whole trajectories.

    Qualitative constraints (PyBNF ``.prop``) are such terms: they look at
    model outputs over a time grid rather than at measurements.

    Attributes
    ----------
    names : tuple of str
        Model outputs (observables, functions, species) it reads.
    preeq, condition : str
        The experiment simulated (pre-equilibration id or ``""``, condition id).
    times : tuple of float
        Time grid the outputs are sampled on, model time units.
    evaluate : callable or None
        ``evaluate(t, series) -> (value, derivs)``: ``t`` (n_t,), ``series``
        name -> values (n_t,); returns the penalty (added to fval) and
        name -> d penalty / d values (n_t,). None: PyBNF's penalty of
        ``constraint`` (:func:`bngfit.likelihood.penalty`).
    label : str
        Where it comes from (file:line), for messages.
    constraint : Constraint or None
        The qualitative constraint, when the penalty is PyBNF's.
    """

    names: tuple[str, ...]
    preeq: str
    condition: str
    times: tuple[float, ...]
    evaluate: Callable | None = field(compare=False, repr=False)
    label: str = ""
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if (self.evaluate is None) == (self.constraint is None):
            raise ValueError("a TrajectoryPenalty needs exactly one of evaluate and constraint")


@dataclass(frozen=True)
class Problem:
    """A parameter-estimation problem.

    A problem may fit several models at once (a PyBNF configuration with
    several model lines): each condition names the model it runs on
    (:attr:`~bngfit.problem._conditions.Condition.model`), and the free parameters are
    shared by id, each one a parameter of those models that have it.
    Condition ids are unique across models.

    Attributes
    ----------
    model : ModelInfo
        The model and its names; with several models, the first (primary) one.
    parameters : tuple of ParameterSpec
        All problem parameters (estimated and fixed).
    conditions : dict
        Condition id -> :class:`~bngfit.problem._conditions.Condition`.
    observables : dict
        Observable id -> :class:`Observable`.
    measurements : Measurements
    source : Path
        The problem file it was read from.
    normalizations : tuple of Normalization
        Trajectory normalizations applied before the likelihood (PyBNF).
    penalties : tuple of TrajectoryPenalty
        Terms added to the negative log-likelihood (qualitative constraints).
    files : dict
        Role (``parameters``, ``conditions``, ...) -> file path, for messages;
        several files of one role are joined by ``;`` (every model file under
        ``model``).
    models : dict
        Model id -> :class:`ModelInfo`, in order, ``model`` first. Default: the
        one model, under its file stem.
    warnings : tuple of Issue
        Warnings found while reading the files (severity ``"warning"``); those
        with ``affects_result`` mean the objective differs from what the files
        literally ask for.
    visualization : tuple of VisualizationRow
        How the data should be drawn (the PEtab visualization table); empty:
        no table. It does not change the objective, so it takes no part in
        comparisons (nor in fingerprints).
    request : FitRequest
        Run settings the problem file asks for (PyBNF's); not part of the
        objective, so not compared.
    """

    model: ModelInfo
    parameters: tuple[ParameterSpec, ...]
    conditions: dict[str, Condition]
    observables: dict[str, Observable]
    measurements: Measurements
    source: Path
    files: dict[str, str] = field(default_factory=dict)
    normalizations: tuple[Normalization, ...] = ()
    penalties: tuple[TrajectoryPenalty, ...] = ()
    models: dict[str, ModelInfo] = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()
    visualization: tuple[VisualizationRow, ...] = field(default=(), compare=False)
    request: FitRequest = field(default=FitRequest(), compare=False)

    def __post_init__(self) -> None:
        if not self.models:
            object.__setattr__(self, "models", {self.model.path.stem: self.model})
        elif next(iter(self.models.values())) != self.model:
            raise ValueError("Problem.model must be the first of Problem.models")

    def model_id(self, condition_id: str) -> str:
        """Id of the model a condition runs on (a key of :attr:`models`).

        Raises
        ------
        KeyError
            For an unknown condition, or one naming no model of the problem.
        """
        name = self.conditions[condition_id].model
        if name is None:
            return next(iter(self.models))
        if name not in self.models:
            raise KeyError(f"condition '{condition_id}' runs on model '{name}', which is "
                           f"not a model of the problem ({', '.join(self.models)})")
        return name

    @property
    def free(self) -> tuple[ParameterSpec, ...]:
        """The estimated parameters, in optimizer order."""
        return tuple(p for p in self.parameters if p.estimate)

    @property
    def x_names(self) -> list[str]:
        """Ids of the free parameters, length n_x."""
        return [p.id for p in self.free]

    @property
    def x_scales(self) -> list[Scale]:
        """Scale of each free parameter, length n_x."""
        return [p.scale for p in self.free]

    def _to_x(self, values: list[float]) -> np.ndarray:
        return to_scale(np.array(values, dtype=float), scale_codes(self.x_scales))

    @property
    def x_nominal(self) -> np.ndarray:
        """Nominal values of the free parameters in optimizer space, shape (n_x,)."""
        return self._to_x([p.nominal for p in self.free])

    @property
    def lb(self) -> np.ndarray:
        """Lower bounds in optimizer space, shape (n_x,)."""
        return self._to_x([p.lb for p in self.free])

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds in optimizer space, shape (n_x,)."""
        return self._to_x([p.ub for p in self.free])

    def to_native(self, x: np.ndarray) -> np.ndarray:
        """Native values of the free parameters at an optimizer-space point.

        Parameters
        ----------
        x : array_like, shape (n_x,)
            Optimizer space, in :attr:`x_names` order, each on its own scale.

        Returns
        -------
        ndarray, shape (n_x,)
            ``x`` on a linear scale, ``exp(x)`` on ``log``, ``10**x`` on ``log10``.

        Raises
        ------
        ValueError
            If ``x`` does not have shape (n_x,).
        """
        x = np.asarray(x, dtype=float)
        scales = [p.scale for p in self.parameters if p.estimate]
        if x.shape != (len(scales),):
            raise ValueError(f"x must have shape ({len(scales)},), got {x.shape}")
        if scales.count(Scale.LOG10) == len(scales):
            return 10.0**x  # the commonest case, and the same numbers as unscale's
        return unscale(x, scale_codes(scales))

    def x_from_native(self, values: dict[str, float]) -> np.ndarray:
        """Optimizer-space vector from native values by id (missing: nominal)."""
        return self._to_x([values.get(p.id, p.nominal) for p in self.free])

    def fix(self, values: Mapping[str, float]) -> Problem:
        """A new problem with these parameters fixed at the given native values.

        Every engine fits the new problem: worker processes, which rebuild a
        problem from its files, apply the same fixes there.

        Parameters
        ----------
        values : mapping of str to float
            Parameter id -> native value (not optimizer space), e.g.
            ``{"k1": 0.3}``. A fixed parameter may be given a new value.

        Returns
        -------
        Problem
            This problem is unchanged.

        Raises
        ------
        InputError
            An unknown id, a value that is not finite, or one outside the
            parameter's bounds (the message names the id and the value).
        """
        return fix_parameters(self, values)

    def sample_starts(self, n: int, rng: int | np.random.Generator = 0,
                      sampler: str = Sampler.UNIFORM) -> np.ndarray:
        """Start points drawn from the problem's start distribution, optimizer space.

        The start points ``bngfit.fit(problem, n_starts=n, rng=seed,
        sampler=sampler)`` draws (without user start points; each is its
        start's first race candidate, redrawn only where the objective fails
        there): one sampler serves both (:mod:`bngfit.problem._sampling`).

        Parameters
        ----------
        n : int
            Number of points.
        rng : int or numpy.random.Generator
            A seed (as given to ``fit``) or a generator to draw with. Default 0,
            ``fit``'s default seed.
        sampler : {"uniform", "lhs"}
            Uniform in the scaled bounds, or a Latin hypercube; parameters with
            an initialization prior are drawn from it.

        Returns
        -------
        ndarray, shape (n, n_x)
            Columns in :attr:`x_names` order.
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return sample_starts(self.lb, self.ub, int(n), gen, sampler,
                             [p.init_prior for p in self.free], self.x_scales)

    def __repr__(self) -> str:
        return problem_repr(self)

    def _repr_html_(self) -> str:
        return problem_html(self)
