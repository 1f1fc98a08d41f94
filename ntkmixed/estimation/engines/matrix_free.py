"""The matrix-free engine: kernels used only through products K·V on blocks of vectors
(for the GRM, one streamed pass over the genotypes per product), never an n×n matrix
and never all genotypes as float64.

* MINQUE0 by randomised Haseman–Elston (RHE-reg, Pazokitoroudi et al. 2020): B probe
  vectors, two passes, SEs by a block jackknife over SNP blocks (:mod:`..stochastic`).
* Iterated MINQUE and REML with stochastic traces — Hutchinson estimates from the same
  B probes at every iteration — and preconditioned conjugate gradients (:mod:`..cg`,
  :mod:`..preconditioner`) for V⁻¹; CG iterations and the Monte-Carlo SEs of the traces
  are reported in ``engine_info``.
* Every trace is exact on the span of the kernels' top ``DEFLATION_RANK`` eigenvectors
  and Hutchinson only on the rest (Hutch++), so a few large eigenvalues — population
  structure — add no Monte-Carlo error. The reported covariance of θ̂ is the statistical
  one plus the Monte-Carlo one.
* β̂, P y and BLUPs (ĝ_k = σ̂²_k K_k P̂ y) by CG and one pass; prediction for new people
  streams K(new, train) P̂ y. Prediction-error variances (diag of K P K) are not
  estimated: they are NaN. The REML likelihood (a log-determinant) is not computed.

Seeded: probes come from ``numpy.random.default_rng(seed)``, sums over genotype blocks
run in one fixed order, so the same seed gives bit-identical results on one machine.

Interface for other operators (issue 16's block-evaluated NTK): anything with
``matmul(V)`` for n×m blocks works for iterated MINQUE and REML; an operator may offer
``preconditioner_factor()`` (L with K ≈ L Lᵀ, e.g. a Nyström factor) to replace the
randomised sketch. The MINQUE0 jackknife needs factor blocks
(:class:`~ntkmixed.estimation.block_factor.BlockFactorOperator`).
"""

from __future__ import annotations

import logging

import numpy as np

from ..._runtime import available_memory
from ..block_factor import BlockFactorOperator
from ..cg import conjugate_gradients
from ..operators import KernelOperator
from ..preconditioner import LowRankPreconditioner, nystrom_factor
from ._linalg import GLSAnswers, inverse_pd

LOG = logging.getLogger("ntkmixed")

#: Hutchinson probes. With the deflation below, 50 left a Monte-Carlo SE of h² of 0.001
#: at n = 100 000 × 10 000 SNPs (0.11 without it; benchmarks/README.md, "Large n"); the
#: SE is reported in engine_info and included in the reported SEs
DEFAULT_PROBES = 50
#: relative residual at which CG stops
DEFAULT_CG_TOL = 1e-6
#: directions of the largest kernel eigenvalues whose traces are taken exactly (Hutch++,
#: Meyer et al. 2021), Hutchinson covering the rest: population structure puts a few
#: eigenvalues of a GRM far above the bulk, and they alone gave 50 plain probes a
#: Monte-Carlo SE of h² of 0.11 at n = 100 000 (0.001 with these 20 directions)
DEFLATION_RANK = 20
#: columns of the randomised Nyström preconditioner (0: no preconditioner). Its sketch is
#: the deflation's (one pass for both); at n = 50 000 × 5 000 SNPs, rank 20 took CG to
#: 1e-6 in 14 iterations, rank 100 in 13 (and a pass five times wider to sketch), none in 16
DEFAULT_PRECONDITIONER_RANK = DEFLATION_RANK
#: "auto" uses this engine for streamed kernels when n×n matrices would need more
#: than this share of available memory
AUTO_MEMORY_SHARE = 0.5


def rademacher(n: int, count: int, seed: int) -> np.ndarray:
    """n × count random ±1 entries, seeded."""
    return np.random.default_rng(seed).integers(0, 2, size=(n, count), dtype=np.int8).astype(np.float64) * 2.0 - 1.0


class MatrixFreeProblem:
    """y, X and kernels known through products, with the probes, the CG settings and a
    record of the work done."""

    supports_profile = False

    def __init__(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator], probes: int = DEFAULT_PROBES,
                 seed: int = 0, cg_tol: float = DEFAULT_CG_TOL, cg_max_iter: int = 1000,
                 preconditioner_rank: int = DEFAULT_PRECONDITIONER_RANK):
        from ..stochastic import ESTIMATORS

        self.y, self.X = y, X
        self.n, self.k = X.shape
        self.operators = operators
        self.n_components = len(operators) + 1
        self.y_variance = float(np.var(y))
        self.Q = np.linalg.qr(X)[0] if self.k else np.zeros((self.n, 0))
        self.n_probes, self.seed = int(probes), int(seed)
        self.probes = rademacher(self.n, self.n_probes, self.seed)
        self.cg_tol, self.cg_max_iter = float(cg_tol), int(cg_max_iter)
        self.preconditioner_rank = int(preconditioner_rank)
        self.estimators = ESTIMATORS
        self.info: dict = {}
        #: MINQUE0's block-jackknife covariance alone (the fit adds the Monte-Carlo part)
        self.jackknife_cov: np.ndarray | None = None
        self.cg_log: list[tuple[str, int, float]] = []
        self._warm: dict[str, np.ndarray] = {}
        self._factors: list[np.ndarray] | None = None
        self._kernel_probes: list[np.ndarray] | None = None
        self._trace_columns: np.ndarray | None = None
        self._states: dict[bytes, MatrixFreeState] = {}

    # --- products and solves ------------------------------------------------------
    def project(self, V: np.ndarray) -> np.ndarray:
        """M V = (I − Q Qᵀ) V: the residual-maker of the fixed effects."""
        return V - self.Q @ (self.Q.T @ V) if self.k else V

    def kernel_products(self, V: np.ndarray) -> list[np.ndarray]:
        """[K_k V for each kernel] (one pass each for streamed kernels)."""
        return [op.matmul(V) for op in self.operators]

    @property
    def trace_columns(self) -> np.ndarray:
        """[Π⊥Z, D]: D (n × ≤ DEFLATION_RANK, orthonormal) spans the top eigenvectors of the
        kernels (the leading columns of their :meth:`sketches`) with the fixed effects
        projected out — the range of M K M where K has low rank —, Π⊥ = I − DDᵀ, Z the
        probes. For any C, tr C = Σ_d dᵀCd + E[(Π⊥z)ᵀ C (Π⊥z)]: exact on D, Hutchinson elsewhere
        (:meth:`per_probe` turns values per column into estimates per probe)."""
        if self._trace_columns is None:
            leading = [L[:, :DEFLATION_RANK] for L in self.sketches()]
            U, s, _ = np.linalg.svd(self.project(np.hstack(leading)), full_matrices=False)
            D = U[:, s > s[0] * 1e-8] if s.size and s[0] > 0 else np.zeros((self.n, 0))
            D = D[:, : DEFLATION_RANK]
            self._trace_columns = np.hstack([self.probes - D @ (D.T @ self.probes), D])
            self.info["deflation_rank"] = int(D.shape[1])
        return self._trace_columns

    def per_probe(self, values: np.ndarray) -> np.ndarray:
        """Per-probe estimates (…, B) from values per trace column (…, B + rank): each
        probe's Hutchinson term plus the exact part, so their mean is the trace estimate."""
        B = self.probes.shape[1]
        return values[..., :B] + values[..., B:].sum(axis=-1, keepdims=True)

    def kernel_probes(self) -> list[np.ndarray]:
        """K_k [Π⊥Z, D] for the trace columns, computed once (they never change)."""
        if self._kernel_probes is None:
            self._kernel_probes = self.kernel_products(self.trace_columns)
        return self._kernel_probes

    def apply_V(self, weights: np.ndarray, V: np.ndarray) -> np.ndarray:
        out = weights[-1] * V
        for w, op in zip(weights[:-1], self.operators):
            if w != 0:
                out = out + w * op.matmul(V)
        return out

    def sketches(self) -> list[np.ndarray]:
        """One Nyström factor L_k (K_k ≈ L_k L_kᵀ) per kernel, drawn once: a randomised
        sketch of rank max(DEFLATION_RANK, preconditioner rank), columns by decreasing
        eigenvalue, or the operator's own ``preconditioner_factor()``. The deflation takes
        the leading columns, the CG preconditioner the first ``preconditioner_rank`` of a
        sketch or all of an operator's own factor (one pass per kernel for both)."""
        if self._factors is None:
            rank = max(DEFLATION_RANK, self.preconditioner_rank)
            self._factors = [nystrom_factor(op, rank, self.seed + 1 + i) for i, op in enumerate(self.operators)]
        return self._factors

    def preconditioner(self, weights: np.ndarray):
        if self.preconditioner_rank <= 0:
            return None
        # an operator's own factor (a Nyström kernel's landmarks) is used whole, as drawn
        factors = [L if hasattr(op, "preconditioner_factor") else L[:, : self.preconditioner_rank]
                   for op, L in zip(self.operators, self.sketches())]
        return LowRankPreconditioner(factors, weights)

    def solve(self, weights: np.ndarray, B: np.ndarray, label: str, tol: float | None = None) -> np.ndarray:
        """V⁻¹ B by preconditioned CG, warm-started from the last solve with this label."""
        weights = np.asarray(weights, dtype=np.float64)
        start = self._warm.get(label)
        if start is not None and start.shape != B.shape:
            start = None
        result = conjugate_gradients(lambda V: self.apply_V(weights, V), B, self.preconditioner(weights), start,
                                     tol=self.cg_tol if tol is None else tol, max_iter=self.cg_max_iter)
        self._warm[label] = result.solution
        self.cg_log.append((label, result.iterations, result.max_residual))
        return result.solution

    def gls(self, weights: np.ndarray, extra: np.ndarray | None = None, label: str = "data"):
        """``(C, β̂, P y, P·extra)`` at these weights from one solve with [y, X, extra]."""
        columns = [self.y[:, None], self.X] + ([extra] if extra is not None else [])
        solved = self.solve(weights, np.hstack(columns), label)
        Vi_y, Vi_X = solved[:, 0], solved[:, 1 : 1 + self.k]
        C = inverse_pd(self.X.T @ Vi_X) if self.k else np.zeros((0, 0))
        beta = C @ (Vi_X.T @ self.y) if self.k else np.zeros(0)
        Py = Vi_y - Vi_X @ beta
        P_extra = None
        if extra is not None:
            Vi_extra = solved[:, 1 + self.k :]
            P_extra = Vi_extra - Vi_X @ (C @ (self.X.T @ Vi_extra)) if self.k else Vi_extra
        return C, beta, Py, P_extra

    def state(self, weights: np.ndarray) -> "MatrixFreeState":
        weights = np.asarray(weights, dtype=np.float64)
        key = weights.tobytes()
        if key not in self._states:
            self._states = {key: MatrixFreeState(self, weights)}
        return self._states[key]

    # --- what the engine reports --------------------------------------------------
    def engine_info(self) -> dict:
        iterations = [it for _, it, _ in self.cg_log]
        passes = sum(getattr(op, "passes", 0) for op in self.operators)
        info = {"probes": self.n_probes, "seed": self.seed, "cg_tol": self.cg_tol,
                "preconditioner_rank": self.preconditioner_rank if self.preconditioner_rank > 0 else 0,
                "cg_solves": len(iterations), "cg_iterations": int(sum(iterations)),
                "cg_iterations_max": int(max(iterations, default=0)),
                "cg_residual_max": float(max((r for _, _, r in self.cg_log), default=0.0)),
                "genotype_passes": int(passes)}
        kept = [op.tile_cache_fraction for op in self.operators if hasattr(op, "tile_cache_fraction")]
        if kept:  # a kernel evaluated tile by tile keeps tiles for later passes while they fit
            info["kernel_tiles_kept"] = float(min(kept))
        info.update(self.info)
        return info


class MatrixFreeState(GLSAnswers):
    """β̂, P y and BLUPs at fixed weights (one CG solve, one pass for the BLUPs)."""

    def __init__(self, problem: MatrixFreeProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        self.positive_definite = bool(weights[-1] > 0 and np.all(weights[:-1] >= 0))
        self.C, self.beta_hat, self.p, _ = problem.gls(weights)
        self._blups: list[np.ndarray] | None = None

    def q(self) -> np.ndarray:
        Kp = self.problem.kernel_products(self.p)
        return np.array([float(self.p @ v) for v in Kp] + [float(self.p @ self.p)])

    def reml_loglik(self) -> float:
        return float("nan")  # needs log|V|, which this engine does not compute

    def blup(self, component: int) -> np.ndarray:
        if self._blups is None:
            self._blups = [w * v for w, v in zip(self.weights[:-1], self.problem.kernel_products(self.p))]
        return self._blups[component]

    def pev(self, component: int) -> np.ndarray:
        return np.full(self.problem.n, np.nan)  # diag(K P K) is not estimated

    def total_blup(self) -> np.ndarray:
        return sum(self.blup(i) for i in range(len(self.problem.operators)))

    def total_pev(self) -> np.ndarray:
        return np.full(self.problem.n, np.nan)


class MatrixFreeEngine:
    """Kernels used through products only: stochastic traces and conjugate gradients."""

    name = "matrix-free"
    #: options ``build`` accepts (passed from ``fit``)
    options = ("probes", "seed")

    def unsuitable(self, operators: list[KernelOperator], n: int) -> str | None:
        return None

    def auto_reason(self, operators: list[KernelOperator], n: int) -> str | None:
        if not all(isinstance(op, BlockFactorOperator) for op in operators):
            return None
        available = available_memory()
        needed = 3 * 8 * n * n
        if available is None or needed <= AUTO_MEMORY_SHARE * available:
            return None
        return (f"streamed genotype kernels at n = {n}: n×n matrices would need {needed / 2**30:.0f} GiB of "
                f"{available / 2**30:.0f} GiB available, and no low-rank factor fits; stochastic traces and CG")

    def build(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator], **options) -> MatrixFreeProblem:
        return MatrixFreeProblem(y, X, operators, **options)
