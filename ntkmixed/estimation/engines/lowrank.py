"""The exact low-rank engine: kernels known through factors, K_k = F_k F_kᵀ (F_k n×r_k,
Σ r_k < n), fitted from one thin SVD of the stacked factor [F_1, …, F_c] = U diag(σ) Vᵀ
(FaST-LMM's low-rank algebra, Lippert et al. 2011, extended to several kernels).

With U n×m orthonormal, K_k = U A_k Uᵀ where A_k = diag(σ) V_kᵀ V_k diag(σ) (V_k: the
rows of V belonging to kernel k; one kernel: A = diag(σ²)). The data are rotated once,
O(n m (k+1)); the part of [X, y] outside span(U) is kept as r ≤ k+1 "pseudo-rows" (the
R factor of its thin SVD) and the remaining n − m − r directions, which carry neither
data nor kernel, only by their count. Every state is then exact linear algebra on
m + r rows (:mod:`.compressed`): O((m + r) k²) for one kernel, O((m + r)³) for several;
β̂, P y, BLUPs and PEVs map back to the n people at O(n m) and O(n m²). No n×n array is
formed anywhere.

Interface for other factor kernels (Nyström, random features): a
:class:`~ntkmixed.estimation.operators.KernelOperator` whose ``factor()`` returns F with
K = F Fᵀ exactly (a :class:`~ntkmixed.estimation.operators.FactorOperator` caches the
thin SVD, so an LMM and a KRR on the same trained kernel decompose it once). A factor
plus a diagonal correction is not K = F Fᵀ and is not fitted here.
"""

from __future__ import annotations

import numpy as np

from ..._runtime import available_memory
from ..factor_svd import thin_svd
from ..operators import KernelOperator
from ..profile import Complement, ProfiledREML
from ._linalg import LOG_2PI, logdet_pd, logdet_xtx
from .compressed import BlockState, DiagonalState

#: "auto" prefers the low-rank engine when the stacked factor has at most this share of n
#: columns: measured REML + PEV at n = 200–3000, low rank took 0.06–0.8× the dense time up
#: to 0.7 n columns and 0.9–1.1× at 0.9 n (benchmarks/bench_scale.py --crossover)
AUTO_MAX_RANK_SHARE = 0.7
#: "auto" leaves the low-rank engine to the matrix-free one when its arrays (the factor,
#: U and a product of their size) would need more than this share of available memory
AUTO_MEMORY_SHARE = 0.5


def lowrank_bytes(n: int, columns: int) -> int:
    """Memory of a low-rank fit: F, U (n × r each) and one more array of that size."""
    return 3 * 8 * n * columns


class LowRankProblem:
    """y, X and kernels K_k = F_k F_kᵀ, compressed onto the range of the factors."""

    def __init__(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator]):
        self.y, self.X = y, X
        self.n, self.k = X.shape
        self.n_components = len(operators) + 1
        self.y_variance = float(np.var(y))
        self.logdet_xtx = logdet_xtx(X)
        self.factor_columns = factor_columns(operators)
        if len(operators) == 1 and hasattr(operators[0], "thin_svd"):
            svd = operators[0].thin_svd()
        else:
            svd = thin_svd(np.hstack([op.factor() for op in operators]))
        self.U, self.m = svd.U, svd.rank
        data = np.column_stack([X, y])
        inside = self.U.T @ data
        outside = data - self.U @ inside
        self.residual_X, self.residual_y = outside[:, :-1], outside[:, -1]
        pseudo_rows = _pseudo_rows(outside, self.n - self.m)
        rotated = np.vstack([inside, pseudo_rows])
        self.X_rot, self.y_rot = rotated[:, :-1], rotated[:, -1]
        self.n_rows = rotated.shape[0]
        self.n_null = self.n - self.n_rows
        self.supports_profile = len(operators) == 1
        if self.supports_profile:
            self.s = np.concatenate([svd.eigenvalues, np.zeros(self.n_rows - self.m)])
            self.A = None
        else:
            self.s = None
            self.A = _kernel_blocks(svd, self.factor_columns)

    def state(self, weights: np.ndarray):
        weights = np.asarray(weights, dtype=np.float64)
        return DiagonalState(self, weights) if self.supports_profile else BlockState(self, weights)

    def engine_info(self) -> dict:
        return {"rank": int(self.m), "factor_columns": list(self.factor_columns), "compressed_rows": int(self.n_rows)}

    # --- one kernel: the REML likelihood profiled over h ----------------------------
    def smallest_profile_h(self) -> float:
        """The smallest (negative) h at which V = τ(h K + (1−h) I) stays positive definite."""
        s_max = float(self.s.max()) if self.s.size else 0.0
        return -1.0 / (s_max - 1.0) * (1.0 - 1e-6) if s_max > 1.0 else 0.0

    def profile_reml(self, h: float) -> tuple[float, float]:
        """(REML log-likelihood with the scale τ profiled out, τ̂) at V = τ (h K + (1−h) I)."""
        state = self.state(np.array([h, 1.0 - h]))
        dof = self.n - self.k
        tau = float(self.y_rot @ state.p_rot) / dof
        if tau <= 0 or not state.positive_definite:
            return -np.inf, tau
        _, logdet_xvx = logdet_pd(state.XtViX)
        logdet_v = float(np.sum(np.log(state.d))) + self.n_null * float(np.log(1.0 - h))
        loglik = -0.5 * (dof * (LOG_2PI + 1.0 + np.log(tau)) + logdet_v + logdet_xvx - self.logdet_xtx)
        return float(loglik), tau

    def profile_likelihood(self) -> ProfiledREML:
        """The same profile detached from U (O((m + k) k) numbers): the m + r compressed
        rows, and the n − m − r directions that carry no data as a complement of zeros.

        Returns
        -------
        ProfiledREML
        """
        k = self.k
        return ProfiledREML(self.s, self.y_rot, self.X_rot, self.logdet_xtx,
                            Complement(self.n_null, 0.0, np.zeros(k), np.zeros((k, k))))


def _pseudo_rows(outside: np.ndarray, room: int) -> np.ndarray:
    """r × (k+1) rows T with TᵀT = outsideᵀ outside, r = min(k+1, n − m): the
    coordinates of [X, y]'s part outside span(U) in an orthonormal basis of its span."""
    rows = min(outside.shape[1], room)
    if rows == 0:
        return np.zeros((0, outside.shape[1]))
    _, singular, right_t = np.linalg.svd(outside, full_matrices=False)
    return singular[:rows, None] * right_t[:rows]


def _kernel_blocks(svd, columns: list[int]) -> list[np.ndarray]:
    """A_k = diag(σ) V_kᵀ V_k diag(σ): kernel k in the U basis."""
    blocks, start = [], 0
    for width in columns:
        part = svd.V[start : start + width] * svd.sigma
        blocks.append(part.T @ part)
        start += width
    return blocks


def factor_columns(operators: list[KernelOperator]) -> list[int] | None:
    """Columns of each kernel's factor (without forming it), or None when some kernel
    has none."""
    columns = [op.factor_width() for op in operators]
    return None if any(c is None for c in columns) else columns


class LowRankEngine:
    """Kernels with factors of total rank below n, fitted exactly from one thin SVD."""

    name = "lowrank"

    def unsuitable(self, operators: list[KernelOperator], n: int) -> str | None:
        columns = factor_columns(operators)
        if columns is None:
            lacking = [i for i, op in enumerate(operators) if op.factor_width() is None]
            return f"kernel(s) {lacking} have no factor F with K = F Fᵀ"
        if sum(columns) >= n:
            return f"the factors have {sum(columns)} columns in all, not fewer than n = {n}"
        return None

    def auto_reason(self, operators: list[KernelOperator], n: int) -> str | None:
        if self.unsuitable(operators, n) is not None:
            return None
        total = sum(factor_columns(operators))
        if total > AUTO_MAX_RANK_SHARE * n:
            return None
        available = available_memory()
        if available is not None and lowrank_bytes(n, total) > AUTO_MEMORY_SHARE * available:
            return None
        return (f"every kernel has a factor (K = F Fᵀ; {total} columns in all, n = {n}): exact fit from one "
                f"thin SVD, O(n r²), no n×n matrix")

    def build(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator]) -> LowRankProblem:
        return LowRankProblem(y, X, operators)
