"""Exact cross-validation of the ridge parameter over a whole grid from few
factorisations: held-out predictions of every fold at every λ.

Each held-out block T is predicted from a fit on its training rows only,
ŷ_T = X_T β̂_{−T} + K_{T,−T} α̂_{−T}. Two exact engines:

* ``"band"`` (any train/test split): :mod:`.band`.
* ``"eigen"`` (train = complement of test): one eigendecomposition of the full kernel —
  the spectral engine's, shared with an LMM on the same trained kernel — and the
  leave-block-out identity for the unpenalised fixed effects,

      y_T − ŷ_T = (P_TT)⁻¹ (P y)_T,    P = V⁻¹ − V⁻¹X (XᵀV⁻¹X)⁻¹ XᵀV⁻¹ = (I − H_λ)/λ,

  (the universal-kriging form of r_cv,T = (I − H_TT)⁻¹ r_T for the full-data smoother
  H_λ, fixed effects included), with P the spectral state at weights (1, λ). P_TT costs
  O(n_T² n) per fold and λ; leave-one-out needs only diag(P), O(n²) per λ.

``"auto"`` picks the cheaper by a flop count. Pure functions of arrays and operators.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg as sla

from ...exceptions import NtkmixedError
from ..engines.spectral import SpectralProblem
from ..operators import KernelOperator, as_operator
from .band import DEFAULT_BAND, band_cost, band_predictions
from .errors import not_positive_definite, unidentified_fold
from .folds import is_partition_of_complements

CV_METHODS = ("auto", "band", "eigen")


def cv_predictions(
    y: np.ndarray,
    X: np.ndarray,
    kernel: KernelOperator | np.ndarray,
    lambdas: np.ndarray,
    folds,
    method: str = "auto",
    band: int = DEFAULT_BAND,
    on_fold_done: Callable[[], None] | None = None,
) -> list[np.ndarray]:
    """Held-out predictions of every fold at every λ: a list (one per fold) of
    ``len(lambdas) × n_test`` arrays. The eigen engine uses the operator's cached
    eigendecomposition; ``on_fold_done`` is called after each fold (for progress bars;
    possibly from a worker thread)."""
    operator = as_operator(kernel)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    n = y.size
    if method == "auto":
        method = choose_cv_method(folds, n, lambdas.size, band, operator.has_spectrum)
    if method == "eigen":
        if not is_partition_of_complements(folds, n):
            raise NtkmixedError("The 'eigen' CV engine needs folds whose training rows are the complement of the test rows.")
        problem = SpectralProblem(y, X, operator, clip_negative=False)
        if all(test.size == 1 for _, test in folds):
            loo = loo_predictions(problem, lambdas)
            predictions = [loo[:, test] for _, test in folds]
        else:
            predictions = _eigen_cv(problem, lambdas, folds)
        for _ in folds if on_fold_done is not None else ():
            on_fold_done()
        return predictions
    if method != "band":
        raise NtkmixedError(f"Unknown CV engine {method!r}; expected one of {CV_METHODS}.")
    return band_predictions(y, X, operator.dense(), lambdas, folds, band, on_fold_done)


def choose_cv_method(folds, n: int, n_lambdas: int, band: int = DEFAULT_BAND, have_spectrum: bool = False) -> str:
    """The cheaper exact engine for these folds and grid size (by a flop count)."""
    if not is_partition_of_complements(folds, n):
        return "band"
    eigen = eigen_cost(folds, n, n_lambdas, have_spectrum)
    return "eigen" if eigen < band_cost(folds, n_lambdas, band) else "band"


def loo_predictions(problem: SpectralProblem, lambdas: np.ndarray) -> np.ndarray:
    """Exact leave-one-out predictions (``len(lambdas) × n``) from the spectral problem:
    y_i − ŷ_(−i) = (Py)_i / P_ii, O(n² (1 + k)) per λ."""
    y = problem.y
    predictions = np.empty((len(lambdas), y.size))
    for i, lam in enumerate(lambdas):
        state = _ridge_state(problem, lam)
        P_diag = state.P_diagonal()
        # P_ii = 0 exactly when leaving row i out leaves the fixed effects unidentified
        unidentified = np.flatnonzero(P_diag <= 1e-10 * P_diag.max())
        if unidentified.size:
            raise unidentified_fold(int(unidentified[0]), "leave-one-out: row")
        predictions[i] = y - state.Py() / P_diag
    return predictions


def _eigen_cv(problem: SpectralProblem, lambdas: np.ndarray, folds) -> list[np.ndarray]:
    y = problem.y
    rows = [np.ascontiguousarray(problem.U[test]) for _, test in folds]
    predictions = [np.empty((lambdas.size, test.size)) for _, test in folds]
    for i, lam in enumerate(lambdas):
        state = _ridge_state(problem, lam)
        Py = state.Py()
        for fold, ((_, test), U_T) in enumerate(zip(folds, rows)):
            try:
                factor = sla.cho_factor(state.P_block(test, U_T), lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                raise unidentified_fold(fold) from None
            predictions[fold][i] = y[test] - sla.cho_solve(factor, Py[test], check_finite=False)
    return predictions


def _ridge_state(problem: SpectralProblem, lam: float):
    state = problem.state(np.array([1.0, lam]))
    if not state.positive_definite:  # the kernel has eigenvalues ≤ −λ
        raise not_positive_definite(lam)
    return state


def eigen_cost(folds, n: int, n_lambdas: int, have_spectrum: bool) -> float:
    """Single-core seconds of the eigen engine, measured on the development machine."""
    decomposition = 0.0 if have_spectrum else 2.0e-10 * n**3
    per_lambda = sum(2.5e-11 * test.size**2 * n + 5e-11 * test.size**3 / 3 for _, test in folds) + 2e-10 * n * n
    return decomposition + n_lambdas * per_lambda
