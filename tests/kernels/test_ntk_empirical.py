"""The empirical NTK against J Jᵀ from per-sample parameter Jacobians of the very network
it describes, and the bookkeeping around it: blocks, panels, cross-kernels, n_init,
precision, progress, identity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev, vmap

import ntkmixed as nm
from ntkmixed.exceptions import NtkmixedError
from ntkmixed.kernels import _ntk_torch


def jacobian_ntk(kernel: nm.NTK, Z1: np.ndarray, Z2: np.ndarray | None = None, init: int = 0) -> np.ndarray:
    """Θ = J₁ J₂ᵀ with J the per-sample Jacobian of network(p)'s output w.r.t. all parameters."""
    net = kernel.network(Z1.shape[1], init=init)
    params = {name: value.detach() for name, value in net.named_parameters()}

    def output(prm, x):
        return functional_call(net, prm, (x[None],))[0]

    def jacobian(Z):
        J = vmap(jacrev(output), in_dims=(None, 0))(params, torch.as_tensor(Z))
        return torch.cat([j.reshape(len(Z), -1) for j in J.values()], dim=1)

    J1 = jacobian(Z1)
    J2 = J1 if Z2 is None else jacobian(Z2)
    return (J1 @ J2.T).numpy()


def relative_error(K: np.ndarray, R: np.ndarray) -> float:
    return float(np.abs(K - R).max() / np.abs(R).max())


@pytest.fixture(scope="module")
def Z() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((17, 13))


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("width", [5, 64, 257])
def test_equals_jacobian_gram(Z, depth, width):
    kernel = nm.NTK(depth=depth, width=width, seed=depth * 100 + width)
    reference = jacobian_ntk(kernel, Z)
    K = kernel.gram(Z)
    assert K.dtype == np.float64
    assert relative_error(K, reference) < 1e-10
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(kernel.gram_diag(Z), np.diag(reference), rtol=1e-10)


@pytest.mark.parametrize("depth", [1, 3])
def test_cross_kernel_is_block_of_stacked_kernel(Z, depth):
    kernel = nm.NTK(depth=depth, width=48, seed=5)
    new, train = Z[:6] + 0.3, Z[6:]
    stacked = kernel.gram(np.vstack([new, train]))
    cross = kernel.gram(new, train)
    assert cross.shape == (6, len(train))
    np.testing.assert_allclose(cross, stacked[:6, 6:], rtol=1e-12, atol=1e-14)
    assert relative_error(cross, jacobian_ntk(kernel, new, train)) < 1e-10


def test_block_size_does_not_change_the_matrix(Z):
    full = nm.NTK(depth=2, width=40, seed=1).gram(Z)
    for block in (1, 3, 16, 100):
        kernel = nm.NTK(depth=2, width=40, seed=1, block_size=block)
        np.testing.assert_allclose(kernel.gram(Z), full, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(kernel.gram(Z[:5], Z[5:]), full[:5, 5:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(kernel.gram_diag(Z), np.diag(full), rtol=1e-12)


def test_panels_when_features_exceed_the_memory_budget(Z, monkeypatch):
    """Rows whose features do not fit the budget are streamed past panels; same matrix."""
    kernel = nm.NTK(depth=3, width=24, seed=2, block_size=3)
    full = kernel.gram(Z)
    cross = kernel.gram(Z[:4], Z[4:])
    row_bytes = 8 * (Z.shape[1] + 2 * 3 * 24)
    monkeypatch.setattr(_ntk_torch, "FEATURE_BUDGET_BYTES", 7 * row_bytes)
    plan = _ntk_torch.make_plan(len(Z), len(Z), Z.shape[1], 24, 3, "float64", "cpu", 3)
    assert plan.panel == 7 and plan.block == 3  # panels of 7, 7 and 3 rows
    np.testing.assert_allclose(kernel.gram(Z), full, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(kernel.gram(Z[:4], Z[4:]), cross, rtol=1e-12, atol=1e-14)
    # row blocks larger than a panel
    big_block = nm.NTK(depth=3, width=24, seed=2, block_size=50)
    np.testing.assert_allclose(big_block.gram(Z), full, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(big_block.gram(Z[:4], Z[4:]), cross, rtol=1e-12, atol=1e-14)


def test_n_init_averages_seed_plus_i(Z):
    averaged = nm.NTK(depth=2, width=30, seed=4, n_init=3)
    singles = [nm.NTK(depth=2, width=30, seed=4 + i).gram(Z) for i in range(3)]
    np.testing.assert_allclose(averaged.gram(Z), np.mean(singles, axis=0), rtol=1e-12)
    np.testing.assert_allclose(averaged.gram_diag(Z), np.diag(np.mean(singles, axis=0)), rtol=1e-12)
    jacobian_mean = np.mean([jacobian_ntk(averaged, Z, init=i) for i in range(3)], axis=0)
    assert relative_error(averaged.gram(Z), jacobian_mean) < 1e-10
    with pytest.raises(NtkmixedError, match="init"):
        averaged.network(13, init=3)


def test_weights_depend_only_on_seed_and_shape(Z):
    a = nm.NTK(depth=2, width=20, seed=9).network(13)
    b = nm.NTK(depth=2, width=20, seed=9, dtype="float32", block_size=2).network(13)
    c = nm.NTK(depth=2, width=20, seed=10).network(13)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert pa.dtype == torch.float64
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    assert a(torch.as_tensor(Z)).shape == (len(Z),)


def test_float32_is_close_and_returns_float64(Z):
    exact = nm.NTK(depth=3, width=100, seed=0).gram(Z)
    single = nm.NTK(depth=3, width=100, seed=0, dtype="float32").gram(Z)
    assert single.dtype == np.float64
    assert relative_error(single, exact) < 1e-5


def test_progress_bar_forced_on_and_off(Z, capsys):
    nm.NTK(depth=1, width=8, progress=True).gram(Z)
    assert "NTK(depth=1, width=8, seed=0)" in capsys.readouterr().err
    nm.NTK(depth=1, width=8, progress=False).gram(Z)
    nm.NTK(depth=1, width=8).gram(Z)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


def test_identity_repr_and_rebuild():
    kernel = nm.NTK(depth=3, width=2000, seed=0)
    assert repr(kernel) == "NTK(depth=3, width=2000, seed=0)"
    assert repr(nm.NTK(depth=3, width=100, seed=1, n_init=4, dtype="float32", name="ntk")) == (
        "NTK(depth=3, width=100, seed=1, n_init=4, dtype='float32', name='ntk')"
    )
    assert repr(nm.NTK(depth=3, width=None)) == repr(nm.NTK(depth=3, width="inf")) == "NTK(depth=3, width='inf')"
    for k in (kernel, nm.NTK(depth=2, width="inf", normalize="unit-diag"), nm.NTK(n_init=2, dtype="float32")):
        config = json.loads(json.dumps(k.config()))
        assert config["type"] == "NTK"
        rebuilt = getattr(nm.kernels, config.pop("type"))(**config)
        assert rebuilt == k and repr(rebuilt) == repr(k)
    assert nm.NTK(depth=3, device="cpu", block_size=7) == kernel  # how, not what
    assert nm.NTK(depth=3, seed=1) != kernel


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 0}, "depth"),
        ({"width": 0}, "width"),
        ({"width": "wide"}, "width"),
        ({"seed": -1}, "seed"),
        ({"n_init": 0}, "n_init"),
        ({"width": None, "n_init": 2}, "n_init"),
        ({"dtype": "float16"}, "dtype"),
        ({"device": "tpu"}, "device"),
        ({"block_size": 0}, "block_size"),
        ({"progress": "yes"}, "progress"),
        ({"normalize": "max"}, "normalize"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(NtkmixedError, match=match):
        nm.NTK(**kwargs)


def test_bad_inputs(Z):
    kernel = nm.NTK(depth=1, width=8)
    with pytest.raises(NtkmixedError, match="same number of columns"):
        kernel.gram(Z, Z[:, :5])
    bad = Z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(NtkmixedError, match="finite"):
        kernel.gram(bad)
    with pytest.raises(NtkmixedError, match="infinite-width"):
        nm.NTK(width=None).network(13)
    if not torch.cuda.is_available():
        with pytest.raises(NtkmixedError, match="CUDA is not available"):
            nm.NTK(depth=1, width=8, device="cuda").gram(Z)
