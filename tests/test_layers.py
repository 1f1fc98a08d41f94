"""The layered layout (ARCHITECTURE.md): every import inside ``ntkmixed/`` — at module
level or inside a function — goes down the layers, and no modules import each other in a
circle. Also: no module grows past 400 lines without saying why at its top."""

from __future__ import annotations

import ast
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

PACKAGE = Path(os.environ.get("NTKMIXED_PACKAGE_DIR", Path(__file__).resolve().parents[1] / "ntkmixed"))

#: top-level component -> layer; an import may only reach the same component or a lower layer
LAYERS = {
    "_version": 0, "exceptions": 0, "_runtime": 0,
    "_validation": 1,
    "data": 2,
    "estimation": 3,
    "kernels": 4,
    "models": 5,
    "association": 6,
    "experiments": 7,
    "cli": 8,
    "": 9,  # ntkmixed/__init__.py, the lazy public API
}
LINE_LIMIT = 400


def _module_name(path: Path) -> str:
    parts = ["ntkmixed", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(name: str, path: Path) -> set[str]:
    """ntkmixed modules that ``name`` imports anywhere in its body (not under TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ntkmixed")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "ntkmixed":
                # `from .pkg import sub` imports the submodule when there is one
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
                found.update(subs if subs and len(subs) == len(node.names) else [target, *subs])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    found.discard(name)
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_belongs_to_a_layer():
    unknown = sorted({_component(m) for m in MODULES} - set(LAYERS))
    assert not unknown, f"top-level modules without a layer in tests/test_layers.py: {unknown}"


def test_imports_only_go_down_the_layers():
    upward = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if _component(source) != _component(target) and LAYERS[_component(target)] >= LAYERS[_component(source)]
    ]
    assert not upward, "imports that do not go down a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_cycles_and_upward_imports():
    """The checks above can fail: a made-up graph with a circle is reported."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    # a function-level import is found too
    assert "ntkmixed.data.qc" in GRAPH["ntkmixed.data.plink"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short_or_say_why(name):
    path = MODULES[name]
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines > LINE_LIMIT:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert f"over {LINE_LIMIT} lines" in docstring.lower(), (
            f"{path.relative_to(PACKAGE.parent)} has {lines} lines; split it or say why at its top "
            f"(a docstring sentence containing 'over {LINE_LIMIT} lines')"
        )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                strongconnect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return components


if __name__ == "__main__":
    # python tests/test_layers.py: the import graph between top-level components and every
    # cycle. NTKMIXED_PACKAGE_DIR=<another checkout>/ntkmixed shows that checkout's graph.
    edges = Counter((_component(s) or "<api>", _component(t) or "<api>") for s, ts in GRAPH.items() for t in ts
                    if _component(s) != _component(t))
    print(f"{len(MODULES)} modules under {PACKAGE}")
    for (source, target), count in sorted(edges.items()):
        print(f"  {source:>12} -> {target:<12} ({count} import{'s' if count > 1 else ''})")
    cycles = _cycles(GRAPH)
    print(f"{len(cycles)} import cycle(s)" + "".join(f"\n  {' -> '.join(c)}" for c in cycles))
    sys.exit(1 if cycles else 0)
