"""bngfit's comment rule for .conf lines against PyBNF's own grammar, line by line.

PyBNF is not a dependency: give the folder of a PyBNF checkout (its
``pybnf/parse.py`` is loaded from there, with pyparsing; nothing of it is kept
in bngfit). For every line of every ``.conf`` below ``EXAMPLES`` that PyBNF
reads (not blank, not a whole-line comment), this checks that taking the
comment off the bngfit way (:func:`bngfit.pybnf.conf._conf.uncomment`) leaves
PyBNF's own reading of the line unchanged, and that bngfit keeps every line
PyBNF's grammar accepts. It prints the counts and each line that differs::

    python bench/pybnf_lexical.py PYBNF_CHECKOUT [EXAMPLES]

``EXAMPLES`` defaults to ``PYBNF_CHECKOUT/examples``. Lines PyBNF's grammar
itself refuses are counted apart (PyBNF reads some keys outside the grammar).
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

from bngfit.pybnf.conf._conf import uncomment


def pybnf_parse(checkout: Path):
    """PyBNF's ``parse(line)``, loaded from its source with its package imports stubbed."""
    source = (checkout / "pybnf" / "parse.py").read_text()
    package = types.ModuleType("pybnf")
    package.__path__ = []
    printing = types.ModuleType("pybnf.printing")
    printing.PybnfError = type("PybnfError", (Exception,), {})
    printing.print1 = print
    config = types.ModuleType("pybnf.config")
    config.Configuration = dict
    sys.modules.update({"pybnf": package, "pybnf.printing": printing, "pybnf.config": config})
    module = types.ModuleType("pybnf.parse")
    module.__package__ = "pybnf"
    exec(compile(source, str(checkout / "pybnf" / "parse.py"), "exec"), module.__dict__)
    return module.parse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", type=Path)
    ap.add_argument("examples", type=Path, nargs="?")
    args = ap.parse_args()
    parse = pybnf_parse(args.checkout)
    examples = args.examples or args.checkout / "examples"
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


if __name__ == "__main__":
    main()
