"""Input checks shared by the genotype kernels' ``gram`` methods."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_float_matrix
from ..exceptions import NtkmixedError


def gram_inputs(Z1: Any, Z2: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Z1 (and Z2 when given) as finite 2-D float64 arrays with the same number of columns."""
    Z1 = _finite_matrix(Z1, "Z1", where)
    if Z2 is None:
        return Z1, None
    Z2 = _finite_matrix(Z2, "Z2", where)
    if Z2.shape[1] != Z1.shape[1]:
        raise NtkmixedError(
            f"The 'Z1' and 'Z2' arguments of {where}.gram must have the same number of "
            f"columns (SNPs). Got {Z1.shape[1]} and {Z2.shape[1]}."
        )
    return Z1, Z2


def _finite_matrix(Z: Any, name: str, where: str) -> np.ndarray:
    Z = np.ascontiguousarray(as_float_matrix(Z, name, f"{where}.gram"))
    if Z.shape[1] == 0:
        raise NtkmixedError(f"The {name!r} argument of {where}.gram must have at least one column. Got 0.")
    if not np.isfinite(Z).all():
        raise NtkmixedError(
            f"The {name!r} argument of {where}.gram must be finite (standardised genotypes). "
            f"Got {int((~np.isfinite(Z)).sum())} NaN or infinite entries."
        )
    return Z
