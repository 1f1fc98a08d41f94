"""Boundary checks shared by every public entry point.

Messages follow one pattern: the argument, what was expected, what was received.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .exceptions import NtkmixedError


def check_option(value: Any, name: str, allowed: Iterable[str], where: str) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise NtkmixedError(
            f"The {name!r} parameter of {where} must be one of {{{choices}}}. "
            f"Got {value!r} instead."
        )
    return value


def check_positive_int(value: Any, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise NtkmixedError(
            f"The {name!r} parameter of {where} must be an integer >= {minimum}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_positive_float(value: Any, name: str, where: str, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    ok = np.isfinite(number) and (number >= 0 if allow_zero else number > 0)
    if isinstance(value, bool) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise NtkmixedError(
            f"The {name!r} parameter of {where} must be a finite number {bound}. "
            f"Got {value!r} instead."
        )
    return number


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
