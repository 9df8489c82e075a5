"""The import graph: no circles among Korund's modules, and layers that only
point down -- korund -> web -> appliance (features -> base) -> drivers.
Imports inside functions count: hiding a circle there only defers it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PACKAGES = ("appliance", "web", "drivers", "korund", "devtools")
# the feature-free ground floor, and what sits above the features in the core
BASE = "appliance.base"
ABOVE_FEATURES = ("appliance.render", "appliance.apply", "appliance.status", "appliance.agi")


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (TOP / pkg).rglob("*.py"):
            parts = list(path.relative_to(TOP).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
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
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer(name: str) -> str:
    if name.startswith(BASE):
        return "base"
    if name.startswith(ABOVE_FEATURES):
        return "core-top"
    return name.split(".")[0] if not name.startswith("appliance.") else "feature"


# who may not import whom
FORBIDDEN = {
    "base": {"feature", "core-top", "web", "korund", "devtools"},
    "feature": {"core-top", "web", "korund", "devtools"},
    "core-top": {"web", "korund", "devtools"},
    "web": {"korund"},
    "drivers": {"base", "feature", "core-top", "web", "korund", "devtools", "appliance"},
    "devtools": {"web", "korund"},
}


def test_no_import_circles(graph):
    assert circles(graph) == []


def test_layers_point_down(graph):
    wrong = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                   if layer(b) in FORBIDDEN.get(layer(a), set()))
    assert wrong == []


def test_the_checker_sees_a_circle_and_a_crossing():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("appliance.base.store") == "base" and layer("appliance.lines.store") == "feature"
    assert "web" in FORBIDDEN[layer("appliance.apply")]


def test_every_module_is_seen(graph):
    assert {"appliance.base.store", "appliance.lines.render", "web", "korund.cli", "drivers.spans"} <= set(graph)
    # a function-level import counts
    assert "appliance.base.supervisor" in graph["appliance.base.ami"]
