"""Estimators against dense textbook formulas written out independently on small n."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats

from ntkmixed.estimation import DenseProblem, SpectralProblem, build_problem, minque0, minque1, reml


def _problem(n=50, seed=1, with_covariate=True, two_kernels=False):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 2 * n // 3))
    K1 = Z @ Z.T / Z.shape[1]
    X = np.ones((n, 1)) if not with_covariate else np.column_stack([np.ones(n), rng.standard_normal(n)])
    kernels = [K1]
    V = 0.6 * K1 + 0.5 * np.eye(n)
    if two_kernels:
        groups = rng.integers(0, 8, n)  # unbalanced groups
        K2 = (groups[:, None] == groups[None, :]).astype(float)
        kernels.append(K2)
        V = V + 0.3 * K2
    y = X @ np.arange(1.0, X.shape[1] + 1) + rng.multivariate_normal(np.zeros(n), V)
    return y, X, kernels


def _engine_problem(y, X, kernels):
    """The problem the default engine builds (spectral for one kernel, dense for more)."""
    return build_problem(y, X, kernels)[0]


def _P(V, X):
    Vi = np.linalg.inv(V)
    return Vi - Vi @ X @ np.linalg.inv(X.T @ Vi @ X) @ X.T @ Vi


def _brute_minque(y, X, kernels, alpha):
    mats = kernels + [np.eye(y.size)]
    Va = sum(a * K for a, K in zip(alpha, mats))
    P = _P(Va, X)
    S = np.array([[np.trace(P @ Ki @ P @ Kj) for Kj in mats] for Ki in mats])
    q = np.array([y @ P @ Ki @ P @ y for Ki in mats])
    return np.linalg.solve(S, q), S, P, mats


def _brute_reml_loglik(y, X, kernels, theta):
    """Log-density of orthonormal error contrasts Aᵀy, A spanning the null space of Xᵀ."""
    mats = kernels + [np.eye(y.size)]
    V = sum(t * K for t, K in zip(theta, mats))
    A = scipy.linalg.null_space(X.T)
    return scipy.stats.multivariate_normal(np.zeros(A.shape[1]), A.T @ V @ A).logpdf(A.T @ y)


@pytest.mark.parametrize("two_kernels", [False, True])
@pytest.mark.parametrize("with_covariate", [False, True])
def test_minque0_solves_the_dense_equations(two_kernels, with_covariate):
    y, X, kernels = _problem(with_covariate=with_covariate, two_kernels=two_kernels)
    alpha = np.zeros(len(kernels) + 1)
    alpha[-1] = 1.0
    expected, S, P, mats = _brute_minque(y, X, kernels, alpha)
    fit = minque0(_engine_problem(y, X, kernels), constrain=False)
    np.testing.assert_allclose(fit.theta, expected, rtol=1e-9, atol=1e-12)
    # sandwich covariance S⁻¹ Var(q) S⁻¹ with Var(q)_ij = 2 tr(P K_i P V̂ P K_j P V̂)
    V_hat = sum(t * K for t, K in zip(fit.theta, mats))
    var_q = np.array([[2 * np.trace(P @ Ki @ P @ V_hat @ P @ Kj @ P @ V_hat) for Kj in mats] for Ki in mats])
    S_inv = np.linalg.inv(S)
    np.testing.assert_allclose(fit.cov, S_inv @ var_q @ S_inv, rtol=1e-8)


@pytest.mark.parametrize("two_kernels", [False, True])
def test_iterated_minque_is_a_fixed_point_and_equals_reml(two_kernels):
    y, X, kernels = _problem(two_kernels=two_kernels, seed=3)
    fit = minque1(_engine_problem(y, X, kernels), constrain=False)
    assert fit.converged
    again, *_ = _brute_minque(y, X, kernels, fit.theta)
    np.testing.assert_allclose(again, fit.theta, rtol=1e-6)
    fit_reml = reml(_engine_problem(y, X, kernels), constrain=False)
    np.testing.assert_allclose(fit_reml.theta, fit.theta, rtol=1e-8 if not two_kernels else 1e-6)
    # at the fixed point the sandwich is twice the inverse of S (inverse Fisher information)
    _, S, _, _ = _brute_minque(y, X, kernels, fit.theta)
    np.testing.assert_allclose(fit.cov, 2 * np.linalg.inv(S), rtol=1e-5)


@pytest.mark.parametrize("two_kernels", [False, True])
def test_reml_maximises_the_multivariate_normal_contrast_likelihood(two_kernels):
    y, X, kernels = _problem(two_kernels=two_kernels, seed=5)
    fit = reml(_engine_problem(y, X, kernels))
    assert np.isclose(fit.loglik, _brute_reml_loglik(y, X, kernels, fit.theta), rtol=1e-10)
    # a general-purpose optimiser on the brute-force likelihood finds no better point
    result = scipy.optimize.minimize(
        lambda log_theta: -_brute_reml_loglik(y, X, kernels, np.exp(log_theta)),
        np.log(np.maximum(fit.theta, 1e-3)) + 0.2, method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    assert -result.fun <= fit.loglik + 1e-6
    np.testing.assert_allclose(np.exp(result.x), fit.theta, rtol=2e-3, atol=1e-6)


def test_spectral_and_dense_engines_agree_everywhere():
    y, X, kernels = _problem(seed=7)
    spectral, dense = SpectralProblem(y, X, kernels[0]), DenseProblem(y, X, kernels)
    weights, theta = np.array([0.8, 0.3]), np.array([0.4, 0.7])
    a, b = spectral.state(weights), dense.state(weights)
    for name in ["S", "q", "reml_loglik", "beta", "cov_beta", "Py", "total_blup", "total_pev"]:
        np.testing.assert_allclose(np.asarray(getattr(a, name)()), np.asarray(getattr(b, name)()), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.var_q(theta), b.var_q(theta), rtol=1e-9)


def test_blup_and_pev_match_dense_conditional_distribution():
    y, X, kernels = _problem(seed=9, two_kernels=True)
    fit = reml(_engine_problem(y, X, kernels))
    theta = fit.theta
    state = DenseProblem(y, X, kernels).state(theta)
    mats = kernels + [np.eye(y.size)]
    V = sum(t * K for t, K in zip(theta, mats))
    P = _P(V, X)
    for k, K in enumerate(kernels):
        np.testing.assert_allclose(state.blup(k), theta[k] * K @ P @ y, rtol=1e-9)
        pev = np.diag(theta[k] * K - theta[k] ** 2 * K @ P @ K)
        np.testing.assert_allclose(state.pev(k), pev, rtol=1e-8, atol=1e-12)


def test_constrained_estimates_hold_negative_components_at_zero():
    rng = np.random.default_rng(11)
    n = 80
    Z = rng.standard_normal((n, 40))
    K = Z @ Z.T / 40
    X = np.ones((n, 1))
    y = rng.standard_normal(n)  # no genetic signal: unbiased estimates are often negative
    for seed in range(20):
        y = np.random.default_rng(seed).standard_normal(n)
        free = minque0(_engine_problem(y, X, [K]), constrain=False)
        if free.theta[0] < 0:
            break
    else:
        pytest.skip("no negative MINQUE0 estimate drawn")
    held = minque0(_engine_problem(y, X, [K]), constrain=True)
    assert held.theta[0] == 0 and held.boundary[0]
    # with σ²_g = 0 the residual solves the remaining equation exactly
    S = DenseProblem(y, X, [K]).state(np.array([0.0, 1.0]))
    assert np.isclose(held.theta[1], S.q()[1] / S.S()[1, 1])
    assert reml(_engine_problem(y, X, [K])).boundary[0]


@pytest.mark.parametrize("estimator", [minque0, minque1])
def test_constrained_residual_is_held_at_zero_too(estimator):
    # y drawn with almost no residual variance: the unbiased residual estimate goes negative
    rng = np.random.default_rng(2)
    n = 60
    Z = rng.standard_normal((n, 200))
    K = Z @ Z.T / 200 + 0.05 * np.eye(n)
    X = np.ones((n, 1))
    for seed in range(40):
        y = np.random.default_rng(seed).multivariate_normal(np.zeros(n), K)
        if estimator(_engine_problem(y, X, [K]), constrain=False).theta[1] < 0:
            break
    else:
        pytest.skip("no negative residual estimate drawn")
    held = estimator(_engine_problem(y, X, [K]), constrain=True)
    assert held.theta[1] == 0 and held.boundary[1] and held.theta[0] > 0
    if estimator is minque1:
        fit_reml = reml(_engine_problem(y, X, [K]))
        assert fit_reml.boundary[1] and fit_reml.theta[1] == 0
        assert fit_reml.theta[0] == pytest.approx(held.theta[0], rel=1e-5)


def test_reml_is_not_fooled_by_round_off_near_h2_one():
    # A centred GRM is singular along 1, which the intercept absorbs. Searching h up to
    # 1 − 1e-7 once produced a round-off likelihood spike there (h² = 1 reported at
    # n = 2000–10 000 where MINQUE1 and glimix-core gave 0.50); REML must agree with MINQUE1.
    rng = np.random.default_rng(0)
    n, p = 2000, 3000
    G = rng.binomial(2, rng.uniform(0.05, 0.5, p), size=(n, p)).astype(float)
    Z = (G - G.mean(0)) / G.std(0)
    K = Z @ Z.T / p
    K /= np.mean(np.diag(K))
    g = Z @ rng.standard_normal(p)
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.uniform(40, 70, n)])
    y = X @ [1.0, 0.3, 0.02] + g * np.sqrt(0.5 / np.var(g)) + rng.standard_normal(n) * np.sqrt(0.5)
    fit_reml, fit_minque1 = reml(_engine_problem(y, X, [K])), minque1(_engine_problem(y, X, [K]))
    assert not fit_reml.boundary.any()
    np.testing.assert_allclose(fit_reml.theta, fit_minque1.theta, rtol=1e-7)
