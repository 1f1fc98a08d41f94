"""The "band" CV engine: per fold, one orthogonal reduction of the training kernel to a
band matrix by blocked Householder panels (BLAS-3, about (4/3) n_f³ flops, cheaper than an
eigendecomposition); every λ then costs a banded Cholesky of B + λI (O(n_f b²)) and
O(n_f n_T). Works for any (train, test) split."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dsymm, dsyr2k
from scipy.linalg.lapack import dgeqrf

from ..._runtime import single_threaded_blas
from .errors import not_positive_definite
from .fit import gls

#: half-bandwidth of the per-fold band reduction: wide enough for efficient BLAS-3 panels,
#: narrow enough that the per-λ banded Cholesky (O(n b²)) stays negligible
DEFAULT_BAND = 48


def band_predictions(y, X, K, lambdas, folds, band, on_fold_done) -> list[np.ndarray]:
    """Folds run side by side, each with single-threaded BLAS, as many at once as BLAS
    would have threads. A band reduction is a long chain of medium-sized BLAS calls; with
    multi-threaded BLAS each call waits for all its threads, which on a busy machine made
    the reduction ~20x slower than with one thread (measured at n = 2000 with 2 threads
    under a load average of 6). Without threadpoolctl the folds run one after another."""
    limits, workers = single_threaded_blas(len(folds))

    def run(fold):
        predictions = _band_fold(y, X, K, lambdas, *fold, band)
        if on_fold_done is not None:
            on_fold_done()
        return predictions

    with limits:
        if workers == 1:
            return [run(fold) for fold in folds]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(run, folds))


def _band_fold(y, X, K, lambdas, train, test, band) -> np.ndarray:
    K_train = K[np.ix_(train, train)]
    y_train, X_train = y[train], X[train]
    bands, rotated, reflectors = band_reduce(K_train, np.column_stack([y_train, X_train]), band)
    p = X.shape[1]
    alphas = np.empty((train.size, lambdas.size))
    betas = np.empty((p, lambdas.size))
    X_rot = rotated[:, 1:]
    for i, lam in enumerate(lambdas):
        shifted = bands.copy()
        shifted[0] += lam
        try:
            factor = sla.cholesky_banded(shifted, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise not_positive_definite(lam) from None
        solved = sla.cho_solve_banded((factor, True), rotated, check_finite=False)
        betas[:, i] = gls(X_rot, solved[:, 1:], solved[:, 0])
        alphas[:, i] = solved[:, 0] - solved[:, 1:] @ betas[:, i]
    alphas = apply_reflectors(reflectors, alphas)
    return (X[test] @ betas + K[np.ix_(test, train)] @ alphas).T


def band_reduce(A: np.ndarray, rhs: np.ndarray, band: int):
    """Orthogonal reduction ``Qᵀ A Q = B`` of a symmetric matrix to half-bandwidth ``band``.

    Returns ``(bands, Qᵀ rhs, reflectors)``: ``bands`` is B in LAPACK lower banded storage
    (``bands[d, j] = B[j + d, j]``), and ``reflectors`` holds Q = H_1 H_2 ⋯ as compact-WY
    blocks ``(offset, V, T)`` with H = I − V T Vᵀ acting on rows ``offset:``.

    Each panel of ``band`` columns below the band is QR-factorised and its block
    reflector H is applied from both sides to the trailing matrix,
    Hᵀ A H = A − V Yᵀ − Y Vᵀ with Y = AVT − ½ V Tᵀ VᵀAVT (one SYMM and one SYR2K, so the
    whole reduction is BLAS-3). Only the lower triangle of the trailing matrix is kept.
    """
    n = A.shape[0]
    band = max(1, min(int(band), n - 1)) if n > 1 else 1
    bands = np.zeros((band + 1, n))
    rhs = np.array(rhs, dtype=np.float64, order="F")
    # A symmetric C-ordered matrix is its own transpose in Fortran order: no copy needed
    trailing = A.T if A.flags.c_contiguous else np.asfortranarray(A)
    reflectors = []
    cols = np.arange(band)
    start = 0
    while n - start > band + 1:
        qr, tau, _, info = dgeqrf(trailing[band:, :band])
        if info != 0:  # pragma: no cover - LAPACK argument errors only
            raise RuntimeError(f"dgeqrf failed with info={info}")
        k = tau.size
        V = np.tril(qr[:, :k], -1)
        V[np.arange(k), np.arange(k)] = 1.0
        # band columns start..start+band: the diagonal block (lower) over R (upper)
        column_block = np.zeros((2 * band, band))
        column_block[:band] = np.tril(trailing[:band, :band])
        column_block[band : band + k] = np.triu(qr[:k, :band])
        bands[:, start : start + band] = column_block[cols[None, :] + np.arange(band + 1)[:, None], cols[None, :]]
        T = _block_reflector_factor(V, tau)
        inner = np.asfortranarray(trailing[band:, band:])
        AVT = dsymm(1.0, inner, V @ T, side=0, lower=1)
        Y = AVT - 0.5 * (V @ (T.T @ (V.T @ AVT)))
        trailing = dsyr2k(-1.0, V, Y, beta=1.0, c=inner, trans=0, lower=1, overwrite_c=1)
        block = rhs[start + band :]
        block -= V @ (T.T @ (V.T @ block))
        reflectors.append((start + band, V, T))
        start += band
    m = trailing.shape[0]
    for d in range(min(band, m - 1) + 1):
        bands[d, start : start + m - d] = np.diagonal(trailing, -d)
    return bands, rhs, reflectors


def _block_reflector_factor(V: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Upper-triangular T with H_1 ⋯ H_k = I − V T Vᵀ (LAPACK dlarft, forward, columnwise)."""
    k = tau.size
    gram = V.T @ V
    T = np.zeros((k, k))
    for i in range(k):
        T[i, i] = tau[i]
        if i:
            T[:i, i] = -tau[i] * (T[:i, :i] @ gram[:i, i])
    return T


def apply_reflectors(reflectors, Z: np.ndarray) -> np.ndarray:
    """Q Z for the Q of :func:`band_reduce`."""
    Z = np.array(Z, dtype=np.float64, order="F")
    for offset, V, T in reversed(reflectors):
        block = Z[offset:]
        block -= V @ (T @ (V.T @ block))
    return Z


def band_cost(folds, n_lambdas: int, band: int) -> float:
    reduction = sum(4.2e-11 * (4 / 3) * train.size**3 for train, _ in folds)
    per_lambda = sum(2.4e-10 * train.size * (band**2 + 4 * test.size) for train, test in folds)
    return reduction + n_lambdas * per_lambda
