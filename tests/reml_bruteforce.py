"""The REML likelihood from explicit matrices, profiled over the kernel share by numerical
optimisation: the brute-force reference for profile-likelihood intervals."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.optimize import brentq, minimize_scalar

H_MAX = 1 - 1e-5  # REML's search range for the kernel share


def dense_reml(y, X, K, sigma_g, sigma_e):
    """The REML log-likelihood from explicit matrices (textbook formula)."""
    n, k = X.shape
    V = sigma_g * K + sigma_e * np.eye(n)
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    P = Vi - Vi @ X @ np.linalg.solve(XtViX, X.T @ Vi)
    return -0.5 * ((n - k) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + np.linalg.slogdet(XtViX)[1]
                   - np.linalg.slogdet(X.T @ X)[1] + y @ P @ y)


def brute_force_profile(y, X, K, h):
    """max over τ of the dense REML likelihood at V = τ(hK + (1 − h)I), numerically."""
    result = minimize_scalar(lambda log_tau: -dense_reml(y, X, K, np.exp(log_tau) * h, np.exp(log_tau) * (1 - h)),
                             bounds=(-8, 8), method="bounded", options={"xatol": 1e-12})
    return -result.fun


def brute_force_interval(y, X, K, level=0.95):
    """(lower, upper, ĥ): {h : 2(ℓ̂ − ℓ(h)) ≤ χ²₁(level)} by root finding on the brute-force
    profile; a bound where the profile has not fallen to the cut-off (h → 1 reported as 1)."""
    profile = lambda h: brute_force_profile(y, X, K, h)  # noqa: E731
    grid = np.linspace(0, H_MAX, 101)
    values = np.array([profile(h) for h in grid])
    best = int(np.argmax(values))
    top = minimize_scalar(lambda h: -profile(h), bounds=(grid[max(best - 1, 0)], grid[min(best + 1, 100)]),
                          method="bounded", options={"xatol": 1e-11})
    h_hat, top_value = top.x, -top.fun
    cut = top_value - stats.chi2.ppf(level, 1) / 2
    lower = 0.0 if profile(0.0) >= cut else brentq(lambda h: profile(h) - cut, 0.0, h_hat, xtol=1e-12)
    upper = 1.0 if profile(H_MAX) >= cut else brentq(lambda h: profile(h) - cut, h_hat, H_MAX, xtol=1e-12)
    return lower, upper, h_hat
