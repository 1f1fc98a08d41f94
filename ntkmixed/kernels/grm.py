"""The genomic relationship matrix."""

from __future__ import annotations

import numpy as np

from ..data.samples import Samples
from ..estimation.block_factor import BlockFactorOperator
from ..estimation.operators import FactorOperator
from .base import Kernel
from .normalize import Normalization


class GRM(Kernel):
    """Genomic relationship matrix on standardised genotypes (equation 4 of the paper):

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

    #: progress bars for passes over the genotypes (set per fit by the model)
    progress: bool | None = None

    def training_operator(self, train: Samples, normalization: Normalization,
                          raw_diagonal: np.ndarray) -> FactorOperator | BlockFactorOperator:
        """The training GRM as its factor F = Z diag-scaled / √p: read in SNP blocks from
        streamed genotypes (formed as an n × p matrix only if an engine asks for F),
        or from Z when it is already formed.

        Parameters
        ----------
        train : Samples
            The training people.
        normalization : Normalization
            The rule and constants learned from ``raw_diagonal``.
        raw_diagonal : numpy.ndarray
            Un-normalised diagonal of the training GRM.

        Returns
        -------
        FactorOperator or BlockFactorOperator
            What the engines multiply with, decompose or stream.
        """
        row_scale = np.reshape(normalization.row_scale(), (-1, 1))
        streamed = train.streamed
        if streamed is None or train.Z_is_formed:
            Z = self._genotypes(train)
            return FactorOperator(Z * (row_scale / np.sqrt(Z.shape[1])))
        # a scalar normalisation is folded into the standardisation (one pass less per block)
        scalar = row_scale.size == 1
        factor = float(row_scale.ravel()[0]) / np.sqrt(streamed.n_snps) if scalar else 1.0 / np.sqrt(streamed.n_snps)
        rows = None if scalar else row_scale

        def read_block(start: int, stop: int) -> np.ndarray:
            block = streamed.block(start, stop, factor)
            return block if rows is None else block * rows

        def dask_blocks(bounds):
            blocks = streamed.dask_blocks(bounds, factor)
            if blocks is None or rows is None:
                return blocks
            return [block * rows for block in blocks]

        return BlockFactorOperator(
            streamed.n_samples, streamed.n_snps, read_block, streamed.bounds,
            normalization.apply_diagonal(raw_diagonal), dask_blocks if streamed.source.dask is not None else None,
            progress=self.progress, label=self.component_name)

    def diag_of(self, samples: Samples) -> np.ndarray:
        """Un-normalised diagonal zᵢᵀzᵢ / p, one pass over streamed genotypes.

        Parameters
        ----------
        samples : Samples
            The people.

        Returns
        -------
        numpy.ndarray
            One value per person.
        """
        streamed = samples.streamed
        if streamed is None or samples.Z_is_formed:
            return super().diag_of(samples)
        total = np.zeros(streamed.n_samples)
        for start, stop in streamed.bounds():
            block = streamed.block(start, stop)
            total += np.einsum("ij,ij->i", block, block)
        return total / streamed.n_snps

    def normalized_cross_times(self, new: Samples, train: Samples, normalization: Normalization,
                               vectors: np.ndarray) -> np.ndarray:
        """Normalised K(new, train) @ vectors = Z_new (Z_trainᵀ vectors) / p with the
        training constants, streaming the training genotypes (no new × train matrix).

        Parameters
        ----------
        new, train : Samples
            The new people and the training people.
        normalization : Normalization
            The training normalisation.
        vectors : numpy.ndarray
            n_train values (or n_train × m).

        Returns
        -------
        numpy.ndarray
            n_new values (or n_new × m).
        """
        streamed = train.streamed
        if streamed is None or train.Z_is_formed:
            return super().normalized_cross_times(new, train, normalization, vectors)
        vectors = np.asarray(vectors, dtype=np.float64)
        if normalization.rule == "unit-diag":
            vectors = (vectors.T / np.sqrt(normalization.train_diag)).T
        effects = np.concatenate([streamed.block(a, b).T @ vectors for a, b in streamed.bounds()], axis=0)
        Z_new = self._genotypes(new)
        product = Z_new @ effects / streamed.n_snps
        if normalization.rule == "mean-diag":
            return product / normalization.scale
        if normalization.rule == "unit-diag":
            return (product.T / np.sqrt(self.gram_diag(Z_new))).T
        return product

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z2 = Z1 if Z2 is None else Z2
        return (Z1 @ Z2.T) / Z1.shape[1]

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Z, Z) / Z.shape[1]
