"""What the lines of one PyBNF configuration declared, before the cross-line checks.

:func:`bngfit.pybnf.conf._conf.read_conf` reads a file line by line into a
:class:`Collected`; the checks of :mod:`bngfit.pybnf.conf._checks` then look at
the whole and add their issues to it. The rules that hold between two lines as
they are read (a parameter declared once, a setting given twice with the same
value) are enforced here, as each entry is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bngfit.errors import Issue

from ._entries import (
    ActionEntry,
    ConditionEntry,
    ExperimentEntry,
    ModelEntry,
    NoiseEntry,
    NormalizationEntry,
    Objfunc,
    ObservableEntry,
    ObsNormalizationEntry,
    ParamEntry,
)
from ._keys import KeySpec, parse_setting
from ._parse import LineError


@dataclass(eq=False)
class Collected:
    """The entries, settings and issues of one configuration file, as read so far.

    Attributes
    ----------
    f : str
        The configuration file, as messages name it.
    base : Path
        Its folder (paths in the file are relative to it).
    edition : int
        1 or 2.
    issues : list of Issue
        Errors and warnings found so far, in the order found.
    models, conditions, experiments, norms, actions, noise, observables, obs_norms : list
        The entries of each kind, in file order.
    params : dict of str to ParamEntry
        Free parameters by name, in file order.
    settings : dict of str to (value, line)
        Recorded settings by lower-case key.
    raw_settings : dict of str to str
        Each setting's value as written (for the message when it is repeated).
    objfunc : (Objfunc, line) or None
        The objective function and its line, once given.
    unknown : list of (key, line)
        Keys not read.
    tried : set of str
        Kinds of line seen, even those with errors (so that a missing model is
        not reported when the model line was there but wrong).
    """

    f: str
    base: Path
    edition: int
    issues: list[Issue] = field(default_factory=list)
    models: list[ModelEntry] = field(default_factory=list)
    params: dict[str, ParamEntry] = field(default_factory=dict)
    conditions: list[ConditionEntry] = field(default_factory=list)
    experiments: list[ExperimentEntry] = field(default_factory=list)
    norms: list[NormalizationEntry] = field(default_factory=list)
    actions: list[ActionEntry] = field(default_factory=list)
    noise: list[NoiseEntry] = field(default_factory=list)
    observables: list[ObservableEntry] = field(default_factory=list)
    obs_norms: list[ObsNormalizationEntry] = field(default_factory=list)
    settings: dict[str, tuple[object, int]] = field(default_factory=dict)
    raw_settings: dict[str, str] = field(default_factory=dict)
    objfunc: tuple[Objfunc, int] | None = None
    unknown: list[tuple[str, int]] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)

    def error(self, message: str, row: int | None = None, id: str | None = None,  # noqa: A002
              value: object = None) -> None:
        """Record an error of this file (``value`` is kept as text)."""
        self.issues.append(Issue("error", message, self.f, row, id,
                                 None if value is None else str(value)))

    def set(self, key: str, text: str, line: int, spec: KeySpec) -> None:
        """Record setting ``key``; the same key twice must agree."""
        try:
            value = parse_setting(spec, text)
        except ValueError as err:
            raise LineError(str(err), id=key, value=text.strip()) from None
        if key in self.settings:
            old, first = self.settings[key]
            if old != value:
                raise LineError(f"given twice with different values (first on line "
                                f"{first}: {self.raw_settings[key]})", id=key,
                                value=text.strip())
            self.issues.append(Issue("warning", f"given twice (also on line {first})",
                                     self.f, line, key, text.strip()))
            return
        self.settings[key] = (value, line)
        self.raw_settings[key] = text.strip()

    def set_objfunc(self, text: str, line: int, key: str) -> None:
        """Record the objective function (given by ``key``)."""
        try:
            value = Objfunc(text.lower())
        except ValueError:
            choices = ", ".join(o.value for o in Objfunc)
            raise LineError(f"unknown objective function; use one of {choices}",
                            id=key, value=text) from None
        if self.objfunc is not None and self.objfunc[0] is not value:
            raise LineError(f"objective given twice (first on line {self.objfunc[1]})",
                            id=key, value=text)
        self.objfunc = (value, line)

    def add_param(self, p: ParamEntry) -> None:
        """Record a free parameter, declared once."""
        if p.name in self.params:
            raise LineError(f"parameter declared twice (first on line "
                            f"{self.params[p.name].line})", id=p.name, value=p.kind.value)
        self.params[p.name] = p
