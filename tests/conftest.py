"""Shared fixtures: paths to ../shared and a writer of small PEtab problems."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLE = REPO / "examples" / "conversion" / "problem.yaml"
# A <-> B in one compartment (Antimony), for small test problems
CONVERSION = """
model conversion
  compartment cell = 1;
  species A in cell, B in cell;
  A = 1; B = 0;
  k1 = 0.8; k2 = 0.6;
  fwd: A -> B; k1*A;
  rev: B -> A; k2*B;
end
"""


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test when that material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared material not found: {path}")
    return path


def central_grad(obj, x, h: float = 1e-5):
    """Central differences of ``obj(x, sensi=1).fval``: the gradient's oracle.

    Evaluated with sensitivities on, exactly the solver settings of the
    gradient it is compared with.
    """
    import numpy as np

    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (obj(x + e, sensi=1).fval - obj(x - e, sensi=1).fval) / (2 * h)
    return g


def _tsv(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["\t".join(cols)]
    lines += ["\t".join("" if r.get(c) is None else str(r.get(c)) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def write_problem(
    folder: Path,
    *,
    model: str,
    parameters: list[dict],
    observables: list[dict],
    measurements: list[dict],
    conditions: list[dict] | None = None,
    model_name: str = "model.ant",
) -> Path:
    """Write a PEtab v1 problem into ``folder`` and return its YAML path.

    ``model`` is the model file's text (Antimony by default, see
    ``model_name``); the tables are lists of row dicts (missing cells empty).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / model_name).write_text(model)
    (folder / "parameters.tsv").write_text(_tsv(parameters))
    (folder / "observables.tsv").write_text(_tsv(observables))
    (folder / "measurements.tsv").write_text(_tsv(measurements))
    conds = conditions if conditions is not None else [{"conditionId": "c0"}]
    (folder / "conditions.tsv").write_text(_tsv(conds))
    yaml_path = folder / "problem.yaml"
    yaml_path.write_text(
        "format_version: 1\n"
        "parameter_file: parameters.tsv\n"
        "problems:\n"
        f"- sbml_files: [{model_name}]\n"
        "  condition_files: [conditions.tsv]\n"
        "  observable_files: [observables.tsv]\n"
        "  measurement_files: [measurements.tsv]\n"
    )
    return yaml_path


@pytest.fixture
def problem_writer(tmp_path):
    """``problem_writer(name, **tables)`` writes a problem under tmp_path/name."""

    def make(name: str = "p", **kwargs) -> Path:
        return write_problem(tmp_path / name, **kwargs)

    return make
