"""Every public function and class of the API has a numpy-style docstring.

The API is what ``ntkmixed.__all__`` lists: the names exported at ``ntkmixed.*`` and the
public members of the public submodules (their ``__all__``, or else the functions and
classes they define), so names that land later are covered without editing this file.

* functions: a ``Parameters`` section that names every argument of the signature (when
  there are any) and a ``Returns`` (or ``Yields``) section unless they return nothing;
* classes: a docstring; constructor arguments documented in a ``Parameters`` section of
  the class (or ``__init__``) docstring; every public method that takes arguments has a
  ``Parameters`` section naming them, and a ``Returns`` section where it returns a value;
  every public property has a docstring.

The sections are parsed the way numpydoc reads them (a title underlined with dashes), so
the API reference that Sphinx builds from them shows each argument.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator

import pytest

import ntkmixed


def _public_members(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", "").startswith(module.__name__)
    ]


def public_api() -> dict[str, object]:
    """Qualified public name -> object, each object once (under its first public name)."""
    found: dict[str, object] = {}
    seen: set[int] = set()

    def add(name: str, value: object) -> None:
        if (inspect.isfunction(value) or inspect.isclass(value)) and id(value) not in seen:
            seen.add(id(value))
            found[name] = value

    modules = []
    for name in ntkmixed.__all__:
        value = getattr(ntkmixed, name)
        if isinstance(value, types.ModuleType):
            modules.append((name, value))
        else:
            add(f"ntkmixed.{name}", value)
    for name, module in modules:
        for member in _public_members(module):
            add(f"ntkmixed.{name}.{member}", getattr(module, member))
    return found


# --- numpy-style sections ------------------------------------------------------------------
def sections(doc: str | None) -> dict[str, list[str]]:
    """Section title -> its lines, for titles underlined with dashes."""
    lines = inspect.cleandoc(doc or "").splitlines()
    found: dict[str, list[str]] = {}
    current = None
    i = 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and underline and set(underline) == {"-"} and len(underline) >= 3:
            current = line.strip()
            found[current] = []
            i += 2
            continue
        if current is not None:
            found[current].append(line)
        i += 1
    return found


def documented_names(lines: list[str]) -> set[str]:
    """Names an entry list documents (``a, b : float`` or ``**options``), read at the
    section's own indentation so that descriptions below are not taken for names."""
    entries = [line for line in lines if line.strip()]
    if not entries:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in entries)
    names: set[str] = set()
    for line in entries:
        if len(line) - len(line.lstrip()) != indent:
            continue
        for name in line.strip().split(" : ", 1)[0].split(","):
            names.add(name.strip().lstrip("*"))
    return names


# --- what a callable needs ---------------------------------------------------------------
def _arguments(function: Callable, bound: bool) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    names = [p.name for p in signature.parameters.values()]
    if bound and names and names[0] in ("self", "cls"):
        names = names[1:]
    return names


def _returns_value(function: Callable) -> bool:
    function = inspect.unwrap(function)
    annotation = inspect.signature(function).return_annotation
    if annotation in (None, "None"):
        return False
    if annotation is not inspect.Signature.empty:
        return True
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return True
    body = tree.body[0]
    for node in ast.walk(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not body:
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            return True
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
    return False


def function_problems(function: Callable, bound: bool = False, doc: str | None = None) -> list[str]:
    doc = inspect.getdoc(function) if doc is None else doc
    if not doc or not doc.strip():
        return ["no docstring"]
    found = sections(doc)
    problems = []
    arguments = _arguments(function, bound)
    if arguments:
        if "Parameters" not in found:
            problems.append(f"no Parameters section (arguments: {', '.join(arguments)})")
        else:
            missing = [a for a in arguments if a not in documented_names(found["Parameters"])]
            if missing:
                problems.append(f"Parameters section does not document {', '.join(missing)}")
    if _returns_value(function) and not ({"Returns", "Yields"} & set(found)):
        problems.append("no Returns section")
    return problems


def _own_members(cls: type) -> Iterator[tuple[str, object, type]]:
    """Public attributes of ``cls`` defined in ntkmixed (its own or inherited from an
    ntkmixed base class), with the class that defines each."""
    seen: set[str] = set()
    for owner in cls.__mro__:
        if not owner.__module__.startswith("ntkmixed"):
            continue
        for name, value in vars(owner).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            yield name, value, owner


def _constructor(cls: type) -> Callable | None:
    """The ``__init__`` that ``cls(...)`` runs when ntkmixed defines it, else None.
    Dataclasses, named tuples, enums, exceptions and protocols are plain data: their
    fields are described in the class docstring's prose or Attributes."""
    if (dataclasses.is_dataclass(cls) or issubclass(cls, (enum.Enum, BaseException))
            or (issubclass(cls, tuple) and hasattr(cls, "_fields")) or getattr(cls, "_is_protocol", False)):
        return None
    for owner in cls.__mro__:
        if "__init__" in vars(owner):
            return vars(owner)["__init__"] if owner.__module__.startswith("ntkmixed") else None
    return None


def class_problems(cls: type) -> list[str]:
    doc = inspect.getdoc(cls)
    if not doc or not doc.strip():
        return ["no class docstring"]
    problems = []
    init = _constructor(cls)
    if init is not None:
        # the class page shows the class docstring: the arguments of cls(...) belong there
        # (or in an __init__ of the class itself), even when the __init__ is inherited
        arguments = _arguments(init, bound=True)
        own_init = cls.__dict__.get("__init__")
        documented = documented_names(sections(doc).get("Parameters", [])) | documented_names(
            sections(own_init.__doc__ if own_init is not None else None).get("Parameters", []))
        missing = [a for a in arguments if a not in documented]
        if missing:
            problems.append(f"constructor arguments not in a Parameters section: {', '.join(missing)}")
    for name, value, owner in _own_members(cls):
        where = f"{owner.__name__}.{name}"
        if isinstance(value, (property, functools.cached_property)):
            getter = value.fget if isinstance(value, property) else value.func
            if not (inspect.getdoc(getter) or "").strip():
                problems.append(f"{where}: property without a docstring")
        elif isinstance(value, (classmethod, staticmethod)):
            problems += [f"{where}: {p}" for p in function_problems(value.__func__, bound=isinstance(value, classmethod))]
        elif inspect.isfunction(value):
            problems += [f"{where}: {p}" for p in function_problems(value, bound=True)]
    return problems


API = public_api()


def test_the_api_is_found():
    # the entry points a user meets first must be among what is checked
    for name in ("ntkmixed.fit", "ntkmixed.krr", "ntkmixed.load", "ntkmixed.NTK", "ntkmixed.LMMResults",
                 "ntkmixed.read_plink", "ntkmixed.datasets.load_example", "ntkmixed.qc.qc"):
        assert name in API


@pytest.mark.parametrize("name", sorted(API))
def test_public_docstring(name):
    value = API[name]
    problems = class_problems(value) if inspect.isclass(value) else function_problems(value)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


# --- the checker itself must be able to fail ----------------------------------------------
def _good(a: int, *rest: float, flag: bool = False, **options) -> int:
    """Summary.

    Parameters
    ----------
    a : int
        First. A line that looks like ``b : int`` inside a description is not an entry.
    *rest : float
    flag : bool, default False
    **options
        Passed on.

    Returns
    -------
    int
    """
    return a


def _undocumented_flag(a: int, flag: bool = False) -> int:
    """Summary.

    Parameters
    ----------
    a : int
        The description mentions flag but does not document it.

    Returns
    -------
    int
    """
    return a


def _no_returns(a: int):
    """Summary.

    Parameters
    ----------
    a : int
    """
    return a


def _returns_nothing(a: int) -> None:
    """Summary.

    Parameters
    ----------
    a : int
    """


def test_checker_accepts_a_complete_docstring():
    assert function_problems(_good) == []
    assert function_problems(_returns_nothing) == []


def test_checker_names_what_is_missing():
    assert function_problems(_undocumented_flag) == ["Parameters section does not document flag"]
    assert function_problems(_no_returns) == ["no Returns section"]
    assert function_problems(lambda x: x) == ["no docstring"]

    class Undocumented:
        """A class.

        Parameters
        ----------
        size : int
        """

        def __init__(self, size: int, seed: int = 0):
            self.size = size

        @property
        def area(self) -> int:
            return self.size

        def scaled(self, factor: float) -> int:
            """Scaled size."""
            return self.size * factor

    Undocumented.__module__ = "ntkmixed.fake"
    assert class_problems(Undocumented) == [
        "constructor arguments not in a Parameters section: seed",
        "Undocumented.area: property without a docstring",
        "Undocumented.scaled: no Parameters section (arguments: factor)",
        "Undocumented.scaled: no Returns section",
    ]
