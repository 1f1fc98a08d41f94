"""read_plink / Genotypes: reading agrees with the writer and with PLINK 2, subsetting,
the GRM agrees with plink2 --make-rel, and malformed filesets give clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.exceptions import NtkmixedError
from ntkmixed.data.genotypes import coerce_genotypes
from plink_helpers import needs_plink2, plink2, random_genotypes, write_fileset


@pytest.fixture
def fileset(tmp_path):
    rng = np.random.default_rng(11)
    G = random_genotypes(rng, 37, 23, missing=0.1)  # 37 people: last .bed byte is partial
    chrom = ["1"] * 12 + ["2"] * 11
    pos = np.r_[np.arange(1, 13) * 100, np.arange(1, 12) * 100]
    prefix = write_fileset(tmp_path / "toy", G, chrom=chrom, pos=pos)
    return prefix, G


def test_reads_dosages_ids_and_snp_table(fileset):
    prefix, G = fileset
    genotypes = nm.read_plink(prefix)
    assert genotypes.shape == G.shape
    np.testing.assert_array_equal(genotypes.read(), G)  # NaN positions included
    frame = genotypes.to_dataframe()
    assert list(frame.index) == [f"I{i}" for i in range(37)] and frame.index.name == "IID"
    assert list(frame.columns) == [f"rs{j}" for j in range(23)]
    assert list(genotypes.fid[:2]) == ["F0", "F1"]
    assert list(genotypes.snps.columns) == ["chrom", "snp", "cm", "pos", "a1", "a2"]
    assert genotypes.snps["pos"].tolist()[:3] == [100, 200, 300]
    # the prefix may name one of the three files
    np.testing.assert_array_equal(nm.read_plink(f"{prefix}.bed").read(), G)


def test_coerce_genotypes_accepts_a_prefix_and_a_genotypes_object(fileset):
    prefix, G = fileset
    for source in (str(prefix), prefix, nm.read_plink(prefix)):
        values, ids, snps = coerce_genotypes(source, "genotypes", "test")
        np.testing.assert_array_equal(values, G)
        assert list(ids) == [f"I{i}" for i in range(37)] and snps[0] == "rs0"


def test_subsetting_is_lazy_and_matches_slicing(fileset, monkeypatch):
    prefix, G = fileset
    genotypes = nm.read_plink(prefix)
    import bed_reader

    def no_reading(*args, **kwargs):
        raise AssertionError("subsetting must not read the .bed")

    monkeypatch.setattr(bed_reader, "open_bed", no_reading)
    by_snp = genotypes.select_snps(["rs5", "rs2", "rs20"])
    region = genotypes.select_region("2", 300, 700)
    region_chr = genotypes.select_region("chr1", end=250)
    samples = genotypes.select_samples(["I9", "I3"])
    combined = genotypes.subset(chrom=1, start=200, end=500, samples=["I1", "I0"])
    monkeypatch.undo()

    np.testing.assert_array_equal(by_snp.read(), G[:, [2, 5, 20]])  # fileset order, as --extract
    assert list(by_snp.snp_ids) == ["rs2", "rs5", "rs20"]
    np.testing.assert_array_equal(region.read(), G[:, 14:19])  # chr 2, 300..700 bp inclusive
    np.testing.assert_array_equal(region_chr.read(), G[:, :2])
    np.testing.assert_array_equal(samples.read(), G[[9, 3]])  # order given
    assert list(samples.sample_ids) == ["I9", "I3"] and list(samples.fid) == ["F9", "F3"]
    np.testing.assert_array_equal(combined.read(), G[np.ix_([1, 0], [1, 2, 3, 4])])
    # a narrowed view can be narrowed again
    np.testing.assert_array_equal(region.select_samples(["I2"]).read(), G[[2], 14:19])


def test_subsetting_errors(fileset):
    genotypes = nm.read_plink(fileset[0])
    with pytest.raises(NtkmixedError, match=r"1 of the 2 requested SNP\(s\).*'nope'"):
        genotypes.select_snps(["rs1", "nope"])
    with pytest.raises(NtkmixedError, match="No SNP .* chromosome 3"):
        genotypes.select_region(3)
    with pytest.raises(NtkmixedError, match=r"1 of the 2 requested IID\(s\).*'I99'"):
        genotypes.select_samples(["I1", "I99"])
    with pytest.raises(NtkmixedError, match="needs a chromosome"):
        genotypes.subset(start=10)


def test_impute_mean_fills_missing_with_column_means(fileset):
    prefix, G = fileset
    imputed = nm.read_plink(prefix).impute_mean()
    expected = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    np.testing.assert_allclose(imputed.read(), expected)
    assert imputed.imputation == {"method": "mean", "n_imputed": int(np.isnan(G).sum())}
    # subsetting keeps each SNP's mean; raw() undoes the imputation
    np.testing.assert_allclose(imputed.select_snps(["rs7"]).read(), expected[:, [7]])
    np.testing.assert_array_equal(imputed.raw().read(), G)


def test_snp_missing_for_everyone_cannot_be_imputed(tmp_path):
    G = np.random.default_rng(0).binomial(2, 0.3, (20, 5)).astype(float)
    G[:, 3] = np.nan
    genotypes = nm.read_plink(write_fileset(tmp_path / "allmiss", G))
    with pytest.raises(NtkmixedError, match=r"1 SNP\(s\) have no called genotype.*'rs3'.*--geno"):
        genotypes.impute_mean()


@needs_plink2
def test_dosages_agree_with_plink2_export(fileset, tmp_path):
    prefix, G = fileset
    plink2("--bfile", str(prefix), "--export", "A", "--out", str(tmp_path / "exported"), cwd=tmp_path)
    raw = pd.read_csv(tmp_path / "exported.raw", sep=r"\s+")
    genotypes = nm.read_plink(prefix)
    assert raw["IID"].astype(str).tolist() == genotypes.sample_ids.tolist()
    ours = genotypes.read()
    snps = genotypes.snps
    for j, column in enumerate(raw.columns[6:]):
        snp, counted = column.rsplit("_", 1)
        assert snp == snps["snp"][j]
        # plink2 counts the allele named after the underscore; ours counts A1
        expected = ours[:, j] if counted == snps["a1"][j] else 2.0 - ours[:, j]
        assert counted in (snps["a1"][j], snps["a2"][j])
        np.testing.assert_array_equal(raw[column].to_numpy(dtype=float), expected)


@needs_plink2
@pytest.mark.parametrize("missing", [0.0, 0.08])
def test_grm_agrees_with_plink2_make_rel(tmp_path, missing):
    """plink2 --make-rel: Σ_j (x_ij − 2p_j)(x_kj − 2p_j) / (2 p_j (1 − p_j)) / M, i.e.
    binomial standardisation and an un-normalised GRM; 'meanimpute' for missing calls."""
    rng = np.random.default_rng(5)
    G = random_genotypes(rng, 60, 150, missing=missing)
    G[:, 0] = rng.binomial(2, 0.3, 60)  # keep every SNP polymorphic
    keep = np.nanstd(G, axis=0) > 0
    G = G[:, keep]
    prefix = write_fileset(tmp_path / "rel", G)
    plink2("--bfile", str(prefix), "--make-rel", "square", "meanimpute", "--out", str(tmp_path / "rel"), cwd=tmp_path)
    K_plink = np.loadtxt(tmp_path / "rel.rel")
    Z, _ = nm.standardize(nm.read_plink(prefix), scale="binomial", quiet=True)
    K_ours = nm.GRM().gram(Z)
    # plink2 prints 6 significant digits
    np.testing.assert_allclose(K_ours, K_plink, rtol=2e-5, atol=2e-6)


# --- malformed filesets ---------------------------------------------------------------
def _copy(prefix, tmp_path, name):
    for ext in ("bed", "bim", "fam"):
        shutil.copy(f"{prefix}.{ext}", tmp_path / f"{name}.{ext}")
    return tmp_path / name


def test_missing_files(fileset, tmp_path):
    prefix = _copy(fileset[0], tmp_path, "nobed")
    (tmp_path / "nobed.bed").unlink()
    with pytest.raises(NtkmixedError, match=r"incomplete: missing .*nobed\.bed"):
        nm.read_plink(prefix)
    with pytest.raises(NtkmixedError, match="incomplete"):
        nm.read_plink(tmp_path / "does_not_exist")


def test_truncated_bed(fileset, tmp_path):
    prefix = _copy(fileset[0], tmp_path, "trunc")
    with open(f"{prefix}.bed", "r+b") as handle:
        handle.truncate(3 + 10 * 10 + 4)  # 37 people = 10 bytes per SNP
    with pytest.raises(NtkmixedError, match=r"truncated: 107 bytes, but 37 samples \(\.fam\) × 23 SNPs"):
        nm.read_plink(prefix)


def test_bim_and_fam_rows_disagree_with_bed_size(fileset, tmp_path):
    prefix = _copy(fileset[0], tmp_path, "extra")
    with open(f"{prefix}.bim", "a") as handle:
        handle.write("2\trsX\t0\t99999\tA\tG\n")
    with pytest.raises(NtkmixedError, match=r"24 SNPs \(\.bim\) need 243 bytes \(23 SNPs' worth"):
        nm.read_plink(prefix)
    prefix = _copy(fileset[0], tmp_path, "fewer")
    lines = open(f"{prefix}.fam").read().splitlines()
    open(f"{prefix}.fam", "w").write("\n".join(lines[:30]) + "\n")  # 30 people: 8 bytes/SNP
    with pytest.raises(NtkmixedError, match="longer than expected.*30 samples"):
        nm.read_plink(prefix)


def test_not_a_bed_file(fileset, tmp_path):
    prefix = _copy(fileset[0], tmp_path, "junk")
    data = bytearray(open(f"{prefix}.bed", "rb").read())
    data[0] = 0
    open(f"{prefix}.bed", "wb").write(bytes(data))
    with pytest.raises(NtkmixedError, match="not a PLINK 1 .bed"):
        nm.read_plink(prefix)


def test_duplicated_iids(tmp_path):
    G = np.zeros((4, 3))
    G[0] = 1
    prefix = write_fileset(tmp_path / "dups", G, iids=["a", "b", "a", "c"])
    with pytest.raises(NtkmixedError, match=r"1 duplicated IID\(s\).*\['a'\]"):
        nm.read_plink(prefix)


def test_malformed_bim(fileset, tmp_path):
    prefix = _copy(fileset[0], tmp_path, "badbim")
    text = open(f"{prefix}.bim").read().replace("\t100\t", "\tabc\t", 1)
    open(f"{prefix}.bim", "w").write(text)
    with pytest.raises(NtkmixedError, match=r"line 1, column 'pos' must be numeric. Got 'abc'"):
        nm.read_plink(prefix)
