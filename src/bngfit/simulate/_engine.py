"""The one module that talks to bngsim.

It loads a model, and runs one experimental condition (optionally preceded by a
pre-equilibration phase) at a set of sample times, returning plain arrays: the
requested outputs and, with sensitivities, their total derivatives with respect
to the free parameters theta (native values). The chain from model parameters
and initial conditions to theta is applied here, from Jacobians the caller
supplies, because only here are the per-phase sensitivity matrices at hand.

bngsim objects cannot be pickled: an :class:`Engine` pickles as its model path
and rebuilds the model lazily in the receiving process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bngfit.errors import InputError, SimulationFailure

from ._models import (  # noqa: F401 - loading lives there, names stay importable here
    MODEL_SUFFIXES,
    ModelInfo,
    _info_of,
    _load_bngsim_model,
    read_model_info,
)

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class SolverSettings:
    """ODE solver settings shared by every run of an objective.

    Attributes
    ----------
    rtol, atol : float
        CVODE relative and absolute tolerances.
    preeq_tmax : float
        Time horizon (model time units) for pre-equilibration.
    preeq_rtol, preeq_atol : float
        Steady-state test: states (and sensitivities) must change by less than
        ``atol + rtol*|value|`` over the last stretch of the horizon.
    timeout : float or None
        Wall-clock budget of one run, in seconds.
    """

    rtol: float = 1e-8
    atol: float = 1e-10
    preeq_tmax: float = 1e6
    preeq_rtol: float = 1e-6
    preeq_atol: float = 1e-8
    timeout: float | None = 600.0


@dataclass
class PhaseInput:
    """Values for one phase of a condition at one point theta.

    Attributes
    ----------
    params : dict
        Model parameter (and compartment) values to write, native.
    species : dict
        Species whose initial value is set (after reset, or after
        pre-equilibration for the main phase), native.
    param_jac : ndarray, shape (n_sens, n_theta)
        d param / d theta for the sensitivity parameters of the run, in order.
    species_jac : dict
        d species0 / d theta, shape (n_theta,), for the species in ``species``
        whose value depends on theta.
    duration : float or None
        For a pre-equilibration phase: None runs it to steady state (checked),
        a number runs it for that long, model time units.
    param_cols : ndarray of int, shape (n_sens,), or None
        Set where ``param_jac`` is a selection of distinct columns (row i is
        the unit vector of column ``param_cols[i]``): the chain rule is then a
        scatter, not a product.
    """

    params: dict[str, float]
    species: dict[str, float]
    param_jac: np.ndarray
    species_jac: dict[str, np.ndarray]
    duration: float | None = None
    param_cols: np.ndarray | None = None


def sample_grid(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample times for bngsim and the row of each requested time.

    bngsim integrates from the first sample time, so t=0 is always prepended;
    it needs two points at least.

    Returns
    -------
    grid : ndarray, shape (n_grid,)
    rows : ndarray of int, shape (len(times),)
    """
    uniq = np.unique(np.concatenate([[0.0], np.asarray(times, dtype=float)]))
    if uniq.size < 2:
        uniq = np.array([0.0, 1e-6])
    rows = np.searchsorted(uniq, times)
    return uniq, rows


def _plain_simulator(model):
    """A Simulator without sensitivities, on compiled RHS code where possible.

    Compiled code (the same cached artifact a sensitivity Simulator builds) is
    faster than bngsim's expression evaluator even for small models, and makes
    plain runs independent of whether a sensitivity Simulator was built first
    (which otherwise hands its compiled code to later Simulators).
    """
    import bngsim

    try:
        return bngsim.Simulator(model, codegen=True)
    except (RuntimeError, OSError, ValueError) as err:  # no compiler, unsupported model
        log.debug("compiled RHS unavailable, using bngsim's evaluator: %s", err)
        return bngsim.Simulator(model)


_PRE_ENDS_KEPT = 16  # distinct pre-phase chains an engine keeps within one point


def _pre_key(pre: tuple[PhaseInput, ...], sens_params: tuple[str, ...] | None) -> tuple:
    """What determines where a chain of pre-phases ends (and its dx/dtheta)."""
    def phase_key(p: PhaseInput) -> tuple:
        return (tuple(p.params.items()), tuple(p.species.items()), p.duration,
                p.param_jac.shape, p.param_jac.tobytes(),
                tuple((k, np.asarray(v).tobytes()) for k, v in p.species_jac.items()))
    return (sens_params, tuple(phase_key(p) for p in pre))


class Engine:
    """Runs conditions of one model with bngsim.

    Parameters
    ----------
    path : str or Path
        The model file.
    settings : SolverSettings
    """

    def __init__(self, path: str | Path, settings: SolverSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or SolverSettings()
        self._model = None
        self._sims: dict = {}
        self._info: ModelInfo | None = None
        s = self.settings
        self._run_opts = {"rtol": s.rtol, "atol": s.atol, "timeout": s.timeout}
        self._preeq_times = [0.0, *np.logspace(-3, np.log10(s.preeq_tmax), 61).tolist()]
        self._species_sel: list[str] | None = None
        # End states of the pre-phase chains run at the current point (see new_point).
        self._pre_ends: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
        self._share_pre = True

    def __getstate__(self) -> dict:
        return {"path": self.path, "settings": self.settings}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["settings"])

    @property
    def info(self) -> ModelInfo:
        """Names of the model (loads it on first use)."""
        self._ensure_model()
        return self._info

    def _ensure_model(self):
        if self._model is None:
            self._model = _load_bngsim_model(self.path)
            self._info = _info_of(self.path, self._model)
        return self._model

    def _simulator(self, sens: tuple[str, ...] | None, ic: tuple[str, ...] = ()):
        import bngsim

        key = (sens, ic)
        sim = self._sims.get(key)
        if sim is None:
            model = self._ensure_model()
            if sens is None:
                sim = _plain_simulator(model)
            else:
                try:
                    sim = bngsim.Simulator(
                        model, sensitivity_params=list(sens), sensitivity_ic=list(ic) or None
                    )
                except (bngsim.SensitivityUnsupportedError, bngsim.ModelError):
                    raise  # callers decide (e.g. shared pre-equilibration falls back)
                except (RuntimeError, ValueError, OSError) as err:
                    # bngsim generates and compiles C code here; a model it cannot
                    # translate (or no compiler) is the model's or the machine's
                    # problem, said once, not an internal error of bngfit
                    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    raise InputError(f"bngsim cannot build the sensitivity code of this "
                                     f"model: {first[:300]}", file=str(self.path)) from None
            self._sims[key] = sim
        return sim

    # ------------------------------------------------------------------ runs
    def run(
        self,
        outputs: tuple[str, ...],
        grid: tuple[float, ...],
        main: PhaseInput,
        pre: tuple[PhaseInput, ...],
        sens_params: tuple[str, ...],
        n_theta: int,
        sensi: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Simulate one condition, after its pre-phases.

        Parameters
        ----------
        outputs : tuple of str
            Typed selectors (``species:X``, ``observable:X``, ``expression:X``).
        grid : sequence of float, shape (n_grid,)
            bngsim sample times, sorted, starting at 0, at least two (see
            :func:`sample_grid`), model time units.
        main : PhaseInput
            The measured phase.
        pre : tuple of PhaseInput
            Phases run before it, first to last (empty: none). The first
            starts from the model's initial state; each later phase, and the
            measured one, starts from the state the one before ended in.
        sens_params : tuple of str
            Model parameters whose sensitivities are needed (rows of the
            ``param_jac`` of every phase).
        n_theta : int
            Number of free parameters.
        sensi : bool
            Whether to compute derivatives.

        Returns
        -------
        y : ndarray, shape (n_grid, n_out)
        dy : ndarray, shape (n_grid, n_out, n_theta), or None without ``sensi``

        Raises
        ------
        SimulationFailure
            If the solver fails or a pre-phase to steady state does not settle.
        """
        import bngsim

        try:
            if sensi:
                return self._run_sensi(outputs, grid, main, pre, sens_params, n_theta)
            return self._run_plain(outputs, grid, main, pre), None
        except (bngsim.BngsimError, ValueError, ArithmeticError) as err:
            text = " ".join(str(err).split())
            raise SimulationFailure(text[:2000]) from None

    def _opts(self) -> dict:
        return self._run_opts

    def _species_selectors(self) -> list[str]:
        if self._species_sel is None:
            self._species_sel = [f"species:{s}" for s in self._info.species]
        return self._species_sel

    def _start(self, phase: PhaseInput) -> None:
        model = self._model
        model.set_params(phase.params)
        model.reset()
        for name, value in phase.species.items():
            model.set_concentration(name, value)

    def _preeq_grid(self, phase: PhaseInput | None = None) -> list[float]:
        if phase is not None and phase.duration is not None:
            return [0.0, float(phase.duration)]
        return self._preeq_times

    def preeq_run_kwargs(self) -> dict:
        """Keyword arguments of the pre-equilibration ``Simulator.run`` (besides
        tolerances and timeout), for benchmarks that replay the engine's runs."""
        return {"sample_times": list(self._preeq_grid())}

    def _check_settled(self, a: np.ndarray, b: np.ndarray, what: str,
                       phase: PhaseInput | None = None) -> None:
        if phase is not None and phase.duration is not None:
            return  # a fixed-duration phase need not settle
        s = self.settings
        bad = np.abs(b - a) > s.preeq_atol + s.preeq_rtol * np.abs(b)
        if np.any(bad) or not np.all(np.isfinite(b)):
            raise SimulationFailure(
                f"pre-equilibration did not reach a steady state by t={s.preeq_tmax:g} "
                f"({what} still changing); raise preeq_tmax or check the model"
            )

    def _run_plain(self, outputs, grid, main, pre) -> np.ndarray:
        self._ensure_model()
        sim = self._simulator(None)
        opts = self._opts()
        model = self._model
        key = _pre_key(pre, None) if pre else None
        shared = self._pre_ends.get(key) if pre else None
        if shared is not None:
            self._from_state(main, shared[0])
        elif pre:
            self._start(pre[0])
            for k, phase in enumerate(pre):
                if k:
                    model.set_params(phase.params)
                    for name, value in phase.species.items():
                        model.set_concentration(name, value)
                r1 = sim.run(sample_times=self._preeq_grid(phase), **opts)
                x = r1.outputs(self._species_selectors())
                self._check_settled(x[-2], x[-1], "states", phase)
            self._remember(key, x[-1], None)
            model.set_params(main.params)
            for name, value in main.species.items():
                model.set_concentration(name, value)
        else:
            self._start(main)
        r = sim.run(sample_times=grid, **opts)
        return r.outputs(list(outputs))

    def _run_sensi(self, outputs, grid, main, pre, sens_params, n_theta):
        self._ensure_model()
        outs = list(outputs)
        opts = self._opts()
        if not pre:
            ic = tuple(sorted(main.species_jac))
            sim = self._simulator(sens_params, ic)
            self._start(main)
            r = sim.run(sample_times=grid, **opts)
            return r.outputs(outs), self._chain(r, outs, main.param_jac, ic, main.species_jac,
                                                n_theta, main.param_cols)
        # Where bngsim cannot seed the species, no chain is kept or looked up.
        key = _pre_key(pre, sens_params) if self._share_pre else None
        shared = self._pre_ends.get(key) if key is not None else None
        if shared is not None:
            # Another condition ran this pre-phase chain at this point: restart the
            # measured phase from its end state, seeded with its dx/dtheta.
            import bngsim

            try:
                r, jac = self._restart(main, shared[0], shared[1], sens_params, n_theta,
                                       grid, opts)
                return r.outputs(outs), self._chain(r, outs, main.param_jac,
                                                    self._info.species, jac, n_theta,
                                                    main.param_cols)
            except (bngsim.SensitivityUnsupportedError, bngsim.ModelError) as err:
                # bngsim cannot seed every species of this model: run each
                # condition's own chain, as before sharing existed
                log.debug("pre-phase sharing off for %s: %s", self.path, err)
                self._share_pre = False
        sel = self._species_selectors()
        first = pre[0]
        ic1 = tuple(sorted(first.species_jac))
        sim = self._simulator(sens_params, ic1)
        self._start(first)
        r = sim.run(sample_times=self._preeq_grid(first), **opts)
        x = r.outputs(sel)
        dx = self._chain(r, sel, first.param_jac, ic1, first.species_jac, n_theta,
                         first.param_cols)
        self._check_settled(x[-2], x[-1], "states", first)
        self._check_settled(dx[-2], dx[-1], "sensitivities", first)
        # bngsim carries dx/dp only while the Simulator has no initial-condition
        # sensitivities; a route once restarted stays restarted.
        carried = not ic1
        prev = first
        for phase in (*pre[1:], main):
            if phase is main and key is not None:
                self._remember(key, x[-1], dx[-1])
            grid_k = grid if phase is main else self._preeq_grid(phase)
            sel_k = outs if phase is main else sel
            if carried and self._can_carry(prev, phase):
                r = self._carry(sim, phase, grid_k, opts)
                y, dy = r.outputs(sel_k), self._chain(r, sel_k, phase.param_jac, (), {},
                                                        n_theta, phase.param_cols)
            else:
                carried = False
                r, jac = self._restart(phase, x[-1], dx[-1], sens_params, n_theta, grid_k, opts)
                y = r.outputs(sel_k)
                dy = self._chain(r, sel_k, phase.param_jac, self._info.species, jac, n_theta,
                                 phase.param_cols)
            if phase is main:
                return y, dy
            self._check_settled(y[-2], y[-1], "states", phase)
            self._check_settled(dy[-2], dy[-1], "sensitivities", phase)
            x, dx, prev = y, dy, phase
        raise AssertionError("unreachable: the loop returns at the measured phase")

    def new_point(self) -> None:
        """Forget the pre-phase end states: the next runs belong to a new evaluation.

        Conditions of one evaluation that share a chain of pre-phases (a PEtab
        pre-equilibration condition) run it once: the first runs it, the others
        restart their measured phase from its end state, seeded with its
        dx/dtheta. Evaluations never share: each stands on its own runs.
        """
        self._pre_ends.clear()

    def _remember(self, key: tuple, x_end: np.ndarray, dx_end: np.ndarray | None) -> None:
        """Keep a pre-phase chain's end state for the other conditions of this point."""
        if len(self._pre_ends) >= _PRE_ENDS_KEPT:
            self._pre_ends.pop(next(iter(self._pre_ends)))
        self._pre_ends[key] = (x_end.copy(), None if dx_end is None else dx_end.copy())

    def _from_state(self, phase: PhaseInput, x_end: np.ndarray) -> None:
        """Set the model up to run ``phase`` from the species state ``x_end``
        (with the phase's own species values written over it)."""
        species = self._info.species
        x0 = x_end.copy()
        for name, value in phase.species.items():
            x0[species.index(name)] = value
        self._model.set_params(phase.params)
        self._model.reset()
        self._model.set_state(x0)

    @staticmethod
    def _can_carry(prev: PhaseInput, phase: PhaseInput) -> bool:
        """Whether bngsim can continue the previous run's sensitivities.

        Only where the phase sets no species and maps the sensitivity
        parameters to theta exactly as the previous phase did.
        """
        return (not phase.species
                and phase.param_jac.shape == prev.param_jac.shape
                and np.array_equal(phase.param_jac, prev.param_jac))

    def _carry(self, sim, phase: PhaseInput, grid, opts):
        """Continue from the state (and dx/dp) the last run ended in: exact, cheapest."""
        self._model.set_params(phase.params)
        return sim.run(sample_times=grid, carry_sensitivities=True, **opts)

    def _restart(self, phase: PhaseInput, x_end: np.ndarray, dx_end: np.ndarray,
                 sens_params, n_theta: int, grid, opts):
        """Restart from the last state with every species as an initial-condition
        sensitivity, seeded with its dx/dtheta (or a species override's own).

        Returns the run and the seed, species name -> d x0 / d theta.
        """
        species = self._info.species
        dx0 = dx_end.copy()
        for name in phase.species:
            dx0[species.index(name)] = phase.species_jac.get(name, np.zeros(n_theta))
        sim2 = self._simulator(sens_params, species)
        self._from_state(phase, x_end)
        r = sim2.run(sample_times=grid, **opts)
        return r, dict(zip(species, dx0, strict=True))

    @staticmethod
    def _chain(r, outs, param_jac, ic, species_jac, n_theta, cols=None) -> np.ndarray:
        """d outputs / d theta = dy/dp @ dp/dtheta + dy/dx0 @ dx0/dtheta."""
        dy = None
        if param_jac.shape[0]:
            s = r.output_sensitivities(outs, axis="parameter")
            if cols is not None:
                dy = np.zeros(s.shape[:2] + (n_theta,))
                dy[:, :, cols] = s
            else:
                dy = s @ param_jac
        if ic:
            dic = r.output_sensitivities(outs, axis="ic")
            jac = np.array([species_jac[s] for s in ic])
            dy = dic @ jac if dy is None else dy + dic @ jac
        if dy is None:
            dy = np.zeros((r.time.shape[0], len(outs), n_theta))
        return dy


def codegen_cache_dir() -> str:
    """Where bngsim caches compiled sensitivity code (for messages and docs)."""
    return os.environ.get(
        "BNGSIM_CODEGEN_CACHE_DIR", str(Path.home() / ".cache" / "bngsim" / "codegen")
    )
