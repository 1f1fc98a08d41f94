"""Linear algebra of a problem compressed onto the range of its kernels (the low-rank
engine's states; :mod:`.lowrank` builds the compression).

Every kernel lives in the span of U (n×m, orthonormal): K_k = U A_k Uᵀ. In an orthonormal
basis [U, W, N] of Rⁿ, where W (n×r, r ≤ k+1) spans the part of [X, y] outside U and N
the rest, X and y have coordinates [UᵀX; T_X; 0] and [Uᵀy; t_y; 0], and

    V = Σ_k w_k K_k + w_e I = blockdiag(M, w_e I_r, w_e I_c),   M = Σ_k w_k A_k + w_e I_m.

The last c = n − m − r coordinates ("null rows") carry no data and no kernel: they enter
only traces and log-determinants, through their count. So every quantity of
:mod:`ntkmixed.estimation.problem` is computed exactly on N' = m + r rows, and no n×n
array exists. Two states:

* :class:`DiagonalState` — one kernel: A = diag(σ²), so V is diagonal in this basis and a
  state costs O(N' k²) (the FaST-LMM low-rank algebra; the formulas are the spectral
  engine's, plus the null rows).
* :class:`BlockState` — several kernels: M is dense; one Cholesky factorisation and the
  explicit projection P (N'×N') per state, O(N'³).

Notation: P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹; components are the kernels, then the residual.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.linalg

from ...exceptions import NtkmixedError
from ._linalg import LOG_2PI, inverse_pd, logdet_pd


class _CompressedState:
    """What both states share: GLS, P y and the likelihood from a solve with V in
    compressed coordinates (``_solve``) and its log-determinant (``_logdet_v``)."""

    def __init__(self, problem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        self.residual_weight = float(weights[-1])
        if problem.n_null and self.residual_weight == 0:
            raise NtkmixedError("V is singular at these variance components (zero residual variance).")
        self._factorise()
        X, y = problem.X_rot, problem.y_rot
        self.ViX = self._solve(X)
        self.XtViX = X.T @ self.ViX
        self.C = inverse_pd(self.XtViX)
        self.beta_hat = self.C @ (self.ViX.T @ y)
        self.p_rot = self._solve(y - X @ self.beta_hat)  # P y in compressed coordinates

    def _factorise(self) -> None:
        raise NotImplementedError

    def _solve(self, B: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _logdet_v(self) -> float:
        raise NotImplementedError

    def _null_inverse(self) -> float:
        """1/w_e: V⁻¹ (and P) on a null row."""
        return 1.0 / self.residual_weight if self.residual_weight != 0 else 0.0

    def reml_loglik(self) -> float:
        if not self.positive_definite:
            return float("nan")
        problem = self.problem
        sign, logdet_xvx = logdet_pd(self.XtViX)
        if sign <= 0:
            return float("nan")
        quad = float(problem.y_rot @ self.p_rot)
        return -0.5 * ((problem.n - problem.k) * LOG_2PI + self._logdet_v() + logdet_xvx - problem.logdet_xtx + quad)

    def beta(self) -> np.ndarray:
        return self.beta_hat

    def cov_beta(self) -> np.ndarray:
        return self.C

    def Py(self) -> np.ndarray:
        """P y on the n people: its part in span(U) plus (r_y − R_X β̂)/w_e outside it."""
        problem = self.problem
        inside = problem.U @ self.p_rot[: problem.m]
        outside = problem.residual_y - problem.residual_X @ self.beta_hat
        return inside + outside * self._null_inverse()


class DiagonalState(_CompressedState):
    """One kernel, A = diag(s) with s the non-zero eigenvalues of K (then zeros on the r
    complement rows): V = diag(d), d = w_g s + w_e."""

    def _factorise(self) -> None:
        problem = self.problem
        d = self.weights[0] * problem.s + self.residual_weight
        if np.any(d == 0):
            raise NtkmixedError("V is singular at these variance components.")
        self.d = d
        self.positive_definite = bool(np.all(d > 0) and (problem.n_null == 0 or self.residual_weight > 0))
        self.W = problem.X_rot / d[:, None]

    def _solve(self, B: np.ndarray) -> np.ndarray:
        return B / (self.d[:, None] if B.ndim == 2 else self.d)

    def _logdet_v(self) -> float:
        return float(np.sum(np.log(self.d))) + self.problem.n_null * float(np.log(self.residual_weight))

    def _diagonals(self) -> list[np.ndarray]:
        return [self.problem.s, np.ones(self.d.size)]

    def S(self) -> np.ndarray:
        A, W, C, d = self._diagonals(), self.W, self.C, self.d
        G = [C @ (W.T @ (a[:, None] * W)) for a in A]  # C Wᵀ diag(a) W
        S = np.empty((2, 2))
        for i in range(2):
            for j in range(i, 2):
                value = np.sum(A[i] * A[j] / d**2)
                value -= 2.0 * np.trace(C @ (W.T @ ((A[i] * A[j] / d)[:, None] * W)))
                value += np.trace(G[i] @ G[j])
                S[i, j] = S[j, i] = value
        S[1, 1] += self.problem.n_null * self._null_inverse() ** 2
        return S

    def q(self) -> np.ndarray:
        return np.array([np.sum(a * self.p_rot**2) for a in self._diagonals()])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        """2 tr(P K_i P V̂ P K_j P V̂): per component P a P = diag(f) + L M Lᵀ with
        L = [W, (a/d) W] (the spectral engine's algebra), plus the null rows."""
        A, W, C, d = self._diagonals(), self.W, self.C, self.d
        v = theta[0] * self.problem.s + theta[1]
        k = W.shape[1]
        parts = []
        for a in A:
            L = np.hstack([W, (a / d)[:, None] * W])
            G = W.T @ (a[:, None] * W)
            M = np.block([[C @ G @ C, -C], [-C, np.zeros((k, k))]])
            parts.append((a / d**2, L, M))
        out = np.empty((2, 2))
        for i in range(2):
            fi, Li, Mi = parts[i]
            for j in range(i, 2):
                fj, Lj, Mj = parts[j]
                value = np.sum(fi * fj * v**2)
                value += np.trace(Mj @ (Lj.T @ ((fi * v**2)[:, None] * Lj)))
                value += np.trace(Mi @ (Li.T @ ((fj * v**2)[:, None] * Li)))
                cross = Li.T @ (v[:, None] * Lj)
                value += np.trace(Mi @ cross @ Mj @ cross.T)
                out[i, j] = out[j, i] = 2.0 * value
        out[1, 1] += 2.0 * self.problem.n_null * (theta[1] * self._null_inverse() ** 2) ** 2
        return out

    def blup(self, component: int) -> np.ndarray:
        self._check_genetic(component)
        m = self.problem.m
        return self.problem.U @ (self.weights[0] * self.problem.s[:m] * self.p_rot[:m])

    def pev(self, component: int) -> np.ndarray:
        """diag(w K − w² K P K) with K P K = U diag(s) P₁₁ diag(s) Uᵀ."""
        self._check_genetic(component)
        problem, w = self.problem, self.weights[0]
        m, U = problem.m, problem.U
        s, d1 = problem.s[:m], self.d[:m]
        USW = U @ (s[:, None] * self.W[:m])
        return (U**2) @ (w * s - w**2 * s**2 / d1) + w**2 * np.einsum("ij,ij->i", USW @ self.C, USW)

    def total_blup(self) -> np.ndarray:
        return self.blup(0)

    def total_pev(self) -> np.ndarray:
        return self.pev(0)

    @staticmethod
    def _check_genetic(component: int) -> None:
        if component != 0:
            raise IndexError("a single-kernel model has one genetic component (index 0)")


class BlockState(_CompressedState):
    """Several kernels: M = Σ_k w_k A_k + w_e I_m factorised by Cholesky, and P formed
    on the N' compressed rows."""

    def _factorise(self) -> None:
        problem = self.problem
        w_e = self.residual_weight
        M = w_e * np.eye(problem.m)
        for w, A in zip(self.weights[:-1], problem.A):
            M += w * A
        try:
            self._cholesky = scipy.linalg.cho_factor(M, check_finite=False)
            self._logdet_m = 2.0 * float(np.sum(np.log(np.diag(self._cholesky[0]))))
            self.positive_definite = w_e > 0 or (problem.n_rows == problem.m and problem.n_null == 0)
        except np.linalg.LinAlgError:  # indefinite V at unconstrained estimates
            self._cholesky = None
            self._M = M
            self._logdet_m = float("nan")
            self.positive_definite = False
        if problem.n_rows > problem.m and w_e == 0:
            raise NtkmixedError("V is singular at these variance components (zero residual variance).")

    def _solve(self, B: np.ndarray) -> np.ndarray:
        m = self.problem.m
        top = B[:m]
        if self._cholesky is not None:
            top = scipy.linalg.cho_solve(self._cholesky, top, check_finite=False)
        else:
            top = np.linalg.solve(self._M, top)
        return np.concatenate([top, B[m:] * self._null_inverse()])

    def _logdet_v(self) -> float:
        outside = self.problem.n_rows - self.problem.m + self.problem.n_null
        return self._logdet_m + outside * float(np.log(self.residual_weight)) if outside else self._logdet_m

    @cached_property
    def P(self) -> np.ndarray:
        """P on the N' compressed rows."""
        return self._solve(np.eye(self.problem.n_rows)) - self.ViX @ self.C @ self.ViX.T

    @cached_property
    def PK(self) -> list[np.ndarray]:
        """P K_k, N'×m (K_k vanishes outside the first m rows and columns)."""
        m = self.problem.m
        return [self.P[:, :m] @ A for A in self.problem.A]

    def S(self) -> np.ndarray:
        m, PK, P = self.problem.m, self.PK, self.P
        c = len(PK)
        S = np.empty((c + 1, c + 1))
        for i in range(c):
            for j in range(i, c):
                S[i, j] = S[j, i] = float(np.sum(PK[i][:m] * PK[j][:m].T))
            S[i, c] = S[c, i] = float(np.sum(PK[i] * P[:m].T))
        S[c, c] = float(np.sum(P * P)) + self.problem.n_null * self._null_inverse() ** 2
        return S

    def _kernel_times(self, component: int, v: np.ndarray) -> np.ndarray:
        """K_k v in compressed coordinates (the residual's K is I)."""
        if component == len(self.problem.A):
            return v
        m = self.problem.m
        out = np.zeros_like(v)
        out[:m] = self.problem.A[component] @ v[:m]
        return out

    def q(self) -> np.ndarray:
        p = self.p_rot
        return np.array([float(p @ self._kernel_times(i, p)) for i in range(len(self.problem.A) + 1)])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        problem, P, m = self.problem, self.P, self.problem.m
        V_hat = theta[-1] * np.eye(problem.n_rows)
        for t, A in zip(theta[:-1], problem.A):
            V_hat[:m, :m] += t * A
        PV = P @ V_hat
        B = [pk @ PV[:m] for pk in self.PK] + [P @ PV]
        c = len(B)
        out = np.empty((c, c))
        for i in range(c):
            for j in range(i, c):
                out[i, j] = out[j, i] = 2.0 * float(np.sum(B[i] * B[j].T))
        out[-1, -1] += 2.0 * problem.n_null * (theta[-1] * self._null_inverse() ** 2) ** 2
        return out

    def score_and_ai(self) -> tuple[np.ndarray, np.ndarray]:
        """REML score and average-information matrix (GCTA's AI-REML)."""
        m, P, p = self.problem.m, self.P, self.p_rot
        components = range(len(self.problem.A) + 1)
        traces = [float(np.trace(pk[:m])) for pk in self.PK]
        traces.append(float(np.trace(P)) + self.problem.n_null * self._null_inverse())
        Kp = [self._kernel_times(i, p) for i in components]
        PKp = [P @ v for v in Kp]
        score = np.array([-0.5 * (t - float(p @ v)) for t, v in zip(traces, Kp)])
        ai = 0.5 * np.array([[float(a @ b) for b in PKp] for a in Kp])
        return score, ai

    def blup(self, component: int) -> np.ndarray:
        m = self.problem.m
        return self.problem.U @ (self.weights[component] * (self.problem.A[component] @ self.p_rot[:m]))

    def _pev_of(self, G: np.ndarray) -> np.ndarray:
        """diag(U (G − G P₁₁ G) Uᵀ) for a kernel combination G = Σ w_k A_k."""
        m, U = self.problem.m, self.problem.U
        inner = G - G @ self.P[:m, :m] @ G
        return np.einsum("ij,ij->i", U @ inner, U)

    def pev(self, component: int) -> np.ndarray:
        return self._pev_of(self.weights[component] * self.problem.A[component])

    def total_blup(self) -> np.ndarray:
        return sum(self.blup(i) for i in range(len(self.problem.A)))

    def total_pev(self) -> np.ndarray:
        return self._pev_of(sum(w * A for w, A in zip(self.weights[:-1], self.problem.A)))
