"""Cross-validation folds: seeded k-fold splits and checks of user-supplied
(train, test) position pairs."""

from __future__ import annotations

import numpy as np

from ...exceptions import NtkmixedError


def make_folds(n: int, n_folds: int, seed: int, ranks: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """KFold-like split: rows shuffled by ``numpy.random.default_rng(seed)``, then cut into
    ``n_folds`` consecutive blocks whose sizes differ by at most one (the first ``n %
    n_folds`` blocks are one larger). Indices within each block are sorted.

    ``ranks`` (a permutation of 0…n−1: the rank of each row by some label, such as its
    sample ID) makes the folds follow the labels instead of the row positions: the shuffle
    permutes ranks, so reordering the rows moves each row's fold with it."""
    if not 2 <= n_folds <= n:
        raise NtkmixedError(f"Cross-validation needs 2 <= folds <= n = {n}. Got {n_folds} folds.")
    order = np.random.default_rng(seed).permutation(n)
    if ranks is not None:
        order = np.argsort(ranks, kind="stable")[order]  # the rows holding those ranks
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
