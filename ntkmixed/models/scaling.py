"""Fitting on a well-scaled problem: y and each fixed-effect column divided by a power of
two near their spread before the engine sees them, estimates multiplied back after.

Estimators are pure and scale-equivariant in exact arithmetic, but their floors and
linear algebra are not at every magnitude (y × 1e100 made MINQUE's equations look
singular, y × 1e-100 underflowed REML). With y = s·y_s and X = X_s·diag(d):

    θ = s² θ_s,  Cov(θ̂) = s⁴ Cov_s,  β = s·β_s / d,  Cov(β̂) = s² Cov_s / (d dᵀ),
    P y = (P y)_s / s,  ĝ = s·ĝ_s,  PEV = s²·PEV_s,
    REML log-likelihood ℓ = ℓ_s − (n − k)·log s  (log|XᵀV⁻¹X| − log|XᵀX| does not depend on d).

Powers of two divide exactly, so a problem that needs no scaling gives bit-identical
results either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..estimation import VarianceFit


def _power_of_two(value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(value)))


@dataclass(frozen=True)
class Scaling:
    """``y_scale`` s and per-column ``x_scales`` d (powers of two)."""

    y_scale: float
    x_scales: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, X: np.ndarray) -> "Scaling":
        spread = float(np.std(y)) if y.size else 1.0
        rms = np.sqrt(np.mean(X * X, axis=0)) if X.size else np.ones(X.shape[1])
        return cls(_power_of_two(spread), np.array([_power_of_two(v) for v in rms]))

    def y(self, y: np.ndarray) -> np.ndarray:
        return y / self.y_scale

    def X(self, X: np.ndarray) -> np.ndarray:
        return X / self.x_scales

    def variance_fit(self, fit: VarianceFit, n: int, k: int) -> VarianceFit:
        s2 = self.y_scale**2
        return dataclasses.replace(
            fit,
            theta=fit.theta * s2,
            cov=fit.cov * s2 * s2,
            loglik=float(fit.loglik - (n - k) * np.log(self.y_scale)),
            history=[h * s2 for h in fit.history],
        )

    def engine_info(self, info: dict) -> dict:
        """An engine's report in the units of the data (its ``theta_*`` entries are
        variances)."""
        s2 = self.y_scale**2
        return {key: ([v * s2 for v in value] if key.startswith("theta_") else value) for key, value in info.items()}

    def state(self, state) -> "ScaledState":
        return ScaledState(state, self)


class ScaledState:
    """An engine state of the scaled problem, answering in the units of the data."""

    def __init__(self, state, scaling: Scaling):
        self._state = state
        self._s = scaling.y_scale
        self._d = scaling.x_scales
        self.weights = state.weights * self._s**2
        self.positive_definite = state.positive_definite

    def beta(self) -> np.ndarray:
        return self._state.beta() * self._s / self._d

    def cov_beta(self) -> np.ndarray:
        return self._state.cov_beta() * self._s**2 / np.outer(self._d, self._d)

    def Py(self) -> np.ndarray:
        return self._state.Py() / self._s

    def blup(self, component: int) -> np.ndarray:
        return self._state.blup(component) * self._s

    def total_blup(self) -> np.ndarray:
        return self._state.total_blup() * self._s

    def pev(self, component: int) -> np.ndarray:
        return self._state.pev(component) * self._s**2

    def total_pev(self) -> np.ndarray:
        return self._state.total_pev() * self._s**2
