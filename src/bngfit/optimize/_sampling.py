"""Start points of a multistart (the sampler lives in :mod:`bngfit.problem._sampling`).

The problem stage holds the sampler so that ``Problem.sample_starts`` can use
it without importing upward; this module keeps the names where the optimize
stage (and bngfit 0.1's ``bngfit.sampling``) had them.
"""

from bngfit.problem._sampling import (
    SAMPLER_TEXT,
    SAMPLERS,
    Sampler,
    parse_sampler,
    sample_starts,
)

__all__ = ["SAMPLERS", "SAMPLER_TEXT", "Sampler", "parse_sampler", "sample_starts"]
