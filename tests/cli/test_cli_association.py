"""``ntkmixed gwas`` and ``ntkmixed kernel-test``: their files agree with the Python API
(:func:`ntkmixed.gwas`, :func:`ntkmixed.region_scan`) on the same inputs, the pictures are
PNGs, the archives load, and bad input ends with one clear line and no files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.cli import main
from plink_helpers import write_fileset

N, P = 160, 60
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two chromosomes of 30 SNPs, a phenotype driven by rs3 and rs40 (one -9), sex and age."""
    directory = tmp_path_factory.mktemp("assoc_cli")
    rng = np.random.default_rng(11)
    G = rng.binomial(2, rng.uniform(0.15, 0.5, P), (N, P)).astype(float)
    # no missing calls: the CLI's QC imputes them with means over all people in the
    # fileset (the -9 person included), the API over the analysed people only
    iids = [f"q{i:03d}" for i in range(N)]
    chrom = ["1"] * (P // 2) + ["2"] * (P // 2)
    pos = np.concatenate([np.arange(P // 2) * 10_000 + 5_000] * 2)
    prefix = write_fileset(directory / "geno", G, iids=iids, chrom=chrom, pos=pos)
    filled = G
    sex = rng.choice(["F", "M"], N)
    age = rng.normal(50, 10, N).round(1)
    y = 0.5 * (sex == "M") + 0.02 * age + 1.0 * filled[:, 3] - 1.0 * filled[:, 40] + rng.normal(0, 1, N)
    y[7] = -9
    pd.DataFrame({"FID": iids, "IID": iids, "trait": y}).to_csv(directory / "pheno.txt", sep=" ", index=False)
    pd.DataFrame({"FID": iids, "IID": iids, "sex": sex, "age": age}).to_csv(directory / "covar.txt", sep="\t", index=False)
    data = pd.DataFrame({"trait": np.where(y == -9, np.nan, y), "sex": sex, "age": age}, index=pd.Index(iids))
    return directory, prefix, data


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _inputs(study):
    directory, prefix, _ = study
    return ["--bfile", prefix, "--pheno", directory / "pheno.txt", "--covar", directory / "covar.txt", "--quiet"]


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("test", ["wald", "score"])
def test_gwas_command_writes_mlma_plots_and_archive_that_match_the_api(study, tmp_path, capsys, test):
    _, prefix, data = study
    out = tmp_path / "scan"
    status, stdout, stderr = _run(capsys, "gwas", *_inputs(study), "--loco", "--test", test, "--out", out)
    assert status == 0, stderr
    assert "Mixed-model association scan" in stdout
    assert _files(tmp_path) == ["scan.gwas.npz", "scan.json", "scan.log", "scan.manhattan.png", "scan.mlma", "scan.qq.png"]

    expected = nm.gwas("trait ~ sex + age", data, nm.read_plink(prefix), loco=True, test=test, progress=False)
    mlma = pd.read_csv(tmp_path / "scan.mlma", sep="\t")
    assert list(mlma.columns) == ["Chr", "SNP", "bp", "A1", "A2", "Freq", "b", "se", "p"]
    assert list(mlma["SNP"]) == list(expected.table["SNP"])
    for column, api in (("b", "beta"), ("se", "se"), ("p", "p"), ("Freq", "freq")):
        np.testing.assert_allclose(mlma[column], expected.table[api], rtol=2e-6, err_msg=column)  # %.6g in the file
    assert mlma["p"].idxmin() in (3, 40)

    description = json.loads((tmp_path / "scan.json").read_text())
    assert description["analysis"] == "gwas" and description["test"] == test and description["loco"] is True
    assert description["lambda_gc"] == pytest.approx(expected.lambda_gc, rel=1e-9)
    assert description["n"] == N - 1 == expected.n
    nulls = description["null_models"]  # by chromosome
    assert sorted(nulls) == ["1", "2"]
    assert [nulls[c]["h2"] for c in ("1", "2")] == pytest.approx(list(expected.null_models["h2"]), rel=1e-9)
    back = nm.load(tmp_path / "scan.gwas.npz")
    np.testing.assert_allclose(back.table["p"], expected.table["p"], rtol=1e-12)
    for picture in ("scan.qq.png", "scan.manhattan.png"):
        assert (tmp_path / picture).read_bytes()[:8] == PNG
    assert "λ_GC" in (tmp_path / "scan.log").read_text()


def test_gwas_command_without_loco_and_with_an_ntk_background(study, tmp_path, capsys):
    _, prefix, data = study
    out = tmp_path / "ntk"
    status, _, stderr = _run(capsys, "gwas", *_inputs(study), "--kernel", "ntk-inf", "--out", out)
    assert status == 0, stderr
    expected = nm.gwas("trait ~ sex + age", data, nm.read_plink(prefix), kernel=nm.NTK(depth=2, width=None),
                       loco=False, progress=False)
    mlma = pd.read_csv(tmp_path / "ntk.mlma", sep="\t")
    np.testing.assert_allclose(mlma["p"], expected.table["p"], rtol=2e-6)


def test_gwas_command_refuses_loco_on_one_chromosome_and_writes_nothing(study, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    status, _, stderr = _run(capsys, "gwas", *_inputs(study), "--chr", "1", "--loco", "--out", out_dir / "x")
    errors = [line for line in stderr.splitlines() if line.startswith("ntkmixed: error")]
    assert status == 1 and len(errors) == 1 and "at least 2 chromosomes" in errors[0], stderr
    assert "Traceback" not in stderr and list(out_dir.iterdir()) == []
    status, _, stderr = _run(capsys, "gwas", *_inputs(study), "--kernel", "grm,ntk", "--out", out_dir / "x")
    assert status == 1 and "one background kernel" in stderr and list(out_dir.iterdir()) == []


def test_kernel_test_command_on_a_regions_file_matches_region_scan(study, tmp_path, capsys):
    _, prefix, data = study
    regions = tmp_path / "regions.txt"
    regions.write_text("chr start end name\n1 1 60000 first\n2 100000 200000 second\n1 900000 990000 empty\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "kt"
    status, stdout, stderr = _run(capsys, "kernel-test", *_inputs(study), "--regions", regions, "--kernel", "grm,ntk-inf",
                                  "--background", "grm", "--out", out)
    assert status == 0, stderr
    assert "Kernel association scan over regions" in stdout
    assert _files(out_dir) == ["kt.json", "kt.kernel_test.npz", "kt.kernel_test.tsv", "kt.log"]

    table = pd.DataFrame({"chr": ["1", "2", "1"], "start": [1, 100000, 900000], "end": [60000, 200000, 990000],
                          "name": ["first", "second", "empty"]})
    expected = nm.region_scan("trait ~ sex + age", data, nm.read_plink(prefix), regions=table,
                              kernel=[nm.GRM(name="GRM"), nm.NTK(depth=2, width=None, name="NTK_inf")],
                              background=nm.GRM(), progress=False)
    got = pd.read_csv(out_dir / "kt.kernel_test.tsv", sep="\t")
    assert list(got["name"]) == ["first", "second", "empty"]
    for column in ("p_GRM", "p_NTK_inf", "p_acat"):
        np.testing.assert_allclose(got[column], expected.table[column], rtol=2e-6, err_msg=column)
    assert got.loc[:1, "p_acat"].between(0, 1, inclusive="right").all() and got.loc[:1, "n_snps"].tolist() == [6, 10]
    assert np.isnan(got.loc[2, "p_GRM"]) and got.loc[2, "n_snps"] == 0
    description = json.loads((out_dir / "kt.json").read_text())
    assert description["analysis"] == "kernel-test" and description["n_regions"] == 3
    assert description["kernel_names"] == ["GRM", "NTK_inf"] and description["background"] == "grm"
    back = nm.load(out_dir / "kt.kernel_test.npz")
    np.testing.assert_allclose(back.table["p_acat"], expected.table["p_acat"], rtol=1e-12)


def test_kernel_test_command_with_windows(study, tmp_path, capsys):
    _, prefix, data = study
    status, _, stderr = _run(capsys, "kernel-test", *_inputs(study), "--window", "100000", "--kernel", "grm",
                             "--pvalue", "liu", "--out", tmp_path / "w")
    assert status == 0, stderr
    got = pd.read_csv(tmp_path / "w.kernel_test.tsv", sep="\t")
    expected = nm.region_scan("trait ~ sex + age", data, nm.read_plink(prefix), window=100000, kernel=nm.GRM(),
                              pvalue="liu", progress=False)
    assert len(got) == len(expected.table) == 6  # 3 windows on each chromosome
    p_column = [c for c in got.columns if c.startswith("p_")][0]
    np.testing.assert_allclose(got[p_column], expected.table[p_column], rtol=2e-6)


def test_kernel_test_command_bad_input_writes_nothing(study, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    bad = tmp_path / "bad.txt"
    bad.write_text("1 10 far\n")
    cases = [((), "needs --regions FILE or --window BP"),
             (("--regions", tmp_path / "none.txt"), "does not exist"),
             (("--regions", bad), "column end must be base-pair positions; got 'far'")]
    for extra, message in cases:
        status, _, stderr = _run(capsys, "kernel-test", *_inputs(study), *extra, "--out", out_dir / "k")
        errors = [line for line in stderr.splitlines() if line.startswith("ntkmixed: error")]
        assert status == 1 and len(errors) == 1 and message in errors[0], (extra, stderr)
        assert list(out_dir.iterdir()) == []
