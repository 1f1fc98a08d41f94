"""The profiled REML likelihood kept after a fit: equal to the engine's own profile, to a
low-rank form (retained eigenvectors + complement statistics), and its interval equal to a
brute-force profile of the dense REML likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from reml_bruteforce import brute_force_interval, brute_force_profile

from ntkmixed.estimation.engines import SpectralProblem
from ntkmixed.estimation.profile import Complement, ProfiledREML


def _data(n=80, rank=12, h2=0.5, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, rank)) / np.sqrt(rank)
    K = F @ F.T
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    g = F @ rng.normal(size=rank) * np.sqrt(h2)
    y = X @ [1.0, 0.3] + g + rng.normal(0, np.sqrt(1 - h2), n)
    return y, X, K, F


def test_profile_equals_the_spectral_engines_and_the_dense_likelihood():
    y, X, K, _ = _data()
    problem = SpectralProblem(y, X, K)
    profile = problem.profile_likelihood()
    for h in [0.0, 0.2, 0.5, 0.8, 0.99]:
        assert profile.loglik(h) == pytest.approx(problem.profile_reml(h)[0], rel=1e-12)
        assert profile.loglik(h) == pytest.approx(brute_force_profile(y, X, K, h), rel=1e-9)


def test_low_rank_form_with_complement_statistics_equals_the_full_profile():
    y, X, K, F = _data(rank=10)
    full = SpectralProblem(y, X, K).profile_likelihood()
    U, singular, _ = np.linalg.svd(F, full_matrices=False)
    Q = np.eye(y.size) - U @ U.T
    low_rank = ProfiledREML(singular**2, U.T @ y, U.T @ X, np.linalg.slogdet(X.T @ X)[1],
                            Complement(y.size - U.shape[1], float(y @ Q @ y), X.T @ Q @ y, X.T @ Q @ X))
    for h in [0.0, 0.3, 0.7, 0.95]:
        assert low_rank.loglik(h) == pytest.approx(full.loglik(h), rel=1e-10)
    a, b = low_rank.interval(), full.interval()
    assert (a.lower, a.upper) == (pytest.approx(b.lower, abs=1e-8), pytest.approx(b.upper, abs=1e-8))


# an interior interval, one that starts at 0 and one that ends at 1
@pytest.mark.parametrize("h2, rank, seed", [(0.5, 40, 0), (0.0, 40, 4), (0.97, 120, 1)])
def test_interval_equals_a_brute_force_profile_of_the_dense_likelihood(h2, rank, seed):
    y, X, K, _ = _data(n=60, rank=rank, h2=h2, seed=seed)
    interval = SpectralProblem(y, X, K).profile_likelihood().interval(0.95)
    lower, upper, h_hat = brute_force_interval(y, X, K)
    assert interval.h_hat == pytest.approx(h_hat, abs=1e-6)
    assert interval.lower == pytest.approx(lower, abs=1e-6)
    assert interval.upper == pytest.approx(upper, abs=1e-6)
    assert 0.0 <= interval.lower <= interval.h_hat <= interval.upper <= 1.0
    assert interval.lower_at_bound == (lower == 0.0) and interval.upper_at_bound == (upper == 1.0)


def test_an_interval_can_start_at_zero_and_widens_with_the_level():
    y, X, K, _ = _data(n=60, rank=40, h2=0.0, seed=4)
    profile = SpectralProblem(y, X, K).profile_likelihood()
    narrow, wide = profile.interval(0.5), profile.interval(0.99)
    assert wide.lower <= narrow.lower and wide.upper >= narrow.upper
    assert wide.lower == 0.0 and wide.lower_at_bound


def test_round_trip_through_plain_arrays():
    y, X, K, F = _data(rank=10)
    U, singular, _ = np.linalg.svd(F, full_matrices=False)
    Q = np.eye(y.size) - U @ U.T
    profile = ProfiledREML(singular**2, U.T @ y, U.T @ X, 1.5,
                           Complement(y.size - 10, float(y @ Q @ y), X.T @ Q @ y, X.T @ Q @ X))
    again = ProfiledREML.from_arrays(profile.to_arrays())
    assert again.loglik(0.4) == profile.loglik(0.4)
    assert ProfiledREML.from_arrays({}) is None
