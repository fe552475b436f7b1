"""The pieces of a PyBNF configuration, as read by :mod:`bngfit.pybnf.conf._conf`.

Every entry records the 1-based ``line`` of the configuration file it came
from, so that whoever builds a problem from it can point at the line at fault.
File paths are resolved relative to the configuration file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bngfit.errors import Issue
from bngfit.problem import MutationOp, Scale


class ParamKind(StrEnum):
    """How a free parameter is declared (the PyBNF ``*_var`` key it corresponds to)."""

    UNIFORM = "uniform"
    LOGUNIFORM = "loguniform"
    NORMAL = "normal"
    LOGNORMAL = "lognormal"
    VAR = "var"
    LOGVAR = "logvar"


class Objfunc(StrEnum):
    """PyBNF's objective functions (``objfunc`` key; edition 2: ``objective:``)."""

    CHI_SQ = "chi_sq"
    CHI_SQ_DYNAMIC = "chi_sq_dynamic"
    LOGNORMAL = "lognormal"
    LAPLACE = "laplace"
    NEG_BIN = "neg_bin"
    NEG_BIN_DYNAMIC = "neg_bin_dynamic"
    KL = "kl"
    SOS = "sos"
    SOD = "sod"
    NORM_SOS = "norm_sos"
    AVE_NORM_SOS = "ave_norm_sos"


class NormalizationType(StrEnum):
    """PyBNF's normalizations of simulated data before comparison with the data."""

    INIT = "init"
    PEAK = "peak"
    ZERO = "zero"
    UNIT = "unit"


@dataclass(frozen=True)
class ModelEntry:
    """One model file and the data files bound to it.

    Attributes
    ----------
    path : Path
        The model file (``.bngl``, ``.xml`` or ``.sbml``).
    name : str
        The model's name, its file stem: what ``mutant`` lines, action
        ``model:`` fields and edition-2 records refer to.
    data : tuple of Path
        The ``.exp`` / ``.prop`` files of a legacy ``model`` line (empty for
        ``none`` and in edition 2, where data belongs to experiments).
    line : int
    """

    path: Path
    name: str
    data: tuple[Path, ...]
    line: int


@dataclass(frozen=True)
class ParamEntry:
    """One free parameter.

    Attributes
    ----------
    name : str
        In legacy BNGL jobs the ``NAME__FREE`` placeholder; otherwise the
        model's parameter id.
    kind : ParamKind
    scale : Scale
        ``lin`` or ``log10``: the space the numbers of the declaration live in.
    numbers : tuple of float
        The numbers as written: after the name on a legacy line; the numeric
        fields in written order for an edition-2 record.
    line : int
    lower, upper : float or None
        Bounds on the parameter's value (not its log). ``normal_var`` gets
        ``lower = 0`` (PyBNF truncates that prior at 0).
    mean, sd : float or None
        Normal prior, in ``scale`` units (log10 units for ``lognormal``).
    initial : float or None
        Start value (the parameter's value, not its log).
    step : float or None
        The step size of ``var`` / ``logvar`` (``scale`` units), if given.
    enforce_bounds : bool
        False when a legacy ``uniform_var`` / ``loguniform_var`` ends with
        PyBNF's ``U`` flag (bounds used only to draw start points).
    """

    name: str
    kind: ParamKind
    scale: Scale
    numbers: tuple[float, ...]
    line: int
    lower: float | None = None
    upper: float | None = None
    mean: float | None = None
    sd: float | None = None
    initial: float | None = None
    step: float | None = None
    enforce_bounds: bool = True


@dataclass(frozen=True)
class Perturbation:
    """One change to a model: ``target op value`` (``k__FREE*2``, ``L0 = 100``).

    ``value`` is a number or the name of a parameter. With ``=`` the target is
    set; with ``* / + -`` its base value is combined with ``value``.
    """

    target: str
    op: MutationOp
    value: float | str
    line: int
    species: bool = False  # the target was a quoted species pattern ("A()" = 5)


@dataclass(frozen=True)
class ConditionEntry:
    """A legacy ``mutant`` line or an edition-2 ``condition:`` record.

    Attributes
    ----------
    name : str
    perturbations : tuple of Perturbation
        Applied in order.
    line : int
    model : str or None
        Legacy: the base model's name (always given). Edition 2: the model the
        condition applies to, if the record names one.
    data : tuple of Path
        Legacy: the mutant's data files; edition 2: empty.
    """

    name: str
    perturbations: tuple[Perturbation, ...]
    line: int
    model: str | None = None
    data: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ExperimentEntry:
    """An edition-2 ``experiment:`` record: one simulation and its data.

    Attributes
    ----------
    name : str
    data : tuple of Path
        ``.exp`` files (several files are replicates).
    line : int
    condition : str or None
        The condition applied (None: the model as it is).
    preequilibrate : str or None
        The condition under which to run to steady state first, if any.
    model : str or None
        The model's name (a file's stem); None when the configuration has
        only one model.
    constraints : tuple of Path
        ``.prop`` / ``.con`` files of the ``data:`` field: qualitative
        constraints read on this experiment's simulation.
    t_end, t_start : float or None
        The time span of an experiment without ``.exp`` data (constraints
        only); ignored when there is data (its times are the grid).
    n_steps : int or None
        Output steps over ``[t_start, t_end]`` (None: steps of 1).
    equil_t_end : float or None
        Pre-equilibrate for this long instead of to steady state.
    type, method : str or None
        As written (``time_course`` ...; ``ode`` ...), None if absent.
    """

    name: str
    data: tuple[Path, ...]
    line: int
    condition: str | None = None
    preequilibrate: str | None = None
    model: str | None = None
    constraints: tuple[Path, ...] = ()
    t_end: float | None = None
    t_start: float | None = None
    n_steps: int | None = None
    equil_t_end: float | None = None
    type: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class NormalizationEntry:
    """One ``normalization`` directive.

    Attributes
    ----------
    type : NormalizationType
    file : Path or None
        The ``.exp`` file it applies to; None: every data file.
    columns : tuple of (str or int), or None
        The columns normalized; None: all. Names are observable names; numbers
        count header columns as PyBNF does (``time`` is column 0, ``_SD``
        columns count), ranges such as ``3-5`` already expanded.
    line : int
    """

    type: NormalizationType
    file: Path | None
    columns: tuple[str | int, ...] | None
    line: int


@dataclass(frozen=True)
class ObsNormalizationEntry:
    """An edition-2 normalization keyed by observable (docs/pybnf-rules.md).

    ``normalization = TYPE`` (both None), ``normalization OBS = TYPE`` or
    ``normalization EXP.OBS = TYPE``; the most specific one applies.
    """

    type: NormalizationType
    experiment: str | None
    observable: str | None
    line: int


@dataclass(frozen=True)
class ObservableEntry:
    """An edition-2 ``observable:`` record.

    ``observable: NAME, column: HEADER`` reads the data column HEADER as the
    model output NAME; ``observable: NAME, formula: EXPR`` compares the data
    column NAME with EXPR, a formula over model outputs and parameters.
    """

    name: str
    line: int
    column: str | None = None
    formula: str | None = None


@dataclass(frozen=True)
class ActionEntry:
    """A legacy ``time_course`` or ``param_scan`` line.

    Attributes
    ----------
    kind : str
        ``time_course`` or ``param_scan``.
    fields : dict
        The ``key: value`` pairs as written, numbers as float
        (``time``, ``step``, ``min``, ``max``, ``logspace``, ``subdivisions``).
    line : int
    """

    kind: str
    fields: dict[str, float | str]
    line: int

    @property
    def suffix(self) -> str:
        """The data suffix the action produces (PyBNF's default: the kind)."""
        return str(self.fields.get("suffix", self.kind))

    @property
    def method(self) -> str:
        """Simulation method (``ode`` unless given)."""
        return str(self.fields.get("method", "ode"))


@dataclass(frozen=True)
class NoiseEntry:
    """A ``noise_model``: a noise family and where its parameter comes from.

    Attributes
    ----------
    family : str
        ``normal``, ``lognormal``, ``lnnormal``, ``laplace``, ``student_t`` or
        ``neg_bin``.
    observable : str or None
        The observable it applies to; None: the whole fit's default.
    parameter : str
        The family's (first) noise parameter: ``sigma``, ``scale`` or
        ``dispersion``.
    source : str
        ``read_exp_file``, ``fit``, ``fix_at``, ``relative``, ``column_mean``,
        ``formula`` or ``prediction_formula``.
    argument : str, float or None
        The column suffix (``read_exp_file``), free parameter name (``fit``),
        number (``fix_at``, ``relative``), expression (the formulas), or None.
    location : str or None
        ``mean`` or ``median`` if given.
    line : int
    extra : tuple of (str, str, str or float)
        Further noise parameters as (parameter, source, argument): a
        Student-t's ``df`` (``fix_at`` or ``fit``), if written.
    cumulative : bool
        The observable's simulation is cumulative: it is compared as
        increments between output times (docs/pybnf-rules.md).
    """

    family: str
    observable: str | None
    parameter: str
    source: str
    argument: str | float | None
    location: str | None
    line: int
    extra: tuple[tuple[str, str, str | float], ...] = ()
    cumulative: bool = False


@dataclass(frozen=True)
class PybnfConfig:
    """A PyBNF configuration file, read and checked (see :func:`read_conf`).

    Attributes
    ----------
    path : str
        The configuration file.
    edition : int
        1 (legacy ``key = value`` syntax) or 2 (records, see
        :mod:`bngfit.pybnf.conf._conf`).
    models : tuple of ModelEntry
    parameters : tuple of ParamEntry
        In file order.
    objfunc : Objfunc or None
        None if not given (PyBNF's legacy default is ``chi_sq``; the builder
        decides).
    objfunc_line : int or None
    normalization : tuple of NormalizationEntry
    conditions : tuple of ConditionEntry
        Legacy ``mutant`` lines, or edition-2 ``condition:`` records.
    experiments : tuple of ExperimentEntry
        Edition 2 only.
    actions : tuple of ActionEntry
        Legacy ``time_course`` / ``param_scan`` lines.
    noise_models : tuple of NoiseEntry
    observables : tuple of ObservableEntry
        Edition 2 only.
    obs_normalization : tuple of ObsNormalizationEntry
        Edition 2 only (edition-1 ``normalization`` lines are in
        ``normalization``).
    settings : dict of str to (value, line)
        Every other known key, by lower-case name: its value (int, float, str
        or tuple of float, by the key's kind) and line.
    warnings : tuple of Issue
        Unknown keys (one issue naming them all) and the file's other warnings;
        the settings bngfit does not use are listed by the builder
        (:func:`bngfit.pybnf.build._settings.unused_issue`).
    """

    path: str
    edition: int
    models: tuple[ModelEntry, ...]
    parameters: tuple[ParamEntry, ...]
    objfunc: Objfunc | None = None
    objfunc_line: int | None = None
    normalization: tuple[NormalizationEntry, ...] = ()
    conditions: tuple[ConditionEntry, ...] = ()
    experiments: tuple[ExperimentEntry, ...] = ()
    actions: tuple[ActionEntry, ...] = ()
    noise_models: tuple[NoiseEntry, ...] = ()
    observables: tuple[ObservableEntry, ...] = ()
    obs_normalization: tuple[ObsNormalizationEntry, ...] = ()
    settings: dict[str, tuple[object, int]] = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()

    def setting(self, key: str, default: object = None) -> object:
        """The value of setting ``key``, or ``default`` if absent."""
        entry = self.settings.get(key)
        return default if entry is None else entry[0]
