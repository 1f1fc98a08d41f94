"""The diagonal-plus-low-rank engine (K = F Fᵀ + diag(d), Woodbury) against the dense
engine and textbook formulas, and the low-rank trace algebra it is built on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from ntkmixed.estimation import DenseProblem, SpectralProblem, build_problem, minque0, minque1, reml
from ntkmixed.estimation.diagonal_low_rank import DiagonalPlusLowRankOperator
from ntkmixed.estimation.engines._lowrank_algebra import LowRankUpdate, power_traces, weighted_gram
from ntkmixed.estimation.engines.diagonal_low_rank import DiagonalLowRankProblem
from ntkmixed.exceptions import NtkmixedError


def _data(n=70, m=9, seed=0, covariates=True):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m)) / np.sqrt(m)
    d = rng.uniform(0.05, 0.7, n)
    operator = DiagonalPlusLowRankOperator(F, d)
    X = np.column_stack([np.ones(n), rng.standard_normal(n)]) if covariates else np.zeros((n, 0))
    y = X @ np.arange(1.0, X.shape[1] + 1) + rng.multivariate_normal(np.zeros(n), 0.8 * operator.dense() + 0.6 * np.eye(n))
    return y, X, operator


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if b.size == 0:
        return a.size == 0
    return np.max(np.abs(a - b)) <= 1e-10 * max(1.0, np.max(np.abs(b)))


def test_operator_is_the_matrix_it_describes():
    _, _, op = _data()
    K = op.F @ op.F.T + np.diag(op.d)
    V = np.random.default_rng(1).standard_normal((op.n, 3))
    np.testing.assert_allclose(op.dense(), K, rtol=0, atol=1e-14)
    np.testing.assert_allclose(op.matmul(V), K @ V, rtol=0, atol=1e-13)
    np.testing.assert_allclose(op.diagonal(), np.diag(K), rtol=0, atol=1e-14)
    assert op.mean_entry() == pytest.approx(K.mean(), rel=1e-13)
    with pytest.raises(ValueError, match="≥ 0"):
        DiagonalPlusLowRankOperator(op.F, -op.d)


@pytest.mark.parametrize("covariates", [True, False])
@pytest.mark.parametrize("weights", [(0.8, 0.6), (0.0, 1.0), (3.0, 0.02), (1e-6, 1.0), (-0.05, 1.0)])
def test_state_equals_the_dense_state(weights, covariates):
    y, X, op = _data(covariates=covariates)
    dense = DenseProblem(y, X, [op.dense()]).state(np.array(weights))
    low = DiagonalLowRankProblem(y, X, op).state(np.array(weights))
    assert low.positive_definite == dense.positive_definite
    for name in ("S", "q", "reml_loglik", "beta", "cov_beta", "Py", "total_blup", "total_pev"):
        assert _close(getattr(low, name)(), getattr(dense, name)()), name
    for theta in ([0.3, 0.9], list(weights), [2 * w for w in weights], [0.0, 1.2]):
        assert _close(low.var_q(np.array(theta)), dense.var_q(np.array(theta))), theta
    assert _close(low.S_direct(), dense.S())  # both routes to S (the other by traces of P)


def test_reml_loglik_is_the_density_of_error_contrasts():
    y, X, op = _data(n=40)
    theta = np.array([0.7, 0.4])
    V = theta[0] * op.dense() + theta[1] * np.eye(y.size)
    A = scipy.linalg.null_space(X.T)
    reference = scipy.stats.multivariate_normal(np.zeros(A.shape[1]), A.T @ V @ A).logpdf(A.T @ y)
    value = DiagonalLowRankProblem(y, X, op).state(theta).reml_loglik()
    assert value == pytest.approx(reference, rel=1e-10)


@pytest.mark.parametrize("estimator", [reml, minque1, minque0])
@pytest.mark.parametrize("constrain", [True, False])
def test_estimators_equal_the_dense_engine(estimator, constrain):
    y, X, op = _data(n=90, seed=2)
    dense = estimator(SpectralProblem(y, X, op.dense()), constrain=constrain)
    low = estimator(DiagonalLowRankProblem(y, X, op), constrain=constrain)
    np.testing.assert_allclose(low.theta, dense.theta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(low.cov, dense.cov, rtol=1e-6, atol=1e-10)
    assert low.loglik == pytest.approx(dense.loglik, rel=1e-10)


def test_auto_picks_it_for_a_diagonal_plus_low_rank_kernel_and_explains():
    y, X, op = _data()
    problem, choice = build_problem(y, X, [op])
    assert choice.name == "diagonal-lowrank" and isinstance(problem, DiagonalLowRankProblem)
    assert "Woodbury" in choice.reason and "rank-9" in choice.reason
    _, choice = build_problem(y, X, [op.dense()])
    assert choice.name == "dense"
    with pytest.raises(NtkmixedError, match="cannot fit these kernels: it fits one kernel"):
        build_problem(y, X, [op, op], engine="diagonal-lowrank")
    with pytest.raises(NtkmixedError, match="not held as a low-rank factor plus a diagonal"):
        build_problem(y, X, [op.dense()], engine="diagonal-lowrank")


# --- the algebra -------------------------------------------------------------------------
def test_power_traces_equal_traces_of_matrix_powers_for_block_diagonal_delta():
    rng = np.random.default_rng(0)
    n, r = 24, 4
    A, B = rng.standard_normal((12, 12)), rng.standard_normal((12, 12))
    delta = scipy.linalg.block_diag(A @ A.T, B @ B.T) / 12
    L = rng.standard_normal((n, r))
    N = rng.standard_normal((r, r))
    N = N + N.T
    delta_traces = [np.trace(np.linalg.matrix_power(delta, j)) for j in range(1, 5)]
    grams = [L.T @ np.linalg.matrix_power(delta, a) @ L for a in range(4)]
    for sign in (1.0, -1.0):
        M = delta + sign * L @ N @ L.T
        expected = [np.trace(np.linalg.matrix_power(M, j)) for j in range(1, 5)]
        np.testing.assert_allclose(power_traces(delta_traces, grams, N, sign), expected, rtol=1e-12)


def test_low_rank_updates_multiply_and_trace_like_their_matrices():
    rng = np.random.default_rng(3)
    n = 20
    X = LowRankUpdate(rng.random(n), rng.standard_normal((n, 3)), rng.standard_normal((3, 2)), rng.standard_normal((n, 2)))
    Y = LowRankUpdate(rng.random(n), rng.standard_normal((n, 2)), rng.standard_normal((2, 4)), rng.standard_normal((n, 4)))
    np.testing.assert_allclose((X @ Y).dense(), X.dense() @ Y.dense(), atol=1e-12)
    assert X.trace_product(Y) == pytest.approx(np.trace(X.dense() @ Y.dense()), rel=1e-12)
    assert (X @ Y).trace() == pytest.approx(np.trace(X.dense() @ Y.dense()), rel=1e-12)
    F, w = rng.standard_normal((n, 5)), rng.random(n)
    np.testing.assert_allclose(weighted_gram(F, w, chunk=7), F.T @ np.diag(w) @ F, atol=1e-13)
