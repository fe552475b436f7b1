"""The bootstrap a PyBNF job asks for: ``bootstrap`` and ``bootstrap_max_obj`` as
:class:`~bngfit.problem.FitRequest` fields (part of the PyBNF builder core).

``bootstrap = N`` asks for N refits to resampled data after the fit
(:mod:`bngfit.optimize._bootstrap`). ``bootstrap_max_obj = T`` discards a
replicate whose objective, on PyBNF's scale, ends above T. bngfit's fval is a
full negative log-likelihood: per data point, PyBNF's value times a factor
``a`` plus a constant ``c_i`` (:mod:`bngfit.pybnf.build._noise`), and a
resample counts each point as often as it was drawn, so PyBNF's objective of a
replicate with weights ``w`` is ``(fval - c @ w) / a``; the request carries
``(a, c)`` and the bootstrap compares ``fval <= a T + c @ w``, PyBNF's test
exactly.

======================  ===  =============================================
objective               a    c_i (sigma_i: the point's fixed noise scale)
======================  ===  =============================================
``chi_sq``              1    log sigma_i + log(2 pi) / 2
``sos``, ``norm_sos``,  1/2  log sigma_i + log(2 pi) / 2
``ave_norm_sos``
``chi_sq_dynamic``      1    log(2 pi) / 2 (PyBNF keeps log sigma)
``sod``                 1    log 2
``neg_bin(_dynamic)``   1    0 (PyBNF's probability clipped to [1e-10, 1 - 1e-10])
======================  ===  =============================================

Constraint penalties are added unscaled by both, so with ``a = 1/2`` the map
holds only without them. Where no exact map exists (those tokens with
``.prop`` constraints; ``lognormal`` and ``laplace``, which PyBNF does not have;
edition-2 ``noise_model`` lines) a ``bootstrap_max_obj`` is refused with its
line; ``bngfit bootstrap STORE --max-fval V`` takes a threshold on bngfit's own
scale instead.
"""

from __future__ import annotations

import math

from bngfit.errors import UnsupportedError
from bngfit.problem._problem import Measurements
from bngfit.pybnf.conf._entries import Objfunc, PybnfConfig

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: Per objective token: the factor a, and whether c_i holds log sigma_i (True),
#: or the constant (float).
_SCALE: dict[Objfunc, tuple[float, bool | float]] = {
    Objfunc.CHI_SQ: (1.0, True),
    Objfunc.SOS: (0.5, True),
    Objfunc.NORM_SOS: (0.5, True),
    Objfunc.AVE_NORM_SOS: (0.5, True),
    Objfunc.CHI_SQ_DYNAMIC: (1.0, _HALF_LOG_2PI),
    Objfunc.SOD: (1.0, math.log(2.0)),
    Objfunc.NEG_BIN: (1.0, 0.0),
    Objfunc.NEG_BIN_DYNAMIC: (1.0, 0.0),
}


def bootstrap_request(config: PybnfConfig, meas: Measurements, has_penalties: bool) -> dict:
    """The :class:`~bngfit.problem.FitRequest` keywords of the job's bootstrap.

    Parameters
    ----------
    config : PybnfConfig
    meas : Measurements
        The problem's measurements (their fixed noise scales give ``c``).
    has_penalties : bool
        Whether the problem has ``.prop`` constraint penalties.

    Returns
    -------
    dict
        ``bootstrap`` (0: none), ``bootstrap_max_obj`` and
        ``bootstrap_obj_scale`` (None where not given).

    Raises
    ------
    UnsupportedError
        A ``bootstrap_max_obj`` that cannot be put on bngfit's scale (see the
        module notes), with its line.
    """
    n = int(config.setting("bootstrap", 0))
    entry = config.settings.get("bootstrap_max_obj")
    if entry is None or not math.isfinite(float(entry[0])):  # inf: PyBNF's "no threshold"
        return {"bootstrap": n}
    value, line = float(entry[0]), entry[1]
    token = config.objfunc or (Objfunc.CHI_SQ if config.edition == 1 else None)
    why = None
    if config.noise_models or token not in _SCALE:
        why = ("its noise models have no objective value of PyBNF's" if config.noise_models
               else f"PyBNF has no objective '{token}' whose value it could be")
    elif _SCALE[token][0] != 1.0 and has_penalties:
        why = (f"PyBNF's {token.value} weighs its data term twice as heavily against the "
               ".prop penalties as bngfit's value does")
    if why is not None:
        raise UnsupportedError(
            f"bootstrap_max_obj is a threshold on PyBNF's objective, and bngfit cannot "
            f"compute that objective here ({why}); remove it and give bngfit's own "
            "threshold with 'bngfit bootstrap STORE --max-fval V'", file=config.path, row=line,
            id="bootstrap_max_obj", value=f"{value:g}")
    factor, const = _SCALE[token]
    if const is True:  # the fixed sigma of each point (sos: 1)
        offsets = tuple(math.log(float(p[0])) + _HALF_LOG_2PI if p else _HALF_LOG_2PI
                        for p in meas.noise_params)
    else:
        offsets = (float(const),) * len(meas)
    return {"bootstrap": n, "bootstrap_max_obj": value,
            "bootstrap_obj_scale": (factor, offsets)}


__all__ = ["bootstrap_request"]
