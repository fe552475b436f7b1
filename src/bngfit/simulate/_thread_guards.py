"""bngsim's module-level caches made safe to read from several threads.

bngsim 0.16 keeps three module-level dicts in ``_switch_sensitivity``
(crossing times, guarded thresholds, schedule edges), each read as
``if key in cache: return cache[key]`` and emptied with ``cache.clear()`` when
full. With the experiments of one evaluation on threads
(:mod:`bngfit.objective._lanes`), one thread can empty a cache between another's
two steps, which then raises ``KeyError`` out of a run: rare, but in a fit of
hours it happens. Each dict is replaced by a :class:`TwoGenerationCache`, which
keeps the entries of its last clear as a previous generation that only answers
a lookup by key: the value is a function of its key alone (bngsim keys them on
every input), so the answer is the one the reader expected, and memory stays
bounded by two generations.
"""

from __future__ import annotations

from typing import Any

#: The dicts replaced, as (module, attribute).
GUARDED = (("bngsim._switch_sensitivity", "_CROSSING_CACHE"),
           ("bngsim._switch_sensitivity", "_GUARDED_CACHE"),
           ("bngsim._switch_sensitivity", "_SCHEDULE_CACHE"))


class TwoGenerationCache(dict):
    """A dict whose ``clear`` keeps the cleared entries for lookups by key.

    ``key in cache`` and ``len`` see the current generation only (so bngsim's
    size limit and misses behave as before); ``cache[key]`` falls back to the
    previous generation.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._previous: dict = {}

    def clear(self) -> None:
        # the swap is one assignment: a reader sees the old or the new generation
        self._previous = dict(self)
        super().clear()

    def __missing__(self, key: Any) -> Any:
        return self._previous[key]


def guard_caches() -> int:
    """Replace the dicts of :data:`GUARDED` that are plain dicts; how many were replaced.

    Idempotent; a name this bngsim does not have is left alone.
    """
    import importlib

    replaced = 0
    for module_name, attr in GUARDED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        current = getattr(module, attr, None)
        if type(current) is dict:
            setattr(module, attr, TwoGenerationCache(current))
            replaced += 1
    return replaced
