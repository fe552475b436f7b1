"""The action statements of a BNGL file: which may reach BNG2.pl, and how.

BNG2.pl runs action statements as Perl code. :func:`check_actions` refuses every
statement that is not a known verb with literal arguments, and returns what
:func:`~bngfit.files._bngl_filter.filter_bngl` forwards: known ``setOption``
names, literal ``setParameter``/``setConcentration`` before the network is
generated, and one ``generate_network`` with numeric options, each re-written
from the parsed values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bngfit.errors import InputError

from ._bngl_actions import IDENT, NUMBER, Action, ArgValue, Bare

#: setOption names kept, each with the values it takes (None: a finite number).
SET_OPTIONS: Mapping[str, frozenset[str] | None] = {
    "NumberPerQuantityUnit": None,
    "energyBNG": None,
    "SpeciesLabel": frozenset({"Auto", "HNauty", "Quasi"}),
    "MoleculesObservables": frozenset({"CountUnique", "CountAll"}),
    "SpeciesObservables": frozenset({"CountUnique", "CountAll"}),
}
#: generate_network options that shape the network (numbers; max_stoich a hash).
GENERATE_OPTIONS = frozenset({
    "max_iter", "max_agg", "max_stoich", "check_iso", "continue", "overwrite",
    "print_iter", "TextSpecies", "TextReaction", "verbose",
})
#: generate_network options that only name or suppress its output file: bngfit
#: chooses where the network goes, so they are checked and not forwarded.
_OUTPUT_OPTIONS = frozenset({"prefix", "suffix", "write"})

_STATE = frozenset({"setparameter", "setconcentration"})
#: Verbs that change the model BNG2.pl would generate in a way bngfit cannot forward.
_BEFORE_NETWORK_REFUSED = {
    "readfile": "it loads another model file", "readmodel": "it loads another model",
    "readnetwork": "it loads another network", "readsbml": "it loads another model",
    "setvolume": "it rescales a compartment", "substanceunits": "it changes units",
    "addconcentration": "it adds to an amount", "resetparameters": "it restores parameters",
    "generate_hybrid_model": "hybrid models are not ODE networks",
}
#: Every BioNetGen 2.9 action verb (BNGModel.pm and BNGAction.pm methods).
KNOWN_VERBS = frozenset({
    "simulate", "simulate_ode", "simulate_ssa", "simulate_nf", "simulate_pla",
    "simulate_psa", "simulate_protocol", "parameter_scan", "bifurcate",
    "linearparametersensitivity", "generate_network", "generate_hybrid_model",
    "readfile", "readmodel", "readnetwork", "readsbml", "writemodel", "writenetwork",
    "writenet", "writefile", "writebngl", "writexml", "writesbml", "writemfile",
    "writemexfile", "writematlab", "writecpyfile", "writelatex", "writemdl",
    "visualize", "setoption", "substanceunits", "setvolume", "setparameter",
    "saveparameters", "resetparameters", "setconcentration", "addconcentration",
    "saveconcentrations", "resetconcentrations", "setmodelname", "version", "quit",
    "setoutputdir",
})
#: BNGL math functions a bare argument may call (anything else is code).
_FUNCTIONS = frozenset({
    "exp", "ln", "log10", "log2", "sqrt", "abs", "sin", "cos", "tan", "asin", "acos",
    "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "rint", "min", "max",
    "sum", "avg", "if", "time", "mratio", "pi", "_pi", "_e",
})

_SAFE_STRING = re.compile(r"[A-Za-z0-9_ .,:+\-*/^()!~@%?<>=&|$\[\]]*")
_SAFE_BARE = re.compile(r"[A-Za-z0-9_ .+\-*/^()]+")
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")


class Refuser:
    """Builds the refusal of one file: the reason, the rule behind it, line, statement."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def __call__(self, message: str, line: int, statement: str) -> InputError:
        statement = " ".join(statement.split())
        if len(statement) > 100:
            statement = statement[:97] + "..."
        return InputError(
            f"{message}. A BNGL file may hold model blocks and literal actions only: "
            "BNG2.pl runs action statements as Perl code, so bngfit refuses anything "
            "else (see the README, 'What a BNGL file may contain')",
            file=self.file, row=line, value=statement)


def check_actions(actions: tuple[Action, ...], codes: dict[int, str], refuse: Refuser,
             network_first: bool) -> tuple[list[tuple[int, str]], str]:
    """The statements forwarded (line, text) and the generation call."""
    def statement(a: Action) -> str:
        return codes.get(a.line, a.name)

    for a in actions:
        verb = a.name.lower()
        if verb not in KNOWN_VERBS:
            raise refuse(f"unknown action '{a.name}'", a.line, statement(a))
        for key, value in a.args.items():
            why = _not_literal(value)
            if why:
                what = "an argument" if key == "args" else f"argument '{key}'"
                raise refuse(f"{what} of {a.name} is not a literal ({why})",
                             a.line, statement(a))
    gens = [i for i, a in enumerate(actions) if a.name.lower() == "generate_network"]
    if gens:
        cut = gens[0]
    elif network_first:
        cut = next((i for i, a in enumerate(actions) if a.name.lower() != "setoption"),
                   len(actions))
    else:
        cut = len(actions)
    kept = []
    for a in actions[:cut]:
        verb = a.name.lower()
        if verb in _BEFORE_NETWORK_REFUSED:
            raise refuse(f"{a.name} cannot come before the network is generated: "
                         f"{_BEFORE_NETWORK_REFUSED[verb]}", a.line, statement(a))
        if verb == "setoption":
            kept.append((a.line, _set_option(a, statement(a), refuse)))
        elif verb in _STATE:
            kept.append((a.line, _state(a, statement(a), refuse)))
    generate = "generate_network({overwrite=>1})"
    if gens:
        last = actions[gens[-1]]
        generate = _generate(last, statement(last), refuse)
    return kept, generate


def _not_literal(value: ArgValue) -> str | None:
    """Why ``value`` (a parsed action argument) is not a literal, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else "not a finite number"
    if isinstance(value, Bare):
        if not _SAFE_BARE.fullmatch(value):
            return "only numbers, names and + - * / ^ ( ) may appear unquoted"
        for m in _CALL.finditer(value):
            if m.group(1) not in _FUNCTIONS:
                return f"'{m.group(1)}(' is a call"
        return None
    if isinstance(value, str):
        if not _SAFE_STRING.fullmatch(value):
            return "quotes, backslashes, braces, ';', '#' and backticks may not appear in a string"
        return None
    if isinstance(value, tuple):
        return next((w for w in map(_not_literal, value) if w), None)
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not IDENT.fullmatch(k):
                return f"the key '{k}' is not a name"
            why = _not_literal(v)
            if why:
                return why
        return None
    return "not a value"


def _number(value: ArgValue | None) -> str | None:
    """Perl text of a finite number (a float or numeric text), else None."""
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        value = float(value)
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _set_option(a: Action, stmt: str, refuse: Refuser) -> str:
    """``setOption`` re-written from its parsed, whitelisted name/value pairs."""
    args = a.args.get("args", ())
    if not args or len(args) % 2:
        raise refuse("setOption takes name, value pairs", a.line, stmt)
    pairs = []
    for name, value in zip(args[::2], args[1::2], strict=True):
        allowed = SET_OPTIONS.get(str(name))
        if str(name) not in SET_OPTIONS:
            raise refuse(f"setOption '{name}' is not one bngfit forwards to BNG2.pl "
                         f"(known: {', '.join(SET_OPTIONS)})", a.line, stmt)
        if allowed is None:
            text = _number(value)
            if text is None:
                raise refuse(f"setOption '{name}' takes a number", a.line, stmt)
        elif str(value) in allowed and not isinstance(value, float):
            text = f"'{value}'"
        else:
            raise refuse(f"setOption '{name}' takes one of {', '.join(sorted(allowed))}",
                         a.line, stmt)
        pairs.append(f"'{name}',{text}")
    return f"setOption({','.join(pairs)})"


def _state(a: Action, stmt: str, refuse: Refuser) -> str:
    """``setParameter``/``setConcentration`` re-written.

    The target must be quoted (a parameter may also be a bare name), the value
    a number or a bare expression.
    """
    key = "name" if a.name.lower() == "setparameter" else "species"
    target, value = a.args.get(key), a.args.get("value")
    named = isinstance(target, Bare) and key == "name" and IDENT.fullmatch(target)
    if not (named or isinstance(target, str) and not isinstance(target, Bare) and target):
        raise refuse(f"{a.name} needs a quoted {key}", a.line, stmt)
    text = _number(value)
    if text is None:
        if not isinstance(value, str) or not _SAFE_BARE.fullmatch(value):
            raise refuse(f"the value of {a.name} must be a number or an expression",
                         a.line, stmt)
        text = f"'{value}'"
    verb = "setParameter" if key == "name" else "setConcentration"
    return f"{verb}('{target}',{text})"


def _generate(a: Action, stmt: str, refuse: Refuser) -> str:
    """The generation call re-written from the whitelisted options of ``a``.

    Options that only name the output are dropped; ``overwrite=>1`` is always last.
    """
    opts = []
    if "args" in a.args:
        raise refuse("generate_network takes {name=>value} options", a.line, stmt)
    for key, value in a.args.items():
        if key in _OUTPUT_OPTIONS:
            continue  # output naming: bngfit decides where the network goes
        if key not in GENERATE_OPTIONS:
            raise refuse(f"generate_network option '{key}' is not one bngfit forwards "
                         f"(known: {', '.join(sorted(GENERATE_OPTIONS))})", a.line, stmt)
        if key == "max_stoich":
            if not isinstance(value, Mapping):
                raise refuse("max_stoich takes a hash such as {A=>2}", a.line, stmt)
            inner = []
            for mol, n in value.items():
                num = _number(n)
                if num is None or not IDENT.fullmatch(mol):
                    raise refuse("max_stoich takes molecule names and numbers", a.line, stmt)
                inner.append(f"{mol}=>{num}")
            opts.append("max_stoich=>{" + ",".join(inner) + "}")
            continue
        num = _number(value)
        if num is None:
            raise refuse(f"generate_network option '{key}' takes a number", a.line, stmt)
        if key != "overwrite":
            opts.append(f"{key}=>{num}")
    return "generate_network({" + ",".join([*opts, "overwrite=>1"]) + "})"
