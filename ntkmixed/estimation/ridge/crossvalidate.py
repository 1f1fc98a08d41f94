"""Choosing λ by cross-validation, end to end on arrays: held-out predictions for the
whole grid (one exact engine), the score table, the best λ and the refit at it.

Callers (:func:`ntkmixed.krr`) validate and label; this module only computes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..diagonal_low_rank import DiagonalPlusLowRankOperator
from ..engines import build_problem
from ..engines.dense import DenseProblem
from ..engines.spectral import SpectralProblem
from ..operators import KernelOperator
from .cv import choose_cv_method, cv_predictions, loo_predictions
from .factor_cv import factor_cv_predictions, factor_loo_predictions
from .fit import RidgeFit, ridge_fit
from .scores import best_index, scores


@dataclass(frozen=True)
class CrossValidation:
    """Scores of every λ (rows) and the fit at the best one.

    ``fold_scores`` is λ × folds for k-fold CV and None for leave-one-out, which has one
    score over all n held-out predictions; ``mean``/``se`` summarise each λ."""

    lambdas: np.ndarray
    fold_scores: np.ndarray | None
    mean: np.ndarray
    se: np.ndarray
    best: int
    engine: str
    fit: RidgeFit


def cross_validate(
    y: np.ndarray,
    X: np.ndarray,
    kernel: KernelOperator,
    lambdas: np.ndarray,
    folds: list | None,
    scoring: str,
    on_fold_done: Callable[[], None] | None = None,
) -> CrossValidation:
    """``folds=None`` is exact leave-one-out; otherwise (train, test) position pairs. A
    kernel known as a factor of rank well below n (K = F Fᵀ, or F Fᵀ + diag(d) for a
    Nyström kernel with its diagonal) is cross-validated from the factor
    (:mod:`.factor_cv`), and refitted by the engine ``auto`` picks for it."""
    factor = _factor_of(kernel, y.size)
    if factor is not None:
        return _factor_cross_validate(y, X, kernel, factor, lambdas, folds, scoring, on_fold_done)
    if folds is None:
        predictions = loo_predictions(SpectralProblem(y, X, kernel, clip_negative=False), lambdas)
        mean = scores(y, predictions, scoring)
        fold_scores, se, engine = None, _loo_se(y, predictions, mean, scoring), "eigen"
    else:
        engine = choose_cv_method(folds, y.size, lambdas.size, have_spectrum=kernel.has_spectrum)
        held_out = cv_predictions(y, X, kernel, lambdas, folds, method=engine, on_fold_done=on_fold_done)
        fold_scores = np.column_stack([scores(y[test], pred, scoring) for (_, test), pred in zip(folds, held_out)])
        k = fold_scores.shape[1]
        mean = fold_scores.mean(axis=1)
        se = fold_scores.std(axis=1, ddof=1) / np.sqrt(k) if k > 1 else np.full(lambdas.size, np.nan)
    best = best_index(mean, scoring)
    # the eigendecomposition, when the CV made one, serves the refit too
    problem = SpectralProblem(y, X, kernel, clip_negative=False) if kernel.has_spectrum else DenseProblem(y, X, [kernel])
    return CrossValidation(lambdas, fold_scores, mean, se, best, engine, ridge_fit(problem, lambdas[best]))


#: a factor with fewer columns than this share of n is cross-validated from the factor
FACTOR_SHARE = 0.7


def _factor_of(kernel: KernelOperator, n: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(F, d or None)`` when the kernel is a factor (plus a diagonal) of rank < 0.7 n."""
    if isinstance(kernel, DiagonalPlusLowRankOperator):
        F, d = kernel.F, kernel.d
    else:
        F, d = kernel.factor(), None
    if F is None or F.shape[1] >= FACTOR_SHARE * n:
        return None
    return F, d


def _factor_cross_validate(y, X, kernel, factor, lambdas, folds, scoring, on_fold_done) -> CrossValidation:
    F, d = factor
    if folds is None:
        predictions = factor_loo_predictions(y, X, F, d, lambdas)
        mean = scores(y, predictions, scoring)
        fold_scores, se = None, _loo_se(y, predictions, mean, scoring)
    else:
        held_out = factor_cv_predictions(y, X, F, d, lambdas, folds, on_fold_done)
        fold_scores = np.column_stack([scores(y[test], pred, scoring) for (_, test), pred in zip(folds, held_out)])
        k = fold_scores.shape[1]
        mean = fold_scores.mean(axis=1)
        se = fold_scores.std(axis=1, ddof=1) / np.sqrt(k) if k > 1 else np.full(lambdas.size, np.nan)
    best = best_index(mean, scoring)
    problem, _ = build_problem(y, X, [kernel], "auto", "krr")
    return CrossValidation(lambdas, fold_scores, mean, se, best, "factor", ridge_fit(problem, lambdas[best]))


def _loo_se(y: np.ndarray, predictions: np.ndarray, mean: np.ndarray, scoring: str) -> np.ndarray:
    """SE of the MSE: that of a mean of squared errors; of the correlation: the
    large-sample √((1 − r²)/(n − 2))."""
    n = y.size
    if scoring == "mse":
        return ((predictions - y) ** 2).std(axis=1, ddof=1) / np.sqrt(n)
    return np.sqrt(np.clip(1 - mean**2, 0, None) / (n - 2))
