"""bngfit's reading of PyBNF's .conf, .exp and .prop files against PyBNF's own readers.

PyBNF is not a dependency: give the folder of a PyBNF checkout (its
``pybnf/parse.py``, ``data.py``, ``constraint.py`` and ``printing.py`` are
loaded from there, with numpy and pyparsing; nothing of it is kept in bngfit).

``.conf``
    For every line of every ``.conf`` below ``EXAMPLES`` that PyBNF reads (not
    blank, not a whole-line comment), taking the comment off the bngfit way
    (:func:`bngfit.pybnf.conf._conf.uncomment`) must leave PyBNF's own reading
    of the line unchanged, and bngfit must keep every line PyBNF's grammar
    accepts. Lines PyBNF's grammar itself refuses are counted apart (PyBNF
    reads some keys outside the grammar).
``.exp``
    Every ``.exp`` file of the checkout is read by PyBNF's ``Data`` and by
    :func:`bngfit.pybnf._exp.read_exp`: both must give the same column names
    and the same numbers (NaN where missing). Where bngfit refuses a file PyBNF
    reads, the reason is printed, and bngfit's lexical reading (header cells,
    rows and cells as numbers, before any check of the columns' meaning) is
    still compared with PyBNF's numbers.
``.prop`` / ``.con``
    Every constraint file of the checkout is read by PyBNF's
    ``ConstraintSet.load_constraint_file`` and by
    :func:`bngfit.pybnf.bpsl.read_prop`: the same constraints must come out
    (kind, sides, ``or equal``, points and windows, weight, altpenalty, min,
    pmin, pmax, tolerance), compared in PyBNF's terms (it turns ``>`` into
    ``<`` by swapping the sides).

It prints the counts and each file or line that differs::

    python bench/pybnf_lexical.py PYBNF_CHECKOUT [EXAMPLES] [--only conf exp prop]

``EXAMPLES`` (for ``.conf`` files only) defaults to ``PYBNF_CHECKOUT/examples``;
``.exp`` and ``.prop`` files are searched in the whole checkout. The ``.conf``
check takes minutes (PyBNF builds its grammar again for every line), the
others seconds; ``--only`` picks the formats.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import types
from pathlib import Path

import numpy as np

from bngfit.errors import InputError
from bngfit.files import read_text
from bngfit.problem._constraints import Constraint, Enforcement, PenaltyModel
from bngfit.pybnf._exp import _number, _split, read_exp
from bngfit.pybnf.bpsl import read_prop
from bngfit.pybnf.conf._conf import uncomment


def pybnf_module(checkout: Path, name: str) -> types.ModuleType:
    """PyBNF's module ``pybnf.<name>``, loaded from its source in ``checkout``.

    Its package is a stub; ``printing`` is PyBNF's own (it imports nothing),
    ``config`` a stub (``parse`` only needs its name ``Configuration``).
    """
    if "pybnf" not in sys.modules or not hasattr(sys.modules["pybnf"], "_bench_stub"):
        package = types.ModuleType("pybnf")
        package.__path__ = []
        package._bench_stub = True
        config = types.ModuleType("pybnf.config")
        config.Configuration = dict
        sys.modules.update({"pybnf": package, "pybnf.config": config})
        pybnf_module(checkout, "printing")
    full = f"pybnf.{name}"
    if full in sys.modules:
        return sys.modules[full]
    path = checkout / "pybnf" / f"{name}.py"
    module = types.ModuleType(full)
    module.__package__ = "pybnf"
    sys.modules[full] = module
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


# ---------------------------------------------------------------- .conf lines
def compare_conf(checkout: Path, examples: Path) -> None:
    parse = pybnf_module(checkout, "parse").parse
    files = sorted(examples.rglob("*.conf"))
    n_lines = same = refused_by_pybnf = 0
    differ = []
    for path in files:
        for number, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            n_lines += 1
            try:
                theirs = parse(raw)
            except Exception:  # noqa: BLE001 - PyBNF's own grammar refuses it
                refused_by_pybnf += 1
                continue
            ours = uncomment(raw)
            try:
                again = parse(ours) if ours else None
            except Exception as err:  # noqa: BLE001
                again = f"refused: {type(err).__name__}"
            if again == theirs:
                same += 1
            else:
                differ.append(f"{path.relative_to(examples)}:{number}: {raw!r} -> {ours!r}")
    print(f"{len(files)} .conf files, {n_lines} lines read by PyBNF; its grammar refuses "
          f"{refused_by_pybnf}; of the rest, bngfit's comment rule leaves PyBNF's reading "
          f"unchanged on {same}, changes it on {len(differ)}")
    for line in differ:
        print("  " + line)


# ---------------------------------------------------------------- .exp tables
def _same_numbers(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _bngfit_exp(path: Path) -> tuple[list[str], np.ndarray]:
    """bngfit's column names and numbers, in file order (time, values, _SD columns)."""
    t = read_exp(path)
    columns = [t.time]
    for name in t.header[1:]:
        columns.append(t.sd[name[:-3]] if name.endswith("_SD") else t.values[name])
    return list(t.header), np.column_stack(columns)


def _bngfit_exp_lexical(path: Path) -> tuple[int, np.ndarray]:
    """bngfit's lexical reading: the number of header cells and the rows as numbers."""
    f = str(path)
    header, _, rows, lines = _split(read_text(path, "data file"), f)
    data = [[_number(cell, f, line, header[min(j, len(header) - 1)]) for j, cell in enumerate(r)]
            for r, line in zip(rows, lines, strict=True)]
    return len(header), np.array(data)


def compare_exp(checkout: Path) -> None:
    Data = pybnf_module(checkout, "data").Data  # noqa: N806 - PyBNF's class
    files = sorted(checkout.rglob("*.exp"))
    same, differ, both_refuse, lenient, refused = 0, [], [], [], []
    for path in files:
        name = path.relative_to(checkout)
        try:
            d = Data(file_name=str(path))
            theirs = ([d.headers[j] for j in range(len(d.headers))], np.asarray(d.data, float))
        except Exception as err:  # noqa: BLE001 - PyBNF refuses the file
            theirs = f"{type(err).__name__}: {err}"
        try:
            ours = _bngfit_exp(path)
        except InputError as err:
            ours = str(err)
        if isinstance(theirs, str) and isinstance(ours, str):
            both_refuse.append(f"{name}\n      PyBNF: {theirs}\n      bngfit: {ours}")
        elif isinstance(theirs, str):
            lenient.append(f"{name}\n      PyBNF: {theirs}")
        elif isinstance(ours, str):
            try:
                n_header, data = _bngfit_exp_lexical(path)
                lexical = ("lexically the same" if n_header == len(theirs[0])
                           and _same_numbers(data, theirs[1]) else "lexically DIFFERENT")
            except InputError as err:
                lexical = f"lexically refused too: {err}"
            refused.append((lexical, f"{name}: {ours}"))
        elif theirs[0] == ours[0] and _same_numbers(theirs[1], ours[1]):
            same += 1
        else:
            differ.append(f"{name}: PyBNF {theirs[0]} {theirs[1].shape}, "
                          f"bngfit {ours[0]} {ours[1].shape}")
    n_lexical = sum(1 for lexical, _ in refused if lexical == "lexically the same")
    print(f"{len(files)} .exp files: PyBNF and bngfit read the same columns and numbers from "
          f"{same}, differ on {len(differ)}; both refuse {len(both_refuse)}; bngfit reads "
          f"{len(lenient)} that PyBNF refuses; bngfit refuses {len(refused)} that PyBNF reads "
          f"({n_lexical} of them lexically the same: same cells, same numbers)")
    for line in differ:
        print("  differ: " + line)
    for line in both_refuse:
        print("  both refuse: " + line)
    for line in lenient:
        print("  only bngfit reads: " + line)
    for lexical, line in refused:
        print(f"  only PyBNF reads ({lexical}): {line}")


# ---------------------------------------------------------------- .prop constraints
def _pybnf_terms(c) -> dict:
    """A PyBNF constraint object as plain values."""
    kind = type(c).__name__
    out = dict(kind=kind, sides=(c.quant1, c.quant2), or_equal=c.or_equal, weight=c.weight,
               min=c.min_penalty, alt=(c.alt1, c.alt2), pmin=c.pmin, pmax=c.pmax,
               tolerance=c.tolerance)
    if kind == "AtConstraint":
        out["at"] = (c.atvar, c.atval, c.repeat, c.before)
    elif kind == "SplitAtConstraint":
        out["at"] = ((c.atvar1, c.atval1, c.before1), (c.atvar2, c.atval2, c.before2))
    elif kind == "BetweenConstraint":
        out["window"] = (c.startvar, c.startval, c.endvar, c.endval, c.once)
    return out


_KINDS = {Enforcement.AT: "AtConstraint", Enforcement.ALWAYS: "AlwaysConstraint",
          Enforcement.ONCE: "OnceConstraint", Enforcement.BETWEEN: "BetweenConstraint",
          Enforcement.ONCE_BETWEEN: "BetweenConstraint"}


def _bngfit_in_pybnf_terms(c: Constraint) -> dict:
    """A bngfit constraint as PyBNF would hold it: '<' only (sides swapped for '>')."""
    static = c.model is PenaltyModel.STATIC
    kind = "SplitAtConstraint" if c.rhs_at is not None else _KINDS[c.enforcement]
    out = dict(kind=kind, sides=(c.ineq.lesser, c.ineq.greater), or_equal=c.ineq.or_equal,
               weight=c.weight if static else None, min=c.min_penalty if static else None,
               alt=(None, None) if c.alt is None else (c.alt.lesser, c.alt.greater),
               pmin=None if static else c.pmin, pmax=None if static else c.pmax,
               tolerance=None if static else c.tolerance)
    if kind == "AtConstraint":
        out["at"] = (c.at.var, c.at.value, c.at.everytime, c.at.before)
    elif kind == "SplitAtConstraint":
        first, second = (c.rhs_at, c.at) if c.ineq.op.startswith(">") else (c.at, c.rhs_at)
        out["at"] = ((first.var, first.value, first.before),
                     (second.var, second.value, second.before))
    elif kind == "BetweenConstraint":
        out["window"] = (c.start.var, c.start.value, c.end.var, c.end.value,
                         c.enforcement is Enforcement.ONCE_BETWEEN)
    return out


def _equal(a: dict, b: dict) -> bool:
    """Equal, with NaN equal to NaN."""
    def norm(x):
        if isinstance(x, float) and math.isnan(x):
            return "nan"
        return tuple(norm(y) for y in x) if isinstance(x, tuple) else x
    return {k: norm(v) for k, v in a.items()} == {k: norm(v) for k, v in b.items()}


def _first(err: InputError) -> str:
    """The error, or its first issue and how many more there are."""
    if len(err.issues) == 1:
        return str(err)
    return f"{err.issues[0].format()} (and {len(err.issues) - 1} more lines)"


def compare_prop(checkout: Path) -> None:
    ConstraintSet = pybnf_module(checkout, "constraint").ConstraintSet  # noqa: N806
    files = sorted(p for p in checkout.rglob("*") if p.suffix in (".prop", ".con"))
    same = n_constraints = 0
    differ, both_refuse, lenient, refused = [], [], [], []
    for path in files:
        name = path.relative_to(checkout)
        cs = ConstraintSet("model", "suffix")
        try:
            cs.load_constraint_file(str(path))
            theirs = [_pybnf_terms(c) for c in cs.constraints]
        except Exception as err:  # noqa: BLE001 - PyBNF refuses the file
            theirs = f"{type(err).__name__}: {err}"
        try:
            read = read_prop(path)
            ours = [_bngfit_in_pybnf_terms(c) for c in read]
        except InputError as err:
            ours = _first(err)
        if isinstance(theirs, str) and isinstance(ours, str):
            both_refuse.append(f"{name}\n      PyBNF: {theirs.strip()}\n      bngfit: {ours}")
        elif isinstance(theirs, str):
            lenient.append(f"{name}\n      PyBNF: {theirs.strip()}")
        elif isinstance(ours, str):
            refused.append(f"{name}: {ours}")
        elif len(theirs) == len(ours) and all(map(_equal, theirs, ours)):
            same += 1
            n_constraints += len(ours)
        else:
            pairs = zip(theirs, ours, strict=False)  # the counts may differ
            bad = next((i for i, (a, b) in enumerate(pairs) if not _equal(a, b)),
                       min(len(theirs), len(ours)))
            where = f"line {read[bad].line}" if bad < len(read) else "the count"
            differ.append(f"{name}, {where}: PyBNF "
                          f"{theirs[bad] if bad < len(theirs) else len(theirs)}, bngfit "
                          f"{ours[bad] if bad < len(ours) else len(ours)}")
    print(f"{len(files)} .prop/.con files: PyBNF and bngfit read the same constraints from "
          f"{same} ({n_constraints} constraints), differ on {len(differ)}; both refuse "
          f"{len(both_refuse)}; bngfit reads {len(lenient)} that PyBNF refuses; bngfit "
          f"refuses {len(refused)} that PyBNF reads")
    for line in differ:
        print("  differ: " + line)
    for line in both_refuse:
        print("  both refuse: " + line)
    for line in lenient:
        print("  only bngfit reads: " + line)
    for line in refused:
        print("  only PyBNF reads: " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", type=Path)
    ap.add_argument("examples", type=Path, nargs="?")
    ap.add_argument("--only", nargs="+", choices=("conf", "exp", "prop"),
                    default=("conf", "exp", "prop"))
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)  # PyBNF logs every constraint it loads
    if "conf" in args.only:
        compare_conf(args.checkout, args.examples or args.checkout / "examples")
    if "exp" in args.only:
        compare_exp(args.checkout)
    if "prop" in args.only:
        compare_prop(args.checkout)


if __name__ == "__main__":
    main()
