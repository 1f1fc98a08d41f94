"""Genotype quality control as PLINK 2 does it: ``--mind``, ``--geno``, ``--hwe``, ``--maf``.

The filters are applied in PLINK 2's order — per-sample missingness first (over all
SNPs), then, on the remaining people, per-SNP missingness, the Hardy–Weinberg exact test
and the minor-allele-frequency filter — and each reports how many it removed. Allele
frequencies and HWE genotype counts use founders only (both parent IDs ``0`` in the
.fam), missingness uses everyone, as in PLINK 2. Missing calls that survive QC are
replaced by the SNP's mean dosage over the retained people, and the number imputed is
recorded on the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp

from .exceptions import NtkmixedError
from .plink import Genotypes

# PLINK 2 compares thresholds with a small tolerance so that a rate equal to the
# threshold (e.g. 5 missing of 50 with --geno 0.1) is kept; do the same.
_TOLERANCE = 1e-9
# HWE: genotype configurations as likely as the observed one (up to rounding) count
# towards the p-value, as in Wigginton et al.'s reference code.
_HWE_TIE = 1e-7


@dataclass(frozen=True)
class QCReport:
    """What :func:`qc` did: thresholds, counts removed by each filter (in the order
    applied), the removed IDs, and the number of mean-imputed calls."""

    thresholds: dict[str, float | None]
    n_samples_in: int
    n_snps_in: int
    removed: dict[str, int]
    removed_samples: pd.Index
    removed_snps: pd.Index
    n_samples_out: int
    n_snps_out: int
    n_imputed: int
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        out = [f"QC input: {self.n_samples_in} samples, {self.n_snps_in} SNPs."]
        labels = {
            "mind": "samples removed due to missing genotype data (--mind {})",
            "geno": "SNPs removed due to missing genotype data (--geno {})",
            "hwe": "SNPs removed due to Hardy-Weinberg exact test (--hwe {})",
            "maf": "SNPs removed due to minor allele frequency (--maf {})",
        }
        for key, count in self.removed.items():
            out.append(f"{count} " + labels[key].format(self.thresholds[key]))
        out.extend(self.notes)
        out.append(
            f"{self.n_samples_out} samples and {self.n_snps_out} SNPs pass QC; "
            f"{self.n_imputed} missing call(s) mean-imputed."
        )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "n_samples_in": self.n_samples_in,
            "n_snps_in": self.n_snps_in,
            "removed": dict(self.removed),
            "n_samples_out": self.n_samples_out,
            "n_snps_out": self.n_snps_out,
            "n_imputed": self.n_imputed,
            "notes": list(self.notes),
        }


def qc(
    genotypes: Genotypes,
    maf: float | None = None,
    geno: float | None = None,
    mind: float | None = None,
    hwe: float | None = None,
    impute: bool = True,
) -> Genotypes:
    """Filter ``genotypes`` like ``plink2 --mind --geno --hwe --maf`` and mean-impute the
    remaining missing calls (``impute=False`` leaves them missing).

    ``mind``/``geno``: remove samples/SNPs whose missing-call rate exceeds the value;
    ``hwe``: remove SNPs with exact HWE p-value below it; ``maf``: remove SNPs with minor
    allele frequency below it. ``None`` skips a filter. Returns a narrowed
    :class:`~ntkmixed.plink.Genotypes` whose ``qc_report`` is a :class:`QCReport`.
    """
    if not isinstance(genotypes, Genotypes):
        raise NtkmixedError(
            f"The 'genotypes' argument of qc must be a Genotypes object (from read_plink). "
            f"Got {type(genotypes).__name__}."
        )
    thresholds = {
        "mind": _check_fraction(mind, "mind", upper=1.0),
        "geno": _check_fraction(geno, "geno", upper=1.0),
        "hwe": _check_fraction(hwe, "hwe", upper=1.0),
        "maf": _check_fraction(maf, "maf", upper=0.5),
    }
    current = genotypes.raw()
    removed: dict[str, int] = {}
    notes: list[str] = []
    removed_samples = pd.Index([], name="IID")
    removed_snps: list[pd.Index] = []

    if thresholds["mind"] is not None:
        rate = sample_missingness(current)
        drop = rate.to_numpy() > thresholds["mind"] + _TOLERANCE
        removed["mind"] = int(drop.sum())
        removed_samples = current.sample_ids[drop]
        if drop.all():
            raise NtkmixedError(f"--mind {thresholds['mind']} removed every sample.")
        current = current._narrow(sample_positions=np.flatnonzero(~drop))

    stats = snp_statistics(current)
    if not founder_mask(current).any():
        notes.append("No founders in the .fam: allele frequencies use all samples.")
    keep = np.ones(current.n_snps, dtype=bool)
    for key, failing in (
        ("geno", lambda t: stats["missing_rate"].to_numpy() > t + _TOLERANCE),
        ("hwe", lambda t: stats["hwe_p"].to_numpy() < t * (1 - _TOLERANCE)),
        ("maf", lambda t: stats["maf"].to_numpy() < t - _TOLERANCE),
    ):
        if thresholds[key] is None:
            continue
        drop = keep & failing(thresholds[key])
        if key == "geno":  # a SNP with no call at all fails --geno whatever the threshold
            drop |= keep & (stats["n_called"].to_numpy() == 0)
        removed[key] = int(drop.sum())
        removed_snps.append(current.snp_ids[drop])
        keep &= ~drop
    if not keep.any():
        raise NtkmixedError("QC removed every SNP.")
    current = current._narrow(snp_positions=np.flatnonzero(keep))
    if impute:
        current = current.impute_mean()
    report = QCReport(
        thresholds=thresholds,
        n_samples_in=genotypes.n_samples,
        n_snps_in=genotypes.n_snps,
        removed=removed,
        removed_samples=removed_samples,
        removed_snps=pd.Index(np.concatenate([s.to_numpy() for s in removed_snps]) if removed_snps else [], name="SNP"),
        n_samples_out=current.n_samples,
        n_snps_out=current.n_snps,
        n_imputed=int(current.imputation["n_imputed"]) if current.imputation else 0,
        notes=tuple(notes),
    )
    return current._narrow(qc_report=report)


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


def _check_fraction(value: Any, name: str, upper: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not (0.0 <= number <= upper):
        raise NtkmixedError(
            f"The {name!r} parameter of qc must be a number between 0 and {upper:g}. Got {value!r} instead."
        )
    return number
