"""The dense engine: several kernels, V = Σ_k w_k K_k + w_e I factorised at each weight
vector (one Cholesky). β̂ and Py need only the factor; the projection P and the products
P K_k that traces need (S, Var(q), the AI matrix, PEVs) are formed on first use, so a fit
at one λ (KRR) costs one factorisation.

State methods are those of :mod:`ntkmixed.estimation.problem`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.linalg

from ..operators import KernelOperator, as_operator
from ._linalg import LOG_2PI, GLSAnswers, inverse_pd, logdet_pd, logdet_xtx


class DenseProblem:
    """y, X and one or more kernels held as n×n matrices.

    Parameters
    ----------
    y : numpy.ndarray
        The response.
    X : numpy.ndarray
        Fixed-effect design, n × k.
    kernels : list of KernelOperator or numpy.ndarray
        One per genetic component.
    """

    supports_profile = False

    def __init__(self, y: np.ndarray, X: np.ndarray, kernels: list[KernelOperator | np.ndarray]):
        self.operators = [as_operator(k) for k in kernels]
        self.kernels = [op.dense() for op in self.operators]
        self.y, self.X = y, X
        self.n, self.k = X.shape
        self.n_components = len(self.kernels) + 1
        self.logdet_xtx = logdet_xtx(X)
        self.y_variance = float(np.var(y))

    def matrices(self) -> list[np.ndarray]:
        """The kernels and the identity (the residual's K_e = I).

        Returns
        -------
        list of numpy.ndarray
        """
        return [*self.kernels, np.eye(self.n)]

    def covariance(self, weights: np.ndarray) -> np.ndarray:
        """V = Σ_k w_k K_k + w_e I.

        Parameters
        ----------
        weights : numpy.ndarray
            w, one per component and the residual.

        Returns
        -------
        numpy.ndarray
            n × n.
        """
        V = weights[-1] * np.eye(self.n)
        for w, K in zip(weights[:-1], self.kernels):
            V += w * K
        return V

    def state(self, weights: np.ndarray) -> "DenseState":
        """The linear algebra at V = Σ_k w_k K_k + w_e I (one Cholesky factorisation).

        Parameters
        ----------
        weights : numpy.ndarray
            w, one per component and the residual.

        Returns
        -------
        DenseState
        """
        return DenseState(self, np.asarray(weights, dtype=np.float64))


class DenseState(GLSAnswers):
    def __init__(self, problem: DenseProblem, weights: np.ndarray):
        self.problem = problem
        self.weights = weights
        self.V = problem.covariance(weights)
        try:
            self._factor = scipy.linalg.cho_factor(self.V, check_finite=False)
            self.logdet_v = 2.0 * float(np.sum(np.log(np.diag(self._factor[0]))))
        except np.linalg.LinAlgError:  # indefinite V at unconstrained estimates
            self._factor = None
            self.logdet_v = float("nan")
        self.positive_definite = self._factor is not None
        X = problem.X
        solved = self._solve(np.column_stack([problem.y, X]))
        self._Vi_y, self.ViX = solved[:, 0], solved[:, 1:]
        self.XtViX = X.T @ self.ViX
        self.C = inverse_pd(self.XtViX) if X.shape[1] else np.zeros((0, 0))
        self.beta_hat = self.C @ (self.ViX.T @ problem.y)
        self.p = self._Vi_y - self.ViX @ self.beta_hat  # P y = V⁻¹(y − Xβ̂)

    def _solve(self, B: np.ndarray) -> np.ndarray:
        if self._factor is not None:
            return scipy.linalg.cho_solve(self._factor, B, check_finite=False)
        return np.linalg.solve(self.V, B)

    @cached_property
    def P(self) -> np.ndarray:
        V_inv = self._solve(np.eye(self.problem.n))
        return V_inv - self.ViX @ self.C @ self.ViX.T

    @cached_property
    def PK(self) -> list[np.ndarray]:
        return [self.P @ K for K in self.problem.kernels] + [self.P]

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
        sign, logdet_xvx = logdet_pd(self.XtViX)
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
