"""The kernel linear mixed model and its formula entry point ``ntkmixed.fit``."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._validation import MAX_SEED, Boolean, Constraint, Interval, Options, validate_params
from ..data.design import Design
from ..estimation import ESTIMATORS, build_problem
from ..estimation.engines import engine_names
from ..exceptions import BoundaryWarning, ConvergenceWarning, IdentifiabilityWarning, NtkmixedError, warn
from ..kernels.base import Kernel
from ..kernels.grm import GRM
from ..kernels.trained import TrainedKernel
from .heritability import DEFINITIONS, HeritabilityBasis
from .kernel_setup import KernelData, prepare
from .lmm_results import LMMResults
from .scaling import Scaling

Method = Literal["minque0", "minque1", "reml", "minque1-one-step"]

class EngineObject(Constraint):
    """An engine with its own options, e.g. ``ntkmixed.HODLR(tol=1e-10)``."""

    description = "an engine object (such as ntkmixed.HODLR(tol=1e-10))"

    def accepts(self, value: Any) -> bool:
        return all(hasattr(value, name) for name in ("name", "unsuitable", "auto_reason", "build"))


#: the options of ``fit`` and ``KernelLMM.fit``, checked before any computation
FIT_OPTIONS = {
    "method": Options(ESTIMATORS),
    "constrain": Boolean(),
    "tol": Interval("real", 0, None, closed="neither"),
    "max_iter": Interval("int", 1),
    "engine": [Options(engine_names), EngineObject()],
    "h2_definition": Options(DEFINITIONS),
    "probes": [Interval("int", 2), None],
    "seed": Interval("int", 0, MAX_SEED),
}


class KernelLMM:
    """Kernel linear mixed model

        y = X β + Σ_k g_k + e,   g_k ~ N(0, σ²_k K_k),   e ~ N(0, σ²_e I)

    with X from the formula's right-hand side and one normalised kernel K_k per
    variance component. Build it with :meth:`from_formula`; :meth:`fit` estimates
    θ = (σ²_1, …, σ²_c, σ²_e) and returns :class:`~ntkmixed.LMMResults`.
    :func:`ntkmixed.fit` does both.

    Parameters
    ----------
    design : Design
        Rows used, response and fixed-effect design (from the formula).
    trained_kernels : list of TrainedKernel
        Each kernel with its training standardisation and normalisation.
    names : list of str
        Name of each genetic variance component.
    """

    def __init__(self, design: Design, trained_kernels: list[TrainedKernel], names: list[str]):
        self.design = design
        self.trained_kernels = trained_kernels
        self.component_names = names

    @classmethod
    def from_formula(
        cls, formula: str, data: Any, genotypes: Any = None, kernel: Any = None, progress: bool | None = None
    ) -> "KernelLMM":
        """The model of a formula on data and genotypes, with its kernels built.

        Parameters
        ----------
        formula, data, genotypes, kernel, progress
            As for :func:`ntkmixed.fit`.

        Returns
        -------
        KernelLMM
        """
        return cls.from_kernel_data(prepare(formula, data, genotypes, GRM() if kernel is None else kernel, "fit", progress))

    @classmethod
    def from_kernel_data(cls, prepared: KernelData) -> "KernelLMM":
        """The model on a prepared design and trained kernels (shared with a KRR, say).

        Parameters
        ----------
        prepared : KernelData
            Design and trained kernels from ``models.kernel_setup.prepare``.

        Returns
        -------
        KernelLMM
        """
        _warn_if_mean_is_unidentified(prepared.design, prepared.trained_kernels, prepared.component_names)
        for trained in prepared.trained_kernels:
            message = trained.kernel.identifiability_warning()
            if message:
                warn(message, IdentifiabilityWarning)
        return cls(prepared.design, prepared.trained_kernels, prepared.component_names)

    @validate_params("fit", **FIT_OPTIONS)
    def fit(
        self,
        method: Method = "minque1",
        constrain: bool = True,
        tol: float = 1e-8,
        max_iter: int = 200,
        engine: str = "auto",
        h2_definition: str = "sample-variance",
        probes: int | None = None,
        seed: int = 0,
    ) -> LMMResults:
        """Estimate the variance components, then β̂ and the BLUPs at them.

        Parameters
        ----------
        method, constrain, tol, max_iter, engine, h2_definition
            As for :func:`ntkmixed.fit`.

        Returns
        -------
        LMMResults
        """
        # the engine sees y and X scaled by powers of two (models/scaling.py), so that
        # estimates do not depend on the units of the data
        scaling = Scaling.of(self.design.y, self.design.X)
        scaling.check_variances_representable(self.design.response_name, "fit")
        y = scaling.y(self.design.y)
        operators = [t.operator for t in self.trained_kernels]
        options = {"seed": seed, **({"probes": probes} if probes is not None else {})}
        problem, choice = build_problem(y, scaling.X(self.design.X), operators, engine, "fit", options)
        estimators = getattr(problem, "estimators", ESTIMATORS)  # an engine may bring its own
        if method not in estimators:
            raise NtkmixedError(f"The 'method' {method!r} is not available with the {choice.name!r} engine; "
                                f"use one of {sorted(estimators)}.")
        if probes is not None and not hasattr(problem, "n_probes"):
            warn(f"probes={probes} is used only by the matrix-free engine; the {choice.name!r} engine computes "
                 "traces exactly.", UserWarning)
        variance_fit = estimators[method](problem, constrain=constrain, tol=tol, max_iter=max_iter)
        if not variance_fit.converged:
            warn(f"{method} did not converge in {variance_fit.iterations} iterations (last relative "
                f"change {variance_fit.final_change:.3g}, tolerance {tol:g}).", ConvergenceWarning)
        at_boundary = [n for n, b in zip(self.component_names + ["residual"], variance_fit.boundary) if b]
        if at_boundary:
            warn(f"Variance component(s) {at_boundary} were held at the boundary (zero); their "
                "standard errors describe the unconstrained estimator.", BoundaryWarning)
        weights = variance_fit.theta.copy()
        if variance_fit.boundary[-1]:  # σ²_e held at 0: keep V invertible for β̂ and BLUPs
            weights[-1] = 1e-9 * float(np.var(y))
        state = scaling.state(problem.state(weights))
        unscaled = scaling.variance_fit(variance_fit, self.design.n, self.design.X.shape[1])
        info = scaling.engine_info(problem.engine_info()) if hasattr(problem, "engine_info") else {}
        # after the estimator: a one-kernel engine has cached the eigendecomposition that
        # the diagnostics reuse. The profile is over h, which the scaling leaves unchanged.
        diagnostics = [t.diagnostics() for t in self.trained_kernels]
        basis = HeritabilityBasis.from_fit(h2_definition, diagnostics, problem, choice.name)
        return LMMResults.from_fit(self, unscaled, state, choice, info, basis)


@validate_params("fit", progress=[Boolean(), None], **FIT_OPTIONS)
def fit(
    formula: str,
    data: Any,
    genotypes: Any = None,
    kernel: Kernel | list[Kernel] | None = None,
    method: Method = "minque1",
    constrain: bool = True,
    tol: float = 1e-8,
    max_iter: int = 200,
    progress: bool | None = None,
    engine: str = "auto",
    h2_definition: str = "sample-variance",
    probes: int | None = None,
    seed: int = 0,
) -> LMMResults:
    """Fit a kernel linear mixed model from a formula.

    Parameters
    ----------
    formula : str
        ``"y ~ sex + age"``: response and fixed effects (formulaic syntax: categoricals,
        interactions, transforms such as ``np.log(age)``).
    data : pandas.DataFrame
        One row per person, indexed by sample ID.
    genotypes : array (n × p, same row order as ``data``), DataFrame indexed by sample ID,
        ``ntkmixed.Genotypes`` or PLINK prefix. Needed by genotype kernels.
    kernel : Kernel or list of Kernel
        Default ``GRM()``. A list gives one variance component per kernel.
    method : {"minque1", "minque0", "reml", "minque1-one-step"}
        ``minque1`` is iterated MINQUE (its fixed point is REML); ``minque0`` one step
        with identity weights; ``reml`` likelihood maximisation.
    constrain : bool
        Keep variance components ≥ 0 (boundary reported). ``False`` returns unbiased
        MINQUE values, possibly negative.
    tol, max_iter : float, int
        Convergence tolerance (relative change of θ) and iteration limit of the
        iterative estimators.
    progress : bool, optional
        Progress bars for kernel builds (default: only on a terminal).
    engine : str
        How the linear algebra is done (see :mod:`ntkmixed.estimation.engines`):
        ``"auto"`` (default) chooses and records why in ``res.engine_reason``;
        ``"dense"`` holds each kernel as an n×n matrix (one kernel: one
        eigendecomposition; several: a Cholesky factorisation per evaluation);
        ``"lowrank"`` fits kernels with a factor K = F Fᵀ of fewer than n columns in all
        (the GRM on p < n SNPs, ``Precomputed.from_factor``) exactly from one thin SVD,
        O(n r²), without an n×n matrix; ``"matrix-free"`` uses kernels only through
        products (the GRM streamed from its genotypes in SNP blocks: memory, a PLINK
        fileset or a dask array), with randomised Haseman–Elston for ``minque0``
        (block-jackknife SEs) and Hutchinson traces with preconditioned conjugate
        gradients for ``minque1``/``reml``; BLUPs by CG, PEVs not estimated (NaN).
        ``res.engine_info`` holds what the engine reports (the rank; probes, CG
        iterations and Monte-Carlo SEs).
    h2_definition : {"sample-variance", "kernel"}
        What ``h2`` and ``heritability`` report (:mod:`ntkmixed.models.heritability`):
        ``"sample-variance"`` (default) h²_k = σ²_k D_k / (Σ_j σ²_j D_j + σ²_e), the share
        of the expected sample variance (D_k removes the part of K_k an intercept
        absorbs; D ≈ 1 for a GRM); ``"kernel"`` σ²_k / (Σ_j σ²_j + σ²_e) as in the NTK
        paper.
    probes : int, optional
        Random probe vectors of the matrix-free engine (default 50; more probes, smaller
        Monte-Carlo error, reported in ``res.engine_info``). Unused by exact engines.
    seed : int, default 0
        Seed of the matrix-free engine's probes: the same seed gives the same result.

    Returns
    -------
    LMMResults
        Estimates, standard errors, heritability, BLUPs and prediction for new people.
    """
    model = KernelLMM.from_formula(formula, data, genotypes=genotypes, kernel=kernel, progress=progress)
    return model.fit(method=method, constrain=constrain, tol=tol, max_iter=max_iter, engine=engine,
                     h2_definition=h2_definition, probes=probes, seed=seed)


def _warn_if_mean_is_unidentified(design: Design, trained: list[TrainedKernel], names: list[str]) -> None:
    """Kernels of centred genotypes are singular along the all-ones vector. Without an
    intercept, the mean of y can then only be carried by the residual, and for a centred y
    the REML likelihood grows without bound as σ²_e → 0 (h² → 1)."""
    ones = np.ones(design.n)
    X = design.X
    if X.shape[1]:
        ones = ones - X @ np.linalg.lstsq(X, ones, rcond=None)[0]
    if np.linalg.norm(ones) < 1e-8 * np.sqrt(design.n):
        return
    for name, t in zip(names, trained):
        # relative to tr K (≥ ‖K‖₂ for a PSD K), which every operator has without an n×n matrix
        if np.linalg.norm(t.operator.matmul(ones)) <= 1e-8 * float(np.sum(t.operator.diagonal())) * np.linalg.norm(ones):
            warn(
                f"Kernel {name!r} is singular along the all-ones vector (centred genotypes) and the "
                "formula has no intercept: the mean of y is confounded with the residual and, for "
                "a centred y, the REML likelihood is unbounded as σ²_e → 0 (h² → 1). Add an "
                "intercept ('y ~ 1 + ...').",
                IdentifiabilityWarning,
            )
