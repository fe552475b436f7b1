"""Which PyBNF settings change the mathematics bngfit computes, and refusing them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from bngfit.errors import Issue, UnsupportedError

from ._keys import UNSUPPORTED_MATH_KEYS

if TYPE_CHECKING:
    from ._entries import PybnfConfig


def unsupported_math(config: PybnfConfig, *, supported: Collection[str] = ()) -> list[Issue]:
    """Settings of ``config`` that change the objective's mathematics, in line order.

    A key of :data:`~bngfit.pybnf.conf._keys.UNSUPPORTED_MATH_KEYS` is listed when
    its value is not the key's neutral value and the key is not in
    ``supported``; so is a ``time_course`` / ``param_scan`` whose ``method`` is
    not ``ode`` (unless ``"method"`` is in ``supported``).

    Returns
    -------
    list of Issue
        Severity ``"error"``, with file, line, key and value.
    """
    found: list[Issue] = []
    for key, (value, line) in config.settings.items():
        spec = UNSUPPORTED_MATH_KEYS.get(key)
        if spec is None or key in supported or value == spec.neutral:
            continue
        found.append(Issue("error", f"'{key}' changes the objective ({spec.help}); bngfit "
                           "does not support it", config.path, line, id=key, value=str(value)))
    if "method" not in supported:
        for a in config.actions:
            if a.method != "ode":
                found.append(Issue("error", f"{a.kind} simulates with method '{a.method}'; "
                                   "bngfit simulates ODEs only", config.path, a.line,
                                   id=f"{a.kind} method", value=a.method))
    return sorted(found, key=lambda i: i.row or 0)


def check_supported(config: PybnfConfig, *, supported: Iterable[str] = ()) -> None:
    """Refuse a configuration that asks for mathematics bngfit does not compute.

    Parameters
    ----------
    config : PybnfConfig
    supported : iterable of str
        Keys of :data:`~bngfit.pybnf.conf._keys.UNSUPPORTED_MATH_KEYS` (or
        ``"method"``) the caller does support.

    Raises
    ------
    UnsupportedError
        Naming the first such key (by line), its line and value.
    """
    found = unsupported_math(config, supported=frozenset(supported))
    if found:
        i = found[0]
        raise UnsupportedError(i.message, file=i.file, row=i.row, id=i.id, value=i.value)
