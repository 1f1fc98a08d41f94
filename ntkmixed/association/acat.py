"""The Cauchy combination test (ACAT; Liu & Xie 2020, JASA 115:393; Liu et al. 2019, AJHG
104:410): several p-values of one hypothesis, however correlated, combined as

    T = Σ_i w_i tan((½ − p_i) π),   p = ½ − arctan(T / Σ w) / π,

whose tail is (approximately, exactly under independence) standard Cauchy. Worked in log
space, so p-values below the smallest double combine correctly: for tiny p_i,
tan((½ − p_i)π) = 1/(π p_i) to double precision, and for large T, p = Σw / (π T).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp


def acat_log_p(log_p: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Natural log of the ACAT p-value of p-values given by their logs (weights default
    to equal; they are normalised to sum to 1)."""
    log_p = np.asarray(log_p, dtype=np.float64).ravel()
    if log_p.size == 0:
        raise ValueError("ACAT needs at least one p-value")
    w = np.full(log_p.size, 1.0 / log_p.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != log_p.shape or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("ACAT weights must be non-negative, one per p-value, not all zero")
    w = w / w.sum()
    if np.any(np.isnan(log_p)):
        return float("nan")
    tiny = log_p < math.log(1e-15)
    if tiny.any():
        # T/Σw ≥ Σ_tiny w_i / (π p_i) is huge, so p ≈ 1 / (π T): dominated by the tiny ones
        others = float(np.sum(w[~tiny] * np.tan((0.5 - np.exp(log_p[~tiny])) * math.pi)))
        log_t = float(logsumexp(np.log(w[tiny]) - log_p[tiny] - math.log(math.pi)))
        if others > 0:
            log_t = float(np.logaddexp(log_t, math.log(others)))
        elif others < 0:
            log_t = log_t + math.log1p(-others / math.exp(log_t))
        return -math.log(math.pi) - log_t
    statistic = float(np.sum(w * np.tan((0.5 - np.exp(log_p)) * math.pi)))
    if statistic > 1e15:
        return -math.log(math.pi) - math.log(statistic)
    return math.log(0.5 - math.atan(statistic) / math.pi)


def acat(p_values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ACAT p-value of ordinary p-values (each in (0, 1])."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if np.any((p <= 0) | (p > 1)):
        raise ValueError(f"p-values must lie in (0, 1]; got {p!r}")
    return math.exp(acat_log_p(np.log(p), weights))
