"""bngfit against PyBNF's metaheuristics on the shared PyBNF examples, on PyBNF's scale.

Acceptance criterion (PyBNF issue): the shared examples fit from their ``.conf`` files
to objective values at least as good as PyBNF's metaheuristics reach, in fewer
simulations.

PyBNF's side is read from ``bench/data/pybnf_results.json`` (runs of PyBNF itself:
version, settings, best objective and parameters, parameter sets evaluated, times), or
from PyBNF output folders given with ``--pybnf-output NAME=DIR`` (``DIR/Results``:
``sorted_params_final.txt``, ``method_chain.json`` and the copy of the ``.conf``).
For each example the script

1. evaluates bngfit's objective at PyBNF's best parameters and converts it to PyBNF's
   scale: the "check" column is the relative difference to the value PyBNF reported
   there (both tools simulating the same model the same way gives ~1e-8);
2. fits with bngfit (``bngfit.fit``, ``--starts`` starts from ``--seed``, sequential
   engine, ``--optimizer`` or the CLI's default: ``least_squares`` where the objective is
   a sum of squares, else ``fides``) and converts the best value to PyBNF's
   scale;
3. with ``--pybnf-python PY`` (a Python that has ``pybnf`` installed), also lets PyBNF
   itself score bngfit's best parameters (a copy of the example in a temporary folder;
   the shared folder is never written), column "PyBNF@bngfit".

Objective scales. bngfit reports a full negative log-likelihood,
``fval = 0.5*chi2 + sum(log sigma) + n/2*log(2*pi) + penalty``, with
``chi2 = sum(((sim - data)/sigma)^2)`` and ``penalty`` the ``.prop`` constraints'
value (PyBNF's, unchanged). PyBNF 1.8.1 (``pybnf/objective.py``) scores
``sos = sum((sim - data)^2)`` (no 1/2) and ``chi_sq = sum((sim - data)^2 / (2 sd^2))``
(with the 1/2: the Gaussian data fit without its constant), each plus the constraint
penalty. So on PyBNF's scale: sos -> ``chi2 + penalty``, chi_sq -> ``chi2/2 + penalty``,
with ``penalty = fval - (0.5*chi2 + sum(log sigma) + n/2*log(2*pi))``. Other ``objfunc``
values are refused here. Note that with constraints bngfit minimises
``0.5*SOS + penalty`` for ``sos`` and PyBNF ``SOS + penalty``: the minimisers coincide
only when the penalty vanishes at the optimum.

Counts. PyBNF: parameter sets evaluated (``method_chain.json`` "simulations"; scatter
search runs about pop*(pop-1) per iteration), each one model run of every ``simulate``
action (receptor: equilibration + measured phase = 2), without sensitivities. bngfit:
objective evaluations (each one run of every phase of every experiment WITH forward
sensitivities for all free parameters); simulations = evaluations x phases.

Wall times: PyBNF's fit phase (``elapsed_seconds``; process wall time in the JSON
when recorded), bngfit's load + fit in this process. Run both on the same machine
state for the times to mean anything.

Recording PyBNF runs (separate environment; never PyBNF in the project's Python)::

    python3 -m venv /tmp/pybnf-venv && /tmp/pybnf-venv/bin/pip install pybnf==1.8.1
    cp -r ../shared/benchmarks/pybnf/receptor /tmp/run && cd /tmp/run
    printf '\\nparallel_count = 1\\n' >> receptor.conf
    export BNGPATH=...   # the folder of BNG2.pl, e.g. bionetgen's bng-linux
    nice -n 19 /tmp/pybnf-venv/bin/pybnf -c receptor.conf -o
    python bench/compare_pybnf.py --pybnf-output receptor=/tmp/run/output/receptor

Run::

    python bench/compare_pybnf.py [--starts 10] [--seed 0] [--only receptor,...]
        [--pybnf-python /tmp/pybnf-venv/bin/python] [--pybnf-output NAME=DIR ...]

Not imported by the tests; needs ``../shared`` beside the repository.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "benchmarks" / "pybnf"
DATA = HERE / "data" / "pybnf_results.json"
LOG_2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------ PyBNF side (no bngfit here)
def _read_conf_keys(path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0]
        if "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            keys.setdefault(k, v)
    return keys


def read_pybnf_output(name: str, out_dir: Path) -> dict:
    """One run's record from a PyBNF output folder (``output_dir`` of the conf)."""
    res = out_dir / "Results"
    lines = [ln for ln in (res / "sorted_params_final.txt").read_text().splitlines() if ln]
    header = lines[0].lstrip("#").split()
    best = lines[1].split()
    params = {k: float(v) for k, v in zip(header[2:], best[2:], strict=True)}
    chain = json.loads((res / "method_chain.json").read_text())
    fit = [p for p in chain["phases"] if p["phase"] == "fit"][-1]
    confs = sorted(res.glob("*.conf"))
    keys = _read_conf_keys(confs[0]) if confs else {}
    return {
        "name": name,
        "pybnf_version": chain.get("pybnf_version"),
        "fit_type": keys.get("fit_type", fit["method"]),
        "objfunc": keys.get("objfunc", "chi_sq"),
        "population_size": int(keys["population_size"]) if "population_size" in keys else None,
        "max_iterations": int(keys["max_iterations"]) if "max_iterations" in keys else None,
        "best_objective": float(best[1]),
        "best_parameters": params,
        "parameter_sets": int(fit["simulations"]),
        "fit_elapsed_s": float(fit["elapsed_seconds"]),
        "source": str(out_dir),
    }


def pybnf_score(conf: Path, points: dict[str, dict[str, float]]) -> dict[str, float]:
    """PyBNF's objective at named parameter sets (native values); run with PyBNF's Python.

    Builds the configuration and the algorithm as ``pybnf -c`` does (in the conf's
    folder, which must be a scratch copy: PyBNF creates its output folder there), then
    simulates each point in-process and scores it with the configured objective and
    constraints, as ``Algorithm.add_to_trajectory`` does.
    """
    from pybnf.algorithms import core
    from pybnf.pset import PSet
    from pybnf.pybnf import _create_algorithm, _prepare_run_directories, load_config

    os.chdir(conf.parent)
    config = load_config(conf.name)

    class Args:
        overwrite = True
        resume = None
        conf_file = conf.name

    _prepare_run_directories(config, Args())
    alg = _create_algorithm(config)
    cc = config.config
    scores = {}
    for label, values in points.items():
        pset = PSet([v.set_value(values[v.name], reflect=False) for v in alg.variables])
        pset.name = label
        job = core.Job(alg.model_list, pset, label, alg.sim_dir, cc["wall_time_sim"], None,
                       cc["normalization"], config.postprocessing, True,
                       stochastic_seed_policy=cc["stochastic_seed"])
        res = core.run_job(job)
        if getattr(res, "failed", False) or res.simdata is None:
            scores[label] = float("inf")
            continue
        res.normalize(cc["normalization"])
        res.postprocess_data(config.postprocessing)
        scores[label] = float(alg.objective.evaluate_multiple(
            res.simdata, alg.exp_data, pset, config.constraints))
    return scores


def _pybnf_eval_main(argv: list[str]) -> None:
    conf, points = Path(argv[0]).resolve(), json.loads(Path(argv[1]).read_text())
    scores = pybnf_score(conf, points)
    sys.stdout.write("PYBNF_SCORES " + json.dumps(scores) + "\n")


def _bng_dir() -> str | None:
    try:
        import bionetgen
    except ImportError:
        return os.environ.get("BNGPATH")
    hits = sorted(Path(bionetgen.__file__).parent.glob("bng-linux/BNG2.pl"))
    return str(hits[0].parent) if hits else os.environ.get("BNGPATH")


def score_with_pybnf(python: str, conf: Path, points: dict) -> dict[str, float]:
    """Run :func:`pybnf_score` under ``python`` on a scratch copy of the example folder."""
    with tempfile.TemporaryDirectory(prefix="pybnf-score-") as tmp:
        work = Path(tmp) / conf.parent.name
        shutil.copytree(conf.parent, work)
        copy = work / conf.name
        kept = [ln for ln in conf.read_text().splitlines()
                if ln.split("=", 1)[0].strip() not in ("output_dir", "parallel_count")]
        copy.write_text("\n".join([*kept, "parallel_count = 1",
                                    "output_dir = pybnf_score_output", ""]))
        pts = Path(tmp) / "points.json"
        pts.write_text(json.dumps(points))
        env = dict(os.environ)
        bng = _bng_dir()
        if bng:
            env["BNGPATH"] = bng
        out = subprocess.run([python, str(Path(__file__).resolve()), "_pybnf-eval",
                              str(copy), str(pts)], capture_output=True, text=True, env=env,
                             cwd=work, check=False)
        for line in out.stdout.splitlines():
            if line.startswith("PYBNF_SCORES "):
                return json.loads(line.split(" ", 1)[1])
        raise RuntimeError(f"PyBNF scoring failed for {conf}:\n{out.stdout[-2000:]}\n"
                           f"{out.stderr[-2000:]}")


# ------------------------------------------------------------ bngfit side
def on_pybnf_scale(ev, objfunc: str) -> float:
    """bngfit's Evaluation -> PyBNF's ``sos`` / ``chi_sq`` value (plus constraint penalty)."""
    import numpy as np

    if not ev.ok:
        return float("inf")
    n = ev.sigma.size
    data_nll = 0.5 * ev.chi2 + float(np.sum(np.log(ev.sigma))) + 0.5 * n * LOG_2PI
    penalty = ev.fval - data_nll
    if abs(penalty) < 1e-9 * max(1.0, abs(ev.fval)):
        penalty = 0.0  # rounding of the subtraction, no constraint term
    if objfunc == "sos":
        return ev.chi2 + penalty
    if objfunc == "chi_sq":
        return 0.5 * ev.chi2 + penalty
    raise ValueError(f"objfunc {objfunc!r}: no conversion to PyBNF's scale here")


def n_phases(objective) -> tuple[int, int]:
    """(model runs per evaluation, sensitivity parameters of the largest run)."""
    exps = objective.plan.experiments
    return (sum(1 + len(e.pre) for e in exps), max(len(e.sens_params) for e in exps))


def run_bngfit(conf: Path, objfunc: str, pybnf_params: dict, starts: int, seed: int,
               optimizer: str | None = None) -> dict:
    import bngfit
    from bngfit.problem._scales import scale_codes, unscale

    t0 = time.perf_counter()
    problem = bngfit.load_problem(conf)
    objective = bngfit.Objective(problem)
    # the CLI's default: least_squares where there is a sum of squares, else fides
    optimizer = optimizer or ("least_squares" if objective.has_residuals else "fides")
    r = bngfit.fit(problem, optimizer=optimizer, n_starts=starts, rng=seed,
                   engine="sequential")
    wall = time.perf_counter() - t0  # load + fit (the model is compiled inside)
    phases, n_sens = n_phases(objective)
    at_pybnf = objective(problem.x_from_native(pybnf_params), sensi=0)
    best = objective(r.best.x, sensi=0)
    native = unscale(r.best.x, scale_codes(problem.x_scales))
    return {
        "best_fval": r.best_fval,
        "best_pybnf_scale": on_pybnf_scale(best, objfunc),
        "best_parameters": dict(zip(problem.x_names, map(float, native), strict=True)),
        "fval_at_pybnf_best": at_pybnf.fval,
        "pybnf_scale_at_pybnf_best": on_pybnf_scale(at_pybnf, objfunc),
        "evaluations": r.n_fval,
        "phases": phases,
        "sens_params": n_sens,
        "optimizer": r.optimizer,
        "settings": {k: v for k, v in r.settings.items() if isinstance(v, int | float | str)},
        "wall_s": wall,
    }


# ------------------------------------------------------------ table
def _examples(data: dict, outputs: list[str]) -> dict[str, dict]:
    ex = {e["name"]: dict(e) for e in data.get("examples", [])}
    for spec in outputs:
        name, _, folder = spec.partition("=")
        run = read_pybnf_output(name, Path(folder))
        entry = ex.setdefault(name, {"name": name, "conf": None})
        for key in ("fit_type", "objfunc", "population_size", "max_iterations"):
            entry[key] = run[key]
        entry["runs"] = [run]
    return ex


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_pybnf-eval":
        _pybnf_eval_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=DATA, help="PyBNF results JSON")
    ap.add_argument("--pybnf-output", action="append", default=[], metavar="NAME=DIR",
                    help="read example NAME's PyBNF run from its output folder instead")
    ap.add_argument("--conf", action="append", default=[], metavar="NAME=CONF",
                    help="configuration of an example not in the JSON")
    ap.add_argument("--only", default="", help="comma-separated example names")
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--optimizer", default=None, help="bngfit optimizer (default: as the CLI)")
    ap.add_argument("--pybnf-python", default=None,
                    help="a Python with pybnf installed: PyBNF also scores bngfit's best")
    ap.add_argument("--write-json", type=Path, default=None,
                    help="write the PyBNF records and bngfit's results here")
    args = ap.parse_args()

    data = json.loads(args.results.read_text()) if args.results.is_file() else {}
    examples = _examples(data, args.pybnf_output)
    for spec in args.conf:
        name, _, conf = spec.partition("=")
        examples.setdefault(name, {"name": name, "runs": []})["conf"] = conf
    only = {s for s in args.only.split(",") if s}
    rows, report = [], []
    for name, ex in examples.items():
        if only and name not in only:
            continue
        conf = Path(ex["conf"]) if ex.get("conf") else None
        if conf is not None and not conf.is_absolute():
            conf = SHARED / conf
        if conf is None or not conf.is_file() or not ex.get("runs"):
            print(f"{name}: configuration or PyBNF run missing, skipped", file=sys.stderr)
            continue
        runs = sorted(ex["runs"], key=lambda r: r["best_objective"])
        top = runs[0]
        b = run_bngfit(conf, ex["objfunc"], top["best_parameters"], args.starts, args.seed,
                       args.optimizer)
        check = (b["pybnf_scale_at_pybnf_best"] - top["best_objective"]) / max(
            abs(top["best_objective"]), 1e-300)
        pybnf_at_bngfit = None
        if args.pybnf_python:
            pybnf_at_bngfit = score_with_pybnf(args.pybnf_python, conf,
                                               {"bngfit_best": b["best_parameters"]})
            pybnf_at_bngfit = pybnf_at_bngfit["bngfit_best"]
        sims = [r["parameter_sets"] * r.get("simulations_per_set", b["phases"]) for r in runs]
        walls = [r.get("fit_elapsed_s") for r in runs]
        rows.append((name, ex["objfunc"], ex["fit_type"], ex.get("population_size"),
                     ex.get("max_iterations"), len(runs), top["best_objective"],
                     runs[-1]["best_objective"], b["best_pybnf_scale"], pybnf_at_bngfit, check,
                     runs[0]["parameter_sets"], sims[0], b["evaluations"],
                     b["evaluations"] * b["phases"], b["sens_params"], b["optimizer"], walls[0],
                     b["wall_s"]))
        report.append({"name": name, "conf": str(conf), "pybnf_runs": runs, "bngfit": b,
                       "pybnf_at_bngfit_best": pybnf_at_bngfit, "check_rel": check})

    hdr = (f"{'example':<9} {'obj':<6} {'alg':<3} {'pop':>3} {'it':>3} {'runs':>4} "
           f"{'PyBNF best':>12} {'(worst run)':>12} {'bngfit best':>12} {'PyBNF@bngfit':>12} "
           f"{'check':>8} {'P sets':>6} {'P sims':>6} {'b evals':>7} {'b sims':>6} "
           f"{'sens':>4} {'b opt':<13} {'P s':>6} {'b s':>6}")
    print(f"PyBNF {data.get('pybnf_version', '?')} (metaheuristic from the conf; P = PyBNF, "
          f"b = bngfit, {args.starts} starts, seed {args.seed}); objective on PyBNF's scale")
    print(hdr)

    def g(v):
        return f"{v:12.6g}" if isinstance(v, float) else f"{'-':>12}"

    for (name, obj, alg, pop, it, nruns, pbest, pworst, bbest, pab, check, psets, psims,
         bev, bsims, sens, opt, pwall, bwall) in rows:
        print(f"{name:<9} {obj:<6} {alg:<3} {pop or '-':>3} {it or '-':>3} {nruns:>4} "
              f"{g(pbest)} {g(pworst)} {g(bbest)} {g(pab)} {check:8.1e} {psets:>6} "
              f"{psims:>6} {bev:>7} {bsims:>6} {sens:>4} {opt:<13} "
              f"{(pwall or float('nan')):6.1f} {bwall:6.1f}")
    print("check: bngfit's objective at PyBNF's best parameters vs PyBNF's reported value "
          "(relative). P sets, P sims, P s: the best run (every run has the same budget); "
          "P sims = P sets x model runs per set; b sims = evaluations x runs per evaluation, "
          "each with forward sensitivities for 'sens' parameters; b s: load + fit here.")
    if args.write_json:
        args.write_json.write_text(json.dumps({"pybnf_version": data.get("pybnf_version"),
                                               "examples": report}, indent=1) + "\n")


if __name__ == "__main__":
    main()
