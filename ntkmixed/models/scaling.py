"""Fitting on a well-scaled problem: y and each fixed-effect column divided by a power of
two near their spread before the engine sees them, estimates multiplied back after.

Estimators are pure and scale-equivariant in exact arithmetic, but their floors and
linear algebra are not at every magnitude (y × 1e100 made MINQUE's equations look
singular, y × 1e-100 underflowed REML). With y = s·y_s and X = X_s·diag(d):

    θ = s² θ_s,  Cov(θ̂) = s⁴ Cov_s,  β = s·β_s / d,  Cov(β̂) = s² Cov_s / (d dᵀ),
    P y = (P y)_s / s,  ĝ = s·ĝ_s,  PEV = s²·PEV_s,
    REML log-likelihood ℓ = ℓ_s − (n − k)·log s  (log|XᵀV⁻¹X| − log|XᵀX| does not depend on d).

KRR (:meth:`Scaling.cross_validation`) is scaled the same way: λ is unit-free, mean
squared errors scale by s². Powers of two divide exactly, so a problem that needs no
scaling gives bit-identical results either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..estimation import VarianceFit
from ..exceptions import NtkmixedError
from ..estimation.ridge import CrossValidation, RidgeFit


def _power_of_two(value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(value)))


def _safe(statistic, values: np.ndarray) -> float:
    """A scale statistic computed on values divided by their largest magnitude first, so
    that squaring neither overflows (1e200) nor underflows (1e-200)."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(largest) or largest == 0:
        return 1.0
    return largest * float(statistic(values / largest))


@dataclass(frozen=True)
class Scaling:
    """``y_scale`` s and per-column ``x_scales`` d (powers of two)."""

    y_scale: float
    x_scales: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, X: np.ndarray) -> "Scaling":
        spread = _safe(lambda v: np.std(v), y) if y.size else 1.0
        rms = [_safe(lambda v: np.sqrt(np.mean(v * v)), X[:, j]) for j in range(X.shape[1])] if X.size else []
        return cls(_power_of_two(spread), np.array([_power_of_two(v) for v in rms], dtype=np.float64))

    def check_variances_representable(self, response: str, where: str) -> None:
        """Variance components scale as s²: beyond ~1e±150 they leave float64's range."""
        if not 1e-150 < self.y_scale < 1e150:
            decade = int(np.round(np.log10(self.y_scale)))
            raise NtkmixedError(
                f"The response {response!r} of {where} has a spread of about 1e{decade}, so its variance components "
                f"(about 1e{2 * decade}) cannot be represented in 64-bit floating point. Rescale the response, "
                f"e.g. divide it by 1e{decade}."
            )

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

    def cross_validation(self, outcome: CrossValidation, scoring: str) -> CrossValidation:
        """KRR's cross-validation on the scaled problem in the units of the data: λ and the
        folds' choice are unit-free; β = s·β_s/d, α = s·α_s, fitted = s·fitted_s, and
        mean squared errors (with their SEs) scale by s²."""
        s = np.float64(self.y_scale)
        factor = s * s if scoring == "mse" else 1.0  # may overflow to inf: such MSEs are unrepresentable
        fit = outcome.fit
        with np.errstate(over="ignore", under="ignore"):
            return dataclasses.replace(
            outcome,
                fold_scores=None if outcome.fold_scores is None else outcome.fold_scores * factor,
                mean=outcome.mean * factor,
                se=outcome.se * factor,
                fit=RidgeFit(fit.lambda_, fit.beta * s / self.x_scales, fit.dual_coef * s, fit.fitted * s),
            )


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
