"""Boundary checks shared by every public entry point.

Messages follow one pattern (scikit-learn's ``_param_validation``): the argument, what was
expected, what was received — ``The 'tol' parameter of fit must be a finite number > 0.
Got '1e-8' instead.`` — and, for rows, IDs or cells, which ones (the first few and the
count).

Options are declared next to the function they belong to, as constraints::

    @validate_params("fit", tol=Interval("real", 0, None, closed="neither"), progress=[Boolean(), None])
    def fit(..., tol=1e-8, progress=None): ...

A value passes if any of the listed constraints accepts it, and the function receives the
checked value in plain Python form (``int``, ``float``, ``bool``): a string never passes
as a number, a bool never as an integer, so nothing is converted silently.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import reprlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .exceptions import NtkmixedError

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = 6

#: the largest seed a torch generator accepts (it stores a signed 64-bit integer)
MAX_SEED = 2**63 - 1


# --- constraints ------------------------------------------------------------------------------
class Constraint:
    """One acceptable form of a value: ``accepts`` decides, ``convert`` gives the plain
    value the function receives, ``description`` completes "must be …"."""

    description = "valid"

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        return value


class Interval(Constraint):
    """An integer (``kind="int"``) or a finite real number (``kind="real"``) between
    ``low`` and ``high`` (None: unbounded); ``closed`` says which ends are included."""

    def __init__(self, kind: str, low: float | None = None, high: float | None = None, closed: str = "both"):
        if kind not in ("int", "real") or closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"bad Interval({kind!r}, closed={closed!r})")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind == "int":
            if not isinstance(value, (numbers.Integral, np.integer)):
                return False
        elif not isinstance(value, (numbers.Real, np.integer, np.floating)) or not math.isfinite(float(value)):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return bool(low_ok and high_ok)

    def convert(self, value: Any) -> Any:
        return int(value) if self.kind == "int" else float(value)

    @property
    def description(self) -> str:
        what = "an integer" if self.kind == "int" else "a finite number"
        low, high = _bound(self.low), _bound(self.high)
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {left}{low}, {high}{right}"
        if self.low is not None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {low}"
        if self.high is not None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {high}"
        return what


def _bound(value: float | None) -> str:
    if value == MAX_SEED:
        return "2**63 - 1"
    return f"{value:g}" if isinstance(value, float) else str(value)


class Options(Constraint):
    """One of a set of strings; ``values`` may be a function returning them (for
    registries that grow, such as the engines)."""

    def __init__(self, values: Iterable[str] | Callable[[], Iterable[str]]):
        self._values = values

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self._values() if callable(self._values) else self._values)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    @property
    def description(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


class Boolean(Constraint):
    description = "True or False"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def convert(self, value: Any) -> bool:
        return bool(value)


class Text(Constraint):
    description = "a non-empty string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""


class PathLike(Constraint):
    description = "a file path (str or os.PathLike)"

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, str) and value != "") or isinstance(value, os.PathLike)

    def convert(self, value: Any) -> str:
        return os.fspath(value)


class InstanceOf(Constraint):
    def __init__(self, types: type | tuple[type, ...], description: str):
        self.types, self.description = types, description

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)


class SeedEntropy(Constraint):
    """A non-empty list or tuple of integers in [0, 2**63 − 1]: the entropy numpy's
    ``SeedSequence`` mixes, so that experiments can name a stream as (seed, replicate, …)."""

    description = "a non-empty list of such integers"

    def accepts(self, value: Any) -> bool:
        element = Interval("int", 0, MAX_SEED)
        return isinstance(value, (list, tuple)) and len(value) > 0 and all(element.accepts(v) for v in value)

    def convert(self, value: Any) -> list[int]:
        return [int(v) for v in value]


class _NoneConstraint(Constraint):
    description = "None"

    def accepts(self, value: Any) -> bool:
        return value is None


def _as_constraints(spec: Any) -> list[Constraint]:
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    return [_NoneConstraint() if item is None else item for item in items]


def check(value: Any, name: str, where: str, spec: Any) -> Any:
    """``value`` in plain form if one of the constraints in ``spec`` (a constraint, None,
    or a list of them) accepts it; otherwise an error naming ``name`` and ``where``."""
    constraints = _as_constraints(spec)
    for constraint in constraints:
        if constraint.accepts(value):
            return constraint.convert(value)
    expected = " or ".join(c.description for c in constraints)
    raise NtkmixedError(f"The {name!r} parameter of {where} must be {expected}. Got {shown(value)} instead.")


def validate_params(where: str, **constraints: Any):
    """Decorator: check the named arguments of every call against their constraints
    (see :func:`check`) before the function body runs; defaults are not checked."""

    def decorate(function):
        signature = inspect.signature(function)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"validate_params: {function.__qualname__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            for name, spec in constraints.items():
                if name in bound.arguments:
                    bound.arguments[name] = check(bound.arguments[name], name, where, spec)
            return function(*bound.args, **bound.kwargs)

        wrapper.parameter_constraints = dict(constraints)
        return wrapper

    return decorate


# --- the checks most functions need, as one-liners ------------------------------------------------
def check_option(value: Any, name: str, allowed: Iterable[str], where: str) -> str:
    return check(value, name, where, Options(tuple(allowed)))


def check_positive_int(value: Any, name: str, where: str, minimum: int = 1, maximum: int | None = None) -> int:
    return check(value, name, where, Interval("int", minimum, maximum))


def check_positive_float(value: Any, name: str, where: str, allow_zero: bool = False) -> float:
    return check(value, name, where, Interval("real", 0, None, closed="left" if allow_zero else "neither"))


def check_seed(value: Any, name: str, where: str, allow_none: bool = False,
               allow_sequence: bool = False) -> int | list[int] | None:
    """A seed for numpy and torch generators: an integer in [0, 2**63 − 1]; with
    ``allow_sequence`` (numpy-only generators) also a list of them."""
    spec = [Interval("int", 0, MAX_SEED)] + ([SeedEntropy()] if allow_sequence else []) + ([None] if allow_none else [])
    return check(value, name, where, spec)


def check_flag(value: Any, name: str, where: str, allow_none: bool = False) -> bool | None:
    return check(value, name, where, [Boolean()] + ([None] if allow_none else []))


def as_float_matrix(value: Any, name: str, where: str) -> np.ndarray:
    """A 2-D float64 array, or an error saying what was received."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be numeric. "
            f"Got values that cannot be converted to numbers ({exc})."
        ) from None
    if array.ndim != 2:
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a 2-D matrix. "
            f"Got an array with shape {array.shape}."
        )
    return array


# --- showing what was received ------------------------------------------------------------------------
def shown(value: Any) -> str:
    """A short repr of a received value."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return _REPR.repr(value)


def examples(items: Sequence[Any], limit: int = 5) -> str:
    """``['a', 'b']``, or ``['a', 'b', 'c', 'd', 'e'] and 7 more (12 in all)``."""
    items = list(items)
    head = [_plain(v) for v in items[:limit]]
    if len(items) <= limit:
        return repr(head)
    return f"{head!r} and {len(items) - limit} more ({len(items)} in all)"


def cells(mask: np.ndarray, values: np.ndarray, rows: Sequence[Any] | None, columns: Sequence[Any] | None,
          limit: int = 5) -> str:
    """``-9 at (s03, rs4), 57 at (s07, rs2) and 3 more (5 cells in all)`` for the True
    cells of ``mask``; rows and columns are labels (positions when None)."""
    where = np.argwhere(mask)
    parts = []
    for i, j in where[:limit]:
        row = rows[i] if rows is not None else f"row {i}"
        column = columns[j] if columns is not None else f"column {j}"
        parts.append(f"{_number(values[i, j])} at ({row}, {column})")
    text = ", ".join(parts)
    if len(where) > limit:
        text += f" and {len(where) - limit} more ({len(where)} cells in all)"
    return text


def _number(value: float) -> str:
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
