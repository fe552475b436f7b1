"""The vocabulary of PyBNF configuration keys, in four tables.

- ``STRUCTURE_KEYS``: keys read into structured fields of
  :class:`~bngfit.pybnf.conf._entries.PybnfConfig` (models, parameters, ...).
- :data:`RUN_KEYS`: settings recorded with a checked value in
  ``PybnfConfig.settings``; the builder decides what each means for bngfit.
- :data:`IGNORED_KEYS`: PyBNF keys that tune PyBNF's own algorithms, output
  or cluster; recorded (as text) in ``settings`` and reported, with the reason
  they have no effect in a gradient-based fitter, in the one warning of
  settings not used (:mod:`bngfit.pybnf.build._settings`, which decides every
  run key too).
- :data:`UNSUPPORTED_MATH_KEYS`: keys that change the mathematics of the
  objective (what is simulated or how it is scored). Recorded; whether each is
  supported is the builder's decision (see
  :func:`bngfit.pybnf.conf._support.check_supported`). A key at its ``neutral`` value
  changes nothing and is never reported.

Any other key is unknown: it is reported in one warning and not recorded.
Keys are matched without regard to case and recorded in lower case.
"""

from __future__ import annotations

from dataclasses import dataclass

from bngfit.files import parse_float, parse_int

#: The parameter keys of a configuration.
VAR_KEYS = ("uniform_var", "loguniform_var", "normal_var", "lognormal_var", "var", "logvar")
#: How a BNGL template marks a fitted value.
BNGL_FREE_SUFFIX = "__FREE"

#: Legacy keys parsed into structured fields (not into ``settings``).
STRUCTURE_KEYS = frozenset({
    "model", "mutant", "uniform_var", "loguniform_var", "normal_var", "lognormal_var",
    "var", "logvar", "objfunc", "normalization", "time_course", "param_scan",
    "noise_model", "edition",
})

#: Keys of the legacy syntax refused in edition 2, with what replaces each. PyBNF
#: keeps ``*_var`` and ``noise_model [OBS] = ...`` in edition 2 (its tutorials use
#: them), so they are not here.
LEGACY_ONLY_KEYS = {
    "model": "model: FILE and experiment: NAME, data: FILE records",
    "mutant": "condition: NAME, perturbations: ... records",
    "objfunc": "objective = NAME (or a whole-fit noise_model)",
    "fit_type": "job_type = NAME",
    "time_course": "experiment: records (simulation times come from the data)",
    "param_scan": "experiment: records with type: parameter_scan and t_end",
}

#: Prior families of PyBNF's ``*_var`` keys (and ``parameter:`` records) that bngfit
#: does not read: each would need its own start distribution and a finite box.
OTHER_PRIOR_FAMILIES = (
    "laplace", "cauchy", "gumbel", "logistic", "gamma", "inv_gamma", "weibull", "beta",
    "exponential", "chisquare", "rayleigh", "half_normal", "half_cauchy", "student_t")

#: PyBNF's fitting algorithms (``fit_type``; edition 2: ``job_type``).
FIT_TYPES = ("de", "ade", "ss", "pso", "mh", "bmc", "sim", "powell", "cmaes", "sa", "pt", "am",
             "dream", "p_dream", "check", "trf", "lbfgs", "gntr", "profile_likelihood",
             "hmc")


@dataclass(frozen=True)
class KeySpec:
    """How a setting's value is read, and what it means.

    Attributes
    ----------
    kind : str
        ``int``, ``float``, ``str`` (one word), ``text`` (the rest of the line)
        or ``choice`` (one of ``choices``).
    help : str
        What the key does (for a math key: how it changes the objective).
    choices : tuple of str
    minimum : float or None
        Smallest allowed value of an ``int`` or ``float``.
    neutral : object
        For :data:`UNSUPPORTED_MATH_KEYS`: the value that changes nothing
        (None: every value changes the mathematics).
    """

    kind: str
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    neutral: object = None


#: Settings recorded with a checked value; the builder decides what they mean.
RUN_KEYS: dict[str, KeySpec] = {
    "fit_type": KeySpec("choice", "PyBNF's algorithm; bngfit runs its own optimizers",
                        FIT_TYPES),
    "population_size": KeySpec("int", "population of PyBNF's algorithm", minimum=1),
    "max_iterations": KeySpec("int", "iteration budget of PyBNF's algorithm", minimum=1),
    "trf_max_iterations": KeySpec("int", "iteration budget of fit_type trf", minimum=1),
    "lbfgs_max_iterations": KeySpec("int", "iteration budget of fit_type lbfgs", minimum=1),
    "gntr_max_iterations": KeySpec("int", "iteration budget of fit_type gntr", minimum=1),
    "num_to_output": KeySpec("int", "rows of PyBNF's sorted parameter table", minimum=1),
    "output_dir": KeySpec("text", "folder for results"),
    "simulation_dir": KeySpec("text", "folder for simulation output"),
    "bng_command": KeySpec("text", "path of BNG2.pl"),
    "verbosity": KeySpec("int", "amount of terminal output (0, 1, 2)", minimum=0),
    "delete_old_files": KeySpec("int", "which simulation files to delete (0, 1, 2)",
                                minimum=0),
    "initialization": KeySpec("choice", "how start points are spread", ("rand", "lh")),
    "initialization_distribution": KeySpec("choice", "where start points are drawn from",
                                           ("prior", "bounds")),
    "parallel_count": KeySpec("int", "number of parallel jobs", minimum=1),
    "wall_time_sim": KeySpec("float", "time limit of one simulation, s", minimum=0),
    "wall_time_gen": KeySpec("float", "time limit of network generation, s", minimum=0),
    "wall_time_fit": KeySpec("float", "time budget of the whole fit, s (0: none)", minimum=0),
    "random_seed": KeySpec("int", "seed of the random start points", minimum=0),
    "neg_bin_r": KeySpec("float", "r of the neg_bin objective", minimum=0),
    "constraint_scale": KeySpec("float", "multiplies the weight of every .prop constraint "
                                "(static penalties; PyBNF's constraint.py)", minimum=0),
    "ind_var_rounding": KeySpec("choice", "1: each data time is compared with the nearest "
                                "simulated time", ("0", "1")),
    "noise_location": KeySpec("choice", "whether the prediction is the noise's mean or "
                              "median", ("mean", "median")),
    # bootstrap: refits to resampled data after the fit (bngfit.optimize._bootstrap)
    "bootstrap": KeySpec("int", "refits resampled data to estimate confidence intervals",
                         minimum=0),
    "bootstrap_max_obj": KeySpec("float", "acceptance threshold of bootstrap replicates "
                                 "(PyBNF's objective value)"),
}

_SIMPLEX = "Nelder-Mead simplex tuning; bngfit's optimizers use exact gradients"
_POWELL = "Powell search tuning; bngfit's optimizers use exact gradients"
_CMAES = "CMA-ES tuning; bngfit's optimizers use exact gradients"
_DE = "differential evolution tuning; bngfit's optimizers use exact gradients"
_SS = "scatter search tuning; bngfit's optimizers use exact gradients"
_PSO = "particle swarm tuning; bngfit's optimizers use exact gradients"
_MCMC = "Bayesian sampling / annealing tuning; bngfit computes point estimates"
_DREAM = "DREAM sampler tuning; bngfit computes point estimates"
_REFINE = "local refinement after a global search; bngfit's local optimizers converge anyway"
_CLUSTER = "PyBNF's parallel / cluster set-up; bngfit uses its own executors"
_OUTPUT = "PyBNF's output files"
_STOP = "PyBNF's stopping rule; bngfit's optimizers have their own tolerances"

#: PyBNF keys with no effect in bngfit, with the reason.
IGNORED_KEYS: dict[str, str] = {
    **dict.fromkeys(("simplex_step", "simplex_log_step", "simplex_reflection",
                     "simplex_expansion", "simplex_contraction", "simplex_shrink",
                     "simplex_max_iterations", "simplex_stop_tol"), _SIMPLEX),
    **dict.fromkeys(("powell_step", "powell_line_tol", "powell_stop_tol",
                     "powell_max_iterations"), _POWELL),
    **dict.fromkeys(("cmaes_sigma0", "cmaes_stop_tol"), _CMAES),
    **dict.fromkeys(("mutation_rate", "mutation_factor", "stop_tolerance", "de_strategy",
                     "islands", "migrate_every", "num_to_migrate"), _DE),
    **dict.fromkeys(("init_size", "local_min_limit", "reserve_size"), _SS),
    **dict.fromkeys(("cognitive", "social", "particle_weight", "particle_weight_final",
                     "adaptive_n_max", "adaptive_n_stop", "adaptive_abs_tol",
                     "adaptive_rel_tol", "v_stop"), _PSO),
    **dict.fromkeys(("step_size", "beta", "sample_every", "burn_in", "output_hist_every",
                     "hist_bins", "credible_intervals", "beta_max", "cooling",
                     "exchange_every", "reps_per_beta", "beta_range", "stablizingcov",
                     "adaptive", "continue_run", "calculate_covari", "starting_params"),
                    _MCMC),
    **dict.fromkeys(("crossover_number", "zeta", "lambda", "gamma_prob", "archive_size",
                     "archive_thin_rate", "snooker_prob", "delta", "outlier_method",
                     "rhat_threshold", "diagnostics_every"), _DREAM),
    **dict.fromkeys(("refine", "refine_method"), _REFINE),
    **dict.fromkeys(("cluster_type", "scheduler_file", "scheduler_node", "worker_nodes",
                     "parallelize_models", "local_objective_eval", "job_name"), _CLUSTER),
    **dict.fromkeys(("output_every", "output_trajectory", "output_noise_trajectory"), _OUTPUT),
    "save_best_data": "PyBNF's best-fit simulation files; bngfit simulate --point STORE "
                      "writes the best fit's simulation table",
    **dict.fromkeys(("min_objective", "max_failed_simulations"), _STOP),
    "stochastic_seed": "seeds of stochastic simulators; bngfit simulates ODEs",
    "bngl_backend": "PyBNF's choice of BNGL simulator; bngfit always uses bngsim",
    **dict.fromkeys(("sbml_backend", "sbml_rtol", "sbml_atol"),
                    "PyBNF's SBML simulator settings; bngfit uses bngsim with its own "
                    "tolerances"),
    **dict.fromkeys(("trf_grad_tol", "trf_step_tol", "lbfgs_grad_tol", "lbfgs_step_tol",
                     "lbfgs_history", "lbfgs_c1", "lbfgs_backtrack", "gntr_grad_tol",
                     "gntr_step_tol", "gntr_ridge", "cmaes_restarts", "cmaes_restart_strategy",
                     "cmaes_ipop_factor", "cmaes_run_maxgen"),
                    "tuning of PyBNF's own optimizers; bngfit's stop on their own tolerances "
                    "(optimizer_opts of bngfit.fit)"),
    # PyBNF's n_starts repeats a whole metaheuristic run; bngfit's starts are
    # independent local runs already, counted by population_size
    "n_starts": "independent repeats of PyBNF's population search (de, ss, pso, ade); "
                "bngfit's starts are independent already and population_size counts them",
    **dict.fromkeys(("embed_best_fit_data", "smooth_plot_points", "output_inference_data",
                     "backup_every"), _OUTPUT),
}

#: Keys that change what is simulated or how it is scored.
UNSUPPORTED_MATH_KEYS: dict[str, KeySpec] = {
    "smoothing": KeySpec("int", "averages several stochastic simulations per evaluation",
                         minimum=1, neutral=1),
    "postprocess": KeySpec("text", "a Python script transforms simulation results"),
    "sbml_integrator": KeySpec("choice", "integrators other than CVODE change the "
                               "trajectories (gillespie is stochastic)",
                               ("cvode", "rk4", "gillespie", "euler"), neutral="cvode"),
    "profile_objective": KeySpec("choice", "scores whole columns (kl, wasserstein) instead "
                                 "of points", ("kl", "wasserstein")),
    "qualitative_loss": KeySpec("choice", "one penalty family for every .prop constraint "
                                "instead of each constraint's own", ("auto", "hinge",
                                                                     "probit", "logit"),
                                neutral="auto"),
    "qualitative_scale": KeySpec("text", "a fitted scale of every .prop constraint"),
    "generate_network": KeySpec("text", "caps the reaction network the model generates"),
    "expression": KeySpec("text", "a written log-density replaces the model and data"),
    "callable": KeySpec("text", "a Python function replaces the model and data"),
    "data": KeySpec("text", "data for a Python objective function (objective = callable)"),
}


def known_key(key: str) -> bool:
    """True if ``key`` (lower case) is any key of the four tables."""
    return (key in STRUCTURE_KEYS or key in RUN_KEYS or key in IGNORED_KEYS
            or key in UNSUPPORTED_MATH_KEYS)


def parse_setting(spec: KeySpec, text: str) -> object:
    """The value of a setting written as ``text``, read as ``spec`` says.

    Returns
    -------
    int, float or str

    Raises
    ------
    ValueError
        With a message saying what was expected.
    """
    text = text.strip()
    if not text:
        raise ValueError("the value is empty")
    if spec.kind == "text":
        return text
    if spec.kind == "choice":
        if text.lower() not in spec.choices:
            raise ValueError(f"use one of {', '.join(spec.choices)}")
        return text.lower()
    if spec.kind == "str":
        if len(text.split()) != 1:
            raise ValueError("expected one word")
        return text
    try:
        number: int | float = parse_int(text) if spec.kind == "int" else parse_float(text)
    except ValueError:
        raise ValueError("expected an integer" if spec.kind == "int" else
                         "expected a number") from None
    if spec.kind == "float" and number != number:  # NaN
        raise ValueError("expected a number")
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum:g}")
    return number
