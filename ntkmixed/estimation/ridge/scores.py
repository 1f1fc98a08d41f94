"""Held-out scores and the choice of λ."""

from __future__ import annotations

import numpy as np

from ...exceptions import NtkmixedError

SCORINGS = ("mse", "cor")


def scores(y_true: np.ndarray, predictions: np.ndarray, scoring: str) -> np.ndarray:
    """Score of each row of ``predictions`` (λ × rows) against ``y_true``: the mean
    squared error, or the Pearson correlation (NaN when a side is constant)."""
    if scoring == "mse":
        return np.mean((predictions - y_true[None, :]) ** 2, axis=1)
    centred_y = y_true - y_true.mean()
    centred = predictions - predictions.mean(axis=1, keepdims=True)
    denominator = np.linalg.norm(centred, axis=1) * np.linalg.norm(centred_y)
    tiny = 1e-12 * (np.abs(predictions).max(axis=1) + 1e-300) * np.sqrt(y_true.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = (centred @ centred_y) / denominator
    correlation[(np.linalg.norm(centred, axis=1) <= tiny) | (np.linalg.norm(centred_y) == 0)] = np.nan
    return correlation


def best_index(mean_scores: np.ndarray, scoring: str) -> int:
    """Position of the best λ: the smallest mean MSE or the largest mean correlation (the
    first in grid order on ties); NaN scores never win."""
    values = np.asarray(mean_scores, dtype=np.float64)
    if np.isnan(values).all():
        raise NtkmixedError(
            f"Every λ has an undefined cross-validated {scoring!r} score (constant held-out "
            "predictions or responses); try scoring='mse'."
        )
    return int(np.nanargmin(values) if scoring == "mse" else np.nanargmax(values))


def default_lambdas(scale: float = 1.0, n_values: int = 30) -> np.ndarray:
    """Log-spaced λ from 0.005 to 200 times ``scale`` (the kernel's mean diagonal): on a
    normalised kernel λ = σ²_e/σ²_g = (1 − h²)/h² covers h² from 0.995 to 0.005."""
    return scale * np.geomspace(0.005, 200.0, n_values)
