"""Per-SNP generalised least squares at a fixed null covariance (glimix-core's "fast
scanner", FaST-LMM's and GCTA-MLMA's test): pure linear algebra on arrays.

Model for SNP j with dosages g:  y = X β + g b + u + e,  Cov(u + e) = τ V̂  (V̂ from the
null fit, τ a scale). With P̂ = V̂⁻¹ − V̂⁻¹X(XᵀV̂⁻¹X)⁻¹XᵀV̂⁻¹ (the null projection),

    b̂ = gᵀP̂y / gᵀP̂g,     RSS₀ = yᵀP̂y,     RSS₁ = RSS₀ − (gᵀP̂y)² / gᵀP̂g,

exactly the GLS estimate of b with covariates. The tests differ in what they fix:

* ``score`` — V̂ fixed entirely (τ = 1; GCTA-MLMA, BOLT-LMM-inf): SE = (gᵀP̂g)^{-1/2},
  statistic (gᵀP̂y)²/gᵀP̂g ~ χ²₁ (the score, Wald and LR statistics coincide here).
* ``wald`` — the ratio σ²_g/σ²_e fixed, τ re-estimated per SNP by its unbiased value
  τ̂ = RSS₁/(n − k − 1) (FaST-LMM's ``single_snp``): SE² = τ̂ / gᵀP̂g, b̂²/SE² ~ F(1, n−k−1).
* ``lrt`` — the ratio fixed, τ profiled by maximum likelihood under both hypotheses:
  n log(RSS₀/RSS₁) ~ χ²₁ (reported SE as for ``wald``).

With whitened data (W with WᵀW = V̂⁻¹) and Q an orthonormal basis of WX, gᵀP̂g =
‖(I − QQᵀ)Wg‖² and gᵀP̂y = (Wg)ᵀ r with r = (I − QQᵀ)Wy: O(nk) per SNP after the block's
whitening, and no normal equations (so no cancellation for SNPs close to a covariate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

TESTS = ("wald", "lrt", "score")
#: gᵀP̂g below this fraction of gᵀV̂⁻¹g: the SNP lies in the span of the covariates
COLLINEAR = 1e-10


@dataclass(frozen=True)
class NullProjection:
    """What every SNP block needs from the null model, computed once."""

    whiten: object  # a whitener of :mod:`ntkmixed.association.whiten`
    basis: np.ndarray  # Q: orthonormal basis of W X (n × k); or V̂⁻¹X-side data (solve form)
    residual: np.ndarray  # r = (I − QQᵀ) W y
    rss0: float  # yᵀ P̂ y
    n: int
    k: int
    X: np.ndarray | None = None  # kept for the solve form only
    beta0: np.ndarray | None = None
    Cinv_factor: np.ndarray | None = None


def null_projection(whiten, y: np.ndarray, X: np.ndarray) -> NullProjection:
    """Precompute the null's whitened residual and covariate basis."""
    n, k = X.shape
    if whiten.pairs_with_itself:
        WX, Wy = whiten(X), whiten(y)
        Q = np.linalg.qr(WX)[0] if k else np.zeros((WX.shape[0], 0))
        r = Wy - Q @ (Q.T @ Wy)
        return NullProjection(whiten, Q, r, float(r @ r), n, k)
    # solve form: inner products aᵀ V̂⁻¹ b from V̂⁻¹ applied to one side
    ViX, Viy = whiten(X), whiten(y)
    XtViX = X.T @ ViX
    factor = np.linalg.cholesky(XtViX) if k else np.zeros((0, 0))
    beta0 = np.linalg.solve(XtViX, X.T @ Viy) if k else np.zeros(0)
    Py = Viy - ViX @ beta0
    return NullProjection(whiten, ViX, Py, float(y @ Py), n, k, X=X, beta0=beta0, Cinv_factor=factor)


def block_quadratics(null: NullProjection, G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gᵀP̂g, gᵀP̂y, gᵀV̂⁻¹g)`` for every column g of the n×m block G."""
    if null.whiten.pairs_with_itself:
        WG = null.whiten(G)
        total = np.einsum("ij,ij->j", WG, WG)
        if null.k:
            WG = WG - null.basis @ (null.basis.T @ WG)
        return np.einsum("ij,ij->j", WG, WG), WG.T @ null.residual, total
    ViG = null.whiten(G)
    total = np.einsum("ij,ij->j", G, ViG)
    gPy = G.T @ null.residual
    if not null.k:
        return total, gPy, total
    A = null.X.T @ ViG  # XᵀV̂⁻¹g
    half = np.linalg.solve(null.Cinv_factor, A)  # L⁻¹ a with XᵀV̂⁻¹X = L Lᵀ
    return total - np.einsum("ij,ij->j", half, half), gPy, total


@dataclass(frozen=True)
class SnpStatistics:
    beta: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    log_p: np.ndarray  # natural log of p


def snp_statistics(gPg: np.ndarray, gPy: np.ndarray, total: np.ndarray, null: NullProjection, test: str) -> SnpStatistics:
    """β̂, SE, the test statistic and log p per SNP (NaN where gᵀP̂g vanishes)."""
    valid = gPg > COLLINEAR * np.maximum(total, np.finfo(float).tiny)
    gPg = np.where(valid, gPg, np.nan)
    beta = gPy / gPg
    explained = gPy * beta  # (gᵀP̂y)² / gᵀP̂g
    n, k = null.n, null.k
    if test == "score":
        se = 1.0 / np.sqrt(gPg)
        stat = explained
        log_p = _chi2_1_log_sf(stat)
    else:
        rss1 = np.maximum(null.rss0 - explained, np.finfo(float).tiny * null.rss0)
        dof = n - k - 1
        se = np.sqrt(rss1 / dof / gPg)
        if test == "wald":
            stat = beta**2 / se**2
            log_p = _f_1_log_sf(stat, dof)
        elif test == "lrt":
            stat = n * np.log(null.rss0 / rss1)
            log_p = _chi2_1_log_sf(stat)
        else:
            raise ValueError(f"test must be one of {TESTS}; got {test!r}")
    return SnpStatistics(beta, se, stat, log_p)


def _chi2_1_log_sf(stat: np.ndarray) -> np.ndarray:
    """log P(χ²₁ > x) = log erfc(√(x/2)), finite far below the smallest double."""
    root = np.sqrt(np.maximum(stat, 0.0) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(special.erfc(root))
        # erfc(z) = erfcx(z) e^{−z²}
        far = np.log(special.erfcx(root)) - root**2
    return np.where(root < 20.0, direct, far)


def _f_1_log_sf(stat: np.ndarray, dof: int) -> np.ndarray:
    """log P(F(1, ν) > x) = log I_z(ν/2, ½) with z = ν/(ν + x); where that underflows,
    the leading terms of I_z(a, b) = z^a (1−z)^b / (a B(a, b)) · (1 + (a+b)/(a+1) z + …)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(stats.f.sf(stat, 1, dof))
        a, b = dof / 2.0, 0.5
        z = dof / (dof + np.maximum(stat, 0.0))
        far = a * np.log(z) + b * np.log1p(-z) - np.log(a) - special.betaln(a, b) + np.log1p((a + b) / (a + 1) * z)
    return np.where(direct > -600.0, direct, far)
