"""Generate the example's measurements from the closed-form solution.

A(t) = A0 * (k2 + k1*exp(-(k1+k2) t)) / (k1+k2),  B(t) = A0 - A(t)
(mass is conserved, B(0) = 0). Gaussian noise with the true sigma, seed 20261123.
Run: python make_data.py  (rewrites measurements.tsv)
"""

import numpy as np

TRUE = {"k1": 0.8, "k2": 0.6, "scale_B": 2.0, "sigma_B": 0.05}
DOSES = {"low": 1.0, "high": 3.0}
TIMES = [0.5, 1, 2, 3, 4, 6, 8, 10]
SIGMA_A = 0.1

rng = np.random.default_rng(20261123)
lines = ["observableId\tsimulationConditionId\ttime\tmeasurement"]
for cond, a0 in DOSES.items():
    for t in TIMES:
        k1, k2 = TRUE["k1"], TRUE["k2"]
        a = a0 * (k2 + k1 * np.exp(-(k1 + k2) * t)) / (k1 + k2)
        b = a0 - a
        ma = a + SIGMA_A * rng.standard_normal()
        mb = TRUE["scale_B"] * b + TRUE["sigma_B"] * rng.standard_normal()
        lines.append(f"obs_A\t{cond}\t{t:g}\t{ma:.6f}")
        lines.append(f"obs_B\t{cond}\t{t:g}\t{mb:.6f}")
with open("measurements.tsv", "w") as fh:
    fh.write("\n".join(lines) + "\n")
