"""The noise models of an edition-2 PyBNF configuration (its ``objective`` token and
``noise_model`` lines), on bngfit's noise families.

PyBNF's edition 2 names one whole-fit objective (an ``objective`` token, which
desugars to a noise model, or a ``noise_model`` line without observable) and
lets ``noise_model OBS = ...`` lines override it per observable
(docs/config_keys.rst ``objective``, ``noise_model``; docs/noise_models.rst;
``docs/pybnf-rules.md``). Each is a family and where its parameters come from:

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
a constant; the minimizers are the same. The tokens, the :class:`Noise` record
and each point's scale are shared with edition 1 (:mod:`bngfit.pybnf.build._noise`).
"""

from __future__ import annotations

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._formulas import parse_formula
from bngfit.pybnf.conf._entries import PybnfConfig

from ._noise import (  # noqa: F401 - observable_noise, point_sigma: 0.1.0 names here
    FORMULA_SOURCES,
    STUDENT_T_DF,
    Noise,
    observable_noise,
    point_sigma,
    token_noise,
)


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
        out[None] = token_noise(config, config.objfunc, "objective")
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
        elif n.source in FORMULA_SOURCES:
            out |= set(parse_formula(str(n.argument)).symbols)
        if n.family == "student_t" and n.df[0] == "fit":
            out.add(str(n.df[1]))
    return out
