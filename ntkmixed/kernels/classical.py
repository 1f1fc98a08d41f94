"""Classical kernels on standardised genotypes: polynomial and Gaussian (RBF)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ..exceptions import NtkmixedError
from ._checks import gram_inputs
from .base import Kernel


#: rows up to which :meth:`Gaussian.fixed_on` takes the median over all pairs
MEDIAN_EXACT_ROWS = 20000
#: rows whose pairs give the median beyond that
MEDIAN_SAMPLE = 5000


class Polynomial(Kernel):
    """Polynomial kernel on standardised genotypes:

        K(z, z') = (z·z'/p + c)^degree

    ``degree=1, c=0`` is the GRM; higher degrees add SNP-by-SNP interactions.

    Parameters
    ----------
    degree : int, default 2
        Power of the kernel (≥ 1).
    c : float, default 1.0
        Constant added before the power (≥ 0).
    normalize : {"mean-diag", "unit-diag", "none"}, default "mean-diag"
        Normalisation applied by the model (mean training diagonal 1, cosine, or none).
    name : str, optional
        Name of the variance component in results (default: ``"Polynomial"``).
    """

    def __init__(self, degree: int = 2, c: float = 1.0, normalize: str | None = "mean-diag", name: str | None = None):
        super().__init__(normalize=normalize, name=name)
        self.degree = check_positive_int(degree, "degree", "Polynomial")
        self.c = check_positive_float(c, "c", "Polynomial", allow_zero=True)

    def params(self) -> dict[str, Any]:
        return {"degree": self.degree, "c": self.c}

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z1, Z2 = gram_inputs(Z1, Z2, "Polynomial")
        K = Z1 @ (Z1 if Z2 is None else Z2).T
        K /= Z1.shape[1]
        K += self.c
        return K**self.degree

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        Z, _ = gram_inputs(Z, None, "Polynomial")
        return (np.einsum("ij,ij->i", Z, Z) / Z.shape[1] + self.c) ** self.degree


class Gaussian(Kernel):
    """Gaussian (RBF) kernel on standardised genotypes:

        K(z, z') = exp(−‖z − z'‖² / (2·bandwidth²))

    With ``bandwidth=None`` the bandwidth is the median heuristic: the median Euclidean
    distance ‖z_i − z_j‖ over distinct pairs i < j of the *reference* rows. Because a
    kernel holds no fitted state, the reference rows are what ``gram`` receives as
    training rows: ``gram(Z)`` uses the pairs of ``Z``, and ``gram(Z_new, Z_train)``
    uses the pairs of ``Z_train`` (the second argument), so a cross-kernel for new people
    uses the bandwidth learned on the training people. The median costs O(n²p) on the
    reference rows. K(z, z) = 1.

    Parameters
    ----------
    bandwidth : float, optional
        Length scale (> 0); default the median heuristic above.
    normalize : {"mean-diag", "unit-diag", "none"}, default "mean-diag"
        Normalisation applied by the model (mean training diagonal 1, cosine, or none).
    name : str, optional
        Name of the variance component in results (default: ``"Gaussian"``).
    """

    def __init__(self, bandwidth: float | None = None, normalize: str | None = "mean-diag", name: str | None = None):
        super().__init__(normalize=normalize, name=name)
        self.bandwidth = None if bandwidth is None else check_positive_float(bandwidth, "bandwidth", "Gaussian")

    def params(self) -> dict[str, Any]:
        return {"bandwidth": self.bandwidth}

    def bandwidth_for(self, Z_reference: np.ndarray) -> float:
        """The bandwidth used when ``Z_reference`` are the training rows.

        Parameters
        ----------
        Z_reference : numpy.ndarray
            Standardised genotypes of the training people, n × p.

        Returns
        -------
        float
            ``bandwidth`` if it was given, else the median pairwise distance.
        """
        if self.bandwidth is not None:
            return self.bandwidth
        Z_reference, _ = gram_inputs(Z_reference, None, "Gaussian")
        squared = _squared_distances(Z_reference, Z_reference)
        upper = squared[np.triu_indices(Z_reference.shape[0], k=1)]
        if upper.size == 0:
            raise NtkmixedError("The median-heuristic bandwidth of Gaussian needs at least two reference rows. Got 1.")
        median = float(np.median(np.sqrt(upper)))
        if median <= 0:
            raise NtkmixedError(
                "The median-heuristic bandwidth of Gaussian is 0 (more than half of the reference "
                "rows are identical); pass bandwidth=... explicitly."
            )
        return median

    def fixed_on(self, Z_reference: np.ndarray, seed: int = 0) -> "Gaussian":
        """This kernel with its bandwidth fixed on the training rows, for code that
        evaluates the kernel in blocks (Nyström, on-the-fly products): the median over
        all pairs up to MEDIAN_EXACT_ROWS rows (the rule of :meth:`gram`), over the pairs
        of MEDIAN_SAMPLE rows drawn with ``seed`` beyond (all pairs would need an n×n
        array).

        Parameters
        ----------
        Z_reference : numpy.ndarray
            Standardised genotypes of the training people, n × p.
        seed : int, default 0
            Seed of the row sample when n exceeds MEDIAN_EXACT_ROWS.

        Returns
        -------
        Gaussian
            A copy with ``bandwidth`` set (this kernel itself when it already has one).
        """
        if self.bandwidth is not None:
            return self
        rows = Z_reference
        if Z_reference.shape[0] > MEDIAN_EXACT_ROWS:
            chosen = np.random.default_rng(seed).choice(Z_reference.shape[0], MEDIAN_SAMPLE, replace=False)
            rows = Z_reference[np.sort(chosen)]
        return Gaussian(bandwidth=self.bandwidth_for(rows), normalize=self.normalize, name=self.name)

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z1, Z2 = gram_inputs(Z1, Z2, "Gaussian")
        reference = Z1 if Z2 is None else Z2
        bandwidth = self.bandwidth_for(reference)
        K = _squared_distances(Z1, reference)
        K *= -1.0 / (2.0 * bandwidth**2)
        np.exp(K, out=K)
        if Z2 is None:
            np.fill_diagonal(K, 1.0)
        return K

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        Z, _ = gram_inputs(Z, None, "Gaussian")
        return np.ones(Z.shape[0])


def _squared_distances(Z1: np.ndarray, Z2: np.ndarray) -> np.ndarray:
    """‖z_i − z'_j‖², clipped at 0 against rounding."""
    D = Z1 @ Z2.T
    D *= -2.0
    D += np.einsum("ij,ij->i", Z1, Z1)[:, None]
    D += np.einsum("ij,ij->i", Z2, Z2)[None, :]
    np.maximum(D, 0.0, out=D)
    return D
