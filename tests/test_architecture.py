"""The import contract: archspec's folders are layers of one pipeline, and imports only go down.

read/validate (spec) -> expand/infer (graph) -> the consumers. A module may import
modules of its own layer or lower ones, never a higher one; no import cycle may
exist between modules (imports inside functions count: a lazy import is for
speed, never for dodging a cycle); nothing inside the package imports the facade
(`archspec.api`, or `archspec` itself).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "archspec"
LAYERS = (
    ("archspec.errors", "archspec.files", "archspec.version"),
    ("archspec.kinds",),
    ("archspec.spec",),
    ("archspec.graph",),
    ("archspec.keras_side",),
    ("archspec.training",),
    ("archspec.tools",),
    ("archspec.study",),
    ("archspec.cli",),
    ("archspec.api", "archspec"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name: str) -> int:
    best, depth = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    assert best >= 0, f"{name} belongs to no layer: add it to LAYERS"
    return best


def imports(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """archspec modules `name` imports (anywhere in the file) -> line of the first import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        while target and target not in known:  # `from pkg import name` where name is not a module
            target = target.rpartition(".")[0]
        if target and target != name:
            found.setdefault(target, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "archspec":
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "archspec":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                add(sub if sub in known else target, node.lineno)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_has_a_layer(graph) -> None:
    for name in graph:
        layer_of(name)


def upward(graph: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)}) at line {line}"
        for name, targets in graph.items()
        for target, line in targets.items()
        if layer_of(target) > layer_of(name)
    ]


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_imports_only_go_down(graph) -> None:
    wrong = upward(graph)
    assert not wrong, "\n".join(wrong)


def test_nothing_inside_imports_the_facade(graph) -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name not in ("archspec", "archspec.api")
        for target in targets
        if target in ("archspec", "archspec.api")
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles(graph) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_find_a_planted_violation(graph) -> None:
    """The checkers themselves: an upward import (inside a function) and a three-module cycle are found."""
    source = "def f():\n    from ..graph import expand\n"
    planted = PACKAGE / "kinds" / "_planted_upward.py"
    planted.write_text(source)
    try:
        mods = modules()
        found = imports("archspec.kinds._planted_upward", planted, set(mods))
    finally:
        planted.unlink()
    assert found == {"archspec.graph.expand": 2}
    assert upward({"archspec.kinds._planted_upward": found})
    ring = {
        "archspec.graph.a": {"archspec.graph.b": 1},
        "archspec.graph.b": {"archspec.graph.c": 1},
        "archspec.graph.c": {"archspec.graph.a": 1},
    }
    assert cycles(ring) == [["archspec.graph.a", "archspec.graph.b", "archspec.graph.c"]]
