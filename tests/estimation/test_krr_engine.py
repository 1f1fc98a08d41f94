"""The pure KRR routines (ntkmixed.estimation.ridge) against dense textbook formulas and
brute-force refits on small n."""

from __future__ import annotations

import numpy as np
import pytest

from ntkmixed.estimation import DenseProblem, SpectralProblem
from ntkmixed.estimation.ridge import (
    apply_reflectors,
    band_reduce,
    best_index,
    check_fold_designs,
    check_folds,
    cv_predictions,
    default_lambdas,
    loo_predictions,
    make_folds,
    ridge_fit,
    scores,
)
from ntkmixed.exceptions import NtkmixedError


def _problem(n=90, p_snps=150, seed=0, covariates=True):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p_snps))
    Z -= Z.mean(0)  # centred genotypes: K is singular along the ones vector
    K = Z @ Z.T / p_snps
    K /= np.mean(np.diag(K))
    X = np.column_stack([np.ones(n), rng.standard_normal(n)]) if covariates else np.zeros((n, 0))
    y = X @ np.arange(1.0, X.shape[1] + 1) + K @ rng.standard_normal(n) * 0.3 + rng.standard_normal(n)
    return y, X, K


def _cholesky_fit(y, X, K, lam):
    """KRR at λ through the dense engine (one Cholesky factorisation of K + λI)."""
    return ridge_fit(DenseProblem(y, X, [K]), lam)


def _spectral_fit(y, X, K, lam):
    """KRR at λ through the spectral engine (the eigendecomposition of K)."""
    return ridge_fit(SpectralProblem(y, X, K, clip_negative=False), lam)


def _dense_fit(y, X, K, lam):
    """β̂ = (XᵀV⁻¹X)⁻¹XᵀV⁻¹y, α̂ = V⁻¹(y − Xβ̂) with explicit inverses."""
    Vi = np.linalg.inv(K + lam * np.eye(y.size))
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y) if X.shape[1] else np.zeros(0)
    return beta, Vi @ (y - X @ beta)


def _refit_predictions(y, X, K, lambdas, train, test):
    out = []
    for lam in lambdas:
        beta, alpha = _dense_fit(y[train], X[train], K[np.ix_(train, train)], lam)
        out.append(X[test] @ beta + K[np.ix_(test, train)] @ alpha)
    return np.array(out)


LAMBDAS = np.array([0.003, 0.05, 1.0, 30.0])


def test_fit_matches_dense_formula_and_spectral_route():
    y, X, K = _problem()
    for lam in LAMBDAS:
        beta, alpha = _dense_fit(y, X, K, lam)
        for fit in (_cholesky_fit(y, X, K, lam), _spectral_fit(y, X, K, lam)):
            np.testing.assert_allclose(fit.beta, beta, rtol=1e-9)
            np.testing.assert_allclose(fit.dual_coef, alpha, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(fit.fitted, X @ beta + K @ alpha, rtol=1e-9, atol=1e-10)


def test_fit_without_fixed_effects_matches_sklearn():
    KernelRidge = pytest.importorskip("sklearn.kernel_ridge").KernelRidge
    y, X, K = _problem(covariates=False)
    for lam in LAMBDAS:
        reference = KernelRidge(alpha=lam, kernel="precomputed").fit(K, y)
        fit = _cholesky_fit(y, X, K, lam)
        np.testing.assert_allclose(fit.dual_coef, reference.dual_coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit.fitted, reference.predict(K), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n,band", [(60, 1), (61, 4), (90, 7), (90, 48), (120, 16), (35, 40)])
def test_band_reduction_is_an_orthogonal_similarity(n, band):
    rng = np.random.default_rng(n + band)
    A = rng.standard_normal((n, n))
    A = A @ A.T / n
    rhs = rng.standard_normal((n, 3))
    bands, rotated, reflectors = band_reduce(A, rhs, band)
    Q = apply_reflectors(reflectors, np.eye(n))
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-12)
    B = np.zeros((n, n))
    width = bands.shape[0] - 1
    for d in range(width + 1):
        B += np.diag(bands[d, : n - d], -d)
        if d:
            B += np.diag(bands[d, : n - d], d)
    assert width <= max(band, 1)
    np.testing.assert_allclose(Q @ B @ Q.T, A, atol=1e-12)
    np.testing.assert_allclose(rotated, Q.T @ rhs, atol=1e-12)
    np.testing.assert_array_equal(A, A.T)  # input untouched


@pytest.mark.parametrize("method,band", [("band", 3), ("band", 48), ("eigen", None), ("auto", None)])
@pytest.mark.parametrize("covariates", [True, False])
def test_cv_predictions_equal_brute_force_refits(method, band, covariates):
    y, X, K = _problem(covariates=covariates)
    folds = make_folds(y.size, 5, seed=3)
    options = {} if band is None else {"band": band}
    predictions = cv_predictions(y, X, K, LAMBDAS, folds, method=method, **options)
    for (train, test), got in zip(folds, predictions):
        np.testing.assert_allclose(got, _refit_predictions(y, X, K, LAMBDAS, train, test), rtol=1e-8, atol=1e-9)


def test_band_engine_gives_the_same_numbers_with_one_or_several_workers():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    y, X, K = _problem()
    folds = make_folds(y.size, 4, seed=0)
    done = []
    parallel = cv_predictions(y, X, K, LAMBDAS, folds, method="band", band=6, on_fold_done=lambda: done.append(1))
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread: folds in turn
        sequential = cv_predictions(y, X, K, LAMBDAS, folds, method="band", band=6)
    assert len(done) == 4
    for a, b in zip(parallel, sequential):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_band_engine_accepts_arbitrary_train_test_splits():
    y, X, K = _problem(n=80)
    rng = np.random.default_rng(1)
    order = rng.permutation(80)
    folds = [(order[:50], order[50:65]), (order[20:80], order[:12])]  # train is not the complement
    predictions = cv_predictions(y, X, K, LAMBDAS, check_folds(folds, 80), method="auto", band=5)
    for (train, test), got in zip(folds, predictions):
        np.testing.assert_allclose(got, _refit_predictions(y, X, K, LAMBDAS, train, test), rtol=1e-8, atol=1e-9)
    with pytest.raises(NtkmixedError, match="complement"):
        cv_predictions(y, X, K, LAMBDAS, check_folds(folds, 80), method="eigen")


def test_loo_equals_n_refits():
    y, X, K = _problem(n=40)
    loo = loo_predictions(SpectralProblem(y, X, K, clip_negative=False), LAMBDAS)
    for i in range(y.size):
        train = np.delete(np.arange(y.size), i)
        np.testing.assert_allclose(loo[:, i], _refit_predictions(y, X, K, LAMBDAS, train, np.array([i]))[:, 0],
                                   rtol=1e-8, atol=1e-9)
    # singleton folds through the generic entry point take the same route
    folds = [(np.delete(np.arange(y.size), i), np.array([i])) for i in range(y.size)]
    generic = cv_predictions(y, X, K, LAMBDAS, folds, method="eigen")
    np.testing.assert_allclose(np.column_stack(generic), loo, rtol=1e-12)


def test_chosen_lambda_equals_exhaustive_search():
    y, X, K = _problem(n=100, seed=5)
    lambdas = default_lambdas(n_values=12)
    folds = make_folds(y.size, 4, seed=11)
    predictions = cv_predictions(y, X, K, lambdas, folds)
    for scoring in ("mse", "cor"):
        got = np.column_stack([scores(y[test], pred, scoring) for (_, test), pred in zip(folds, predictions)])
        brute = np.empty((lambdas.size, len(folds)))
        for j, (train, test) in enumerate(folds):
            refit = _refit_predictions(y, X, K, lambdas, train, test)
            for i in range(lambdas.size):
                if scoring == "mse":
                    brute[i, j] = np.mean((y[test] - refit[i]) ** 2)
                else:
                    brute[i, j] = np.corrcoef(y[test], refit[i])[0, 1]
        np.testing.assert_allclose(got, brute, rtol=1e-8)
        expected = np.argmin(brute.mean(1)) if scoring == "mse" else np.argmax(brute.mean(1))
        assert best_index(got.mean(1), scoring) == expected


def test_folds_are_reproducible_partitions():
    folds = make_folds(23, 5, seed=7)
    assert [t.size for _, t in folds] == [5, 5, 5, 4, 4]
    tests = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(23))
    for train, test in folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(23))
    again = make_folds(23, 5, seed=7)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, make_folds(23, 5, seed=8)))
    with pytest.raises(NtkmixedError, match="folds"):
        make_folds(10, 11, 0)


def test_explicit_folds_are_validated():
    assert len(check_folds([([0, 1, 2], [3, 4]), (np.arange(2, 5), [0])], 5)) == 2
    with pytest.raises(NtkmixedError, match="disjoint"):
        check_folds([([0, 1, 2], [2, 3])], 5)
    with pytest.raises(NtkmixedError, match=r"\[0, 4\]"):
        check_folds([([0, 1, 2], [5])], 5)
    with pytest.raises(NtkmixedError, match="integer"):
        check_folds([([0.5, 1], [2])], 5)
    with pytest.raises(NtkmixedError, match="pair"):
        check_folds([[0, 1, 2]], 5)
    with pytest.raises(NtkmixedError, match="repeat"):
        check_folds([([0, 0, 1], [2])], 5)
    with pytest.raises(NtkmixedError, match="must be an int"):
        check_folds(3.5, 5)


def test_fold_whose_training_rows_miss_a_level_is_refused():
    X = np.column_stack([np.ones(10), np.r_[np.zeros(8), np.ones(2)]])
    with pytest.raises(NtkmixedError, match="fold 0"):
        check_fold_designs(X, [(np.arange(8), np.array([8, 9]))])
    check_fold_designs(X, [(np.arange(1, 10), np.array([0]))])


def test_scores():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(30)
    predictions = np.vstack([y + rng.standard_normal(30), np.full(30, 2.0), -y])
    np.testing.assert_allclose(scores(y, predictions, "mse"), np.mean((predictions - y) ** 2, axis=1))
    correlation = scores(y, predictions, "cor")
    assert correlation[0] == pytest.approx(np.corrcoef(y, predictions[0])[0, 1])
    assert np.isnan(correlation[1]) and correlation[2] == pytest.approx(-1.0)
    assert best_index(np.array([np.nan, 0.3, 0.1]), "mse") == 2
    assert best_index(np.array([np.nan, 0.3, 0.1]), "cor") == 1
    with pytest.raises(NtkmixedError, match="undefined"):
        best_index(np.array([np.nan, np.nan]), "cor")


def test_indefinite_kernel_is_reported():
    y, X, K = _problem(n=30)
    K = K - 2.0 * np.eye(30)
    with pytest.raises(NtkmixedError, match="not positive definite"):
        _cholesky_fit(y, X, K, 0.5)
    with pytest.raises(NtkmixedError, match="not positive definite"):
        _spectral_fit(y, X, K, 0.5)
    with pytest.raises(NtkmixedError, match="not positive definite"):
        cv_predictions(y, X, K, [0.5], make_folds(30, 3, 0), method="band")
    with pytest.raises(NtkmixedError, match="not positive definite"):
        cv_predictions(y, X, K, [0.5], make_folds(30, 3, 0), method="eigen")


def test_default_grid_covers_heritability_range():
    grid = default_lambdas()
    assert grid.size == 30 and np.all(np.diff(grid) > 0)
    h2 = 1.0 / (1.0 + grid)  # λ = (1 − h²)/h² on a normalised kernel
    assert h2.max() > 0.99 and h2.min() < 0.01
    np.testing.assert_allclose(default_lambdas(scale=3.0), 3.0 * grid)
