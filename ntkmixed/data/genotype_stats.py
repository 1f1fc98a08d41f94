"""Per-SNP and per-sample statistics of a genotype fileset, streamed in SNP blocks: call
counts, missingness, allele frequencies (founders), mean dosages and the exact
Hardy–Weinberg test. QC filters (:mod:`ntkmixed.data.qc`) and mean imputation
(:meth:`Genotypes.impute_mean`) both read them from here.

Functions take any object shaped like :class:`~ntkmixed.data.plink.Genotypes` (``fam``,
``sample_ids``, ``snp_ids``, ``n_samples``, ``n_snps``, ``raw()``, ``iter_snp_blocks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp

if TYPE_CHECKING:  # annotations only: plink imports this module
    from .plink import Genotypes

# HWE: genotype configurations as likely as the observed one (up to rounding) count
# towards the p-value, as in Wigginton et al.'s reference code.
_HWE_TIE = 1e-7


def founder_mask(genotypes: Genotypes) -> np.ndarray:
    """People with both parent IDs ``0`` (PLINK's founders)."""
    fam = genotypes.fam
    return ((fam["father"] == "0") & (fam["mother"] == "0")).to_numpy()


def sample_missingness(genotypes: Genotypes, block_size: int | None = None) -> pd.Series:
    """Share of missing calls per sample (PLINK's F_MISS), indexed by IID."""
    missing = np.zeros(genotypes.n_samples)
    for _, block in genotypes.raw().iter_snp_blocks(block_size):
        missing += np.isnan(block).sum(axis=1)
    return pd.Series(missing / max(genotypes.n_snps, 1), index=genotypes.sample_ids, name="missing_rate")


def snp_statistics(genotypes: Genotypes, block_size: int | None = None) -> pd.DataFrame:
    """Per-SNP call counts, missing rate, A1 frequency, MAF, mean dosage and exact HWE
    p-value, indexed by SNP ID. Frequencies and HWE use founders (all samples if there
    are none); counts of calls and the mean dosage use everyone."""
    founders = founder_mask(genotypes)
    if not founders.any():
        founders = np.ones(genotypes.n_samples, dtype=bool)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("n_called", "n_missing", "sum", "hom_a2", "het", "hom_a1")}
    for _, block in genotypes.raw().iter_snp_blocks(block_size):
        called = ~np.isnan(block)
        columns["n_called"].append(called.sum(axis=0))
        columns["n_missing"].append((~called).sum(axis=0))
        columns["sum"].append(np.nansum(block, axis=0))
        founder_block = block[founders]
        for key, value in (("hom_a2", 0.0), ("het", 1.0), ("hom_a1", 2.0)):
            columns[key].append((founder_block == value).sum(axis=0))
    arrays = {k: np.concatenate(v) if v else np.empty(0) for k, v in columns.items()}
    n_called = arrays["n_called"].astype(np.int64)
    founder_called = arrays["hom_a2"] + arrays["het"] + arrays["hom_a1"]
    with np.errstate(invalid="ignore", divide="ignore"):
        a1_freq = (2 * arrays["hom_a1"] + arrays["het"]) / (2 * founder_called)
        mean_dosage = arrays["sum"] / n_called
    return pd.DataFrame(
        {
            "n_called": n_called,
            "n_missing": arrays["n_missing"].astype(np.int64),
            "missing_rate": arrays["n_missing"] / max(genotypes.n_samples, 1),
            "a1_freq": a1_freq,
            "maf": np.minimum(a1_freq, 1 - a1_freq),
            "mean_dosage": mean_dosage,
            "n_hom_a1": arrays["hom_a1"].astype(np.int64),
            "n_het": arrays["het"].astype(np.int64),
            "n_hom_a2": arrays["hom_a2"].astype(np.int64),
            "hwe_p": hwe_exact(arrays["het"], arrays["hom_a1"], arrays["hom_a2"]),
        },
        index=genotypes.snp_ids,
    )


def hwe_exact(n_het: Any, n_hom1: Any, n_hom2: Any) -> np.ndarray:
    """Exact two-sided Hardy–Weinberg test (Wigginton, Cutler & Abecasis 2005, AJHG 76:887).

    Given ``N`` called genotypes with ``m`` copies of the rarer allele, the number of
    heterozygotes has probability ``N! m! (2N-m)! 2^k / (k! a! b! (2N)!)`` with ``a``/``b``
    the homozygote counts implied by ``k``; the p-value sums the probabilities of every
    ``k`` no more likely than the observed one. Computed in log space. Vectorised over
    SNPs; a SNP with no calls gets NaN.
    """
    het, hom1, hom2 = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (n_het, n_hom1, n_hom2))
    p_values = np.full(het.shape, np.nan)
    for j in range(het.size):
        n = het[j] + hom1[j] + hom2[j]
        if n == 0:
            continue
        rare = 2 * min(hom1[j], hom2[j]) + het[j]
        k = np.arange(rare % 2, rare + 1, 2)
        hom_rare = (rare - k) // 2
        hom_common = n - k - hom_rare
        log_p = k * np.log(2.0) - gammaln(k + 1) - gammaln(hom_rare + 1) - gammaln(hom_common + 1)
        log_p -= logsumexp(log_p)
        observed = log_p[(het[j] - rare % 2) // 2]
        tied_or_less = log_p <= observed + _HWE_TIE
        p_values[j] = min(1.0, float(np.exp(logsumexp(log_p[tied_or_less]))))
    return p_values
