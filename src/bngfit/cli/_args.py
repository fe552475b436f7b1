"""Checks of command-line values and output paths, before any work is done.

Option values are checked by argparse ``type=`` functions, so a bad value is
refused while the command line is read, before a model is loaded; argparse
names the option (``argument --seed: ...``). Output paths are checked by
:func:`check_output_file` and :func:`check_output_dir` before the command
computes anything, so a fit never runs to its end only to fail at writing.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from pathlib import Path

from bngfit.errors import InputError
from bngfit.files import _outputs as outputs
from bngfit.optimize._dask import parse_scheduler
from bngfit.problem._problem import Problem

#: The largest seed: seeds are stored as 64-bit signed integers.
MAX_SEED = 2**63 - 1


def _bad(text: str, what: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{what}, not '{text}'")


def int_range(least: int, most: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer from ``least`` to ``most`` (``what`` it counts)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            value = None
        if value is None or not least <= value <= most:
            raise _bad(text, f"{what + ' ' if what else ''}must be an integer of at least "
                             f"{least} and at most {most}")
        return value

    parse.__name__ = "integer"
    return parse


def seed(text: str) -> int:
    """An argparse type: a seed of the random start points (0 to 2**63 - 1)."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise _bad(text, "must be an integer from 0 to 2**63-1")
    return value


def positive_float(below: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (and below ``below``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value < below):
            bound = "" if math.isinf(below) else f" and below {below:g}"
            raise _bad(text, f"must be a finite number above 0{bound}")
        return value

    parse.__name__ = "number"
    return parse


def choice(vocabulary: type[Enum] | Iterable[str], what: str) -> Callable[[str], str]:
    """An argparse type: one word of a closed vocabulary (the text is returned)."""
    words = tuple(m.value for m in vocabulary) if isinstance(vocabulary, type) else tuple(
        vocabulary)

    def parse(text: str) -> str:
        if text not in words:
            raise argparse.ArgumentTypeError(
                f"unknown {what} '{text}': use one of {', '.join(words)}")
        return text

    parse.__name__ = what
    return parse


def choices_text(vocabulary: type[Enum] | Iterable[str]) -> str:
    """The words of a vocabulary for a help text: ``a, b or c``."""
    words = [m.value for m in vocabulary] if isinstance(vocabulary, type) else list(vocabulary)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def described(texts: Mapping[Enum, str]) -> str:
    """A vocabulary's message table for a help text: ``a: what a is; b: what b is``."""
    return "; ".join(f"{word.value}: {text}" for word, text in texts.items())


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, ``[scheme://]host:port``.

    Only the form is checked here (by the Dask engine's own parser); whether
    the scheduler answers is checked once the command runs.
    """
    try:
        parse_scheduler(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(
            f"{str(err).split(': ', 1)[-1]}, not '{text}'") from None
    return text.strip()


# ------------------------------------------------------------------ output paths
# The checks themselves live in bngfit.files._outputs (the library's fit uses them
# too); the command line names the option as what is written.
check_output_file = outputs.check_output_file
check_output_dir = outputs.check_output_dir


def check_distinct(paths: dict[str, Path]) -> None:
    """Refuse two outputs that name the same file (``{option: path}``)."""
    seen: dict[str, str] = {}
    for option, p in paths.items():
        key = os.path.normcase(os.path.abspath(p))
        if key in seen:
            raise InputError(f"{seen[key]} and {option} name the same file", file=str(p))
        seen[key] = option


def check_not_inputs(problem: Problem, outputs: dict[str, Path]) -> None:
    """Refuse an output that would overwrite one of the problem's own files.

    ``outputs`` maps each option to its path. Checked once the problem is
    read (its files are known then) and before anything is computed.
    """
    inputs = {os.path.realpath(problem.source)}
    for joined in problem.files.values():
        inputs.update(os.path.realpath(p) for p in str(joined).split(";") if p)
    for option, p in outputs.items():
        if os.path.realpath(p) in inputs:
            raise InputError(f"{option} names one of the problem's own files; writing there "
                             "would replace it", file=str(p))
