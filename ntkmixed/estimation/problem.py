"""The seam between engines and estimators.

An *engine* turns (y, X, kernel operators) into a *problem*; an estimator (MINQUE, REML,
KRR) is a pure function of a problem and :class:`FitOptions`, and never knows how the
kernels were built or stored. A problem evaluated at weights w (V = Σ_k w_k K_k + w_e I)
gives a *state*. Every engine implements the same two protocols, so estimators are
written once; what differs is the cost (spectral: O(n k²) per state after one
eigendecomposition; dense: one Cholesky; low-rank and matrix-free engines elsewhere).

Notation: P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹, K_e = I is the last component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FitOptions:
    """Options every estimator accepts (one that has no use for an option ignores it)."""

    #: hold variance components ≥ 0 (boundary recorded) instead of the unbiased solution
    constrain: bool = True
    #: relative change of θ below which an iterative estimator stops
    tol: float = 1e-8
    #: most iterations (MINQUE solves, AI-REML steps) of an iterative estimator
    max_iter: int = 200


class State(Protocol):
    """The linear algebra of one problem at fixed weights."""

    weights: np.ndarray
    positive_definite: bool  # whether V is positive definite at these weights

    def S(self) -> np.ndarray: ...  # S_ij = tr(P K_i P K_j)
    def q(self) -> np.ndarray: ...  # q_i = yᵀ P K_i P y
    def var_q(self, theta: np.ndarray) -> np.ndarray: ...  # 2 tr(P K_i P V̂ P K_j P V̂)
    def reml_loglik(self) -> float: ...
    def beta(self) -> np.ndarray: ...  # GLS β̂
    def cov_beta(self) -> np.ndarray: ...  # (XᵀV⁻¹X)⁻¹
    def Py(self) -> np.ndarray: ...  # P y = V⁻¹(y − Xβ̂)
    def blup(self, component: int) -> np.ndarray: ...  # w_k K_k P y
    def pev(self, component: int) -> np.ndarray: ...  # diag(w_k K_k − w_k² K_k P K_k)
    def total_blup(self) -> np.ndarray: ...
    def total_pev(self) -> np.ndarray: ...


class Problem(Protocol):
    """(y, X, kernels) prepared by an engine."""

    y: np.ndarray  # response
    n: int  # rows
    k: int  # fixed effects
    n_components: int  # kernels + residual
    y_variance: float  # var(y): the scale of floors and tolerances
    #: the engine offers ``profile_reml(h) -> (loglik, τ̂)``, ``smallest_profile_h()`` and
    #: ``profile_likelihood()`` (one kernel, τ profiled out of V = τ(h K + (1−h) I); the
    #: last is an :class:`~ntkmixed.estimation.profile.ProfiledREML` that holds no n×n
    #: array, which results keep for likelihood intervals of h²)
    supports_profile: bool

    def state(self, weights: np.ndarray) -> State: ...
