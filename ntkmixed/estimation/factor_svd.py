"""The thin SVD of a kernel factor, F = U diag(σ) Vᵀ (F n×r, U n×m orthonormal, m ≤ r),
so that K = F Fᵀ = U diag(σ²) Uᵀ: the eigendecomposition of K restricted to its range,
at O(n r²) and without an n×n array.

Computed from the Gram matrix FᵀF (one rank-r update, half a GEMM) and its r×r
eigendecomposition, U = F V diag(1/σ). That is ~8× faster than LAPACK's SVD of a tall
matrix here (n = 20 000, r = 1 000: 2.5 s against 20–24 s for gesdd or QR + SVD), but the
columns of U lose orthogonality like ε·(σ_max/σ_j)². So directions with σ_j² below
``rtol``·σ²_max are dropped (they change K by less than ``rtol`` of its norm: numerical
rank), and when the kept spectrum spans more than ``refine_above`` in σ², one CholeskyQR
step restores orthogonality to round-off: U = U₁ Lᵀ (Cholesky of UᵀU), then the SVD of
the small Lᵀ diag(σ) rotates U₁ back onto singular vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dsyrk

#: eigenvalues of K below this fraction of the largest are numerically zero
RANK_RTOL = 1e-10
#: spread of the kept eigenvalues of K above which U is re-orthogonalised
REFINE_ABOVE = 1e4


@dataclass(frozen=True)
class ThinSVD:
    """F = U diag(sigma) Vᵀ with ``sigma`` descending; K = F Fᵀ has eigenvalues sigma²."""

    U: np.ndarray
    sigma: np.ndarray
    V: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.sigma.size)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Non-zero eigenvalues of K = F Fᵀ, descending."""
        return self.sigma**2


def gram(F: np.ndarray) -> np.ndarray:
    """FᵀF, exactly symmetric."""
    upper = dsyrk(1.0, F, trans=1)
    return np.triu(upper) + np.triu(upper, 1).T


def thin_svd(F: np.ndarray, rtol: float = RANK_RTOL, refine_above: float = REFINE_ABOVE) -> ThinSVD:
    """The thin SVD of F (n×r) on its numerical rank (see the module docstring)."""
    F = np.asarray(F, dtype=np.float64)
    n, r = F.shape
    if r == 0:
        return ThinSVD(np.zeros((n, 0)), np.zeros(0), np.zeros((0, 0)))
    eigenvalues, vectors = np.linalg.eigh(gram(F))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    largest = float(eigenvalues[0])
    if largest <= 0:
        return ThinSVD(np.zeros((n, 0)), np.zeros(0), np.zeros((r, 0)))
    keep = eigenvalues > rtol * largest
    sigma = np.sqrt(eigenvalues[keep])
    V = vectors[:, keep]
    U = F @ (V / sigma)
    if largest / eigenvalues[keep][-1] > refine_above:
        U, sigma, V = _reorthogonalise(U, sigma, V)
    return ThinSVD(U, sigma, V)


def _reorthogonalise(U: np.ndarray, sigma: np.ndarray, V: np.ndarray):
    """One CholeskyQR step on U ≈ F V diag(1/σ): U = Q Lᵀ with Q orthonormal, then
    F ≈ Q (Lᵀ diag σ) Vᵀ is rotated by the SVD of the small middle factor."""
    lower = scipy.linalg.cholesky(gram(U), lower=True)
    Q = scipy.linalg.solve_triangular(lower, U.T, lower=True).T  # U L⁻ᵀ
    left, new_sigma, right_t = np.linalg.svd(lower.T * sigma)
    return Q @ left, new_sigma, V @ right_t.T
