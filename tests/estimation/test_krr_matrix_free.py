"""Matrix-free cross-validation of the ridge (every fold at every λ by preconditioned CG
in one stacked solve) equals the exact engines to the CG tolerance, for k-fold and
arbitrary splits, with and without fixed effects and a preconditioner; ``ntkmixed.krr``
with ``engine="matrix-free"`` on an analytic NTK used only through products agrees with
the exact KRR (λ, scores, dual coefficients, prediction), reports its CG work, saves and
loads it, and ``"auto"`` turns to it only when the exact engine's arrays would not fit."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.estimation.operators import DenseOperator, FactorOperator
from ntkmixed.estimation.ridge import crossvalidate, cv_predictions, make_folds
from ntkmixed.estimation.ridge.matrix_free_cv import matrix_free_cv_predictions
from ntkmixed.exceptions import ConvergenceWarning, NtkmixedError
from ntkmixed.kernels.block_operator import BlockKernelOperator


def _problem(n=160, seed=0, covariates=True):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 40)) / np.sqrt(40)
    K = (1.0 + Z @ Z.T) ** 2  # a full-rank polynomial kernel: CG has work to do
    K /= np.mean(np.diag(K))
    X = np.column_stack([np.ones(n), rng.standard_normal(n)]) if covariates else np.zeros((n, 0))
    y = (X @ [1.0, 2.0] if covariates else 0.0) + np.linalg.cholesky(K + 1e-9 * np.eye(n)) @ rng.standard_normal(n) \
        + rng.standard_normal(n)
    return y, X, K


@pytest.mark.parametrize("covariates", [True, False])
@pytest.mark.parametrize("split", ["5-fold", "arbitrary"])
@pytest.mark.parametrize("rank", [0, 20])
def test_held_out_predictions_equal_the_exact_engines(covariates, split, rank):
    y, X, K = _problem(covariates=covariates)
    lambdas = np.geomspace(0.005, 200, 12)
    rng = np.random.default_rng(4)
    folds = {"5-fold": make_folds(y.size, 5, 1),
             "arbitrary": [(np.sort(rng.choice(130, 100, replace=False)), np.arange(130, 160)) for _ in range(3)]}[split]
    exact = cv_predictions(y, X, DenseOperator(K), lambdas, folds)
    # a budget of two λ per chunk, so that warm starts across chunks are exercised
    block_bytes = 8 * y.size * len(folds) * (1 + X.shape[1]) * 2
    solved, info = matrix_free_cv_predictions(y, X, DenseOperator(K), lambdas, folds, cg_tol=1e-12,
                                              preconditioner_rank=rank, block_bytes=block_bytes)
    for a, b in zip(exact, solved):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8)
    assert info["cg_solves"] == 6 and info["cg_residual_max"] <= 1e-12
    assert info["preconditioner_rank"] == rank


def test_the_preconditioner_saves_iterations_on_a_spiked_kernel():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((300, 250)) / np.sqrt(250)
    F[:, :3] *= 30.0  # population structure: three eigenvalues far above the bulk
    K = F @ F.T + 0.05 * np.eye(300)
    X = np.ones((300, 1))
    y = F @ rng.standard_normal(250) + rng.standard_normal(300)
    folds, lambdas = make_folds(300, 4, 0), np.geomspace(0.01, 10, 5)
    runs = {rank: matrix_free_cv_predictions(y, X, DenseOperator(K), lambdas, folds, preconditioner_rank=rank)[1]
            for rank in (0, 20)}
    assert runs[20]["cg_iterations"] < 0.75 * runs[0]["cg_iterations"]  # measured: 53 against 83


@pytest.fixture(scope="module")
def ntk_split():
    data, G = simulate_lmm(n=260, p=60, seed=8)
    return data.iloc[:220], data.iloc[220:], G


@pytest.mark.filterwarnings("ignore::ntkmixed.exceptions.BoundaryWarning")
def test_krr_matrix_free_equals_exact_on_an_analytic_ntk(ntk_split, tmp_path, monkeypatch):
    train, new, G = ntk_split
    kernel = nm.NTK(depth=3, width=None)
    lambdas = np.geomspace(0.01, 100, 15)
    exact = nm.krr("y ~ sex + age", train, G.loc[train.index], kernel=kernel, cv=5, seed=2, lambdas=lambdas,
                   engine="exact")

    def no_matrix(self):
        raise AssertionError("the matrix-free engine formed the n×n kernel")

    monkeypatch.setattr(BlockKernelOperator, "dense", no_matrix)  # products and tiles only
    free = nm.krr("y ~ sex + age", train, G.loc[train.index], kernel=kernel, cv=5, seed=2, lambdas=lambdas,
                  engine="matrix-free")
    assert free.engine == "matrix-free" and exact.engine in ("eigen", "band")
    # CG to relative residual 1e-6: scores to ~1e-6 of their size
    np.testing.assert_allclose(free.cv_results.to_numpy(), exact.cv_results.to_numpy(), rtol=1e-5)
    assert free.lambda_ == exact.lambda_
    np.testing.assert_allclose(free.dual_coef, exact.dual_coef, rtol=1e-4, atol=1e-5 * np.abs(exact.dual_coef).max())
    np.testing.assert_allclose(free.predict(new, G.loc[new.index]), exact.predict(new, G.loc[new.index]), atol=1e-5)
    info = free.engine_info
    assert info["cg_tol"] == 1e-6 and 0 < info["cg_residual_max"] <= 1e-6 and info["cg_iterations"] > 0
    assert info["kernel_passes"] >= info["cg_iterations"]
    assert "Engine" in str(free.summary()) and "cg iterations" in str(free.summary())
    path = tmp_path / "free.npz"
    free.save(path)
    loaded = nm.load(path)
    assert loaded.engine == "matrix-free" and loaded.engine_info == info
    np.testing.assert_allclose(loaded.predict(new, G.loc[new.index]), free.predict(new, G.loc[new.index]))


def test_matrix_free_refuses_leave_one_out(ntk_split):
    train, _, G = ntk_split
    with pytest.raises(NtkmixedError, match="'loo' with engine='matrix-free'"):
        nm.krr("y ~ sex", train, G.loc[train.index], kernel=nm.NTK(depth=2, width=None), cv="loo",
               engine="matrix-free")
    with pytest.raises(NtkmixedError, match="'engine' parameter of krr"):
        nm.krr("y ~ sex", train, G.loc[train.index], kernel=nm.GRM(), engine="lowrank")


@pytest.mark.filterwarnings("ignore::ntkmixed.exceptions.BoundaryWarning")
def test_auto_turns_to_cg_only_when_the_exact_arrays_would_not_fit(ntk_split, monkeypatch):
    train, _, G = ntk_split
    lambdas = np.geomspace(0.01, 100, 8)

    def run(kernel):
        return nm.krr("y ~ sex", train, G.loc[train.index], kernel=kernel, cv=4, lambdas=lambdas).engine

    assert run(nm.NTK(depth=2, width=None)) in ("eigen", "band")
    n = len(train)
    monkeypatch.setattr(crossvalidate, "available_memory", lambda: 3 * 8 * n * n)  # n×n needs 2× the share
    assert run(nm.NTK(depth=2, width=None)) == "matrix-free"
    # a factor kernel of rank < 0.7 n needs only the factor, which still fits
    assert run(nm.GRM()) == "factor"
    assert crossvalidate.auto_cv_engine(FactorOperator(np.ones((n, 10))), n) == "exact"


def test_unconverged_cg_warns(ntk_split, monkeypatch):
    train, _, G = ntk_split
    original = crossvalidate.matrix_free_cv_predictions
    monkeypatch.setattr(crossvalidate, "matrix_free_cv_predictions",
                        lambda *args, **kwargs: original(*args, cg_max_iter=2, **kwargs))
    with pytest.warns(ConvergenceWarning, match="stopped before the tolerance 1e-06"):
        res = nm.krr("y ~ sex", train, G.loc[train.index], kernel=nm.NTK(depth=2, width=None), cv=3,
                     lambdas=np.geomspace(0.01, 1, 4), engine="matrix-free")
    assert res.engine_info["cg_residual_max"] > 1e-6
