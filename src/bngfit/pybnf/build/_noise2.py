"""Noise models of edition-2 PyBNF configurations, on bngfit's noise families.

PyBNF's edition 2 names one whole-fit objective (an ``objective`` token, which
desugars to a noise model, or a ``noise_model`` line without observable) and
lets ``noise_model OBS = ...`` lines override it per observable
(docs/config_keys.rst ``objective``, ``noise_model``; docs/noise_models.rst;
ADR-0031, ADR-0058). Each is a family and where its parameters come from:

========================  ====================================================
``normal`` (gaussian)     Gaussian; ``sigma``
``lognormal``             Gaussian in log10 of the prediction and data
``lnnormal``              Gaussian in the natural log
``laplace``               Laplace; ``scale``
``student_t``             Student-t; ``sigma`` and ``df`` (``fix_at 4`` unless
                          given; ``fix_at`` or ``fit``)
``neg_bin``               negative binomial with the prediction as mean;
                          ``dispersion`` (``fix_at`` or ``fit``)
========================  ====================================================

Sources: ``read_exp_file _SD`` (the table's ``<obs>_SD``), ``fix_at X``,
``fit NAME`` (a free parameter), ``relative [CV]`` (CV times the data value),
``column_mean`` (the column's mean), ``formula EXPR`` and
``prediction_formula EXPR`` (an expression over parameters and, for the
latter, model outputs: the noise formula of the observable, differentiated
exactly like the rest). bngfit's values include every normalizing constant
(PyBNF drops those of fixed noise parameters), so they differ from PyBNF's by
a constant; the minimizers are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._formulas import Formula, parse_formula
from bngfit.problem._problem import NoiseFamily, Observable, Transform
from bngfit.pybnf.conf._conf import PybnfConfig
from ._data import neg_bin_r
from bngfit.pybnf.conf._entries import Objfunc
from bngfit.pybnf._exp import ExpTable

# Objective tokens as the per-point noise models they desugar to (PyBNF
# docs/config_keys.rst, ``objective``): (family, source, argument).
_TOKEN_NOISE = {
    Objfunc.SOS: ("normal", "fix_at", 1.0),
    Objfunc.CHI_SQ: ("normal", "read_exp_file", "_SD"),
    Objfunc.NORM_SOS: ("normal", "relative", 1.0),
    Objfunc.AVE_NORM_SOS: ("normal", "column_mean", None),
    Objfunc.LOGNORMAL: ("lognormal", "read_exp_file", "_SD"),
    Objfunc.CHI_SQ_DYNAMIC: ("normal", "fit", "sigma__FREE"),
    Objfunc.LAPLACE: ("laplace", "fit", "b__FREE"),
    Objfunc.NEG_BIN: ("neg_bin", "fix_at", None),  # neg_bin_r
    Objfunc.NEG_BIN_DYNAMIC: ("neg_bin", "fit", "r__FREE"),
    Objfunc.SOD: ("laplace", "fix_at", 1.0),
}
_FAMILY = {"normal": NoiseFamily.NORMAL, "lognormal": NoiseFamily.NORMAL,
           "lnnormal": NoiseFamily.NORMAL, "laplace": NoiseFamily.LAPLACE,
           "student_t": NoiseFamily.STUDENT_T, "neg_bin": NoiseFamily.NEG_BINOMIAL}
_TRANSFORM = {"lognormal": Transform.LOG10, "lnnormal": Transform.LOG}
_FORMULAS = ("formula", "prediction_formula")
STUDENT_T_DF = 4.0  # PyBNF's default degrees of freedom (ADR-0058)


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
    what: str  # "objective X" or "noise_model", for messages
    df: tuple[str, str | float] = ("fix_at", STUDENT_T_DF)
    cumulative: bool = False


def noise_models(config: PybnfConfig) -> dict[str | None, Noise]:
    """The whole-fit noise model (key None) and per-observable overrides.

    Raises
    ------
    InputError
        No whole-fit objective, or two; an estimated noise parameter that is
        not declared.
    UnsupportedError
        A source or location bngfit does not compute (named with its line).
    """
    f = config.path
    whole = [n for n in config.noise_models if n.observable is None]
    if config.objfunc is not None and whole:
        raise InputError("name one whole-fit objective: an objective or a noise_model "
                         f"without observable, not both (objective on line "
                         f"{config.objfunc_line})", file=f, row=whole[0].line,
                         id="noise_model")
    if config.objfunc is None and not whole:
        raise InputError("no objective: edition 2 has no default; add 'objective = chi_sq' "
                         "(or another token) or a whole-fit noise_model line", file=f,
                         id="objective")
    location = config.setting("noise_location", "median")
    out: dict[str | None, Noise] = {}
    if config.objfunc is not None:
        family, source, arg = _TOKEN_NOISE[config.objfunc]
        if config.objfunc is Objfunc.NEG_BIN:
            arg = neg_bin_r(config)
        if source == "fit" and arg not in {p.name for p in config.parameters}:
            raise InputError(f"objective {config.objfunc.value} estimates the noise "
                             f"parameter: declare {arg} (e.g. 'loguniform_var = {arg} 0.01 "
                             "100')", file=f, row=config.objfunc_line, id=str(arg))
        out[None] = Noise(family, source, arg, config.objfunc_line,
                          f"objective {config.objfunc.value}")
        _check_location(out[None], location, f)
    for n in config.noise_models:
        if (n.source == "read_exp_file" and n.argument != "_SD") \
                or (n.family == "neg_bin" and n.source not in ("fit", "fix_at")):
            raise UnsupportedError(f"a {n.family} noise model with {n.parameter} = "
                                   f"{n.source} {n.argument or ''}".rstrip() + " is not "
                                   "supported yet (read_exp_file reads only _SD columns; "
                                   "neg_bin takes fit or fix_at)", file=f, row=n.line,
                                   id=n.observable or "noise_model", value=n.source)
        arg = 1.0 if n.source == "relative" and n.argument is None else n.argument
        df = next(((s, a) for p, s, a in n.extra if p == "df"), ("fix_at", STUDENT_T_DF))
        out[n.observable] = Noise(n.family, n.source, arg, n.line, "noise_model", df,
                                  n.cumulative)
        _check_location(out[n.observable], n.location or location, f)
    return out


def _check_location(n: Noise, location: str, f: str) -> None:
    """The prediction as a log-normal's median and a negative binomial's mean only."""
    if n.family in ("lognormal", "lnnormal") and location == "mean":
        raise UnsupportedError(f"a {n.family} noise model with the prediction as its mean is "
                               "not supported yet (bngfit takes it as the median)", file=f,
                               row=n.line, id=n.what, value="mean")
    if n.family == "neg_bin" and location != "mean":
        raise UnsupportedError("PyBNF's edition 2 takes a neg_bin prediction as the median "
                               "unless told otherwise; bngfit computes the mean: set "
                               "'noise_location = mean' (or location = mean on the "
                               "noise_model)", file=f, row=n.line, id=n.what, value=location)


def noise_symbols(noise: dict[str | None, Noise]) -> set[str]:
    """Names the noise models read: estimated parameters and formula symbols."""
    out: set[str] = set()
    for n in noise.values():
        if n.source == "fit":
            out.add(str(n.argument))
        elif n.source in _FORMULAS:
            out |= set(parse_formula(str(n.argument)).symbols)
        if n.family == "student_t" and n.df[0] == "fit":
            out.add(str(n.df[1]))
    return out


def observable_noise(col: str, formula: Formula, n: Noise, row: int, f: str) -> Observable:
    """The observable of column ``col`` with formula ``formula`` under noise model ``n``."""
    shape: float | str | None = None
    noise = f"noiseParameter1_{col}"  # per-point values, see point_sigma
    if n.source == "fit" or n.source in _FORMULAS:
        noise = str(n.argument)
    if n.family == "neg_bin":
        shape = n.argument if n.source == "fit" else float(n.argument)
        noise = "1"  # the negative binomial has no separate scale
    elif n.family == "student_t":
        shape = n.df[1] if n.df[0] == "fit" else float(n.df[1])
    return Observable(col, formula, parse_formula(noise, file=f, row=n.line, id=col),
                      _TRANSFORM.get(n.family, Transform.LIN), _FAMILY[n.family], row, shape)


def point_sigma(t: ExpTable, col: str, n: Noise) -> np.ndarray | None:
    """Per-point noise scale of a column, or None where the observable carries it."""
    values = t.values[col]
    if n.family in _TRANSFORM:
        bad = np.nonzero(values <= 0.0)[0]
        if bad.size:
            raise InputError(f"a {n.family} noise model needs positive data (it compares "
                             "logarithms)", file=t.path, row=int(t.lines[bad[0]]), id=col,
                             value=f"{values[bad[0]]:g}")
    if n.source == "fit" or n.source in _FORMULAS or n.family == "neg_bin":
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
            raise InputError(f"the {n.what} scales sigma with the data value, which is 0 "
                             "here", file=t.path, row=int(t.lines[zero[0]]), id=col,
                             value="0")
        return float(n.argument) * np.abs(values)
    mean = float(np.nanmean(values))  # column_mean
    if mean == 0.0:
        raise InputError(f"the {n.what} takes sigma as the column mean, which is 0",
                         file=t.path, row=t.header_line, id=col)
    return np.full_like(values, abs(mean))
