"""The simulation protocol of a BNGL template's actions, as ODE phases.

:func:`protocol` turns the actions :func:`bngfit.pybnf.bngl._template.parse_actions`
read into :class:`Phase` records (BioNetGen 2.9 semantics); :func:`phases_for_data`
says which phases a PyBNF data file is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bngfit.errors import InputError
from bngfit.files import too_many_points

from ._scan import Scan, scan_values
from ._template import NUMBER, Action

# ------------------------------------------------------------------------ protocol


@dataclass(frozen=True)
class Phase:
    """One ODE simulation of the protocol and the changes applied before it.

    Attributes
    ----------
    t_start, t_end : float
        Time span. ``t_start`` defaults to 0, or for a continuation to the
        previous ``t_end``; without ``n_steps``, ``t_end`` defaults to the
        largest sample time.
    sample_times : tuple of float or None
        Sorted ``sample_times`` (None when ``n_steps`` is used; BioNetGen lets
        ``n_steps`` win when both are given).
    n_steps : int or None
        Number of equal output intervals (default 1 without sample times).
    suffix : str or None
        Output suffix: PyBNF compares ``X.exp`` with the phase whose suffix is
        ``"X"``.
    continue_ : bool
        ``continue=>1``: time continues and output is appended to the file of
        the same suffix (see :func:`phases_for_data`).
    set_params : tuple of (str, float or str or None)
        ``setParameter`` actions before this phase, in order. A str value is a
        BNGL expression in model parameters (the parameter then stays that
        expression, as in BioNetGen); None (from ``resetParameters``) gives
        the parameter its model definition back.
    set_species : tuple of (str, float or str)
        ``setConcentration`` actions (species pattern, amount) before this
        phase, after the species reset (if any). As in BioNetGen, parameters
        in an expression take this phase's values, observables and functions
        their values at the end of the previous phase.
    line : int
        Template line of the simulate action.
    reset_to : int or None
        None: the phase starts from the state the previous one ended in (the
        first phase: the model's initial state). Else ``resetConcentrations``
        first resets the species (before ``set_species``) to a saved state:
        ``0`` is the model's initial state (its initial-condition expressions
        evaluated with this phase's parameters), ``j > 0`` the state phase
        ``j - 1`` ended in.
    steady_state : bool
        ``steady_state=>1``: BioNetGen stops at steady state and fails if it is
        not reached by ``t_end``.
    scan : Scan or None
        A ``parameter_scan``: one simulation per value of ``scan.parameter``
        (see :mod:`bngfit.pybnf.bngl._scan`), each from ``t_start`` to
        ``t_end`` (or to steady state), ``set_params`` / ``set_species``
        applied before the first. None: a ``simulate``.
    """

    t_start: float
    t_end: float
    sample_times: tuple[float, ...] | None
    n_steps: int | None
    suffix: str | None
    continue_: bool
    set_params: tuple[tuple[str, float | str | None], ...]
    set_species: tuple[tuple[str, float | str], ...]
    line: int
    reset_to: int | None = None
    steady_state: bool = False
    scan: Scan | None = None

    def output_times(self) -> tuple[float, ...]:
        """Times of the rows this phase writes (as BioNetGen 2.9's run_network).

        ``n_steps``: ``t_start + i (t_end - t_start) / n_steps``, i = 0..n_steps.
        ``sample_times``: ``t_start``, the sample times strictly between
        ``t_start`` and ``t_end`` (others are dropped), then ``t_end``. A
        continuation does not write its ``t_start`` row again.
        """
        if self.sample_times is None:
            assert self.n_steps is not None  # set by protocol()
            span = self.t_end - self.t_start
            times = [self.t_start + span * i / self.n_steps for i in range(self.n_steps)]
            times.append(self.t_end)
        else:
            inner = sorted({t for t in self.sample_times if self.t_start < t < self.t_end})
            times = [self.t_start, *inner, self.t_end]
        return tuple(times[1:] if self.continue_ else times)


def phases_for_data(phases: tuple[Phase, ...], name: str) -> tuple[int, ...]:
    """Indices of the phases whose output ends up in the data file ``name``.

    PyBNF pairs a data file ``X.exp`` with the simulate action of
    ``suffix=>"X"`` (https://pybnf.readthedocs.io, "Configuring a Fitting
    Job"). BioNetGen overwrites that output at each simulate with the suffix
    and appends to it with ``continue=>1``: the file holds the last phase with
    the suffix that does not continue, followed by the continuations after it.
    ``name`` may be given with or without ``.exp``. Empty if no phase matches.
    """
    suffix = name.removesuffix(".exp")
    out: list[int] = []
    for i, phase in enumerate(phases):
        if phase.suffix == suffix:
            out = [*out, i] if phase.continue_ else [i]
    return tuple(out)


_IGNORED = frozenset({
    "generate_network", "writexml", "writesbml", "writenet", "writenetwork", "writemodel",
    "writemfile", "writemexfile", "writematlab", "writebngl", "writefile", "writemdl",
    "writecpyfile", "writelatex", "visualize", "setmodelname", "setoutputdir", "version",
})
_ODE_ONLY = "bngfit is a deterministic ODE fitter"
_NOT_ODE = frozenset({"simulate_ssa", "simulate_nf", "simulate_pla", "simulate_psa"})
_UNREPRESENTABLE = {
    "bifurcate": "a bifurcation scan is a family of simulations, not one protocol",
    "linearparametersensitivity": "it writes finite-difference sensitivities, not a run",
    "simulate_protocol": "protocol blocks are not supported",
    "generate_hybrid_model": "hybrid (population) models are simulated stochastically",
    "addconcentration": "it adds to the current amount, which is not a set value",
    "readfile": "it loads another model", "readmodel": "it loads another model",
    "readnetwork": "it loads another network", "readsbml": "it loads another model",
    "setvolume": "it rescales a compartment", "substanceunits": "it changes units",
}
# simulate options that change the numbers in a way a Phase cannot carry
_REFUSED_OPTIONS = {
    "stop_if": "a stop condition", "print_on_stop": "a stop condition",
    "argfile": "arguments read from a file", "netfile": "another network file",
    "poplevel": "partitioned-leaping (stochastic) simulation",
}


#: An action argument's value as :class:`Action` holds it: a number (float), text
#: (str; an unquoted expression is a ``Bare`` str), an array (tuple) or a hash.
_ArgValue = float | str | tuple[object, ...] | Mapping[str, object]


def _number(value: _ArgValue, what: str, action: Action, file: str | None) -> float:
    """A float from a number or numeric text; refuse expressions and non-finite values."""
    try:
        x = float(value) if isinstance(value, float | str) else math.nan
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise InputError(f"{what} of {action.name} must be a finite number; bngfit does "
                         "not evaluate expressions here", file=file, row=action.line,
                         id=what, value=str(value))
    return x + 0.0  # -0 -> 0


def _text(value: _ArgValue) -> str:
    """A hash value as text (a bare ``1`` is read as the float 1.0: give back "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _amount(value: _ArgValue) -> _ArgValue:
    """A set value: numeric text as a float, anything else (an expression) as written."""
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


class _Builder:
    """Walks the actions, tracking model time, saved states and pending changes."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.phases: list[Phase] = []
        self.time = 0.0
        self.saved: dict[str, int] = {}
        self.params: list[tuple[str, float | str | None]] = []
        self.species: list[tuple[str, float | str]] = []
        self.reset: int | None = None
        # every parameter setting so far, and where each saveParameters was
        self.param_log: list[tuple[str, float | str | None]] = []
        self.param_saved: dict[str, int] = {}

    def refuse(self, action: Action, why: str) -> InputError:
        """The error refusing ``action`` (at its line), for the caller to raise."""
        return InputError(f"cannot use the action {action.name}: {why}", file=self.file,
                          row=action.line, id=action.name)

    def state_action(self, verb: str, a: Action) -> None:
        """Note a change for the next phase: a value set, or a state saved or restored."""
        k = len(self.phases)
        if verb == "setparameter":
            self.set_param(_text(a.args["name"]), _amount(a.args["value"]))
        elif verb == "saveparameters":
            self.param_saved[_text(a.args.get("label", "DEFAULT"))] = len(self.param_log)
        elif verb == "resetparameters":
            self.reset_params(a)
        elif verb == "setconcentration":
            self.species.append((_text(a.args["species"]), _amount(a.args["value"])))
        elif verb == "saveconcentrations":
            if self.species:
                raise self.refuse(a, "saving a state changed by setConcentration since the "
                                  "last simulate is not representable; save it before")
            self.saved[_text(a.args.get("label", "DEFAULT"))] = (
                k if self.reset is None else self.reset)
        else:  # resetconcentrations
            label = _text(a.args.get("label", "DEFAULT"))
            if label not in self.saved and label != "DEFAULT":
                raise self.refuse(a, f"no concentrations were saved as '{label}'")
            target = self.saved.get(label, 0)
            self.reset = None if target == k else target
            self.species = []  # the reset overwrites them

    def set_param(self, name: str, value: _ArgValue | None) -> None:
        """A parameter setting for the next phase (None: back to the model's value)."""
        self.params.append((name, value))
        self.param_log.append((name, value))

    def reset_params(self, a: Action) -> None:
        """``resetParameters``: every parameter set since the save takes its value then.

        That is its last setting before the save, or (set only after it) the
        model's own definition, written as None.
        """
        label = _text(a.args.get("label", "DEFAULT"))
        if label not in self.param_saved:
            raise self.refuse(a, f"no parameters were saved as '{label}' (saveParameters)")
        n = self.param_saved[label]
        before: dict[str, float | str | None] = {}
        for name, value in self.param_log[:n]:
            before[name] = value
        for name in dict.fromkeys(name for name, _ in self.param_log[n:]):
            self.set_param(name, before.get(name))

    def simulate(self, verb: str, a: Action) -> None:
        """Close the pending changes into the phase a simulate action runs."""
        self.check_ode(verb, a)
        cont = bool(_number(a.args.get("continue", 0.0), "continue", a, self.file))
        t_start, t_end, n_steps, sample_times = self.span(a, cont)
        self.phases.append(self.phase(a, t_start=t_start, t_end=t_end,
                                      sample_times=sample_times, n_steps=n_steps,
                                      continue_=cont))
        self.time, self.params, self.species, self.reset = t_end, [], [], None

    def span(self, a: Action, cont: bool
             ) -> tuple[float, float, int | None, tuple[float, ...] | None]:
        """``(t_start, t_end, n_steps, sample_times)`` of a simulation, checked."""
        t_start = self.start_time(a, cont)
        t_end, n_steps, sample_times = self.output_grid(a)
        if not t_end > t_start:
            raise self.refuse(a, f"t_end ({t_end:g}) must be greater than t_start "
                              f"({t_start:g})")
        return t_start, t_end, n_steps, sample_times

    def phase(self, a: Action, **span: Any) -> Phase:
        """The phase of simulation ``a`` over ``span``, with the changes pending."""
        suffix = a.args.get("suffix")
        return Phase(
            suffix=None if suffix is None else _text(suffix), set_params=tuple(self.params),
            set_species=tuple(self.species), line=a.line, reset_to=self.reset,
            steady_state=bool(_number(a.args.get("steady_state", 0.0), "steady_state", a,
                                      self.file)),
            **span)

    def scan(self, a: Action) -> None:
        """A ``parameter_scan``: a phase of one simulation per scanned value.

        The changes pending before it apply to its points. Afterwards, as in
        BioNetGen, the parameter keeps its last value (a pending change of the
        next phase) and, with ``reset_conc=>1``, the species are back where the
        scan started: pending species changes and resets stay pending.
        """
        self.check_ode("simulate", a)
        args = a.args
        if bool(_number(args.get("continue", 0.0), "continue", a, self.file)):
            raise self.refuse(a, "a parameter scan does not continue a simulation")
        if "parameter" not in args:
            raise self.refuse(a, "parameter_scan needs parameter=>\"NAME\"")
        name = _text(args["parameter"])
        scan = self.scan_points(a, name)
        t_start, t_end, _, _ = self.span(a, False)
        self.phases.append(self.phase(a, t_start=t_start, t_end=t_end, sample_times=None,
                                      n_steps=1, continue_=False, scan=scan))
        self.time = t_end
        self.params = []
        self.set_param(name, scan.values[-1])
        if not scan.reset_conc:
            self.species, self.reset = [], None

    def scan_points(self, a: Action, name: str) -> Scan:
        """The scan of ``parameter_scan`` action ``a`` (its values and options)."""
        args = a.args
        rng = {k: _number(args[k], k, a, self.file) if k in args else None
               for k in ("par_min", "par_max", "n_scan_pts")}
        log = bool(_number(args.get("log_scale", 0.0), "log_scale", a, self.file))
        vals = args.get("par_scan_vals")
        if vals is not None and not isinstance(vals, tuple):
            raise self.refuse(a, "par_scan_vals must be an array of numbers, as [1, 10, 100]")
        listed = None if vals is None else tuple(_number(v, "par_scan_vals", a, self.file)
                                                 for v in vals)
        n = rng["n_scan_pts"] if rng["n_scan_pts"] is not None else len(listed or ())
        too_many = too_many_points(n)
        if too_many:  # refused before the values are ever computed
            raise InputError(f"the scan {too_many}", file=self.file, row=a.line,
                             id="n_scan_pts", value=f"{n:g}")
        try:
            values = scan_values(rng["par_min"], rng["par_max"], rng["n_scan_pts"], log,
                                 listed)
        except ValueError as err:
            raise self.refuse(a, str(err)) from None
        if None in rng.values():
            how = f"par_scan_vals [{', '.join(f'{v:g}' for v in values)}]"
        else:
            how = (f"par_min {rng['par_min']:g}, par_max {rng['par_max']:g}, n_scan_pts "
                   f"{rng['n_scan_pts']:g}, log_scale {int(log)}")
        reset = bool(_number(args.get("reset_conc", 1.0), "reset_conc", a, self.file))
        return Scan(name, values, reset, how)

    def check_ode(self, verb: str, a: Action) -> None:
        """Refuse a simulation that is not an ODE run, or has options a phase cannot carry."""
        args = a.args
        if verb in _NOT_ODE:
            raise self.refuse(a, "it is a stochastic or network-free simulation; " + _ODE_ONLY)
        if verb == "simulate":
            method = _text(args.get("method", ""))
            if not method:
                raise self.refuse(a, 'simulate needs method=>"ode"')
            if method.lower() not in ("ode", "cvode") or "poplevel" in args:
                raise self.refuse(a, f"method '{method}' is not ode; {_ODE_ONLY}")
        for key, what in _REFUSED_OPTIONS.items():
            if key in args:
                raise self.refuse(a, f"option {key} ({what}) is not supported")

    def start_time(self, a: Action, cont: bool) -> float:
        """The start: ``t_start``, else 0 or (continuing) the current time, which a
        continuation's ``t_start`` must equal.
        """
        t_start = self.time if cont else 0.0
        if "t_start" in a.args:
            t_start = _number(a.args["t_start"], "t_start", a, self.file)
            if cont and abs(t_start - self.time) > 1e-12 * max(1.0, abs(self.time)):
                raise self.refuse(a, f"a continuation must start at the current time "
                                  f"{self.time:g}, not t_start={t_start:g}")
        return t_start

    def output_grid(self, a: Action) -> tuple[float, int | None, tuple[float, ...] | None]:
        """``(t_end, n_steps, sample_times)``: equal steps win over sample times.

        Without sample times the grid is ``n_steps`` (default 1) equal steps up
        to ``t_end``; with them (3 or more), ``t_end`` defaults to the last one.
        """
        args = a.args
        if "n_steps" in args and "n_output_steps" in args:
            raise self.refuse(a, "n_steps and n_output_steps are the same; give one")
        steps = args.get("n_steps", args.get("n_output_steps"))
        samples = args.get("sample_times")
        if steps is not None or samples is None:
            if "t_end" not in args:
                raise self.refuse(a, "t_end is needed without sample_times")
            t_end = _number(args["t_end"], "t_end", a, self.file)
            n = _number(1.0 if steps is None else steps, "n_steps", a, self.file)
            if n < 1 or not n.is_integer():
                raise self.refuse(a, f"n_steps must be a positive integer, not {n:g}")
            too_many = too_many_points(n + 1)
            if too_many:  # refused before a grid of that size is ever built
                raise InputError(f"n_steps of {a.name} {too_many}", file=self.file,
                                 row=a.line, id="n_steps", value=f"{n:g}")
            return t_end, int(n), None
        if not isinstance(samples, tuple) or len(samples) < 3:
            raise self.refuse(a, "sample_times must be an array of 3 or more times")
        sample_times = tuple(sorted(_number(s, "sample_times", a, self.file)
                                    for s in samples))
        t_end = (_number(args["t_end"], "t_end", a, self.file) if "t_end" in args
                 else sample_times[-1])
        return t_end, None, sample_times


def protocol(actions: tuple[Action, ...], *, file: str | None = None) -> tuple[Phase, ...]:
    """The simulation protocol of the actions, as ODE phases run in order.

    BioNetGen semantics (2.9): each ``simulate`` starts from the species state
    the previous one ended in (the model's initial state for the first) --
    equilibration then stimulus is two phases. ``setParameter`` and
    ``setConcentration`` apply to the next simulation and are collected into
    its phase; ``saveConcentrations``/``resetConcentrations`` are resolved into
    :attr:`Phase.reset_to`. Which phase is measured: see
    :func:`phases_for_data` (PyBNF's rule, data file ``X.exp`` <-> ``suffix=>"X"``);
    which rows: :meth:`Phase.output_times`. Changes after the last simulation
    have no effect and are dropped; ``quit()`` ends the protocol. Output and
    network-generation actions (``generate_network``, ``writeSBML``, ...) are
    ignored, as is ``setOption`` before any simulation (it belongs to network
    generation, done when the model loads). Simulate options that only shape
    output files or the solver (``print_functions``, ``atol``, ...) are
    ignored.

    Raises
    ------
    InputError
        Naming the action's line, for a non-ODE simulation (bngfit is a
        deterministic ODE fitter), an action whose effect a phase cannot
        carry (``bifurcate``, ``addConcentration``, ``readFile``,
        ``setOption`` after a simulation, unknown verbs, ...), or invalid
        times (``t_end <= t_start``, fewer than 3 sample times, expressions).
    """
    b = _Builder(file)
    for a in actions:
        verb = a.name.lower()
        if verb == "quit":
            break
        if verb in _IGNORED or (verb == "setoption" and not b.phases):
            continue
        if verb in ("setparameter", "setconcentration", "saveconcentrations",
                    "resetconcentrations", "saveparameters", "resetparameters"):
            b.state_action(verb, a)
        elif verb in ("simulate", "simulate_ode") or verb in _NOT_ODE:
            b.simulate(verb, a)
        elif verb == "parameter_scan":
            b.scan(a)
        elif verb == "setoption":
            raise b.refuse(a, "setOption after a simulation changes the model mid-protocol")
        elif verb in _UNREPRESENTABLE:
            raise b.refuse(a, _UNREPRESENTABLE[verb])
        else:
            raise b.refuse(a, "unknown action (not a BioNetGen 2.9 action bngfit can run)")
    return tuple(b.phases)
