"""The genomic relationship matrix."""

from __future__ import annotations

import numpy as np

from .base import Kernel


class GRM(Kernel):
    """Genomic relationship matrix (paper eq. 4) on standardised genotypes:

        K = Z Zᵀ / p

    With the default ``normalize="mean-diag"`` the mean diagonal is 1 on the training
    individuals, so variance components are on the phenotypic scale.
    """

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z2 = Z1 if Z2 is None else Z2
        return (Z1 @ Z2.T) / Z1.shape[1]

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Z, Z) / Z.shape[1]
