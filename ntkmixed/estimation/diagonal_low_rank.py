"""A kernel known as a low-rank factor plus a diagonal: K = F Fᵀ + diag(d), d ≥ 0.

This is what a Nyström approximation with its diagonal corrected to the exact kernel
diagonal looks like (``Nystrom(..., diagonal="exact")``: d = diag(K) − diag(F Fᵀ)).
Products cost O(n m); engines that know the structure (Woodbury, the determinant
lemma) fit it in O(n m²) per evaluation without an n×n array; the dense matrix is
formed only if an engine asks for it.
"""

from __future__ import annotations

import numpy as np

from .operators import KernelOperator


class DiagonalPlusLowRankOperator(KernelOperator):
    """K = F Fᵀ + diag(d) with F of shape n×m and d ≥ 0.

    ``approximation`` describes how the representation was obtained (for a Nyström
    kernel: landmarks, rank, trace error), so that engines can report it."""

    has_dense = True

    def __init__(self, factor: np.ndarray, correction: np.ndarray, approximation: dict | None = None):
        factor = np.asarray(factor, dtype=np.float64)
        correction = np.asarray(correction, dtype=np.float64)
        if factor.ndim != 2 or correction.shape != (factor.shape[0],):
            raise ValueError(
                f"a diagonal-plus-low-rank kernel needs an n×m factor and n diagonal values; got "
                f"shapes {factor.shape} and {correction.shape}"
            )
        if np.any(correction < 0) or not np.all(np.isfinite(correction)):
            raise ValueError("the diagonal correction of a diagonal-plus-low-rank kernel must be finite and ≥ 0")
        super().__init__(factor.shape[0])
        self.F = factor
        self.d = correction
        self.approximation = dict(approximation or {})
        self._matrix: np.ndarray | None = None

    @property
    def is_formed(self) -> bool:
        return self._matrix is not None

    @property
    def rank(self) -> int:
        return self.F.shape[1]

    def matmul(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        scaled = self.d * V if V.ndim == 1 else self.d[:, None] * V
        return self.F @ (self.F.T @ V) + scaled

    def diagonal(self) -> np.ndarray:
        return np.einsum("ij,ij->i", self.F, self.F) + self.d

    def mean_entry(self) -> float:
        column_sums = self.F.sum(axis=0)
        return float(column_sums @ column_sums + self.d.sum()) / self.n**2

    def dense(self) -> np.ndarray:
        if self._matrix is None:
            matrix = self.F @ self.F.T
            matrix[np.diag_indices(self.n)] += self.d
            self._matrix = matrix
        return self._matrix
