"""``ntkmixed.gwas``: per-SNP mixed-model association scans (FaST-LMM / GCTA-MLMA style),
with leave-one-chromosome-out (LOCO) background kernels.

For each chromosome c (or once, without LOCO) the null LMM y = Xβ + g + e,
g ~ N(0, σ²_g K_{−c}), is fitted with the kernel built from the SNPs *not* on c; its
covariance is then held fixed and every SNP of c is tested by GLS from whitened SNP blocks
(:mod:`.scan`), O(n) per SNP after the block's rotation. ``null_method="minque0"`` is
NExt-LMM's pipeline (moment estimate of h², then GLS), with a per-SNP standard error
rather than NExt-LMM's SD of β̂ across SNPs.

``test="grammar-gamma"`` (Svishcheva et al. 2012; fastGWA, Jiang et al. 2019) needs no
rotation at all: T_j = (gᵀP̂y)² / (γ̂ g̃ᵀg̃), with g̃ the SNP residualised on the covariates
by least squares and γ̂ = mean(gᵀP̂g / g̃ᵀg̃) over a seeded random subset of SNPs, which
calibrates the cheap denominator to the exact one. O(nk) per SNP: for large n.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from .._runtime import progress_bar
from .._validation import check_option, check_positive_int
from ..estimation import ESTIMATORS
from ..estimation.engines import engine_names
from ..exceptions import NtkmixedError
from ..kernels import GRM
from ..kernels.trained import as_kernel_list
from . import scan
from .gwas_results import GWASResults
from .null_model import NullFit, fit_null, release
from .snp_source import SnpSource
from .whiten import whitener_for

Test = Literal["wald", "lrt", "score", "grammar-gamma"]
TESTS = (*scan.TESTS, "grammar-gamma")


def gwas(
    formula: str,
    data: pd.DataFrame,
    genotypes: Any,
    kernel: Any = None,
    loco: bool = True,
    test: Test = "wald",
    null_method: str = "reml",
    snps: Any = None,
    engine: str = "auto",
    snp_info: pd.DataFrame | None = None,
    block_size: int | None = None,
    calibration_snps: int = 500,
    seed: int = 0,
    progress: bool | None = None,
) -> GWASResults:
    """Per-SNP mixed-model association test.

    Parameters
    ----------
    formula : str
        ``"y ~ sex + age"``: response and covariates, as :func:`ntkmixed.fit`.
    data : pandas.DataFrame
        One row per person, indexed by sample ID.
    genotypes : Genotypes, str, pandas.DataFrame, numpy.ndarray or dask array
        PLINK ``Genotypes`` or prefix, DataFrame indexed by sample ID, n×p array (rows in
        ``data``'s order) or Dask array. Its SNPs build the background kernel and (see
        ``snps``) are tested.
    kernel : Kernel, optional
        Background kernel, default ``GRM()`` (any ntkmixed kernel, e.g. ``NTK``).
    loco : bool, default True
        Build the kernel without the tested chromosome (needs ≥ 2 chromosomes).
    test : {"wald", "lrt", "score", "grammar-gamma"}
        ``"wald"`` (default; FaST-LMM's: h² fixed, scale re-estimated, F(1, n−k−1)),
        ``"lrt"``, ``"score"`` (GCTA-MLMA's, V̂ fixed) or ``"grammar-gamma"``
        (calibrated score, O(nk) per SNP, for large n).
    null_method : {"reml", "minque1", "minque0", "minque1-one-step"}
        Estimator of the null variance components (``"minque0"``: NExt-LMM's moment
        estimate, here with a per-SNP SE).
    snps : list of str, optional
        IDs of the SNPs to test (default all), reported in the genotypes' order.
    engine : str, default "auto"
        Engine of the null fit and scan (see :func:`ntkmixed.fit`): ``"dense"`` (one
        eigendecomposition), ``"lowrank"`` (a GRM on fewer SNPs than people: exact, no
        n×n array); the one used is in ``null_models["engine"]``.
    snp_info : pandas.DataFrame, optional
        For arrays and DataFrames, a table with ``chr`` and ``bp`` (and optionally
        ``snp``, ``a1``, ``a2``) per SNP column.
    block_size : int, optional
        SNPs per block (default: ~128 MB of dosages).
    calibration_snps : int, default 500
        Size of the random SNP subset that calibrates γ̂ (``grammar-gamma`` only).
    seed : int, default 0
        Seed of that subset.
    progress : bool, optional
        Progress bar over SNP blocks (default: only on a terminal).

    Returns
    -------
    GWASResults
        The per-SNP table in input order, the null model per LOCO chromosome, λ_GC.
    """
    test = check_option(test, "test", TESTS, "gwas")
    null_method = check_option(null_method, "null_method", tuple(ESTIMATORS), "gwas")
    check_option(engine, "engine", engine_names(), "gwas")
    if not isinstance(loco, (bool, np.bool_)):
        raise NtkmixedError(f"The 'loco' parameter of gwas must be True or False. Got {loco!r}.")
    calibration_snps = check_positive_int(calibration_snps, "calibration_snps", "gwas", minimum=2)
    seed = check_positive_int(seed, "seed", "gwas", minimum=0)
    if block_size is not None:
        block_size = check_positive_int(block_size, "block_size", "gwas")
    kernels = as_kernel_list(GRM() if kernel is None else kernel, "gwas")
    if len(kernels) != 1:
        raise NtkmixedError(f"The 'kernel' argument of gwas must be one background kernel. Got {len(kernels)}.")
    source = SnpSource(genotypes, snp_info, "gwas")
    tested = _tested_positions(source, snps)
    groups = _groups(source, tested, bool(loco))

    table = _empty_table(source.table)
    null_rows, reference_ids = {}, None
    for label, kernel_positions, test_positions in groups:
        null = fit_null(formula, data, source.kernel_genotypes(kernel_positions), kernels[0], null_method, engine,
                        progress, len(kernel_positions))
        ids = null.design.ids
        if reference_ids is None:
            reference_ids = ids
        elif not ids.equals(reference_ids):
            raise NtkmixedError(
                f"The people analysed differ between chromosomes (LOCO chromosome {label}): some have no called "
                "genotype on the other chromosomes. Remove them first, or pass loco=False.")
        rows = source.rows_for(ids, data.index)
        facts = null.facts()
        facts.update(_scan_group(null, source, rows, test_positions, test, table, block_size,
                                 calibration_snps, seed, progress, label))
        null_rows[label] = facts
        release(null)
    null_table = pd.DataFrame.from_dict(null_rows, orient="index")
    null_table.index.name = "chr" if loco else "kernel"
    table = table.iloc[tested].reset_index(drop=True)
    return GWASResults(
        table=table, null_models=null_table, test=test, loco=bool(loco), null_method=null_method,
        formula=formula, kernel=repr(kernels[0]), n=len(reference_ids))


def _tested_positions(source: SnpSource, snps: Any) -> np.ndarray:
    if snps is None:
        return np.arange(source.n_snps)
    wanted = pd.Index([str(s) for s in ([snps] if isinstance(snps, str) else list(snps))])
    ids = pd.Index(source.table["snp"].astype(str))
    unknown = wanted.difference(ids)
    if len(unknown):
        raise NtkmixedError(f"The 'snps' argument of gwas names {len(unknown)} SNP(s) not in the genotypes: {unknown[:5].tolist()}.")
    return np.flatnonzero(ids.isin(wanted))


def _groups(source: SnpSource, tested: np.ndarray, loco: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, kernel SNP positions, tested SNP positions) per null model."""
    everything = np.arange(source.n_snps)
    if not loco:
        return [("all", everything, tested)]
    if not source.has_chromosomes:
        raise NtkmixedError(
            "loco=True needs each SNP's chromosome: pass PLINK genotypes, or 'snp_info' with a 'chr' column "
            "for an array or DataFrame, or loco=False.")
    chromosomes = source.table["chr"].astype(str).to_numpy()
    distinct = pd.unique(chromosomes)
    if len(distinct) < 2:
        raise NtkmixedError(
            f"loco=True needs genotypes on at least 2 chromosomes (the kernel leaves the tested one out). Got only "
            f"chromosome {distinct[0]!r}; pass loco=False.")
    groups = []
    for chromosome in pd.unique(chromosomes[tested]):
        on = chromosomes == chromosome
        groups.append((str(chromosome), everything[~on], tested[on[tested]]))
    return groups


def _empty_table(snps: pd.DataFrame) -> pd.DataFrame:
    n = len(snps)
    return pd.DataFrame({
        "SNP": snps["snp"].astype(str).to_numpy(), "chr": snps["chr"].to_numpy(), "bp": snps["bp"].to_numpy(),
        "A1": snps["a1"].to_numpy(), "A2": snps["a2"].to_numpy(), "freq": np.full(n, np.nan),
        "n": np.zeros(n, dtype=np.int64), "beta": np.full(n, np.nan), "se": np.full(n, np.nan),
        "stat": np.full(n, np.nan), "p": np.full(n, np.nan), "log10_p": np.full(n, np.nan),
        "note": np.full(n, "", dtype=object),
    })


def _scan_group(null: NullFit, source: SnpSource, rows: np.ndarray, positions: np.ndarray, test: str,
                table: pd.DataFrame, block_size: int | None, calibration_snps: int, seed: int,
                progress: bool | None, label: str) -> dict[str, Any]:
    """Test the SNPs at ``positions`` against one null model; fills ``table`` in place and
    returns facts for the null-model table."""
    design = null.design
    X, y = design.X, design.y
    centre = _has_intercept(X)  # centring then changes nothing but round-off
    whiten = whitener_for(null.problem, null.weights)
    projection = scan.null_projection(whiten, y, X)
    extra: dict[str, Any] = {"n_tested": int(positions.size)}
    grammar = None
    if test == "grammar-gamma":
        grammar = _GrammarGamma(null, X, projection)
        gamma = grammar.calibrate(source, rows, positions, calibration_snps, seed, centre)
        extra.update({"gamma": gamma, "n_calibration": grammar.n_calibration})
    bar = progress_bar(int(positions.size), f"gwas chr {label}" if label != "all" else "gwas", progress, unit="SNP")
    try:
        for block in source.blocks(rows, positions, block_size):
            G = block.values - block.values.mean(axis=0) if centre else block.values
            if grammar is not None:
                stats = grammar.statistics(G)
            else:
                stats = scan.snp_statistics(*scan.block_quadratics(projection, G), projection, test)
            _fill(table, block, stats)
            if bar is not None:
                bar.update(block.positions.size)
    finally:
        if bar is not None:
            bar.close()
    return extra


class _GrammarGamma:
    """The calibrated score test (see the module docstring)."""

    def __init__(self, null: NullFit, X: np.ndarray, projection: scan.NullProjection):
        self.projection = projection
        self.Py = null.results.arrays.Py
        self.ols_basis = np.linalg.qr(X)[0] if X.shape[1] else np.zeros((X.shape[0], 0))
        self.gamma = float("nan")
        self.n_calibration = 0

    def _residual_norms(self, G: np.ndarray) -> np.ndarray:
        R = G - self.ols_basis @ (self.ols_basis.T @ G)
        return np.einsum("ij,ij->j", R, R)

    def calibrate(self, source: SnpSource, rows, positions, size: int, seed: int, centre: bool) -> float:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(positions, size=min(size, positions.size), replace=False))
        ratios = []
        for block in source.blocks(rows, chosen):
            G = block.values[:, block.polymorphic]
            if centre:
                G = G - G.mean(axis=0)
            gPg, _, total = scan.block_quadratics(self.projection, G)
            plain = self._residual_norms(G)
            keep = (gPg > scan.COLLINEAR * total) & (plain > 0)
            ratios.append(gPg[keep] / plain[keep])
        ratios = np.concatenate(ratios) if ratios else np.empty(0)
        if ratios.size < 2:
            raise NtkmixedError("test='grammar-gamma' needs at least 2 polymorphic SNPs to calibrate γ̂.")
        self.gamma, self.n_calibration = float(ratios.mean()), int(ratios.size)
        return self.gamma

    def statistics(self, G: np.ndarray) -> scan.SnpStatistics:
        plain = self._residual_norms(G)
        information = np.where(plain > 0, self.gamma * plain, np.nan)
        gPy = G.T @ self.Py
        beta = gPy / information
        stat = gPy * beta
        return scan.SnpStatistics(beta, 1.0 / np.sqrt(information), stat, scan._chi2_1_log_sf(stat))


def _fill(table: pd.DataFrame, block, stats: scan.SnpStatistics) -> None:
    at = block.positions
    ok = block.polymorphic & np.isfinite(stats.beta)
    table.loc[at, "freq"] = block.a1_freq
    table.loc[at, "n"] = block.n_called
    for column, values in (("beta", stats.beta), ("se", stats.se), ("stat", stats.stat)):
        table.loc[at, column] = np.where(ok, values, np.nan)
    log10_p = np.where(ok, stats.log_p / np.log(10.0), np.nan)
    table.loc[at, "log10_p"] = np.minimum(log10_p, 0.0)
    table.loc[at, "p"] = np.where(ok, np.maximum(np.exp(stats.log_p), np.finfo(float).tiny), np.nan)
    notes = np.where(block.n_called == 0, "no called genotype",
                     np.where(~block.polymorphic, "monomorphic in the analysed people",
                              np.where(~ok, "collinear with the covariates", "")))
    table.loc[at, "note"] = notes


def _has_intercept(X: np.ndarray) -> bool:
    ones = np.ones(X.shape[0])
    if not X.shape[1]:
        return False
    residual = ones - X @ np.linalg.lstsq(X, ones, rcond=None)[0]
    return bool(np.linalg.norm(residual) < 1e-8 * np.sqrt(X.shape[0]))
