"""The one module that runs bngsim simulations.

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
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bngfit.errors import InputError

from . import _adapter, _inputs, _run_check
from ._inputs import PhaseInput, SolverSettings, check_settled, pre_chain_key, sample_grid
from ._models import (
    MODEL_SUFFIXES,
    ModelInfo,
    codegen_cache_dir,
    load_bngsim_model,
    model_info_of,
    plain_simulator,
    read_model_info,
)
from ._sensitivities import declared_rows, total_derivatives
from ._thread_guards import guard_caches

if TYPE_CHECKING:
    import bngsim

# Names importable from here: bngfit 0.1's module bngfit.simulate held them all
# (loading, the run inputs and the engine), and the readers of PyBNF files still
# take ModelInfo and read_model_info from here.
__all__ = [
    "MODEL_SUFFIXES", "Engine", "ModelInfo", "PhaseInput", "SolverSettings",
    "codegen_cache_dir", "read_model_info", "sample_grid",
]

log = logging.getLogger(__name__)

#: The model loader under its 0.1 name, which tests import from this module.
_load_bngsim_model = load_bngsim_model

_PRE_ENDS_KEPT = 16  # distinct pre-phase chains an engine keeps within one point


# Loading a model and building a Simulator go through libraries that keep global
# state (antimony, libsbml, bngsim's code generator and compiler cache): one at a
# time in a process, whatever thread asks. Runs themselves are concurrent.
_BUILD_LOCK = threading.RLock()


class Engine:
    """Runs conditions of one model with bngsim.

    Parameters
    ----------
    path : str or Path
        The model file.
    settings : SolverSettings, optional
        Tolerances, pre-equilibration test and time budget (default: the
        defaults of :class:`SolverSettings`).
    """

    def __init__(self, path: str | Path, settings: SolverSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or SolverSettings()
        self._model: bngsim.Model | None = None
        self._sims: dict[tuple, bngsim.Simulator] = {}
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

    def _ensure_model(self) -> bngsim.Model:
        """The bngsim model, loaded (and its names read) on first use."""
        if self._model is None:
            with _BUILD_LOCK:
                _adapter.install()
                guard_caches()
                model = load_bngsim_model(self.path)
                self._info = model_info_of(self.path, model)
                self._model = model
        return self._model

    def _simulator(self, sens: tuple[str, ...] | None,
                   ic: tuple[str, ...] = ()) -> bngsim.Simulator:
        """The Simulator with sensitivities by ``sens`` and the initial values of ``ic``.

        ``sens`` None: no sensitivities at all. Built once per engine and key.

        Raises
        ------
        InputError
            bngsim cannot generate or compile the sensitivity code of the model.
        """
        key = (sens, ic)
        sim = self._sims.get(key)
        if sim is None:
            with _BUILD_LOCK:
                sim = self._build_simulator(sens, ic)
            self._sims[key] = sim
        return sim

    def _build_simulator(self, sens: tuple[str, ...] | None,
                         ic: tuple[str, ...]) -> bngsim.Simulator:
        """A new Simulator (see :meth:`_simulator`); under the build lock."""
        import bngsim

        model = self._ensure_model()
        if sens is None:
            return self._with_steps(plain_simulator(model))
        try:
            return self._with_steps(bngsim.Simulator(
                model, sensitivity_params=list(sens), sensitivity_ic=list(ic) or None))
        except (bngsim.SensitivityUnsupportedError, bngsim.ModelError):
            raise  # callers decide (e.g. shared pre-equilibration falls back)
        except (RuntimeError, ValueError, OSError) as err:
            # bngsim generates and compiles C code here; a model it cannot
            # translate (or no compiler) is the model's or the machine's
            # problem, said once, not an internal error of bngfit
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise InputError(f"bngsim cannot build the sensitivity code of this "
                             f"model: {first[:300]}", file=str(self.path)) from None

    def _with_steps(self, sim: bngsim.Simulator) -> bngsim.Simulator:
        """``sim`` with the settings' step limit (bngsim's own where none is set)."""
        if self.settings.max_steps is not None:
            sim.set_max_steps(int(self.settings.max_steps))
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
        y, dy : ndarray, shapes (n_grid, n_out), (n_grid, n_out, n_theta) (None without sensi)

        Raises
        ------
        SimulationFailure
            The solver failed or a pre-phase to steady state did not settle.
        UnsupportedError
            bngsim cannot differentiate the model for ``sens_params``.
        """
        import bngsim

        try:
            if sensi:
                return self._run_sensi(outputs, grid, main, pre, sens_params, n_theta)
            return self._run_plain(outputs, grid, main, pre), None
        except (bngsim.BngsimError, ValueError, ArithmeticError) as err:
            raise _inputs.run_error(err, self.path) from None

    def _opts(self) -> dict[str, float | None]:
        """Tolerances and time budget of every ``Simulator.run``."""
        return self._run_opts

    def _species_selectors(self) -> list[str]:
        """Selectors of every species, in the model's order (the state vector)."""
        if self._species_sel is None:
            self._species_sel = [f"species:{s}" for s in self._info.species]
        return self._species_sel

    def _start(self, phase: PhaseInput) -> None:
        """Set the model up to run ``phase`` from the model's initial state."""
        model = self._model
        model.set_params(phase.params)
        model.reset()
        for name, value in phase.species.items():
            model.set_concentration(name, value)

    def _continue(self, phase: PhaseInput) -> None:
        """Write ``phase``'s parameters and species over the state the last run ended in."""
        self._model.set_params(phase.params)
        for name, value in phase.species.items():
            self._model.set_concentration(name, value)

    def _preeq_grid(self, phase: PhaseInput | None = None) -> list[float]:
        """Sample times of a pre-phase run: its duration, else the steady-state horizon."""
        if phase is not None and phase.duration is not None:
            return [0.0, float(phase.duration)]
        return self._preeq_times

    def preeq_run_kwargs(self) -> dict[str, list[float]]:
        """Keyword arguments of the pre-equilibration ``Simulator.run``.

        Besides tolerances and timeout; for benchmarks that replay the
        engine's runs.
        """
        return {"sample_times": list(self._preeq_grid())}

    def _run_plain(self, outputs: tuple[str, ...], grid: tuple[float, ...], main: PhaseInput,
                   pre: tuple[PhaseInput, ...]) -> np.ndarray:
        """Outputs of the measured phase, shape (n_grid, n_out), after its pre-phases.

        A pre-phase chain another condition ran at this point is not run again:
        the measured phase starts from its end state.
        """
        self._ensure_model()
        sim = self._simulator(None)
        if pre:
            key = pre_chain_key(pre, None)
            shared = self._pre_ends.get(key)
            if shared is not None:
                self._from_state(main, shared[0])
            else:
                self._run_plain_pre(sim, pre, key)
                self._continue(main)
        else:
            self._start(main)
        r = sim.run(sample_times=grid, **self._opts())
        return r.outputs(list(outputs))

    def _run_plain_pre(self, sim: bngsim.Simulator, pre: tuple[PhaseInput, ...],
                       key: tuple) -> None:
        """Run a chain of pre-phases without sensitivities and keep its end state."""
        opts = self._opts()
        self._start(pre[0])
        for k, phase in enumerate(pre):
            if k:
                self._continue(phase)
            r1 = sim.run(sample_times=self._preeq_grid(phase), **opts)
            x = r1.outputs(self._species_selectors())
            check_settled(self.settings, x[-2], x[-1], "states", phase)
        self._remember(key, x[-1], None)

    def _run_sensi(self, outputs: tuple[str, ...], grid: tuple[float, ...], main: PhaseInput,
                   pre: tuple[PhaseInput, ...], sens_params: tuple[str, ...],
                   n_theta: int) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and their derivatives by theta, after the pre-phases.

        The measured phase runs alone, from the end of a pre-phase chain
        another condition ran at this point, or after running the chain.
        """
        self._ensure_model()
        outs = list(outputs)
        if not pre:
            return self._sensi_alone(outs, grid, main, sens_params, n_theta)
        # Where bngsim cannot seed the species, no chain is kept or looked up.
        key = pre_chain_key(pre, sens_params) if self._share_pre else None
        shared = self._pre_ends.get(key) if key is not None else None
        if shared is not None:
            done = self._sensi_from_shared(outs, grid, main, shared, sens_params, n_theta)
            if done is not None:
                return done
        return self._sensi_chain(outs, grid, main, pre, sens_params, n_theta, key)

    def _sensi_alone(self, outs: list[str], grid: tuple[float, ...], main: PhaseInput,
                     sens_params: tuple[str, ...],
                     n_theta: int) -> tuple[np.ndarray, np.ndarray]:
        """A measured phase without pre-phases, from the model's initial state."""
        ic = tuple(sorted(main.species_jac))
        sim = self._simulator(sens_params, ic)

        def once() -> tuple[np.ndarray, np.ndarray]:
            self._start(main)
            r = sim.run(sample_times=grid, **self._opts())
            return r.outputs(outs), total_derivatives(
                r, outs, main.param_jac, ic, main.species_jac, n_theta, main.param_cols)
        return _run_check.checked(once)

    def _sensi_from_shared(self, outs: list[str], grid: tuple[float, ...], main: PhaseInput,
                           shared: tuple[np.ndarray, np.ndarray | None],
                           sens_params: tuple[str, ...],
                           n_theta: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Restart the measured phase from a shared pre-phase end state and its dx/dtheta.

        None, and sharing off for this engine, where bngsim cannot seed every
        species of the model.
        """
        import bngsim

        try:
            r, ic, jac = self._restart(main, shared[0], shared[1], sens_params, n_theta, grid,
                                       self._opts())
            y = r.outputs(outs)
            return y, total_derivatives(r, outs, main.param_jac, ic, jac, n_theta,
                                        main.param_cols)
        except (bngsim.SensitivityUnsupportedError, bngsim.ModelError) as err:
            # each condition then runs its own chain, as before sharing existed
            log.debug("pre-phase sharing off for %s: %s", self.path, err)
            self._share_pre = False
            return None

    def _sensi_chain(self, outs: list[str], grid: tuple[float, ...], main: PhaseInput,
                     pre: tuple[PhaseInput, ...], sens_params: tuple[str, ...], n_theta: int,
                     key: tuple | None) -> tuple[np.ndarray, np.ndarray]:
        """Run the pre-phases from the model's initial state, then the measured phase.

        The end state of the chain is kept under ``key`` (None: not kept) for
        the other conditions of this point.
        """
        sel = self._species_selectors()
        sim, x, dx, carried = self._sensi_first_pre(pre[0], sens_params, n_theta)
        prev = pre[0]
        for phase in (*pre[1:], main):
            if phase is main and key is not None:
                self._remember(key, x[-1], dx[-1])
            grid_k = grid if phase is main else self._preeq_grid(phase)
            sel_k = outs if phase is main else sel
            # a route once restarted stays restarted
            carried = carried and self._can_carry(prev, phase)
            y, dy = self._sensi_next(sim, phase, carried, x[-1], dx[-1], sel_k, grid_k,
                                     sens_params, n_theta)
            if phase is main:
                return y, dy
            check_settled(self.settings, y[-2], y[-1], "states", phase)
            check_settled(self.settings, dy[-2], dy[-1], "sensitivities", phase)
            x, dx, prev = y, dy, phase
        raise AssertionError("unreachable: the loop returns at the measured phase")

    def _sensi_first_pre(self, first: PhaseInput, sens_params: tuple[str, ...], n_theta: int
                         ) -> tuple[bngsim.Simulator, np.ndarray, np.ndarray, bool]:
        """Run the first pre-phase from the model's initial state, checked.

        Returns
        -------
        sim : bngsim.Simulator
            The Simulator it ran on.
        x, dx : ndarray, shapes (n_grid, n_species) and (n_grid, n_species, n_theta)
            Its species and their derivatives by theta.
        carry : bool
            Whether the next phase may continue its sensitivities: bngsim
            carries dx/dp only while the Simulator has no initial-condition
            sensitivities.
        """
        sel = self._species_selectors()
        ic1 = tuple(sorted(first.species_jac))
        sim = self._simulator(sens_params, ic1)
        self._start(first)
        r = sim.run(sample_times=self._preeq_grid(first), **self._opts())
        x = r.outputs(sel)
        dx = total_derivatives(r, sel, first.param_jac, ic1, first.species_jac, n_theta,
                               first.param_cols)
        check_settled(self.settings, x[-2], x[-1], "states", first)
        check_settled(self.settings, dx[-2], dx[-1], "sensitivities", first)
        return sim, x, dx, not ic1

    def _sensi_next(self, sim: bngsim.Simulator, phase: PhaseInput, carry: bool,
                    x_end: np.ndarray, dx_end: np.ndarray, sel: list[str],
                    grid: Sequence[float], sens_params: tuple[str, ...],
                    n_theta: int) -> tuple[np.ndarray, np.ndarray]:
        """Run a later phase of a chain.

        With ``carry`` it continues the last run's sensitivities, else it
        restarts from that run's end state ``x_end`` seeded with ``dx_end``.
        """
        if carry:
            r = self._carry(sim, phase, grid, self._opts())
            y = r.outputs(sel)
            return y, total_derivatives(r, sel, phase.param_jac, (), {}, n_theta,
                                        phase.param_cols)
        r, ic, jac = self._restart(phase, x_end, dx_end, sens_params, n_theta, grid,
                                   self._opts())
        y = r.outputs(sel)
        return y, total_derivatives(r, sel, phase.param_jac, ic, jac, n_theta,
                                    phase.param_cols)

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
        """Set the model up to run ``phase`` from the species state ``x_end``.

        The phase's own species values are written over it.
        """
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

    def _carry(self, sim: bngsim.Simulator, phase: PhaseInput, grid: Sequence[float],
               opts: Mapping[str, float | None]) -> bngsim.Result:
        """Continue from the state (and dx/dp) the last run ended in: exact, cheapest."""
        self._model.set_params(phase.params)
        return sim.run(sample_times=grid, carry_sensitivities=True, **opts)

    def _restart(self, phase: PhaseInput, x_end: np.ndarray, dx_end: np.ndarray,
                 sens_params: tuple[str, ...], n_theta: int, grid: Sequence[float],
                 opts: Mapping[str, float | None]
                 ) -> tuple[bngsim.Result, tuple[str, ...], dict[str, np.ndarray]]:
        """Restart from the last state, its dx/dtheta carried into the new run.

        Each species starts with its dx/dtheta (or a species override's own).
        Where each parameter column of the run is one theta's and no other theta
        moves the state, that seed is declared as the parameter columns' own
        initial values (bngsim's ``declare_ic_sensitivity``): one column per
        parameter, as in a run from the model's initial state. Otherwise every
        species gets an initial-value sensitivity column, combined afterwards.

        Returns
        -------
        run : bngsim.Result
        ic : tuple of str
            The run's initial-value sensitivity species (empty when declared).
        seed : dict
            Species name -> d x0 / d theta, shape (n_theta,), for those in ``ic``.
        """
        species = self._info.species
        dx0 = dx_end.copy()
        for name in phase.species:
            dx0[species.index(name)] = phase.species_jac.get(name, np.zeros(n_theta))
        rows = declared_rows(species, dx0, phase.param_cols, sens_params, n_theta)
        if rows is not None:
            sim = self._simulator(sens_params)
            self._from_state(phase, x_end)
            self._model.declare_ic_sensitivity(rows)
            return sim.run(sample_times=grid, **opts), (), {}
        sim2 = self._simulator(sens_params, species)
        self._from_state(phase, x_end)
        r = sim2.run(sample_times=grid, **opts)
        return r, tuple(species), dict(zip(species, dx0, strict=True))

