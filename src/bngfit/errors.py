"""Exceptions of bngfit.

Every error raised on bad input is an :class:`InputError`: it names the file, the
row or line, the id and the value at fault, so the message alone tells the user
what to fix. Simulation trouble at a point in parameter space is not an
exception in the optimizer's face: the objective returns a defined
:class:`~bngfit.objective.Evaluation` instead (see :class:`SimulationFailure`,
which is only used internally to carry the message there).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeVar


class BngfitError(Exception):
    """Base class of all bngfit errors."""


@dataclass(frozen=True)
class Issue:
    """One problem found in the inputs, with its location.

    Attributes
    ----------
    severity : str
        ``"error"`` (the problem cannot be evaluated) or ``"warning"``.
    message : str
        What is wrong and, where possible, what to do about it.
    file : str or None
        The file at fault.
    row : int or None
        1-based line number in that file (the header is line 1), if known.
    id : str or None
        The id (parameter, observable, condition, ...) at fault.
    value : str or None
        The offending value as written.
    affects_result : bool
        For a warning: the objective bngfit computes differs from what the
        file literally asks for (an unknown or misspelt key ignored, a setting
        read but not used that changes results, data left out). Such warnings
        are shown in a fit's summary and stored with its run.
    """

    severity: str
    message: str
    file: str | None = None
    row: int | None = None
    id: str | None = None
    value: str | None = None
    affects_result: bool = False

    def format(self) -> str:
        """Return the issue as one human-readable line."""
        where = []
        if self.file:
            where.append(self.file if self.row is None else f"{self.file}:{self.row}")
        if self.id is not None:
            where.append(f"id '{self.id}'")
        if self.value is not None:
            where.append(f"value '{self.value}'")
        loc = ", ".join(where)
        return f"{self.severity}: {loc + ': ' if loc else ''}{self.message}"


class InputError(BngfitError, ValueError):
    """Bad input: a missing file, a malformed table, an unknown id, a bad formula.

    Parameters
    ----------
    message : str
        What is wrong.
    file, row, id, value
        Where it is (see :class:`Issue`).
    issues : list of Issue, optional
        Several problems at once (from validation); ``message`` then summarises.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        id: str | None = None,  # noqa: A002 - the field's vocabulary
        value: str | None = None,
        issues: list[Issue] | None = None,
    ) -> None:
        if issues is None:
            issues = [Issue("error", message, file, row, id, value)]
        self.issues = list(issues)
        text = "\n".join(i.format() for i in self.issues) if len(self.issues) > 1 else (
            self.issues[0].format().removeprefix("error: ")
        )
        super().__init__(text)


_Choice = TypeVar("_Choice", bound=Enum)


def parse_choice(vocabulary: type[_Choice], text: str, what: str) -> _Choice:
    """The member of a closed vocabulary (an Enum) named ``text``.

    Raises
    ------
    InputError
        Naming ``what`` was asked for and listing the choices.
    """
    try:
        return vocabulary(text)
    except ValueError:
        choices = ", ".join(m.value for m in vocabulary)
        raise InputError(f"unknown {what} '{text}': use one of {choices}") from None


class UnsupportedError(InputError):
    """A valid input that asks for something bngfit refuses to compute."""


class MissingExtraError(BngfitError, RuntimeError):
    """An optional dependency is needed; the message names the extra to install."""


class SimulationFailure(BngfitError, RuntimeError):
    """A simulation failed at a point (carried into an Evaluation, not raised to users)."""
