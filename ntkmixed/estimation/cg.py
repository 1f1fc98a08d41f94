"""Preconditioned conjugate gradients for a block of right-hand sides, A X = B with A
symmetric positive definite and known only through products A·V (one pass over the
genotypes per iteration for a streamed kernel).

The columns are independent CG runs advanced together, so each iteration costs one
product with the still-unconverged columns; a column stops when its relative residual
‖b − A x‖ / ‖b‖ falls below ``tol``. Warm starts (``x0``) carry a previous solution
over when A changes little (the next iterate of a variance-component search).
With ``by_column=True`` each column may be its own system (cross-validation folds and
ridge parameters stacked in one solve): ``apply`` and ``precondition`` then also receive
the positions in B of the columns they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CGResult:
    """Solution (n × m), iterations taken, and each column's final relative residual."""

    solution: np.ndarray
    iterations: int
    residuals: np.ndarray

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residuals)) if self.residuals.size else 0.0


def conjugate_gradients(apply: Callable[[np.ndarray], np.ndarray], B: np.ndarray,
                        precondition: Callable[[np.ndarray], np.ndarray] | None = None,
                        x0: np.ndarray | None = None, tol: float = 1e-6, max_iter: int = 1000,
                        by_column: bool = False) -> CGResult:
    """Solve A X = B column by column (see the module docstring)."""
    B = np.asarray(B, dtype=np.float64)
    single = B.ndim == 1
    B = B[:, None] if single else B
    if not by_column:
        apply, precondition = _ignoring_columns(apply), _ignoring_columns(precondition)
    precondition = precondition or (lambda R, columns: R)
    everything = np.arange(B.shape[1])
    norms = np.linalg.norm(B, axis=0)
    norms[norms == 0] = 1.0
    X = np.zeros_like(B) if x0 is None else np.array(x0, dtype=np.float64).reshape(B.shape)
    R = B - apply(X, everything) if x0 is not None else B.copy()
    Zr = precondition(R, everything)
    P = Zr.copy()
    rz = np.einsum("ij,ij->j", R, Zr)
    residuals = np.linalg.norm(R, axis=0) / norms
    iterations = 0
    while iterations < max_iter:
        active = np.flatnonzero(residuals > tol)
        if active.size == 0:
            break
        iterations += 1
        AP = apply(P[:, active], active)
        curvature = np.einsum("ij,ij->j", P[:, active], AP)
        alpha = rz[active] / curvature
        X[:, active] += alpha * P[:, active]
        R[:, active] -= alpha * AP
        Z_active = precondition(R[:, active], active)
        rz_new = np.einsum("ij,ij->j", R[:, active], Z_active)
        beta = rz_new / rz[active]
        P[:, active] = Z_active + beta * P[:, active]
        rz[active] = rz_new
        residuals[active] = np.linalg.norm(R[:, active], axis=0) / norms[active]
    return CGResult(X[:, 0] if single else X, iterations, residuals)


def _ignoring_columns(function):
    """``function(V)`` called as ``function(V, columns)``."""
    if function is None:
        return None
    return lambda V, columns: function(V)
