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
    """The linear algebra of one problem at fixed weights.

    Attributes
    ----------
    weights : numpy.ndarray
        w: V = Σ_k w_k K_k + w_e I.
    positive_definite : bool
        Whether V is positive definite at these weights.
    """

    weights: np.ndarray
    positive_definite: bool

    def S(self) -> np.ndarray:
        """S_ij = tr(P K_i P K_j) over the components and the residual (K_e = I).

        Returns
        -------
        numpy.ndarray
            c × c, c = kernels + 1.
        """

    def q(self) -> np.ndarray:
        """q_i = yᵀ P K_i P y.

        Returns
        -------
        numpy.ndarray
            One value per component.
        """

    def var_q(self, theta: np.ndarray) -> np.ndarray:
        """Var(q)_ij = 2 tr(P K_i P V̂ P K_j P V̂) with V̂ = V(theta), under normality.

        Parameters
        ----------
        theta : numpy.ndarray
            The variance components at which V̂ is taken.

        Returns
        -------
        numpy.ndarray
            c × c.
        """

    def reml_loglik(self) -> float:
        """REML log-likelihood at these weights.

        Returns
        -------
        float
            NaN where V is not positive definite.
        """

    def beta(self) -> np.ndarray:
        """GLS fixed effects β̂ = (XᵀV⁻¹X)⁻¹XᵀV⁻¹y.

        Returns
        -------
        numpy.ndarray
            One per column of X.
        """

    def cov_beta(self) -> np.ndarray:
        """Cov(β̂) = (XᵀV⁻¹X)⁻¹.

        Returns
        -------
        numpy.ndarray
            k × k.
        """

    def Py(self) -> np.ndarray:
        """P y = V⁻¹(y − Xβ̂).

        Returns
        -------
        numpy.ndarray
            n values.
        """

    def blup(self, component: int) -> np.ndarray:
        """BLUP of one genetic component, w_k K_k P y.

        Parameters
        ----------
        component : int
            Index of the genetic component (0-based).

        Returns
        -------
        numpy.ndarray
            n values.
        """

    def pev(self, component: int) -> np.ndarray:
        """Prediction-error variances of that BLUP, diag(w_k K_k − w_k² K_k P K_k).

        Parameters
        ----------
        component : int
            Index of the genetic component (0-based).

        Returns
        -------
        numpy.ndarray
            n values.
        """

    def total_blup(self) -> np.ndarray:
        """BLUP of the total genetic value Σ_k w_k K_k P y.

        Returns
        -------
        numpy.ndarray
            n values.
        """

    def total_pev(self) -> np.ndarray:
        """Prediction-error variances of the total genetic value.

        Returns
        -------
        numpy.ndarray
            n values.
        """


class Problem(Protocol):
    """(y, X, kernels) prepared by an engine.

    Attributes
    ----------
    y : numpy.ndarray
        The response.
    n, k : int
        Rows and fixed effects.
    n_components : int
        Kernels + residual.
    y_variance : float
        var(y): the scale of floors and tolerances.
    supports_profile : bool
        Whether the engine offers ``profile_reml(h) -> (loglik, τ̂)`` and
        ``smallest_profile_h()`` (one kernel, τ profiled out of V = τ(h K + (1−h) I)).
    """

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

    def state(self, weights: np.ndarray) -> State:
        """The linear algebra at V = Σ_k w_k K_k + w_e I.

        Parameters
        ----------
        weights : numpy.ndarray
            w, one per component and the residual.

        Returns
        -------
        State
        """
