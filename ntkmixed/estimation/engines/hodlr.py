"""The HODLR engine (``engine="hodlr"``): one kernel compressed once to HODLR form, then
REML with one O(n r² log² n) factorisation of V = w_g K_H + w_e I per evaluation.

This is the idea of NExt-LMM (Wang, Ge & Pu, arXiv 2508.05278) made to work: a real
recursive factorisation (:mod:`._hodlr_factor`) instead of dense inverses, a randomised
compression to a stated tolerance (:mod:`._hodlr_matrix`) instead of a full SVD per
level, and the achieved error measured on a probe. Whether a kernel compresses depends
on the people's order and relatedness; ``res.engine_info`` reports the off-diagonal
ranks per level, the stored fraction of n² and the probe error, so a user can see it.

REML needs log|V|, solves and, for its Fisher information, tr P and tr P²; with PVP = P
and K = (V − w_e I)/w_g every trace MINQUE or REML uses is a polynomial in tr Pʲ
(j ≤ 4, from the recursion's exact inverse-power traces), so the state offers S and
Var(q) too. Those formulas divide by w_g, and lose digits when w_g ≪ w_e (h² below
~1e-3); MINQUE0, whose weights have w_g = 0, needs products with K that this engine
does not form: the engine fits ``method="reml"`` (and iterated MINQUE from a start
with w_g > 0 is not offered).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from functools import cached_property

import numpy as np

from ..._runtime import single_threaded_blas
from ...exceptions import NtkmixedError
from ..operators import KernelOperator
from ._hodlr_factor import HODLRFactor
from ._hodlr_matrix import compress
from ._linalg import FactoredGLSState, inverse_pd, logdet_xtx, profiled_reml
from ._lowrank_algebra import power_traces

_SEED_PROBE = 12345


class HODLREngine:
    """``engine="hodlr"``: one kernel whose entries can be read (a dense matrix, or a
    kernel evaluated on the fly), compressed to ``tol``.

    Parameters
    ----------
    tol : float, default 1e-8
        Relative accuracy of each off-diagonal block's low-rank approximation.
    leaf_size : int, default 256
        Size of the diagonal blocks kept dense.
    max_rank : int, default 1024
        Largest rank of an off-diagonal block.
    seed : int, default 0
        Seed of the randomised compression.
    """

    name = "hodlr"

    def __init__(self, tol: float = 1e-8, leaf_size: int = 256, max_rank: int = 1024, seed: int = 0):
        self.tol, self.leaf_size, self.max_rank, self.seed = float(tol), int(leaf_size), int(max_rank), int(seed)

    def unsuitable(self, operators: list[KernelOperator], n: int) -> str | None:
        """Why this engine cannot fit these kernels, or None.

        Parameters
        ----------
        operators : list of KernelOperator
            The kernels.
        n : int
            Number of rows.

        Returns
        -------
        str or None
        """
        if len(operators) != 1:
            return f"it fits one kernel; got {len(operators)}"
        if not (operators[0].has_dense or hasattr(operators[0], "block")):
            return "its entries cannot be read (neither a dense matrix nor a kernel evaluated on the fly)"
        return None

    def auto_reason(self, operators: list[KernelOperator], n: int) -> str | None:
        """Why ``engine="auto"`` should choose this engine: never (it is chosen by name).

        Parameters
        ----------
        operators : list of KernelOperator
            The kernels.
        n : int
            Number of rows.

        Returns
        -------
        None
        """
        return None  # chosen by name only: whether it pays depends on the data (see the docstring)

    def build(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator]) -> "HODLRProblem":
        """The kernel compressed to HODLR form, with y and X.

        Parameters
        ----------
        y : numpy.ndarray
            The response.
        X : numpy.ndarray
            Fixed-effect design, n × k.
        operators : list of KernelOperator
            The one kernel.

        Returns
        -------
        HODLRProblem
        """
        return HODLRProblem(y, X, operators[0], self.tol, self.leaf_size, self.max_rank, self.seed)


def entry_source(operator: KernelOperator):
    """``source(r0, r1, c0, c1)`` giving K[r0:r1, c0:c1]: the operator's own blocks when
    it evaluates them on the fly and holds no matrix, else views of the dense matrix."""
    if hasattr(operator, "block") and not getattr(operator, "is_formed", True):
        return operator.block
    matrix = operator.dense()
    return lambda r0, r1, c0, c1: matrix[r0:r1, c0:c1]


class HODLRProblem:
    """y, X and one kernel in HODLR form."""

    n_components = 2
    supports_profile = True
    #: points of the REML grid before the 1-D search (each costs one factorisation)
    profile_grid_points = 12
    #: Fisher-scoring steps after the 1-D search (each costs a state and its traces); the
    #: search leaves h within ~1e-7, and the steps converge linearly from there
    polish_steps = 6

    def __init__(self, y, X, operator: KernelOperator, tol: float, leaf_size: int, max_rank: int, seed: int):
        self.y, self.X = y, X
        self.n, self.k = X.shape
        self.logdet_xtx = logdet_xtx(X)
        self.y_variance = float(np.var(y))
        start = time.perf_counter()
        self.matrix = compress(entry_source(operator), self.n, tol, leaf_size, max_rank, seed)
        seconds = time.perf_counter() - start
        probe = np.random.default_rng(_SEED_PROBE).standard_normal(self.n)
        exact = operator.matmul(probe)
        error = float(np.linalg.norm(self.matrix.matmul(probe) - exact) / np.linalg.norm(exact))
        self._largest_rank = max((max(level) for level in self.matrix.ranks_by_level()), default=0)
        self._info = {
            "hodlr_tol": tol, "leaf_size": leaf_size, "max_rank": max_rank, "seed": seed,
            "ranks_by_level": [_summary(level) for level in self.matrix.ranks_by_level()],
            "stored_fraction": self.matrix.stored_numbers() / float(self.n) ** 2,
            "probe_relative_error": error,
            "capped_blocks": int(sum(node.block_error > 0 for node in self.matrix.nodes())),
            "compression_seconds": seconds,
        }

    def blas_context(self):
        if max(self.matrix.leaf_size, self._largest_rank) <= SMALL_BLOCKS:
            return single_threaded_blas(1)[0]
        return nullcontext()

    def engine_info(self) -> dict:
        """Tolerance, leaf size, off-diagonal ranks per level (min/median/max), the stored
        fraction of n² numbers, the relative error on a random probe and the seconds
        the compression took."""
        return dict(self._info)

    def state(self, weights: np.ndarray) -> "HODLRState":
        return HODLRState(self, np.asarray(weights, dtype=np.float64))

    def profile_reml(self, h: float) -> tuple[float, float]:
        return profiled_reml(self, self.state(np.array([h, 1.0 - h])))

    @cached_property
    def _largest_eigenvalue(self) -> float:
        vector = np.random.default_rng(0).standard_normal(self.n)
        value = 0.0
        for _ in range(100):
            image = self.matrix.matmul(vector)
            new = float(np.linalg.norm(image))
            vector = image / new
            if abs(new - value) <= 1e-10 * new:
                break
            value = new
        return new

    def smallest_profile_h(self) -> float:
        s_max = 1.01 * self._largest_eigenvalue  # power iteration from below, with a margin
        return -1.0 / (s_max - 1.0) * (1.0 - 1e-6) if s_max > 1.0 else 0.0


def _summary(ranks: list[int]) -> dict:
    return {"blocks": len(ranks), "min": int(min(ranks)), "median": float(np.median(ranks)), "max": int(max(ranks))}


#: below this leaf size and largest rank the factorisation runs on single-threaded BLAS:
#: a long chain of small products, which multi-threaded BLAS slows down many times over
#: on a busy machine (as the KRR band reduction, see ``_runtime.single_threaded_blas``)
SMALL_BLOCKS = 256


class HODLRState(FactoredGLSState):
    def __init__(self, problem: HODLRProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        with problem.blas_context():
            self._build(weights)

    def _build(self, weights: np.ndarray) -> None:
        problem = self.problem
        self.factor = HODLRFactor(problem.matrix, weights[0], weights[1])
        self.positive_definite = self.factor.positive_definite
        self.logdet_v = self.factor.logdet if self.positive_definite else float("nan")
        X = problem.X
        solved = self.factor.solve(np.column_stack([problem.y, X]))
        self._Vi_y, self.ViX = solved[:, 0], solved[:, 1:]
        self.XtViX = X.T @ self.ViX
        self.C = inverse_pd(self.XtViX) if X.shape[1] else np.zeros((0, 0))
        self.beta_hat = self.C @ (self.ViX.T @ problem.y)
        self.p = self._Vi_y - self.ViX @ self.beta_hat

    @cached_property
    def projection_traces(self) -> np.ndarray:
        """[tr P, tr P², tr P³, tr P⁴], P = V⁻¹ − L C Lᵀ with L = V⁻¹X."""
        with self.problem.blas_context():
            L2 = self.factor.solve(self.ViX)
            L3 = self.factor.solve(L2)
            L1 = self.ViX
            grams = [L1.T @ L1, L1.T @ L2, L2.T @ L2, L2.T @ L3]
            return power_traces(self.factor.inverse_power_traces(), grams, self.C, sign=-1.0)

    def _require_genetic_weight(self, what: str) -> None:
        if self.weights[0] == 0:
            raise NtkmixedError(
                f"The 'hodlr' engine cannot compute {what} at σ²_g = 0 (MINQUE0's weights): it works "
                "through V = σ²_g K + σ²_e I. Use method='reml' with engine='hodlr'."
            )

    def S(self) -> np.ndarray:
        """S from tr P and tr P² (PVP = P; K = (V − w_e I)/w_g)."""
        self._require_genetic_weight("S = tr(P K_i P K_j)")
        w_g, w_e = self.weights
        t1, t2 = self.projection_traces[:2]
        nu = self.problem.n - self.problem.k
        s_gg = (nu - 2 * w_e * t1 + w_e**2 * t2) / w_g**2
        s_ge = (t1 - w_e * t2) / w_g
        return np.array([[s_gg, s_ge], [s_ge, t2]])

    def q(self) -> np.ndarray:
        return np.array([float(self.p @ self.problem.matrix.matmul(self.p)), float(self.p @ self.p)])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        """2 tr(K_i Q K_j Q), Q = P V̂ P = aP + bP², K_i = c_i V + e_i I: a polynomial in tr Pʲ."""
        self._require_genetic_weight("Var(q)")
        w_g, w_e = self.weights
        t1, t2, t3, t4 = self.projection_traces
        nu = self.problem.n - self.problem.k
        a = theta[0] / w_g
        b = theta[1] - a * w_e
        vqvq = a * a * nu + 2 * a * b * t1 + b * b * t2
        qvq = a * a * t1 + 2 * a * b * t2 + b * b * t3
        qq = a * a * t2 + 2 * a * b * t3 + b * b * t4
        c, e = np.array([1.0 / w_g, 0.0]), np.array([-w_e / w_g, 1.0])
        out = np.empty((2, 2))
        for i in range(2):
            for j in range(2):
                out[i, j] = 2.0 * (c[i] * c[j] * vqvq + (c[i] * e[j] + e[i] * c[j]) * qvq + e[i] * e[j] * qq)
        return out

    def blup(self, component: int) -> np.ndarray:
        self._check_genetic(component)
        return self.weights[0] * self.problem.matrix.matmul(self.p)

    def pev(self, component: int) -> np.ndarray:
        """diag(w_g K − w_g² K P K) = w_e − w_e² diag(P) + xᵢᵀCxᵢ − 2 w_e xᵢᵀC(V⁻¹X)ᵢᵀ
        (K P K through V, with V P V = V − X C Xᵀ): no product with K needed."""
        self._check_genetic(component)
        w_e = self.weights[1]
        X, ViX, C = self.problem.X, self.ViX, self.C
        diag_P = self.factor.inverse_diagonal() - np.einsum("ij,ij->i", ViX @ C, ViX)
        XC = X @ C
        return w_e - w_e**2 * diag_P + np.einsum("ij,ij->i", XC, X) - 2 * w_e * np.einsum("ij,ij->i", XC, ViX)

    def total_blup(self) -> np.ndarray:
        return self.blup(0)

    def total_pev(self) -> np.ndarray:
        return self.pev(0)

    def _check_genetic(self, component: int) -> None:
        if component != 0:
            raise IndexError("a single-kernel model has one genetic component (index 0)")
