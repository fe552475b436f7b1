"""What a problem file asks of a run (:class:`~bngfit.problem.FitRequest`) as a fit draws on it.

:meth:`FitSettings.resolve <bngfit.optimize.FitSettings.resolve>` takes each
setting from the caller, else the stored run, else the request, else the
default. :class:`Requested` hands out the request's values at the third step
and remembers which it gave, which the caller or the stored run overrode and
which could not be met, so that the fit can say so in one line
(:meth:`Requested.line`) when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bngfit.problem._request import FitRequest

#: The request's fields a fit's settings take, and how the line names a value.
_SHOWN = {
    "optimizer": "optimizer {}",
    "n_starts": "{} starts",
    "seed": "seed {}",
    "sampler": "sampler {}",
    "max_iterations": "at most {} iterations per local run",
    "workers": "{} workers",
}


@dataclass
class Requested:
    """The request of one problem, as one resolution of settings draws on it.

    Attributes
    ----------
    request : FitRequest
    used : dict of str to object
        The fields taken from the request, with their values.
    fallback : dict of str to str
        Fields whose request could not be met, with why.
    """

    request: FitRequest
    used: dict[str, object] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)

    def take(self, name: str, default: object = None) -> object:
        """The request's value of field ``name`` (remembered as used), else ``default``."""
        value = getattr(self.request, name)
        if value is None:
            return default
        self.used[name] = value
        return value

    def gave(self, name: str) -> bool:
        """Whether the value of field ``name`` came from the request."""
        return name in self.used

    def refuse(self, name: str, why: str) -> None:
        """The request's value of ``name`` cannot be met (``why``); the default replaces it."""
        self.used.pop(name, None)
        self.fallback[name] = why

    def line(self, source: str, values: dict[str, object]) -> str | None:
        """One line: what the file asked, what the run took and what it did instead.

        ``values`` holds the run's resolved value of each field of
        :data:`_SHOWN`. None when the file asked for nothing a fit takes.
        """
        parts = []
        for name, asked in self.request.origin:
            if name not in _SHOWN:
                continue
            shown = _SHOWN[name].format(values.get(name))
            if name in self.used:
                parts.append(f"{shown} ({asked})")
            elif name in self.fallback:
                parts.append(f"{shown} instead ({asked}: {self.fallback[name]})")
            elif getattr(self.request, name) is None:  # asked, but nothing of its kind
                parts.append(f"{shown} ran ({asked})")
            else:
                parts.append(f"{asked} not used: the call or the stored run sets {shown}")
        if not parts:
            return None
        return f"run settings from {source}: " + "; ".join(parts)
