"""Exact cross-validation of the ridge for a kernel known as a factor, K = F Fᵀ (+ diag(d)),
for the whole λ grid without an n×n matrix (a Nyström kernel at n = 100 000).

For a fold with training rows T and test rows S, K_SS is never needed and
K_{S,T} = F_S F_Tᵀ (a diagonal correction concerns a person with themself only), so

    ŷ_S(λ) = X_S β̂_λ + F_S (F_Tᵀ α̂_λ),   α̂_λ = V_T⁻¹(y_T − X_T β̂_λ),   V_T = K_TT + λI.

* K = F Fᵀ: with G_T = F_TᵀF_T = G − F_SᵀF_S = Q diag(σ) Qᵀ, V_T⁻¹ = (I − F_T (λ + G_T)⁻¹ F_Tᵀ)/λ,
  so F_Tᵀ α̂ = Q diag(1/(λ+σ)) Qᵀ F_Tᵀ(y_T − X_T β̂) and XᵀV⁻¹X, XᵀV⁻¹y are k×k formulas in
  Qᵀ F_Tᵀ[y, X]: one m×m eigendecomposition per fold, O(m² + m k) per λ, O(n m²) in all.
* K = F Fᵀ + D: Λ = D_T + λI changes with λ, so each (fold, λ) costs one weighted Gram
  F_TᵀΛ⁻¹F_T (O(n_T m²)): exact, and slower by the number of λ.

Leave-one-out uses diag(P) from the same algebra on all rows (y_i − ŷ_(−i) = (P y)_i / P_ii).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg as sla

from ..engines._lowrank_algebra import weighted_gram
from .errors import not_positive_definite, unidentified_fold
from .fit import gls


def factor_cv_predictions(y: np.ndarray, X: np.ndarray, F: np.ndarray, d: np.ndarray | None, lambdas: np.ndarray,
                          folds, on_fold_done: Callable[[], None] | None = None) -> list[np.ndarray]:
    """Held-out predictions (one ``len(lambdas) × n_test`` array per fold)."""
    gram = weighted_gram(F) if d is None else None
    predictions = []
    for fold, (train, test) in enumerate(folds):
        F_T, F_S = F[train], F[test]
        y_T, X_T = y[train], X[train]
        if d is None:
            # the training Gram from the whole one when the fold trains on the complement
            G_T = gram - weighted_gram(F_S) if train.size + test.size == F.shape[0] else weighted_gram(F_T)
            fitted = _factor_fold(F_T, G_T, y_T, X_T, lambdas, fold)
        else:
            fitted = _corrected_fold(F_T, d[train], y_T, X_T, lambdas, fold)
        betas, landmark_weights = fitted  # k × L, m × L (F_Tᵀ α̂ for every λ)
        predictions.append((X[test] @ betas + F_S @ landmark_weights).T)
        if on_fold_done is not None:
            on_fold_done()
    return predictions


def _factor_fold(F_T, G_T, y_T, X_T, lambdas, fold):
    sigma, Q = np.linalg.eigh((G_T + G_T.T) / 2.0)
    sigma = np.clip(sigma, 0.0, None)  # G_T is PSD; rounding below zero
    a_y, a_X = Q.T @ (F_T.T @ y_T), Q.T @ (F_T.T @ X_T)
    XtX, Xty = X_T.T @ X_T, X_T.T @ y_T
    k = X_T.shape[1]
    betas = np.zeros((k, lambdas.size))
    weights = np.empty((Q.shape[0], lambdas.size))
    for i, lam in enumerate(lambdas):
        shrink = 1.0 / (lam + sigma)
        if k:
            XtViX = (XtX - a_X.T @ (shrink[:, None] * a_X)) / lam
            XtViy = (Xty - a_X.T @ (shrink * a_y)) / lam
            try:
                betas[:, i] = sla.solve(XtViX, XtViy, assume_a="pos")
            except np.linalg.LinAlgError:
                raise unidentified_fold(fold) from None
        weights[:, i] = Q @ (shrink * (a_y - a_X @ betas[:, i]))
    return betas, weights


def _corrected_fold(F_T, d_T, y_T, X_T, lambdas, fold):
    m, k = F_T.shape[1], X_T.shape[1]
    betas = np.zeros((k, lambdas.size))
    weights = np.empty((m, lambdas.size))
    R = np.column_stack([y_T, X_T])
    for i, lam in enumerate(lambdas):
        lam_diag = d_T + lam
        A = weighted_gram(F_T, 1.0 / lam_diag)
        try:
            inner = sla.cho_factor(np.eye(m) + A, check_finite=False)
        except np.linalg.LinAlgError:
            raise not_positive_definite(lam) from None
        scaled = R / lam_diag[:, None]
        FtLR = F_T.T @ scaled  # FᵀΛ⁻¹[y, X]
        solved = scaled - (F_T @ sla.cho_solve(inner, FtLR, check_finite=False)) / lam_diag[:, None]  # V⁻¹[y, X]
        if k:
            betas[:, i] = gls(X_T, solved[:, 1:], solved[:, 0])
        # Fᵀ V⁻¹ r = (I + A)⁻¹ FᵀΛ⁻¹ r
        weights[:, i] = sla.cho_solve(inner, FtLR[:, 0] - FtLR[:, 1:] @ betas[:, i], check_finite=False)
    return betas, weights


def factor_loo_predictions(y: np.ndarray, X: np.ndarray, F: np.ndarray, d: np.ndarray | None,
                           lambdas: np.ndarray) -> np.ndarray:
    """Exact leave-one-out predictions (``len(lambdas) × n``) from diag(P) and P y."""
    n, m = F.shape
    predictions = np.empty((lambdas.size, n))
    gram = weighted_gram(F) if d is None else None
    for i, lam in enumerate(lambdas):
        lam_diag = np.full(n, lam) if d is None else d + lam
        A = gram / lam if d is None else weighted_gram(F, 1.0 / lam_diag)
        try:
            inner = sla.cho_factor(np.eye(m) + A, check_finite=False)
        except np.linalg.LinAlgError:
            raise not_positive_definite(lam) from None
        U = F / lam_diag[:, None]  # V⁻¹ = Λ⁻¹ − U (I + A)⁻¹ Uᵀ

        def solve(B):
            return B / lam_diag[:, None] - U @ sla.cho_solve(inner, F.T @ (B / lam_diag[:, None]), check_finite=False)

        solved = solve(np.column_stack([y, X]))
        ViX = solved[:, 1:]
        C = np.linalg.inv(X.T @ ViX) if X.shape[1] else np.zeros((0, 0))
        beta = C @ (ViX.T @ y)
        Py = solved[:, 0] - ViX @ beta
        inverse_factor = sla.cho_solve(inner, np.eye(m), check_finite=False)
        diag_Vi = 1.0 / lam_diag - np.einsum("ij,jk,ik->i", U, inverse_factor, U)
        diag_P = diag_Vi - np.einsum("ij,jk,ik->i", ViX, C, ViX)
        unidentified = np.flatnonzero(diag_P <= 1e-10 * diag_P.max())
        if unidentified.size:
            raise unidentified_fold(int(unidentified[0]), "leave-one-out: row")
        predictions[i] = y - Py / diag_P
    return predictions
