"""Heritability of fitted models: the sample-variance h² and its SE against dense formulas
(one and two kernels, every engine), the kernel definition, D of centred kernels, profile
intervals against a brute-force profile of the dense REML likelihood, what the summary
and saved models say."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_lmm
from reml_bruteforce import brute_force_interval

import ntkmixed as nm
from ntkmixed.estimation.engines import ENGINES
from ntkmixed.exceptions import NtkmixedError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "archives_v1"


def _grm(G):
    Z = (G - G.mean(0)) / G.std(0)
    K = Z @ Z.T / Z.shape[1]
    return K / np.mean(np.diag(K))


def _factor(K):
    n = K.shape[0]
    return np.trace((np.eye(n) - 1.0 / n) @ K) / (n - 1)  # E[sample variance of g]/σ², g ~ N(0, σ²K)


def _second_kernel(data, G, seed=0):
    """A PSD kernel far from centred (mean entry ≈ 0.4), as an NTK is."""
    Z = (G - G.mean(0)) / G.std(0)
    K = np.exp(-((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1) / (4 * Z.shape[1])) + 0.2
    return K / np.mean(np.diag(K))


def _brute_force_shares(theta, cov, factors):
    """h²_k = σ²_k D_k / (Σ σ²_j D_j + σ²_e) per kernel and in total, SEs from a
    finite-difference gradient and the covariance of θ̂."""
    def shares(t):
        scaled = t[:-1] * factors
        total = scaled.sum() + t[-1]
        return np.append(scaled / total, scaled.sum() / total)

    eps = 1e-7 * theta.sum()
    jacobian = np.column_stack([(shares(theta + eps * e) - shares(theta - eps * e)) / (2 * eps)
                                for e in np.eye(theta.size)])
    return shares(theta), np.sqrt(np.einsum("ij,jk,ik->i", jacobian, cov, jacobian))


def _factors(G, seed=0):
    """Two kernel factors of rank 50 + 31 < n: a GRM's and one far from centred (a column
    of ones adds a constant ≈ 0.4, as an NTK's mean entry)."""
    Z = (G - G.mean(0)) / G.std(0)
    rng = np.random.default_rng(seed)
    B = np.tanh(Z @ rng.normal(size=(Z.shape[1], 30)) / np.sqrt(Z.shape[1]))
    grm = Z / np.sqrt(np.mean(np.sum(Z**2, axis=1)))
    other = np.column_stack([B, np.full(len(Z), np.sqrt(0.4 * np.mean(np.sum(B**2, axis=1)) / 0.6))])
    other /= np.sqrt(np.mean(np.sum(other**2, axis=1)))
    return [grm, other]


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("n_kernels", [1, 2])
@pytest.mark.parametrize("method", ["minque0", "reml"])
def test_sample_variance_h2_and_se_equal_dense_formulas(engine, n_kernels, method):
    data, G = simulate_lmm(n=100, p=50, seed=1)
    factors_ = _factors(G.to_numpy())[:n_kernels]
    matrices = [F @ F.T for F in factors_]
    if engine == "lowrank":  # a kernel known through its factor: no n×n matrix
        kernels = [nm.Precomputed.from_factor(F, ids=data.index, name=f"K{i}") for i, F in enumerate(factors_)]
    else:
        kernels = [nm.Precomputed(K, ids=data.index, name=f"K{i}") for i, K in enumerate(matrices)]
    if engine == "hodlr" and method == "minque0":
        pytest.skip("the HODLR engine works through V and cannot evaluate MINQUE0's weights (σ²_g = 0)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = nm.fit("y ~ sex + age", data, kernel=kernels, method=method, engine=engine)
        except NtkmixedError as error:
            if f"The {engine!r} engine of fit cannot fit these kernels" in str(error):
                pytest.skip(str(error))
            raise
        kernel_res = nm.fit("y ~ sex + age", data, kernel=kernels, method=method, engine=engine, h2_definition="kernel")
    assert res.engine == engine
    theta = res.variance_components["estimate"].to_numpy()
    cov = res.variance_components_cov.to_numpy()
    factors = np.array([_factor(K) for K in matrices])
    np.testing.assert_allclose(res.sample_variance_factors.to_numpy(), factors, rtol=1e-12)
    expected, se = _brute_force_shares(theta, cov, factors)
    np.testing.assert_allclose(res.heritability["estimate"].to_numpy(), expected[:-1], rtol=1e-10)
    np.testing.assert_allclose(res.heritability["se"].to_numpy(), se[:-1], rtol=1e-6)
    no_se = engine == "matrix-free" and method == "minque0"  # precomputed kernels have no SNP blocks to jackknife
    assert np.isnan(res.h2_se) == no_se
    if no_se:
        assert res.engine_info["se_method"].startswith("none: the block jackknife needs")
    assert (res.h2, res.h2_se) == (pytest.approx(expected[-1], rel=1e-10), pytest.approx(se[-1], rel=1e-6, nan_ok=no_se))
    # the kernel definition: every D set to 1, same θ̂
    expected, se = _brute_force_shares(theta, cov, np.ones(n_kernels))
    assert kernel_res.h2_definition == "kernel" and res.h2_definition == "sample-variance"
    assert (kernel_res.h2, kernel_res.h2_se) == (pytest.approx(expected[-1], rel=1e-8), pytest.approx(se[-1], rel=1e-6, nan_ok=no_se))
    np.testing.assert_allclose(kernel_res.heritability["estimate"].to_numpy(), expected[:-1], rtol=1e-8)


def test_gower_centred_kernel_has_factor_one_and_both_definitions_agree():
    data, G = simulate_lmm(n=90, p=40, seed=2)
    K = _second_kernel(data, G.to_numpy())
    n = K.shape[0]
    P = np.eye(n) - 1.0 / n
    gower = (n - 1) * P @ K @ P / np.trace(P @ K @ P)
    kernel = nm.Precomputed(gower, ids=data.index)
    res = nm.fit("y ~ age", data, kernel=kernel, method="reml")
    assert res.sample_variance_factors.iloc[0] == pytest.approx(1.0, abs=1e-12)
    kernel_res = nm.fit("y ~ age", data, kernel=kernel, method="reml", h2_definition="kernel")
    assert res.h2 == pytest.approx(kernel_res.h2, abs=1e-12)


@pytest.fixture(scope="module")
def example():
    ex = nm.datasets.load_example()
    return ex.data, ex.genotypes.to_dataframe()


def test_grm_heritability_barely_depends_on_the_definition(example):
    data, G = example
    model = nm.KernelLMM.from_formula("y_additive ~ sex + age", data, genotypes=G, kernel=nm.GRM())
    for method in ["minque1", "reml"]:
        sample = model.fit(method=method)
        kernel = model.fit(method=method, h2_definition="kernel")
        assert abs(sample.h2 - kernel.h2) < 1e-3 and abs(sample.h2_se - kernel.h2_se) < 1e-3
        assert 0 < sample.h2 - kernel.h2  # D = n/(n − 1) > 1 for centred genotypes
        assert sample.sample_variance_factors["GRM"] == pytest.approx(sample.nobs / (sample.nobs - 1), rel=1e-9)


@pytest.mark.parametrize("h2, seed", [(0.5, 3), (0.0, 5)])
def test_profile_interval_equals_a_brute_force_profile_of_the_dense_likelihood(h2, seed):
    data, G = simulate_lmm(n=80, p=60, h2=h2, seed=seed)
    K = _second_kernel(data, G.to_numpy())
    kernel = nm.Precomputed(K, ids=data.index)
    res = nm.fit("y ~ sex + age", data, kernel=kernel, method="reml")
    X = np.column_stack([np.ones(80), (data["sex"] == "male").to_numpy(float), data["age"].to_numpy()])
    lower, upper, h_hat = brute_force_interval(data["y"].to_numpy(), X, K)
    interval = res.conf_int_h2()
    assert interval["method"].iloc[0] == "profile" and list(interval.index) == ["h2"]
    D = _factor(K)
    to_h2 = lambda h: h * D / (h * D + 1 - h)  # noqa: E731
    assert interval["lower"].iloc[0] == pytest.approx(to_h2(lower), abs=1e-6)
    assert interval["upper"].iloc[0] == pytest.approx(to_h2(upper), abs=1e-6)
    assert interval["estimate"].iloc[0] == pytest.approx(to_h2(h_hat), abs=1e-6)  # REML: ĥ² = h²(ĥ)
    assert 0 <= interval["lower"].iloc[0] <= res.h2 <= interval["upper"].iloc[0] <= 1
    kernel_interval = nm.fit("y ~ sex + age", data, kernel=kernel, method="reml", h2_definition="kernel").conf_int_h2()
    assert kernel_interval["lower"].iloc[0] == pytest.approx(lower, abs=1e-6)
    assert kernel_interval["upper"].iloc[0] == pytest.approx(upper, abs=1e-6)
    if h2 == 0.0:
        assert interval["lower"].iloc[0] == 0.0  # the likelihood at h = 0 is within the cut-off


def test_wald_interval_is_cut_to_the_unit_interval_and_labelled():
    data, G = simulate_lmm(n=80, p=60, h2=0.0, seed=5)
    res = nm.fit("y ~ sex + age", data, genotypes=G, method="reml")
    wald = res.conf_int_h2(level=0.9, method="wald")
    z = 1.6448536269514722
    assert wald.loc["h2", "lower"] == max(res.h2 - z * res.h2_se, 0.0)
    assert wald.loc["h2", "upper"] == pytest.approx(min(res.h2 + z * res.h2_se, 1.0))
    assert (wald["method"] == "wald").all() and (wald["level"] == 0.9).all()


def test_several_kernels_get_wald_intervals_per_component_and_in_total():
    data, G = simulate_lmm(n=80, p=60, seed=6)
    kernels = [nm.GRM(), nm.Precomputed(_second_kernel(data, G.to_numpy()), ids=data.index, name="other")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit("y ~ 1", data, genotypes=G, kernel=kernels, method="reml")
    interval = res.conf_int_h2()
    assert list(interval.index) == ["GRM", "other", "total"] and (interval["method"] == "wald").all()
    with pytest.raises(NtkmixedError, match="2 kernels.*method='wald'"):
        res.conf_int_h2(method="profile")


@pytest.mark.parametrize("arguments, message", [
    ({"level": 1.0}, "'level' parameter of conf_int_h2 must be a number in \\(0, 1\\)"),
    ({"level": "0.95"}, "'level'"), ({"method": "bootstrap"}, "'method' parameter of conf_int_h2"),
])
def test_interval_arguments_are_checked(lmm_data, arguments, message):
    data, G = lmm_data
    with pytest.raises(NtkmixedError, match=message):
        nm.fit("y ~ 1", data, genotypes=G).conf_int_h2(**arguments)


def test_h2_definition_is_checked(lmm_data):
    data, G = lmm_data
    with pytest.raises(NtkmixedError, match="'h2_definition' parameter of fit must be one of"):
        nm.fit("y ~ 1", data, genotypes=G, h2_definition="gcta")


def test_summary_names_the_definition_and_warns_with_the_number(example):
    data, G = example
    ntk = nm.fit("y_additive ~ sex", data, genotypes=G, kernel=nm.NTK(depth=2, width=None), method="reml")
    text = str(ntk.summary())
    assert "h² definition:       sample-variance" in text and "profile-likelihood CI" in text
    share = ntk.kernel_diagnostics.loc["NTK", "constant_share"]
    assert 0.2 < share < 0.3  # mean entry 0.23 on the example (issue 13)
    assert f"kernel 'NTK' has constant share {share:.3f}" in text
    assert "tables" and "kernel_diagnostics" in ntk.summary().tables
    grm = str(nm.fit("y_additive ~ sex", data, genotypes=G, method="reml").summary())
    assert "Warning:" not in grm


def test_a_nugget_like_kernel_is_warned_about(lmm_data):
    data, G = lmm_data
    n = len(data)
    K = 0.6 * np.eye(n) + 0.4 * _grm(G.to_numpy())  # 60 % of the centred trace is an identity
    res = nm.fit("y ~ 1", data, kernel=nm.Precomputed(K, ids=data.index, name="nuggety"))
    nugget = res.kernel_diagnostics.loc["nuggety", "nugget_share"]
    assert nugget == pytest.approx(nm.kernels.diagnose(K).nugget_share) and nugget > 0.5
    assert f"kernel 'nuggety' has nugget share {nugget:.3f}" in str(res.summary())


def test_saved_models_keep_definition_factors_diagnostics_and_profile(lmm_data, tmp_path):
    data, G = lmm_data
    res = nm.fit("y ~ sex", data, genotypes=G, method="reml", h2_definition="kernel")
    res.save(tmp_path / "m.npz")
    loaded = nm.load(tmp_path / "m.npz")
    assert loaded.h2_definition == "kernel" and loaded.h2 == res.h2 and loaded.h2_se == res.h2_se
    pd.testing.assert_series_equal(loaded.sample_variance_factors, res.sample_variance_factors)
    pd.testing.assert_frame_equal(loaded.kernel_diagnostics, res.kernel_diagnostics)
    pd.testing.assert_frame_equal(loaded.conf_int_h2(0.8), res.conf_int_h2(0.8))
    assert str(loaded.summary()) == str(res.summary())


def test_models_saved_before_sample_variance_h2_load_with_the_kernel_definition():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = nm.load(FIXTURES / "lmm_grm.npz")
    theta = old.variance_components["estimate"].to_numpy()
    assert old.h2_definition == "kernel" and old.h2 == pytest.approx(theta[0] / theta.sum(), rel=1e-12)
    assert old.sample_variance_factors.isna().all()
    assert old.conf_int_h2()["method"].iloc[0] == "wald"
    with pytest.raises(NtkmixedError, match="written before"):
        old.conf_int_h2(method="profile")
    with pytest.raises(NtkmixedError, match="saved before ntkmixed recorded kernel diagnostics"):
        old.kernel_diagnostics
    assert "h² definition:       kernel" in str(old.summary())


def test_the_low_rank_engine_gives_the_dense_engines_profile_interval():
    data, G = simulate_lmm(n=100, p=50, seed=7)
    F = _factors(G.to_numpy())[1]
    low = nm.fit("y ~ age", data, kernel=nm.Precomputed.from_factor(F, ids=data.index), method="reml", engine="lowrank")
    dense = nm.fit("y ~ age", data, kernel=nm.Precomputed(F @ F.T, ids=data.index), method="reml", engine="dense")
    assert low.engine == "lowrank" and low.heritability_basis.profile is not None
    for level in (0.8, 0.95):
        a, b = low.conf_int_h2(level), dense.conf_int_h2(level)
        assert (a["method"] == "profile").all()
        np.testing.assert_allclose(a[["estimate", "lower", "upper"]], b[["estimate", "lower", "upper"]], atol=1e-7)


def test_engines_without_a_detached_profile_fall_back_to_wald_and_say_why():
    data, G = simulate_lmm(n=100, p=50, seed=7)
    K = _grm(G.to_numpy()) + 0.1 * np.eye(100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit("y ~ age", data, kernel=nm.Precomputed(K, ids=data.index), method="reml", engine="hodlr")
    assert res.conf_int_h2()["method"].iloc[0] == "wald"
    with pytest.raises(NtkmixedError, match="'hodlr' engine offers no profiled likelihood"):
        res.conf_int_h2(method="profile")
