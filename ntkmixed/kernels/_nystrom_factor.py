"""The arithmetic of a Nyström factor, on normalised kernel blocks.

With C = K(X, L) (n×m) and W = K(L, L) = Q diag(λ) Qᵀ, the Nyström approximation is
K̃ = C W⁺ Cᵀ = F Fᵀ with F = C Q_r diag(λ_r)^{-1/2}, keeping the eigenvalues above
m·ε·λ_max (numpy's rank rule): smaller ones carry rounding, not information. Its error
in trace, 1 − ‖F‖²_F / tr K, is exact and cheap (K's diagonal is known).
"""

from __future__ import annotations

import numpy as np


def landmark_basis(W: np.ndarray) -> np.ndarray:
    """B = Q_r diag(λ_r)^{-1/2} (m × r) with W⁺ = B Bᵀ on the numerically positive part."""
    W = (W + W.T) / 2.0
    eigenvalues, eigenvectors = np.linalg.eigh(W)
    top = float(eigenvalues[-1]) if eigenvalues.size else 0.0
    if top <= 0:
        return np.zeros((W.shape[0], 0))
    kept = eigenvalues > W.shape[0] * np.finfo(np.float64).eps * top
    return eigenvectors[:, kept] / np.sqrt(eigenvalues[kept])


def trace_error(F: np.ndarray, diagonal: np.ndarray) -> float:
    """1 − ‖F‖²_F / tr K: the share of K's trace the low-rank part misses."""
    total = float(np.sum(diagonal))
    return float(1.0 - np.sum(F * F) / total) if total > 0 else 0.0


def exact_diagonal_correction(F: np.ndarray, diagonal: np.ndarray) -> np.ndarray:
    """d = diag(K) − diag(F Fᵀ) ≥ 0 (rounding below zero is clipped: d is PSD by the
    Schur complement, K − K̃ ⪰ 0)."""
    return np.maximum(diagonal - np.einsum("ij,ij->i", F, F), 0.0)


def seeded_order(n: int, seed: int) -> np.ndarray:
    """The order in which uniform landmarks are taken: a seeded permutation, so that
    m landmarks are always the first m of the same order (nested as m grows)."""
    return np.random.default_rng(seed).permutation(n)
