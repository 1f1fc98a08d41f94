"""The exact low-rank engine against the dense engine (itself tested against brute-force
formulas) and against the textbook REML density, for one and two factor kernels, with
and without covariates; its thin SVD; and the promise of no n×n array."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import scipy.stats

import ntkmixed as nm
from ntkmixed.estimation import FactorOperator, build_problem, minque0, minque1, reml
from ntkmixed.estimation.factor_svd import thin_svd
from ntkmixed.estimation.operators import KernelOperator
from ntkmixed.exceptions import BoundaryWarning, NtkmixedError

ESTIMATORS = {"minque0": minque0, "minque1": minque1, "reml": reml}


def _factors(n=120, ranks=(40,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, r)) / np.sqrt(r) for r in ranks]


def _data(factors, n_covariates, seed=1, weights=None):
    rng = np.random.default_rng(seed)
    n = factors[0].shape[0]
    X = np.column_stack([np.ones(n), rng.standard_normal((n, max(n_covariates - 1, 0)))])[:, :n_covariates]
    weights = weights or [0.6] * len(factors)
    g = sum(np.sqrt(w) * F @ rng.standard_normal(F.shape[1]) for w, F in zip(weights, factors))
    y = X @ np.arange(1.0, n_covariates + 1) + g + rng.standard_normal(n) * 0.8
    return y, X


def _relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("method", list(ESTIMATORS))
@pytest.mark.parametrize("n_covariates", [0, 1, 3])
@pytest.mark.parametrize("ranks", [(40,), (40, 25)])
def test_lowrank_equals_dense_to_1e8(ranks, n_covariates, method):
    factors = _factors(ranks=ranks)
    y, X = _data(factors, n_covariates)
    lowrank, choice = build_problem(y, X, [FactorOperator(F) for F in factors], "lowrank")
    dense, _ = build_problem(y, X, [F @ F.T for F in factors], "dense")
    assert choice.name == "lowrank" and lowrank.m == sum(ranks)
    estimate = ESTIMATORS[method]
    a, b = estimate(lowrank, constrain=False), estimate(dense, constrain=False)
    assert _relative_error(a.theta, b.theta) < 1e-8
    assert _relative_error(a.cov, b.cov) < 1e-8
    assert abs(a.loglik - b.loglik) < 1e-8 * abs(b.loglik)
    sa, sb = lowrank.state(a.theta), dense.state(a.theta)
    checks = {"beta": (sa.beta(), sb.beta()), "cov_beta": (sa.cov_beta(), sb.cov_beta()), "Py": (sa.Py(), sb.Py()),
              "total_blup": (sa.total_blup(), sb.total_blup()), "total_pev": (sa.total_pev(), sb.total_pev()),
              "S": (sa.S(), sb.S()), "q": (sa.q(), sb.q()), "var_q": (sa.var_q(a.theta), sb.var_q(a.theta))}
    for k in range(len(factors)):
        checks[f"blup{k}"] = (sa.blup(k), sb.blup(k))
        checks[f"pev{k}"] = (sa.pev(k), sb.pev(k))
    for name, (got, expected) in checks.items():
        if np.size(expected):
            assert _relative_error(got, expected) < 1e-8, name


def test_several_kernels_give_the_dense_reml_score_and_average_information():
    factors = _factors(ranks=(30, 20), seed=4)
    y, X = _data(factors, 2, seed=5)
    theta = np.array([0.4, 0.7, 0.5])
    a = build_problem(y, X, [FactorOperator(F) for F in factors], "lowrank")[0].state(theta)
    b = build_problem(y, X, [F @ F.T for F in factors], "dense")[0].state(theta)
    for got, expected in zip(a.score_and_ai(), b.score_and_ai()):
        assert _relative_error(got, expected) < 1e-9


@pytest.mark.parametrize("n_kernels", [1, 2])
def test_lowrank_likelihood_is_the_multivariate_normal_density_of_error_contrasts(n_kernels):
    factors = _factors(n=60, ranks=(15, 10)[:n_kernels], seed=7)
    y, X = _data(factors, 2, seed=8)
    theta = np.array([0.5, 0.3][:n_kernels] + [0.9])
    V = theta[-1] * np.eye(y.size) + sum(t * F @ F.T for t, F in zip(theta, factors))
    A = scipy.linalg.null_space(X.T)
    expected = scipy.stats.multivariate_normal(np.zeros(A.shape[1]), A.T @ V @ A).logpdf(A.T @ y)
    problem = build_problem(y, X, [FactorOperator(F) for F in factors], "lowrank")[0]
    assert problem.state(theta).reml_loglik() == pytest.approx(expected, rel=1e-11)


def test_profile_likelihood_equals_the_spectral_engines():
    factors = _factors(ranks=(50,), seed=9)
    y, X = _data(factors, 2, seed=10)
    lowrank = build_problem(y, X, [FactorOperator(factors[0])], "lowrank")[0]
    spectral = build_problem(y, X, [factors[0] @ factors[0].T], "dense")[0]
    assert lowrank.supports_profile
    for h in [lowrank.smallest_profile_h() / 2, 0.0, 0.3, 0.9, 1 - 1e-5]:
        got, expected = lowrank.profile_reml(h), spectral.profile_reml(h)
        assert got[0] == pytest.approx(expected[0], rel=1e-11) and got[1] == pytest.approx(expected[1], rel=1e-10)
    assert lowrank.smallest_profile_h() == pytest.approx(spectral.smallest_profile_h(), rel=1e-10)


def test_fewer_free_directions_than_fixed_effects():
    # n − rank < k + 1: the part of [X, y] outside the kernel's range has fewer
    # dimensions than columns, so fewer pseudo-rows are kept
    factors = _factors(n=24, ranks=(21,), seed=11)
    y, X = _data(factors, 3, seed=12)
    lowrank, _ = build_problem(y, X, [FactorOperator(factors[0])], "lowrank")
    assert lowrank.n_rows == 24 and lowrank.n_null == 0
    a = reml(lowrank, constrain=False)
    b = reml(build_problem(y, X, [factors[0] @ factors[0].T], "dense")[0], constrain=False)
    assert _relative_error(a.theta, b.theta) < 1e-8


def test_collinear_factor_columns_are_fitted_on_the_numerical_rank():
    # strong LD: many copies of a few columns, plus exact duplicates
    rng = np.random.default_rng(13)
    n, base = 120, rng.standard_normal((120, 12))
    F = np.hstack([base, base[:, :6] + 1e-4 * rng.standard_normal((n, 6)), base[:, :5]]) / 5
    svd = thin_svd(F)
    assert svd.rank == 18
    np.testing.assert_allclose(svd.U.T @ svd.U, np.eye(svd.rank), atol=1e-13)
    np.testing.assert_allclose((svd.U * svd.sigma) @ svd.V.T, F, atol=1e-12)
    y, X = _data([F], 2, seed=14)
    a = reml(build_problem(y, X, [FactorOperator(F)], "lowrank")[0])
    b = reml(build_problem(y, X, [F @ F.T], "dense")[0])
    assert _relative_error(a.theta, b.theta) < 1e-8


def test_thin_svd_of_an_ill_conditioned_factor_is_orthonormal():
    rng = np.random.default_rng(15)
    left = np.linalg.qr(rng.standard_normal((300, 40)))[0]
    right = np.linalg.qr(rng.standard_normal((40, 40)))[0]
    sigma = np.logspace(0, -4.5, 40)  # eigenvalues of K spread over 1e9
    F = (left * sigma) @ right.T
    svd = thin_svd(F)
    assert svd.rank == 40
    np.testing.assert_allclose(svd.U.T @ svd.U, np.eye(40), atol=1e-12)
    np.testing.assert_allclose(svd.sigma, sigma, rtol=1e-7)
    np.testing.assert_allclose((svd.U * svd.sigma) @ svd.V.T, F, atol=1e-13)


def test_auto_picks_lowrank_for_a_grm_on_few_snps_and_dense_otherwise(lmm_data):
    data, G = lmm_data  # 120 people, 60 SNPs
    res = nm.fit("y ~ sex + age", data, genotypes=G)
    assert res.engine == "lowrank" and "thin SVD" in res.engine_reason
    assert res.engine_info["rank"] == 60
    assert "rank 60" in str(res.summary())
    from conftest import simulate_lmm

    data, G = simulate_lmm(n=120, p=100, seed=3)  # 100 columns > 0.7 n: no gain from low rank
    res = nm.fit("y ~ sex + age", data, genotypes=G)
    assert res.engine == "dense" and "eigendecomposition" in res.engine_reason


def test_lowrank_refuses_kernels_it_cannot_fit_with_a_clear_error(lmm_data):
    data, G = lmm_data
    with pytest.raises(NtkmixedError, match=r"'lowrank' engine of fit cannot fit these kernels: kernel\(s\) \[0\] have no factor"):
        nm.fit("y ~ 1", data, genotypes=G, kernel=nm.NNGP(depth=1), engine="lowrank")
    wide = pd.concat([G, G.add_suffix("_copy"), G.add_suffix("_again")], axis=1)  # 180 columns > 120 people
    with pytest.raises(NtkmixedError, match="180 columns in all, not fewer than n = 120"):
        nm.fit("y ~ 1", data, genotypes=wide, engine="lowrank")


def test_a_lowrank_fit_never_forms_an_n_by_n_matrix(monkeypatch, tmp_path):
    from conftest import simulate_lmm

    def refuse(self, *args):
        raise AssertionError("an n×n kernel matrix was formed")

    monkeypatch.setattr(FactorOperator, "dense", refuse)
    monkeypatch.setattr(KernelOperator, "spectrum", refuse)
    data, G = simulate_lmm(n=300, p=40, seed=4)
    train, new = data.index[:250], data.index[250:]
    user_factor = nm.Precomputed.from_factor(G.to_numpy()[:, :5], ids=G.index)
    for kernels, method in [(nm.GRM(), "minque1"), ([nm.GRM(), user_factor], "reml")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundaryWarning)  # the user factor carries no signal
            res = nm.fit("y ~ sex + age", data.loc[train], genotypes=G.loc[train], kernel=kernels, method=method,
                         engine="lowrank")
        assert np.isfinite(res.blup_pev.to_numpy()).all()
        res.save(tmp_path / "model.npz")
        loaded = nm.load(tmp_path / "model.npz")
        np.testing.assert_allclose(loaded.predict(data.loc[new], G.loc[new]), res.predict(data.loc[new], G.loc[new]),
                                   rtol=1e-12)


def test_fit_results_of_the_two_engines_agree_to_1e8(lmm_data):
    from conftest import simulate_lmm

    data, G = simulate_lmm(n=260, p=90, seed=6)
    train, new = data.index[:220], data.index[220:]
    for method in ESTIMATORS:
        a, b = (nm.fit("y ~ sex + age", data.loc[train], genotypes=G.loc[train], method=method, engine=engine)
                for engine in ("lowrank", "dense"))
        assert abs(a.h2 - b.h2) < 1e-8 and abs(a.h2_se - b.h2_se) < 1e-8
        assert _relative_error(a.bse, b.bse) < 1e-8 and _relative_error(a.params, b.params) < 1e-8
        assert _relative_error(a.blup, b.blup) < 1e-8 and _relative_error(a.blup_pev, b.blup_pev) < 1e-8
        assert _relative_error(a.predict(data.loc[new], G.loc[new]), b.predict(data.loc[new], G.loc[new])) < 1e-8


def test_precomputed_from_factor_equals_the_precomputed_matrix(tmp_path):
    rng = np.random.default_rng(17)
    n = 90
    ids = pd.Index([f"p{i}" for i in range(n + 10)])
    F = rng.standard_normal((n + 10, 12))
    data = pd.DataFrame({"y": rng.standard_normal(n), "x": rng.standard_normal(n)}, index=ids[5 : n + 5])
    for normalize in (None, "mean-diag", "unit-diag"):
        by_factor = nm.fit("y ~ x", data, kernel=nm.Precomputed.from_factor(F, ids, normalize=normalize), method="reml")
        by_matrix = nm.fit("y ~ x", data, kernel=nm.Precomputed(F @ F.T, ids, normalize=normalize), method="reml")
        assert by_factor.engine == "lowrank" and by_matrix.engine == "dense"
        assert abs(by_factor.h2 - by_matrix.h2) < 1e-8
        newdata = pd.DataFrame({"x": [0.1, -0.2]}, index=ids[[0, n + 9]])
        np.testing.assert_allclose(by_factor.predict(newdata), by_matrix.predict(newdata), rtol=1e-8)
    by_factor.save(tmp_path / "factor.npz")
    loaded = nm.load(tmp_path / "factor.npz")
    assert loaded.kernels == by_factor.kernels
    np.testing.assert_allclose(loaded.predict(newdata), by_factor.predict(newdata), rtol=1e-12)


def test_precomputed_from_factor_rejects_bad_input_naming_the_argument():
    with pytest.raises(NtkmixedError, match=r"'F' argument of Precomputed.from_factor must be an n×r matrix"):
        nm.Precomputed.from_factor(np.ones(5))
    with pytest.raises(NtkmixedError, match="must be finite. Got 1 NaN"):
        nm.Precomputed.from_factor(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(NtkmixedError, match=r"one ID per row of F \(2\). Got 3"):
        nm.Precomputed.from_factor(np.eye(2), ids=["a", "b", "c"])
