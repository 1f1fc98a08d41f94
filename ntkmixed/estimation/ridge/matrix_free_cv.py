"""Cross-validation of the ridge with the kernel used through products only: every fold
at every λ by preconditioned conjugate gradients, for kernels with neither an n×n matrix
nor a low-rank factor (a GRM streamed at n = 100 000, an analytic NTK evaluated tile by
tile).

A fold trains on rows T. On vectors that vanish off T,

    (M_T K M_T + λI) x = M_T b   ⇔   (K_TT + λI) x_T = b_T and x = 0 off T     (M_T = diag(1_T)),

so the systems of every (λ, fold) pair are columns of one block solve whose product is K·V
on all n rows, masked column by column: one pass of the kernel per CG iteration serves
every fold and every λ of a chunk, and converged columns drop out. Each (λ, fold) has the
columns [y, X] restricted to T (the fixed effects are estimated by GLS on T, unpenalised).

A column's preconditioner is the Nyström one (:mod:`..preconditioner`) of its fold's
rows of one sketch L (K ≈ L Lᵀ): with M_T L = U diag(s)^½ …,
P⁻¹ = (s_min + λ) U (diag s + λ)⁻¹ Uᵀ + (I − U Uᵀ), the SVD once per fold, a scale per λ.

λ is visited from the largest (where V ≈ λI and CG needs few steps) down, in chunks of
columns that fit the memory budget; each chunk starts from the solutions at the smallest
λ of the chunk before. The held-out predictions ŷ_S = X_S β̂ + (K α̂)_S take one more
pass, on the α̂ of every (λ, fold).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..cg import conjugate_gradients
from ..factor_svd import thin_svd
from ..operators import KernelOperator
from ..preconditioner import nystrom_factor
from .fit import gls

#: relative residual at which each (λ, fold) solve stops
DEFAULT_CG_TOL = 1e-6
#: columns of the Nyström sketch behind the preconditioners (the kernel's top directions)
DEFAULT_PRECONDITIONER_RANK = 100
#: bytes of one n × columns block; a solve holds about eight of them
BLOCK_BYTES = 256 * 2**20


class _FoldPreconditioner:
    """P⁻¹ of one fold's columns at their own λ (see the module docstring)."""

    def __init__(self, masked_factor: np.ndarray):
        svd = thin_svd(masked_factor)
        self.U, self.eigenvalues = svd.U, svd.eigenvalues

    def __call__(self, R: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
        if self.U.shape[1] == 0:
            return R
        floor = self.eigenvalues[-1] + lambdas
        scale = floor[None, :] / (self.eigenvalues[:, None] + lambdas[None, :]) - 1.0
        return R + self.U @ (scale * (self.U.T @ R))


def matrix_free_cv_predictions(
    y: np.ndarray,
    X: np.ndarray,
    kernel: KernelOperator,
    lambdas: np.ndarray,
    folds,
    seed: int = 0,
    cg_tol: float = DEFAULT_CG_TOL,
    cg_max_iter: int = 1000,
    preconditioner_rank: int = DEFAULT_PRECONDITIONER_RANK,
    block_bytes: int = BLOCK_BYTES,
    on_fold_done: Callable[[], None] | None = None,
) -> tuple[list[np.ndarray], dict]:
    """Held-out predictions (one ``len(lambdas) × n_test`` array per fold) and what the
    solves took (CG iterations summed over the chunks, each one pass of the kernel, the
    largest final relative residual, and the kernel passes in all when the operator counts
    them)."""
    n, k = X.shape
    passes_before = getattr(kernel, "passes", None)
    masks = np.zeros((n, len(folds)))
    for f, (train, _) in enumerate(folds):
        masks[train, f] = 1.0
    sketch = _sketch(kernel, preconditioner_rank, seed)
    preconditioners = [_FoldPreconditioner(sketch * masks[:, f : f + 1]) for f in range(len(folds))]
    per_lambda = len(folds) * (1 + k)
    per_chunk = max(1, int(block_bytes // (8 * n * per_lambda)))
    descending = np.argsort(lambdas)[::-1]
    alphas = np.empty((n, lambdas.size, len(folds)))
    betas = np.empty((k, lambdas.size, len(folds)))
    start, iterations, residual_max, solves = None, 0, 0.0, 0
    for first in range(0, lambdas.size, per_chunk):
        chunk = descending[first : first + per_chunk]
        B = np.concatenate([masks[:, f : f + 1] * np.column_stack([y, X]) for _ in chunk for f in range(len(folds))],
                           axis=1)
        column_lambda = np.repeat(lambdas[chunk], per_lambda)
        column_fold = np.tile(np.repeat(np.arange(len(folds)), 1 + k), chunk.size)
        result = conjugate_gradients(
            lambda V, columns: masks[:, column_fold[columns]] * kernel.matmul(V) + column_lambda[columns] * V,
            B, _stacked_preconditioner(preconditioners, column_fold, column_lambda),
            None if start is None else np.tile(start, chunk.size), tol=cg_tol, max_iter=cg_max_iter, by_column=True)
        iterations += result.iterations
        residual_max = max(residual_max, result.max_residual)
        solves += 1
        solved = result.solution.reshape(n, chunk.size, len(folds), 1 + k)
        for c, i in enumerate(chunk):
            for f in range(len(folds)):
                Vi_y, Vi_X = solved[:, c, f, 0], solved[:, c, f, 1:]
                betas[:, i, f] = gls(X, Vi_X, Vi_y)
                alphas[:, i, f] = Vi_y - Vi_X @ betas[:, i, f]
        start = result.solution[:, -per_lambda:]
    kernel_alphas = _products(kernel, alphas.reshape(n, -1), block_bytes).reshape(n, lambdas.size, len(folds))
    predictions = []
    for f, (_, test) in enumerate(folds):
        predictions.append((X[test] @ betas[:, :, f] + kernel_alphas[test, :, f]).T)
        if on_fold_done is not None:
            on_fold_done()
    info = {"cg_tol": float(cg_tol), "cg_solves": solves, "cg_iterations": int(iterations),
            "cg_residual_max": residual_max, "preconditioner_rank": int(sketch.shape[1])}
    if passes_before is not None:
        info["kernel_passes"] = int(kernel.passes - passes_before)
    if hasattr(kernel, "tile_cache_fraction"):
        info["kernel_tiles_kept"] = float(kernel.tile_cache_fraction)
    return predictions, info


def _sketch(kernel: KernelOperator, rank: int, seed: int) -> np.ndarray:
    """L (n × ≤ rank) with K ≈ L Lᵀ: the top ``rank`` directions of the operator's own
    factor (a block NTK's landmarks) or of a randomised Nyström sketch."""
    if rank <= 0:
        return np.zeros((kernel.n, 0))
    factor = nystrom_factor(kernel, rank, seed)
    if factor.shape[1] > rank:
        svd = thin_svd(factor)
        factor = svd.U[:, :rank] * svd.sigma[:rank]
    return factor


def _stacked_preconditioner(preconditioners, column_fold: np.ndarray, column_lambda: np.ndarray):
    def precondition(R: np.ndarray, columns: np.ndarray) -> np.ndarray:
        out = np.empty_like(R)
        folds = column_fold[columns]
        for f in np.unique(folds):
            these = np.flatnonzero(folds == f)
            out[:, these] = preconditioners[f](R[:, these], column_lambda[columns[these]])
        return out

    return precondition


def _products(kernel: KernelOperator, V: np.ndarray, block_bytes: int) -> np.ndarray:
    """K V in column chunks of at most ``block_bytes``."""
    width = max(1, int(block_bytes // (8 * V.shape[0])))
    return np.hstack([kernel.matmul(V[:, start : start + width]) for start in range(0, V.shape[1], width)])
