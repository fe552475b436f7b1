"""Noise models of PyBNF configurations on bngfit's noise families: the objective
token (``objfunc`` in edition 1, ``objective`` in edition 2) as the noise model
it stands for, and each data point's noise scale (part of the PyBNF builder core).

A noise model is a family and where its parameter comes from (:class:`Noise`).
Each objective token is the per-point noise model PyBNF documents it as
(docs/config_keys.rst, ``objective``), in both editions:

====================  ===========  ==========================================
token                 family       noise parameter
====================  ===========  ==========================================
``sos``               normal       sigma ``fix_at 1``
``chi_sq``            normal       sigma ``read_exp_file _SD``
``norm_sos``          normal       sigma ``relative`` (the data value)
``ave_norm_sos``      normal       sigma ``column_mean``
``lognormal``         lognormal    sigma ``read_exp_file _SD`` (log10 units)
``chi_sq_dynamic``    normal       sigma ``fit sigma__FREE``
``laplace``           laplace      scale ``fit b__FREE``
``sod``               laplace      scale ``fix_at 1``
``neg_bin``           neg_bin      dispersion ``fix_at neg_bin_r`` (default 24)
``neg_bin_dynamic``   neg_bin      dispersion ``fit r__FREE``
====================  ===========  ==========================================

Each is a negative log-likelihood whose minimiser is PyBNF's; bngfit's values
include every normalizing constant (PyBNF's least-squares tokens drop them and
the factor 1/2), so they differ from PyBNF's by a constant and a factor.
Edition-2 ``noise_model`` lines (:mod:`bngfit.pybnf.build._noise2`) give the same
:class:`Noise` records, with more families and sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.errors import InputError
from bngfit.problem._formulas import Formula, parse_formula, placeholder
from bngfit.problem._problem import NoiseFamily, Observable, Transform
from bngfit.pybnf._exp import ExpTable
from bngfit.pybnf.conf._entries import Objfunc, PybnfConfig

# Objective tokens as the per-point noise models they stand for: (family, source,
# argument); neg_bin's argument is the configuration's neg_bin_r.
_TOKEN_NOISE = {
    Objfunc.SOS: ("normal", "fix_at", 1.0),
    Objfunc.CHI_SQ: ("normal", "read_exp_file", "_SD"),
    Objfunc.NORM_SOS: ("normal", "relative", 1.0),
    Objfunc.AVE_NORM_SOS: ("normal", "column_mean", None),
    Objfunc.LOGNORMAL: ("lognormal", "read_exp_file", "_SD"),
    Objfunc.CHI_SQ_DYNAMIC: ("normal", "fit", "sigma__FREE"),
    Objfunc.LAPLACE: ("laplace", "fit", "b__FREE"),
    Objfunc.NEG_BIN: ("neg_bin", "fix_at", None),
    Objfunc.NEG_BIN_DYNAMIC: ("neg_bin", "fit", "r__FREE"),
    Objfunc.SOD: ("laplace", "fix_at", 1.0),
}
SUPPORTED_OBJFUNCS = tuple(_TOKEN_NOISE)
#: The tokens that estimate their noise parameter, and its name.
NOISE_PARAMETER = {t: str(a) for t, (_, source, a) in _TOKEN_NOISE.items() if source == "fit"}
_FAMILY = {"normal": NoiseFamily.NORMAL, "lognormal": NoiseFamily.NORMAL,
           "lnnormal": NoiseFamily.NORMAL, "laplace": NoiseFamily.LAPLACE,
           "student_t": NoiseFamily.STUDENT_T, "neg_bin": NoiseFamily.NEG_BINOMIAL}
_TRANSFORM = {"lognormal": Transform.LOG10, "lnnormal": Transform.LOG}
FORMULA_SOURCES = ("formula", "prediction_formula")
STUDENT_T_DF = 4.0  # PyBNF's default degrees of freedom
NEG_BIN_R_DEFAULT = 24.0  # PyBNF's default neg_bin_r


@dataclass(frozen=True)
class Noise:
    """One noise model: family, where its parameters come from, and its line.

    ``df`` is a Student-t's degrees of freedom as (source, argument);
    ``cumulative`` marks an observable compared as increments.
    """

    family: str
    source: str
    argument: str | float | None
    line: int | None
    what: str  # "objfunc X", "objective X" or "noise_model", for messages
    df: tuple[str, str | float] = ("fix_at", STUDENT_T_DF)
    cumulative: bool = False

    @property
    def estimated(self) -> str | None:
        """The free parameter this noise model estimates (``fit NAME``), if any."""
        return str(self.argument) if self.source == "fit" else None


def neg_bin_r(config: PybnfConfig) -> float:
    """The fixed negative-binomial dispersion (``neg_bin_r``, PyBNF's default 24)."""
    value, line = config.settings.get("neg_bin_r", (NEG_BIN_R_DEFAULT, None))
    try:
        r = float(value)
    except (TypeError, ValueError):
        r = float("nan")
    if not (np.isfinite(r) and r > 0):
        raise InputError("neg_bin_r must be a positive number", file=config.path, row=line,
                         id="neg_bin_r", value=str(value))
    return r


def token_noise(config: PybnfConfig, token: Objfunc, key: str) -> Noise:
    """The noise model objective token ``token`` of ``config`` stands for.

    ``key`` is the configuration key that named it (``objfunc``, ``objective``).

    ``neg_bin_r`` is checked whichever the token (a value that could never be
    used is still wrong input).

    Raises
    ------
    InputError
        The token estimates a noise parameter the configuration does not
        declare; ``neg_bin_r`` is no positive number.
    """
    n = noise_of_token(token, neg_bin_r(config), config.objfunc_line, f"{key} {token.value}")
    if n.estimated is not None and n.estimated not in {p.name for p in config.parameters}:
        raise InputError(f"{key} {token.value} estimates the noise parameter: declare "
                         f"{n.estimated} (e.g. 'loguniform_var = {n.estimated} 0.01 100')",
                         file=config.path, row=config.objfunc_line, id=n.estimated)
    return n


def noise_of_token(token: Objfunc, r: float = NEG_BIN_R_DEFAULT, line: int | None = None,
                   what: str | None = None) -> Noise:
    """The noise model of objective token ``token`` (see the module doc), unchecked.

    ``r`` is ``neg_bin``'s dispersion; ``line`` and ``what`` locate the token
    in messages (``what`` defaults to ``objfunc TOKEN``).
    """
    family, source, arg = _TOKEN_NOISE[token]
    if token is Objfunc.NEG_BIN:
        arg = float(r)
    return Noise(family, source, arg, line, what or f"objfunc {token.value}")


def noise_for(noise: dict[str | None, Noise], col: str) -> Noise:
    """The noise model of column ``col``: its own, else the whole-fit one (key None)."""
    return noise.get(col, noise.get(None))


def observable_noise(col: str, formula: Formula, n: Noise, row: int, f: str) -> Observable:
    """The observable of column ``col`` with formula ``formula`` under noise model ``n``.

    A scale that differs from point to point (``fix_at``, ``read_exp_file``,
    ``relative``, ``column_mean``) is the placeholder ``noiseParameter1_<col>``
    filled per measurement (:func:`point_sigma`); an estimated one or a formula
    is the noise formula itself; a negative binomial has no scale, its
    dispersion is the observable's shape (as is a Student-t's ``df``).
    """
    shape: float | str | None = None
    noise = placeholder("noise", 1, col)
    if n.source == "fit" or n.source in FORMULA_SOURCES:
        noise = str(n.argument)
    if n.family == "neg_bin":
        shape = n.argument if n.source == "fit" else float(n.argument)
        noise = "1"
    elif n.family == "student_t":
        shape = n.df[1] if n.df[0] == "fit" else float(n.df[1])
    return Observable(col, formula, parse_formula(noise, file=f, row=n.line, id=col),
                      _TRANSFORM.get(n.family, Transform.LIN), _FAMILY[n.family], row, shape)


def point_sigma(t: ExpTable, col: str, n: Noise) -> np.ndarray | None:
    """Per-point noise scale of a column, or None where the observable carries it.

    Raises
    ------
    InputError
        Data a log-transformed family cannot take (not positive); a missing
        ``<col>_SD`` column; a data value or column mean of 0 that sigma would
        be proportional to.
    """
    values = t.values[col]
    if n.family in _TRANSFORM:
        bad = np.nonzero(values <= 0.0)[0]
        if bad.size:
            raise InputError(f"a {n.family} noise model needs positive data (it compares "
                             "logarithms)", file=t.path, row=int(t.lines[bad[0]]), id=col,
                             value=f"{values[bad[0]]:g}")
    if n.source == "fit" or n.source in FORMULA_SOURCES or n.family == "neg_bin":
        return None
    if n.source == "fix_at":
        return np.full_like(values, float(n.argument))
    if n.source == "read_exp_file":
        if col not in t.sd:
            raise InputError(f"the {n.what} reads the standard deviations of '{col}' from "
                             f"a column '{col}_SD', which the file lacks", file=t.path,
                             row=t.header_line, id=col)
        return t.sd[col]
    if n.source == "relative":
        zero = np.nonzero(values == 0.0)[0]
        if zero.size:
            raise InputError(f"the {n.what} divides by the data value (sigma proportional "
                             "to it), which is 0 here", file=t.path,
                             row=int(t.lines[zero[0]]), id=col, value="0")
        return float(n.argument) * np.abs(values)
    mean = float(np.nanmean(values))  # column_mean
    if mean == 0.0:
        raise InputError(f"the {n.what} divides by the mean of the column, which is 0",
                         file=t.path, row=t.header_line, id=col)
    return np.full_like(values, abs(mean))
