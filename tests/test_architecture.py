"""The package's shape: no import cycle, no imports hidden in functions.

The layers between stages are import-linter contracts (``pyproject.toml``,
run by ``lint-imports`` in CI); these tests check what the contracts do not.
"""

from __future__ import annotations

import ast

import grimp

from tests.helpers import REPO

SRC = REPO / "src" / "bngfit"


def _graph() -> dict[str, set[str]]:
    g = grimp.build_graph("bngfit", exclude_type_checking_imports=True)
    return {m: {t for t in g.find_modules_directly_imported_by(m) if t.startswith("bngfit")}
            for m in g.modules if m.startswith("bngfit")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    graph = _graph()
    # the package root wires readers and engine together and imports everything;
    # modules reach it only for its submodule _compat
    graph.pop("bngfit", None)
    for targets in graph.values():
        targets.discard("bngfit")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _inner_bngfit_imports(path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (
                    node.level > 0 or (node.module or "").startswith("bngfit")):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(
                    a.name.startswith("bngfit") for a in node.names):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_bngfit_import_inside_a_function():
    # a function-level import of our own code hides a cycle or a layering breach
    found = [hit for p in sorted(SRC.rglob("*.py")) for hit in _inner_bngfit_imports(p)]
    assert found == []


def test_no_test_module_imports_another_test_module():
    tests = REPO / "tests"
    found = []
    for p in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if name.split(".")[-1].startswith("test_") or (
                        node.level == 0 and name.startswith("tests.test_")):
                    found.append(f"{p.relative_to(tests)}:{node.lineno} {name}")
    assert found == []
