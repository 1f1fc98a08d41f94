"""How a trained kernel is handed to an engine: the normalised training kernel as a
:class:`~ntkmixed.estimation.operators.KernelOperator`, built only as far as an engine
asks (a kernel matrix is formed on the first call that needs it, not at training)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..estimation.operators import KernelOperator
from .normalize import Normalization


class GramOperator(KernelOperator):
    """The normalised Gram matrix of a kernel on the training people, formed on first
    use by ``build`` (the kernel's ``train_gram``) and cached; its diagonal is known
    from training without forming it."""

    has_dense = True

    def __init__(self, build: Callable[[], np.ndarray], raw_diagonal: np.ndarray, normalization: Normalization):
        super().__init__(raw_diagonal.size)
        self._build = build
        self._diagonal = normalization.apply_diagonal(raw_diagonal)
        self._normalization = normalization
        self._matrix: np.ndarray | None = None

    def dense(self) -> np.ndarray:
        if self._matrix is None:
            raw = np.asarray(self._build(), dtype=np.float64)
            if not raw.flags.owndata or not raw.flags.writeable:  # normalised in place below
                raw = raw.copy()
            symmetrize_in_place(raw)
            self._matrix = self._normalization.apply_train(raw)
        return self._matrix

    @property
    def is_formed(self) -> bool:
        """Whether the n×n matrix has been computed."""
        return self._matrix is not None

    def matmul(self, V: np.ndarray) -> np.ndarray:
        return self.dense() @ V

    def diagonal(self) -> np.ndarray:
        return self._diagonal.copy()

    def mean_entry(self) -> float:
        return float(self.dense().mean())


def symmetrize_in_place(matrix: np.ndarray, block: int = 1024) -> None:
    """matrix ← (matrix + matrixᵀ)/2 in blocks, without an n×n temporary."""
    n = matrix.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        for other in range(start, n, block):
            end = min(other + block, n)
            average = (matrix[start:stop, other:end] + matrix[other:end, start:stop].T) / 2.0
            matrix[start:stop, other:end] = average
            matrix[other:end, start:stop] = average.T
