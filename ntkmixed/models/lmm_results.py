"""Results of a kernel LMM fit: labelled pandas views of the estimates, prediction for new
people, and saving.

β̂, its covariance, Py and the BLUPs are taken from the engine's state when the results
are created; prediction-error variances on first use (they are n-sized and, for some
engines, costly). Every labelled view is a cached property built from these arrays, so
saved-and-loaded results behave exactly like fresh ones.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from .._runtime import json_plain
from ..data.design import Design
from ..estimation import EngineChoice, VarianceFit
from ..exceptions import NtkmixedError
from ..kernels.trained import TrainedKernel
from . import archive
from .base import DesignResults
from .fit_arrays import FitArrays
from .heritability import HeritabilityBasis, HeritabilityViews
from .summary import lmm_summary

#: what archives written before engines were recorded fitted with (all were dense)
UNRECORDED_ENGINE = EngineChoice("dense", "not recorded (saved before ntkmixed recorded engines; all such fits were dense)")


class LMMResults(HeritabilityViews, DesignResults):
    """Results of :func:`ntkmixed.fit`.

    Labelled pandas views, computed when first asked for: fixed effects (:attr:`params`,
    :attr:`bse`, :attr:`fixed_effects`), variance components, heritability (:attr:`h2`,
    :attr:`h2_se`, :attr:`heritability`), BLUPs (:attr:`blup`, :attr:`blup_pev`),
    :meth:`predict` for new people, :meth:`summary` and :meth:`save`. Made by
    :func:`ntkmixed.fit` and :func:`ntkmixed.load`.

    Parameters
    ----------
    design : Design
        Rows used, response, fixed-effect design and its formula state.
    trained_kernels : list of TrainedKernel
        Each kernel with its training standardisation and normalisation.
    component_names : list of str
        Name of each genetic variance component.
    variance_fit : VarianceFit
        What the estimator returned: θ̂, its covariance, convergence, boundary.
    arrays : FitArrays
        β̂, Cov(β̂), P̂y, BLUPs and prediction-error variances at θ̂.
    engine : EngineChoice
        The engine that did the linear algebra and why.
    engine_info : dict, optional
        What the engine reports about its own work (e.g. a rank).
    heritability_basis : HeritabilityBasis, optional
        The h² definition, the factors D_k, kernel diagnostics and the profile likelihood
        (default: what models saved before these were recorded imply).
    """

    def __init__(
        self,
        design: Design,
        trained_kernels: list[TrainedKernel],
        component_names: list[str],
        variance_fit: VarianceFit,
        arrays: FitArrays,
        engine: EngineChoice = UNRECORDED_ENGINE,
        engine_info: dict | None = None,
        heritability_basis: HeritabilityBasis | None = None,
    ):
        self.design = design
        self.trained_kernels = trained_kernels
        self.component_names = list(component_names)
        self.variance_fit = variance_fit
        self.arrays = arrays
        self._engine = engine
        self._engine_info = dict(engine_info or {})
        #: the h² definition, the factors D_k, kernel diagnostics and the profile likelihood
        self.heritability_basis = heritability_basis or HeritabilityBasis.unrecorded()

    @classmethod
    def from_fit(cls, model, variance_fit: VarianceFit, state, engine: EngineChoice,
                 engine_info: dict | None = None,
                 heritability_basis: HeritabilityBasis | None = None) -> "LMMResults":
        """Results of ``model`` at the estimates (used by :meth:`KernelLMM.fit`).

        Parameters
        ----------
        model : KernelLMM
            The fitted model.
        variance_fit : VarianceFit
            The estimator's output.
        state : State
            The engine's linear algebra at θ̂.
        engine : EngineChoice
            The engine used and why.
        engine_info : dict, optional
            What the engine reports about its own work.
        heritability_basis : HeritabilityBasis, optional
            The h² definition, D_k, kernel diagnostics and profile likelihood.

        Returns
        -------
        LMMResults
        """
        arrays = FitArrays.from_state(state, len(model.component_names))
        trained = [t.detached() for t in model.trained_kernels]  # results hold no n×n matrix
        return cls(model.design, trained, model.component_names, variance_fit, arrays, engine, engine_info,
                   heritability_basis)

    # --- identity and diagnostics ---------------------------------------------------
    @property
    def method(self) -> str:
        """The estimator (``"minque1"``, ``"minque0"``, ``"reml"``, ``"minque1-one-step"``)."""
        return self.variance_fit.method

    @property
    def converged(self) -> bool:
        """Whether the iterative estimator converged."""
        return bool(self.variance_fit.converged)

    @property
    def iterations(self) -> int:
        """Number of iterations the estimator used."""
        return int(self.variance_fit.iterations)

    @property
    def constrain(self) -> bool:
        """Whether the components were held ≥ 0."""
        return bool(self.variance_fit.constrain)

    @property
    def engine(self) -> str:
        """The engine that did the linear algebra (``fit(engine=...)``)."""
        return self._engine.name

    @property
    def engine_reason(self) -> str:
        """Why that engine was used."""
        return self._engine.reason

    @property
    def engine_info(self) -> dict:
        """What the engine reports about its own work (low-rank: the rank; matrix-free:
        probes, CG iterations, Monte-Carlo SEs); empty for the dense engine."""
        return dict(self._engine_info)

    @property
    def kernels(self) -> list:
        """The kernels, one per genetic component (descriptions, as given)."""
        return [t.kernel for t in self.trained_kernels]

    @property
    def loglik(self) -> float:
        """REML log-likelihood at the estimates (NaN where V̂ is not positive definite)."""
        return float(self.variance_fit.loglik)

    @cached_property
    def boundary(self) -> pd.Series:
        """Whether each component (and the residual) was held at zero."""
        return pd.Series(self.variance_fit.boundary.astype(bool), index=self._vc_index, name="boundary")

    # --- fixed effects ----------------------------------------------------------------
    @cached_property
    def params(self) -> pd.Series:
        """GLS fixed effects β̂ = (XᵀV̂⁻¹X)⁻¹XᵀV̂⁻¹y, by formula column."""
        return pd.Series(self.arrays.beta, index=self.design.column_names, name="coef")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Cov(β̂) = (XᵀV̂⁻¹X)⁻¹."""
        names = self.design.column_names
        return pd.DataFrame(self.arrays.cov_beta, index=names, columns=names)

    @cached_property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self.arrays.cov_beta)), index=self.design.column_names, name="se")

    @cached_property
    def zvalues(self) -> pd.Series:
        """Wald statistics β̂ / SE."""
        return (self.params / self.bse).rename("z")

    @cached_property
    def pvalues(self) -> pd.Series:
        """Two-sided normal p-values of the Wald statistics."""
        return pd.Series(2.0 * stats.norm.sf(np.abs(self.zvalues.to_numpy())), index=self.params.index, name="p")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals for the fixed effects.

        Parameters
        ----------
        alpha : float, default 0.05
            One minus the coverage, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, one row per formula column.
        """
        if not 0 < alpha < 1:
            raise NtkmixedError(f"The 'alpha' parameter of conf_int must be in (0, 1). Got {alpha!r}.")
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame(
            {"lower": self.params - z * self.bse, "upper": self.params + z * self.bse}
        )

    @cached_property
    def fixed_effects(self) -> pd.DataFrame:
        """Coefficient table: coef, se, z, p and the 95% interval."""
        ci = self.conf_int()
        return pd.DataFrame(
            {"coef": self.params, "se": self.bse, "z": self.zvalues, "p": self.pvalues,
             "ci_lower": ci["lower"], "ci_upper": ci["upper"]}
        )

    # --- variance components and heritability ----------------------------------------
    @property
    def _vc_index(self) -> list[str]:
        return self.component_names + ["residual"]

    @cached_property
    def variance_components(self) -> pd.DataFrame:
        """θ̂ (each genetic component and the residual) with standard errors."""
        theta = self.variance_fit.theta
        se = np.sqrt(np.clip(np.diag(self.variance_fit.cov), 0, None))
        return pd.DataFrame({"estimate": theta, "se": se}, index=pd.Index(self._vc_index, name="component"))

    @cached_property
    def variance_components_cov(self) -> pd.DataFrame:
        """Estimated covariance of θ̂ (sandwich for MINQUE, inverse information for REML)."""
        return pd.DataFrame(self.variance_fit.cov, index=self._vc_index, columns=self._vc_index)

    @property
    def implied_lambda(self) -> float:
        """Ridge parameter λ = σ²_e / σ²_g implied by a single-kernel fit (KRR with this λ
        gives the same predictions; Ge & Lu, Proposition 1)."""
        if len(self.component_names) != 1:
            raise NtkmixedError("implied_lambda is defined for single-kernel models only.")
        sigma_g, sigma_e = self.variance_fit.theta
        return float(sigma_e / sigma_g) if sigma_g > 0 else float("inf")

    # --- random effects -----------------------------------------------------------
    @cached_property
    def blup_components(self) -> pd.DataFrame:
        """ĝ_k = σ̂²_k K_k P̂ y for each genetic component, by sample ID."""
        return pd.DataFrame(self.arrays.blup, index=self.design.ids, columns=self.component_names)

    @cached_property
    def blup(self) -> pd.Series:
        """Total genetic value Σ_k ĝ_k, by sample ID."""
        return pd.Series(self.arrays.blup.sum(axis=1), index=self.design.ids, name="blup")

    @cached_property
    def blup_pev(self) -> pd.DataFrame:
        """Prediction-error variances Var(g − ĝ) per component and for the total."""
        frame = pd.DataFrame(self.arrays.pev, index=self.design.ids, columns=self.component_names)
        frame["total"] = self.arrays.pev_total
        return frame

    @cached_property
    def fitted(self) -> pd.Series:
        """Xβ̂ + Σ_k ĝ_k (conditional fitted values, as lme4's ``fitted``)."""
        values = self.design.X @ self.arrays.beta + self.arrays.blup.sum(axis=1)
        return pd.Series(values, index=self.design.ids, name="fitted")

    # --- prediction -----------------------------------------------------------------
    def _fixed_coefficients(self) -> np.ndarray:
        return self.arrays.beta

    def _genetic_prediction(self, new_samples) -> np.ndarray:
        """Σ_k σ̂²_k K_k(*, train) V̂⁻¹(y − Xβ̂): conditional mean of the new genetic values."""
        genetic = np.zeros(len(new_samples.ids))
        train = self.design.samples
        for weight, trained in zip(self.variance_fit.theta[:-1], self.trained_kernels):
            genetic += weight * trained.cross_times(new_samples, train, self.arrays.Py)
        return genetic

    # --- presentation and persistence -------------------------------------------------
    def summary(self):
        """The report: fit facts, fixed effects, variance components, heritability.

        Returns
        -------
        Summary
            ``str()`` gives a text table, notebooks show HTML, ``.tables`` are DataFrames.
        """
        return lmm_summary(self)

    def save(self, path) -> None:
        """Save to ``path`` (a ``.npz`` archive with a JSON header; no pickle). Load with
        :func:`ntkmixed.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The archive file to write.
        """
        design_meta, arrays = archive.design_to_archive(self.design)
        kernel_entries, kernel_arrays = archive.kernels_to_archive(self.trained_kernels)
        arrays.update(kernel_arrays)
        fit, a = self.variance_fit, self.arrays
        arrays.update({
            "theta": fit.theta, "theta_cov": fit.cov, "boundary": fit.boundary,
            "beta": a.beta, "cov_beta": a.cov_beta, "Py": a.Py, "blup": a.blup, "pev": a.pev, "pev_total": a.pev_total,
        })
        meta = {
            "kind": "lmm", "design": design_meta, "kernels": kernel_entries,
            "component_names": self.component_names,
            "fit": {"method": fit.method, "converged": bool(fit.converged), "iterations": int(fit.iterations),
                    "final_change": float(fit.final_change), "constrain": bool(fit.constrain),
                    "loglik": float(fit.loglik)},
            "engine": {"name": self.engine, "reason": self.engine_reason, "info": json_plain(self._engine_info)},
        }
        meta["heritability"], h2_arrays = self.heritability_basis.to_archive()
        arrays.update(h2_arrays)
        archive.write_archive(path, meta, arrays)

    @classmethod
    def from_archive(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "LMMResults":
        """Rebuild results written by :meth:`save` (called by :func:`ntkmixed.load`).

        Parameters
        ----------
        meta : dict
            The archive's JSON header.
        arrays : dict of numpy.ndarray
            The archive's arrays.

        Returns
        -------
        LMMResults
        """
        design = archive.design_from_archive(meta["design"], arrays)
        trained = archive.kernels_from_archive(meta["kernels"], arrays)
        n, k, c = design.n, design.X.shape[1], len(meta["component_names"])
        archive.expect_shapes(arrays, {
            "theta": (c + 1,), "theta_cov": (c + 1, c + 1), "boundary": (c + 1,), "beta": (k,), "cov_beta": (k, k),
            "Py": (n,), "blup": (n, c), "pev": (n, c), "pev_total": (n,)})
        f = meta["fit"]
        variance_fit = VarianceFit(
            theta=arrays["theta"], cov=arrays["theta_cov"], method=f["method"], converged=f["converged"],
            iterations=f["iterations"], final_change=f["final_change"], boundary=arrays["boundary"].astype(bool),
            constrain=f["constrain"], loglik=f["loglik"])
        fit_arrays = FitArrays(arrays["beta"], arrays["cov_beta"], arrays["Py"], arrays["blup"],
                               pev=arrays["pev"], pev_total=arrays["pev_total"])
        engine = meta.get("engine")
        choice = EngineChoice(engine["name"], engine["reason"]) if engine else UNRECORDED_ENGINE
        info = engine.get("info", {}) if engine else {}
        basis = HeritabilityBasis.from_archive(meta.get("heritability"), arrays)
        return cls(design, trained, meta["component_names"], variance_fit, fit_arrays, choice, info, basis)

    def __repr__(self) -> str:
        kernels = ", ".join(map(repr, self.kernels))
        return (
            f"<LMMResults {self.formula!r} kernel=[{kernels}] method={self.method} n={self.nobs} "
            f"h2={self.h2:.3f} (SE {self.h2_se:.3f})>"
        )


archive.register_kind("lmm", LMMResults.from_archive)
