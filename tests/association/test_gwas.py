"""Per-SNP scans equal dense brute-force GLS with the null covariance (per SNP, solves with
the n×n V̂), LOCO uses the right kernel, and the bookkeeping (missing calls, monomorphic
SNPs, input order, PLINK streaming, archive, .mlma) holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ntkmixed as nm
from ntkmixed.association import gwas
from ntkmixed.estimation.engines import DenseProblem, SpectralProblem
from ntkmixed.association.whiten import CholeskyWhitener, SpectralWhitener
from ntkmixed.exceptions import NtkmixedError

from plink_helpers import write_fileset


def _data(n=90, p=40, seed=3, missing=0.02):
    rng = np.random.default_rng(seed)
    # two populations with different allele frequencies: every chromosome's kernel sees them
    population = np.arange(n) % 2
    freq = np.clip(rng.uniform(0.05, 0.5, p) + np.outer(population - 0.5, rng.uniform(-0.3, 0.3, p)), 0.02, 0.98)
    G = rng.binomial(2, freq).astype(float)
    G[:, 5] = 1.0  # monomorphic
    G[rng.random((n, p)) < missing] = np.nan
    G[:, 5] = 1.0
    Z = np.nan_to_num((G - np.nanmean(G, 0)) / (np.nanstd(G, 0) + 1e-12))
    y = Z[:, ::3] @ rng.normal(0, 0.3, Z[:, ::3].shape[1]) + population + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "age": rng.normal(50, 8, n), "sex": rng.choice(["f", "m"], n)},
                        index=[f"p{i}" for i in range(n)])
    data.loc["p3", "age"] = np.nan  # one row dropped
    info = pd.DataFrame({"chr": ["1"] * (p // 2) + ["2"] * (p - p // 2), "bp": np.arange(p) * 100 + 1,
                         "snp": [f"rs{j}" for j in range(p)], "a1": "A", "a2": "G"})
    return data, G, info


def _grm(G: np.ndarray) -> np.ndarray:
    """GRM of the SNPs that vary, mean-diag normalised (the brute-force kernel)."""
    sd = np.nanstd(G, 0)
    keep = sd > 1e-12
    Z = (G[:, keep] - np.nanmean(G[:, keep], 0)) / sd[keep]
    Z = np.nan_to_num(Z)
    K = Z @ Z.T / Z.shape[1]
    return K / np.mean(np.diag(K))


def _brute_force(y, X, V, G, test):
    """Per SNP: GLS of y on [X, g] with V (dense solves), the test's β̂, SE, statistic, p."""
    n, k = X.shape
    Vi = np.linalg.inv(V)
    rss0 = y @ Vi @ y - y @ Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    rows = []
    for g in G.T:
        g = np.where(np.isnan(g), np.nanmean(g), g)
        A = np.column_stack([X, g])
        cov = np.linalg.inv(A.T @ Vi @ A)
        b = cov @ A.T @ Vi @ y
        r = y - A @ b
        rss1 = r @ Vi @ r
        if test == "score":
            se = np.sqrt(cov[-1, -1])
            stat = b[-1] ** 2 / cov[-1, -1]
            p = stats.chi2.sf(stat, 1)
        else:
            se = np.sqrt(rss1 / (n - k - 1) * cov[-1, -1])
            if test == "wald":
                stat = (b[-1] / se) ** 2
                p = stats.f.sf(stat, 1, n - k - 1)
            else:
                stat = n * np.log(rss0 / rss1)
                p = stats.chi2.sf(stat, 1)
        rows.append((b[-1], se, stat, p))
    return np.array(rows)


def _design(data, G):
    """y, X (intercept, sex, age) and genotype rows of the complete cases."""
    complete = data["age"].notna().to_numpy()
    d = data[complete]
    X = np.column_stack([np.ones(len(d)), (d["sex"] == "m").to_numpy(float), d["age"].to_numpy()])
    return d["y"].to_numpy(), X, G[complete]


@pytest.mark.parametrize("engine", ["dense", "lowrank"])
@pytest.mark.parametrize("test", ["wald", "lrt", "score"])
def test_exact_tests_equal_brute_force_gls(test, engine):
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=False, test=test, snp_info=info, block_size=7, engine=engine)
    assert res.null_models.loc["all", "engine"] == engine
    y, X, Gd = _design(data, G)
    null = res.null_models.loc["all"]
    V = null["sigma2_g"] * _grm(Gd) + null["sigma2_e"] * np.eye(len(y))
    expected = _brute_force(y, X, V, np.delete(Gd, 5, axis=1), test)
    got = res.table.drop(index=5)
    for j, column in enumerate(["beta", "se", "stat", "p"]):
        np.testing.assert_allclose(got[column].to_numpy(), expected[:, j], rtol=1e-8, err_msg=column)
    assert np.isnan(res.table.loc[5, "p"]) and "monomorphic" in res.table.loc[5, "note"]


def test_null_is_the_reml_fit_of_the_model():
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=False, snp_info=info)
    fitted = nm.fit("y ~ sex + age", data, genotypes=G, method="reml")
    assert res.null_models.loc["all", "h2"] == pytest.approx(fitted.h2, rel=1e-10)


def test_loco_uses_the_kernel_without_the_tested_chromosome():
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=True, snp_info=info)
    assert list(res.null_models.index) == ["1", "2"]
    y, X, Gd = _design(data, G)
    on_one = (info["chr"] == "1").to_numpy()
    for chromosome, kernel_columns, tested in (("1", ~on_one, on_one), ("2", on_one, ~on_one)):
        other = nm.fit("y ~ sex + age", data, genotypes=G[:, kernel_columns], method="reml")
        null = res.null_models.loc[chromosome]
        assert null["h2"] == pytest.approx(other.h2, rel=1e-10)
        assert null["n_kernel_snps"] == kernel_columns.sum()
        V = null["sigma2_g"] * _grm(Gd[:, kernel_columns]) + null["sigma2_e"] * np.eye(len(y))
        columns = np.flatnonzero(tested & (np.arange(G.shape[1]) != 5))
        expected = _brute_force(y, X, V, Gd[:, columns], "wald")
        np.testing.assert_allclose(res.table.loc[columns, "p"].to_numpy(), expected[:, 3], rtol=1e-8)
    # the kernel differs by chromosome, so LOCO changes the answer
    plain = gwas("y ~ sex + age", data, G, loco=False, snp_info=info)
    assert not np.allclose(plain.table["p"].dropna(), res.table["p"].dropna())


def test_minque0_null_gives_per_snp_standard_errors():
    """NExt-LMM's moment h², then GLS with each SNP's own SE (not one SD across SNPs)."""
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=False, null_method="minque0", test="score", snp_info=info)
    y, X, Gd = _design(data, G)
    fitted = nm.fit("y ~ sex + age", data, genotypes=G, method="minque0")
    sigma_g, sigma_e = fitted.variance_components["estimate"]
    V = sigma_g * _grm(Gd) + sigma_e * np.eye(len(y))
    expected = _brute_force(y, X, V, np.delete(Gd, 5, axis=1), "score")
    np.testing.assert_allclose(res.table.drop(index=5)["se"], expected[:, 1], rtol=1e-8)
    assert res.table["se"].dropna().std() > 0.05 * res.table["se"].dropna().mean()


def test_grammar_gamma_matches_its_formula_and_tracks_the_exact_score():
    data, G, info = _data(n=150, p=60)
    res = gwas("y ~ sex + age", data, G, loco=False, test="grammar-gamma", calibration_snps=1000, snp_info=info)
    exact = gwas("y ~ sex + age", data, G, loco=False, test="score", snp_info=info)
    y, X, Gd = _design(data, G)
    null = res.null_models.loc["all"]
    V = null["sigma2_g"] * _grm(Gd) + null["sigma2_e"] * np.eye(len(y))
    Vi = np.linalg.inv(V)
    P = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    H = X @ np.linalg.solve(X.T @ X, X.T)
    Gc = np.delete(np.where(np.isnan(Gd), np.nanmean(Gd, 0), Gd), 5, axis=1)
    plain = np.einsum("ij,ij->j", Gc, (np.eye(len(y)) - H) @ Gc)
    gamma = np.mean(np.einsum("ij,ij->j", Gc, P @ Gc) / plain)
    stat = (Gc.T @ P @ y) ** 2 / (gamma * plain)
    assert null["gamma"] == pytest.approx(gamma, rel=1e-8)
    np.testing.assert_allclose(res.table.drop(index=5)["stat"], stat, rtol=1e-8)
    assert np.corrcoef(res.table["stat"].dropna(), exact.table["stat"].dropna())[0, 1] > 0.99


def test_whiteners_agree_with_the_dense_inverse():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 12))
    K = A @ A.T / 12
    y, X = rng.normal(size=30), np.column_stack([np.ones(30), rng.normal(size=30)])
    weights = np.array([0.7, 0.4])
    V_inv = np.linalg.inv(0.7 * K + 0.4 * np.eye(30))
    B = rng.normal(size=(30, 5))
    for whitener in (SpectralWhitener(SpectralProblem(y, X, K), weights), CholeskyWhitener(DenseProblem(y, X, [K]), weights)):
        np.testing.assert_allclose(whitener(B).T @ whitener(B), B.T @ V_inv @ B, rtol=1e-10, atol=1e-12)


def test_plink_streaming_equals_the_array_and_keeps_input_order(tmp_path):
    data, G, info = _data()
    ids = list(data.index)
    prefix = write_fileset(tmp_path / "g", G, iids=ids, chrom=info["chr"], pos=info["bp"], sid=info["snp"])
    bed = nm.read_plink(prefix)
    shuffled = data.iloc[::-1]  # data order must not matter
    from_bed = gwas("y ~ sex + age", shuffled, bed, loco=True, block_size=3)
    from_array = gwas("y ~ sex + age", data, G, loco=True, snp_info=info)
    assert list(from_bed.table["SNP"]) == list(info["snp"])
    np.testing.assert_allclose(from_bed.table["p"], from_array.table["p"], rtol=1e-9)
    missing = np.isnan(G[data["age"].notna().to_numpy()]).sum(axis=0)
    assert (from_bed.table["n"].to_numpy() == 89 - missing).all()
    subset = gwas("y ~ sex + age", data, bed, loco=True, snps=["rs30", "rs2"])
    assert list(subset.table["SNP"]) == ["rs2", "rs30"]
    np.testing.assert_allclose(subset.table["p"], from_bed.table.set_index("SNP").loc[["rs2", "rs30"], "p"], rtol=1e-9)


def test_results_save_load_and_mlma(tmp_path):
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=True, snp_info=info)
    res.save(tmp_path / "scan.npz")
    back = nm.load(tmp_path / "scan.npz")
    pd.testing.assert_frame_equal(back.table, res.table, check_dtype=False)
    pd.testing.assert_frame_equal(back.null_models, res.null_models, check_dtype=False)
    assert back.lambda_gc == pytest.approx(res.lambda_gc)
    res.to_csv(tmp_path / "scan.mlma")
    mlma = pd.read_csv(tmp_path / "scan.mlma", sep="\t")
    assert list(mlma.columns) == ["Chr", "SNP", "bp", "A1", "A2", "Freq", "b", "se", "p"]
    assert mlma["p"].isna().sum() == 1 and len(mlma) == G.shape[1]
    assert "SNPs tested" in str(res.summary())


def test_lambda_gc_is_the_median_chi2_ratio():
    data, G, info = _data()
    res = gwas("y ~ sex + age", data, G, loco=False, test="score", snp_info=info)
    chi2 = res.table["stat"].dropna()
    assert res.lambda_gc == pytest.approx(np.median(chi2) / stats.chi2.ppf(0.5, 1), rel=1e-6)


def test_bad_arguments_name_the_argument():
    data, G, info = _data()
    with pytest.raises(NtkmixedError, match="'test' parameter of gwas"):
        gwas("y ~ sex", data, G, test="t")
    with pytest.raises(NtkmixedError, match="chromosome"):
        gwas("y ~ sex", data, G, loco=True)
    one = info.assign(chr="1")
    with pytest.raises(NtkmixedError, match="at least 2 chromosomes"):
        gwas("y ~ sex", data, G, loco=True, snp_info=one)
    with pytest.raises(NtkmixedError, match="'snps' argument"):
        gwas("y ~ sex", data, G, loco=False, snps=["nope"])
    with pytest.raises(NtkmixedError, match="one background kernel"):
        gwas("y ~ sex", data, G, loco=False, kernel=[nm.GRM(), nm.GRM()])


def test_extreme_association_keeps_a_positive_p():
    data, G, info = _data(n=300, p=20, missing=0.0)
    g = np.nan_to_num(G[:, 0] - np.nanmean(G[:, 0]))
    data["y"] = 3 * g + np.random.default_rng(1).normal(size=len(g)) * 0.02
    res = gwas("y ~ age", data, G, loco=True, test="wald", snp_info=info)
    assert res.table.loc[0, "p"] > 0 and res.table.loc[0, "log10_p"] < -300
