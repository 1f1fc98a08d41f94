"""Genotype matrices: coercion of what users pass, and column standardisation.

Standardisation is learned on the training individuals (means, SDs, which SNPs are kept)
and replayed unchanged on new individuals, so that kernels between training and new
people are computed in the same coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataWarning, NtkmixedError, warn


@dataclass(frozen=True)
class Standardization:
    """Per-SNP centring and scaling learned from training genotypes.

    ``z_ij = (g_ij - mean_j) / sd_j`` for the kept (non-monomorphic) SNPs; missing calls
    are set to the training mean before scaling (so to 0 after it). ``scale`` says how the
    SD was obtained: ``"sample"`` (empirical SD, ddof=0) or ``"binomial"``
    (``sqrt(2 p (1 - p))`` with ``p = mean / 2``, as PLINK and GCTA do for 0/1/2 dosages).
    """

    means: np.ndarray
    sds: np.ndarray
    kept: np.ndarray
    snp_names: tuple[str, ...]
    scale: str = "sample"

    @property
    def n_snps(self) -> int:
        """Number of SNPs kept (polymorphic in training)."""
        return int(self.kept.sum())

    def apply(self, genotypes: np.ndarray) -> np.ndarray:
        """Standardise new rows with the training means and SDs.

        Parameters
        ----------
        genotypes : array_like
            n × p dosages with the training SNP columns (NaN for missing calls).

        Returns
        -------
        numpy.ndarray
            n × :attr:`n_snps` standardised genotypes.
        """
        values = np.asarray(genotypes, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.kept.size:
            raise NtkmixedError(
                f"Genotypes for prediction must have {self.kept.size} SNP columns, as in "
                f"training. Got shape {values.shape}."
            )
        kept = values[:, self.kept]
        means = self.means[self.kept]
        kept = np.where(np.isnan(kept), means, kept)
        return (kept - means) / self.sds[self.kept]


def standardize(
    genotypes: Any, scale: str = "sample", quiet: bool = False
) -> tuple[np.ndarray, Standardization]:
    """Standardise genotype columns; returns ``(Z, standardization)``.

    Monomorphic SNPs (zero variance among non-missing calls) are dropped, with a
    :class:`~ntkmixed.exceptions.DataWarning` unless ``quiet``.

    Parameters
    ----------
    genotypes : array_like, pandas.DataFrame, Genotypes or str
        n × p dosages (NaN for missing calls), a DataFrame indexed by sample ID, a
        :class:`~ntkmixed.Genotypes` or a PLINK prefix.
    scale : {"sample", "binomial"}, default "sample"
        Empirical SDs, or ``sqrt(2 p (1 - p))`` from the allele frequency (PLINK, GCTA).
    quiet : bool, default False
        Drop monomorphic SNPs without a warning.

    Returns
    -------
    Z : numpy.ndarray
        Standardised genotypes of the kept SNPs, missing calls at 0.
    standardization : Standardization
        The training means and SDs, to apply to new people.
    """
    values, _, snp_names = coerce_genotypes(genotypes, "genotypes", "standardize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns give NaN
        means = np.nanmean(values, axis=0)
        if scale == "sample":
            sds = np.nanstd(values, axis=0)
        elif scale == "binomial":
            freq = means / 2.0
            sds = np.sqrt(2.0 * freq * (1.0 - freq))
        else:
            raise NtkmixedError(
                f"The 'scale' parameter of standardize must be one of {{'sample', 'binomial'}}. "
                f"Got {scale!r} instead."
            )
    kept = np.isfinite(sds) & (sds > 1e-12)
    if not kept.any():
        raise NtkmixedError(
            "The 'genotypes' argument has no polymorphic SNP: every column is constant or "
            "entirely missing."
        )
    dropped = int((~kept).sum())
    if dropped and not quiet:
        warn(f"Dropped {dropped} monomorphic or all-missing SNP(s) of {kept.size}.", DataWarning)
    standardization = Standardization(
        means=np.where(np.isfinite(means), means, 0.0),
        sds=np.where(kept, sds, 1.0),
        kept=kept,
        snp_names=tuple(snp_names),
        scale=scale,
    )
    return standardization.apply(values), standardization


def coerce_genotypes(
    genotypes: Any, name: str, where: str
) -> tuple[np.ndarray, pd.Index | None, list[str]]:
    """``(values, sample_ids or None, snp_names)`` from an array, a DataFrame indexed by
    sample ID, a PLINK prefix (str/Path) or any object with ``to_dataframe()``."""
    if isinstance(genotypes, (str,)) or hasattr(genotypes, "__fspath__"):
        from .plink import read_plink

        genotypes = read_plink(genotypes)
    if not isinstance(genotypes, (pd.DataFrame, np.ndarray)) and hasattr(genotypes, "to_dataframe"):
        genotypes = genotypes.to_dataframe()
    if isinstance(genotypes, pd.DataFrame):
        non_numeric = [c for c in genotypes.columns if not pd.api.types.is_numeric_dtype(genotypes[c])]
        if non_numeric:
            shown = ", ".join(map(str, non_numeric[:5]))
            raise NtkmixedError(
                f"The {name!r} argument of {where} must hold numeric dosages. Got "
                f"non-numeric column(s): {shown}"
                + (f" and {len(non_numeric) - 5} more." if len(non_numeric) > 5 else ".")
            )
        if genotypes.index.has_duplicates:
            dups = genotypes.index[genotypes.index.duplicated()].unique()[:5].tolist()
            raise NtkmixedError(
                f"The {name!r} argument of {where} has duplicated sample IDs in its index: {dups}."
            )
        values = genotypes.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, genotypes.index, [str(c) for c in genotypes.columns]
    try:
        values = np.asarray(genotypes, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a numeric n×p array, a DataFrame "
            f"indexed by sample ID, or a PLINK prefix. Got a {type(genotypes).__name__} "
            "with non-numeric values."
        ) from None
    if values.ndim != 2:
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a 2-D n×p matrix (people × SNPs). "
            f"Got an array with shape {values.shape}."
        )
    if np.isinf(values).any():
        raise NtkmixedError(f"The {name!r} argument of {where} contains infinite values.")
    return values, None, [f"snp{j + 1}" for j in range(values.shape[1])]
