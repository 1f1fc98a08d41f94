"""χ² mixture tails against independent references: closed forms (equal weights: a scaled
χ²; pairs of distinct weights: Σ_j w_j e^{−c/2λ_j}), and Imhof's integral of the
characteristic function evaluated by mpmath at 25 digits (so ½ − … loses nothing), for p
from ~0.5 down to 1e-12 and beyond; ACAT against its definition.

chiscore (the brief's suggested reference) does not install here: its dependency
chi2comb 0.1.0 ships an sdist without chi2comb.h. mpmath quadrature replaces it."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq

from ntkmixed.association import mixture
from ntkmixed.association.acat import acat, acat_log_p
from ntkmixed.association.scan import _chi2_1_log_sf, _f_1_log_sf


def _imhof_log_sf(c: float, lam: np.ndarray) -> float:
    """log P(Σ λ_j χ²₁ > c) = log(½ + (1/π) ∫₀^∞ sin θ(u) / (u ρ(u)) du) (Imhof 1961)."""
    with mpmath.workdps(25):
        lam_mp = [mpmath.mpf(float(v)) for v in lam]
        c_mp = mpmath.mpf(float(c))

        def integrand(u):
            theta = sum(mpmath.atan(l * u) for l in lam_mp) / 2 - c_mp * u / 2
            rho = mpmath.fprod((1 + (l * u) ** 2) ** mpmath.mpf(0.25) for l in lam_mp)
            return mpmath.sin(theta) / (u * rho)

        value = mpmath.mpf(0.5) + mpmath.quadosc(integrand, [0, mpmath.inf], omega=c_mp / 2) / mpmath.pi
        return float(mpmath.log(value))


def _pairs_log_sf(c: float, lam: np.ndarray) -> float:
    """log P(Σ λ_j χ²₂ > c) for distinct λ, exactly (partial fractions)."""
    with mpmath.workdps(50):
        total = mpmath.mpf(0)
        for j, l in enumerate(lam):
            weight = mpmath.fprod(mpmath.mpf(l) / (mpmath.mpf(l) - mpmath.mpf(o)) for i, o in enumerate(lam) if i != j)
            total += weight * mpmath.exp(-mpmath.mpf(c) / (2 * mpmath.mpf(l)))
        return float(mpmath.log(total))


LAMBDA_PAIRS = np.array([3.0, 1.5, 0.7, 0.2, 0.05])


@pytest.mark.parametrize("c", [2.0, 8.0, 25.0, 60.0, 150.0, 1500.0, 30000.0])
def test_inversion_equals_the_closed_form_for_chi2_2_pairs(c):
    expected = _pairs_log_sf(c, LAMBDA_PAIRS)
    got = mixture.tail_probability(c, np.repeat(LAMBDA_PAIRS, 2))
    assert got.method == "davies"
    # relative error of p ≈ difference of logs
    assert abs(got.log_p - expected) < 1e-8
    assert got.accuracy < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("target", [0.3, 1e-6, 1e-12])
def test_inversion_equals_imhof_quadrature_down_to_1e_minus_12(target):
    lam = np.array([2.0, 1.1, 0.6, 0.3, 0.1])  # χ²₁ terms (odd dof: no closed form); ~10 s each
    # the statistic whose p is the target (where the comparison is made; the reference is independent)
    c = brentq(lambda x: mixture.tail_probability(x, lam).log_p - math.log(target), 0.5 * lam.sum(), 400 * lam.sum())
    expected = _imhof_log_sf(c, lam)
    got = mixture.tail_probability(c, lam)
    assert math.exp(expected) < 0.5
    assert abs(got.log_p - expected) < 1e-6, (c, math.exp(expected))


def test_equal_weights_are_a_scaled_chi2():
    for c in (3.0, 40.0, 400.0):
        got = mixture.tail_probability(c, np.full(7, 2.0))
        assert got.log_p == pytest.approx(stats.chi2.logsf(c / 2.0, 7), rel=1e-12)


def test_approximations_are_close_in_the_body_and_the_saddlepoint_in_the_tail():
    lam = np.repeat(LAMBDA_PAIRS, 2)
    for c in (10.0, 40.0):
        exact = math.exp(_pairs_log_sf(c, LAMBDA_PAIRS))
        assert mixture.tail_probability(c, lam, "liu").p == pytest.approx(exact, rel=0.1)
        assert mixture.tail_probability(c, lam, "saddlepoint").p == pytest.approx(exact, rel=0.05)
    far = _pairs_log_sf(6000.0, LAMBDA_PAIRS)
    assert abs(mixture.tail_probability(6000.0, lam, "saddlepoint").log_p - far) < 0.1  # 10% relative
    assert far < math.log(1e-300)


def test_tiny_p_is_never_zero():
    got = mixture.tail_probability(1e5, np.repeat(LAMBDA_PAIRS, 2))
    assert got.p > 0 and got.log10_p < -300
    assert got.log10_p == pytest.approx(_pairs_log_sf(1e5, LAMBDA_PAIRS) / math.log(10), rel=1e-10)
    for method in ("liu", "saddlepoint"):
        assert mixture.tail_probability(1e5, np.repeat(LAMBDA_PAIRS, 2), method).p > 0


def test_weights_are_checked_and_negligible_ones_dropped():
    with pytest.raises(ValueError, match=">= 0"):
        mixture.tail_probability(1.0, np.array([1.0, -0.5]))
    base = mixture.tail_probability(5.0, np.array([1.0, 0.5]))
    padded = mixture.tail_probability(5.0, np.array([1.0, 0.5, 1e-14, 0.0]))
    assert padded.log_p == pytest.approx(base.log_p, rel=1e-9)
    assert mixture.tail_probability(0.0, np.array([1.0])).p == 1.0


def test_acat_definition_and_tiny_p_values():
    p = np.array([0.02, 0.3, 0.7])
    expected = 0.5 - math.atan(np.mean(np.tan((0.5 - p) * math.pi))) / math.pi
    assert acat(p) == pytest.approx(expected, rel=1e-12)
    assert acat([0.04]) == pytest.approx(0.04, rel=1e-12)
    # far below double precision: p ≈ 1 / (π T), T = Σ w/(π p)
    log_p = np.array([-800.0, -801.0, math.log(0.5)])
    expected_log = -math.log(sum(np.exp(-log_p[:2] - 800.0) / 3.0)) - 800.0
    assert acat_log_p(log_p) == pytest.approx(expected_log, rel=1e-9)


@pytest.mark.parametrize("stat", [4.0, 100.0, 2000.0, 20000.0])
def test_per_snp_tails_far_below_the_smallest_double(stat):
    with mpmath.workdps(40):
        chi2 = float(mpmath.log(mpmath.erfc(mpmath.sqrt(mpmath.mpf(stat) / 2))))
        nu = 200
        f = float(mpmath.log(mpmath.betainc(nu / 2, 0.5, 0, mpmath.mpf(nu) / (nu + stat), regularized=True)))
    assert _chi2_1_log_sf(np.array([stat]))[0] == pytest.approx(chi2, rel=1e-10)
    assert _f_1_log_sf(np.array([stat]), 200)[0] == pytest.approx(f, rel=1e-8)


@pytest.mark.parametrize("t", [0.02, 0.07, 0.2, 0.35, 0.6])
def test_ratio_law_equals_the_beta_distribution(t):
    """A projection of rank d in m dimensions: zᵀAz / zᵀz ~ Beta(d/2, (m − d)/2) exactly
    (weights of both signs in the inversion)."""
    m, d = 297, 20
    got = mixture.ratio_tail(t, np.ones(d), extra_zeros=m - d)
    assert got.log_p == pytest.approx(stats.beta.logsf(t, d / 2, (m - d) / 2), rel=1e-9)
    sp = mixture.ratio_tail(t, np.ones(d), extra_zeros=m - d, method="saddlepoint")
    assert abs(sp.log_p - got.log_p) < 0.1 * max(1.0, abs(got.log_p))
