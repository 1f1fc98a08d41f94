"""The null model of an association test: a kernel LMM without the tested variants, and
what the tests need from it at its fixed covariance V̂ (the engine's problem, reused —
one kernel's eigendecomposition serves both the fit and every SNP block)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..estimation import EngineChoice, build_problem
from ..models import KernelLMM, LMMResults


@dataclass
class NullFit:
    """A fitted null LMM and its engine problem at the estimates."""

    results: LMMResults
    problem: Any
    weights: np.ndarray  # V̂ = Σ w_k K_k + w_e I
    engine: EngineChoice
    n_kernel_snps: int

    @property
    def design(self):
        return self.results.design

    def facts(self) -> dict[str, Any]:
        """One row of a results table of null models."""
        theta = self.results.variance_fit.theta
        return {"n": self.results.nobs, "n_kernel_snps": self.n_kernel_snps, "h2": self.results.h2,
                "h2_se": self.results.h2_se, "sigma2_g": float(theta[:-1].sum()), "sigma2_e": float(theta[-1]),
                "loglik": self.results.loglik, "method": self.results.method, "engine": self.engine.name}


def fit_null(formula: str, data, genotypes, kernel, method: str, engine: str, progress: bool | None,
             n_kernel_snps: int) -> NullFit:
    """Fit the null LMM and keep its problem (the kernel's decomposition is the operator's
    cached one, so rebuilding the problem costs no new factorisation)."""
    model = KernelLMM.from_formula(formula, data, genotypes=genotypes, kernel=kernel, progress=progress)
    results = model.fit(method=method, engine=engine)
    operators = [t.operator for t in model.trained_kernels]
    problem, choice = build_problem(model.design.y, model.design.X, operators, engine, "gwas")
    weights = results.variance_fit.theta.copy()
    if results.variance_fit.boundary[-1]:  # σ²_e held at 0: keep V̂ invertible, as fit does
        weights[-1] = 1e-9 * float(np.var(model.design.y))
    return NullFit(results, problem, weights, choice, n_kernel_snps)


def release(null: NullFit) -> None:
    """Free the n×n matrices a null fit holds (after its chromosome is scanned)."""
    operator = getattr(null.problem, "operator", None)
    if operator is not None:
        operator.release_spectrum()
    null.problem = None
