"""Upper-tail probabilities of Q = Σ_j λ_j χ²_{h_j} (independent central χ², λ_j ≥ 0), the
null law of variance-component score statistics (SKAT and the kernel tests here).

Three methods, each returning the natural logarithm of the p-value as well as the value,
so that nothing below the smallest double is reported as 0:

* :func:`inversion_tail` (``"davies"``) — exact inversion of the moment-generating
  function M(s) = Π_j (1 − 2λ_j s)^{−h_j/2}, in the family of Davies (1973, 1980):

      P(Q > c) = (1/2πi) ∫_Γ M(s) e^{−sc} / s ds,

  Γ a contour from a − i∞ to a + i∞ with 0 < a < 1/(2 λ_max). Davies' algorithm (AS 155)
  integrates along the imaginary axis and forms P = ½ − Σ…, so its error is absolute
  (~1e−9 at best) and small p lose all relative accuracy. Here Γ passes through the
  saddlepoint â (K'(â) = c, K = log M) and bends into the right half plane as
  s(u) = â + iu + βu², which the integrand allows (no singularity lies between the line
  and the parabola, and e^{−sc} decays there); on Γ the integrand is smooth and decays
  like a Gaussian, so the trapezoidal rule converges geometrically and the tail
  probability comes out directly, relative to exp(K(â) − âc). The accuracy reported is
  estimated from the last step halving (see :func:`inversion_tail`), relative to p. For
  c below the mean (â < 0) the same integral gives P(Q > c) − 1.
* :func:`liu_tail` (``"liu"``) — Liu, Tang & Zhang (2009): a (non-central) χ² with the
  same skewness, matched on the first four cumulants (SKAT's fallback).
* :func:`saddlepoint_tail` (``"saddlepoint"``) — Lugannani–Rice with Daniels' saddlepoint
  (Kuonen 1999; as SPAtest), evaluated in log space.

Eigenvalues below ``1e-10 · max λ`` are dropped (they cannot move the tail), as SKAT does
with a relative threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

#: relative accuracy the inversion aims for
TARGET_ACCURACY = 1e-10
#: smallest p reported as a number; below it ``p`` is this and ``log10_p`` carries the value
P_FLOOR = float(np.finfo(float).tiny)
_LOG_P_FLOOR = math.log(P_FLOOR)
_NEGLIGIBLE = 1e-10


@dataclass(frozen=True)
class TailProbability:
    """P(Q > c) with how it was obtained."""

    log_p: float
    method: str  # "davies", "liu" or "saddlepoint"
    #: estimated relative error of ``p`` (NaN for the approximations)
    accuracy: float = float("nan")
    #: why a requested method was replaced, or other facts worth reporting ("" if none)
    note: str = ""

    @property
    def p(self) -> float:
        """The p-value, never 0: values below the smallest normal double are reported as
        that double (see :attr:`log10_p`)."""
        return P_FLOOR if self.log_p < _LOG_P_FLOOR else min(1.0, math.exp(self.log_p))

    @property
    def log10_p(self) -> float:
        return min(0.0, self.log_p / math.log(10.0))


def mixture_weights(eigenvalues: np.ndarray, dof: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(λ, h)``: non-negligible eigenvalues and their degrees of freedom. Negative values
    beyond round-off are an error (the statistic's matrix must be positive semi-definite)."""
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    h = np.ones_like(lam) if dof is None else np.asarray(dof, dtype=np.float64).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError(f"mixture weights must be a non-empty finite vector; got {lam!r}")
    top = float(np.max(np.abs(lam)))
    if top == 0.0:
        raise ValueError("every mixture weight is zero: the statistic is identically 0")
    if lam.min() < -1e-8 * top:
        raise ValueError(f"mixture weights must be >= 0 (a PSD matrix's eigenvalues); smallest is {lam.min():.3g}")
    keep = lam > _NEGLIGIBLE * top
    return lam[keep], h[keep]


def tail_probability(q: float, eigenvalues: np.ndarray, method: str = "davies", dof: np.ndarray | None = None) -> TailProbability:
    """P(Σ λ_j χ²_{h_j} > q) by ``method`` ("davies", "liu", "saddlepoint"). The exact
    inversion falls back to the saddlepoint approximation (with a note) if it cannot reach
    its accuracy; a single distinct weight is the exact scaled χ²."""
    lam, h = mixture_weights(eigenvalues, dof)
    q = float(q)
    if not math.isfinite(q):
        raise ValueError(f"the statistic must be finite; got {q!r}")
    if q <= 0.0:
        return TailProbability(0.0, method, 0.0 if method == "davies" else float("nan"))
    if method == "liu":
        return liu_tail(q, lam, h)
    if method == "saddlepoint":
        return saddlepoint_tail(q, lam, h)
    if method != "davies":
        raise ValueError(f"method must be 'davies', 'liu' or 'saddlepoint'; got {method!r}")
    if np.ptp(lam) <= 1e-12 * lam.max():  # one distinct weight: λ χ²_{Σh}, exactly
        return TailProbability(_chi2_log_sf(q / lam.max(), float(h.sum())), "davies", 1e-14)
    result = inversion_tail(q, lam, h)
    if result is None:
        fallback = saddlepoint_tail(q, lam, h)
        return TailProbability(fallback.log_p, "saddlepoint", float("nan"),
                               "exact inversion did not reach its accuracy; saddlepoint approximation used")
    return result


def ratio_tail(t: float, eigenvalues: np.ndarray, extra_zeros: int = 0, method: str = "davies") -> TailProbability:
    """P(zᵀAz / zᵀz > t) for z ~ N(0, I_m) and A with ``eigenvalues`` (plus ``extra_zeros``
    zero eigenvalues): P(Σ_j (μ_j − t) χ²₁ > 0), weights of both signs. Exact in finite
    samples: the scale of z is not plugged in. ``method``: "davies" (exact inversion; the
    saddlepoint, with a note, if it fails) or "saddlepoint"."""
    mu = np.asarray(eigenvalues, dtype=np.float64).ravel()
    lam = np.concatenate([mu - t, [-t]]) if extra_zeros else mu - t
    h = np.concatenate([np.ones(mu.size), [float(extra_zeros)]]) if extra_zeros else np.ones(mu.size)
    top = float(np.max(np.abs(lam)))
    keep = np.abs(lam) > 1e-13 * top
    lam, h = lam[keep], h[keep]
    if lam.max() <= 0:  # t at or above the largest eigenvalue: impossible under H0
        return TailProbability(-math.inf, method, 0.0)
    if lam.min() >= 0:
        return TailProbability(0.0, method, 0.0)
    if method == "davies":
        result = inversion_tail(0.0, lam, h)
        if result is not None:
            return result
        fallback = saddlepoint_tail(0.0, lam, h)
        return TailProbability(fallback.log_p, "saddlepoint", float("nan"),
                               "exact inversion did not reach its accuracy; saddlepoint approximation used")
    if method == "saddlepoint":
        return saddlepoint_tail(0.0, lam, h)
    raise ValueError(f"method must be 'davies' or 'saddlepoint' for a ratio statistic; got {method!r}")


# --- cumulant generating function ----------------------------------------------------
def _cgf(s: np.ndarray | complex, lam: np.ndarray, h: np.ndarray):
    """K(s) = −½ Σ h log(1 − 2λ s) (principal branch: the contour never crosses a cut)."""
    return -0.5 * np.sum(h * np.log(1.0 - 2.0 * np.multiply.outer(s, lam)), axis=-1)


def _saddlepoint(q: float, lam: np.ndarray, h: np.ndarray) -> float:
    """â with K'(â) = q, on (1/(2 λ_min), 1/(2 λ_max)) (the lower end −∞ when every λ > 0).
    With positive weights it is solved in t = 1 − 2 λ_max s > 0, where the terms
    1 − 2λ_j s = 1 − r_j + r_j t (r = λ/λ_max) lose no digits near the pole."""
    top = lam.max()
    if lam.min() < 0:  # both signs (ratio statistics): a bounded root in s
        lo, hi = 1.0 / (2.0 * lam.min()), 1.0 / (2.0 * top)
        span = hi - lo

        def slope(s: float) -> float:
            return float(np.sum(h * lam / (1.0 - 2.0 * lam * s))) - q

        return optimize.brentq(slope, lo + 1e-14 * span, hi - 1e-14 * span, xtol=1e-16 * span, rtol=1e-15, maxiter=500)
    r = lam / top

    def excess(log_t: float) -> float:
        t = math.exp(log_t)
        return float(np.sum(h * lam / (1.0 - r + r * t))) - q

    lo, hi = -1.0, 1.0
    while excess(lo) < 0:  # t small: K' large
        lo *= 2.0
    while excess(hi) > 0:
        hi *= 2.0
    log_t = optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    return (1.0 - math.exp(log_t)) / (2.0 * top)


def _cgf_derivatives(s: float, lam: np.ndarray, h: np.ndarray) -> tuple[float, float, float]:
    one_minus = 1.0 - 2.0 * lam * s
    K = -0.5 * float(np.sum(h * np.log(one_minus)))
    K1 = float(np.sum(h * lam / one_minus))
    K2 = float(np.sum(2.0 * h * lam**2 / one_minus**2))
    return K, K1, K2


# --- exact inversion -------------------------------------------------------------------
def inversion_tail(q: float, lam: np.ndarray, h: np.ndarray, target: float = TARGET_ACCURACY,
                   max_points: int = 20_000) -> TailProbability | None:
    """The exact inversion described in the module docstring, or None when step halvings
    (up to ``max_points`` evaluations) cannot bring the estimated relative error under
    ``target``.

    The trapezoidal rule on an analytic integrand converges geometrically: halving the
    step squares the relative error. So the change between steps h and h/2 bounds the
    error at h, and the error at h/2 is about its square; the result is accepted when
    that estimate (floored at round-off) is below ``target`` and reported as ``accuracy``."""
    top = lam.max()
    s_max = 1.0 / (2.0 * top)
    a = _saddlepoint(q, lam, h)
    # near the mean the saddle approaches the pole of 1/s at 0: keep the contour at least
    # one natural width away (any a in (0, s_max) is exact; the result is P(Q > c) − 1 for a < 0)
    w0 = 1.0 / math.sqrt(float(np.sum(2.0 * h * lam**2)))
    if abs(a) < w0:
        a = min(w0, 0.5 * s_max) if a >= 0 else -w0
    K, _, K2 = _cgf_derivatives(a, lam, h)
    width = 1.0 / math.sqrt(K2)  # the integrand's scale along the contour, near u = 0
    # beyond ~width the parabola adds ~e^{−u²/(2 width²)} decay (through e^{−sq}; for q = 0,
    # a ratio statistic, the scale of Q stands in for q)
    beta = 0.5 / (max(q, float(np.sum(h * np.abs(lam)))) * width**2)
    log_scale = K - a * q

    def integrand(u: np.ndarray) -> np.ndarray:
        s = a + beta * u**2 + 1j * u
        value = np.exp(_cgf(s, lam, h) - s * q - log_scale) * (1j + 2.0 * beta * u) / s
        return value.imag / math.pi

    # the span: where the integrand has fallen below 1e-18 of its value at 0
    peak = abs(integrand(np.zeros(1))[0])
    span = width
    while abs(integrand(np.array([span]))[0]) > 1e-18 * peak and span < 1e4 * width:
        span *= 1.5
    step = width / 2.0
    u = np.arange(0, span + step, step)
    values = integrand(u)
    total = step * (values.sum() - 0.5 * values[0])
    while True:
        if u.size > max_points:
            return None
        midpoints = u + step / 2.0
        mid_values = integrand(midpoints)
        refined = 0.5 * total + (step / 2.0) * mid_values.sum()
        change = abs(refined - total) / max(abs(refined), 1e-300)
        u = np.sort(np.concatenate([u, midpoints]))
        total, step = refined, step / 2.0
        error = max(change**2, 1e-15)
        if change < 1.0 and error <= target:
            break
    if a > 0:
        if total <= 0:
            return None
        log_p = log_scale + math.log(total)
    else:  # the integral is P(Q > c) − 1
        lower = -total * math.exp(log_scale)
        if not 0.0 <= lower < 1.0:
            return None
        log_p = math.log1p(-lower)
        error = max(error * lower / max(1.0 - lower, 1e-300), 1e-15)
    return TailProbability(min(log_p, 0.0), "davies", error)


# --- Liu, Tang & Zhang (2009) ---------------------------------------------------------
def liu_tail(q: float, lam: np.ndarray, h: np.ndarray) -> TailProbability:
    """Liu–Tang–Zhang moment matching: (Q − μ_Q)/σ_Q ≈ (χ²_l(δ) − μ_χ)/σ_χ with l and δ
    chosen to match the skewness (and, where possible, the kurtosis)."""
    c = [float(np.sum(h * lam**k)) for k in (1, 2, 3, 4)]
    s1, s2 = c[2] / c[1] ** 1.5, c[3] / c[1] ** 2
    if s1**2 > s2:
        a = 1.0 / (s1 - math.sqrt(s1**2 - s2))
        delta = s1 * a**3 - a**2
        dof = a**2 - 2.0 * delta
    else:
        a = 1.0 / s1
        delta = 0.0
        dof = 1.0 / s1**2
    mu_x, sigma_x = dof + delta, math.sqrt(2.0) * a
    x = (q - c[0]) / math.sqrt(2.0 * c[1]) * sigma_x + mu_x
    if delta == 0.0:
        log_p = _chi2_log_sf(x, dof)
    else:
        sf = float(stats.ncx2.sf(x, dof, delta))
        # far in the tail the non-central χ² behaves like a central one shifted by δ
        log_p = math.log(sf) if sf > 1e-300 else _chi2_log_sf(max(x - delta, 0.0), dof)
    return TailProbability(min(log_p, 0.0), "liu")


# --- saddlepoint (Lugannani–Rice) -------------------------------------------------------
def saddlepoint_tail(q: float, lam: np.ndarray, h: np.ndarray) -> TailProbability:
    """Lugannani–Rice: p ≈ 1 − Φ(w) + φ(w)(1/v − 1/w), w = sgn(â)√(2(âq − K(â))),
    v = â√K''(â), in log space through the Mills ratio."""
    a = _saddlepoint(q, lam, h)
    K, _, K2 = _cgf_derivatives(a, lam, h)
    w_squared = max(2.0 * (a * q - K), 0.0)
    w = math.copysign(math.sqrt(w_squared), a)
    v = a * math.sqrt(K2)
    if abs(w) < 1e-4 or abs(v) < 1e-4:  # at the mean the formula is 0/0: its limit
        c2 = float(np.sum(2.0 * h * lam**2))
        c3 = float(np.sum(8.0 * h * lam**3))
        return TailProbability(math.log(0.5 - c3 / (6.0 * math.sqrt(2.0 * math.pi) * c2**1.5)), "saddlepoint")
    if w > 0:
        mills = special.erfcx(w / math.sqrt(2.0)) * math.sqrt(math.pi / 2.0)  # (1 − Φ(w)) / φ(w)
        bracket = mills + 1.0 / v - 1.0 / w
        if bracket <= 0:
            return TailProbability(float(special.log_ndtr(-w)), "saddlepoint")
        log_p = -0.5 * w_squared - 0.5 * math.log(2.0 * math.pi) + math.log(bracket)
    else:
        p = float(special.ndtr(-w) + math.exp(-0.5 * w_squared) / math.sqrt(2 * math.pi) * (1.0 / v - 1.0 / w))
        log_p = math.log(min(max(p, 1e-300), 1.0))
    return TailProbability(min(log_p, 0.0), "saddlepoint")


# --- helpers ------------------------------------------------------------------------------
def _chi2_log_sf(x: float, dof: float) -> float:
    """log P(χ²_dof > x), accurate far into the tail (where the sf underflows)."""
    if x <= 0:
        return 0.0
    sf = float(special.gammaincc(dof / 2.0, x / 2.0))
    if sf > 1e-300:
        return math.log(sf)
    # Γ(a, z) ≈ z^{a−1} e^{−z} Σ_k (a−1)…(a−k)/z^k (asymptotic; z ≫ a here)
    a, z = dof / 2.0, x / 2.0
    series, term = 1.0, 1.0
    for k in range(1, 30):
        term *= (a - k) / z
        if abs(term) < 1e-17:
            break
        series += term
    return (a - 1.0) * math.log(z) - z - special.gammaln(a) + math.log(series)
