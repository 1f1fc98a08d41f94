"""What an engine may ask of a kernel matrix K (n×n, positive semi-definite) without
knowing how the kernel was built: products K·V, the diagonal, the mean entry, and —
where the representation has them — the dense matrix, a factor F with K = F Fᵀ, or a
(cached) eigendecomposition.

Trained kernels (:mod:`ntkmixed.kernels.trained`) hand engines one of these; an engine
asks only for what it needs (``has_dense``/``factor()`` say what is cheap), so new
representations (a genotype factor, a matrix-free product, a compressed matrix) plug in
by implementing this interface.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk

from .factor_svd import ThinSVD, thin_svd


class KernelOperator:
    """Base of every kernel representation an engine can use.

    Parameters
    ----------
    n : int
        Size of the (square) kernel.
    """

    #: whether :meth:`dense` returns a stored matrix (True) or is unavailable
    has_dense: bool = False

    def __init__(self, n: int):
        self.n = int(n)
        self._spectrum: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, n)``."""
        return (self.n, self.n)

    def matmul(self, V: np.ndarray) -> np.ndarray:
        """K @ V for a vector or an n×m block.

        Parameters
        ----------
        V : numpy.ndarray
            n or n × m.

        Returns
        -------
        numpy.ndarray
            K V, of the shape of ``V``.
        """
        raise NotImplementedError

    def diagonal(self) -> np.ndarray:
        """diag K.

        Returns
        -------
        numpy.ndarray
            n values.
        """
        raise NotImplementedError

    def mean_entry(self) -> float:
        """Mean of all n² entries, 1ᵀK1 / n² (the part of K an intercept absorbs).

        Returns
        -------
        float
        """
        return float(np.sum(self.matmul(np.ones(self.n)))) / self.n**2

    def dense(self) -> np.ndarray:
        """The n×n matrix, where the representation holds one (see ``has_dense``).

        Returns
        -------
        numpy.ndarray
            n × n.
        """
        raise NotImplementedError(f"{type(self).__name__} holds no dense matrix")

    def factor(self) -> np.ndarray | None:
        """F (n×r) with K = F Fᵀ when the representation knows one, else None.

        Returns
        -------
        numpy.ndarray or None
        """
        return None

    def factor_width(self) -> int | None:
        """Columns of :meth:`factor` without forming it (None when there is no factor).

        Returns
        -------
        int or None
            r, with K = F Fᵀ and F n × r.
        """
        F = self.factor()
        return None if F is None else F.shape[1]

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """``(s, U)`` with K = U diag(s) Uᵀ, ascending, computed once and cached (every
        engine and estimator that decomposes this kernel shares it).

        Returns
        -------
        s : numpy.ndarray
            Eigenvalues, ascending.
        U : numpy.ndarray
            Eigenvectors, one per column.
        """
        if self._spectrum is None:
            self._spectrum = np.linalg.eigh(self.dense())
        return self._spectrum

    @property
    def is_formed(self) -> bool:
        """Whether the n×n matrix is held now (``has_dense`` says only that it can be
        formed): callers that merely benefit from a dense matrix, such as diagnostics,
        use it only when it is already there."""
        return False

    @property
    def has_spectrum(self) -> bool:
        """Whether the eigendecomposition is already computed (so reusing it is free)."""
        return self._spectrum is not None

    def release_spectrum(self) -> None:
        """Drop the cached decomposition (an n×n matrix) to free memory."""
        self._spectrum = None


class DenseOperator(KernelOperator):
    """A kernel held as an n×n array.

    Parameters
    ----------
    matrix : array_like
        The square kernel matrix.
    """

    has_dense = True
    is_formed = True  # the matrix is the representation

    def __init__(self, matrix: np.ndarray):
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"a kernel matrix must be square; got shape {matrix.shape}")
        super().__init__(matrix.shape[0])
        self.matrix = matrix

    def matmul(self, V: np.ndarray) -> np.ndarray:
        return self.matrix @ V

    def diagonal(self) -> np.ndarray:
        return np.diag(self.matrix).copy()

    def mean_entry(self) -> float:
        return float(self.matrix.mean())

    def dense(self) -> np.ndarray:
        return self.matrix


class FactorOperator(KernelOperator):
    """A kernel known through a factor: K = F Fᵀ with F of shape n×r. Products cost
    O(n r); the n×n matrix is formed (and cached) only if an engine asks for it.

    Parameters
    ----------
    factor : array_like
        F, n × r.
    """

    has_dense = True

    def __init__(self, factor: np.ndarray):
        factor = np.asarray(factor, dtype=np.float64)
        if factor.ndim != 2:
            raise ValueError(f"a kernel factor must be an n×r matrix; got shape {factor.shape}")
        super().__init__(factor.shape[0])
        self.F = factor
        self._matrix: np.ndarray | None = None
        self._thin_svd: ThinSVD | None = None

    @property
    def is_formed(self) -> bool:
        """Whether F Fᵀ has been formed (only when a caller asked for the dense matrix)."""
        return self._matrix is not None

    @property
    def rank(self) -> int:
        """Columns of the factor (an upper bound on the rank of K)."""
        return self.F.shape[1]

    def factor(self) -> np.ndarray:
        """F, with K = F Fᵀ.

        Returns
        -------
        numpy.ndarray
            n × r.
        """
        return self.F

    def factor_width(self) -> int:
        return self.F.shape[1]

    def thin_svd(self) -> ThinSVD:
        """F = U diag(σ) Vᵀ on its numerical rank (K = U diag(σ²) Uᵀ), computed once and
        cached (the low-rank engine's decomposition, shared by every fit on this kernel).

        Returns
        -------
        ThinSVD
            ``U`` (n×m, orthonormal), ``sigma`` (descending) and ``V`` (r×m).
        """
        if self._thin_svd is None:
            self._thin_svd = thin_svd(self.F)
        return self._thin_svd

    def matmul(self, V: np.ndarray) -> np.ndarray:
        return self.F @ (self.F.T @ V)

    def diagonal(self) -> np.ndarray:
        return np.einsum("ij,ij->i", self.F, self.F)

    def mean_entry(self) -> float:
        column_sums = self.F.sum(axis=0)
        return float(column_sums @ column_sums) / self.n**2

    def dense(self) -> np.ndarray:
        if self._matrix is None:
            # F Fᵀ by a rank-r update: half the flops of a GEMM and exactly symmetric
            upper = dsyrk(1.0, self.F)
            self._matrix = np.triu(upper) + np.triu(upper, 1).T
        return self._matrix


def as_operator(kernel) -> KernelOperator:
    """An operator for an operator or a plain n×n array (for pure, array-level use).

    Parameters
    ----------
    kernel : KernelOperator or array_like
        An operator (returned as is) or an n×n matrix.

    Returns
    -------
    KernelOperator
    """
    return kernel if isinstance(kernel, KernelOperator) else DenseOperator(kernel)
