"""The kernel score test: statistic and mixture weights equal the textbook dense formulas
(Q = (Py)ᵀK(Py), λ = eig(P^{1/2} K P^{1/2})), with and without a background kernel; its
exact (ratio) law's type-I error under simulated nulls at α = 0.01 and 0.001 lies within binomial 99% limits
over 2000 replicates (n = 300; GRM and NTK; with and without covariates); region scans
and results bookkeeping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ntkmixed as nm
from ntkmixed.association import kernel_test, mixture, region_scan
from ntkmixed.exceptions import NtkmixedError


def _region(n=120, p=15, seed=2):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), (n, p)).astype(float)
    data = pd.DataFrame({"age": rng.normal(size=n), "sex": rng.choice(["f", "m"], n)}, index=[f"i{k}" for k in range(n)])
    Z = (G - G.mean(0)) / G.std(0)
    data["y"] = 0.3 * np.cosh(Z[:, :3].sum(1) / 2) + 0.2 * data["age"] + rng.normal(size=n)
    return data, G, Z


def _dense_reference(y, X, K, V):
    """Q, the ratio Q / yᵀPy and the weights eig(P^{1/2} K P^{1/2}) (non-zero part) from
    the n×n matrices (P^{1/2} by eigh)."""
    Vi = np.linalg.inv(V)
    P = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    Py = P @ y
    w, U = np.linalg.eigh(P)
    root = U @ np.diag(np.sqrt(np.clip(w, 0, None))) @ U.T
    lam = np.linalg.eigvalsh(root @ K @ root)
    Q = float(Py @ K @ Py)
    return Q, Q / float(y @ Py), np.sort(lam[lam > 1e-9 * lam.max()])


def _reference_p(ratio, lam, n, k):
    return mixture.ratio_tail(ratio, lam, extra_zeros=n - k - lam.size)


@pytest.mark.parametrize("kernel", [nm.GRM(), nm.NTK(depth=2, width=None)], ids=["grm", "ntk"])
def test_statistic_and_weights_equal_the_dense_formula_without_background(kernel):
    data, G, Z = _region()
    res = kernel_test("y ~ age + sex", data, G, kernel=kernel)
    y = data["y"].to_numpy()
    X = np.column_stack([np.ones(len(y)), data["age"], (data["sex"] == "m").astype(float)])
    r = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    K = kernel.gram(Z)
    K = K / np.mean(np.diag(K))
    Q, ratio, lam = _dense_reference(y, X, K, (r @ r) / (len(y) - 3) * np.eye(len(y)))
    row = res.table.iloc[0]
    assert row["Q"] == pytest.approx(Q, rel=1e-9)
    assert row["ratio"] == pytest.approx(ratio, rel=1e-9)
    assert row["log10_p"] == pytest.approx(_reference_p(ratio, lam, len(y), 3).log10_p, rel=1e-7)
    assert row["n_eigenvalues"] == lam.size
    # SKAT's plug-in law (Liu) on the same Q and weights
    liu = kernel_test("y ~ age + sex", data, G, kernel=kernel, pvalue="liu").table.iloc[0]
    assert liu["p"] == pytest.approx(mixture.tail_probability(Q, lam, "liu").p, rel=1e-7)


def test_background_kernel_enters_the_null_covariance():
    data, G, Z = _region()
    rng = np.random.default_rng(5)
    background = rng.binomial(2, 0.3, (len(data), 200)).astype(float)
    res = kernel_test("y ~ age", data, G, kernel=nm.GRM(), background=nm.GRM(), background_genotypes=background)
    fitted = nm.fit("y ~ age", data, genotypes=background, method="reml")
    sigma_g, sigma_e = fitted.variance_components["estimate"]
    Zb = (background - background.mean(0)) / background.std(0)
    Kb = Zb @ Zb.T
    V = sigma_g * Kb / np.mean(np.diag(Kb)) + sigma_e * np.eye(len(data))
    y = data["y"].to_numpy()
    X = np.column_stack([np.ones(len(y)), data["age"]])
    Q, ratio, lam = _dense_reference(y, X, Z @ Z.T / np.mean(np.diag(Z @ Z.T)), V)
    assert res.table.iloc[0]["Q"] == pytest.approx(Q, rel=1e-8)
    assert res.table.iloc[0]["log10_p"] == pytest.approx(_reference_p(ratio, lam, len(y), 2).log10_p, rel=1e-6)
    assert res.null["h2"] == pytest.approx(fitted.h2, rel=1e-10)


def _null_rejections(K: np.ndarray, X: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    """p-values of the OLS-null kernel test for y ~ N(Xβ, I): the ratio T = rᵀKr / rᵀr has
    weights eig(MKM) on the range of M (M = I − H) whatever y is, so one eigendecomposition
    serves every replicate; the tail is the production code's (and the shortcut equals
    kernel_test on one replicate, below)."""
    rng = np.random.default_rng(seed)
    n, k = X.shape
    Qx = np.linalg.qr(X)[0]
    MKM = K - Qx @ (Qx.T @ K)
    MKM = MKM - (MKM @ Qx) @ Qx.T
    base = np.clip(np.linalg.eigvalsh(0.5 * (MKM + MKM.T))[k:], 0, None)
    Y = X @ rng.normal(size=(k, replicates)) + rng.normal(size=(n, replicates))
    R = Y - Qx @ (Qx.T @ Y)
    ratio = np.einsum("ij,ij->j", R, K @ R) / np.einsum("ij,ij->j", R, R)
    return np.array([mixture.ratio_tail(t, base).p for t in ratio])


def _binomial_99(count: int, replicates: int, alpha: float) -> bool:
    lo, hi = stats.binom.ppf([0.005, 0.995], replicates, alpha)
    return lo <= count <= hi


@pytest.mark.slow
@pytest.mark.parametrize("kernel", [nm.GRM(), nm.NTK(depth=2, width=1000, seed=3)], ids=["grm", "ntk"])
@pytest.mark.parametrize("covariates", [False, True], ids=["intercept", "covariates"])
def test_type_one_error_within_binomial_limits(kernel, covariates):
    n, replicates = 300, 2000
    rng = np.random.default_rng(11)
    G = rng.binomial(2, rng.uniform(0.05, 0.5, 30), (n, 30)).astype(float)
    Z = (G - G.mean(0)) / G.std(0)
    K = kernel.gram(Z)
    K = K / np.mean(np.diag(K))
    X = np.ones((n, 1))
    if covariates:
        X = np.column_stack([X, rng.normal(size=n), rng.binomial(1, 0.4, n), G[:, 0]])
    # the shortcut equals the public function on one replicate
    data = pd.DataFrame({"y": rng.normal(size=n)}, index=np.arange(n))
    formula = "y ~ 1"
    if covariates:
        data = data.assign(a=X[:, 1], b=X[:, 2], c=X[:, 3])
        formula = "y ~ a + b + c"
    public = kernel_test(formula, data, G, kernel=kernel).table.iloc[0]["p"]
    y = data["y"].to_numpy()
    Qx = np.linalg.qr(X)[0]
    r = y - Qx @ (Qx.T @ y)
    MKM = K - Qx @ (Qx.T @ K)
    MKM = MKM - (MKM @ Qx) @ Qx.T
    base = np.clip(np.linalg.eigvalsh(0.5 * (MKM + MKM.T))[X.shape[1]:], 0, None)
    assert public == pytest.approx(mixture.ratio_tail((r @ K @ r) / (r @ r), base).p, rel=1e-6)

    p = _null_rejections(K, X, replicates, seed=12)
    for alpha in (0.01, 0.001):
        count = int(np.sum(p < alpha))
        assert _binomial_99(count, replicates, alpha), (alpha, count)
    # and the check can fail: miscalibrated p-values (here p² ↔ √p) are caught
    assert not _binomial_99(int(np.sum(p**0.5 < 0.01)), replicates, 0.01)


def test_several_kernels_give_acat_and_results_round_trip(tmp_path):
    data, G, Z = _region()
    res = kernel_test("y ~ age", data, G, kernel=[nm.GRM(), nm.NTK(depth=2, width=None)])
    from ntkmixed.association.acat import acat

    assert res.p == pytest.approx(acat(res.table["p"].to_numpy()), rel=1e-9)
    assert list(res.table.index) == ["GRM", "NTK"]
    res.save(tmp_path / "kt.npz")
    back = nm.load(tmp_path / "kt.npz")
    pd.testing.assert_frame_equal(back.table, res.table, check_dtype=False)
    assert back.p == pytest.approx(res.p)
    assert "ACAT" in str(res.summary())


def test_region_scan_matches_kernel_test_per_region(tmp_path):
    data, G, Z = _region(p=24)
    info = pd.DataFrame({"chr": ["1"] * 12 + ["2"] * 12, "bp": list(range(100, 1300, 100)) * 2})
    regions = pd.DataFrame({"chr": ["1", "2", "2"], "start": [100, 100, 5000], "end": [600, 1200, 6000], "name": ["a", "b", "empty"]})
    kernels = [nm.GRM(), nm.NTK(depth=2, width=None)]
    scan = region_scan("y ~ age", data, G, regions=regions, kernel=kernels, snp_info=info)
    assert list(scan.table["name"]) == ["a", "b", "empty"]
    single = kernel_test("y ~ age", data, G[:, :6], kernel=kernels)
    assert scan.table.loc[0, "p_GRM"] == pytest.approx(single.table.loc["GRM", "p"], rel=1e-9)
    assert scan.table.loc[0, "p_acat"] == pytest.approx(single.p, rel=1e-9)
    assert scan.table.loc[1, "n_snps"] == 12 and np.isnan(scan.table.loc[2, "p_GRM"])
    assert "fewer than" in scan.table.loc[2, "note"]
    windows = region_scan("y ~ age", data, G, window=400, kernel=nm.GRM(), snp_info=info)
    assert windows.table["n_snps"].sum() == 24
    windows.save(tmp_path / "rs.npz")
    pd.testing.assert_frame_equal(nm.load(tmp_path / "rs.npz").table, windows.table, check_dtype=False)


def test_pvalue_methods_and_errors():
    data, G, Z = _region()
    for method in ("liu", "saddlepoint"):
        res = kernel_test("y ~ age", data, G, kernel=nm.GRM(), pvalue=method)
        assert res.table.iloc[0]["method"] == method
    with pytest.raises(NtkmixedError, match="'pvalue' parameter of kernel_test"):
        kernel_test("y ~ age", data, G, pvalue="imhof")
    with pytest.raises(NtkmixedError, match="exactly one of 'regions'"):
        region_scan("y ~ age", data, G, snp_info=pd.DataFrame({"chr": ["1"] * 15, "bp": range(15)}))
