"""The HODLR engine: compression to a tolerance, the recursive factorisation (solves,
log-determinant, traces, diag V⁻¹) and REML, against dense formulas; its exact limit
(tolerance 1e-12) equals the dense REML fit."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.estimation import DenseProblem, SpectralProblem, build_problem, minque0, reml
from ntkmixed.estimation.engines import HODLREngine
from ntkmixed.estimation.engines import _hodlr_matrix
from ntkmixed.estimation.engines._hodlr_factor import HODLRFactor
from ntkmixed.estimation.engines._hodlr_matrix import compress
from ntkmixed.estimation.engines.hodlr import HODLRProblem
from ntkmixed.estimation.operators import DenseOperator
from ntkmixed.exceptions import NtkmixedError


def _kernel(n=240, p=12, seed=0):
    """A GRM on p SNPs plus a banded 'family' part: off-diagonal blocks of rank ≤ p + 1."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    index = np.arange(n)
    K = Z @ Z.T / p + np.exp(-np.abs(np.subtract.outer(index, index)) / 4.0)
    return K / np.mean(np.diag(K))


def _data(n=240, seed=0, covariates=True):
    rng = np.random.default_rng(seed + 1)
    K = _kernel(n, seed=seed)
    X = np.column_stack([np.ones(n), rng.standard_normal(n)]) if covariates else np.ones((n, 1))
    y = X @ np.arange(1.0, X.shape[1] + 1) + rng.multivariate_normal(np.zeros(n), 0.6 * K + 0.5 * np.eye(n))
    return y, X, K


def _source(K):
    return lambda r0, r1, c0, c1: K[r0:r1, c0:c1]


def test_compression_finds_the_rank_and_meets_the_tolerance():
    K = _kernel()
    H = compress(_source(K), K.shape[0], 1e-10, 30, 10**6, seed=0)
    assert all(rank <= 13 for level in H.ranks_by_level() for rank in level)
    x = np.random.default_rng(1).standard_normal(K.shape[0])
    assert np.linalg.norm(H.matmul(x) - K @ x) <= 1e-9 * np.linalg.norm(K @ x)
    assert H.stored_numbers() < K.size / 2
    # a cap on the rank is honoured and its error recorded
    capped = compress(_source(K), K.shape[0], 1e-10, 30, 4, seed=0)
    assert max(max(level) for level in capped.ranks_by_level()) == 4
    assert max(node.block_error for node in capped.nodes()) > 1e-3


def test_large_blocks_visited_in_column_chunks_give_the_same_compression(monkeypatch):
    K = _kernel()
    whole = compress(_source(K), K.shape[0], 1e-10, 30, 10**6, seed=3)
    monkeypatch.setattr(_hodlr_matrix, "WHOLE_BLOCK_ENTRIES", 100)
    monkeypatch.setattr(_hodlr_matrix, "CHUNK_COLUMNS", 17)
    chunked = compress(_source(K), K.shape[0], 1e-10, 30, 10**6, seed=3)
    assert chunked.ranks_by_level() == whole.ranks_by_level()
    x = np.random.default_rng(1).standard_normal(K.shape[0])
    np.testing.assert_allclose(chunked.matmul(x), K @ x, rtol=0, atol=1e-9 * np.abs(K @ x).max())


@pytest.mark.parametrize("weights", [(0.6, 0.5), (2.0, 0.05), (0.05, 1.0)])
def test_factorisation_solves_and_traces_like_the_dense_matrix(weights):
    K = _kernel()
    H = compress(_source(K), K.shape[0], 1e-13, 30, 10**6, seed=0)
    factor = HODLRFactor(H, *weights)
    V = weights[0] * K + weights[1] * np.eye(K.shape[0])
    B = np.random.default_rng(2).standard_normal((K.shape[0], 3))
    np.testing.assert_allclose(factor.solve(B), np.linalg.solve(V, B), atol=1e-10)
    assert factor.logdet == pytest.approx(np.linalg.slogdet(V)[1], rel=1e-12)
    inverse = np.linalg.inv(V)
    expected = [np.trace(np.linalg.matrix_power(inverse, j)) for j in range(1, 5)]
    np.testing.assert_allclose(factor.inverse_power_traces(), expected, rtol=1e-10)
    np.testing.assert_allclose(factor.inverse_diagonal(), np.diag(inverse), atol=1e-12)
    assert factor.positive_definite


def test_an_indefinite_covariance_is_recognised():
    K = _kernel()
    H = compress(_source(K), K.shape[0], 1e-13, 30, 10**6, seed=0)
    s_max = np.linalg.eigvalsh(K)[-1]
    assert not HODLRFactor(H, -1.0, 0.5 * s_max).positive_definite  # some eigenvalue −s + s/2 < 0
    assert HODLRFactor(H, -0.1 / s_max, 1.0).positive_definite


@pytest.mark.parametrize("covariates", [True, False])
def test_states_equal_the_dense_states(covariates):
    y, X, K = _data(covariates=covariates)
    problem = HODLRProblem(y, X, DenseOperator(K), 1e-13, 30, 10**6, 0)
    dense = DenseProblem(y, X, [K])
    for weights in ([0.6, 0.5], [1.5, 0.1], [0.02, 1.0]):
        a, b = dense.state(np.array(weights)), problem.state(np.array(weights))
        for name in ("S", "q", "reml_loglik", "beta", "cov_beta", "Py", "total_blup", "total_pev"):
            np.testing.assert_allclose(getattr(b, name)(), getattr(a, name)(), rtol=1e-8, atol=1e-10, err_msg=name)
        theta = np.array([0.3, 0.8])
        np.testing.assert_allclose(b.var_q(theta), a.var_q(theta), rtol=1e-8)


@pytest.mark.parametrize("constrain", [True, False])
def test_reml_at_tolerance_1e12_equals_the_dense_reml(constrain):
    y, X, K = _data(n=300, seed=4)
    dense = reml(SpectralProblem(y, X, K), constrain=constrain)
    problem, choice = build_problem(y, X, [K], engine=HODLREngine(tol=1e-12, leaf_size=40))
    assert choice.name == "hodlr"
    fit = reml(problem, constrain=constrain)
    np.testing.assert_allclose(fit.theta, dense.theta, rtol=1e-8)
    np.testing.assert_allclose(fit.cov, dense.cov, rtol=1e-6)
    info = problem.engine_info()
    assert info["probe_relative_error"] < 1e-11 and info["hodlr_tol"] == 1e-12
    assert [level["blocks"] for level in info["ranks_by_level"]] == [1, 2, 4]


def test_fit_with_a_kernel_evaluated_on_the_fly_equals_the_dense_fit():
    data, G = simulate_lmm(n=260, p=40, h2=0.4, seed=4)
    train, new = data.iloc[:220], data.iloc[220:]
    kernel = nm.NTK(depth=2, width=None)
    dense = nm.fit("y ~ sex + age", train, G.loc[train.index], kernel=kernel, method="reml")
    model = nm.KernelLMM.from_formula("y ~ sex + age", train, G.loc[train.index], kernel=kernel)
    res = model.fit(method="reml", engine=nm.HODLR(tol=1e-12, leaf_size=64))
    assert not model.trained_kernels[0].operator.is_formed  # entries were computed block by block
    assert res.engine == "hodlr" and res.h2 == pytest.approx(dense.h2, abs=1e-8)
    np.testing.assert_allclose(res.params, dense.params, rtol=1e-8)
    np.testing.assert_allclose(res.blup, dense.blup, atol=1e-8)
    np.testing.assert_allclose(res.blup_pev["total"], dense.blup_pev["total"], atol=1e-8)
    np.testing.assert_allclose(res.predict(new, G.loc[new.index]), dense.predict(new, G.loc[new.index]), atol=1e-8)


def test_minque0_is_refused_with_a_clear_message():
    y, X, K = _data()
    problem = HODLRProblem(y, X, DenseOperator(K), 1e-8, 30, 10**6, 0)
    with pytest.raises(NtkmixedError, match="Use method='reml' with engine='hodlr'"):
        minque0(problem)
    with pytest.raises(NtkmixedError, match="cannot fit these kernels: it fits one kernel"):
        build_problem(y, X, [K, K], engine="hodlr")
