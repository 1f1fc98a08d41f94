"""Writes ``api/index.rst``, the API reference, from ``ntkmixed.__all__``.

Every name exported at ``ntkmixed.*`` and every public member of a public submodule
(its ``__all__``, or else the functions and classes it defines) gets an autosummary entry,
grouped by the layer that defines it. Each object is listed once, under its first public
name, so a name exported both at the top level and in a submodule is documented at the
top level. Nothing here needs editing when a public name is added; a new layer only needs
a title in ``SECTIONS`` (until then it is listed under its folder name).
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path

import ntkmixed

#: defining package -> section title, in page order
SECTIONS = {
    "ntkmixed.models": "Models and results",
    "ntkmixed.kernels": "Kernels",
    "ntkmixed.association": "Association tests",
    "ntkmixed.data": "Data: genotypes, PLINK files, phenotypes, QC and the example",
    "ntkmixed.experiments": "Experiments: simulation and method comparison",
    "ntkmixed.estimation": "Estimation: engines, problems and estimators",
    "ntkmixed.exceptions": "Errors and warnings",
}


def _section(module_name: str) -> str:
    for prefix in SECTIONS:
        if module_name == prefix or module_name.startswith(prefix + "."):
            return prefix
    return ".".join(module_name.split(".")[:2])


def _members(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name for name, value in vars(module).items()
        if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", "").startswith(module.__name__)
    ]


def _documentable(value: object) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value)


def collect() -> dict[str, dict[str, list[str]]]:
    """Section -> {public module path ('ntkmixed' or a submodule) -> member names}."""
    seen: set[int] = set()
    grouped: dict[str, dict[str, list[str]]] = {}

    def add(path: str, name: str, value: object) -> None:
        if not _documentable(value) or id(value) in seen:
            return
        seen.add(id(value))
        grouped.setdefault(_section(value.__module__), {}).setdefault(path, []).append(name)

    submodules = []
    for name in ntkmixed.__all__:
        value = getattr(ntkmixed, name)
        if isinstance(value, types.ModuleType):
            submodules.append((name, value))
        else:
            add("ntkmixed", name, value)
    for name, module in submodules:
        for member in _members(module):
            add(f"ntkmixed.{name}", member, getattr(module, member))
    return grouped


def _kind(path: str, name: str) -> str:
    value = getattr(ntkmixed, name) if path == "ntkmixed" else getattr(getattr(ntkmixed, path.split(".", 1)[1]), name)
    return "class" if inspect.isclass(value) else "function"


def render() -> str:
    grouped = collect()
    order = list(SECTIONS) + sorted(set(grouped) - set(SECTIONS))
    lines = [
        ".. This file is written by docs/_ext/apiref.py on every build; do not edit.",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of ``ntkmixed``: the names at ``ntkmixed.*`` (``import ntkmixed as nm;",
        "nm.fit(...)``) and the members of its public submodules (``nm.datasets``, ``nm.qc``,",
        "``nm.simulate``, ...). The list is generated from ``ntkmixed.__all__``; each page is",
        "built from the docstring. Internal modules (``ntkmixed.models.lmm`` and the like) may",
        "move between releases; the names below do not.",
        "",
    ]
    for section in order:
        if section not in grouped:
            continue
        title = SECTIONS.get(section, f"``{section}``")
        lines += [title, "-" * len(title), ""]
        for path, names in grouped[section].items():
            if path != "ntkmixed":
                module = getattr(ntkmixed, path.split(".", 1)[1])
                summary = (inspect.getdoc(module) or "").strip().split("\n\n")[0].replace("\n", " ")
                lines += [f"``{path}``: {summary}" if summary else f"``{path}``", ""]
            lines += [f".. currentmodule:: {path}", "", ".. autosummary::", "   :toctree: generated",
                      "   :nosignatures:", ""]
            lines += [f"   {name}" for name in sorted(names, key=lambda n: (_kind(path, n) != "function", n.lower()))]
            lines.append("")
    return "\n".join(lines)


def write_api_index(target: Path) -> None:
    """Write the page only when it changed, so Sphinx does not rebuild it needlessly."""
    text = render()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
