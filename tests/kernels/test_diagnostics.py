"""ntkmixed.kernels.diagnose: closed forms, a brute-force compression onto 1⊥, and the same
numbers from every route an operator offers (dense, cached eigendecomposition, factor,
products only)."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm
from ntkmixed.estimation.operators import DenseOperator, FactorOperator, KernelOperator
from ntkmixed.exceptions import NtkmixedError


class ProductsOnly(KernelOperator):
    """A kernel that offers only products and its diagonal (as a matrix-free engine's would)."""

    def __init__(self, matrix):
        super().__init__(matrix.shape[0])
        self._matrix = matrix

    def matmul(self, V):
        return self._matrix @ V

    def diagonal(self):
        return np.diag(self._matrix).copy()


def _brute_force(K):
    """Every diagnostic from its definition, with an explicit orthonormal basis Q of 1⊥."""
    n = K.shape[0]
    Q = np.linalg.qr(np.column_stack([np.ones(n), np.eye(n)[:, : n - 1]]))[0][:, 1:]
    compressed = Q.T @ K @ Q  # K_c on 1⊥
    P = np.eye(n) - 1.0 / n
    Kc = P @ K @ P
    off = K[~np.eye(n, dtype=bool)]
    return {
        "mean_diagonal": np.mean(np.diag(K)),
        "mean_off_diagonal": off.mean(),
        "constant_share": K.mean() / np.mean(np.diag(K)),
        # expected sample variance (divisor n − 1) of g ~ N(0, K): E gᵀPg/(n − 1) = tr(PK)/(n − 1)
        "sample_variance_factor": np.trace(P @ K) / (n - 1),
        "effective_rank": np.trace(Kc) ** 2 / np.sum(Kc**2),
        "nugget_share": max(np.linalg.eigvalsh(compressed)[0], 0.0) * (n - 1) / np.trace(Kc),
    }


def _random_kernel(n=40, p=25, seed=0, nugget=0.3, constant=0.4):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, p))
    return A @ A.T / p + nugget * np.eye(n) + constant


def _check(diagnostics, expected, nugget_atol=1e-9):
    for name, value in expected.items():
        atol = nugget_atol if name == "nugget_share" else 1e-10
        assert getattr(diagnostics, name) == pytest.approx(value, rel=1e-9, abs=atol), name


def test_identity_plus_constant_has_closed_form_diagnostics():
    n, a, b = 30, 0.7, 0.3
    d = nm.kernels.diagnose(a * np.eye(n) + b)
    assert (d.mean_diagonal, d.mean_off_diagonal) == (pytest.approx(a + b), pytest.approx(b))
    assert d.constant_share == pytest.approx((a / n + b) / (a + b))  # mean(K) / mean(diag K)
    assert d.sample_variance_factor == pytest.approx(a)  # the constant b is absorbed
    assert d.effective_rank == pytest.approx(n - 1)
    assert d.nugget_share == pytest.approx(1.0)  # all of the centred kernel is an identity


def test_dense_diagnostics_equal_their_definitions():
    K = _random_kernel()
    _check(nm.kernels.diagnose(K), _brute_force(K))
    assert nm.kernels.sample_variance_factor(K) == pytest.approx(_brute_force(K)["sample_variance_factor"])


def test_every_operator_route_gives_the_same_numbers():
    K = _random_kernel(seed=3)
    expected = _brute_force(K)
    cached = DenseOperator(K)
    cached.spectrum()  # a one-kernel fit has decomposed K: the secular equation reuses it
    from_spectrum = nm.kernels.diagnose(cached)
    assert from_spectrum.nugget_method == "exact (secular equation)"
    _check(from_spectrum, expected)
    products = nm.kernels.diagnose(ProductsOnly(K))
    assert products.nugget_method == "lanczos"
    # Lanczos stops when its residual is below 1e-6 of the trace; the Frobenius norm of a
    # products-only kernel is Hutchinson's estimate (64 probes)
    _check(products, {k: v for k, v in expected.items() if k not in ("effective_rank", "nugget_share")})
    assert products.nugget_share == pytest.approx(expected["nugget_share"], abs=1e-5)
    assert products.effective_rank == pytest.approx(expected["effective_rank"], rel=0.15)


def test_rank_deficient_kernels_have_no_nugget_by_every_route():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(30, 8))
    K = F @ F.T / 8 + 0.2
    expected = _brute_force(K)
    assert expected["nugget_share"] == pytest.approx(0.0, abs=1e-12)
    factor = nm.kernels.diagnose(FactorOperator(np.column_stack([F / np.sqrt(8), np.full(30, np.sqrt(0.2))])))
    assert factor.nugget_method.startswith("exact (rank")
    _check(factor, expected)
    cached = DenseOperator(K)
    cached.spectrum()
    _check(nm.kernels.diagnose(cached), expected, nugget_atol=1e-12)
    assert nm.kernels.diagnose(ProductsOnly(K)).nugget_share == pytest.approx(0.0, abs=1e-5)


def test_a_duplicated_person_removes_the_nugget():
    K = _random_kernel(n=20)
    K[:, 1] = K[:, 0]
    K[1, :] = K[0, :]  # person 1 is a copy of person 0
    for route in (K, DenseOperator(K)):
        if isinstance(route, DenseOperator):
            route.spectrum()
        assert nm.kernels.diagnose(route).nugget_share == pytest.approx(0.0, abs=1e-10)
    assert _brute_force(_random_kernel(n=20))["nugget_share"] > 0.1


def test_gower_centred_kernel_has_sample_variance_factor_one():
    K = _random_kernel()
    n = K.shape[0]
    P = np.eye(n) - 1.0 / n
    gower = (n - 1) * P @ K @ P / np.trace(P @ K @ P)
    d = nm.kernels.diagnose(gower)
    assert d.sample_variance_factor == pytest.approx(1.0, abs=1e-12)
    assert d.constant_share == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("bad, message", [
    (np.ones((3, 2)), "square matrix"), (np.ones((1, 1)), "at least 2 rows"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "finite"),
])
def test_bad_input_is_named(bad, message):
    with pytest.raises(NtkmixedError, match=message):
        nm.kernels.diagnose(bad)


def test_a_streamed_factor_is_never_formed():
    """The matrix-free engine's genotype factor is produced block by block; diagnostics
    use its width and products only."""
    from ntkmixed.estimation.block_factor import BlockFactorOperator

    rng = np.random.default_rng(2)
    F = rng.normal(size=(40, 12)) / np.sqrt(12)
    operator = BlockFactorOperator(40, 12, lambda a, b: F[:, a:b], lambda m, block_bytes=None: [(0, 6), (6, 12)],
                                   np.einsum("ij,ij->i", F, F))
    d = nm.kernels.diagnose(operator)
    assert operator._materialised is None  # F was never formed
    expected = _brute_force(F @ F.T)
    assert d.nugget_share == 0.0 and d.nugget_method.startswith("exact (rank")
    _check(d, {k: v for k, v in expected.items() if k not in ("effective_rank", "nugget_share")})
    assert d.effective_rank == pytest.approx(expected["effective_rank"], rel=0.15)
