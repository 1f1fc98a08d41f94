"""The spectral engine: one kernel, decomposed once.

K = U diag(s) Uᵀ; at any weights w, V = w_g K + w_e I is diagonal in that basis
(d = w_g s + w_e), so traces, quadratic forms, the REML likelihood (profiled or not),
β̂, BLUPs and prediction-error variances cost O(n k²) or O(n²) — no further n³ work.
KRR at ridge λ is this engine at weights (1, λ) (Ge & Lu, Proposition 1), so its fit and
its exact cross-validation reuse the same decomposition.

State methods are those of :mod:`ntkmixed.estimation.problem`. Notation:
P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹; the last component is the residual (K_e = I).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk

from ...exceptions import NtkmixedError
from ..operators import KernelOperator, as_operator
from ..profile import ProfiledREML
from ._linalg import LOG_2PI, inverse_pd, logdet_pd, logdet_xtx


class SpectralProblem:
    """y, X and one kernel K, rotated into K's eigenbasis once (the decomposition is the
    operator's cached one, shared with every other use of the same trained kernel).

    Parameters
    ----------
    y : numpy.ndarray
        The response.
    X : numpy.ndarray
        Fixed-effect design, n × k.
    kernel : KernelOperator or numpy.ndarray
        The kernel.
    clip_negative : bool, default True
        Treat negative eigenvalues as round-off of a PSD kernel (set them to 0); KRR
        keeps them, to report a kernel that is not PSD.
    """

    n_components = 2
    #: the REML likelihood can be profiled over h = σ²_g/(σ²_g + σ²_e) at O(n k²) a point
    supports_profile = True

    def __init__(self, y: np.ndarray, X: np.ndarray, kernel: KernelOperator | np.ndarray, clip_negative: bool = True):
        self.operator = as_operator(kernel)
        s, self.U = self.operator.spectrum()
        self.s = np.clip(s, 0.0, None) if clip_negative else s
        self.y = y
        self.y_rot = self.U.T @ y
        self.X_rot = self.U.T @ X
        self.n, self.k = X.shape
        self.logdet_xtx = logdet_xtx(X)
        self.y_variance = float(np.var(y))

    def diagonals(self) -> list[np.ndarray]:
        """The kernel and identity in the eigenbasis: ``[eigenvalues, ones]``.

        Returns
        -------
        list of numpy.ndarray
        """
        return [self.s, np.ones(self.n)]

    def state(self, weights: np.ndarray) -> "SpectralState":
        """The linear algebra at V = w_g K + w_e I, O(n k²) from the rotated data.

        Parameters
        ----------
        weights : numpy.ndarray
            ``(w_g, w_e)``.

        Returns
        -------
        SpectralState
        """
        return SpectralState(self, np.asarray(weights, dtype=np.float64))

    def smallest_profile_h(self) -> float:
        """The smallest (negative) h at which V = τ(h K + (1−h) I) stays positive definite
        (for unconstrained REML): every d = 1 + h (s − 1) > 0.

        Returns
        -------
        float
            The bound (0 when no negative h keeps V positive definite).
        """
        s_max = float(self.s.max())
        return -1.0 / (s_max - 1.0) * (1.0 - 1e-6) if s_max > 1.0 else 0.0

    def profile_reml(self, h: float) -> tuple[float, float]:
        """(REML log-likelihood with the scale τ profiled out, τ̂) at V = τ (h K + (1−h) I).

        Parameters
        ----------
        h : float
            The share of the kernel, σ²_g/(σ²_g + σ²_e).

        Returns
        -------
        loglik : float
            The profiled REML log-likelihood (−inf where V is not positive definite).
        tau : float
            The profiled scale τ̂.
        """
        state = self.state(np.array([h, 1.0 - h]))
        dof = self.n - self.k
        tau = float(self.y_rot @ state.p_rot) / dof
        if tau <= 0 or np.any(state.d <= 0):
            return -np.inf, tau
        _, logdet_xvx = logdet_pd(state.XtViX)
        loglik = -0.5 * (
            dof * (LOG_2PI + 1.0 + np.log(tau)) + np.sum(np.log(state.d)) + logdet_xvx - self.logdet_xtx
        )
        return float(loglik), tau

    def profile_likelihood(self) -> ProfiledREML:
        """The same profile detached from the eigenvectors (O(n k) numbers), for the
        likelihood intervals that results compute after the fit.

        Returns
        -------
        ProfiledREML
        """
        return ProfiledREML(self.s, self.y_rot, self.X_rot, self.logdet_xtx)


class SpectralState:
    def __init__(self, problem: SpectralProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        d = weights[0] * problem.s + weights[1]
        if np.any(d == 0):
            raise NtkmixedError("V is singular at these variance components.")
        self.d = d
        self.positive_definite = bool(np.all(d > 0))
        self.W = problem.X_rot / d[:, None]
        self.XtViX = problem.X_rot.T @ self.W
        self.C = inverse_pd(self.XtViX)
        self.beta_hat = self.C @ (self.W.T @ problem.y_rot)
        self.p_rot = (problem.y_rot - problem.X_rot @ self.beta_hat) / d  # P y, rotated
        self._projection: tuple[np.ndarray, np.ndarray] | None = None

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
        sign, logdet_xvx = logdet_pd(self.XtViX)
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

    def P_diagonal(self) -> np.ndarray:
        """diag(P), O(n² (1 + k)): P = U D½ (I − Q Qᵀ) D½ Uᵀ with D = diag(1/d) and Q the
        orthonormal factor of D½ UᵀX (QR rather than normal equations, for accuracy)."""
        half, Q = self._projection_factor()
        fixed = self.problem.U @ (half[:, None] * Q)
        return (self.problem.U**2) @ (half * half) - np.einsum("ij,ij->i", fixed, fixed)

    def P_block(self, rows: np.ndarray, U_rows: np.ndarray | None = None) -> np.ndarray:
        """P[rows, rows], O(|rows|² n); ``U_rows`` = U[rows] when the caller keeps it."""
        half, Q = self._projection_factor()
        A = (self.problem.U[rows] if U_rows is None else U_rows) * half
        block = dsyrk(1.0, A.T, trans=1)  # upper triangle of A Aᵀ (half a GEMM)
        if Q.shape[1]:
            AQ = A @ Q
            block -= AQ @ AQ.T
        return block

    def _projection_factor(self) -> tuple[np.ndarray, np.ndarray]:
        if self._projection is None:
            half = 1.0 / np.sqrt(self.d)
            X_rot = self.problem.X_rot
            Q = np.linalg.qr(half[:, None] * X_rot)[0] if X_rot.shape[1] else np.zeros((self.d.size, 0))
            self._projection = (half, Q)
        return self._projection

    def total_blup(self) -> np.ndarray:
        return self.blup(0)

    def total_pev(self) -> np.ndarray:
        return self.pev(0)

    def _check_genetic(self, component: int) -> None:
        if component != 0:
            raise IndexError("a single-kernel model has one genetic component (index 0)")
