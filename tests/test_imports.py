"""The package's import graph: every module imports alone in a fresh interpreter, and no two modules
import each other at module level, directly or through others (lazy imports inside functions are the
sanctioned way to reach upward, as ``scanner/cli`` does)."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from paths import REPO

PACKAGE = REPO / "scanner"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def _module_level_imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports when it is imported (top level, not in functions)."""
    package = (
        name if name in known and any(k.startswith(name + ".") for k in known) else name.rpartition(".")[0]
    )
    found: set[str] = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If | ast.Try):  # `if TYPE_CHECKING:` blocks are not run
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes = list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.Import):
                found.update(a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (n.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in n.names)
    return {m for m in found if m in known and m != name}


def test_no_import_cycles_at_module_level() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _module_level_imports(name, tree, known) for name, tree in modules.items()}
    # a package's __init__ is imported before its submodules: importing a.b imports a
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "module-level import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_every_module_imports_alone() -> None:
    names = sorted(n for n in _modules() if not n.endswith("__main__"))  # __main__ runs the program

    def load(name: str) -> tuple[str, str]:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60, cwd=REPO
        )
        return name, (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode else ""

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f"{n}: {e}" for n, e in pool.map(load, names) if e]
    assert not failures, "\n".join(failures)


def _all_imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Every package module ``name`` imports anywhere (lazy imports inside functions included)."""
    wrapper = ast.Module(
        body=[n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)], type_ignores=[]
    )
    return _module_level_imports(name, wrapper, known)


def test_no_cycles_between_modules_even_through_lazy_imports() -> None:
    """Lazy imports keep start-up fast; they must not hide a cycle between two modules."""
    modules = _modules()
    known = set(modules)
    graph = {
        n: {m for m in _all_imports(n, t, known) if not m.startswith(n + ".")} for n, t in modules.items()
    }
    pairs = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and a in graph.get(b, set()))
    assert not pairs, "modules that import each other:\n" + "\n".join(pairs)
