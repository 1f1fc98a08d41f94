"""``ntkmixed.kernel_test``: the variance-component score test of a region's kernel (SKAT
for any ntkmixed kernel — the NTK paper's proposed next step), with covariates and
optionally a background kernel in the null model (SKAT with kinship).

H0: σ²_K = 0 in y = Xβ + g_b + g_K + e, g_b ~ N(0, σ²_b K_b), g_K ~ N(0, σ²_K K). The null
model is fitted once (OLS without ``background``; a kernel LMM with it); the statistic
and its χ²-mixture law are in :mod:`.kernel_stat`, the tail probability in
:mod:`.mixture`. Several kernels give one p-value each and their Cauchy combination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_flag, check_option
from ..data.design import build_design
from ..data.samples import Samples
from ..estimation import ESTIMATORS
from ..exceptions import NtkmixedError
from ..kernels import NTK
from ..kernels.trained import as_kernel_list, component_names, train_kernels
from . import scan
from .acat import acat_log_p
from .kernel_results import KernelTestResults
from .kernel_stat import IdentityWhitener, kernel_statistic
from .null_model import fit_null
from .whiten import whitener_for

PValueMethod = Literal["davies", "liu", "saddlepoint"]
PVALUE_METHODS = ("davies", "liu", "saddlepoint")


@dataclass
class KernelNull:
    """The null model of a kernel test, whitened once."""

    ids: pd.Index
    projection: scan.NullProjection
    facts: dict[str, Any]


def null_for_kernel_tests(formula: str, data: pd.DataFrame, background, background_genotypes, method: str,
                          engine: str, progress: bool | None, where: str) -> KernelNull:
    """OLS null (V̂ = σ̂² I, σ̂² = RSS/(n − k)) or a background-kernel LMM."""
    if background is None:
        design = build_design(formula, data, None, where)
        y, X = design.y, design.X
        basis = np.linalg.qr(X)[0] if X.shape[1] else np.zeros((len(y), 0))
        residual = y - basis @ (basis.T @ y)
        sigma2 = float(residual @ residual) / (len(y) - X.shape[1])
        projection = scan.null_projection(IdentityWhitener(sigma2), y, X)
        return KernelNull(design.ids, projection, {"background": "none", "sigma2_e": sigma2, "n": len(y)})
    kernels = as_kernel_list(background, where)
    if len(kernels) != 1:
        raise NtkmixedError(f"The 'background' argument of {where} must be one kernel. Got {len(kernels)}.")
    null = fit_null(formula, data, background_genotypes, kernels[0], method, engine, progress, 0)
    projection = scan.null_projection(whitener_for(null.problem, null.weights), null.design.y, null.design.X)
    facts = {"background": repr(kernels[0]), **{k: v for k, v in null.facts().items() if k != "n_kernel_snps"}}
    return KernelNull(null.design.ids, projection, facts)


def kernel_tests_on(null: KernelNull, kernels: list, names: list[str], Z: np.ndarray, method: str) -> list[dict[str, Any]]:
    """Q, p and how p was obtained, per kernel, on standardised region genotypes Z (rows
    = the null's people)."""
    rows = []
    for name, trained in zip(names, train_kernels(kernels, Samples(ids=null.ids, Z=Z))):
        operator = trained.operator
        factor = operator.factor()
        if factor is not None and factor.shape[1] < operator.n:
            statistic = kernel_statistic(null.projection, factor=factor)
        else:
            statistic = kernel_statistic(null.projection, K=operator.dense())
        tail = statistic.tail(method)
        eigenvalues = statistic.eigenvalues
        rows.append({"kernel": name, "Q": statistic.Q, "ratio": statistic.ratio, "p": tail.p, "log10_p": tail.log10_p,
                     "method": tail.method, "accuracy": tail.accuracy,
                     "n_eigenvalues": int(np.sum(eigenvalues > 1e-10 * eigenvalues.max())), "note": tail.note})
    return rows


def combined_log10_p(rows: list[dict[str, Any]]) -> float:
    """ACAT over the kernels' p-values (log10)."""
    return acat_log_p(np.array([r["log10_p"] for r in rows]) * np.log(10.0)) / np.log(10.0)


def kernel_test(
    formula: str,
    data: pd.DataFrame,
    genotypes: Any,
    kernel: Any = None,
    background: Any = None,
    pvalue: PValueMethod = "davies",
    background_genotypes: Any = None,
    null_method: str = "reml",
    engine: str = "auto",
    progress: bool | None = None,
) -> KernelTestResults:
    """Variance-component score test that a region's kernel explains part of y.

    Parameters
    ----------
    formula : str
        ``"y ~ sex + age"``: response and covariates, as :func:`ntkmixed.fit`.
    data : pandas.DataFrame
        One row per person, indexed by sample ID.
    genotypes : numpy.ndarray, pandas.DataFrame, Genotypes or str
        The region's genotypes (array in ``data``'s row order, DataFrame indexed by
        sample ID, PLINK ``Genotypes`` or prefix).
    kernel : Kernel or list of Kernel, optional
        Default ``NTK(depth=2)``; a list gives one test each and their ACAT combination.
    background : Kernel, optional
        Kernel of the null model (e.g. ``GRM()``): genome-wide relatedness.
    pvalue : {"davies", "saddlepoint", "liu"}
        ``"davies"`` (default: the exact finite-sample law of the ratio statistic by
        exact inversion, accuracy reported; falls back to the saddlepoint with a note),
        ``"saddlepoint"`` (the same law, Lugannani–Rice) or ``"liu"`` (SKAT's plug-in law
        with Liu's moment matching).
    background_genotypes : optional
        Genotypes of the background kernel (default: ``genotypes``).
    null_method : str, default "reml"
        Estimator of the background null model.
    engine : str, default "auto"
        Engine of the background null model (see :func:`ntkmixed.fit`).
    progress : bool, optional
        Progress bars for kernel builds (default: only on a terminal).

    Returns
    -------
    KernelTestResults
        Per-kernel statistic and p-value, the ACAT combination, the null model's facts.
    """
    pvalue = check_option(pvalue, "pvalue", PVALUE_METHODS, "kernel_test")
    check_option(null_method, "null_method", tuple(ESTIMATORS), "kernel_test")
    progress = check_flag(progress, "progress", "kernel_test", allow_none=True)
    kernels = as_kernel_list(NTK(depth=2) if kernel is None else kernel, "kernel_test")
    names = component_names(kernels)
    if background is not None and background_genotypes is None:
        background_genotypes = genotypes
    region = build_design(formula, data, genotypes, "kernel_test")
    null = null_for_kernel_tests(formula, data.loc[region.ids], background, background_genotypes, null_method,
                                 engine, progress, "kernel_test")
    if not region.ids.equals(null.ids):  # the background dropped people: the region follows
        region = build_design(formula, data.loc[null.ids], genotypes, "kernel_test")
    rows = kernel_tests_on(null, kernels, names, region.samples.Z, pvalue)
    table = pd.DataFrame(rows).set_index("kernel")
    return KernelTestResults(table, combined_log10_p(rows) if len(rows) > 1 else float(rows[0]["log10_p"]),
                             null.facts, formula, n=len(null.ids), n_snps=int(region.standardization.n_snps))
