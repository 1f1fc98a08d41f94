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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import Boolean, Interval, check
from ..exceptions import NtkmixedError
from .genotype_stats import founder_mask, hwe_exact, sample_missingness, snp_statistics  # noqa: F401 (hwe_exact: public here too)

if TYPE_CHECKING:  # annotations only: plink imports qc for Genotypes.qc
    from .plink import Genotypes

# PLINK 2 compares thresholds with a small tolerance so that a rate equal to the
# threshold (e.g. 5 missing of 50 with --geno 0.1) is kept; do the same.
_TOLERANCE = 1e-9


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
        """The report as PLINK-style log lines.

        Returns
        -------
        list of str
        """
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
        """The counts as JSON-able data (the CLI's ``OUT.json`` ``qc`` entry).

        Returns
        -------
        dict
        """
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

    Parameters
    ----------
    genotypes : Genotypes
        From :func:`ntkmixed.read_plink`.
    maf : float, optional
        Minimum minor allele frequency.
    geno : float, optional
        Maximum missing-call rate of a SNP.
    mind : float, optional
        Maximum missing-call rate of a person.
    hwe : float, optional
        Minimum Hardy–Weinberg exact-test p-value.
    impute : bool, default True
        Mean-impute the remaining missing calls.

    Returns
    -------
    Genotypes
        The people and SNPs that pass, with the report in ``qc_report``.

    Examples
    --------
    >>> import ntkmixed as nm
    >>> G = nm.read_plink(nm.datasets.example_paths()["bfile"])
    >>> print(nm.qc.qc(G, maf=0.01, geno=0.05).qc_report)  # doctest: +SKIP
    """
    if not _is_genotype_fileset(genotypes):
        raise NtkmixedError(
            f"The 'genotypes' argument of qc must be a Genotypes object (from read_plink). "
            f"Got {type(genotypes).__name__}."
        )
    impute = check(impute, "impute", "qc", Boolean())
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


def _is_genotype_fileset(value: Any) -> bool:
    """Whether ``value`` is a :class:`~ntkmixed.data.plink.Genotypes` (checked by its
    interface: this module cannot import plink, which imports it for ``Genotypes.qc``)."""
    return all(callable(getattr(value, name, None)) for name in ("iter_snp_blocks", "raw", "_narrow"))


def _check_fraction(value: Any, name: str, upper: float) -> float | None:
    return check(value, name, "qc", [Interval("real", 0.0, upper), None])
