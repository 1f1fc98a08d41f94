"""Whitening at a fixed null covariance: a map W with (W a)ᵀ(W b) = aᵀ V̂⁻¹ b, taken from
the engine's problem so that no new factorisation is needed where the engine has one.

* spectral problem (one kernel, K = U diag(s) Uᵀ): W = diag(d)^{-1/2} Uᵀ, d = w_g s + w_e —
  one n×n product per SNP block, the FaST-LMM / GEMMA / glimix-core rotation;
* dense problem (several kernels): W = L⁻¹ with V̂ = L Lᵀ (one Cholesky);
* low-rank problem (kernels K_k = U A_k Uᵀ, U n×m orthonormal, m < n): with
  M = Σ w_k A_k + w_e I_m = L Lᵀ, W = U (L⁻¹ − w_e^{-1/2} I) Uᵀ + w_e^{-1/2} I — exact,
  O(n m) per SNP, no n×n array (FaST-LMM's low-rank scan);
* any other engine whose state offers ``whiten(A)`` (or ``solve(A)`` = V̂⁻¹A, handled by
  :class:`SolveWhitener`, which returns V̂⁻¹A instead and says so) plugs in unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..estimation.engines import DenseProblem, LowRankProblem, SpectralProblem
from ..exceptions import NtkmixedError


class SpectralWhitener:
    """W = diag(d)^{-1/2} Uᵀ for V = w_g K + w_e I, K = U diag(s) Uᵀ."""

    pairs_with_itself = True  # inner products are (W a)ᵀ (W b)

    def __init__(self, problem: SpectralProblem, weights: np.ndarray):
        d = weights[0] * problem.s + weights[1]
        if np.any(d <= 0):
            raise NtkmixedError("The null covariance is not positive definite; per-SNP tests need V̂ > 0.")
        self.U = problem.U
        self.scale = 1.0 / np.sqrt(d)

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.scale.reshape((-1,) + (1,) * (A.ndim - 1)) * (self.U.T @ A)


class CholeskyWhitener:
    """W = L⁻¹ with V̂ = L Lᵀ (several kernels held as n×n matrices)."""

    pairs_with_itself = True

    def __init__(self, problem: DenseProblem, weights: np.ndarray):
        V = problem.covariance(weights)
        try:
            self.L = scipy.linalg.cholesky(V, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise NtkmixedError("The null covariance is not positive definite; per-SNP tests need V̂ > 0.") from None

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return scipy.linalg.solve_triangular(self.L, A, lower=True, check_finite=False)


class LowRankWhitener:
    """W = U (L⁻¹ − w_e^{-1/2} I) Uᵀ + w_e^{-1/2} I for V = U M Uᵀ + w_e (I − U Uᵀ),
    M = L Lᵀ: on span(U) it is L⁻¹ in the U basis, on the complement w_e^{-1/2}, so
    WᵀW = U M⁻¹ Uᵀ + (I − U Uᵀ)/w_e = V⁻¹ (the cross terms vanish: Uᵀ(I − U Uᵀ) = 0)."""

    pairs_with_itself = True

    def __init__(self, problem: LowRankProblem, weights: np.ndarray):
        w_e = float(weights[-1])
        if not w_e > 0:
            raise NtkmixedError("The null covariance is singular (zero residual variance); per-SNP tests need V̂ > 0.")
        m = problem.m
        if problem.supports_profile:  # one kernel: M is diagonal in the U basis
            d = weights[0] * problem.s[:m] + w_e
            if np.any(d <= 0):
                raise NtkmixedError("The null covariance is not positive definite; per-SNP tests need V̂ > 0.")
            self.inside = np.diag(1.0 / np.sqrt(d))
        else:
            M = w_e * np.eye(m) + sum(w * A for w, A in zip(weights[:-1], problem.A))
            try:
                L = scipy.linalg.cholesky(M, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                raise NtkmixedError("The null covariance is not positive definite; per-SNP tests need V̂ > 0.") from None
            self.inside = scipy.linalg.solve_triangular(L, np.eye(m), lower=True, check_finite=False)
        self.U = problem.U
        self.outside = 1.0 / np.sqrt(w_e)
        self.inside -= self.outside * np.eye(m)

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.U @ (self.inside @ (self.U.T @ A)) + self.outside * A


class StateWhitener:
    """An engine state that whitens by itself (``state.whiten``)."""

    pairs_with_itself = True

    def __init__(self, state):
        self.state = state

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.state.whiten(A)


class SolveWhitener:
    """An engine state that solves with V̂ (``state.solve``): inner products are then
    aᵀ (V̂⁻¹ b), one side plain — ``pairs_with_itself`` is False."""

    pairs_with_itself = False

    def __init__(self, state):
        self.state = state

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return self.state.solve(A)


def whitener_for(problem, weights: np.ndarray):
    """The cheapest whitening this engine's problem offers at the null weights."""
    weights = np.asarray(weights, dtype=np.float64)
    if isinstance(problem, SpectralProblem):
        return SpectralWhitener(problem, weights)
    if isinstance(problem, DenseProblem):
        return CholeskyWhitener(problem, weights)
    if isinstance(problem, LowRankProblem):
        return LowRankWhitener(problem, weights)
    state = problem.state(weights)
    if hasattr(state, "whiten"):
        return StateWhitener(state)
    if hasattr(state, "solve"):
        return SolveWhitener(state)
    raise NtkmixedError(
        f"The {type(problem).__name__} engine offers no products with V̂⁻¹, which exact per-SNP tests need; "
        "use test='grammar-gamma' (a calibrated score test that needs only V̂⁻¹(y − Xβ̂))."
    )
