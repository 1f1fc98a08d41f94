"""The variance-component score statistic of H0: σ²_K = 0 (SKAT's Q) and its null law,
as pure linear algebra on a whitened null model.

Under the null LMM with covariance V̂ (σ̂² I without a background kernel) and projection
P̂ = Wᵀ M W (W the whitening of V̂, M = I − QQᵀ with Q a basis of WX),

    Q = (P̂y)ᵀ K (P̂y) = rᵀ B r,   B = W K Wᵀ,  r = M W y,

and P̂y ~ N(0, P̂), so Q ~ Σ_j λ_j χ²₁ with λ = eig(P̂^{1/2} K P̂^{1/2}) = eig(M B M) (its
non-zero part; σ̂² and V̂ are plugged in, as SKAT does). A kernel known through a factor
(K = F Fᵀ, F n×r with r < n: the linear kernel of a region) needs only the r×r matrix
(M W F)ᵀ(M W F).
"""

from __future__ import annotations

import numpy as np

from .scan import NullProjection


class IdentityWhitener:
    """W = I/σ̂ (a null model without a background kernel: V̂ = σ̂² I)."""

    pairs_with_itself = True

    def __init__(self, sigma2: float):
        self.scale = 1.0 / np.sqrt(sigma2)

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.scale * A


def kernel_statistic(null: NullProjection, K: np.ndarray | None = None, factor: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """``(Q, λ)`` for one kernel given as an n×n matrix ``K`` or a factor (K = F Fᵀ)."""
    if not null.whiten.pairs_with_itself:
        raise ValueError("kernel tests need a whitening of V̂ (a spectral or dense null model)")
    Q = null.basis
    r = null.residual
    if factor is not None:
        WF = null.whiten(factor)
        MWF = WF - Q @ (Q.T @ WF) if Q.shape[1] else WF
        statistic = float(np.sum((MWF.T @ r) ** 2))
        eigenvalues = np.linalg.eigvalsh(MWF.T @ MWF)
        return statistic, eigenvalues
    B = null.whiten(null.whiten(K).T)  # W K Wᵀ (K symmetric)
    B = 0.5 * (B + B.T)
    statistic = float(r @ B @ r)
    if Q.shape[1]:
        B = B - Q @ (Q.T @ B)
        B = B - (B @ Q) @ Q.T
    return statistic, np.linalg.eigvalsh(0.5 * (B + B.T))
