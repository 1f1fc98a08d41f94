"""The genomic relationship matrix."""

from __future__ import annotations

import numpy as np

from ..data.samples import Samples
from ..estimation.operators import FactorOperator
from .base import Kernel
from .normalize import Normalization


class GRM(Kernel):
    """Genomic relationship matrix (paper eq. 4) on standardised genotypes:

        K = Z Zᵀ / p

    With the default ``normalize="mean-diag"`` the mean diagonal is 1 on the training
    individuals, so variance components are on the phenotypic scale.

    On the training people it is handed to engines as its factor F = Z/√p (scaled by the
    normalisation), so K = F Fᵀ is formed only when an engine needs the n×n matrix.

    Parameters
    ----------
    normalize : {"mean-diag", "unit-diag", "none"}, default "mean-diag"
        Normalisation applied by the model (mean training diagonal 1, cosine, or none).
    name : str, optional
        Name of the variance component in results (default: ``"GRM"``).

    Examples
    --------
    >>> import ntkmixed as nm
    >>> nm.GRM()
    GRM()
    """

    def training_operator(self, train: Samples, normalization: Normalization, raw_diagonal: np.ndarray) -> FactorOperator:
        Z = self._genotypes(train)
        scale = normalization.row_scale()
        factor = Z * (np.reshape(scale, (-1, 1)) / np.sqrt(Z.shape[1]))
        return FactorOperator(factor)

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z2 = Z1 if Z2 is None else Z2
        return (Z1 @ Z2.T) / Z1.shape[1]

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Z, Z) / Z.shape[1]
