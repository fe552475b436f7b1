"""What a reader needs to know about a model, as plain data, and how it asks.

Readers check names in their tables against the model (an observable formula's
symbols, a condition's targets) but must not load models themselves: that is the
simulate stage's work (bngsim, BNG2.pl, a C compiler). They are handed a
:class:`ModelAccess` instead, so a reader's validation runs with any model
source, a test's fixed names included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bngfit.files import FilteredBngl


@dataclass(frozen=True)
class ModelInfo:
    """Names a model exposes, read once at load (picklable, no bngsim objects).

    Attributes
    ----------
    path : Path
        The model file.
    species, observables, expressions : tuple of str
        Output names: species, model observables (BNGL), and functions /
        assignment-rule expressions.
    parameters : tuple of str
        Independent, writable parameters (compartment sizes excluded).
    compartments : tuple of str
        Compartment-size parameters (writable, not differentiable).
    defaults : dict
        Parameter and compartment values as loaded.
    no_gradient : str or None
        Why the engine has no sensitivities for this model whatever is fitted
        (an event it cannot differentiate through), or None.
    amount_compartments : tuple of str
        Compartments holding species in amounts (SBML ``hasOnlySubstanceUnits``);
        bngsim gets those species in an added compartment of size 1, so these
        may have any size (:mod:`bngfit.simulate._sbml_amounts`).
    initial_factors : dict
        SBML/Antimony species whose initial value a number may set as PyBNF
        sets it (an initial concentration) -> the value bngsim takes for an
        initial concentration of 1: 1, or the compartment's size for a species
        in amounts. Empty for other formats.
    fixed_initials : dict
        SBML/Antimony species whose initial value cannot be set so -> why (an
        initial assignment or rule sets it, another one reads it, ...).

    The last two are facts of the model file, which a problem's fingerprint
    hashes by content: they are left out of comparisons (and so of the
    fingerprint's canonical form, which stores made before them do not have).
    """

    path: Path
    species: tuple[str, ...]
    observables: tuple[str, ...]
    expressions: tuple[str, ...]
    parameters: tuple[str, ...]
    compartments: tuple[str, ...]
    defaults: dict[str, float] = field(repr=False)
    no_gradient: str | None = None
    amount_compartments: tuple[str, ...] = ()
    initial_factors: dict[str, float] = field(default_factory=dict, repr=False,
                                              compare=False)
    fixed_initials: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def selector(self, name: str) -> str | None:
        """Typed bngsim output selector for ``name``, or None if it is no output.

        Species win over observables of the same name (SBML models expose each
        species as an observable too).
        """
        if name in self.species:
            return f"species:{name}"
        if name in self.observables:
            return f"observable:{name}"
        if name in self.expressions:
            return f"expression:{name}"
        return None


@dataclass(frozen=True)
class ModelAccess:
    """The model services a reader is handed.

    Attributes
    ----------
    info : callable
        ``info(path) -> ModelInfo``: load the model file and return its names.
    network : callable
        ``network(filtered, source, line_of) -> Path``: generate the reaction
        network of a filtered BNGL text (a :class:`~bngfit.files.FilteredBngl`)
        with BNG2.pl, so that BNG2.pl's messages name ``source`` and its lines
        (``line_of`` maps a line of the filtered text to a line of ``source``);
        returns the ``.net`` file.
    """

    info: Callable[[Path], ModelInfo]
    network: Callable[[FilteredBngl, Path, Callable[[int], int] | None], Path]
