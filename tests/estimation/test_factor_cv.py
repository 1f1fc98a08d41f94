"""Cross-validation of KRR from a kernel factor (K = F Fᵀ, or F Fᵀ + diag(d)) equals the
dense exact engines (eigen, band) for the whole λ grid, for k-fold, leave-one-out and
arbitrary splits, and a Nyström KRR equals the same KRR on its dense matrix."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.estimation.diagonal_low_rank import DiagonalPlusLowRankOperator
from ntkmixed.estimation.operators import DenseOperator, FactorOperator
from ntkmixed.estimation.ridge import cross_validate, make_folds


def _problem(n=150, m=20, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m)) / np.sqrt(m)
    d = rng.uniform(0.05, 0.6, n)
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    y = X @ [1.0, 2.0] + F @ rng.standard_normal(m) + rng.standard_normal(n)
    return y, X, F, d


@pytest.mark.parametrize("corrected", [False, True])
@pytest.mark.parametrize("split", ["5-fold", "loo", "arbitrary"])
@pytest.mark.parametrize("scoring", ["mse", "cor"])
def test_factor_cv_equals_the_dense_engines(corrected, split, scoring):
    y, X, F, d = _problem()
    operator = DiagonalPlusLowRankOperator(F, d) if corrected else FactorOperator(F)
    lambdas = np.geomspace(0.01, 20, 9)
    rng = np.random.default_rng(3)
    folds = {"5-fold": make_folds(y.size, 5, 1), "loo": None,
             "arbitrary": [(np.sort(rng.choice(150, 90, replace=False)), np.arange(140, 150)) for _ in range(2)]}[split]
    if split == "arbitrary":
        folds = [(np.setdiff1d(train, test), test) for train, test in folds]
    fast = cross_validate(y, X, operator, lambdas, folds, scoring)
    dense = cross_validate(y, X, DenseOperator(operator.dense()), lambdas, folds, scoring)
    assert fast.engine == "factor" and dense.engine in ("eigen", "band")
    np.testing.assert_allclose(fast.mean, dense.mean, rtol=1e-10, atol=1e-12)
    if fast.fold_scores is not None:
        np.testing.assert_allclose(fast.fold_scores, dense.fold_scores, rtol=1e-10, atol=1e-12)
    assert fast.best == dense.best
    np.testing.assert_allclose(fast.fit.dual_coef, dense.fit.dual_coef, atol=1e-10)
    np.testing.assert_allclose(fast.fit.beta, dense.fit.beta, atol=1e-10)


@pytest.mark.filterwarnings("ignore::ntkmixed.exceptions.BoundaryWarning")  # the diagonal correction already ridges
def test_nystrom_krr_equals_krr_on_its_dense_matrix():
    data, G = simulate_lmm(n=240, p=50, seed=5)
    train, new = data.iloc[:200], data.iloc[200:]
    kernel = nm.Nystrom(nm.NTK(depth=3, width=None), landmarks=40, seed=1)
    res = nm.krr("y ~ sex + age", train, G.loc[train.index], kernel=kernel, cv=5, seed=2, lambdas=np.geomspace(1e-5, 100, 25))
    assert res.engine == "factor"
    model = nm.KernelLMM.from_formula("y ~ sex + age", train, G.loc[train.index], kernel=kernel)
    K = model.trained_kernels[0].operator.dense()
    reference = nm.krr("y ~ sex + age", train, kernel=nm.Precomputed(K, ids=train.index), cv=5, seed=2,
                       lambdas=np.geomspace(1e-5, 100, 25))
    np.testing.assert_allclose(res.cv_results.to_numpy(), reference.cv_results.to_numpy(), rtol=1e-9, atol=1e-12)
    assert res.lambda_ == reference.lambda_
    # prediction: K̃(new, train) α̂ from the landmarks
    cross = res.trained_kernel.cross(res.design.new_samples(new.index, G.loc[new.index])[0], res.design.samples)
    expected = res.design.new_X(new).to_numpy() @ res.params.to_numpy() + cross @ res.dual_coef.to_numpy()
    np.testing.assert_allclose(res.predict(new, G.loc[new.index]), expected, atol=1e-10)
