"""Polynomial and Gaussian kernels against element-by-element formulas (scipy distances)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

import ntkmixed as nm
from ntkmixed.exceptions import NtkmixedError


@pytest.fixture(scope="module")
def Z() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((12, 7))


@pytest.mark.parametrize("degree, c", [(1, 0.0), (2, 1.0), (3, 0.5)])
def test_polynomial_by_hand(Z, degree, c):
    kernel = nm.Polynomial(degree=degree, c=c)
    p = Z.shape[1]
    expected = np.array([[(x @ y / p + c) ** degree for y in Z] for x in Z])
    np.testing.assert_allclose(kernel.gram(Z), expected, rtol=1e-12)
    np.testing.assert_allclose(kernel.gram(Z[:3], Z[3:]), expected[:3, 3:], rtol=1e-12)
    np.testing.assert_allclose(kernel.gram_diag(Z), np.diag(expected), rtol=1e-12)
    if degree == 1 and c == 0:
        np.testing.assert_allclose(kernel.gram(Z), nm.GRM().gram(Z), rtol=1e-12)


def test_gaussian_median_heuristic_uses_the_training_rows(Z):
    train, new = Z[:9], Z[9:] * 1.5
    kernel = nm.Gaussian()
    h_train = np.median(pdist(train))
    expected_train = np.exp(-cdist(train, train, "sqeuclidean") / (2 * h_train**2))
    np.testing.assert_allclose(kernel.gram(train), expected_train, rtol=1e-10, atol=1e-14)
    assert kernel.bandwidth_for(train) == pytest.approx(h_train, rel=1e-12)
    # cross-kernel: bandwidth from the second argument (training rows), not the new rows
    expected_cross = np.exp(-cdist(new, train, "sqeuclidean") / (2 * h_train**2))
    np.testing.assert_allclose(kernel.gram(new, train), expected_cross, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(kernel.gram_diag(new), np.ones(len(new)))
    np.testing.assert_array_equal(np.diag(kernel.gram(train)), 1.0)


def test_gaussian_fixed_bandwidth(Z):
    kernel = nm.Gaussian(bandwidth=2.5)
    expected = np.exp(-cdist(Z[:4], Z, "sqeuclidean") / (2 * 2.5**2))
    np.testing.assert_allclose(kernel.gram(Z[:4], Z), expected, rtol=1e-10, atol=1e-14)
    assert repr(kernel) == "Gaussian(bandwidth=2.5)"


def test_gaussian_degenerate_median():
    with pytest.raises(NtkmixedError, match="bandwidth"):
        nm.Gaussian().gram(np.ones((4, 3)))
    with pytest.raises(NtkmixedError, match="two reference rows"):
        nm.Gaussian().gram(np.ones((3, 3)), np.ones((1, 3)))


@pytest.mark.parametrize(
    "kernel",
    [nm.Polynomial(), nm.Polynomial(degree=3, c=0.0, name="cubic"), nm.Gaussian(), nm.Gaussian(1.0, normalize="none"),
     nm.NNGP(depth=3, normalize="unit-diag")],
)
def test_config_rebuilds_the_kernel(kernel):
    config = json.loads(json.dumps(kernel.config()))
    rebuilt = getattr(nm.kernels, config.pop("type"))(**config)
    assert rebuilt == kernel and repr(rebuilt) == repr(kernel)


def test_bad_arguments():
    with pytest.raises(NtkmixedError, match="degree"):
        nm.Polynomial(degree=0)
    with pytest.raises(NtkmixedError, match="'c'"):
        nm.Polynomial(c=-1)
    with pytest.raises(NtkmixedError, match="bandwidth"):
        nm.Gaussian(bandwidth=0)
    with pytest.raises(NtkmixedError, match="depth"):
        nm.NNGP(depth=0)
