"""The linear algebra of V = Σ_k w_k K_k + w_e I at given weights w, in two engines.

* :class:`SpectralProblem` — one kernel: K = U diag(s) Uᵀ is decomposed once; at any
  weights V is diagonal in that basis, so traces, quadratic forms and the REML likelihood
  cost O(n k²) with no further n³ work.
* :class:`DenseProblem` — several kernels: V is factorised at each weight vector.

Both return a *state* with the same methods (``S``, ``q``, ``var_q``, ``reml_loglik``,
``beta``, ``cov_beta``, ``Py``, ``blup``, ``pev``), so the estimators in :mod:`minque` and
:mod:`reml` are written once. Notation: P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹; the last component
is the residual (K_e = I).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..exceptions import NtkmixedError

LOG_2PI = float(np.log(2.0 * np.pi))


def _logdet_xtx(X: np.ndarray) -> float:
    if X.shape[1] == 0:
        return 0.0
    return float(np.linalg.slogdet(X.T @ X)[1])


def _inverse_pd(matrix: np.ndarray) -> np.ndarray:
    if matrix.size == 0:
        return matrix.copy()
    try:
        factor = scipy.linalg.cho_factor(matrix)
        return scipy.linalg.cho_solve(factor, np.eye(matrix.shape[0]))
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)


class SpectralProblem:
    """y, X and one kernel K, rotated into K's eigenbasis once."""

    n_components = 2

    def __init__(self, y: np.ndarray, X: np.ndarray, K: np.ndarray):
        eigenvalues, eigenvectors = np.linalg.eigh(K)
        self.s = np.clip(eigenvalues, 0.0, None)  # round-off negatives of a PSD kernel
        self.U = eigenvectors
        self.y_rot = eigenvectors.T @ y
        self.X_rot = eigenvectors.T @ X
        self.n, self.k = X.shape
        self.logdet_xtx = _logdet_xtx(X)
        self.yty = float(y @ y)

    def diagonals(self) -> list[np.ndarray]:
        return [self.s, np.ones(self.n)]

    def state(self, weights: np.ndarray) -> "SpectralState":
        return SpectralState(self, np.asarray(weights, dtype=np.float64))


class SpectralState:
    def __init__(self, problem: SpectralProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        d = weights[0] * problem.s + weights[1]
        if np.any(d == 0):
            raise NtkmixedError("V is singular at these variance components.")
        self.d = d
        self.W = problem.X_rot / d[:, None]
        self.XtViX = problem.X_rot.T @ self.W
        self.C = _inverse_pd(self.XtViX)
        self.beta_hat = self.C @ (self.W.T @ problem.y_rot)
        self.p_rot = (problem.y_rot - problem.X_rot @ self.beta_hat) / d  # P y, rotated

    def S(self) -> np.ndarray:
        A = self.problem.diagonals()
        m = len(A)
        W, C, d = self.W, self.C, self.d
        G = [C @ (W.T @ (a[:, None] * W)) for a in A]  # C Wᵀ diag(a) W
        S = np.empty((m, m))
        for i in range(m):
            for j in range(i, m):
                value = np.sum(A[i] * A[j] / d**2)
                value -= 2.0 * np.trace(C @ (W.T @ ((A[i] * A[j] / d)[:, None] * W)))
                value += np.trace(G[i] @ G[j])
                S[i, j] = S[j, i] = value
        return S

    def q(self) -> np.ndarray:
        return np.array([np.sum(a * self.p_rot**2) for a in self.problem.diagonals()])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        """Var(q)_ij = 2 tr(P K_i P V̂ P K_j P V̂) with V̂ = V(theta), under normality."""
        A = self.problem.diagonals()
        v = theta[0] * self.problem.s + theta[1]
        W, C, d = self.W, self.C, self.d
        k = W.shape[1]
        parts = []
        for a in A:
            # P a P = diag(f) + L M Lᵀ with L = [W, (a/d) W]
            f = a / d**2
            L = np.hstack([W, (a / d)[:, None] * W])
            G = W.T @ (a[:, None] * W)
            M = np.block([[C @ G @ C, -C], [-C, np.zeros((k, k))]])
            parts.append((f, L, M))
        m = len(A)
        out = np.empty((m, m))
        for i in range(m):
            fi, Li, Mi = parts[i]
            for j in range(i, m):
                fj, Lj, Mj = parts[j]
                value = np.sum(fi * fj * v**2)
                value += np.trace(Mj @ (Lj.T @ ((fi * v**2)[:, None] * Lj)))
                value += np.trace(Mi @ (Li.T @ ((fj * v**2)[:, None] * Li)))
                cross = Li.T @ (v[:, None] * Lj)
                value += np.trace(Mi @ cross @ Mj @ cross.T)
                out[i, j] = out[j, i] = 2.0 * value
        return out

    def reml_loglik(self) -> float:
        if np.any(self.d <= 0):
            return float("nan")
        n, k = self.problem.n, self.problem.k
        sign, logdet_xvx = np.linalg.slogdet(self.XtViX) if k else (1.0, 0.0)
        if sign <= 0:
            return float("nan")
        quad = float(self.problem.y_rot @ self.p_rot)
        return -0.5 * ((n - k) * LOG_2PI + np.sum(np.log(self.d)) + logdet_xvx - self.problem.logdet_xtx + quad)

    def beta(self) -> np.ndarray:
        return self.beta_hat

    def cov_beta(self) -> np.ndarray:
        return self.C

    def Py(self) -> np.ndarray:
        return self.problem.U @ self.p_rot

    def blup(self, component: int) -> np.ndarray:
        """ĝ = w_k K P y for the genetic component (index 0)."""
        self._check_genetic(component)
        return self.problem.U @ (self.weights[0] * self.problem.s * self.p_rot)

    def pev(self, component: int) -> np.ndarray:
        """diag(w K − w² K P K): prediction-error variance of the BLUP."""
        self._check_genetic(component)
        w, s, U = self.weights[0], self.problem.s, self.problem.U
        inner = w * s - w**2 * s**2 / self.d
        sW = s[:, None] * self.W
        USW = U @ sW
        return (U**2) @ inner + w**2 * np.einsum("ij,ij->i", USW @ self.C, USW)

    def total_blup(self) -> np.ndarray:
        return self.blup(0)

    def total_pev(self) -> np.ndarray:
        return self.pev(0)

    def _check_genetic(self, component: int) -> None:
        if component != 0:
            raise IndexError("a single-kernel model has one genetic component (index 0)")


class DenseProblem:
    """y, X and several kernels; V is factorised at each weight vector."""

    def __init__(self, y: np.ndarray, X: np.ndarray, kernels: list[np.ndarray]):
        self.y, self.X, self.kernels = y, X, kernels
        self.n, self.k = X.shape
        self.n_components = len(kernels) + 1
        self.logdet_xtx = _logdet_xtx(X)

    def matrices(self) -> list[np.ndarray]:
        return [*self.kernels, np.eye(self.n)]

    def covariance(self, weights: np.ndarray) -> np.ndarray:
        V = weights[-1] * np.eye(self.n)
        for w, K in zip(weights[:-1], self.kernels):
            V += w * K
        return V

    def state(self, weights: np.ndarray) -> "DenseState":
        return DenseState(self, np.asarray(weights, dtype=np.float64))


class DenseState:
    def __init__(self, problem: DenseProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        V = problem.covariance(weights)
        self.V = V
        try:
            factor = scipy.linalg.cho_factor(V)
            self.logdet_v = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
            V_inv = scipy.linalg.cho_solve(factor, np.eye(problem.n))
        except np.linalg.LinAlgError:  # indefinite V at unconstrained estimates
            self.logdet_v = float("nan")
            V_inv = np.linalg.inv(V)
        X = problem.X
        ViX = V_inv @ X
        self.XtViX = X.T @ ViX
        self.C = _inverse_pd(self.XtViX) if X.shape[1] else np.zeros((0, 0))
        self.P = V_inv - ViX @ self.C @ ViX.T
        self.beta_hat = self.C @ (ViX.T @ problem.y)
        self.p = self.P @ problem.y
        self._PK = None

    @property
    def PK(self) -> list[np.ndarray]:
        if self._PK is None:
            self._PK = [self.P @ K for K in self.problem.kernels] + [self.P]
        return self._PK

    def S(self) -> np.ndarray:
        PK = self.PK
        m = len(PK)
        S = np.empty((m, m))
        for i in range(m):
            for j in range(i, m):
                S[i, j] = S[j, i] = float(np.sum(PK[i] * PK[j].T))
        return S

    def q(self) -> np.ndarray:
        return np.array([float(self.p @ (K @ self.p)) for K in self.problem.matrices()])

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        PK = self.PK
        PV = sum(t * pk for t, pk in zip(theta, PK))
        B = [pk @ PV for pk in PK]
        m = len(B)
        out = np.empty((m, m))
        for i in range(m):
            for j in range(i, m):
                out[i, j] = out[j, i] = 2.0 * float(np.sum(B[i] * B[j].T))
        return out

    def reml_loglik(self) -> float:
        n, k = self.problem.n, self.problem.k
        sign, logdet_xvx = np.linalg.slogdet(self.XtViX) if k else (1.0, 0.0)
        if not np.isfinite(self.logdet_v) or sign <= 0:
            return float("nan")
        quad = float(self.problem.y @ self.p)
        return -0.5 * ((n - k) * LOG_2PI + self.logdet_v + logdet_xvx - self.problem.logdet_xtx + quad)

    def score_and_ai(self) -> tuple[np.ndarray, np.ndarray]:
        """REML score and average-information matrix (GCTA's AI-REML)."""
        PK = self.PK
        Kp = [K @ self.p for K in self.problem.matrices()]
        PKp = [self.P @ v for v in Kp]
        score = np.array([-0.5 * (np.trace(pk) - float(self.p @ v)) for pk, v in zip(PK, Kp)])
        ai = 0.5 * np.array([[float(a @ b) for b in PKp] for a in Kp])
        return score, ai

    def beta(self) -> np.ndarray:
        return self.beta_hat

    def cov_beta(self) -> np.ndarray:
        return self.C

    def Py(self) -> np.ndarray:
        return self.p

    def blup(self, component: int) -> np.ndarray:
        return self.weights[component] * (self.problem.kernels[component] @ self.p)

    def pev(self, component: int) -> np.ndarray:
        w, K = self.weights[component], self.problem.kernels[component]
        return w * np.diag(K) - w**2 * np.einsum("ij,ji->i", K, self.PK[component])

    def total_blup(self) -> np.ndarray:
        return sum(self.blup(i) for i in range(len(self.problem.kernels)))

    def total_pev(self) -> np.ndarray:
        G = sum(w * K for w, K in zip(self.weights[:-1], self.problem.kernels))
        return np.diag(G) - np.einsum("ij,ji->i", G, self.P @ G)


def make_problem(y: np.ndarray, X: np.ndarray, kernels: list[np.ndarray]):
    """The spectral engine for one kernel, the dense engine for several."""
    if len(kernels) == 1:
        return SpectralProblem(y, X, kernels[0])
    return DenseProblem(y, X, kernels)
