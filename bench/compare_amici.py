"""Compare bngfit's objective and gradient with AMICI's on PEtab problems.

Acceptance criterion: gradients agree with an independent sensitivity-based tool
to 1e-4 relative at random points. The independent tool is AMICI (CVODES forward
sensitivities, its own SBML import and its own PEtab likelihood).

For each problem: the nominal point and ``--points`` random points drawn uniformly
in a box of +-``--box`` around nominal in optimizer space (each parameter on its
PEtab parameterScale), clipped to the bounds, seeded per problem from ``--seed``
and the problem's name (``--center NAME=VALUE`` moves the first point and the box
for one parameter). At each point both tools compute fval (= -log-likelihood with
all normalising constants, PEtab's convention) and its gradient with respect to the
scaled parameters (AMICI: ``simulate_petab(..., scaled_parameters=True,
scaled_gradients=True)``; the fval agreement shows that both read x the same way).
Both use forward sensitivities at ``--rtol``/``--atol`` (default 1e-12/1e-14).

Relative gradient error per parameter:
``|g_bngfit - g_amici| / max(|g_amici|, 1e-3 * ||g_amici||_inf)``; the table shows
its maximum over parameters per point, and the parameter where it is reached.
With ``--fd``, each point whose error exceeds ``--tol`` is checked against central
finite differences of bngfit's fval (step ``--fd-step`` in optimizer space, and the
Richardson extrapolation of steps h and h/2) for the worst parameter, to tell which
tool is off.

AMICI is not a dependency of bngfit and is not on PyPI as a wheel for every
Python: it builds from source (swig, a C++ compiler, CMake, a CBLAS). Install it
in a separate virtual environment, e.g.::

    python -m venv /tmp/amici-venv && . /tmp/amici-venv/bin/activate
    pip install "amici[petab]" antimony && pip install -e .
    python bench/compare_amici.py [--points 5] [--seed 0] [--fd] [problem.yaml ...]

Run it with that environment's ``bin`` first on PATH (activated): AMICI compiles
each model's SWIG wrapper with the ``swig`` it finds on PATH, and a system swig of
another version than the one AMICI was built with gives models that fail to load.
The script puts its own interpreter's ``bin`` first on PATH for that reason.
Compiled models are kept under ``--model-dir`` (a model is rebuilt when missing).

Antimony models (bngfit's examples) are converted to SBML with the ``antimony``
package into a temporary copy of the PEtab problem for AMICI; bngfit reads the
original. Without ``antimony`` such problems are skipped with a note. The copy also
drops from the parameter table a non-estimated parameter that the condition table
sets (PEtab v1 forbids the overlap; bngfit lets the condition table win, AMICI would
not), with a note.

Exit status: 0 if every point agrees (max relative gradient error <= ``--tol``,
|fval difference| <= ``--fval-rtol`` * max(1, |fval|)), 1 otherwise, 2 if AMICI is
not importable.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "benchmarks" / "petab"
DEFAULT_PROBLEMS = [
    *(BENCH / n / f"{n}.yaml"
      for n in ("Boehm_JProteomeRes2014", "Brannmark_JBC2010", "Perelson_Science1996")),
    ROOT / "examples" / "conversion" / "problem.yaml",
]


AMICI_MISSING = """
Install it in a separate virtual environment (it builds from source: swig, a C++
compiler, CMake and a CBLAS are needed), then run this script with that python:
  python -m venv /tmp/amici-venv && . /tmp/amici-venv/bin/activate
  pip install "amici[petab]" antimony && pip install -e .
  python bench/compare_amici.py"""


def _import_amici():
    """AMICI's PEtab (v1) entry points, or exit 2 with a message when not importable."""
    try:
        import amici.sim.sundials as asd
        import petab.v1 as petab
        from amici.importers.petab.v1 import import_petab_problem
        from amici.sim.sundials.petab.v1 import LLH, SLLH, simulate_petab
    except ImportError as e:
        print(f"compare_amici: AMICI with its PEtab support is not importable ({e})."
              + AMICI_MISSING, file=sys.stderr)
        sys.exit(2)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] == "amici":  # AMICI's parameter mapping logs at DEBUG
            logging.getLogger(name).setLevel(logging.WARNING)
    return asd, petab, import_petab_problem, simulate_petab, LLH, SLLH


def _label(yaml_path: Path) -> str:
    """A short name for the problem: the YAML's stem, or its folder for 'problem.yaml'."""
    return yaml_path.parent.name if yaml_path.stem == "problem" else yaml_path.stem


def _ident(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text)
    return out if out[:1].isalpha() else "m_" + out


def _amici_petab_copy(yaml_path: Path, workdir: Path) -> tuple[Path | None, list[str]]:
    """The PEtab YAML for AMICI, and notes on what was changed for it.

    The original where AMICI reads it as is; else a copy in ``workdir`` where
    Antimony models are converted to SBML, and where a non-estimated parameter that
    the condition table also sets is removed from the parameter table (PEtab v1
    forbids that overlap; bngfit lets the condition table win, AMICI would take the
    parameter table's nominal value for every condition). (None, notes) if impossible.
    """
    import pandas as pd
    import yaml

    spec = yaml.safe_load(yaml_path.read_text())
    src = yaml_path.parent
    notes: list[str] = []
    models = [m for p in spec.get("problems", []) for m in p.get("sbml_files", [])]
    ant = [m for m in models if Path(m).suffix.lower() in (".ant", ".antimony", ".txt")]
    cond_cols: set[str] = set()
    for p in spec.get("problems", []):
        for f in p.get("condition_files", []):
            cond_cols |= set(pd.read_csv(src / f, sep="\t", nrows=0).columns)
    par_file = spec.get("parameter_file")
    par = pd.read_csv(src / par_file, sep="\t")
    overlap = par[par["parameterId"].isin(cond_cols) & (par["estimate"] == 0)]
    if not ant and overlap.empty:
        return yaml_path, notes
    dest = workdir / _ident(_label(yaml_path))
    shutil.copytree(src, dest, dirs_exist_ok=True)
    if not overlap.empty:
        ids = ", ".join(overlap["parameterId"])
        par.drop(index=overlap.index).to_csv(dest / par_file, sep="\t", index=False)
        notes.append(f"{ids} set by the condition table and also listed (estimate=0) in the "
                     "parameter table, which PEtab v1 forbids; removed from AMICI's copy of "
                     "the parameter table so that the condition table's values apply")
    if ant:
        try:
            import antimony
        except ImportError:
            return None, [*notes, "Antimony model and the antimony package is not importable"]
        for p in spec["problems"]:
            files = []
            for m in p.get("sbml_files", []):
                if m in ant:
                    antimony.clearPreviousLoads()
                    if antimony.loadAntimonyFile(str(src / m)) < 0:
                        return None, [*notes, f"antimony cannot read {m}: "
                                      f"{antimony.getLastError()}"]
                    sbml = antimony.getSBMLString(antimony.getMainModuleName())
                    m = str(Path(m).with_suffix(".xml"))
                    (dest / m).write_text(sbml)
                files.append(m)
            p["sbml_files"] = files
        notes.append("Antimony model converted to SBML with the antimony package for AMICI")
    out = dest / yaml_path.name
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out, notes


def _model_hash(yaml_path: Path) -> str:
    """Hash of the PEtab files, so that a changed problem gets a freshly compiled model."""
    import yaml

    spec = yaml.safe_load(yaml_path.read_text())
    h = 0
    files = [spec.get("parameter_file", "")]
    for p in spec.get("problems", []):
        for key in ("sbml_files", "condition_files", "observable_files"):
            files.extend(p.get(key, []))
    for f in files:
        h = zlib.crc32((yaml_path.parent / f).read_bytes(), h)
    return f"{h:08x}"


@contextlib.contextmanager
def _output_to(path: Path):
    """Send this process's stdout and stderr (file descriptors 1 and 2, so also what
    AMICI's compiler subprocesses print) to ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "ab") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


class AmiciSide:
    """One PEtab problem in AMICI: compiled model, solver, and fval/grad at x."""

    def __init__(self, yaml_path: Path, model_root: Path, rtol: float, atol: float,
                 amici_api) -> None:
        asd, petab, import_petab_problem, self._simulate, self._llh, self._sllh = amici_api
        self.petab_problem = petab.Problem.from_yaml(str(yaml_path))
        name = _ident(_label(yaml_path))
        out = model_root / f"{name}_{_model_hash(yaml_path)}"
        t0 = time.perf_counter()
        self.build_log = model_root / f"{out.name}.log"
        try:
            with _output_to(self.build_log):
                try:
                    self.model = import_petab_problem(self.petab_problem, output_dir=out,
                                                      model_name=name)
                except (ValueError, ImportError, AttributeError):
                    # a stale or half-built model directory: rebuild it
                    self.model = import_petab_problem(self.petab_problem, output_dir=out,
                                                      model_name=name, compile_=True)
        except Exception as e:
            raise RuntimeError(f"AMICI import of {yaml_path} failed ({e}); "
                               f"see {self.build_log}") from e
        self.import_seconds = time.perf_counter() - t0
        s = self.model.create_solver()
        s.set_sensitivity_order(asd.SensitivityOrder.first)
        s.set_sensitivity_method(asd.SensitivityMethod.forward)
        s.set_sensitivity_method_pre_equilibration(asd.SensitivityMethod.forward)
        s.set_relative_tolerance(rtol)
        s.set_absolute_tolerance(atol)
        s.set_max_steps(10**7)
        self.solver = s

    def __call__(self, names: list[str], x: np.ndarray) -> tuple[float, np.ndarray]:
        r = self._simulate(self.petab_problem, amici_model=self.model, solver=self.solver,
                           problem_parameters=dict(zip(names, map(float, x), strict=True)),
                           scaled_parameters=True, scaled_gradients=True)
        sllh = r[self._sllh]
        missing = [n for n in names if n not in sllh]
        if missing:
            raise RuntimeError(f"AMICI reports no gradient for {missing}")
        return -float(r[self._llh]), -np.array([float(sllh[n]) for n in names])


def rel_errors(g: np.ndarray, g_ref: np.ndarray) -> np.ndarray:
    """|g - g_ref| / max(|g_ref|, 1e-3 * ||g_ref||_inf), per component."""
    floor = 1e-3 * float(np.max(np.abs(g_ref))) if g_ref.size else 0.0
    den = np.maximum(np.abs(g_ref), floor)
    den[den == 0] = 1.0
    return np.abs(g - g_ref) / den


def central_fd(obj, x: np.ndarray, i: int, h: float) -> tuple[float, float]:
    """Central differences of bngfit's fval in coordinate i: step h, and Richardson
    extrapolation of steps h and h/2 (error O(h^4))."""
    def d(step: float) -> float:
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        return (obj(xp, sensi=0).fval - obj(xm, sensi=0).fval) / (2 * step)

    d1, d2 = d(h), d(h / 2)
    return d1, (4 * d2 - d1) / 3


def points_for(problem, label: str, n: int, box: float, seed: int,
               center: dict[str, float]) -> list[np.ndarray]:
    """Nominal (or ``center``) point, then n uniform points in +-box around it, clipped."""
    x0 = np.asarray(problem.x_nominal, dtype=float).copy()
    lb, ub = np.asarray(problem.lb, dtype=float), np.asarray(problem.ub, dtype=float)
    for i, name in enumerate(problem.x_names):
        if name in center:
            x0[i] = np.clip(center[name], lb[i], ub[i])
    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    pts = [x0]
    for _ in range(n):
        pts.append(np.clip(x0 + rng.uniform(-box, box, size=x0.size), lb, ub))
    return pts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="*", type=Path, default=DEFAULT_PROBLEMS,
                    help="PEtab YAML files (default: the three benchmarks and the example)")
    ap.add_argument("--points", type=int, default=5, help="random points per problem")
    ap.add_argument("--box", type=float, default=1.0, help="half-width of the random box")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rtol", type=float, default=1e-12)
    ap.add_argument("--atol", type=float, default=1e-14)
    ap.add_argument("--tol", type=float, default=1e-4, help="max relative gradient error")
    ap.add_argument("--fval-rtol", type=float, default=1e-6,
                    help="max |fval difference| / max(1, |fval|)")
    ap.add_argument("--center", action="append", default=[], metavar="NAME=VALUE",
                    help="use VALUE (optimizer space) instead of the nominal value of "
                         "parameter NAME, for the first point and the box (repeatable; "
                         "names a problem lacks are ignored)")
    ap.add_argument("--fd", action="store_true",
                    help="finite-difference check of the worst parameter where --tol fails")
    ap.add_argument("--fd-step", type=float, default=1e-3)
    ap.add_argument("--model-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "bngfit-amici-models")
    ap.add_argument("-v", "--verbose", action="store_true", help="print full gradients")
    args = ap.parse_args(argv)
    center = {}
    for item in args.center:
        name, _, value = item.partition("=")
        center[name.strip()] = float(value)

    # AMICI builds each model's SWIG wrapper with the swig on PATH: use the one installed
    # beside this interpreter (the one AMICI itself was built with), not a system swig.
    os.environ["PATH"] = sysconfig.get_path("scripts") + os.pathsep + os.environ.get("PATH", "")
    amici_api = _import_amici()
    import bngfit

    args.model_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="compare_amici_"))
    print(f"AMICI vs bngfit: rtol={args.rtol:g} atol={args.atol:g}, forward sensitivities, "
          f"gradient w.r.t. parameters on their PEtab parameterScale; nominal + "
          f"{args.points} random points in +-{args.box:g} (seed {args.seed})")
    print("relative gradient error = |g_bngfit - g_amici| / "
          "max(|g_amici|, 1e-3 * ||g_amici||_inf)\n")
    head = (f"{'problem':<24} {'point':<8} {'fval (bngfit)':>16} {'|dfval|':>9} "
            f"{'max rel grad err':>16}  worst parameter (g_bngfit, g_amici)")
    print(head, flush=True)
    notes, ok = [], True
    try:
        for yaml_path in args.problems:
            yaml_path = Path(yaml_path).resolve()
            label = _label(yaml_path)
            amici_yaml, changed = _amici_petab_copy(yaml_path, workdir)
            notes += [f"{label}: {n}" for n in changed]
            if amici_yaml is None:
                print(f"# {label}: skipped ({changed[-1]})", flush=True)
                continue
            problem = bngfit.load_problem(str(yaml_path))
            names = list(problem.x_names)
            obj = bngfit.Objective(problem, rtol=args.rtol, atol=args.atol)
            try:
                amici_side = AmiciSide(amici_yaml, args.model_dir, args.rtol, args.atol,
                                       amici_api)
            except RuntimeError as e:
                print(f"# {label}: {e}", flush=True)
                ok = False
                continue
            print(f"# {label}: {len(names)} parameters; AMICI model ready in "
                  f"{amici_side.import_seconds:.1f}s", flush=True)
            for k, x in enumerate(points_for(problem, label, args.points, args.box, args.seed,
                                                center)):
                point = f"rand{k}" if k else (
                    "center" if any(n in center for n in names) else "nominal")
                try:
                    fa, ga = amici_side(names, x)
                except Exception as e:  # report and go on
                    print(f"{label:<24} {point:<8} AMICI failed: {e}", flush=True)
                    ok = False
                    continue
                try:
                    ev = obj(x, sensi=1)
                except Exception as e:  # report and go on
                    print(f"{label:<24} {point:<8} bngfit failed: {e}", flush=True)
                    ok = False
                    continue
                fb, gb = float(ev.fval), np.asarray(ev.grad, dtype=float)
                if not (np.isfinite(fa) and np.all(np.isfinite(ga))):
                    print(f"{label:<24} {point:<8} {fb:16.8g} AMICI fval/grad not finite"
                          f" (fval {fa})", flush=True)
                    ok = False
                    continue
                err = rel_errors(gb, ga)
                i = int(np.argmax(err))
                dfval = abs(fb - fa)
                ok &= bool(err[i] <= args.tol and dfval <= args.fval_rtol * max(1.0, abs(fa)))
                row = (f"{label:<24} {point:<8} {fb:16.8g} {dfval:9.2e} {err[i]:16.2e}  "
                       f"{names[i]} ({gb[i]:.6g}, {ga[i]:.6g})")
                print(row, flush=True)
                if args.verbose:
                    print("    x       ", np.array2string(x, precision=4))
                    print("    g_bngfit", np.array2string(gb, precision=8))
                    print("    g_amici ", np.array2string(ga, precision=8))
                if args.fd and err[i] > args.tol:
                    d1, dr = central_fd(obj, x, i, args.fd_step)
                    msg = (f"    FD check {names[i]}: central(h={args.fd_step:g}) {d1:.8g}, "
                           f"Richardson {dr:.8g}; |bngfit-FD|={abs(gb[i] - dr):.2e}, "
                           f"|AMICI-FD|={abs(ga[i] - dr):.2e}")
                    print(msg, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    for n in notes:
        print("note:", n)
    if ok:
        print(f"\nPASS: every point has max relative gradient error <= {args.tol:g} "
              f"and |fval difference| <= {args.fval_rtol:g} * max(1, |fval|)")
    else:
        print(f"\nFAIL: some point exceeds relative gradient error {args.tol:g} or "
              f"|fval difference| {args.fval_rtol:g} * max(1, |fval|), or failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
