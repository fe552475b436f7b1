"""The settings that define a fit run: stored with it, compared on resume."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bngfit.errors import InputError
from bngfit.result._store import Store

from ._racing import Race


@dataclass(frozen=True)
class FitSettings:
    """The settings that define a run (stored, and compared on resume)."""

    optimizer: str
    n_starts: int
    seed: int | None
    sampler: str = "uniform"
    objective_opts: dict = field(default_factory=dict)
    optimizer_opts: dict = field(default_factory=dict)
    user_starts: int = 0
    race: Race = Race(candidates=1)
    hierarchical: bool = True
    closed_form_noise: tuple[str, ...] = ()  # the parameters hierarchical sets
    # load warnings that mean the objective differs from what the files literally
    # ask for: kept with the run, so a stored result says what it was fitted to
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"sampler": self.sampler, "objective_opts": self.objective_opts,
                "optimizer_opts": self.optimizer_opts, "user_starts": self.user_starts,
                "race": self.race.candidates, "race_budget": self.race.budget,
                "hierarchical": self.hierarchical,
                "closed_form_noise": list(self.closed_form_noise),
                "warnings": list(self.warnings)}


# Settings a store written before they existed holds implicitly: such runs
# were plain multistarts on every free parameter.
LEGACY_SETTINGS = {"race": 1, "race_budget": Race().budget, "hierarchical": False,
                   "closed_form_noise": []}


def _seed_of(rng) -> int:
    if rng is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return int(rng)


def _check_settings_match(store: Store, s: FitSettings) -> None:
    meta = store.meta()
    theirs = {"optimizer": meta["optimizer"], "n_starts": meta["n_starts"],
              "seed": meta["seed"], **LEGACY_SETTINGS, **meta["settings"]}
    ours = {"optimizer": s.optimizer, "n_starts": s.n_starts, "seed": s.seed,
            **json_roundtrip(s.as_dict())}
    # the warnings follow from the problem, which the fingerprint compares already
    diff = [k for k in ours if k != "warnings" and theirs.get(k) != ours[k]]
    if diff:
        detail = "; ".join(f"{k}: stored {theirs.get(k)!r}, given {ours[k]!r}" for k in diff)
        raise InputError(f"resume with the stored settings, or start a new store ({detail})",
                         file=str(store.path))


def json_roundtrip(d: dict) -> dict:
    """The dict as it comes back from the store's JSON."""
    import json

    return json.loads(json.dumps(d))
