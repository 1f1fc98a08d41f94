"""The empirical NTK on CUDA equals the CPU computation (same seeded weights)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ntkmixed as nm  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.fixture(scope="module")
def Z() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((300, 120))


@pytest.mark.parametrize("depth", [1, 3])
def test_cuda_float64_equals_cpu(Z, depth):
    cpu = nm.NTK(depth=depth, width=512, seed=1, device="cpu")
    gpu = nm.NTK(depth=depth, width=512, seed=1, device="cuda")
    K = cpu.gram(Z)
    np.testing.assert_allclose(gpu.gram(Z), K, rtol=1e-10, atol=1e-12 * np.abs(K).max())
    np.testing.assert_allclose(gpu.gram(Z[:50], Z[50:]), K[:50, 50:], rtol=1e-10, atol=1e-12 * np.abs(K).max())
    np.testing.assert_allclose(gpu.gram_diag(Z), np.diag(K), rtol=1e-10)


def test_cuda_float32_is_close(Z):
    K = nm.NTK(depth=3, width=512, seed=2, device="cpu").gram(Z)
    single = nm.NTK(depth=3, width=512, seed=2, device="cuda", dtype="float32").gram(Z)
    assert single.dtype == np.float64
    # TF32 matmuls, if enabled by the user, would be looser; the default is full float32
    assert np.abs(single - K).max() / np.abs(K).max() < 1e-4


def test_auto_picks_cuda(Z):
    kernel = nm.NTK(depth=2, width=64, seed=3)
    from ntkmixed.kernels._ntk_torch import resolve_device

    assert resolve_device(kernel.device).type == "cuda"
    np.testing.assert_allclose(kernel.gram(Z), nm.NTK(depth=2, width=64, seed=3, device="cpu").gram(Z), rtol=1e-10)
