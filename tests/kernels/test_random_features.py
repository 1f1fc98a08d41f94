"""Random features for the analytic NTK and NNGP: they converge to the kernel (error
∝ 1/√D), the fit uses exactly their factor, prediction is their own cross-kernel, and
saved models replay the seeded weights."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.estimation.operators import FactorOperator
from ntkmixed.exceptions import NtkmixedError


@pytest.mark.parametrize("kernel", [nm.NTK(depth=3, width=None), nm.NNGP(depth=2)], ids=repr)
def test_features_converge_to_the_kernel(kernel):
    Z = np.random.default_rng(0).standard_normal((120, 40))
    K = kernel.gram(Z)
    errors = [np.linalg.norm(nm.RandomFeatures(kernel, features=D, seed=1).gram(Z) - K) / np.linalg.norm(K)
              for D in (250, 8000)]
    assert errors[1] < errors[0] / 3  # 32× the features: about 5.7× less error (Monte Carlo, 1/√D)


def test_fit_and_prediction_use_the_factor_and_its_cross_kernel(tmp_path):
    data, G = simulate_lmm(n=200, p=40, h2=0.4, seed=4)
    train, new = data.iloc[:160], data.iloc[160:]
    kernel = nm.RandomFeatures(nm.NTK(depth=2, width=None), features=300, seed=7)
    model = nm.KernelLMM.from_formula("y ~ sex + age", train, G.loc[train.index], kernel=kernel)
    operator = model.trained_kernels[0].operator
    assert isinstance(operator, FactorOperator) and operator.F.shape == (160, 300)
    Z_train, std = nm.standardize(G.loc[train.index].to_numpy(), quiet=True)
    Z_new = std.apply(G.loc[new.index].to_numpy())
    scale = np.mean(nm.NTK(depth=2, width=None).gram_diag(Z_train))  # exact mean diagonal
    F_train, F_new = kernel.feature_map(Z_train) / np.sqrt(scale), kernel.feature_map(Z_new) / np.sqrt(scale)
    np.testing.assert_allclose(operator.F, F_train, atol=1e-12)
    res = model.fit(method="reml")
    sigma_g = res.variance_components.iloc[0, 0]
    expected = res.design.new_X(new).to_numpy() @ res.params.to_numpy() + sigma_g * F_new @ (F_train.T @ res.arrays.Py)
    np.testing.assert_allclose(res.predict(new, G.loc[new.index]), expected, atol=1e-10)
    res.save(tmp_path / "rf.npz")
    np.testing.assert_allclose(nm.load(tmp_path / "rf.npz").predict(new, G.loc[new.index]), expected, atol=1e-10)


def test_only_infinite_width_kernels_are_accepted():
    with pytest.raises(NtkmixedError, match="must be an infinite-width kernel"):
        nm.RandomFeatures(nm.NTK(depth=2, width=100))
    with pytest.raises(NtkmixedError, match="'features' parameter of RandomFeatures"):
        nm.RandomFeatures(nm.NNGP(), features=0)
