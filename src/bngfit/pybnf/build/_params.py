"""Free parameters of a PyBNF configuration (both editions): bounds, nominal values
and start distributions (part of the PyBNF builder core).

Each declaration becomes a :class:`~bngfit.problem.ParameterSpec`:

- ``uniform_var`` / ``loguniform_var`` and edition-2 records with bounds and no
  prior: the box is the bounds, on a lin / log10 (or ln) scale;
- ``normal_var`` / ``lognormal_var`` and ``prior: normal`` records: a normal in
  the scale's units (log10 units for ``lognormal_var``) is the start
  distribution (an initialization prior; PyBNF's optimizers do not add it to
  the objective, so neither does bngfit), truncated to ``lower``/``upper``
  where the declaration has them (an edition-1 ``normal_var`` at 0, as PyBNF
  documents it; the reader records that bound);
- ``var`` / ``logvar``: an unbounded parameter around a start point (see
  :func:`start_value_spec`).

The nominal value is the declared initial value where there is one, and
otherwise the median of the start distribution on the parameter's scale: the
box's middle (geometric mean on a log scale), the start point, or the median
of the truncated normal (its mean when the bounds do not truncate it). PyBNF
starts its local optimizers at a truncated prior's median too (docs/priors.rst,
"Half-bounded boxes"). The median is the start draw at u = 1/2 of
:func:`bngfit.problem._priors.draw`, so it always lies within the bounds.
"""

from __future__ import annotations

import numpy as np

from bngfit.errors import UnsupportedError
from bngfit.problem._priors import InitPrior, draw
from bngfit.problem._problem import ParameterSpec
from bngfit.problem._scales import Scale, scale_codes, to_scale, unscale
from bngfit.pybnf.conf._entries import ParamEntry, ParamKind, PybnfConfig

SUPPORTED_KINDS = (ParamKind.UNIFORM, ParamKind.LOGUNIFORM, ParamKind.NORMAL,
                   ParamKind.LOGNORMAL, ParamKind.VAR, ParamKind.LOGVAR)
START_KINDS = (ParamKind.VAR, ParamKind.LOGVAR)
NORMAL_KINDS = (ParamKind.NORMAL, ParamKind.LOGNORMAL)


def refuse_unsupported_kinds(config: PybnfConfig) -> None:
    """Refuse a declaration whose start distribution bngfit does not draw.

    Raises
    ------
    UnsupportedError
        Naming the first such parameter and its line.
    """
    for p in config.parameters:
        if p.kind not in SUPPORTED_KINDS:
            raise UnsupportedError(f"parameter '{p.name}': a {p.kind.value} declaration is "
                                   "not supported", file=config.path, row=p.line, id=p.name)


def parameter_specs(config: PybnfConfig) -> list[ParameterSpec]:
    """The free parameters of ``config``, in declaration order (see the module doc)."""
    out = []
    for p in config.parameters:
        if p.kind in START_KINDS:
            out.append(start_value_spec(p))
        elif p.kind in NORMAL_KINDS:
            out.append(_normal_spec(p))
        else:
            out.append(_box_spec(p))
    return out


def start_value_spec(p: ParamEntry) -> ParameterSpec:
    """A ``var = k X [STEP]`` / ``logvar = k LOG10_X [LOG10_STEP]`` parameter.

    PyBNF gives its local optimizers (simplex, Powell) this start point and
    no bounds. bngfit makes it an unbounded parameter (``logvar``: log10
    scale, value > 0) whose nominal value is the start point and whose
    multistart starts are drawn from a normal around it on the declaration's
    scale, the step (1 when not given) as standard deviation: the first start
    is not the point itself, so pass ``--start-points`` to begin exactly there.
    """
    log = p.kind is ParamKind.LOGVAR
    step = 1.0 if p.step is None else float(p.step)
    centre = float(np.log10(p.initial)) if log else float(p.initial)
    return ParameterSpec(p.name, Scale.LOG10 if log else Scale.LIN, 0.0 if log else -np.inf,
                         np.inf, float(p.initial), True, p.line,
                         (InitPrior.PS_NORMAL, centre, step))


def _normal_spec(p: ParamEntry) -> ParameterSpec:
    """A normal start distribution, truncated to the declared bounds."""
    log = p.scale is not Scale.LIN
    lb = (0.0 if log else -np.inf) if p.lower is None else float(p.lower)
    ub = np.inf if p.upper is None else float(p.upper)
    prior = (InitPrior.PS_NORMAL, float(p.mean), float(p.sd))
    nominal = float(p.initial) if p.initial is not None else _median(prior, p.scale, lb, ub)
    return ParameterSpec(p.name, p.scale, lb, ub, nominal, True, p.line, prior)


def _box_spec(p: ParamEntry) -> ParameterSpec:
    """A uniform box; nominal at its middle on the parameter's scale."""
    lb, ub = float(p.lower), float(p.upper)
    if p.initial is not None:
        nominal = float(p.initial)
    elif p.scale is not Scale.LIN:
        nominal = float(np.sqrt(lb * ub))
    else:
        nominal = 0.5 * (lb + ub)
    return ParameterSpec(p.name, p.scale, lb, ub, nominal, True, p.line)


def _median(prior: tuple[InitPrior, float, float], scale: Scale, lb: float,
            ub: float) -> float:
    """The median (native value) of ``prior`` truncated to [lb, ub] (native bounds)."""
    codes = scale_codes([scale])
    lo, hi = to_scale(np.array([lb, ub]), scale_codes([scale] * 2))
    x = draw(prior, np.array([0.5]), scale, float(lo), float(hi))
    return float(unscale(x, codes)[0])
