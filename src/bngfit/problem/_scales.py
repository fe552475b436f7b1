"""Parameter scales: the map between optimizer space x and native values theta."""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class Scale(StrEnum):
    """How a parameter is seen by the optimizer (PEtab ``parameterScale``)."""

    LIN = "lin"
    LOG = "log"
    LOG10 = "log10"

    @classmethod
    def parse(cls, text: str) -> Scale:
        """Return the scale named by ``text`` (``lin``, ``log``, ``log10``).

        Raises
        ------
        ValueError
            If ``text`` names no scale.
        """
        try:
            return cls(str(text).strip())
        except ValueError:
            raise ValueError(
                f"unknown parameter scale '{text}': use one of lin, log, log10"
            ) from None


_CODES = {Scale.LIN: 0, Scale.LOG: 1, Scale.LOG10: 2}


def scale_codes(scales: list[Scale]) -> np.ndarray:
    """Return integer codes (0 lin, 1 log, 2 log10) for vectorised maps, shape (n,)."""
    return np.array([_CODES[s] for s in scales], dtype=int)


def unscale(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Map optimizer coordinates to native values, shape (n,)."""
    x = np.asarray(x, dtype=float)
    # every branch is computed for every entry: a large lin value would
    # overflow exp or 10** in the branches it does not take
    with np.errstate(over="ignore"):
        return np.where(codes == 0, x, np.where(codes == 1, np.exp(x), 10.0**x))


def to_scale(theta: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Map native values to optimizer coordinates, shape (n,).

    Non-positive values on a log scale map to NaN (callers validate first).
    """
    theta = np.asarray(theta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(codes == 0, theta, np.where(codes == 1, np.log(theta), np.log10(theta)))


def dtheta_dx(theta: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Diagonal of d theta / d x: 1, theta, or theta*ln(10), shape (n,)."""
    theta = np.asarray(theta, dtype=float)
    return np.where(codes == 0, 1.0, np.where(codes == 1, theta, theta * np.log(10.0)))
