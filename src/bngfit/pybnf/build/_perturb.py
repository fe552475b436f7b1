"""Perturbations of a model (an edition-1 ``mutant`` line, an edition-2 ``condition:``
record) as checked mutations (part of the PyBNF builder core).

A perturbation ``target op value`` (op ``= * / + -``) becomes a
:class:`~bngfit.problem._conditions.Mutation`, checked as PyBNF would run it and as
bngfit can represent it:

- the value is a finite number (not 0 after ``/``) or, where the caller allows
  names (an edition-2 condition), a declared free parameter;
- the target is a model parameter or a species (its initial value, ``=``
  only, unless a free parameter sets that initial value first: then any
  operator applies to it, as in PyBNF); a quoted pattern must name one species
  of the network exactly;
- where the caller restricts targets to a set of names (an edition-1 mutant of
  a BNGL model, which PyBNF applies to the ``NAME__FREE`` parameters only), the
  target is one of them;
- where the caller allows only ``=`` (an edition-2 pre-equilibrated
  experiment, whose conditions PyBNF applies as ``setParameter`` actions), the
  operator is ``=``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.problem._conditions import Mutation, MutationOp
from bngfit.problem._model_info import ModelInfo
from bngfit.pybnf.conf._entries import Perturbation


def perturbation_error(owner: str, p: Perturbation, why: str, f: str,
                       cls: type[InputError] = InputError) -> InputError:
    """The error for one perturbation of a mutant or condition: file, line, statement."""
    return cls(f"{owner}: {why}", file=f, row=p.line, id=p.target,
               value=f"{p.target}{p.op.value}{p.value}")


def perturbation_mutations(owner: str, perturbations: Iterable[Perturbation],
                           info: ModelInfo, f: str, *,
                           free: Collection[str] | None = None,
                           names: Collection[str] | None = None,
                           set_only: str | None = None,
                           initial: Collection[str] = ()) -> tuple[Mutation, ...]:
    """The perturbations as mutations, in written order, each checked.

    Parameters
    ----------
    owner : str
        What the perturbations belong to, for messages (``mutant 'm1'``).
    perturbations : iterable of Perturbation
    info : ModelInfo
        The model they change.
    f : str
        The configuration file, for messages.
    free : collection of str, optional
        The only allowed targets (a BNGL model's ``NAME__FREE`` parameters for
        an edition-1 mutant); None: any parameter or species of the model.
    names : collection of str, optional
        Names a value may be (declared free parameters); None: numbers only,
        as PyBNF reads a mutant statement.
    set_only : str, optional
        The pre-equilibrated experiment whose conditions these are: only
        ``=`` is allowed.
    initial : collection of str
        Species whose initial value a free parameter sets before these
        perturbations (:mod:`bngfit.pybnf.build._initials`): any operator
        applies to them.

    Raises
    ------
    InputError
        A value that is no number (nor an allowed name), infinite, or 0 after
        ``/``; a target that is not a parameter or species of the model (or
        not in ``free``).
    UnsupportedError
        ``* / + -`` on a species not in ``initial``; anything but ``=`` with
        ``set_only``.
    """
    def refuse(p: Perturbation, why: str, cls: type[InputError] = InputError
               ) -> InputError:
        return perturbation_error(owner, p, why, f, cls)

    out = []
    for p in perturbations:
        if set_only is not None and p.op is not MutationOp.SET:
            raise refuse(p, f"experiment '{set_only}' pre-equilibrates, and PyBNF applies its "
                            "conditions as setParameter actions, which take only absolute "
                            f"'=' perturbations, not '{p.op.value}'", UnsupportedError)
        value = _value(p, names, refuse)
        if free is not None:
            if p.target not in free:
                hint = (f"; did you mean '{p.target}__FREE'?"
                        if f"{p.target}__FREE" in free else "")
                raise refuse(p, f"'{p.target}' is not a free parameter: PyBNF's mutants of "
                                "a BNGL model change the NAME__FREE parameters declared in "
                                f"the configuration ({', '.join(sorted(free))}){hint}")
        elif p.target in info.species:
            if p.op is not MutationOp.SET and p.target not in initial:
                raise refuse(p, f"'{p.op.value}' on the species '{p.target}' is not "
                                "supported yet; only '=' (its initial concentration)",
                             UnsupportedError)
        elif p.species:
            raise refuse(p, f"\"{p.target}\" is no species of the model's network by that "
                            f"exact name (species: {', '.join(info.species[:8])}"
                            f"{', ...' if len(info.species) > 8 else ''})")
        elif p.target not in info.parameters:
            raise refuse(p, f"'{p.target}' is no parameter or species of the model")
        out.append(Mutation(p.target, p.op, value))
    return tuple(out)


def _value(p: Perturbation, names: Collection[str] | None,
           refuse: Callable[[Perturbation, str], InputError]) -> float | str:
    """The perturbation's value: a checked number, or an allowed name."""
    if isinstance(p.value, str):
        if names is None:
            raise refuse(p, f"the value '{p.value}' is not a number (PyBNF reads the value "
                            "of a mutant statement as a number)")
        if p.value not in names:
            raise refuse(p, f"the value '{p.value}' is neither a number nor a declared "
                            "free parameter")
        return p.value
    value = float(p.value)
    if not np.isfinite(value) or (p.op is MutationOp.DIV and value == 0.0):
        raise refuse(p, "the value must be a finite number, and not 0 after '/'")
    return value
