"""Kernel ridge regression with unpenalised fixed effects, and exact cross-validation of
the ridge parameter over a whole grid from few factorisations.

Pure functions of arrays ``(y, X, K, lambdas, folds)``: no I/O, no pandas, no printing.

Model (DESIGN §2, KRR). For a ridge parameter λ > 0 let V = K + λI. Then

    β̂_λ = (XᵀV⁻¹X)⁻¹ XᵀV⁻¹ y          (GLS: the fixed effects are not penalised)
    α̂   = V⁻¹ (y − Xβ̂_λ)
    ŷ   = Xβ̂_λ + Kα̂ = y − λα̂,      ŷ* = X*β̂_λ + K(*, train) α̂ for new rows.

With λ = σ²_e/σ²_g these are the LMM's GLS estimate and BLUP-based predictions.

Cross-validation predicts each held-out block T from a fit on its training rows only,
ŷ_T = X_T β̂_{−T} + K_{T,−T} α̂_{−T}, for every λ on every fold. Two exact engines:

* ``"band"`` (any train/test split): per fold, one orthogonal reduction
  Qᵀ K_{−T,−T} Q = B to a band matrix of half-bandwidth ``b`` by blocked Householder
  panels (BLAS-3, about (4/3) n_f³ flops, cheaper than an eigendecomposition). Every λ
  then costs a banded Cholesky of B + λI (O(n_f b²)) and O(n_f n_T): the grid is nearly
  free.
* ``"eigen"`` (train = complement of test): one eigendecomposition K = U diag(s) Uᵀ of the
  full kernel and the leave-block-out identity for the unpenalised fixed effects,

      y_T − ŷ_T = (P_TT)⁻¹ (P y)_T,    P = V⁻¹ − V⁻¹X (XᵀV⁻¹X)⁻¹ XᵀV⁻¹ = (I − H_λ)/λ,

  (the universal-kriging form of r_cv,T = (I − H_TT)⁻¹ r_T for the full-data smoother
  H_λ, fixed effects included). P = U D½ (I − Q_w Q_wᵀ) D½ Uᵀ with D = (S + λI)⁻¹ and
  Q_w the QR factor of D½UᵀX, so P_TT costs O(n_T² n) per fold and λ; for leave-one-out
  only diag(P) is needed, O(n²) per λ.

``"auto"`` picks the cheaper by a flop count.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dsymm, dsyr2k, dsyrk
from scipy.linalg.lapack import dgeqrf

from ..exceptions import NtkmixedError

SCORINGS = ("mse", "cor")
CV_METHODS = ("auto", "band", "eigen")
#: half-bandwidth of the per-fold band reduction: wide enough for efficient BLAS-3 panels,
#: narrow enough that the per-λ banded Cholesky (O(n b²)) stays negligible
DEFAULT_BAND = 48


# --- fits at one λ ------------------------------------------------------------------
@dataclass(frozen=True)
class RidgeFit:
    """KRR at one λ on the training rows (positions are rows of y)."""

    lambda_: float
    beta: np.ndarray
    dual_coef: np.ndarray
    fitted: np.ndarray


def ridge_fit(y: np.ndarray, X: np.ndarray, K: np.ndarray, lam: float) -> RidgeFit:
    """KRR at λ by one Cholesky factorisation of K + λI."""
    V = K + lam * np.eye(K.shape[0])
    try:
        factor = sla.cho_factor(V, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise _not_positive_definite(lam) from None
    solved = sla.cho_solve(factor, np.column_stack([y, X]), check_finite=False)
    beta = _gls(X, solved[:, 1:], solved[:, 0])
    alpha = solved[:, 0] - solved[:, 1:] @ beta
    return RidgeFit(float(lam), beta, alpha, y - lam * alpha)


def ridge_fit_spectral(y: np.ndarray, X: np.ndarray, s: np.ndarray, U: np.ndarray, lam: float) -> RidgeFit:
    """KRR at λ from the eigendecomposition K = U diag(s) Uᵀ (O(n²))."""
    _check_spectrum(s, lam)
    d = 1.0 / (s + lam)
    y_rot, X_rot = U.T @ y, U.T @ X
    beta = _gls(X, d[:, None] * X_rot, d * y_rot, X_rot)
    alpha = U @ (d * (y_rot - X_rot @ beta))
    return RidgeFit(float(lam), beta, alpha, y - lam * alpha)


def _gls(X: np.ndarray, Vinv_X: np.ndarray, Vinv_y: np.ndarray, X_left: np.ndarray | None = None) -> np.ndarray:
    """β = (XᵀV⁻¹X)⁻¹ XᵀV⁻¹y given V⁻¹X and V⁻¹y (X_left: X in the same rotated basis)."""
    left = X if X_left is None else X_left
    if left.shape[1] == 0:
        return np.zeros(0)
    return sla.solve(left.T @ Vinv_X, left.T @ Vinv_y, assume_a="sym")


# --- folds ----------------------------------------------------------------------------
def make_folds(n: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """KFold-like split: rows shuffled by ``numpy.random.default_rng(seed)``, then cut into
    ``n_folds`` consecutive blocks whose sizes differ by at most one (the first ``n %
    n_folds`` blocks are one larger). Indices within each block are sorted."""
    if not 2 <= n_folds <= n:
        raise NtkmixedError(f"Cross-validation needs 2 <= folds <= n = {n}. Got {n_folds} folds.")
    order = np.random.default_rng(seed).permutation(n)
    sizes = np.full(n_folds, n // n_folds)
    sizes[: n % n_folds] += 1
    folds, start = [], 0
    for size in sizes:
        test = np.sort(order[start : start + size])
        start += size
        folds.append((np.setdiff1d(np.arange(n), test), test))
    return folds


def check_folds(folds, n: int, where: str = "krr") -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate scikit-learn-style ``(train_indices, test_indices)`` pairs."""
    try:
        pairs = list(folds)
    except TypeError:
        raise NtkmixedError(
            f"The 'cv' parameter of {where} must be an int, 'loo' or a list of "
            f"(train_indices, test_indices) pairs. Got {type(folds).__name__}."
        ) from None
    if len(pairs) < 1:
        raise NtkmixedError(f"The 'cv' parameter of {where} lists no folds.")
    checked = []
    for i, pair in enumerate(pairs):
        try:
            train, test = pair
        except (TypeError, ValueError):
            raise NtkmixedError(
                f"Fold {i} of the 'cv' parameter of {where} must be a (train_indices, "
                f"test_indices) pair. Got {type(pair).__name__}."
            ) from None
        train, test = _as_indices(train, n, i, "train", where), _as_indices(test, n, i, "test", where)
        if np.intersect1d(train, test).size:
            raise NtkmixedError(
                f"Fold {i} of the 'cv' parameter of {where}: train and test share "
                f"{np.intersect1d(train, test).size} row(s); they must be disjoint."
            )
        checked.append((train, test))
    return checked


def _as_indices(values, n: int, fold: int, role: str, where: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool and array.size == n:
        array = np.flatnonzero(array)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise NtkmixedError(
            f"Fold {fold} of the 'cv' parameter of {where}: {role} indices must be a non-empty "
            f"1-D array of integer positions. Got {array.dtype} array of shape {array.shape}."
        )
    if array.min() < 0 or array.max() >= n:
        raise NtkmixedError(
            f"Fold {fold} of the 'cv' parameter of {where}: {role} indices must lie in "
            f"[0, {n - 1}] (rows used by the model). Got values from {array.min()} to {array.max()}."
        )
    if np.unique(array).size != array.size:
        raise NtkmixedError(f"Fold {fold} of the 'cv' parameter of {where}: {role} indices repeat a row.")
    return array.astype(np.intp)


def check_fold_designs(X: np.ndarray, folds) -> None:
    """Every fold's training rows must identify the fixed effects."""
    p = X.shape[1]
    for i, (train, _) in enumerate(folds):
        if p and (train.size <= p or np.linalg.matrix_rank(X[train]) < p):
            raise NtkmixedError(
                f"Cross-validation fold {i}: its {train.size} training rows do not identify the "
                f"{p} fixed effects (the design restricted to them is rank deficient; a factor "
                "level may occur only in the held-out rows). Use fewer folds or other folds."
            )


def is_partition_of_complements(folds, n: int) -> bool:
    """Whether every fold trains on exactly the rows it does not test."""
    return all(train.size + test.size == n for train, test in folds)


# --- cross-validated predictions ----------------------------------------------------------
def cv_predictions(
    y: np.ndarray,
    X: np.ndarray,
    K: np.ndarray,
    lambdas: np.ndarray,
    folds,
    method: str = "auto",
    band: int = DEFAULT_BAND,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
    on_fold_done: Callable[[], None] | None = None,
) -> list[np.ndarray]:
    """Held-out predictions of every fold at every λ: a list (one per fold) of
    ``len(lambdas) × n_test`` arrays. ``spectrum=(s, U)`` reuses an eigendecomposition;
    ``on_fold_done`` is called after each fold (for progress bars; possibly from a worker
    thread)."""
    lambdas = np.asarray(lambdas, dtype=np.float64)
    n = y.size
    if method == "auto":
        method = choose_cv_method(folds, n, lambdas.size, band, spectrum is not None)
    if method == "eigen":
        if not is_partition_of_complements(folds, n):
            raise NtkmixedError("The 'eigen' CV engine needs folds whose training rows are the complement of the test rows.")
        s, U = spectrum if spectrum is not None else np.linalg.eigh(K)
        if all(test.size == 1 for _, test in folds):
            loo = loo_predictions(y, X, s, U, lambdas)
            predictions = [loo[:, test] for _, test in folds]
        else:
            predictions = _eigen_cv(y, X, s, U, lambdas, folds)
        for _ in folds if on_fold_done is not None else ():
            on_fold_done()
        return predictions
    if method != "band":
        raise NtkmixedError(f"Unknown CV engine {method!r}; expected one of {CV_METHODS}.")
    return _band_folds(y, X, K, lambdas, folds, band, on_fold_done)


def choose_cv_method(folds, n: int, n_lambdas: int, band: int = DEFAULT_BAND, have_spectrum: bool = False) -> str:
    """The cheaper exact engine for these folds and grid size (by a flop count)."""
    if not is_partition_of_complements(folds, n):
        return "band"
    eigen = _eigen_cost(folds, n, n_lambdas, have_spectrum)
    return "eigen" if eigen < _band_cost(folds, n_lambdas, band) else "band"


def loo_predictions(y: np.ndarray, X: np.ndarray, s: np.ndarray, U: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Exact leave-one-out predictions (``len(lambdas) × n``) from one eigendecomposition:
    y_i − ŷ_(−i) = (Py)_i / P_ii, O(n² (1 + p)) per λ."""
    U_squared = U * U
    y_rot, X_rot = U.T @ y, U.T @ X
    predictions = np.empty((len(lambdas), y.size))
    for i, lam in enumerate(lambdas):
        half, Q_w, Py = _projection_parts(s, U, y_rot, X_rot, lam)
        fixed = U @ (half[:, None] * Q_w)
        P_diag = U_squared @ (half * half) - np.einsum("ij,ij->i", fixed, fixed)
        # P_ii = 0 exactly when leaving row i out leaves the fixed effects unidentified
        unidentified = np.flatnonzero(P_diag <= 1e-10 * P_diag.max())
        if unidentified.size:
            raise _unidentified_fold(int(unidentified[0]), "leave-one-out: row")
        predictions[i] = y - Py / P_diag
    return predictions


def _projection_parts(s, U, y_rot, X_rot, lam):
    """D½, the orthonormal factor Q_w of D½UᵀX, and Py, at λ."""
    _check_spectrum(s, lam)
    half = 1.0 / np.sqrt(s + lam)
    Q_w = np.linalg.qr(half[:, None] * X_rot)[0] if X_rot.shape[1] else np.zeros((s.size, 0))
    weighted = half * y_rot
    Py = U @ (half * (weighted - Q_w @ (Q_w.T @ weighted)))
    return half, Q_w, Py


def _eigen_cv(y, X, s, U, lambdas, folds) -> list[np.ndarray]:
    y_rot, X_rot = U.T @ y, U.T @ X
    rows = [np.ascontiguousarray(U[test]) for _, test in folds]
    predictions = [np.empty((lambdas.size, test.size)) for _, test in folds]
    for i, lam in enumerate(lambdas):
        half, Q_w, Py = _projection_parts(s, U, y_rot, X_rot, lam)
        for fold, ((_, test), U_T) in enumerate(zip(folds, rows)):
            A = U_T * half
            # P_TT = A (I − Q_w Q_wᵀ) Aᵀ, upper triangle by a rank-n update (half a GEMM)
            P_TT = dsyrk(1.0, A.T, trans=1)
            if Q_w.shape[1]:
                AQ = A @ Q_w
                P_TT -= AQ @ AQ.T
            try:
                factor = sla.cho_factor(P_TT, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                raise _unidentified_fold(fold) from None
            predictions[fold][i] = y[test] - sla.cho_solve(factor, Py[test], check_finite=False)
    return predictions


def _band_folds(y, X, K, lambdas, folds, band, on_fold_done) -> list[np.ndarray]:
    """Folds run side by side, each with single-threaded BLAS, as many at once as BLAS
    would have threads. A band reduction is a long chain of medium-sized BLAS calls; with
    multi-threaded BLAS each call waits for all its threads, which on a busy machine made
    the reduction ~20x slower than with one thread (measured at n = 2000 with 2 threads
    under a load average of 6). Without threadpoolctl the folds run one after another."""
    limits, workers = _single_threaded_blas(len(folds))

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


def _single_threaded_blas(n_tasks: int):
    """A context that limits BLAS to one thread, and how many workers replace its threads."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return nullcontext(), 1
    threads = max((info.get("num_threads", 1) for info in threadpool_info() if info.get("user_api") == "blas"), default=1)
    return threadpool_limits(limits=1, user_api="blas"), max(1, min(n_tasks, threads))


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
            raise _not_positive_definite(lam) from None
        solved = sla.cho_solve_banded((factor, True), rotated, check_finite=False)
        betas[:, i] = _gls(X_rot, solved[:, 1:], solved[:, 0])
        alphas[:, i] = solved[:, 0] - solved[:, 1:] @ betas[:, i]
    alphas = apply_reflectors(reflectors, alphas)
    return (X[test] @ betas + K[np.ix_(test, train)] @ alphas).T


# --- band reduction ---------------------------------------------------------------------
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


# --- costs (for method="auto"; single-core seconds measured on the development machine) --
def _band_cost(folds, n_lambdas: int, band: int) -> float:
    reduction = sum(4.2e-11 * (4 / 3) * train.size**3 for train, _ in folds)
    per_lambda = sum(2.4e-10 * train.size * (band**2 + 4 * test.size) for train, test in folds)
    return reduction + n_lambdas * per_lambda


def _eigen_cost(folds, n: int, n_lambdas: int, have_spectrum: bool) -> float:
    decomposition = 0.0 if have_spectrum else 2.0e-10 * n**3
    per_lambda = sum(2.5e-11 * test.size**2 * n + 5e-11 * test.size**3 / 3 for _, test in folds) + 2e-10 * n * n
    return decomposition + n_lambdas * per_lambda


# --- scores and the choice of λ ---------------------------------------------------------
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


def _check_spectrum(s: np.ndarray, lam: float) -> None:
    if s.min() + lam <= 0:
        raise _not_positive_definite(lam)


def _not_positive_definite(lam: float) -> NtkmixedError:
    return NtkmixedError(
        f"K + λI is not positive definite at λ = {lam:.6g}: the kernel has eigenvalues below "
        "−λ (it is not positive semi-definite). Use larger λ values or check the kernel."
    )


def _unidentified_fold(fold: int, label: str = "fold") -> NtkmixedError:
    return NtkmixedError(
        f"Cross-validation {label} {fold}: the training rows do not identify the fixed effects "
        "(a factor level may occur only in the held-out rows). Use fewer folds or other folds."
    )
