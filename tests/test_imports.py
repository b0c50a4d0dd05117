"""The library's import graph has no cycle, and every module imports on its own.

The graph is read statically from every ``import`` statement of ``balance_lite`` (function-local
ones included), an edge per imported ``balance_lite`` module; importing a package's submodule also
imports the package, so ``a -> pkg.mod`` adds the edge ``a -> pkg`` unless ``a`` is in ``pkg``.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "balance_lite"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The balance_lite modules ``name`` imports, resolved to modules that exist."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    # importing pkg.mod imports pkg first (unless we are inside pkg)
    for t in list(found):
        parent = t.rpartition(".")[0]
        while parent and not name.startswith(parent + ".") and parent != name:
            found.add(parent)
            parent = parent.rpartition(".")[0]
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    graph = {name: imports_of(name) for name in MODULES}
    assert "balance_lite.data.registry" in graph["balance_lite.models"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", ["balance_lite.data.download", "balance_lite.models", "balance_lite.strategies",
                                  "balance_lite.cli"])
def test_each_module_imports_first_in_a_fresh_interpreter(name):
    subprocess.run([sys.executable, "-c", f"import {name}"], check=True, cwd=ROOT)
