"""The diagonal-plus-low-rank engine: one kernel K = F Fᵀ + diag(d) (F: n×m, d ≥ 0), as a
Nyström factor with its diagonal corrected to the exact kernel diagonal is.

At weights w = (w_g, w_e), V = w_g K + w_e I = Λ + w_g F Fᵀ with Λ = diag(w_g d + w_e), so
by Woodbury and the determinant lemma

    V⁻¹ = Λ⁻¹ − U N Uᵀ,   U = Λ⁻¹F,   N = w_g (I + w_g FᵀΛ⁻¹F)⁻¹,
    log|V| = Σ log λᵢ + log|I + w_g FᵀΛ⁻¹F|.

Λ changes with the weights, so every evaluation costs one weighted Gram FᵀΛ⁻¹F
(O(n m²)) and an m×m Cholesky — no n×n array. The projection is P = Λ⁻¹ − L N_P Lᵀ with
L = [U, V⁻¹X] and N_P = diag(N, (XᵀV⁻¹X)⁻¹); the traces of S come from five more
weighted Grams (see :meth:`DiagonalLowRankState.S`), exactly. Var(q) at weights other
than the estimate (MINQUE0) uses the generic low-rank algebra, O(n m²) with a larger
constant.

With d = 0 this is still exact, but the low-rank engine (one thin SVD, O(n k) per
evaluation) is the cheaper choice.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.linalg

from ..diagonal_low_rank import DiagonalPlusLowRankOperator
from ..operators import KernelOperator
from ._linalg import FactoredGLSState, inverse_pd, logdet_xtx, profiled_reml
from ._lowrank_algebra import LowRankUpdate, power_traces, weighted_gram


#: S from traces of P (two Grams) when w_g ≥ this share of w_e; below, the division by
#: w_g² would cost more than ~4 digits, and S is computed directly (six Grams)
POLYNOMIAL_S_RATIO = 0.01


class DiagonalLowRankEngine:
    """``engine="diagonal-lowrank"``: one kernel held as F Fᵀ + diag(d)."""

    name = "diagonal-lowrank"

    def unsuitable(self, operators: list[KernelOperator], n: int) -> str | None:
        if len(operators) != 1:
            return f"it fits one kernel; got {len(operators)}"
        if not isinstance(operators[0], DiagonalPlusLowRankOperator):
            return "the kernel is not held as a low-rank factor plus a diagonal (use Nystrom(..., diagonal='exact'))"
        return None

    def auto_reason(self, operators: list[KernelOperator], n: int) -> str | None:
        if self.unsuitable(operators, n) is not None:
            return None
        m = operators[0].rank
        return (f"one kernel held as a rank-{m} factor plus a diagonal (n = {n}): Woodbury and the determinant "
                f"lemma, O(n m²) per evaluation, no n×n matrix")

    def build(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator]) -> "DiagonalLowRankProblem":
        return DiagonalLowRankProblem(y, X, operators[0])


class DiagonalLowRankProblem:
    """y, X and K = F Fᵀ + diag(d)."""

    n_components = 2
    supports_profile = True
    #: points of the REML grid before the 1-D search (each costs an O(n m²) Gram)
    profile_grid_points = 10
    #: Fisher-scoring steps after the 1-D search (each costs a state and its traces); the
    #: search leaves h within ~1e-7, and the steps converge linearly from there
    polish_steps = 4

    def __init__(self, y: np.ndarray, X: np.ndarray, operator: DiagonalPlusLowRankOperator):
        self.operator = operator
        self.F, self.d = operator.F, operator.d
        self.y, self.X = y, X
        self.n, self.k = X.shape
        self.logdet_xtx = logdet_xtx(X)
        self.y_variance = float(np.var(y))

    def engine_info(self) -> dict:
        """The rank of the factor and, for a Nyström kernel, how it approximates K."""
        return {"rank": int(self.F.shape[1]), **self.operator.approximation}

    def state(self, weights: np.ndarray) -> "DiagonalLowRankState":
        return DiagonalLowRankState(self, np.asarray(weights, dtype=np.float64))

    @cached_property
    def _largest_eigenvalue_bound(self) -> float:
        """λ_max(F Fᵀ + D) ≤ λ_max(FᵀF) + max d."""
        return float(np.linalg.eigvalsh(weighted_gram(self.F))[-1] + (self.d.max() if self.d.size else 0.0))

    def smallest_profile_h(self) -> float:
        """A negative h above which V = τ(h K + (1−h) I) is positive definite (from an
        upper bound on λ_max(K), so slightly conservative)."""
        s_max = self._largest_eigenvalue_bound
        return -1.0 / (s_max - 1.0) * (1.0 - 1e-6) if s_max > 1.0 else 0.0

    def profile_reml(self, h: float) -> tuple[float, float]:
        return profiled_reml(self, self.state(np.array([h, 1.0 - h])))


class DiagonalLowRankState(FactoredGLSState):
    def __init__(self, problem: DiagonalLowRankProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        F, d = problem.F, problem.d
        w_g, w_e = weights
        lam = w_g * d + w_e
        if np.any(lam == 0):
            from ...exceptions import NtkmixedError

            raise NtkmixedError("V is singular at these variance components.")
        self.lam = lam
        self._grams: dict[str, np.ndarray] = {}
        m = F.shape[1]
        self.A = self._gram("1/l", 1.0 / lam)  # FᵀΛ⁻¹F
        inner = np.eye(m) + w_g * self.A
        try:
            self._inner = ("cho", scipy.linalg.cho_factor(inner, check_finite=False))
            inner_pd = True
            logdet_inner = 2.0 * float(np.sum(np.log(np.diag(self._inner[1][0]))))
        except np.linalg.LinAlgError:
            self._inner = ("lu", scipy.linalg.lu_factor(inner, check_finite=False))
            inner_pd = False
            logdet_inner = float("nan")
        self.positive_definite = bool(np.all(lam > 0) and inner_pd)
        self.logdet_v = float(np.sum(np.log(lam)) + logdet_inner) if self.positive_definite else float("nan")
        self.N = w_g * self._inner_solve(np.eye(m))  # middle of V⁻¹ = Λ⁻¹ − U N Uᵀ
        self.N = (self.N + self.N.T) / 2.0
        X = problem.X
        solved = self.solve(np.column_stack([problem.y, X]))
        self._Vi_y, self.ViX = solved[:, 0], solved[:, 1:]
        self.XtViX = X.T @ self.ViX
        self.C = inverse_pd(self.XtViX) if X.shape[1] else np.zeros((0, 0))
        self.beta_hat = self.C @ (self.ViX.T @ problem.y)
        self.p = self._Vi_y - self.ViX @ self.beta_hat  # P y

    # --- Woodbury ---------------------------------------------------------------------
    def _inner_solve(self, B: np.ndarray) -> np.ndarray:
        kind, factor = self._inner
        if kind == "cho":
            return scipy.linalg.cho_solve(factor, B, check_finite=False)
        return scipy.linalg.lu_solve(factor, B, check_finite=False)

    def solve(self, B: np.ndarray) -> np.ndarray:
        """V⁻¹ B = Λ⁻¹B − Λ⁻¹F N FᵀΛ⁻¹B, O(n m) per column."""
        F, lam = self.problem.F, self.lam
        scaled = B / (lam if B.ndim == 1 else lam[:, None])
        correction = F @ (self.N @ (F.T @ scaled))
        return scaled - (correction / (lam if B.ndim == 1 else lam[:, None]))

    def _gram(self, key: str, weights: np.ndarray) -> np.ndarray:
        """Fᵀ diag(weights) F, cached per state."""
        if key not in self._grams:
            F = self.problem.F
            self._grams[key] = weighted_gram(F, weights) if np.all(weights >= 0) else (F * weights[:, None]).T @ F
        return self._grams[key]

    # --- the projection P = Λ⁻¹ − L N_P Lᵀ, L = [Λ⁻¹F, V⁻¹X] -------------------------------
    @cached_property
    def N_P(self) -> np.ndarray:
        m, k = self.N.shape[0], self.C.shape[0]
        out = np.zeros((m + k, m + k))
        out[:m, :m] = self.N
        out[m:, m:] = self.C
        return out

    def _lgram(self, key: str, w: np.ndarray) -> np.ndarray:
        """Lᵀ diag(w) L from the F-Gram with weights w/λ² and O(n m k) cross terms."""
        F, lam, W = self.problem.F, self.lam, self.ViX
        m, k = F.shape[1], W.shape[1]
        out = np.empty((m + k, m + k))
        out[:m, :m] = self._gram(key, w / lam**2)
        cross = F.T @ ((w / lam)[:, None] * W)
        out[:m, m:] = cross
        out[m:, :m] = cross.T
        out[m:, m:] = W.T @ (w[:, None] * W)
        return out

    def _f_lgram(self, key: str, w: np.ndarray) -> np.ndarray:
        """Fᵀ diag(w) L (m × r): the F-Gram with weights w/λ beside Fᵀ diag(w) V⁻¹X."""
        F, lam = self.problem.F, self.lam
        return np.hstack([self._gram(key, w / lam), F.T @ (w[:, None] * self.ViX)])

    def S(self) -> np.ndarray:
        """S_ij = tr(P K_i P K_j). When w_g is not small against w_e, from tr P and tr P²
        (two weighted Grams; PVP = P and K = (V − w_e I)/w_g make S a polynomial in them);
        otherwise, where that division would cost digits, directly (:meth:`S_direct`)."""
        w_g, w_e = self.weights
        if w_g < POLYNOMIAL_S_RATIO * w_e or w_e <= 0:
            return self.S_direct()
        t1, t2 = self.projection_traces()
        nu = self.problem.n - self.problem.k
        s_gg = (nu - 2 * w_e * t1 + w_e**2 * t2) / w_g**2
        s_ge = (t1 - w_e * t2) / w_g
        return np.array([[s_gg, s_ge], [s_ge, t2]])

    def projection_traces(self) -> np.ndarray:
        """[tr P, tr P²] with P = Λ⁻¹ − L N_P Lᵀ (power traces, grams Lᵀ Λ⁻ᵃ L)."""
        lam = self.lam
        ones = np.ones_like(lam)
        grams = [self._lgram("1/l2", ones), self._lgram("1/l3", 1.0 / lam)]
        return power_traces([np.sum(1.0 / lam), np.sum(1.0 / lam**2)], grams, self.N_P, sign=-1.0)

    def S_direct(self) -> np.ndarray:
        """S_ij = tr(P K_i P K_j), K = F Fᵀ + D, K_e = I, exactly, from six weighted Grams.

        With Δ₁ = D Λ⁻¹ and T = E₁ − N_P LᵀF (E₁ picks U = L E₁), P K = Δ₁ + L Bᵀ with
        Bᵀ = T Fᵀ − N_P Lᵀ D; then tr((PK)²), tr(P·PK) and tr(P²) need only r×r
        products of Lᵀ diag(·) L and Fᵀ diag(·) L (r = m + k)."""
        d, lam = self.problem.d, self.lam
        m = self.problem.F.shape[1]
        NP = self.N_P
        ones = np.ones_like(lam)
        delta1 = d / lam
        LtF = self._f_lgram("1/l", ones).T  # LᵀF = [FᵀΛ⁻¹F; (V⁻¹X)ᵀF]
        T = -NP @ LtF
        T[:m] += np.eye(m)
        BtL = T @ LtF.T - NP @ self._lgram("d/l2", d)
        BtD1L = T @ self._f_lgram("d/l2", delta1) - NP @ self._lgram("d2/l3", d * delta1)
        BtLiL = T @ self._f_lgram("1/l2", 1.0 / lam) - NP @ self._lgram("d/l3", d / lam)
        LtL = self._lgram("1/l2", ones)
        NLtL = NP @ LtL
        s_gg = np.sum(delta1**2) + 2.0 * np.trace(BtD1L) + np.trace(BtL @ BtL)
        s_ge = np.sum(d / lam**2) + np.trace(BtLiL) - np.sum(NP * self._lgram("d/l3", delta1).T) - np.trace(NLtL @ BtL)
        s_ee = np.sum(1.0 / lam**2) - 2.0 * np.sum(NP * self._lgram("1/l3", 1.0 / lam).T) + np.trace(NLtL @ NLtL)
        return np.array([[s_gg, s_ge], [s_ge, s_ee]])

    def q(self) -> np.ndarray:
        F, d, p = self.problem.F, self.problem.d, self.p
        Ftp = F.T @ p
        return np.array([float(Ftp @ Ftp + np.sum(d * p * p)), float(p @ p)])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        """Var(q)_ij = 2 tr(P K_i P V̂ P K_j P V̂), V̂ = V(θ). At θ ∝ w it is 2c²S; otherwise
        by products of low-rank updates (O(n m²), memory about n × 4m)."""
        theta = np.asarray(theta, dtype=np.float64)
        w = self.weights
        ratio = theta / w if np.all(w != 0) else None
        if ratio is not None and np.allclose(ratio, ratio[0], rtol=1e-12, atol=0):
            return 2.0 * ratio[0] ** 2 * self.S_direct()
        F, d, lam = self.problem.F, self.problem.d, self.lam
        n, m = F.shape
        L = np.hstack([F / lam[:, None], self.ViX])
        P = LowRankUpdate(1.0 / lam, L, -self.N_P, L)
        K = LowRankUpdate(d, F, np.eye(m), F)
        V_hat = LowRankUpdate(theta[0] * d + theta[1], F, theta[0] * np.eye(m), F)
        chains = [P @ K @ P @ V_hat, P @ P @ V_hat]
        out = np.empty((2, 2))
        for i in range(2):
            for j in range(i, 2):
                out[i, j] = out[j, i] = 2.0 * chains[i].trace_product(chains[j])
        return out

    def blup(self, component: int) -> np.ndarray:
        self._check_genetic(component)
        return self.weights[0] * self.problem.operator.matmul(self.p)

    def pev(self, component: int) -> np.ndarray:
        """diag(w K − w² K P K) with K P K = K Λ⁻¹ K − (K L) N_P (K L)ᵀ."""
        self._check_genetic(component)
        F, d, lam = self.problem.F, self.problem.d, self.lam
        w = self.weights[0]
        row_norms = np.einsum("ij,ij->i", F, F)
        k_lam_k = d**2 / lam + 2.0 * d * row_norms / lam + np.einsum("ij,jk,ik->i", F, self.A, F)
        L_F = np.hstack([self.A, F.T @ self.ViX])  # Fᵀ L
        KL = np.hstack([(d / lam)[:, None] * F, d[:, None] * self.ViX]) + F @ L_F
        kpk = k_lam_k - np.einsum("ij,ij->i", KL @ self.N_P, KL)
        return w * (row_norms + d) - w**2 * kpk

    def total_blup(self) -> np.ndarray:
        return self.blup(0)

    def total_pev(self) -> np.ndarray:
        return self.pev(0)

    def _check_genetic(self, component: int) -> None:
        if component != 0:
            raise IndexError("a single-kernel model has one genetic component (index 0)")
