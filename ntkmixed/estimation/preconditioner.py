"""Low-rank preconditioners for V = Σ_k w_k K_k + w_e I (randomised Nyström PCG,
Frangella, Tropp & Udell 2023).

Each kernel is approximated once, K_k ≈ L_k L_kᵀ (L_k n × r): by the kernel's own factor
when its operator offers one through ``preconditioner_factor()`` (a Nyström kernel's
landmark factor, say), else by a randomised Nyström sketch — one pass of K_k on r
seeded Gaussian columns. At weights w the stacked factor [√w_k L_k] has the thin SVD
U diag(λ̂)^½ …, and

    P⁻¹ = (λ̂_min + w_e) U (diag λ̂ + w_e I)⁻¹ Uᵀ + (I − U Uᵀ),

which maps the r largest eigenvalues of V (population structure in a GRM) near
λ̂_min + w_e and leaves the rest alone; CG then converges at the rate of the flat
remainder. Building P at new weights costs O(n (c r)²), no pass.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .factor_svd import thin_svd
from .operators import KernelOperator


def nystrom_factor(operator: KernelOperator, rank: int, seed: int) -> np.ndarray:
    """L (n × ≤ rank) with K ≈ L Lᵀ: the operator's own preconditioner factor, or a
    randomised Nyström sketch from one product of K with ``rank`` Gaussian columns."""
    own = getattr(operator, "preconditioner_factor", None)
    if own is not None:
        return np.asarray(own(), dtype=np.float64)
    n = operator.n
    rank = max(1, min(rank, n))
    omega = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, rank)))[0]
    Y = operator.matmul(omega)
    shift = np.finfo(float).eps * np.sqrt(n) * np.linalg.norm(Y)
    Y_shifted = Y + shift * omega
    core = omega.T @ Y_shifted
    core = (core + core.T) / 2
    try:
        upper = scipy.linalg.cholesky(core, lower=False)
    except np.linalg.LinAlgError:  # a kernel that is numerically zero on the sketch
        return np.zeros((n, 0))
    B = scipy.linalg.solve_triangular(upper, Y_shifted.T, trans="T", lower=False).T  # Y_ν C⁻¹
    U, sigma, _ = np.linalg.svd(B, full_matrices=False)
    eigenvalues = np.maximum(sigma**2 - shift, 0.0)
    # eigenvalues at round-off level are directions of the sketch's null space, not of K
    keep = eigenvalues > eigenvalues.max(initial=0.0) * n * np.finfo(float).eps
    return U[:, keep] * np.sqrt(eigenvalues[keep])


class LowRankPreconditioner:
    """P⁻¹ at weights w from the kernels' low-rank factors (see the module docstring)."""

    def __init__(self, factors: list[np.ndarray], weights: np.ndarray):
        weights = np.asarray(weights, dtype=np.float64)
        self.residual_weight = float(weights[-1])
        stacked = [np.sqrt(max(w, 0.0)) * L for w, L in zip(weights[:-1], factors) if L.shape[1] and w > 0]
        if not stacked:
            self.U = np.zeros((factors[0].shape[0] if factors else 0, 0))
            self.scale = np.zeros(0)
            return
        svd = thin_svd(np.hstack(stacked))
        self.U = svd.U
        eigenvalues = svd.eigenvalues
        floor = float(eigenvalues[-1]) + self.residual_weight
        self.scale = floor / (eigenvalues + self.residual_weight) - 1.0

    def __call__(self, R: np.ndarray) -> np.ndarray:
        if self.U.shape[1] == 0:
            return R
        return R + self.U @ (self.scale[:, None] * (self.U.T @ R))

    @property
    def rank(self) -> int:
        return int(self.U.shape[1])
