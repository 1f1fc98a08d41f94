"""Traits simulated from the kernel LMM itself: y = g + e, g ~ N(0, σ²_g K), e ~ N(0, σ²_e I),
with σ²_g and σ²_e chosen so that the sample-variance heritability
σ²_g D / (σ²_g D + σ²_e) (D = (tr K − 1ᵀK1/n)/(n − 1)) equals the target h² and the
expected sample variance of y is 1. This is the setting in which REML is the right
estimator, so it is where estimates and intervals must be calibrated
(``benchmarks/bench_h2_calibration.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import check_positive_int, check_seed
from ..exceptions import NtkmixedError
from ..kernels.diagnostics import sample_variance_factor


@dataclass(frozen=True)
class KernelTraits:
    """``n_traits`` traits by sample ID (columns ``trait1``, …) with their genetic values and
    the variance components that generated them.

    Parameters
    ----------
    y, genetic_value : pandas.DataFrame
        Traits and their genetic values, people × traits.
    h2 : float
        The target sample-variance heritability.
    sigma2_g, sigma2_e : float
        The variance components used.
    sample_variance_factor : float
        D of the kernel.
    """

    y: pd.DataFrame
    genetic_value: pd.DataFrame
    h2: float  # target sample-variance h²
    sigma2_g: float
    sigma2_e: float
    sample_variance_factor: float  # D of K

    @property
    def realized_h2(self) -> pd.Series:
        """Per trait, var(g) / (var(g) + var(e)) in the sample."""
        genetic = self.genetic_value.var(ddof=1)
        noise = (self.y - self.genetic_value).var(ddof=1)
        return (genetic / (genetic + noise)).rename("realized_h2")


def from_kernel(K, h2: float = 0.5, n_traits: int = 1, seed: int | Sequence[int] | None = None,
                ids=None) -> KernelTraits:
    """Draw traits y = g + e from the model with kernel ``K`` at sample-variance heritability
    ``h2``: σ²_g = h2 / D, σ²_e = 1 − h2, g = U diag(√(σ²_g s)) z with K = U diag(s) Uᵀ
    (negative round-off eigenvalues set to 0), everything from one seeded generator.

    Parameters
    ----------
    K : array_like
        n×n positive semi-definite kernel matrix (n ≥ 2).
    h2 : float
        Target sample-variance heritability in [0, 1].
    n_traits : int
        Independent traits to draw (one eigendecomposition serves them all).
    seed : int or sequence of int, optional
        Seed of the ``numpy.random.Generator``.
    ids : sequence, optional
        Sample IDs of the rows of ``K`` (default ``"id1"``, ``"id2"``, …).

    Returns
    -------
    KernelTraits
        The traits, their genetic values, σ²_g, σ²_e and D.
    """
    where = "simulate.from_kernel"
    matrix = np.asarray(K, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise NtkmixedError(f"The 'K' argument of {where} must be a square matrix with at least 2 rows. "
                            f"Got shape {matrix.shape}.")
    if isinstance(h2, bool) or not isinstance(h2, (int, float, np.floating)) or not 0 <= h2 <= 1:
        raise NtkmixedError(f"The 'h2' parameter of {where} must be a number in [0, 1]. Got {h2!r} instead.")
    n_traits = check_positive_int(n_traits, "n_traits", where)
    seed = check_seed(seed, "seed", where, allow_none=True, allow_sequence=True)
    n = matrix.shape[0]
    index = pd.Index([f"id{i + 1}" for i in range(n)]) if ids is None else pd.Index(ids)
    if len(index) != n:
        raise NtkmixedError(f"The 'ids' argument of {where} must have one ID per row of K ({n}). Got {len(index)}.")
    factor = sample_variance_factor(matrix)
    if factor <= 0:
        raise NtkmixedError(f"The kernel given to {where} has no variance across people (D = {factor:.3g}).")
    sigma2_g, sigma2_e = h2 / factor, 1.0 - h2
    s, U = np.linalg.eigh((matrix + matrix.T) / 2.0)
    rng = np.random.default_rng(seed)
    genetic = U @ (np.sqrt(np.clip(s, 0.0, None) * sigma2_g)[:, None] * rng.standard_normal((n, n_traits)))
    noise = rng.normal(0.0, np.sqrt(sigma2_e), size=(n, n_traits))
    columns = [f"trait{j + 1}" for j in range(n_traits)]
    return KernelTraits(
        y=pd.DataFrame(genetic + noise, index=index, columns=columns),
        genetic_value=pd.DataFrame(genetic, index=index, columns=columns),
        h2=float(h2), sigma2_g=float(sigma2_g), sigma2_e=float(sigma2_e), sample_variance_factor=float(factor),
    )
