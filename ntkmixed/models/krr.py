"""NTK-KRR from a formula (``ntkmixed.krr``): kernel ridge regression with the ridge
parameter chosen by cross-validation.

The arithmetic lives in :mod:`ntkmixed.estimation.ridge`; this module turns a formula, a
data frame and genotypes into arrays (through the same design and kernel code as
``ntkmixed.fit``), validates the options once, and labels what comes back
(:class:`~ntkmixed.models.krr_results.KRRResults`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from .._runtime import progress_context
from .._validation import Boolean, Options, check, check_seed, shown, validate_params
from ..data.design import Design
from ..estimation.ridge import (SCORINGS, auto_cv_engine, check_fold_designs, check_folds, cross_validate,
                                default_lambdas, make_folds)
from ..exceptions import BoundaryWarning, ConvergenceWarning, NtkmixedError, warn
from ..kernels.base import Kernel
from ..kernels.ntk import NTK
from ..kernels.trained import TrainedKernel, as_kernel_list
from .kernel_setup import KernelData, prepare
from .krr_results import KRRResults
from .scaling import Scaling

Scoring = Literal["mse", "cor"]
#: how the folds are solved: exact (factor or n×n algebra) or by conjugate gradients
KRR_ENGINES = ("auto", "exact", "matrix-free")


@validate_params("krr", scoring=Options(SCORINGS), progress=[Boolean(), None], engine=Options(KRR_ENGINES))
def krr(
    formula: str,
    data: Any,
    genotypes: Any = None,
    kernel: Kernel | None = None,
    lambdas: Any = None,
    cv: int | str | Any = 5,
    scoring: Scoring = "mse",
    seed: int = 0,
    progress: bool | None = None,
    engine: str = "auto",
) -> KRRResults:
    """Kernel ridge regression with unpenalised fixed effects and a cross-validated ridge::

        α̂ = (K + λI)⁻¹ (y − Xβ̂_λ),   β̂_λ = (XᵀV⁻¹X)⁻¹XᵀV⁻¹y with V = K + λI,
        ŷ* = X*β̂_λ + K(*, train) α̂.

    With λ = σ²_e/σ²_g the predictions equal those of the kernel LMM (``ntkmixed.fit``;
    Ge & Lu, Proposition 1).

    Parameters
    ----------
    formula : str
        ``"y ~ sex + age"``: response and (unpenalised) fixed effects; ``"y ~ 0"`` for
        none (plain kernel ridge regression, as scikit-learn's ``KernelRidge``).
    data, genotypes
        As for :func:`ntkmixed.fit`.
    kernel : Kernel
        One kernel; default ``NTK()`` (empirical NTK, depth 2, width 2000, seed 0, as
        NTK-KRR in the paper).
    lambdas : sequence of float, optional
        Grid of ridge parameters (> 0), sorted ascending. Default: 30 log-spaced values
        from 0.005 to 200 times the kernel's mean diagonal, i.e. h² = 1/(1 + λ) from 0.995
        to 0.005 on a normalised kernel. A λ chosen at either end of the grid warns
        (:class:`~ntkmixed.exceptions.BoundaryWarning`).
    cv : int, "loo", list of (train_indices, test_indices) or a scikit-learn splitter
        Number of folds (rows shuffled by ``seed``), exact leave-one-out, or explicit
        scikit-learn-style folds (integer positions into the rows used by the model,
        i.e. after rows with missing values are dropped). Every λ is scored on every fold.
    scoring : {"mse", "cor"}
        Held-out mean squared error (minimised) or Pearson correlation (maximised), each
        averaged over folds.
    seed : int
        Seed of the fold assignment (``numpy.random.default_rng``) and of the matrix-free
        engine's Nyström sketch, in [0, 2**63 − 1].
        Folds are drawn over the people ordered by sample ID, not by row: permuting the
        rows of ``data`` leaves the folds (and the chosen λ) unchanged; relabelling the
        people changes them unless it keeps the IDs' order.
    progress : bool, optional
        Progress bars for the kernel build and the folds (default: only on a terminal).
    engine : {"auto", "exact", "matrix-free"}
        ``"exact"``: from a low-rank factor when the kernel is one (a ``Nystrom`` or
        ``PrecomputedFactor`` kernel, a GRM on fewer SNPs than people), else from the n×n
        kernel (one eigendecomposition or a band reduction per fold). ``"matrix-free"``:
        the kernel is used through products K·V only (a GRM streamed from PLINK, an
        analytic NTK evaluated tile by tile; no n×n matrix): every fold at every λ by
        preconditioned conjugate gradients in one stacked solve, to relative residual
        1e-6, reported in ``res.engine_info``; k-fold or explicit folds only. ``"auto"``
        (default) is exact unless its arrays (the factor, or the n×n matrices for a
        kernel without one) would need more than half the available memory.

    Returns
    -------
    KRRResults
        The chosen λ, the score of every λ on every fold, the fit at the chosen λ and
        prediction for new people.
    """
    seed = check_seed(seed, "seed", "krr")
    prepared = prepare(formula, data, genotypes, _single_kernel(kernel), "krr", progress, n_parameters_extra=1)
    return _cross_validate(prepared.design, prepared.trained_kernels[0], lambdas, cv, scoring, seed, progress,
                           engine)


def krr_on(prepared: KernelData, lambdas: Any = None, cv: int | str | Any = 5, scoring: Scoring = "mse",
           seed: int = 0, progress: bool | None = None, engine: str = "auto") -> KRRResults:
    """:func:`krr` on an already prepared design and kernel (for example the one an LMM
    was fitted on: the kernel is not rebuilt and its eigendecomposition is reused)."""
    scoring = check(scoring, "scoring", "krr", Options(SCORINGS))
    engine = check(engine, "engine", "krr", Options(KRR_ENGINES))
    seed = check_seed(seed, "seed", "krr")
    _single_kernel([t.kernel for t in prepared.trained_kernels])
    return _cross_validate(prepared.design, prepared.trained_kernels[0], lambdas, cv, scoring, seed, progress,
                           engine)


def _cross_validate(design: Design, trained: TrainedKernel, lambdas, cv, scoring: str, seed: int,
                    progress: bool | None, engine: str) -> KRRResults:
    operator = trained.operator
    grid = _lambda_grid(lambdas, float(np.mean(operator.diagonal())))
    folds, cv_label = _folds(cv, design, seed)
    engine = _cv_engine(engine, operator, design.n, folds)
    n_folds = 0 if folds is None else len(folds)
    with progress_context(n_folds, "cross-validation folds", progress if n_folds else False, unit="fold") as bar:
        # y and X scaled by powers of two (models/scaling.py): λ does not depend on units
        scaling = Scaling.of(design.y, design.X)
        outcome = scaling.cross_validation(
            cross_validate(scaling.y(design.y), scaling.X(design.X), operator, grid, folds, scoring,
                           on_fold_done=bar.update if bar is not None else None, engine=engine, seed=seed),
            scoring)
    info = outcome.engine_info
    if info and max(info["cg_residual_max"], info["refit_cg_residual"]) > info["cg_tol"]:
        warn(f"Conjugate gradients stopped before the tolerance {info['cg_tol']:g}: largest relative residual "
             f"{max(info['cg_residual_max'], info['refit_cg_residual']):.3g}. The scores may be inexact; see "
             "res.engine_info.", ConvergenceWarning)
    if grid.size > 1 and outcome.best in (0, grid.size - 1):
        edge = "smallest" if outcome.best == 0 else "largest"
        warn(
            f"The cross-validated λ = {grid[outcome.best]:.4g} is the {edge} value of the grid "
            f"[{grid[0]:.4g}, {grid[-1]:.4g}]; the best λ may lie beyond it. Extend 'lambdas'.",
            BoundaryWarning,
        )
    return KRRResults(design, trained.detached(), _score_table(outcome), scoring, cv_label, seed, folds, outcome.fit,
                      outcome.engine, outcome.engine_info)


def _cv_engine(requested: str, operator, n: int, folds) -> str:
    """``"exact"`` or ``"matrix-free"`` for the ``engine`` argument (see :func:`krr`)."""
    if requested == "matrix-free" and folds is None:
        raise NtkmixedError("The 'cv' parameter of krr cannot be 'loo' with engine='matrix-free' (n solves of "
                            "size n − 1); use k folds, e.g. cv=10, or engine='exact'.")
    if requested != "auto":
        return requested
    return "exact" if folds is None else auto_cv_engine(operator, n)


def _folds(cv, design: Design, seed: int) -> tuple[list | None, str]:
    """``(folds or None for leave-one-out, label)`` from the ``cv`` argument."""
    n = design.n
    if isinstance(cv, str) and cv == "loo":
        return None, "loo"
    if isinstance(cv, (str, bool, float, np.bool_, np.floating)) or (
            isinstance(cv, (int, np.integer)) and cv < 2):
        raise NtkmixedError(
            "The 'cv' parameter of krr must be an integer >= 2, 'loo', a list of (train_indices, "
            f"test_indices) pairs or a scikit-learn splitter. Got {shown(cv)} instead."
        )
    if isinstance(cv, (int, np.integer)):
        if cv > n:
            raise NtkmixedError(f"The 'cv' parameter of krr asks for {int(cv)} folds, but the model uses {n} rows.")
        folds = make_folds(n, int(cv), seed, ranks=id_ranks(design.ids))
        label = f"{int(cv)}-fold"
    else:
        if hasattr(cv, "split") and callable(cv.split):  # a scikit-learn splitter
            cv = list(cv.split(np.zeros((n, 1)), design.y))
        folds = check_folds(cv, n, "krr")
        label = f"{len(folds)} user folds"
    check_fold_designs(design.X, folds)
    return folds, label


def id_ranks(ids: pd.Index) -> np.ndarray:
    """Rank of each row's sample ID (numbers before text, each in its natural order), so
    that folds depend on who the people are, not on the order of the rows."""
    def key(position: int):
        value = ids[position]
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, float(value), str(value))
        return (1 if isinstance(value, str) else 2, 0.0, f"{type(value).__name__}:{value}")

    order = sorted(range(len(ids)), key=key)
    ranks = np.empty(len(ids), dtype=np.intp)
    ranks[order] = np.arange(len(ids))
    return ranks


def _score_table(outcome) -> pd.DataFrame:
    """Every λ (rows): per-fold scores (k-fold CV only), their mean and SE."""
    table = pd.DataFrame(index=pd.Index(outcome.lambdas, name="lambda"))
    if outcome.fold_scores is not None:
        for j in range(outcome.fold_scores.shape[1]):
            table[f"fold_{j}"] = outcome.fold_scores[:, j]
    table["mean"] = outcome.mean
    table["se"] = outcome.se
    return table


def _single_kernel(kernel) -> Kernel:
    if kernel is None:
        return NTK()
    kernels = as_kernel_list(kernel, "krr")
    if len(kernels) != 1:
        raise NtkmixedError(
            f"The 'kernel' argument of krr must be one kernel (kernel ridge regression has one "
            f"ridge parameter). Got {len(kernels)} kernels; use ntkmixed.fit for several."
        )
    return kernels[0]


def _lambda_grid(lambdas, scale: float) -> np.ndarray:
    if lambdas is None:
        return default_lambdas(scale)
    try:
        grid = np.atleast_1d(np.asarray(lambdas, dtype=np.float64))
    except (TypeError, ValueError):
        raise NtkmixedError(f"The 'lambdas' parameter of krr must be numbers > 0. Got {lambdas!r}.") from None
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise NtkmixedError(
            f"The 'lambdas' parameter of krr must be a non-empty 1-D sequence of finite numbers > 0. "
            f"Got {np.asarray(lambdas).tolist()!r}."
        )
    grid = np.sort(grid)
    if np.any(np.diff(grid) == 0):
        raise NtkmixedError(f"The 'lambdas' parameter of krr has repeated values: {grid[np.diff(grid, prepend=-1) == 0].tolist()}.")
    return grid
