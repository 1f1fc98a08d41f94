"""Small dense linear-algebra helpers shared by the engines."""

from __future__ import annotations

import numpy as np
import scipy.linalg

LOG_2PI = float(np.log(2.0 * np.pi))


def logdet_xtx(X: np.ndarray) -> float:
    """log|XᵀX| (0 without fixed effects), the constant of the REML likelihood."""
    if X.shape[1] == 0:
        return 0.0
    return float(np.linalg.slogdet(X.T @ X)[1])


def inverse_pd(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (numerically) positive-definite matrix; pseudo-inverse if Cholesky fails."""
    if matrix.size == 0:
        return matrix.copy()
    try:
        factor = scipy.linalg.cho_factor(matrix)
        return scipy.linalg.cho_solve(factor, np.eye(matrix.shape[0]))
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)


def logdet_pd(matrix: np.ndarray) -> tuple[float, float]:
    """``(sign, log|matrix|)``; ``(1, 0)`` for an empty matrix."""
    if matrix.size == 0:
        return 1.0, 0.0
    return np.linalg.slogdet(matrix)


def profiled_reml(problem, state) -> tuple[float, float]:
    """(REML log-likelihood with τ profiled out, τ̂) at V = τ(h K + (1−h) I), from a state
    at weights (h, 1 − h) that offers ``positive_definite``, ``logdet_v``, ``XtViX`` and
    ``p`` (= P y), for engines whose states are not diagonal in one basis."""
    dof = problem.n - problem.k
    if not state.positive_definite:
        return -np.inf, float("nan")
    tau = float(problem.y @ state.p) / dof
    if tau <= 0:
        return -np.inf, tau
    _, logdet_xvx = logdet_pd(state.XtViX)
    loglik = -0.5 * (dof * (LOG_2PI + 1.0 + np.log(tau)) + state.logdet_v + logdet_xvx - problem.logdet_xtx)
    return float(loglik), tau


class GLSAnswers:
    """β̂, its covariance and P y of an engine state that holds them as ``beta_hat``,
    ``C`` (= (XᵀV⁻¹X)⁻¹) and ``p`` (= P y)."""

    def beta(self) -> np.ndarray:
        return self.beta_hat

    def cov_beta(self) -> np.ndarray:
        return self.C

    def Py(self) -> np.ndarray:
        return self.p


class FactoredGLSState(GLSAnswers):
    """The GLS answers and REML likelihood of an engine state that factorised V itself:
    from its ``positive_definite``, ``logdet_v`` and ``XtViX`` besides :class:`GLSAnswers`'
    attributes, with ``problem`` offering ``n``, ``k``, ``y`` and ``logdet_xtx``."""

    def reml_loglik(self) -> float:
        if not self.positive_definite:
            return float("nan")
        n, k = self.problem.n, self.problem.k
        sign, logdet_xvx = logdet_pd(self.XtViX)
        if sign <= 0:
            return float("nan")
        quad = float(self.problem.y @ self.p)
        return -0.5 * ((n - k) * LOG_2PI + self.logdet_v + logdet_xvx - self.problem.logdet_xtx + quad)
