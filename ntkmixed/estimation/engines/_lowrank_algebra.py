"""Traces of matrices that are a simple part plus a low-rank part, without n×n arrays.

Two engines need them: the diagonal-plus-low-rank engine (Nyström with its exact
diagonal, V⁻¹ = Λ⁻¹ − U N Uᵀ by Woodbury) and the HODLR engine (at every tree node,
V⁻¹ = D⁻¹ − Y N Yᵀ with D block-diagonal).

* :func:`weighted_gram` — Fᵀ diag(w) F for w ≥ 0 in row chunks (no n×m copy).
* :func:`power_traces` — tr(Mʲ), j = 1…4, for M = Δ + s·L N Lᵀ from tr(Δʲ) and the Grams
  Lᵀ Δᵃ L (a = 0…3); Δ need not be diagonal, only known through those numbers.
* :class:`LowRankUpdate` — Δ + L M Rᵀ with Δ diagonal: products and traces of products,
  O(n r²), for the rarely needed traces of long products (MINQUE's Var(q)).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk

#: rows per chunk of a weighted Gram: bounds the temporary copy at chunk × m doubles
GRAM_CHUNK_ROWS = 8192


def weighted_gram(F: np.ndarray, weights: np.ndarray | None = None, chunk: int = GRAM_CHUNK_ROWS) -> np.ndarray:
    """Fᵀ diag(weights) F (weights ≥ 0; None = all ones), exactly symmetric, by rank-k
    updates over row chunks so that no scaled copy of F is made."""
    n, m = F.shape
    upper = np.zeros((m, m), order="F")
    for start in range(0, n, chunk):
        block = F[start : start + chunk]
        if weights is not None:
            block = block * np.sqrt(weights[start : start + chunk])[:, None]
        # blockᵀ block: a C-ordered block is a Fortran-ordered blockᵀ, so BLAS copies nothing
        upper = dsyrk(1.0, block.T, beta=1.0, c=upper, trans=0, overwrite_c=1)
    return np.triu(upper) + np.triu(upper, 1).T


def power_traces(delta_traces, grams, middle: np.ndarray, sign: float = 1.0) -> np.ndarray:
    """``[tr M, tr M², tr M³, tr M⁴]`` for M = Δ + s·L N Lᵀ (N symmetric, s = ±1).

    ``delta_traces[j−1]`` = tr(Δʲ) and ``grams[a]`` = Lᵀ Δᵃ L for a = 0…3 (fewer of
    each give fewer traces). With E = s L N Lᵀ, expanding (Δ + E)ʲ and collecting the
    cyclic arrangements of the factors: tr(ΔᵃE) = s tr(N Gₐ), tr(ΔᵃEΔᵇE) = tr(N Gₐ N G_b),
    and so on.
    """
    N = middle
    G = list(grams)
    count = min(len(delta_traces), len(G), 4)
    NG = [N @ g for g in G]
    traces = []
    if count >= 1:
        traces.append(delta_traces[0] + sign * np.trace(NG[0]))
    if count >= 2:
        N0N0 = NG[0] @ NG[0]
        traces.append(delta_traces[1] + 2 * sign * np.trace(NG[1]) + np.trace(N0N0))
    if count >= 3:
        traces.append(
            delta_traces[2] + 3 * sign * np.trace(NG[2]) + 3 * np.trace(NG[0] @ NG[1]) + sign * np.trace(N0N0 @ NG[0])
        )
    if count >= 4:
        traces.append(
            delta_traces[3]
            + 4 * sign * np.trace(NG[3])
            + 4 * np.trace(NG[0] @ NG[2])
            + 2 * np.trace(NG[1] @ NG[1])
            + 4 * sign * np.trace(N0N0 @ NG[1])
            + np.trace(N0N0 @ N0N0)
        )
    return np.array(traces, dtype=np.float64)


class LowRankUpdate:
    """M = diag(δ) + L Mid Rᵀ (L: n×a, Mid: a×b, R: n×b), for products and traces."""

    def __init__(self, delta: np.ndarray, left: np.ndarray, middle: np.ndarray, right: np.ndarray):
        self.delta, self.left, self.middle, self.right = delta, left, middle, right

    @classmethod
    def diagonal(cls, delta: np.ndarray) -> "LowRankUpdate":
        n = delta.size
        return cls(delta, np.zeros((n, 0)), np.zeros((0, 0)), np.zeros((n, 0)))

    @property
    def rank(self) -> int:
        return self.middle.shape[0] + self.middle.shape[1]

    def __matmul__(self, other: "LowRankUpdate") -> "LowRankUpdate":
        """(δ₁ + L₁M₁R₁ᵀ)(δ₂ + L₂M₂R₂ᵀ) = δ₁δ₂ + [δ₁L₂, L₁] [[M₂, 0], [M₁R₁ᵀL₂M₂, M₁]] [R₂, δ₂R₁]ᵀ."""
        a2, b2 = other.middle.shape
        a1, b1 = self.middle.shape
        cross = self.middle @ (self.right.T @ other.left) @ other.middle
        middle = np.zeros((a2 + a1, b2 + b1))
        middle[:a2, :b2] = other.middle
        middle[a2:, :b2] = cross
        middle[a2:, b2:] = self.middle
        left = np.hstack([self.delta[:, None] * other.left, self.left])
        right = np.hstack([other.right, other.delta[:, None] * self.right])
        return LowRankUpdate(self.delta * other.delta, left, middle, right)

    def trace(self) -> float:
        return float(np.sum(self.delta) + np.trace(self.middle @ (self.right.T @ self.left)))

    def trace_product(self, other: "LowRankUpdate") -> float:
        """tr(self · other) without forming the product's bases."""
        value = float(np.sum(self.delta * other.delta))
        value += float(np.trace(other.middle @ (other.right.T @ (self.delta[:, None] * other.left))))
        value += float(np.trace(self.middle @ (self.right.T @ (other.delta[:, None] * self.left))))
        value += float(np.trace(self.middle @ (self.right.T @ other.left) @ other.middle @ (other.right.T @ self.left)))
        return value

    def dense(self) -> np.ndarray:
        """The n×n matrix (tests only)."""
        return np.diag(self.delta) + self.left @ self.middle @ self.right.T
