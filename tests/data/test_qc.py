"""QC filters against the real PLINK 2 and the exact HWE test against brute force."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.exceptions import NtkmixedError
from ntkmixed.data.qc import hwe_exact, qc, sample_missingness, snp_statistics
from plink_helpers import needs_plink2, plink2, random_genotypes, read_plink_table, write_fileset


def brute_force_hwe(het: int, hom1: int, hom2: int) -> float:
    """Sum over every possible heterozygote count, straight from the multinomial formula."""
    n = het + hom1 + hom2
    rare = 2 * min(hom1, hom2) + het
    common = 2 * n - rare

    def prob(k: int) -> float:
        a = (rare - k) // 2
        b = n - k - a
        return Fraction(math.factorial(n) * 2**k * math.factorial(rare) * math.factorial(common),
                        math.factorial(k) * math.factorial(a) * math.factorial(b) * math.factorial(2 * n))

    probs = {k: prob(k) for k in range(rare % 2, rare + 1, 2)}
    observed = probs[het]
    assert sum(probs.values()) == 1  # exact rational arithmetic
    return min(1.0, float(sum(p for p in probs.values() if p <= observed)))


@pytest.mark.parametrize("counts", [(0, 10, 10), (20, 0, 0), (3, 50, 2), (57, 21, 22), (1, 0, 30), (10, 5, 5), (0, 0, 1)])
def test_hwe_exact_matches_enumeration(counts):
    assert hwe_exact(*counts)[0] == pytest.approx(brute_force_hwe(*counts), rel=1e-9)


def test_hwe_exact_is_vectorised_and_nan_without_calls():
    p = hwe_exact([57, 0], [21, 0], [22, 0])
    assert p[0] == pytest.approx(brute_force_hwe(57, 21, 22)) and np.isnan(p[1])


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """300 people × 500 SNPs: rare SNPs, HWE violators, heavy and uneven missingness, and a
    few non-founders (PLINK 2 uses founders only for frequencies and HWE)."""
    directory = tmp_path_factory.mktemp("qc")
    rng = np.random.default_rng(1)
    G = random_genotypes(rng, 300, 500, missing=0.15, hwe_violators=50)
    G[:, 60] = np.nan  # a SNP missing for everyone
    father = ["0"] * 300
    for i in (3, 17, 40, 41, 200):
        father[i] = f"I{i + 1}"
    return write_fileset(directory / "messy", G, father=father), G, directory


def _kept(directory, name):
    bim = pd.read_csv(directory / f"{name}.bim", sep=r"\s+", header=None, dtype=str)
    fam = pd.read_csv(directory / f"{name}.fam", sep=r"\s+", header=None, dtype=str)
    return bim[1].tolist(), fam[1].tolist()


def _plink_removed(log: str) -> dict[str, int]:
    counts = {}
    for line in log.splitlines():
        if "removed due to missing genotype data (--mind)" in line:
            counts["mind"] = int(line.split()[0])
        elif line.startswith("--geno:"):
            counts["geno"] = int(line.split()[1])
        elif line.startswith("--hwe:"):
            counts["hwe"] = int(line.split()[1])
        elif "removed due to allele frequency threshold" in line:
            counts["maf"] = int(line.split()[0])
    return counts


@needs_plink2
@pytest.mark.parametrize(
    "thresholds",
    [
        {"mind": 0.1, "geno": 0.1, "hwe": 1e-6, "maf": 0.05},
        {"mind": 0.2, "geno": 0.05, "hwe": 1e-3, "maf": 0.01},
        {"geno": 0.08, "maf": 0.1},
        {"mind": 0.05, "hwe": 1e-10},
    ],
)
def test_qc_agrees_with_plink2(messy, thresholds):
    prefix, G, directory = messy
    name = "out_" + "_".join(f"{k}{v}" for k, v in thresholds.items())
    flags = [x for k, v in thresholds.items() for x in (f"--{k}", str(v))]
    log = plink2("--bfile", str(prefix), *flags, "--make-bed", "--out", str(directory / name), cwd=directory)
    plink_snps, plink_samples = _kept(directory, name)

    result = qc(nm.read_plink(prefix), **thresholds, impute=False)
    assert result.snp_ids.tolist() == plink_snps
    assert result.sample_ids.tolist() == plink_samples
    report = result.qc_report
    assert report.removed == {k: v for k, v in _plink_removed(log).items() if k in thresholds}
    assert list(report.removed) == [k for k in ("mind", "geno", "hwe", "maf") if k in thresholds]
    assert report.n_snps_out == len(plink_snps) and report.n_samples_out == len(plink_samples)
    assert report.n_snps_in - sum(v for k, v in report.removed.items() if k != "mind") == report.n_snps_out
    assert len(report.removed_snps) == report.n_snps_in - report.n_snps_out


@needs_plink2
def test_statistics_agree_with_plink2_reports(messy):
    prefix, G, directory = messy
    plink2("--bfile", str(prefix), "--freq", "--missing", "--hardy", "--out", str(directory / "stats"), cwd=directory)
    genotypes = nm.read_plink(prefix)
    stats = snp_statistics(genotypes)
    freq = read_plink_table(directory / "stats.afreq")
    hardy = read_plink_table(directory / "stats.hardy")
    vmiss = read_plink_table(directory / "stats.vmiss")
    smiss = read_plink_table(directory / "stats.smiss")
    called = stats["n_called"].to_numpy() > 0
    # ALT is our A1 (plink2 reads a .bim's A1 as ALT); plink2 prints 6 significant digits
    np.testing.assert_allclose(stats["a1_freq"][called], freq["ALT_FREQS"].astype(float)[called], rtol=6e-6, atol=1e-7)
    np.testing.assert_allclose(stats["missing_rate"], vmiss["F_MISS"].astype(float), rtol=6e-6)
    np.testing.assert_allclose(sample_missingness(genotypes), smiss["F_MISS"].astype(float), rtol=6e-6)
    plink_p = hardy["P"].astype(float).to_numpy()
    assert hardy["ID"].tolist() == stats.index.tolist()
    # 6 printed digits; a SNP without calls: plink2 prints p = 1, ours is NaN (neither fails --hwe)
    np.testing.assert_allclose(stats["hwe_p"][called], plink_p[called], rtol=6e-6)
    assert np.isnan(stats["hwe_p"]["rs60"]) and plink_p[60] == 1


def test_mean_imputation_after_qc_is_recorded(messy):
    prefix, G, _ = messy
    result = qc(nm.read_plink(prefix), mind=0.1, geno=0.1)
    raw = result.raw().read()
    values = result.read()
    assert not np.isnan(values).any()
    np.testing.assert_allclose(values, np.where(np.isnan(raw), np.nanmean(raw, axis=0), raw))
    assert result.qc_report.n_imputed == int(np.isnan(raw).sum()) == result.imputation["n_imputed"] > 0
    text = str(result.qc_report)
    assert "samples removed due to missing genotype data (--mind 0.1)" in text
    assert f"{result.qc_report.n_imputed} missing call(s) mean-imputed" in text


def test_snp_missing_for_everyone(messy):
    prefix, _, _ = messy
    genotypes = nm.read_plink(prefix)
    assert "rs60" not in qc(genotypes, geno=1.0).snp_ids  # --geno removes a SNP with no call
    with pytest.raises(NtkmixedError, match=r"no called genotype.*'rs60'"):
        qc(genotypes, maf=0.01)


def test_threshold_validation(messy):
    genotypes = nm.read_plink(messy[0])
    with pytest.raises(NtkmixedError, match=r"'maf' parameter of qc must be a finite number in \[0, 0.5\] or None. Got 0.7"):
        qc(genotypes, maf=0.7)
    with pytest.raises(NtkmixedError, match="'geno'"):
        qc(genotypes, geno="lots")
    with pytest.raises(NtkmixedError, match="Genotypes object"):
        qc(np.zeros((3, 3)))
    with pytest.raises(NtkmixedError, match="removed every sample"):
        qc(genotypes, mind=0.0)


def test_statistics_do_not_depend_on_block_size(messy):
    genotypes = nm.read_plink(messy[0])
    pd.testing.assert_frame_equal(snp_statistics(genotypes, block_size=7), snp_statistics(genotypes))
    pd.testing.assert_series_equal(sample_missingness(genotypes, block_size=13), sample_missingness(genotypes))
