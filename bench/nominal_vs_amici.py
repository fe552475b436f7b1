"""Values at nominal against AMICI's reference log-likelihoods, problem by problem.

For every problem folder of a copy of the PEtab benchmark collection (for
example ``Benchmark-Models/`` of Benchmarking-Initiative/Benchmark-Models-PEtab)
this loads the problem, evaluates it at its nominal point at rtol 1e-10 /
atol 1e-12 and prints bngfit's llh (without priors), the log-prior, and the
difference to the llh AMICI's test suite records for it
(``tests/benchmark_models/benchmark_models.yaml`` of AMICI-dev/AMICI, where a
problem has one). A problem that does not load prints why::

    python bench/nominal_vs_amici.py PATH/Benchmark-Models [--only NAME ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bngfit

#: llh at the nominal point, from AMICI's benchmark test suite.
AMICI_LLH = {
    "Bachmann_MSB2011": 418.40573341425295, "Beer_MolBioSystems2014": 58622.9145631413,
    "Boehm_JProteomeRes2014": -138.22199693517703,
    "Borghans_BiophysChem1997": 83.3237191357272, "Brannmark_JBC2010": -141.889113770537,
    "Bruno_JExpBot2016": 46.688176988431806, "Chen_MSB2009": -115700.1192629893,
    "Crauste_CellSystems2017": -190.96521897435176, "Elowitz_Nature2000": 63.20279991419332,
    "Fiedler_BMCSystBiol2016": 58.58390161681, "Fujita_SciSignal2010": 53.08377736998929,
    "Isensee_JCB2018": -3949.375966548649, "Lucarelli_CellSystems2018": -1681.6059879426584,
    "Schwen_PONE2014": -943.9992988598723, "Smith_BMCSystBiol2013": -888198.436541014,
    "Sneyd_PNAS2002": 319.79177818768756, "Weber_BMC2015": -296.2017922646865,
    "Zheng_PNAS2012": 278.33353271001477,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="the collection's folder of problem folders")
    ap.add_argument("--only", nargs="*", default=None, help="problem folder names")
    args = ap.parse_args()
    print("problem\tseconds\tllh\tlog_prior\tAMICI llh\tllh - AMICI")
    for d in sorted(p for p in Path(args.folder).iterdir() if p.is_dir()):
        if args.only and d.name not in args.only:
            continue
        own = d / f"{d.name}.yaml"
        t = time.perf_counter()
        try:
            problem = bngfit.load_problem(own if own.is_file() else sorted(d.glob("*.yaml"))[0])
            ev = bngfit.Objective(problem, rtol=1e-10, atol=1e-12)(problem.x_nominal, sensi=0)
        except (bngfit.BngfitError, IndexError) as err:
            print(f"{d.name}\t\tnot evaluated: {str(err)[:200]}")
            continue
        ref = AMICI_LLH.get(d.name)
        cells = [f"{ev.llh:.10g}", f"{-ev.prior:.6g}"]  # prior: the negative log-prior
        cells += ["", ""] if ref is None else [f"{ref:.10g}", f"{ev.llh - ref:.3g}"]
        if not ev.ok:
            cells = [f"failed: {ev.message[:150]}", "", "", ""]
        print(f"{d.name}\t{time.perf_counter() - t:.1f}\t" + "\t".join(cells), flush=True)


if __name__ == "__main__":
    main()
