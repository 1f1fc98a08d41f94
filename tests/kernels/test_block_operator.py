"""Kernels evaluated on the fly: products K·V and blocks K[rows, cols] from tiles equal
the dense normalised kernel, without forming it."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.kernels import _block_torch
from ntkmixed.kernels.block_operator import BlockKernelOperator

KERNELS = {
    "ntk-analytic": (lambda: nm.NTK(depth=3, width=None), "ArcCosineEvaluator"),
    "nngp-unit-diag": (lambda: nm.NNGP(depth=2, normalize="unit-diag"), "ArcCosineEvaluator"),
    "gaussian-median": (lambda: nm.Gaussian(), "GaussianEvaluator"),
    "polynomial": (lambda: nm.Polynomial(degree=3, c=0.5), "PolynomialEvaluator"),
    "ntk-empirical": (lambda: nm.NTK(depth=2, width=150, seed=3, n_init=2), "EmpiricalNTKEvaluator"),
}


@pytest.fixture(scope="module")
def data():
    return simulate_lmm(n=230, p=35, seed=2)


def _operator(kernel, data, tile=37):
    frame, G = data
    model = nm.KernelLMM.from_formula("y ~ sex", frame, G, kernel=kernel)
    operator = model.trained_kernels[0].operator
    assert isinstance(operator, BlockKernelOperator)
    operator._tile = tile  # tiles that do not divide n, to exercise the edges
    return operator


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_products_and_blocks_equal_the_dense_kernel(data, name):
    build, evaluator = KERNELS[name]
    operator = _operator(build(), data)
    assert type(operator.evaluator).__name__ == evaluator
    V = np.random.default_rng(0).standard_normal((operator.n, 4))
    streamed = operator.matmul(V)
    vector = operator.matmul(V[:, 0])
    block = operator.block(20, 140, 100, 230)
    diagonal_block = operator.block(40, 90, 40, 90)
    mean = operator.mean_entry()
    assert not operator.is_formed and operator.passes == 3
    K = operator.dense()  # the kernel's own Gram routine
    np.testing.assert_allclose(streamed, K @ V, rtol=0, atol=1e-12 * np.abs(K @ V).max())
    np.testing.assert_allclose(vector, K @ V[:, 0], rtol=0, atol=1e-12 * np.abs(K @ V).max())
    np.testing.assert_allclose(block, K[20:140, 100:230], rtol=0, atol=1e-13)
    # a person's pair with themself is exact (no √ε error from a cosine of 1 − ε)
    np.testing.assert_allclose(np.diag(diagonal_block), np.diag(K)[40:90], rtol=1e-15, atol=0)
    assert mean == pytest.approx(K.mean(), rel=1e-13)
    np.testing.assert_allclose(operator.diagonal(), np.diag(K), rtol=1e-13)


@pytest.mark.parametrize("budget_tiles", [None, 0, 5])
def test_tiles_kept_for_later_passes_give_the_same_products(data, budget_tiles):
    """The first pass keeps its tiles while the budget allows (all of them here by
    default, none at a zero budget, five of the 28 with room for five); later passes use
    them instead of evaluating the kernel, and every pass gives the same K V bit for bit."""
    operator = _operator(nm.NTK(depth=3, width=None), data)  # 7 × 7 tiles of 37 rows: 28 in the triangle
    if budget_tiles is not None:
        operator.tile_cache_room = budget_tiles * 37 * 37 * 8
    evaluated = []
    evaluate = operator.evaluator.block
    operator.evaluator.block = lambda *edges: evaluated.append(edges) or evaluate(*edges)
    V = np.random.default_rng(3).standard_normal((operator.n, 3))
    first, second = operator.matmul(V), operator.matmul(V)
    np.testing.assert_array_equal(second, first)
    kept = {None: 28, 0: 0, 5: 5}[budget_tiles]
    assert len(evaluated) == 28 + (28 - kept)
    assert operator.tile_cache_fraction == pytest.approx(kept / 28)
    K = operator.dense()
    np.testing.assert_allclose(second, K @ V, rtol=0, atol=1e-12 * np.abs(K @ V).max())


def test_a_kernel_without_a_torch_evaluator_uses_its_own_gram_block_by_block(data, monkeypatch):
    monkeypatch.setattr(_block_torch, "make_evaluator",
                        lambda kernel, Z, device="auto", dtype="float64": _block_torch.GramEvaluator(kernel, Z))
    operator = _operator(nm.NTK(depth=3, width=None), data, tile=50)
    V = np.random.default_rng(1).standard_normal((operator.n, 2))
    KV = operator.matmul(V)
    K = operator.dense()
    np.testing.assert_allclose(KV, K @ V, atol=1e-12 * np.abs(K @ V).max())


@pytest.mark.gpu
def test_cuda_products_equal_the_cpu_ones(data):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = _operator(nm.NTK(depth=3, width=None), data)
    gpu = _operator(nm.NTK(depth=3, width=None, device="cuda"), data)
    V = np.random.default_rng(0).standard_normal((cpu.n, 3))
    assert gpu.evaluator.device.type == "cuda"
    np.testing.assert_allclose(gpu.matmul(V), cpu.matmul(V), rtol=1e-10)


@pytest.mark.parametrize("name", ["ntk-analytic", "nngp-unit-diag", "ntk-empirical"])
def test_the_preconditioner_factor_is_the_nystrom_factor_on_seeded_landmarks(data, name, monkeypatch):
    monkeypatch.setattr("ntkmixed.kernels.block_operator.PRECONDITIONER_LANDMARKS", 60)
    operator = _operator(KERNELS[name][0](), data)
    L = operator.preconditioner_factor()
    assert not operator.is_formed and operator.passes == 0  # n × m entries, no full product
    K = operator.dense()
    landmarks = np.sort(np.random.default_rng(0).permutation(operator.n)[:60])
    C = K[:, landmarks]
    np.testing.assert_allclose(L @ L.T, C @ np.linalg.pinv(K[np.ix_(landmarks, landmarks)]) @ C.T, atol=1e-10)


def test_prediction_in_blocks_of_new_people_equals_one_block(data, monkeypatch):
    """K(new, train) α is computed in blocks of new people (so that predicting many people
    never holds their whole cross kernel); the blocks give the one-block answer."""
    from ntkmixed.kernels import base

    frame, G = data
    train, new = frame.iloc[:180], frame.iloc[180:]
    res = nm.fit("y ~ sex", train, G.loc[train.index], kernel=nm.NTK(depth=3, width=None), method="minque0")
    whole = res.predict(new, G.loc[new.index])
    monkeypatch.setattr(base, "CROSS_BLOCK_BYTES", 8 * len(train) * 7)  # 7 new people per block
    np.testing.assert_allclose(res.predict(new, G.loc[new.index]), whole, rtol=1e-13, atol=1e-13)
