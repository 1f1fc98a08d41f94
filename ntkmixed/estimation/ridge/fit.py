"""Kernel ridge regression at one λ, as the LMM engines compute it.

For λ > 0 let V = K + λI. Then

    β̂_λ = (XᵀV⁻¹X)⁻¹ XᵀV⁻¹ y          (GLS: the fixed effects are not penalised)
    α̂   = V⁻¹ (y − Xβ̂_λ) = P y
    ŷ   = Xβ̂_λ + Kα̂ = y − λα̂,      ŷ* = X*β̂_λ + K(*, train) α̂ for new rows.

That is an engine's state at weights (σ²_g, σ²_e) = (1, λ): with λ = σ²_e/σ²_g these are
the LMM's GLS estimate and BLUP-based predictions (Ge & Lu, Proposition 1), and the
same decomposition serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..problem import Problem
from .errors import not_positive_definite


@dataclass(frozen=True)
class RidgeFit:
    """KRR at one λ on the training rows (positions are rows of y)."""

    lambda_: float
    beta: np.ndarray
    dual_coef: np.ndarray
    fitted: np.ndarray


def ridge_fit(problem: Problem, lam: float) -> RidgeFit:
    """KRR at λ from the problem of (y, X, K) (any single-kernel engine)."""
    state = problem.state(np.array([1.0, float(lam)]))
    if not state.positive_definite:  # K has eigenvalues ≤ −λ
        raise not_positive_definite(lam)
    alpha = state.Py()
    return RidgeFit(float(lam), state.beta(), alpha, problem.y - lam * alpha)


def gls(X: np.ndarray, Vinv_X: np.ndarray, Vinv_y: np.ndarray) -> np.ndarray:
    """β = (XᵀV⁻¹X)⁻¹ XᵀV⁻¹y given V⁻¹X and V⁻¹y, X in the same (possibly rotated) basis."""
    if X.shape[1] == 0:
        return np.zeros(0)
    return sla.solve(X.T @ Vinv_X, X.T @ Vinv_y, assume_a="sym")
