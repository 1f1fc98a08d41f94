"""Choosing λ by cross-validation, end to end on arrays: held-out predictions for the
whole grid (one exact engine), the score table, the best λ and the refit at it.

Callers (:func:`ntkmixed.krr`) validate and label; this module only computes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..._runtime import available_memory
from ..diagonal_low_rank import DiagonalPlusLowRankOperator
from ..engines import build_problem
from ..engines.dense import DenseProblem
from ..engines.matrix_free import AUTO_MEMORY_SHARE, MatrixFreeProblem
from ..engines.spectral import SpectralProblem
from ..operators import KernelOperator
from .cv import choose_cv_method, cv_predictions, loo_predictions
from .factor_cv import factor_cv_predictions, factor_loo_predictions
from .fit import RidgeFit, ridge_fit
from .matrix_free_cv import matrix_free_cv_predictions
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
    #: what an approximate engine reports (CG iterations, residuals); empty for exact ones
    engine_info: dict = field(default_factory=dict)


def cross_validate(
    y: np.ndarray,
    X: np.ndarray,
    kernel: KernelOperator,
    lambdas: np.ndarray,
    folds: list | None,
    scoring: str,
    on_fold_done: Callable[[], None] | None = None,
    engine: str = "exact",
    seed: int = 0,
) -> CrossValidation:
    """``folds=None`` is exact leave-one-out; otherwise (train, test) position pairs.

    ``engine="exact"``: a kernel known as a factor of rank well below n (K = F Fᵀ, or
    F Fᵀ + diag(d) for a Nyström kernel with its diagonal) is cross-validated from the
    factor (:mod:`.factor_cv`) and refitted by the engine ``auto`` picks for it; any other
    by its n×n matrix. ``engine="matrix-free"``: through products only, by conjugate
    gradients (:mod:`.matrix_free_cv`, k-fold only), its Nyström sketch seeded by ``seed``."""
    if engine == "matrix-free":
        return _matrix_free_cross_validate(y, X, kernel, lambdas, folds, scoring, on_fold_done, seed)
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
        fold_scores, mean, se = _fold_summary(y, folds, held_out, scoring, lambdas.size)
    best = best_index(mean, scoring)
    # the eigendecomposition, when the CV made one, serves the refit too
    problem = SpectralProblem(y, X, kernel, clip_negative=False) if kernel.has_spectrum else DenseProblem(y, X, [kernel])
    return CrossValidation(lambdas, fold_scores, mean, se, best, engine, ridge_fit(problem, lambdas[best]))


#: a factor with fewer columns than this share of n is cross-validated from the factor
FACTOR_SHARE = 0.7


def auto_cv_engine(kernel: KernelOperator, n: int) -> str:
    """``"exact"`` unless its arrays — a factor (n × r, and a copy) when the kernel is one of
    rank < 0.7 n, else n×n matrices (three) — would need more than the LMM matrix-free
    engine's ``AUTO_MEMORY_SHARE`` of the available memory: then ``"matrix-free"``. A
    kernel already held in memory (formed, or diagonal plus low rank) is always exact."""
    if kernel.is_formed or isinstance(kernel, DiagonalPlusLowRankOperator):
        return "exact"
    width = kernel.factor_width()
    needed = 2 * 8 * n * width if width is not None and width < FACTOR_SHARE * n else 3 * 8 * n * n
    available = available_memory()
    return "matrix-free" if available is not None and needed > AUTO_MEMORY_SHARE * available else "exact"


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
        fold_scores, mean, se = _fold_summary(y, folds, held_out, scoring, lambdas.size)
    best = best_index(mean, scoring)
    problem, _ = build_problem(y, X, [kernel], "auto", "krr")
    return CrossValidation(lambdas, fold_scores, mean, se, best, "factor", ridge_fit(problem, lambdas[best]))


def _matrix_free_cross_validate(y, X, kernel, lambdas, folds, scoring, on_fold_done, seed) -> CrossValidation:
    held_out, info = matrix_free_cv_predictions(y, X, kernel, lambdas, folds, seed=seed, on_fold_done=on_fold_done)
    fold_scores, mean, se = _fold_summary(y, folds, held_out, scoring, lambdas.size)
    best = best_index(mean, scoring)
    problem = MatrixFreeProblem(y, X, [kernel], seed=seed, cg_tol=info["cg_tol"])
    fit = ridge_fit(problem, lambdas[best])
    refit = problem.engine_info()
    info.update(refit_cg_iterations=refit["cg_iterations"], refit_cg_residual=refit["cg_residual_max"])
    return CrossValidation(lambdas, fold_scores, mean, se, best, "matrix-free", fit, info)


def _fold_summary(y, folds, held_out, scoring, n_lambdas):
    """``(fold_scores λ × folds, mean, SE = SD over folds / √k)`` of held-out predictions."""
    fold_scores = np.column_stack([scores(y[test], pred, scoring) for (_, test), pred in zip(folds, held_out)])
    k = fold_scores.shape[1]
    mean = fold_scores.mean(axis=1)
    se = fold_scores.std(axis=1, ddof=1) / np.sqrt(k) if k > 1 else np.full(n_lambdas, np.nan)
    return fold_scores, mean, se


def _loo_se(y: np.ndarray, predictions: np.ndarray, mean: np.ndarray, scoring: str) -> np.ndarray:
    """SE of the MSE: that of a mean of squared errors; of the correlation: the
    large-sample √((1 − r²)/(n − 2))."""
    n = y.size
    if scoring == "mse":
        return ((predictions - y) ** 2).std(axis=1, ddof=1) / np.sqrt(n)
    return np.sqrt(np.clip(1 - mean**2, 0, None) / (n - 2))
