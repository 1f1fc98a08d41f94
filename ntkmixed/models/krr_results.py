"""Results of :func:`ntkmixed.krr`: the chosen λ, the cross-validation table, the fit at
the chosen λ, prediction, plots and saving."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..data.design import Design
from ..estimation.ridge import RidgeFit
from ..exceptions import NtkmixedError
from ..kernels.base import Kernel
from ..kernels.trained import TrainedKernel
from . import archive
from .base import DesignResults
from .summary import krr_summary


class KRRResults(DesignResults):
    """Results of :func:`ntkmixed.krr`: the chosen λ, the cross-validation table, the fit
    at the chosen λ (fixed effects, dual coefficients, fitted values) and prediction.

    Made by :func:`ntkmixed.krr` and :func:`ntkmixed.load`.

    Parameters
    ----------
    design : Design
        Rows used, response, fixed-effect design and its formula state.
    trained_kernel : TrainedKernel
        The kernel with its training standardisation and normalisation.
    cv_table : pandas.DataFrame
        Score of every λ on every fold (see :attr:`cv_results`).
    scoring : {"mse", "cor"}
        The cross-validation score.
    cv : str
        How folds were made (``"5-fold"``, ``"loo"``, ``"given folds"``).
    seed : int
        Seed of the fold assignment.
    folds : list of (numpy.ndarray, numpy.ndarray) or None
        The training and test positions of each fold (None for leave-one-out).
    fit : RidgeFit
        The fit at the chosen λ.
    engine : str
        The cross-validation engine used.
    engine_info : dict, optional
        What that engine reports (the matrix-free engine's CG tolerance, iterations and
        largest final residual); empty for the exact engines.
    """

    def __init__(self, design: Design, trained_kernel: TrainedKernel, cv_table: pd.DataFrame, scoring: str,
                 cv: str, seed: int, folds, fit: RidgeFit, engine: str, engine_info: dict | None = None):
        self.design = design
        self.trained_kernel = trained_kernel
        self._cv_table = cv_table
        self.scoring = scoring
        self.cv = cv
        self.seed = seed
        self.folds = folds
        self._fit = fit
        self.engine = engine
        self.engine_info = dict(engine_info or {})

    # --- the choice of λ ----------------------------------------------------------------
    @property
    def lambda_(self) -> float:
        """The ridge parameter chosen by cross-validation."""
        return float(self._fit.lambda_)

    @property
    def lambdas(self) -> np.ndarray:
        """The λ grid that was cross-validated."""
        return self._cv_table.index.to_numpy()

    @property
    def cv_results(self) -> pd.DataFrame:
        """Held-out score of every λ (rows) on every fold (``fold_0`` …), their mean and
        the SE of the mean (SD over folds / √k). Leave-one-out gives ``mean`` and ``se``
        only (see :func:`ntkmixed.krr`)."""
        return self._cv_table.copy()

    @property
    def at_grid_edge(self) -> bool:
        """Whether the chosen λ is the smallest or largest of the grid."""
        lambdas = self.lambdas
        return lambdas.size > 1 and self.lambda_ in (lambdas[0], lambdas[-1])

    # --- the fit at the chosen λ --------------------------------------------------------
    @property
    def kernel(self) -> Kernel:
        """The kernel (its description, as given)."""
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
        return self.trained_kernel.cross_times(new_samples, self.design.samples, self._fit.dual_coef)

    # --- presentation -------------------------------------------------------------------
    def summary(self):
        """The report: λ grid and choice, CV score, fixed effects.

        Returns
        -------
        Summary
            ``str()`` gives a text table, notebooks show HTML, ``.tables`` are DataFrames.
        """
        return krr_summary(self)

    def plot_cv(self, ax=None):
        """Cross-validated score against λ (log scale): every fold, the mean ± 1 SE and the
        chosen λ. Needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes
        """
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
        :func:`ntkmixed.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The archive file to write.
        """
        design_meta, arrays = archive.design_to_archive(self.design)
        kernel_entries, kernel_arrays = archive.kernels_to_archive([self.trained_kernel])
        arrays.update(kernel_arrays)
        arrays.update({"lambdas": self.lambdas, "cv_scores": self._cv_table.to_numpy(),
                       "beta": self._fit.beta, "dual_coef": self._fit.dual_coef})
        for i, (train, test) in enumerate(self.folds or []):
            arrays[f"fold{i}_train"], arrays[f"fold{i}_test"] = train, test
        meta = {
            "kind": "krr", "design": design_meta, "kernels": kernel_entries,
            "krr": {"lambda": self.lambda_, "scoring": self.scoring, "cv": self.cv, "seed": self.seed,
                    "engine": self.engine, "engine_info": self.engine_info, "n_folds": len(self.folds or []),
                    "cv_columns": list(self._cv_table.columns)},
        }
        archive.write_archive(path, meta, arrays)

    def __repr__(self) -> str:
        return (f"<KRRResults {self.formula!r} kernel={self.kernel!r} n={self.nobs} cv={self.cv} "
                f"scoring={self.scoring} lambda={self.lambda_:.4g}>")


def load_krr(meta: dict, arrays: dict[str, np.ndarray]) -> KRRResults:
    """Rebuild :class:`KRRResults` from an archive written by :meth:`KRRResults.save`
    (called by :func:`ntkmixed.load`)."""
    design = archive.design_from_archive(meta["design"], arrays)
    trained = archive.kernels_from_archive(meta["kernels"], arrays)[0]
    info = meta["krr"]
    n_lambdas = len(arrays["lambdas"])
    archive.expect_shapes(arrays, {"beta": (design.X.shape[1],), "dual_coef": (design.n,),
                                   "cv_scores": (n_lambdas, len(info["cv_columns"]))})
    table = pd.DataFrame(arrays["cv_scores"], columns=info["cv_columns"],
                         index=pd.Index(arrays["lambdas"], name="lambda"))
    folds = [(arrays[f"fold{i}_train"], arrays[f"fold{i}_test"]) for i in range(info["n_folds"])] or None
    lam = float(info["lambda"])
    alpha = arrays["dual_coef"]
    fit = RidgeFit(lam, arrays["beta"], alpha, design.y - lam * alpha)
    return KRRResults(design, trained, table, info["scoring"], info["cv"], info["seed"], folds, fit, info["engine"],
                      info.get("engine_info"))


archive.register_kind("krr", load_krr)
