"""A PyBNF job's run settings as a :class:`~bngfit.problem.FitRequest`; those not used.

PyBNF configurations carry how they want to be run (``fit_type``,
``population_size``, ``random_seed``, ...). Each key gets one of three
decisions here, made once for both editions (:func:`fit_request`):

- **mapped** onto a bngfit setting of the request (:data:`GRADIENT_METHODS`,
  ``population_size``, ``initialization``, ``random_seed``, ``parallel_count``,
  the iteration budgets, ``output_dir``, ``num_to_output``, ``wall_time_fit``);
- **not used**, with the reason: PyBNF's own algorithms, output and cluster
  (:data:`~bngfit.pybnf.conf._keys.IGNORED_KEYS`, :data:`NO_COUNTERPART`,
  :data:`UNUSED_RUN_KEYS`); all listed in one warning when the problem is read
  (:func:`unused_issue`), so every command shows it once;
- **read elsewhere**: keys that change the objective (``neg_bin_r``,
  ``noise_location``, the math keys the builder refuses or supports) and the
  bootstrap keys, which the bootstrap request reads.

Command-line options and API arguments beat a request, a request beats the
library's defaults (:meth:`bngfit.optimize.FitSettings.resolve`).
"""

from __future__ import annotations

from pathlib import Path

from bngfit.errors import InputError, Issue
from bngfit.problem._request import FitRequest
from bngfit.problem._sampling import Sampler
from bngfit.pybnf.conf._entries import ParamKind, PybnfConfig
from bngfit.pybnf.conf._keys import IGNORED_KEYS

#: PyBNF's gradient methods and the bngfit optimizer of the same kind. TRF on
#: the residuals is scipy's least_squares (where the objective has no residual
#: form the fit runs the default, fides, and says so); L-BFGS-B is lbfgsb; a
#: Gauss-Newton trust region is fides with its Gauss-Newton Hessian.
GRADIENT_METHODS = {
    "trf": "least_squares",
    "lbfgs": "lbfgsb",
    "gntr": "fides",
}

#: PyBNF's other fit types, each with why bngfit has nothing of its kind (it fits
#: by gradient multistart with its default optimizer instead).
NO_COUNTERPART = {
    **dict.fromkeys(("de", "ade"), "differential evolution, a derivative-free population "
                                   "search"),
    "pso": "particle swarm, a derivative-free population search",
    "ss": "scatter search, a derivative-free population search",
    "cmaes": "CMA-ES, a derivative-free evolution strategy",
    "sim": "Nelder-Mead simplex, a derivative-free local search",
    "powell": "Powell's method, a derivative-free local search",
    **dict.fromkeys(("mh", "bmc", "pt", "am", "dream", "p_dream", "hmc"),
                    "a Bayesian sampler; bngfit computes point estimates"),
    "sa": "simulated annealing, a stochastic search",
    "check": "PyBNF's model check scores the model without fitting (bngfit evaluate "
             "does that)",
    "profile_likelihood": "profile likelihoods; bngfit computes point estimates",
}

#: Run keys with no bngfit counterpart, with the reason.
UNUSED_RUN_KEYS = {
    "simulation_dir": "bngfit writes no simulation files",
    "delete_old_files": "bngfit writes no simulation folders and only the final results",
    "bng_command": "bngfit finds BNG2.pl through bngsim (the BNGPATH environment variable)",
    "verbosity": "bngfit's terminal output is set by --no-progress, --json and --debug",
    "wall_time_sim": "bngfit has no time limit per simulation (--max-start-time limits a "
                     "whole start)",
    "wall_time_gen": "bngfit sets no time limit on network generation",
}

#: Run keys read by other parts of the reader (the objective; the bootstrap).
READ_ELSEWHERE = frozenset({"neg_bin_r", "noise_location", "bootstrap", "bootstrap_max_obj",
                            "constraint_scale", "ind_var_rounding"})

#: PyBNF's ``initialization`` and the start sampler of the same kind.
SAMPLERS = {"rand": Sampler.UNIFORM.value, "lh": Sampler.LHS.value}

#: The largest seed and number of starts a request may ask for (seeds are stored
#: as 64-bit signed integers; the command line's own limit of starts).
MAX_SEED = 2**63 - 1
MAX_STARTS = 1_000_000

_METHOD_KEYS = ("fit_type", "job_type")


def fit_request(config: PybnfConfig) -> FitRequest:
    """The run settings a PyBNF configuration asks for (see the module doc).

    Raises
    ------
    InputError
        A ``random_seed`` above 2**63-1 or a ``population_size`` above
        :data:`MAX_STARTS` (file, line, key and value named).
    """
    s = _Reading(config)
    unused = sorted(s.unused, key=lambda u: u[2])
    return FitRequest(**s.fields, unused=tuple(f"{k} = {v} ({why})" for k, v, _, why in unused),
                      source_line=tuple((k, line) for k, (_, line) in config.settings.items()),
                      origin=tuple(s.origin))


def unused_issue(config: PybnfConfig) -> Issue | None:
    """One warning listing the settings of ``config`` that bngfit does not use.

    Settings with the same reason are listed together, each with its line;
    None when every setting is used.
    """
    groups: dict[str, list[str]] = {}
    for key, value, line, why in sorted(_Reading(config).unused, key=lambda u: u[2]):
        groups.setdefault(why, []).append(f"{key} = {value} (line {line})")
    if not groups:
        return None
    parts = [f"{', '.join(items)}: {why}" for why, items in groups.items()]
    return Issue("warning", "PyBNF settings not used: " + "; ".join(parts), config.path)


class _Reading:
    """The settings of one configuration, each decided once: mapped, unused or elsewhere."""

    def __init__(self, config: PybnfConfig) -> None:
        self.config = config
        #: (key, value as text, line, why) of each setting not used
        self.unused: list[tuple[str, str, int, str]] = []
        #: (request field, what asked for it), see FitRequest.origin
        self.origin: list[tuple[str, str]] = []
        #: keys decided here (READ_ELSEWHERE are not: an IGNORED_KEYS one is listed)
        self.decided: set[str] = set()
        method = self.method()
        self.fields: dict[str, object] = {
            "optimizer": self.optimizer(method),
            "n_starts": self.number("population_size", "n_starts", MAX_STARTS,
                                    "more starts than bngfit runs"),
            "seed": self.number("random_seed", "seed", MAX_SEED, "seeds run from 0 to 2**63-1"),
            "max_iterations": self.iterations(method),
            "sampler": self.sampler(),
            "workers": self.take("parallel_count", "workers"),
            "table_rows": self.take("num_to_output", "table_rows"),
            "output_dir": self.output_dir(),
            "max_time": self.take("wall_time_fit", "max_time") or None,  # 0: no budget
        }
        self.initial_distribution()
        self.rest()

    # -------------------------------------------------------------- helpers
    def get(self, key: str) -> tuple[object, int] | None:
        """(value, line) of a setting, or None."""
        return self.config.settings.get(key)

    def not_used(self, key: str, why: str) -> None:
        """List ``key`` (when set) as not used, for ``why``."""
        self.decided.add(key)
        entry = self.get(key)
        if entry is not None:
            self.unused.append((key, str(entry[0]), entry[1], why))

    def take(self, key: str, field: str) -> object:
        """The value of ``key`` for the request's ``field`` (None when not set)."""
        self.decided.add(key)
        entry = self.get(key)
        if entry is None:
            return None
        self.origin.append((field, f"{key} = {entry[0]}"))
        return entry[0]

    def number(self, key: str, field: str, most: int, why: str) -> object:
        """Like :meth:`take`, refusing a value above ``most``."""
        value = self.take(key, field)
        if value is not None and int(value) > most:
            raise InputError(f"{why}: at most {most}", file=self.config.path,
                             row=self.get(key)[1], id=key, value=str(value))
        return value

    # ------------------------------------------------------------- decisions
    def method(self) -> tuple[str, str] | None:
        """(key, value) of the job's algorithm (``fit_type``; edition 2 ``job_type``)."""
        for key in _METHOD_KEYS:
            self.decided.add(key)
            entry = self.get(key)
            if entry is not None:
                return key, str(entry[0])
        return None

    def optimizer(self, method: tuple[str, str] | None) -> str | None:
        """The bngfit optimizer of the job's algorithm; its origin, or why there is none."""
        if method is None:
            return None
        key, name = method
        if name in GRADIENT_METHODS:
            self.origin.append(("optimizer", f"{key} = {name}"))
            return GRADIENT_METHODS[name]
        self.origin.append(("optimizer", f"{key} = {name}: no gradient method of that kind"))
        self.not_used(key, f"{NO_COUNTERPART[name]}; bngfit fits by gradient multistart with "
                           "its default optimizer")
        return None

    def iterations(self, method: tuple[str, str] | None) -> object:
        """Iterations of each local run: the gradient method's own, else ``max_iterations``.

        PyBNF's ``trf_max_iterations`` (``lbfgs_``, ``gntr_``) defaults to
        ``max_iterations``. For its other algorithms ``max_iterations`` counts
        generations or samples, not iterations of a local run: not used.
        """
        name = method[1] if method is not None else None
        own = f"{name}_max_iterations"
        for other in GRADIENT_METHODS:
            if other != name:
                self.not_used(f"{other}_max_iterations", f"the budget of fit_type {other}")
        if name not in GRADIENT_METHODS:
            self.not_used("max_iterations", "it counts the iterations (generations, samples) "
                                            "of PyBNF's algorithm, which bngfit does not run")
            return None
        if self.get(own) is not None:
            self.not_used("max_iterations", f"{own} takes its place, as in PyBNF")
            return self.take(own, "max_iterations")
        return self.take("max_iterations", "max_iterations")

    def sampler(self) -> str | None:
        """The start sampler of ``initialization`` (``lh``: Latin hypercube)."""
        value = self.take("initialization", "sampler")
        return None if value is None else SAMPLERS[str(value)]

    def initial_distribution(self) -> None:
        """``initialization_distribution``: ``prior`` is what bngfit does; ``bounds``
        is too unless a parameter has a start distribution of its own.
        """
        self.decided.add("initialization_distribution")
        entry = self.get("initialization_distribution")
        own = [p.name for p in self.config.parameters
               if p.kind not in (ParamKind.UNIFORM, ParamKind.LOGUNIFORM)]
        if entry is not None and entry[0] == "bounds" and own:
            self.not_used("initialization_distribution",
                          f"bngfit draws the starts of {', '.join(own)} from their "
                          "distributions")

    def output_dir(self) -> Path | None:
        """``output_dir``, relative to the configuration's folder (as its other paths)."""
        value = self.take("output_dir", "output_dir")
        if value is None:
            return None
        return (Path(self.config.path).parent / str(value)).resolve()

    def rest(self) -> None:
        """Every other setting: PyBNF's own tuning, output and cluster keys; none used."""
        for key, why in UNUSED_RUN_KEYS.items():
            self.not_used(key, why)
        for key in self.config.settings:
            if key not in self.decided and key in IGNORED_KEYS:
                self.not_used(key, IGNORED_KEYS[key])
