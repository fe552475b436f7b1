"""The settings of a fit run: every default resolved in one place, and the resume rules.

:meth:`FitSettings.resolve` turns what a caller chose (the keywords of
:func:`bngfit.fit`, or the options of ``bngfit fit``, which only translates
them) into the complete settings of a run. A choice left unset (``None``)
takes the stored run's value when a store is resumed (:func:`stored_run`),
else what the problem file asks for (:attr:`Problem.request
<bngfit.problem.Problem.request>`: a PyBNF job's ``fit_type``,
``population_size``, ``random_seed``, ``initialization``, ``max_iterations``,
``parallel_count``; logged in one line, :mod:`bngfit.optimize._requested`), else
its default:

===================  ==========================================================
setting              default
===================  ==========================================================
optimizer            least_squares where the objective has a residual form (a
                     sum of squares), else fides; fides with the GNSBFGS Hessian
                     and 3000 iterations for large problems
                     (:func:`default_optimizer`, :data:`LARGE_PROBLEM`)
n_starts             :data:`DEFAULT_N_STARTS`, and at least the user's points
seed                 :data:`DEFAULT_SEED` (see below)
sampler              :data:`DEFAULT_SAMPLER`
race, race_budget    :class:`~bngfit.optimize._racing.Race`: 5 candidates, 35 evaluations
max_evals,           none: each start runs until its optimizer stops
max_start_time
max_iterations       none: each optimizer's own iteration budget
                     (:mod:`bngfit.optimize._iterations`)
hierarchical         :data:`DEFAULT_HIERARCHICAL`
user start points    none
objective_opts,      none (the objective's and the optimizer's own defaults);
optimizer_opts       given keys replace the stored run's key by key
rtol, atol           chosen per problem (:mod:`bngfit.optimize._tolerances`) unless
                     given in objective_opts; recorded in them
engine               :data:`DEFAULT_ENGINE` (not stored: a resumed run may change it)
workers              the available cores (process and dask engines)
===================  ==========================================================

Seeds: a run's start points, replacements of failing ones and race candidates
all come from one integer seed, which is recorded with the run; the same seed
gives the same starts and results on every engine. Without a seed a new run
uses :data:`DEFAULT_SEED`, so the same call gives the same fit; a resumed run
uses the stored one. An ``int`` is the seed; a ``numpy.random.Generator``
gives one drawn from it (pass ``numpy.random.default_rng()`` for a fresh
random seed, recorded like any other).

Resuming (:meth:`FitSettings.check_resume`): every recorded setting
(:meth:`FitSettings.recorded`: what changes what the starts compute) must be
the stored run's: an unset choice takes it, a different one is refused with
one message naming each difference. So must the user start points and the
problem itself (the store compares fingerprints). Where the starts run may
change (:data:`MAY_DIFFER_ON_RESUME`): the same seed gives the same starts on
every engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, UnsupportedError
from bngfit.objective._hierarchical import noise_profile
from bngfit.objective._objective import Objective
from bngfit.problem._problem import Problem
from bngfit.result._store import Store

from ._executors import ExecutorName, default_workers, parse_executor
from ._iterations import check_iterations, with_iterations
from ._limits import StartLimits, check_limits
from ._local import NEEDS_RESIDUALS, OptimizerName, parse_optimizer
from ._racing import Race, check_race
from ._requested import Requested
from ._sampling import Sampler, parse_sampler
from ._tolerances import ToleranceChoice, choose_tolerances

log = logging.getLogger(__name__)

#: Starts of a run by default.
DEFAULT_N_STARTS = 10
#: The seed of a new run given none (recorded like any other).
DEFAULT_SEED = 0
#: How start points are drawn by default.
DEFAULT_SAMPLER = Sampler.UNIFORM
#: Whether noise parameters with a closed-form optimum are set to it by default.
DEFAULT_HIERARCHICAL = True
#: Where the starts run by default.
DEFAULT_ENGINE = ExecutorName.PROCESS
#: Optimized parameters (noise parameters in closed form left out) from which a
#: problem is large: its default optimizer is fides with the hybrid Gauss-Newton /
#: structured-secant Hessian (:data:`LARGE_OPTIONS`). On Giordano 2020 (43) the
#: Gauss-Newton methods' starts crawl to their iteration budget and stop 3.7 or
#: more above the best known value (least_squares, fides, 20 starts); fides
#: with GNSBFGS and 3000 iterations reaches it (README, Benchmarks).
LARGE_PROBLEM = 30
LARGE_OPTIONS = {"hessian": "gnsbfgs", "maxiter": 3000}

# Settings a store written before they existed holds implicitly: such runs
# were plain multistarts on every free parameter.
LEGACY_SETTINGS = {"race": 1, "race_budget": Race().budget, "hierarchical": False,
                   "closed_form_noise": [], "max_evals": None, "max_start_time": None,
                   "max_iterations": None}

#: What a resumed run may change: where its starts run, not what they compute. The
#: load warnings follow from the problem, which the store's fingerprint compares.
MAY_DIFFER_ON_RESUME = ("engine", "workers", "scheduler", "warnings", "tolerances")


@dataclass(frozen=True, kw_only=True)
class FitSettings:
    """The complete settings of a fit run; build them with :meth:`resolve`.

    Attributes
    ----------
    optimizer : OptimizerName
    n_starts : int
        Starts in all, user start points first.
    seed : int
        Seed of the start points (see the module's notes on seeds).
    sampler : Sampler
    objective_opts : dict
        Keywords of the :class:`~bngfit.objective.Objective` (``rtol``, ``atol``,
        ``preeq_tmax``, ``max_steps``); a new run's hold its tolerances.
    tolerances : ToleranceChoice
        The run's ODE tolerances and how they were chosen.
    optimizer_opts : dict
        Tolerances and budgets of the optimizer.
    start_points : tuple of tuple of float
        The user start points (optimizer space), one tuple per point.
    race : Race
    limits : StartLimits
        Per-start limits on evaluations and wall seconds.
    max_iterations : int or None
        Iteration limit of each local run (already applied to ``optimizer_opts``).
    hierarchical : bool
    closed_form_noise : tuple of str
        The noise parameters set in closed form (empty unless ``hierarchical``).
    warnings : tuple of str
        Load warnings that mean the objective differs from what the files
        literally ask for: kept with the run, so a stored result says what it
        was fitted to.
    engine : ExecutorName
    workers : int or None
        Worker processes (None for the sequential engine).
    scheduler : str or None
        Address of a running Dask scheduler (dask engine; None: a local cluster).
    """

    optimizer: OptimizerName
    n_starts: int
    seed: int
    sampler: Sampler
    objective_opts: dict
    tolerances: ToleranceChoice
    optimizer_opts: dict
    start_points: tuple[tuple[float, ...], ...]
    race: Race
    limits: StartLimits
    max_iterations: int | None
    hierarchical: bool
    closed_form_noise: tuple[str, ...]
    warnings: tuple[str, ...]
    engine: ExecutorName
    workers: int | None
    scheduler: str | None

    @property
    def user_starts(self) -> int:
        """The number of user start points."""
        return len(self.start_points)

    def as_dict(self) -> dict:
        """The run's settings as the store keeps them (besides optimizer, n_starts, seed)."""
        return {"sampler": self.sampler.value, "objective_opts": self.objective_opts,
                "tolerances": self.tolerances.as_dict(),
                "optimizer_opts": self.optimizer_opts, "user_starts": self.user_starts,
                "race": self.race.candidates, "race_budget": self.race.budget,
                "max_evals": self.limits.max_evals,
                "max_start_time": self.limits.max_seconds,
                "max_iterations": self.max_iterations,
                "hierarchical": self.hierarchical,
                "closed_form_noise": list(self.closed_form_noise),
                "warnings": list(self.warnings)}

    def recorded(self) -> dict:
        """What a store records of the run, as read back from it (JSON values)."""
        return json_roundtrip({"optimizer": self.optimizer.value, "n_starts": self.n_starts,
                               "seed": self.seed, **self.as_dict()})

    def user_points(self, n_x: int) -> np.ndarray:
        """The user start points as an array, shape (user_starts, n_x)."""
        return np.array(self.start_points, dtype=float).reshape(-1, n_x)

    def check_resume(self, meta: dict, where: str | Path) -> None:
        """Refuse to continue the stored run ``meta`` (a store's metadata) with these settings.

        A larger ``n_starts`` than the stored one adds starts: with the uniform
        sampler the start points are rows drawn in order from the run's seed,
        so the stored starts stay the first ones, unchanged.

        Raises
        ------
        InputError
            A recorded setting not in :data:`MAY_DIFFER_ON_RESUME` differs (each
            one named with its stored and given value), fewer starts than
            stored, more starts with another sampler than uniform, or the user
            start points differ.
        """
        theirs = {"optimizer": meta["optimizer"], "n_starts": meta["n_starts"],
                  "seed": meta["seed"], **LEGACY_SETTINGS, **meta["settings"]}
        ours = self.recorded()
        grows = ours["n_starts"] > theirs["n_starts"]
        stored_sampler = theirs.get("sampler", Sampler.UNIFORM.value)
        if grows and stored_sampler != Sampler.UNIFORM.value:
            # a Latin hypercube of more points is another design: the stored
            # starts would not be its first rows
            raise InputError(f"more starts ({ours['n_starts']}, stored {theirs['n_starts']}) "
                             f"can only be added to a run sampled {Sampler.UNIFORM.value}ly; "
                             f"this run's sampler is {stored_sampler}: start a new store",
                             file=str(where))
        diff = [k for k in ours if k not in MAY_DIFFER_ON_RESUME and theirs.get(k) != ours[k]
                and not (k == "n_starts" and grows)]
        if diff:
            detail = "; ".join(f"{k}: stored {theirs.get(k)!r}, given {ours[k]!r}" for k in diff)
            raise InputError(f"resume with the stored settings, or start a new store ({detail})",
                             file=str(where))
        stored = tuple(tuple(float(v) for v in row) for row in meta.get("user_starts_x", []))
        if self.start_points and stored != self.start_points:
            raise InputError("these user start points differ from the stored run's; "
                             "resume with the same ones", file=str(where))

    @classmethod
    def resolve(
        cls,
        problem: Problem,
        *,
        stored: dict | None = None,
        optimizer: str | None = None,
        n_starts: int | None = None,
        rng: int | np.random.Generator | None = None,
        sampler: str | None = None,
        race: int | None = None,
        race_budget: int | None = None,
        max_evals: int | None = None,
        max_start_time: float | None = None,
        max_iterations: int | None = None,
        hierarchical: bool | None = None,
        starts: Sequence[Sequence[float]] | np.ndarray | None = None,
        engine: str | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        objective_opts: dict | None = None,
        optimizer_opts: dict | None = None,
    ) -> FitSettings:
        """The settings of a run: each choice given, else the stored run's, else the default.

        Parameters
        ----------
        problem : Problem
        stored : dict, optional
            The metadata of the run being resumed (:func:`stored_run`); empty
            or None for a new run.
        optimizer, n_starts, rng, sampler, race, race_budget, max_evals, max_start_time,
        max_iterations, hierarchical, starts, engine, workers, scheduler, objective_opts,
        optimizer_opts
            As for :func:`bngfit.fit`; None (or empty) is unset.

        Returns
        -------
        FitSettings

        Raises
        ------
        InputError
            A bad value, an optimizer that does not fit the problem
            (:class:`~bngfit.errors.UnsupportedError`), user start points of the
            wrong width or outside the bounds; all before any simulation.
        """
        run = _Stored(stored or {})
        req = Requested(problem.request)  # what the problem file asks, after the stored run
        race_spec = check_race(
            race if race is not None else run.setting("race", Race().candidates),
            race_budget if race_budget is not None else run.setting("race_budget",
                                                                    Race().budget))
        limits = check_limits(
            max_evals if max_evals is not None else run.setting("max_evals", None),
            max_start_time if max_start_time is not None
            else run.setting("max_start_time", None))
        iterations = check_iterations(
            max_iterations if max_iterations is not None
            else run.setting("max_iterations", None) if stored
            else req.take("max_iterations"))
        chosen = optimizer or run.get("optimizer") or req.take("optimizer")
        opt = parse_optimizer(chosen) if chosen else None
        eng = parse_executor(DEFAULT_ENGINE if engine is None else engine)
        smp = parse_sampler(sampler or (run.setting("sampler", DEFAULT_SAMPLER) if stored
                                        else req.take("sampler", DEFAULT_SAMPLER)))
        n = n_starts if n_starts is not None else run.get("n_starts") or req.take(
            "n_starts", DEFAULT_N_STARTS)
        if n < 1:
            raise InputError("the number of starts must be at least 1", value=str(n))
        oopts = {**run.setting("objective_opts", {}), **(objective_opts or {})}
        objective = Objective(problem, **oopts)  # compiles the plan: no simulation yet
        if objective.no_gradient is not None:
            raise UnsupportedError(f"cannot fit without gradients: {objective.no_gradient}")
        hier = bool(hierarchical if hierarchical is not None
                    else run.setting("hierarchical", DEFAULT_HIERARCHICAL))
        profile = noise_profile(objective) if hier else None
        opt, defaults = _optimizer(opt, req, objective,
                                   len(problem.x_names) - (len(profile.names) if profile else 0))
        user = _user_points(problem, starts if starts is not None
                            else run.get("user_starts_x") or None)
        seed = seed_of(rng) if rng is not None else run.seed(req)
        if stored:  # a resumed run keeps the tolerances it ran with
            tol = ToleranceChoice(objective.settings.rtol, objective.settings.atol,
                                  "the stored run's")
        else:  # the only simulations of resolve, after every check of the input
            tol = choose_tolerances(problem, oopts, objective)
            oopts = {**oopts, "rtol": tol.rtol, "atol": tol.atol}
        n_workers = None if eng is ExecutorName.SEQUENTIAL else (
            workers or req.take("workers") or default_workers())
        settings = cls(
            optimizer=opt, n_starts=max(n, user.shape[0]), seed=seed, sampler=smp,
            objective_opts=oopts, tolerances=tol,
            optimizer_opts=with_iterations(opt, {**defaults, **run.setting("optimizer_opts", {}),
                                                 **(optimizer_opts or {})}, iterations),
            start_points=tuple(tuple(float(v) for v in row) for row in user),
            race=race_spec, limits=limits, max_iterations=iterations, hierarchical=hier,
            closed_form_noise=profile.names if profile else (),
            warnings=tuple(w.format() for w in problem.warnings if w.affects_result),
            engine=eng, workers=n_workers, scheduler=scheduler)
        line = req.line(Path(problem.source).name, {
            "optimizer": opt.value, "n_starts": settings.n_starts, "seed": seed,
            "sampler": smp.value, "max_iterations": iterations, "workers": n_workers})
        if line:
            log.info("%s", line)
        return settings


def _optimizer(opt: OptimizerName | None, req: Requested, objective: Objective,
               n_opt: int) -> tuple[OptimizerName, dict]:
    """The run's optimizer and the options it comes with (``opt``: the one chosen, if any).

    An optimizer the problem file asks for that needs residuals the objective
    does not have is not an error, as one the caller names is: the default
    replaces it, and the fit's line says so.
    """
    if opt is not None and req.gave("optimizer") and opt in NEEDS_RESIDUALS \
            and not objective.has_residuals:
        req.refuse("optimizer", f"{opt.value} needs a sum-of-squares objective, which this "
                                "one is not")
        opt = None
    defaults: dict = {}
    if opt is None:
        opt, defaults = default_optimizer(objective, n_opt)
    check_optimizer(opt, objective)
    return opt, defaults


class _Stored:
    """The choices of a stored run (none for a new run)."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta
        # the run's settings, those older stores lack at the value they implied
        self.settings = {**LEGACY_SETTINGS, **meta.get("settings", {})} if meta else {}

    def get(self, key: str, default: object = None) -> object:
        """A top-level entry (optimizer, n_starts, seed, user_starts_x)."""
        return self.meta.get(key, default)

    def setting(self, key: str, default: object) -> object:
        """An entry of the run's settings."""
        return self.settings.get(key, default)

    def seed(self, req: Requested) -> int:
        """The stored seed, else the problem file's, else the default."""
        seed = self.meta.get("seed")
        return int(req.take("seed", DEFAULT_SEED)) if seed is None else int(seed)


def default_optimizer(objective: Objective, n_opt: int) -> tuple[OptimizerName, dict]:
    """The default optimizer of a problem and the options it comes with.

    least_squares where the objective is a sum of squares, else fides; fides
    with :data:`LARGE_OPTIONS` where ``n_opt`` (the parameters the optimizer
    moves) is at least :data:`LARGE_PROBLEM`.
    """
    if n_opt >= LARGE_PROBLEM:
        return OptimizerName.FIDES, dict(LARGE_OPTIONS)
    return (OptimizerName.LEAST_SQUARES if objective.has_residuals else OptimizerName.FIDES,
            {})


def check_optimizer(optimizer: OptimizerName, objective: Objective) -> None:
    """Refuse an optimizer that needs residuals for an objective without them.

    Raises
    ------
    UnsupportedError
        Naming what in the problem has no residual form, and what to use.
    """
    if optimizer not in NEEDS_RESIDUALS or objective.has_residuals:
        return
    problem = objective.problem
    families = sorted({o.family.value for o in problem.observables.values()} - {"normal"})
    why = [f"{', '.join(families)} noise"] if families else []
    if problem.penalties:
        why.append("qualitative constraints")
    raise UnsupportedError(
        f"optimizer '{optimizer.value}' needs a sum-of-squares objective, but this problem "
        f"has {' and '.join(why)}, which have no residual form; use 'fides' or 'lbfgsb' "
        "instead", file=str(problem.source))


def seed_of(rng: int | np.random.Generator) -> int:
    """The seed of a run given ``rng``: the integer itself, or one drawn from a generator."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return int(rng)


def _user_points(problem: Problem, starts: Sequence | np.ndarray | None) -> np.ndarray:
    """User start points, shape (n_user, n_x), checked against the problem."""
    n_x = len(problem.x_names)
    user = np.zeros((0, n_x)) if starts is None else np.atleast_2d(np.asarray(starts, float))
    if not user.size:  # no points (``[]`` too)
        return np.zeros((0, n_x))
    if user.shape[1:] != (n_x,):
        raise InputError(f"user start points must have {n_x} columns", value=str(user.shape))
    outside = ~((user >= problem.lb) & (user <= problem.ub)).all(axis=1)
    if outside.any():
        raise InputError("user start point outside the bounds", value=str(user[outside][0]))
    return user


def stored_run(store: str | Path | None, resume: bool) -> dict:
    """The metadata of the run a fit resumes: empty without ``resume`` or a stored run.

    Raises
    ------
    InputError
        The file is not a bngfit store, or a damaged one.
    """
    if not resume or store is None:
        return {}
    path = Path(store)
    if not path.is_file() or not path.stat().st_size:
        return {}
    with Store(path, readonly=True) as previous:
        return previous.run_meta() if previous.meta() else {}


def json_roundtrip(d: dict) -> dict:
    """The dict as it comes back from the store's JSON."""
    return json.loads(json.dumps(d))
