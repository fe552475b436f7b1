"""Write the example's data from the closed-form solution of A <-> B.

A(t) = A0 (k2 + k1 exp(-(k1+k2) t)) / (k1+k2), B = A0 - A; with k2 = 0 (the
knockout) A = A0 exp(-k1 t). Gaussian noise, seed 20261124; one gross outlier in B
of the wild type, which the Student-t noise model of job.conf tolerates; the
knockout's B is reported as a fraction of its largest value (normalized data).
Run: python make_data.py  (rewrites the .exp files)
"""

import numpy as np

K1, K2 = 0.8, 0.6
TIMES = np.array([0.0, 0.5, 1, 2, 3, 4, 6, 8, 10])
SIGMA = 0.05
rng = np.random.default_rng(20261124)


def conversion(a0, k1, k2, t):
    a = a0 * (k2 + k1 * np.exp(-(k1 + k2) * t)) / (k1 + k2)
    return a, a0 - a


def write(name, columns, sd, sigma=SIGMA):
    header = "# time " + " ".join(columns) + "".join(f" {c}_SD" for c in sd)
    rows = []
    for i, t in enumerate(TIMES):
        cells = [f"{t:g}", *(f"{columns[c][i]:.6g}" for c in columns)]
        cells += [f"{sigma:.6g}"] * len(sd)
        rows.append(" ".join(cells))
    with open(name, "w") as out:
        out.write(header + "\n" + "\n".join(rows) + "\n")


for name, a0 in (("wildtype_r1.exp", 1.0), ("wildtype_r2.exp", 1.0), ("high.exp", 3.0)):
    a, b = conversion(a0, K1, K2, TIMES)
    a, b = a + rng.normal(0, SIGMA, a.size), b + rng.normal(0, SIGMA, b.size)
    if name == "wildtype_r1.exp":
        b[5] += 0.6  # a gross outlier
    write(name, {"A": a, "B": b}, sd=("A", "B"))
a, b = conversion(1.0, K1, 0.0, TIMES)
b = b + rng.normal(0, SIGMA, b.size)
write("knockout.exp", {"B": b / b.max()}, sd=("B",), sigma=SIGMA / b.max())
