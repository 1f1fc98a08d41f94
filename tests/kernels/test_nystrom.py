"""Nyström kernels: the exact limit (landmarks = everyone) equals the dense fit, the
approximation is the textbook C W⁺ Cᵀ, its reported trace error is the dense one, the
corrected diagonal is exact, and prediction, saving and loading replay the landmarks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.data.genotypes import standardize
from ntkmixed.estimation.diagonal_low_rank import DiagonalPlusLowRankOperator
from ntkmixed.estimation.operators import FactorOperator
from ntkmixed.exceptions import BoundaryWarning, ConvergenceWarning, NtkmixedError

FORMULA = "y ~ sex + age"
KERNELS = {
    "ntk-analytic": lambda: nm.NTK(depth=3, width=None),
    "nngp-unit-diag": lambda: nm.NNGP(depth=2, normalize="unit-diag"),
    "gaussian-median": lambda: nm.Gaussian(),
    "ntk-empirical": lambda: nm.NTK(depth=2, width=200, seed=1),
}


@pytest.fixture(scope="module")
def data():
    frame, G = simulate_lmm(n=200, p=60, h2=0.4, seed=4)
    return frame.iloc[:160], frame.iloc[160:], G


def _fit(train, G, kernel, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)
        return nm.fit(FORMULA, train, G.loc[train.index], kernel=kernel, method="reml", **options)


def _dense_kernel(kernel, train, G):
    """The normalised training kernel and the standardised genotypes, densely."""
    Z = standardize(G.loc[train.index].to_numpy(), quiet=True)[0]
    raw = kernel.gram(Z)
    diag = np.diag(raw).copy()
    if kernel.normalize == "unit-diag":
        return raw / np.sqrt(np.outer(diag, diag)), Z
    return raw / diag.mean(), Z


@pytest.mark.parametrize(("name", "diagonal"), [(name, "none") for name in sorted(KERNELS)]
                         + [("ntk-analytic", "exact"), ("ntk-empirical", "exact")])
def test_landmarks_equal_to_everyone_give_the_dense_fit(data, name, diagonal):
    train, new, G = data
    train = train.iloc[:110]
    dense = _fit(train, G, KERNELS[name]())
    assert 0.05 < dense.h2 < 0.95  # an interior fit, so the comparison means something
    approx = _fit(train, G, nm.Nystrom(KERNELS[name](), landmarks=len(train), diagonal=diagonal))
    assert approx.h2 == pytest.approx(dense.h2, abs=1e-8)
    np.testing.assert_allclose(approx.params, dense.params, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(approx.blup, dense.blup, atol=1e-8)
    np.testing.assert_allclose(approx.predict(new, G.loc[new.index]), dense.predict(new, G.loc[new.index]), atol=1e-8)
    assert abs(approx.kernels[0].training["trace_error"]) < 1e-12


@pytest.mark.parametrize("name", ["ntk-analytic", "nngp-unit-diag"])
def test_the_approximation_is_c_w_pinv_ct_with_the_dense_trace_error_and_exact_diagonal(data, name):
    train, _, G = data
    K, _ = _dense_kernel(KERNELS[name](), train, G)
    kernel = nm.Nystrom(KERNELS[name](), landmarks=25, seed=3, diagonal="exact")
    model = nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index], kernel=kernel)
    trained = model.trained_kernels[0]
    operator = trained.operator
    assert isinstance(operator, DiagonalPlusLowRankOperator)
    landmarks = train.index.get_indexer(list(trained.kernel.landmarks))
    C = K[:, landmarks]
    nystrom = C @ np.linalg.pinv(K[np.ix_(landmarks, landmarks)]) @ C.T
    np.testing.assert_allclose(operator.F @ operator.F.T, nystrom, atol=1e-10)
    # the diagonal is the dense kernel's, exactly, and the correction is what was missing
    np.testing.assert_allclose(operator.diagonal(), np.diag(K), rtol=1e-14, atol=0)
    np.testing.assert_allclose(operator.d, np.diag(K) - np.diag(nystrom), atol=1e-10)
    expected_error = 1 - np.trace(nystrom) / np.trace(K)
    assert trained.kernel.training["trace_error"] == pytest.approx(expected_error, abs=1e-12)
    assert operator.approximation["trace_error"] == trained.kernel.training["trace_error"]
    assert 0.05 < expected_error < 0.95
    # "none" drops the correction: a plain factor of the same K̃
    plain = nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index],
                                      kernel=nm.Nystrom(KERNELS[name](), landmarks=25, seed=3, diagonal="none"))
    assert isinstance(plain.trained_kernels[0].operator, FactorOperator)
    np.testing.assert_allclose(plain.trained_kernels[0].operator.dense(), nystrom, atol=1e-10)


@pytest.mark.parametrize("diagonal", ["exact", "none"])
def test_prediction_is_the_dense_formula_with_the_nystrom_cross_kernel(data, diagonal):
    train, new, G = data
    inner = nm.NTK(depth=3, width=None)
    res = _fit(train, G, nm.Nystrom(inner, landmarks=40, seed=2, diagonal=diagonal))
    Z_all = standardize(G.loc[train.index].to_numpy(), quiet=True)
    Z_train, std = Z_all
    Z_new = std.apply(G.loc[new.index].to_numpy())
    scale = np.mean(inner.gram_diag(Z_train))
    landmarks = train.index.get_indexer(list(res.kernels[0].landmarks))
    W = inner.gram(Z_train[landmarks]) / scale
    C_train, C_new = inner.gram(Z_train, Z_train[landmarks]) / scale, inner.gram(Z_new, Z_train[landmarks]) / scale
    C_train[landmarks] = W
    cross = C_new @ np.linalg.pinv(W) @ C_train.T
    sigma_g = res.variance_components.loc[res.component_names[0], "estimate"]
    X_new = res.design.new_X(new).to_numpy()
    expected = X_new @ res.params.to_numpy() + sigma_g * cross @ res.arrays.Py
    np.testing.assert_allclose(res.predict(new, G.loc[new.index]), expected, atol=1e-9)
    # the cross-kernel the results expose is the same matrix
    np.testing.assert_allclose(res.trained_kernels[0].cross(res.design.new_samples(new.index, G.loc[new.index]),
                                                            res.design.samples), cross, atol=1e-10)


def test_saved_models_replay_the_landmarks(data, tmp_path):
    train, new, G = data
    res = _fit(train, G, nm.Nystrom(nm.NTK(depth=2, width=None), landmarks=30, seed=5))
    res.save(tmp_path / "nystrom.npz")
    loaded = nm.load(tmp_path / "nystrom.npz")
    assert loaded.kernels[0] == res.kernels[0]
    assert loaded.kernels[0].training["trace_error"] == res.kernels[0].training["trace_error"]
    assert "trace error" in str(loaded.summary())
    # a loaded model recomputes the training factor from the stored genotypes
    np.testing.assert_allclose(loaded.predict(new, G.loc[new.index]), res.predict(new, G.loc[new.index]), atol=1e-12)
    kr = nm.krr(FORMULA, train, G.loc[train.index], kernel=nm.Nystrom(nm.NNGP(depth=2), landmarks=30))
    kr.save(tmp_path / "krr.npz")
    np.testing.assert_allclose(nm.load(tmp_path / "krr.npz").predict(new, G.loc[new.index]),
                               kr.predict(new, G.loc[new.index]), atol=1e-12)


def test_landmarks_are_seeded_and_nested(data):
    train, _, G = data

    def landmarks(m, seed):
        model = nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index],
                                          kernel=nm.Nystrom(nm.NNGP(depth=1), landmarks=m, seed=seed))
        return list(model.trained_kernels[0].kernel.landmarks)

    assert landmarks(20, 1) == landmarks(20, 1)
    assert landmarks(20, 1) != landmarks(20, 2)
    assert landmarks(40, 1)[:20] == landmarks(20, 1)
    chosen = train.index[[3, 17, 40, 99]]
    model = nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index],
                                      kernel=nm.Nystrom(nm.NNGP(depth=1), landmarks=list(chosen)))
    assert list(model.trained_kernels[0].kernel.landmarks) == list(chosen)
    assert model.trained_kernels[0].kernel.training["requested"] == "given IDs"


def test_auto_grows_until_the_trace_error_is_small_enough(data, monkeypatch):
    train, _, G = data
    monkeypatch.setattr("ntkmixed.kernels.nystrom.AUTO_START", 8)
    K, _ = _dense_kernel(nm.Gaussian(bandwidth=12.0), train, G)
    kernel = nm.Nystrom(nm.Gaussian(bandwidth=12.0), landmarks="auto", trace_tol=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index], kernel=kernel)
    facts = model.trained_kernels[0].kernel.training
    assert facts["trace_error"] <= 0.02
    counts = [m for m, _ in facts["history"]]
    assert counts[0] == 8 and counts == sorted(counts) and counts[-1] == facts["landmark_count"]
    errors = [e for _, e in facts["history"]]
    assert errors[-2] > 0.02 >= errors[-1]  # it stopped as soon as the tolerance was met
    np.testing.assert_allclose(model.trained_kernels[0].operator.diagonal(), np.diag(K), rtol=1e-13)
    with pytest.warns(ConvergenceWarning, match="stopped at 8 landmarks"):
        nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index],
                                  kernel=nm.Nystrom(nm.NTK(depth=3, width=None), landmarks="auto", trace_tol=1e-6,
                                                    max_landmarks=8))


def test_bad_arguments_name_themselves(data):
    train, _, G = data
    with pytest.raises(NtkmixedError, match="'landmarks' parameter of Nystrom must be an int, 'auto'"):
        nm.Nystrom(nm.NTK(), landmarks="some")
    with pytest.raises(NtkmixedError, match="repeats an ID"):
        nm.Nystrom(nm.NTK(), landmarks=["a", "a"])
    with pytest.raises(NtkmixedError, match="'diagonal' parameter of Nystrom must be one of"):
        nm.Nystrom(nm.NTK(), diagonal="approximate")
    with pytest.raises(NtkmixedError, match="'trace_tol' parameter of Nystrom must be in"):
        nm.Nystrom(nm.NTK(), landmarks="auto", trace_tol=1.5)
    with pytest.raises(NtkmixedError, match="must be a genotype kernel"):
        nm.Nystrom(nm.Precomputed(np.eye(3)))
    with pytest.raises(NtkmixedError, match="must be IDs of training people; 1 are not"):
        nm.KernelLMM.from_formula(FORMULA, train, G.loc[train.index],
                                  kernel=nm.Nystrom(nm.NNGP(), landmarks=[train.index[0], "nobody"]))
