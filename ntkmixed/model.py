"""The kernel linear mixed model and its formula entry point ``ntkmixed.fit``."""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np

from ._validation import check_option, check_positive_float, check_positive_int
from .design import Design, build_design
from .estimation import ESTIMATORS, make_problem
from .exceptions import BoundaryWarning, ConvergenceWarning, IdentifiabilityWarning, NtkmixedError, warn
from .kernels.base import Kernel
from .kernels.grm import GRM
from .kernels.precomputed import Precomputed
from .kernels.trained import TrainedKernel, as_kernel_list, component_names, train_kernels
from .results import LMMResults

Method = Literal["minque0", "minque1", "reml", "minque1-one-step"]


class KernelLMM:
    """Kernel linear mixed model

        y = X β + Σ_k g_k + e,   g_k ~ N(0, σ²_k K_k),   e ~ N(0, σ²_e I)

    with X from the formula's right-hand side and one normalised kernel K_k per
    variance component. Build it with :meth:`from_formula`; :meth:`fit` estimates
    θ = (σ²_1, …, σ²_c, σ²_e) and returns :class:`~ntkmixed.results.LMMResults`.
    """

    def __init__(self, design: Design, trained_kernels: list[TrainedKernel], names: list[str]):
        self.design = design
        self.trained_kernels = trained_kernels
        self.component_names = names

    @classmethod
    def from_formula(
        cls, formula: str, data: Any, genotypes: Any = None, kernel: Any = None, progress: bool | None = None
    ) -> "KernelLMM":
        kernels = as_kernel_list(GRM() if kernel is None else kernel, "fit")
        names = component_names(kernels)
        needs_genotypes = [k for k in kernels if k.needs_genotypes]
        if needs_genotypes and genotypes is None:
            raise NtkmixedError(
                f"The 'genotypes' argument of fit is required for kernel {needs_genotypes[0]!r}. "
                "Got None."
            )
        design = build_design(formula, data, genotypes, "fit", n_parameters_extra=len(kernels) + 1)
        kernels = [_with_progress(_bind(k, data), progress) for k in kernels]
        trained = train_kernels(kernels, design.samples)
        _warn_if_mean_is_unidentified(design, trained, names)
        return cls(design, trained, names)

    def fit(
        self,
        method: Method = "minque1",
        constrain: bool = True,
        tol: float = 1e-8,
        max_iter: int = 200,
    ) -> LMMResults:
        check_option(method, "method", tuple(ESTIMATORS), "fit")
        if not isinstance(constrain, (bool, np.bool_)):
            raise NtkmixedError(f"The 'constrain' parameter of fit must be True or False. Got {constrain!r}.")
        check_positive_float(tol, "tol", "fit")
        check_positive_int(max_iter, "max_iter", "fit")
        y, X = self.design.y, self.design.X
        matrices = [t.matrix for t in self.trained_kernels]
        problem = make_problem(y, X, matrices)
        options = {"tol": tol, "max_iter": max_iter} if method in ("minque1", "reml") else {}
        variance_fit = ESTIMATORS[method](y, X, matrices, constrain=bool(constrain), problem=problem, **options)
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
        return LMMResults.from_fit(self, variance_fit, problem.state(weights))


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
    """
    model = KernelLMM.from_formula(formula, data, genotypes=genotypes, kernel=kernel, progress=progress)
    return model.fit(method=method, constrain=constrain, tol=tol, max_iter=max_iter)


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
        if np.linalg.norm(t.matrix @ ones) <= 1e-8 * np.linalg.norm(t.matrix) * np.linalg.norm(ones):
            warn(
                f"Kernel {name!r} is singular along the all-ones vector (centred genotypes) and the "
                "formula has no intercept: the mean of y is confounded with the residual and, for "
                "a centred y, the REML likelihood is unbounded as σ²_e → 0 (h² → 1). Add an "
                "intercept ('y ~ 1 + ...').",
                IdentifiabilityWarning,
            )


def _bind(kernel: Kernel, data: Any) -> Kernel:
    if isinstance(kernel, Precomputed) and kernel.ids is None:
        return kernel.bind_ids(data.index)
    return kernel


def _with_progress(kernel: Kernel, progress: bool | None) -> Kernel:
    """A copy of the kernel with the caller's progress setting (the user's object is left alone)."""
    if progress is None or not hasattr(kernel, "progress"):
        return kernel
    adjusted = copy.copy(kernel)
    adjusted.progress = progress
    return adjusted
