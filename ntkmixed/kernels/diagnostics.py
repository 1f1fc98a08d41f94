"""What a kernel matrix K (n×n, PSD) implies for heritability, from its operator alone.

* **Sample-variance factor** D = (tr K − 1ᵀK1/n)/(n − 1): a random effect g ~ N(0, σ² K)
  has expected sample variance E[Σ(gᵢ − ḡ)²/(n − 1)] = σ² D (Legarra 2016, who writes it
  with divisor n as mean(diag K) − mean(K); with divisor n − 1 the residual's factor is
  exactly 1 and a Gower-centred kernel's is exactly 1). What an intercept absorbs — the
  part of K that is constant over people — does not count.
* **Constant share** mean(K)/mean(diag K): the share of the average person's kernel
  variance that is common to everyone, which an intercept absorbs (large for an NTK or
  NNGP of unrelated people, 0 for a GRM of centred genotypes).
* **Effective rank** (tr K_c)²/‖K_c‖²_F of the centred kernel K_c = (I − 11ᵀ/n) K (I − 11ᵀ/n)
  (a participation ratio: n − 1 for an identity, 1 for a single direction).
* **Nugget share** λ_min(K_c on 1⊥)·(n − 1)/tr K_c: the largest c with K_c − c(I − 11ᵀ/n)
  still PSD, as a share of the centred trace — the part of K that is an identity, which
  the likelihood cannot tell apart from the residual. One duplicated genotype (two equal
  rows of K) or fewer SNPs than people makes it 0.

The smallest eigenvalue is exact wherever that is cheap next to the fit itself: from the
secular equation on the kernel's cached eigendecomposition (one-kernel fits), from the
rank of a factor with fewer than n − 1 columns (it is 0), or from ``eigvalsh`` of the
centred matrix (kernels held as n×n matrices); for an operator that offers only products
it comes from Lanczos iterations; ``nugget_method`` says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.linalg import eigh_tridiagonal

from ..estimation.operators import KernelOperator, as_operator
from ..exceptions import NtkmixedError

_LANCZOS_STEPS = 100
_FROBENIUS_PROBES = 64


@dataclass(frozen=True)
class KernelDiagnostics:
    """Diagnostics of one kernel on the training people (module docstring).

    Parameters
    ----------
    n : int
        People.
    mean_diagonal, mean_off_diagonal : float
        Means of the diagonal and of the off-diagonal entries.
    constant_share : float
        mean(K) / mean(diag K), the share an intercept absorbs.
    sample_variance_factor : float
        D = (tr K − 1ᵀK1/n)/(n − 1).
    effective_rank : float
        (tr K_c)² / ‖K_c‖²_F of the centred kernel.
    nugget_share : float
        λ_min(K_c on 1⊥)·(n − 1)/tr K_c.
    nugget_method : str
        How λ_min was found.
    """

    n: int
    mean_diagonal: float
    mean_off_diagonal: float
    constant_share: float
    sample_variance_factor: float
    effective_rank: float
    nugget_share: float
    nugget_method: str

    def to_series(self, name: str | None = None) -> pd.Series:
        """The diagnostics as a labelled Series.

        Parameters
        ----------
        name : str, optional
            The Series' name (the kernel's component name, say).

        Returns
        -------
        pandas.Series
        """
        return pd.Series(asdict(self), name=name)


def sample_variance_factor(kernel: KernelOperator | np.ndarray) -> float:
    """D = (tr K − 1ᵀK1/n)/(n − 1): a variance component times D is the expected sample
    variance of its random effect over the training people.

    Parameters
    ----------
    kernel : KernelOperator or array
        The n×n kernel matrix (n ≥ 2), or an operator that offers its diagonal and mean
        entry.

    Returns
    -------
    float
    """
    operator = as_operator(kernel)
    n = operator.n
    if n < 2:
        raise NtkmixedError(f"The sample-variance factor needs at least 2 people. Got n = {n}.")
    trace = float(np.sum(operator.diagonal()))
    return (trace - n * operator.mean_entry()) / (n - 1)


def diagnose(K) -> KernelDiagnostics:
    """Heritability diagnostics of a kernel matrix: mean diagonal, mean off-diagonal,
    constant share, sample-variance factor D, effective rank and nugget share (see
    :mod:`ntkmixed.kernels.diagnostics`).

    Parameters
    ----------
    K : array or KernelOperator
        An n×n PSD kernel matrix (n ≥ 2, finite), or a kernel operator.

    Returns
    -------
    KernelDiagnostics
    """
    if isinstance(K, KernelOperator):
        operator = K
    else:
        matrix = np.asarray(K, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
            raise NtkmixedError(
                f"The 'K' argument of diagnose must be a square matrix with at least 2 rows. Got shape {matrix.shape}.")
        if not np.all(np.isfinite(matrix)):
            raise NtkmixedError("The 'K' argument of diagnose must be finite. Got NaN or infinite entries.")
        operator = as_operator(matrix)
    return kernel_diagnostics(operator)


def kernel_diagnostics(operator: KernelOperator) -> KernelDiagnostics:
    """:func:`diagnose` of an operator (what a fit records for each kernel)."""
    n = operator.n
    diagonal = operator.diagonal()
    trace = float(np.sum(diagonal))
    mean_entry = operator.mean_entry()
    centred_trace = trace - n * mean_entry
    row_sums = operator.matmul(np.ones(n))
    centred_frobenius = _centred_frobenius_squared(operator, row_sums, mean_entry)
    smallest, method = _smallest_centred_eigenvalue(operator, centred_trace)
    mean_diagonal = trace / n
    return KernelDiagnostics(
        n=n,
        mean_diagonal=mean_diagonal,
        mean_off_diagonal=(n * n * mean_entry - trace) / (n * (n - 1)),
        constant_share=mean_entry / mean_diagonal if mean_diagonal > 0 else float("nan"),
        sample_variance_factor=centred_trace / (n - 1),
        effective_rank=centred_trace**2 / centred_frobenius if centred_frobenius > 0 else float("nan"),
        nugget_share=max(smallest, 0.0) * (n - 1) / centred_trace if centred_trace > 0 else float("nan"),
        nugget_method=method,
    )


def _centred_frobenius_squared(operator: KernelOperator, row_sums: np.ndarray, mean_entry: float) -> float:
    """‖K_c‖²_F = ‖K‖²_F − 2‖K1‖²/n + (1ᵀK1/n)²: exact from a dense matrix or a factor
    (‖FᵀF‖²_F); otherwise Hutchinson's estimate E‖K_c z‖² over seeded Rademacher probes
    (on K_c itself: the expansion would cancel catastrophically for a nearly constant K)."""
    n = operator.n
    if operator.has_dense:
        matrix = operator.dense()
        frobenius = float(np.einsum("ij,ij->", matrix, matrix))
    elif operator.factor() is not None:
        factor = operator.factor()
        centred = factor - factor.mean(axis=0)
        gram = centred.T @ centred
        return float(np.einsum("ij,ij->", gram, gram))
    else:
        probes = np.random.default_rng(0).choice([-1.0, 1.0], size=(n, _FROBENIUS_PROBES))
        products = _centre(operator.matmul(_centre(probes)))
        return float(np.mean(np.sum(products**2, axis=0)))
    return frobenius - 2.0 * float(row_sums @ row_sums) / n + (n * mean_entry) ** 2


def _centre(v: np.ndarray) -> np.ndarray:
    return v - v.mean(axis=0)


def _smallest_centred_eigenvalue(operator: KernelOperator, centred_trace: float) -> tuple[float, str]:
    """λ_min of K_c restricted to 1⊥, and how it was found (module docstring)."""
    n = operator.n
    if n == 2:
        return centred_trace, "exact"  # 1⊥ is one direction, carrying the whole centred trace
    if operator.has_spectrum:
        return _compressed_minimum(*operator.spectrum()), "exact (secular equation)"
    factor = operator.factor()
    if factor is not None and factor.shape[1] < n - 1:
        return 0.0, f"exact (rank <= {factor.shape[1]} < n - 1)"
    # 1 is an eigenvector of K_c with eigenvalue 0; adding shift·11ᵀ/n moves it to the top
    # of the spectrum, so the smallest eigenvalue left belongs to 1⊥
    shift = max(centred_trace, 1.0)
    if operator.has_dense:
        matrix = operator.dense()
        centred = matrix - matrix.mean(axis=0) - matrix.mean(axis=1)[:, None] + matrix.mean() + shift / n
        return float(np.linalg.eigvalsh(centred)[0]), "exact"
    return _lanczos_minimum(operator, shift)


def _compressed_minimum(s: np.ndarray, U: np.ndarray) -> float:
    """λ_min of K = U diag(s) Uᵀ compressed to 1⊥, from the secular equation
    Σᵢ wᵢ/(sᵢ − μ) = 0, w = (Uᵀ1)²/n, whose roots interlace s (Golub 1973). Eigenvalues
    whose eigenvector is ⟂ 1 (w ≈ 0) are eigenvalues of the compression as they are, and
    so is an eigenvalue repeated among the others."""
    scale = max(float(np.max(np.abs(s))), 1e-300)
    w = (U.T @ np.ones(U.shape[0])) ** 2 / U.shape[0]
    coupled = w > 1e-14
    candidates = [float(np.min(s[~coupled]))] if np.any(~coupled) else []
    s_c, w_c = s[coupled], w[coupled]
    if s_c.size >= 2:
        a, b = float(s_c[0]), float(s_c[1])
        if b - a <= 1e-12 * scale:
            candidates.append(a)
        else:
            def secular(mu: float) -> float:
                return float(np.sum(w_c / (s_c - mu)))

            lo = max(a + 1e-15 * (b - a), float(np.nextafter(a, b)))
            hi = min(b - 1e-15 * (b - a), float(np.nextafter(b, a)))
            if secular(lo) >= 0:
                candidates.append(lo)
            elif secular(hi) <= 0:
                candidates.append(hi)
            else:
                candidates.append(brentq(secular, lo, hi, xtol=1e-15 * scale, rtol=1e-15))
    return min(candidates)


def _lanczos_minimum(operator: KernelOperator, shift: float) -> tuple[float, str]:
    """λ_min by Lanczos with full reorthogonalisation on K_c + shift·11ᵀ/n, needing only
    products with K (at most 100, checked every 10). The smallest Ritz value is never
    below λ_min, so when its residual bound has not fallen to 1e-6 of the spectrum's
    scale by then the value is reported as an upper bound, and the method says so."""
    n = operator.n
    steps = min(n, _LANCZOS_STEPS)
    tolerance = 1e-6 * shift
    basis = np.zeros((n, steps))
    alpha, beta = np.zeros(steps), np.zeros(steps)
    q = np.random.default_rng(0).standard_normal(n)
    q /= np.linalg.norm(q)
    for j in range(steps):
        basis[:, j] = q
        w = _centre(operator.matmul(_centre(q))) + shift * q.mean()
        alpha[j] = q @ w
        for _ in range(2):  # twice is enough (Kahan–Parlett)
            w -= basis[:, : j + 1] @ (basis[:, : j + 1].T @ w)
        beta[j] = np.linalg.norm(w)
        invariant = beta[j] <= 1e-12 * shift  # the Ritz values are then exact
        if invariant or (j + 1) % 10 == 0 or j + 1 == steps:
            values, vectors = eigh_tridiagonal(alpha[: j + 1], beta[:j])
            residual = 0.0 if invariant else beta[j] * abs(vectors[-1, 0])
            if residual <= tolerance:
                return float(values[0]), "lanczos"
        q = w / beta[j]
    return float(values[0]), f"lanczos (an upper bound; residual {residual:.2g})"
