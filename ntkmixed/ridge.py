"""NTK-KRR: kernel ridge regression with the ridge parameter chosen by cross-validation,
from a formula (``ntkmixed.krr``), and its results (:class:`KRRResults`).

The arithmetic lives in :mod:`ntkmixed.estimation.krr`; this module turns a formula, a
data frame and genotypes into arrays (through the same design and kernel code as
``ntkmixed.fit``), validates the options once, and labels what comes back.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._validation import check_option, check_positive_int
from .design import Design, build_design
from .estimation.krr import (
    SCORINGS,
    RidgeFit,
    best_index,
    check_fold_designs,
    check_folds,
    choose_cv_method,
    cv_predictions,
    default_lambdas,
    loo_predictions,
    make_folds,
    ridge_fit,
    ridge_fit_spectral,
    scores,
)
from .exceptions import BoundaryWarning, NtkmixedError, warn
from .fitted import DesignResults
from .kernels.base import Kernel
from .kernels.trained import TrainedKernel, as_kernel_list, train_kernels

Scoring = Literal["mse", "cor"]


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
) -> "KRRResults":
    """Kernel ridge regression with unpenalised fixed effects and a cross-validated ridge.

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
        Seed of the fold assignment (``numpy.random.default_rng``).
    progress : bool, optional
        Progress bars for the kernel build and the folds (default: only on a terminal).
    """
    scoring = check_option(scoring, "scoring", SCORINGS, "krr")
    seed = check_positive_int(seed, "seed", "krr", minimum=0)
    kernel = _single_kernel(kernel)
    if kernel.needs_genotypes and genotypes is None:
        raise NtkmixedError(f"The 'genotypes' argument of krr is required for kernel {kernel!r}. Got None.")
    design = build_design(formula, data, genotypes, "krr", n_parameters_extra=1)
    from .model import _bind, _with_progress

    trained = train_kernels([_with_progress(_bind(kernel, data), progress)], design.samples)[0]
    return _cross_validate(design, trained, lambdas, cv, scoring, seed, progress)


def _cross_validate(design: Design, trained: TrainedKernel, lambdas, cv, scoring: str, seed: int, progress) -> "KRRResults":
    y, X, K = design.y, design.X, trained.matrix
    n = y.size
    grid = _lambda_grid(lambdas, float(np.mean(np.diag(K))))
    spectrum = None
    if isinstance(cv, str):
        check_option(cv, "cv", ("loo",), "krr")
        folds, cv_label = None, "loo"
        spectrum = np.linalg.eigh(K)
        predictions = loo_predictions(y, X, *spectrum, grid)
        table = _loo_table(y, predictions, scoring)
        engine = "eigen"
    else:
        if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
            folds = make_folds(n, check_positive_int(cv, "cv", "krr", minimum=2), seed)
            cv_label = f"{int(cv)}-fold"
        else:
            if hasattr(cv, "split") and callable(cv.split):  # a scikit-learn splitter
                cv = list(cv.split(np.zeros((n, 1)), y))
            folds = check_folds(cv, n, "krr")
            cv_label = f"{len(folds)} user folds"
        check_fold_designs(X, folds)
        engine = choose_cv_method(folds, n, grid.size)
        if engine == "eigen":
            spectrum = np.linalg.eigh(K)
        with _progress(len(folds), progress) as bar:
            predictions = cv_predictions(y, X, K, grid, folds, method=engine, spectrum=spectrum,
                                         on_fold_done=bar.update if bar is not None else None)
        fold_scores = np.column_stack([scores(y[test], pred, scoring) for (_, test), pred in zip(folds, predictions)])
        table = _fold_table(fold_scores)
    table.index = pd.Index(grid, name="lambda")
    best = best_index(table["mean"].to_numpy(), scoring)
    if grid.size > 1 and best in (0, grid.size - 1):
        edge = "smallest" if best == 0 else "largest"
        warn(
            f"The cross-validated λ = {grid[best]:.4g} is the {edge} value of the grid "
            f"[{grid[0]:.4g}, {grid[-1]:.4g}]; the best λ may lie beyond it. Extend 'lambdas'.",
            BoundaryWarning,
        )
    fit = ridge_fit_spectral(y, X, *spectrum, grid[best]) if spectrum is not None else ridge_fit(y, X, K, grid[best])
    return KRRResults(design, trained, table, scoring, cv_label, seed, folds, fit, engine)


def _single_kernel(kernel) -> Kernel:
    if kernel is None:
        from .kernels.ntk import NTK

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


def _fold_table(fold_scores: np.ndarray) -> pd.DataFrame:
    k = fold_scores.shape[1]
    table = pd.DataFrame(fold_scores, columns=[f"fold_{j}" for j in range(k)])
    table["mean"] = fold_scores.mean(axis=1)
    table["se"] = fold_scores.std(axis=1, ddof=1) / np.sqrt(k) if k > 1 else np.nan
    return table


def _loo_table(y: np.ndarray, predictions: np.ndarray, scoring: str) -> pd.DataFrame:
    """Leave-one-out: one score over all n held-out predictions. SE of the MSE is the SE of
    a mean of squared errors; SE of the correlation the large-sample √((1 − r²)/(n − 2))."""
    n = y.size
    mean = scores(y, predictions, scoring)
    if scoring == "mse":
        se = ((predictions - y) ** 2).std(axis=1, ddof=1) / np.sqrt(n)
    else:
        se = np.sqrt(np.clip(1 - mean**2, 0, None) / (n - 2))
    return pd.DataFrame({"mean": mean, "se": se})


def _progress(n_folds: int, progress):
    """A tqdm bar over folds (a context manager), or a null context yielding None."""
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return nullcontext()
    from tqdm.auto import tqdm

    return tqdm(total=n_folds, desc="cross-validation folds", unit="fold")


class KRRResults(DesignResults):
    """Results of :func:`ntkmixed.krr`: the chosen λ, the cross-validation table, the fit
    at the chosen λ (fixed effects, dual coefficients, fitted values) and prediction."""

    def __init__(self, design: Design, trained_kernel: TrainedKernel, cv_table: pd.DataFrame, scoring: str,
                 cv: str, seed: int, folds, fit: RidgeFit, engine: str):
        self.design = design
        self.trained_kernel = trained_kernel
        self._cv_table = cv_table
        self.scoring = scoring
        self.cv = cv
        self.seed = seed
        self.folds = folds
        self._fit = fit
        self.engine = engine

    # --- the choice of λ ----------------------------------------------------------------
    @property
    def lambda_(self) -> float:
        """The ridge parameter chosen by cross-validation."""
        return float(self._fit.lambda_)

    @property
    def lambdas(self) -> np.ndarray:
        return self._cv_table.index.to_numpy()

    @property
    def cv_results(self) -> pd.DataFrame:
        """Held-out score of every λ (rows) on every fold (``fold_0`` …), their mean and
        the SE of the mean (SD over folds / √k). Leave-one-out gives ``mean`` and ``se``
        only (see :func:`ntkmixed.krr`)."""
        return self._cv_table.copy()

    @property
    def at_grid_edge(self) -> bool:
        lambdas = self.lambdas
        return lambdas.size > 1 and self.lambda_ in (lambdas[0], lambdas[-1])

    # --- the fit at the chosen λ --------------------------------------------------------
    @property
    def kernel(self) -> Kernel:
        return self.trained_kernel.kernel

    @cached_property
    def params(self) -> pd.Series:
        """GLS fixed effects at the chosen λ (not penalised)."""
        return pd.Series(self._fit.beta, index=self.design.column_names, name="coef")

    @cached_property
    def dual_coef(self) -> pd.Series:
        """α̂ = (K + λI)⁻¹(y − Xβ̂), by sample ID."""
        return pd.Series(self._fit.dual_coef, index=self.design.ids, name="dual_coef")

    @cached_property
    def fitted(self) -> pd.Series:
        """Xβ̂ + Kα̂ = y − λα̂ on the training people."""
        return pd.Series(self._fit.fitted, index=self.design.ids, name="fitted")

    def _fixed_coefficients(self) -> np.ndarray:
        return self._fit.beta

    def _genetic_prediction(self, new_samples) -> np.ndarray:
        """K(*, train) α̂."""
        return self.trained_kernel.cross(new_samples, self.design.samples) @ self._fit.dual_coef

    # --- presentation -------------------------------------------------------------------
    def summary(self):
        from .summary import Summary, dropped_text

        table = self._cv_table
        best = table.loc[self.lambda_]
        label = {"mse": "mean squared error", "cor": "correlation"}[self.scoring]
        lambdas = self.lambdas
        seed = f", seed {self.seed}" if self.cv.endswith("-fold") else ""
        info = [
            ("Model", "Kernel ridge regression (fixed effects unpenalised)"),
            ("Formula", self.formula),
            ("Kernel", f"{self.kernel!r} [{self.trained_kernel.normalization.rule}]"),
            ("Observations", str(self.nobs)),
            ("Rows dropped", dropped_text(self.design.n_input, self.design.dropped)),
            ("Cross-validation", f"{'leave-one-out' if self.cv == 'loo' else self.cv}{seed}; held-out {label}"),
            ("λ grid", f"{lambdas.size} values from {lambdas[0]:.4g} to {lambdas[-1]:.4g}"),
            ("Chosen λ", f"{self.lambda_:.6g}{' (at the edge of the grid)' if self.at_grid_edge else ''}"),
            ("CV score at λ", f"{best['mean']:.6g} (SE {best['se']:.3g})"),
        ]
        cv_table = table[["mean", "se"]].assign(chosen=np.where(lambdas == self.lambda_, "*", ""))
        tables = {"fixed_effects": self.params.to_frame(), "cv_results": cv_table}
        notes = [
            "α̂ = (K + λI)⁻¹(y − Xβ̂) with β̂ the GLS estimate at V = K + λI; with λ = σ²_e/σ²_g "
            "the predictions equal the kernel LMM's.",
            "CV score: mean over folds of the held-out score; SE = SD over folds / √k.",
        ]
        return Summary("Kernel ridge regression results", info, tables, notes)

    def plot_cv(self, ax=None):
        """Cross-validated score against λ (log scale): every fold, the mean ± 1 SE and the
        chosen λ. Needs matplotlib; returns the Axes."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise NtkmixedError("plot_cv needs matplotlib (pip install matplotlib).") from None
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        table, lambdas = self._cv_table, self.lambdas
        for j, column in enumerate(c for c in table.columns if c.startswith("fold_")):
            ax.plot(lambdas, table[column], color="0.75", linewidth=0.8, label="folds" if j == 0 else None)
        mean, se = table["mean"].to_numpy(), table["se"].to_numpy()
        ax.fill_between(lambdas, mean - se, mean + se, color="C0", alpha=0.25, label="mean ± 1 SE")
        ax.plot(lambdas, mean, color="C0", marker="o", markersize=3)
        ax.axvline(self.lambda_, color="C3", linestyle="--", label=f"chosen λ = {self.lambda_:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("λ (ridge parameter)")
        ax.set_ylabel({"mse": "held-out mean squared error", "cor": "held-out correlation"}[self.scoring])
        ax.set_title(f"{'Leave-one-out' if self.cv == 'loo' else self.cv} cross-validation")
        ax.legend(frameon=False)
        return ax

    def save(self, path) -> None:
        """Save to ``path`` (``.npz`` with a JSON header, no pickle); load with
        :func:`ntkmixed.load`."""
        from .io import design_to_archive, kernels_to_archive, write_archive

        design_meta, arrays = design_to_archive(self.design)
        kernel_entries, kernel_arrays = kernels_to_archive([self.trained_kernel])
        arrays.update(kernel_arrays)
        arrays.update({"lambdas": self.lambdas, "cv_scores": self._cv_table.to_numpy(),
                       "beta": self._fit.beta, "dual_coef": self._fit.dual_coef})
        for i, (train, test) in enumerate(self.folds or []):
            arrays[f"fold{i}_train"], arrays[f"fold{i}_test"] = train, test
        meta = {
            "kind": "krr", "design": design_meta, "kernels": kernel_entries,
            "krr": {"lambda": self.lambda_, "scoring": self.scoring, "cv": self.cv, "seed": self.seed,
                    "engine": self.engine, "n_folds": len(self.folds or []),
                    "cv_columns": list(self._cv_table.columns)},
        }
        write_archive(path, meta, arrays)

    def __repr__(self) -> str:
        return (f"<KRRResults {self.formula!r} kernel={self.kernel!r} n={self.nobs} cv={self.cv} "
                f"scoring={self.scoring} lambda={self.lambda_:.4g}>")


def load_krr(meta: dict, arrays: dict[str, np.ndarray]) -> KRRResults:
    """Rebuild :class:`KRRResults` from an archive written by :meth:`KRRResults.save`
    (called by :func:`ntkmixed.load`)."""
    from .io import design_from_archive, kernels_from_archive

    design = design_from_archive(meta["design"], arrays)
    trained = kernels_from_archive(meta["kernels"], arrays)[0]
    info = meta["krr"]
    table = pd.DataFrame(arrays["cv_scores"], columns=info["cv_columns"],
                         index=pd.Index(arrays["lambdas"], name="lambda"))
    folds = [(arrays[f"fold{i}_train"], arrays[f"fold{i}_test"]) for i in range(info["n_folds"])] or None
    lam = float(info["lambda"])
    alpha = arrays["dual_coef"]
    fit = RidgeFit(lam, arrays["beta"], alpha, design.y - lam * alpha)
    return KRRResults(design, trained, table, info["scoring"], info["cv"], info["seed"], folds, fit, info["engine"])
