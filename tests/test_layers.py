"""The architecture, checked: which layer may import which, and no import cycles.

Imports are read from the source with ``ast`` (nothing is executed). Imports
under ``if TYPE_CHECKING:`` count for the layer rules (a type is still a
dependency) but not for cycles, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = "chinwag"

# layer -> chinwag layers it may import (a layer may always import itself)
ALLOWED: dict[str, set[str]] = {
    "core": {"config"},
    "protocols": {"core", "config"},
    "storage": {"core", "config"},
    "client": {"protocols", "core", "config"},
    "transport": {"core", "protocols", "storage", "config", "logs"},
}
# Standard-library modules a pure layer must not touch.
IMPURE = {"asyncio", "socket", "sqlite3", "ssl", "selectors", "aiohttp", "asyncpg", "redis", "uvloop"}
PURE_LAYERS = {"core", "protocols"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported module, only under TYPE_CHECKING) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    is_pkg = path.name == "__init__.py"
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in typing_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = module.split(".")[: None if is_pkg else -1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, id(node) in typing_only))
            found.extend((f"{base}.{alias.name}", id(node) in typing_only) for alias in node.names)
    return found


def _graph() -> tuple[set[str], dict[str, list[tuple[str, bool]]]]:
    modules = {_module_name(p): p for p in (SRC / PKG).rglob("*.py")}
    graph: dict[str, list[tuple[str, bool]]] = {}
    for name, path in modules.items():
        graph[name] = _imports(path, name)
    return set(modules), graph


def _resolve(target: str, modules: set[str]) -> str | None:
    """The chinwag module an import names (``from x import name`` may name a module or an attribute)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


MODULES, GRAPH = _graph()

# Cycles made only of function-local imports, known and to be taken apart by the
# core/storage split of issue 13 step 1. A new cycle fails the test; so does one of
# these disappearing (then delete it here).
KNOWN_CYCLES = [
    ["chinwag.core.channels", "chinwag.core.commands", "chinwag.core.registered", "chinwag.core.users"],
    [
        "chinwag.storage.base",
        "chinwag.storage.memory",
        "chinwag.storage.postgres",
        "chinwag.storage.postgres.history",
        "chinwag.storage.postgres.rooms",
        "chinwag.storage.postgres.schema",
        "chinwag.storage.postgres.store",
        "chinwag.storage.sqlite",
        "chinwag.storage.sqlite_refold",
        "chinwag.storage.sqlite_rooms",
    ],
]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) in ALLOWED))
def test_layer_imports_only_what_it_may(module: str) -> None:
    layer = _layer(module)
    wrong = []
    for target, _ in GRAPH[module]:
        top = target.split(".")[0]
        if layer in PURE_LAYERS and top in IMPURE:
            wrong.append(target)
        if top != PKG:
            continue
        resolved = _resolve(target, MODULES)
        if resolved is None or resolved == PKG:
            continue
        other = _layer(resolved)
        if other != layer and other not in ALLOWED[layer]:
            wrong.append(resolved)
    assert sorted(set(wrong)) == [], f"{module} ({layer}) may not import these"


def test_no_import_cycles_between_modules() -> None:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, imports in GRAPH.items():
        for target, typing_only in imports:
            resolved = _resolve(target, MODULES) if target.startswith(PKG) else None
            # A package's __init__ re-exporting its children is not a cycle with them.
            if resolved and resolved != module and not typing_only and not module.startswith(resolved + "."):
                edges[module].add(resolved)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    assert sorted(cycles) == sorted(KNOWN_CYCLES), "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_imports() -> None:
    """The graph is not empty by mistake: the hub's known imports are found."""
    hub = {t for t, _ in GRAPH["chinwag.core.hub"]}
    assert "chinwag.core.events" in {_resolve(t, MODULES) for t in hub if t.startswith(PKG)}
    assert _layer("chinwag.transport.server") == "transport"
