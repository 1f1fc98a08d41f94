"""The people a kernel is evaluated on."""

from __future__ import annotations

import numpy as np
import pandas as pd


class Samples:
    """Sample IDs and their standardised genotypes (rows in the order of ``ids``).

    ``Z`` is None when the model has no genotypes (only precomputed kernels). The
    training people carry their genotypes as ``streamed``
    (:class:`~ntkmixed.data.genotype_source.StandardizedGenotypes`): kernels that can
    work block by block (the GRM) read those, and ``Z`` — the whole float64 matrix — is
    formed only when a kernel asks for it, once.

    Parameters
    ----------
    ids : pandas.Index
        Sample IDs.
    Z : numpy.ndarray, optional
        Standardised genotypes, one row per ID.
    streamed : StandardizedGenotypes, optional
        The same genotypes, readable in SNP blocks (instead of ``Z``).
    """

    def __init__(self, ids: pd.Index, Z: np.ndarray | None = None, streamed=None):
        self.ids = ids
        self._Z = Z
        self.streamed = streamed

    @property
    def Z(self) -> np.ndarray | None:
        """Standardised genotypes (n × SNPs), formed from ``streamed`` on first use."""
        if self._Z is None and self.streamed is not None:
            self._Z = self.streamed.dense()
        return self._Z

    @property
    def Z_is_formed(self) -> bool:
        """Whether the whole matrix ``Z`` exists already (then using it is free)."""
        return self._Z is not None

    @property
    def has_genotypes(self) -> bool:
        """Whether genotypes are known (formed or streamed)."""
        return self._Z is not None or self.streamed is not None

    def __repr__(self) -> str:
        held = "streamed" if self._Z is None and self.streamed is not None else ("none" if self._Z is None else "formed")
        return f"Samples(ids=<{len(self.ids)} IDs>, genotypes {held})"
