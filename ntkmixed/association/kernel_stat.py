"""The variance-component score statistic of H0: σ²_K = 0 (SKAT's Q) and its null law,
as pure linear algebra on a whitened null model.

Under the null LMM with covariance V̂ (σ̂² I without a background kernel) and projection
P̂ = Wᵀ M W (W the whitening of V̂, M = I − QQᵀ with Q a basis of WX),

    Q = (P̂y)ᵀ K (P̂y) = rᵀ B r,   B = W K Wᵀ,  r = M W y,

and P̂y ~ N(0, P̂), so with the scale of V̂ plugged in (SKAT) Q ≈ Σ_j λ_j χ²₁,
λ = eig(P̂^{1/2} K P̂^{1/2}) = eig(M B M). That plug-in is conservative when K has a large
identity-like part (as NTK and NNGP kernels do: their higher-order terms act like an
identity on unrelated people), because rᵀBr and the scale estimate rᵀr then move together.
The ratio T = rᵀBr / rᵀr avoids it: r ~ N(0, τM) whatever the scale τ, so
P(T > t) = P(Σ_j (μ_j − t) χ²₁ > 0) over the n − k eigenvalues μ of M B M on the range of
M — exact in finite samples given the null's variance ratio (without a background
kernel: exact). A kernel known through a factor (K = F Fᵀ, F n×r with r < n: the linear
kernel of a region) needs only the r×r matrix (M W F)ᵀ(M W F) and n − k − r zeros.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from . import mixture
from .scan import NullProjection


class IdentityWhitener:
    """W = I/σ̂ (a null model without a background kernel: V̂ = σ̂² I)."""

    pairs_with_itself = True

    def __init__(self, sigma2: float):
        self.scale = 1.0 / np.sqrt(sigma2)

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.scale * A


@dataclass(frozen=True)
class KernelStatistic:
    """Q = rᵀBr (SKAT's statistic at the fitted V̂), the ratio T = Q / rᵀr, and the
    eigenvalues of M B M on the range of M (``eigenvalues`` plus ``extra_zeros`` zeros)."""

    Q: float
    ratio: float
    eigenvalues: np.ndarray
    extra_zeros: int

    def tail(self, method: str) -> mixture.TailProbability:
        """p by the exact ratio law ("davies", "saddlepoint"), or SKAT's plug-in law
        Q ~ Σ λ_j χ²₁ approximated by Liu's moments ("liu")."""
        if method == "liu":
            return mixture.tail_probability(self.Q, np.clip(self.eigenvalues, 0.0, None), "liu")
        return mixture.ratio_tail(self.ratio, np.clip(self.eigenvalues, 0.0, None), self.extra_zeros, method)


def kernel_statistic(null: NullProjection, K: np.ndarray | None = None, factor: np.ndarray | None = None) -> KernelStatistic:
    """The statistic of one kernel given as an n×n matrix ``K`` or a factor (K = F Fᵀ)."""
    if not null.whiten.pairs_with_itself:
        raise ValueError("kernel tests need a whitening of V̂ (a spectral or dense null model)")
    Q = null.basis
    r = null.residual
    rank = null.n - null.k  # dimension of the range of M
    if factor is not None:
        WF = null.whiten(factor)
        MWF = WF - Q @ (Q.T @ WF) if Q.shape[1] else WF
        statistic = float(np.sum((MWF.T @ r) ** 2))
        eigenvalues = np.linalg.eigvalsh(MWF.T @ MWF)
        return KernelStatistic(statistic, statistic / null.rss0, eigenvalues, rank - eigenvalues.size)
    B = null.whiten(null.whiten(K).T)  # W K Wᵀ (K symmetric)
    B = 0.5 * (B + B.T)
    statistic = float(r @ B @ r)
    if Q.shape[1]:
        B = B - Q @ (Q.T @ B)
        B = B - (B @ Q) @ Q.T
    eigenvalues = np.linalg.eigvalsh(0.5 * (B + B.T))[null.k:]  # drop the k zeros along Q
    return KernelStatistic(statistic, statistic / null.rss0, eigenvalues, 0)
