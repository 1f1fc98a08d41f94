"""The infinite-width NTK and NNGP against an independently written recursion (Gaussian
expectations by numerical quadrature, no arc-cosine formulas), against neural-tangents
when it is installed, and as the limit of the empirical NTK."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import ntkmixed as nm
from ntkmixed.kernels.analytic import arccos_kernels


_QUAD = dict(epsabs=1e-13, epsrel=1e-12, limit=200)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _relu_expectations(a: float, b: float, c: float) -> tuple[float, float]:
    """(E[relu(u) relu(v)], E[relu'(u) relu'(v)]) for (u, v) ~ N(0, [[a, c], [c, b]]).

    Write u = √a·z₁, v = m(z₁) + s·z₂ with m = c z₁/√a, s² = b − c²/a; the inner
    expectation over z₂ is closed-form (E[relu(m + sZ)] = mΦ(m/s) + sφ(m/s)), the outer
    one over z₁ > 0 is a 1-D integral done by scipy.integrate.quad.
    """
    root_a = math.sqrt(a)
    s = math.sqrt(max(b - c * c / a, 0.0))

    def inner_relu(m: float) -> float:
        if s < 1e-12:
            return max(m, 0.0)
        return m * _Phi(m / s) + s * _phi(m / s)

    def inner_step(m: float) -> float:
        if s < 1e-12:
            return float(m > 0)
        return _Phi(m / s)

    both, _ = integrate.quad(lambda z: root_a * z * inner_relu(c * z / root_a) * _phi(z), 0, np.inf, **_QUAD)
    steps, _ = integrate.quad(lambda z: inner_step(c * z / root_a) * _phi(z), 0, np.inf, **_QUAD)
    return both, steps


def _relu_square(a: float) -> float:
    """E[relu(u)²] for u ~ N(0, a), by quadrature."""
    return integrate.quad(lambda z: a * z * z * _phi(z), 0, np.inf, **_QUAD)[0]


def _quadrature_kernels(Z1: np.ndarray, Z2: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) by the recursion Σˡ = 2E[relu relu], Σ̇ˡ = 2E[relu' relu'],
    Θˡ = Θˡ⁻¹Σ̇ˡ + Σˡ, with each expectation integrated numerically."""
    p = Z1.shape[1]
    nngp = np.empty((len(Z1), len(Z2)))
    ntk = np.empty_like(nngp)
    for i, x in enumerate(Z1):
        for j, y in enumerate(Z2):
            a, b, c = x @ x / p, y @ y / p, x @ y / p
            theta = c
            for _ in range(depth):
                both, steps = _relu_expectations(a, b, c)
                theta = theta * 2 * steps + 2 * both
                a, b, c = 2 * _relu_square(a), 2 * _relu_square(b), 2 * both
            nngp[i, j], ntk[i, j] = c, theta
    return nngp, ntk


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((6, 9))
    Z[1] = Z[0] + 0.01 * rng.standard_normal(9)  # nearly identical people
    Z[2] = -0.8 * Z[3] + 0.2 * rng.standard_normal(9)  # strongly anti-correlated
    Z[4] *= 3.0  # a long row
    return Z


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_recursion_matches_quadrature(points, depth):
    Z_new = points[:2] * 0.5 + 0.1
    for Z2 in (points, Z_new):
        nngp_q, ntk_q = _quadrature_kernels(points, Z2, depth)
        same = Z2 is points
        nngp = nm.NNGP(depth=depth).gram(points, None if same else Z2)
        ntk = nm.NTK(depth=depth, width=None).gram(points, None if same else Z2)
        np.testing.assert_allclose(nngp, nngp_q, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ntk, ntk_q, rtol=1e-8, atol=1e-10)


def test_diagonal_identities_and_blocks(points):
    depth = 3
    sq = np.einsum("ij,ij->i", points, points) / points.shape[1]
    ntk = nm.NTK(depth=depth, width="inf")
    K = ntk.gram(points)
    np.testing.assert_allclose(np.diag(K), (depth + 1) * sq, rtol=1e-13)
    np.testing.assert_allclose(ntk.gram_diag(points), np.diag(K), rtol=1e-13)
    np.testing.assert_allclose(nm.NNGP(depth).gram_diag(points), np.diag(nm.NNGP(depth).gram(points)), rtol=1e-13)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(ntk.gram(points[:2], points[2:]), K[:2, 2:], rtol=1e-12)
    assert np.linalg.eigvalsh(K)[0] > -1e-10 * np.abs(K).max()


def test_zero_row_gives_zero_kernel_row():
    Z = np.vstack([np.zeros(5), np.arange(5.0), np.ones(5)])
    for K in (nm.NTK(depth=2, width=None).gram(Z), nm.NNGP(depth=2).gram(Z)):
        assert np.isfinite(K).all()
        np.testing.assert_array_equal(K[0], 0.0)


def test_depth_one_closed_form(points):
    """One hidden layer by hand: Θ = Σ⁰Σ̇¹ + Σ¹ with the arc-cosine formulas of degree 0, 1."""
    x, y = points[0], points[3]
    p = points.shape[1]
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    angle = math.acos(x @ y / (nx * ny))
    sigma1 = nx * ny / p * (math.sin(angle) + (math.pi - angle) * math.cos(angle)) / math.pi
    expected = x @ y / p * (math.pi - angle) / math.pi + sigma1
    nngp, ntk = arccos_kernels(points[[0]], points[[3]], 1)
    assert ntk[0, 0] == pytest.approx(expected, rel=1e-12)
    assert nngp[0, 0] == pytest.approx(sigma1, rel=1e-12)


def test_against_neural_tangents_when_installed(points):
    stax = pytest.importorskip("neural_tangents.stax")
    depth = 3
    layers = [stax.Dense(512, W_std=1.0, b_std=None), stax.Relu()]
    for _ in range(depth - 1):
        layers += [stax.Dense(512, W_std=math.sqrt(2.0), b_std=None), stax.Relu()]
    layers += [stax.Dense(1, W_std=math.sqrt(2.0), b_std=None)]
    _, _, kernel_fn = stax.serial(*layers)
    reference = kernel_fn(points, points, ("nngp", "ntk"))
    np.testing.assert_allclose(nm.NNGP(depth).gram(points), np.asarray(reference.nngp), rtol=1e-5)
    np.testing.assert_allclose(nm.NTK(depth, width=None).gram(points), np.asarray(reference.ntk), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, 3])
def test_empirical_ntk_converges_at_rate_one_over_sqrt_width(depth):
    rng = np.random.default_rng(11)
    Z = rng.standard_normal((30, 60))
    exact = nm.NTK(depth=depth, width=None).gram(Z)
    widths = [256, 1024, 4096]
    errors = []
    for width in widths:
        runs = [nm.NTK(depth=depth, width=width, seed=seed).gram(Z) for seed in range(3)]
        errors.append(np.mean([np.linalg.norm(K - exact) / np.linalg.norm(exact) for K in runs]))
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    print(f"depth {depth}: relative Frobenius errors {dict(zip(widths, np.round(errors, 4)))}, slope {slope:.2f}")
    assert -0.75 < slope < -0.3
    assert errors[-1] < 0.10
