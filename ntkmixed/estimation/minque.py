"""MINQUE estimators of variance components (DESIGN §2).

With prior weights α and P_α the projection at V_α = Σ α_k K_k + α_e I, MINQUE solves
S θ = q with S_ij = tr(P_α K_i P_α K_j) and q_i = yᵀ P_α K_i P_α y.

* :func:`minque0` — α = (0, …, 0, 1): one solve, unbiased, may be negative.
* :func:`minque1` — iterated MINQUE: α ← θ̂ until θ̂ stops changing; its fixed point is the
  REML estimate.
* :func:`minque1_one_step` — classical one-step MINQUE(1) with α = (1, …, 1).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import NtkmixedError
from .problem import Problem
from .variance_fit import VarianceFit


def solve_nonnegative(S: np.ndarray, q: np.ndarray, constrain: bool) -> tuple[np.ndarray, np.ndarray]:
    """Solve S θ = q; with ``constrain``, hold negative components at zero (active set:
    the most negative is fixed and the rest re-solved), the residual included, as GCTA
    does. Returns θ and the boundary mask.

    Parameters
    ----------
    S : numpy.ndarray
        The c × c MINQUE matrix.
    q : numpy.ndarray
        The c quadratic forms.
    constrain : bool
        Hold negative components at zero.

    Returns
    -------
    theta : numpy.ndarray
        The solution.
    boundary : numpy.ndarray of bool
        Which components were held at zero.
    """
    m = q.size
    free = np.ones(m, dtype=bool)
    theta = np.zeros(m)
    while True:
        idx = np.flatnonzero(free)
        try:
            theta_free = np.linalg.solve(S[np.ix_(idx, idx)], q[idx])
        except np.linalg.LinAlgError:
            raise NtkmixedError(
                "The MINQUE equations are singular: the kernels (and the identity) are not "
                "linearly independent after projecting out the fixed effects."
            ) from None
        theta[:] = 0.0
        theta[idx] = theta_free
        negative = (theta < 0) & free
        if not constrain or not negative.any() or free.sum() == 1:
            return theta, ~free
        free[int(np.argmin(np.where(negative, theta, np.inf)))] = False


def sandwich(state, S: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Var(θ̂) = S⁻¹ Var(q) S⁻¹ with Var(q) evaluated at V̂ = V(θ̂)."""
    S_inv = np.linalg.inv(S)
    return S_inv @ state.var_q(theta) @ S_inv


def variance_floor(problem: Problem) -> float:
    """The smallest prior weight a MINQUE step uses: 1e-6 · var(y)."""
    return 1e-6 * problem.y_variance


def minque0(problem: Problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """One MINQUE solve with identity weights (``tol``/``max_iter`` unused).

    Parameters
    ----------
    problem : Problem
        (y, X, kernels) prepared by an engine (:func:`build_problem`).
    constrain : bool, default True
        Hold the components (the residual included) ≥ 0, recording the boundary.
    tol : float, default 1e-8
        Relative change of θ at which an iterative estimator stops.
    max_iter : int, default 200
        Most iterations of an iterative estimator.

    Returns
    -------
    VarianceFit
        θ̂, its covariance, convergence facts, the boundary and the REML log-likelihood.
    """
    weights = np.zeros(problem.n_components)
    weights[-1] = 1.0
    return _one_step(problem, weights, constrain, "minque0")


def minque1_one_step(problem: Problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """Classical one-step MINQUE(1): prior weights all 1 (``tol``/``max_iter`` unused).

    Parameters
    ----------
    problem : Problem
        (y, X, kernels) prepared by an engine (:func:`build_problem`).
    constrain : bool, default True
        Hold the components (the residual included) ≥ 0, recording the boundary.
    tol : float, default 1e-8
        Relative change of θ at which an iterative estimator stops.
    max_iter : int, default 200
        Most iterations of an iterative estimator.

    Returns
    -------
    VarianceFit
        θ̂, its covariance, convergence facts, the boundary and the REML log-likelihood.
    """
    return _one_step(problem, np.ones(problem.n_components), constrain, "minque1-one-step")


def _one_step(problem, weights, constrain, method) -> VarianceFit:
    state = problem.state(weights)
    S = state.S()
    theta, boundary = solve_nonnegative(S, state.q(), constrain)
    cov = sandwich(state, S, theta)
    loglik = _loglik_at(problem, theta)
    return VarianceFit(theta, cov, method, True, 1, 0.0, boundary, constrain, loglik)


def minque1(problem: Problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """Iterated MINQUE from the MINQUE0 start (negatives lifted to 1e-6·var(y) as weights).

    The fixed-point map θ → MINQUE(α = θ) converges linearly, slowly when the likelihood
    is flat; it is accelerated by SQUAREM extrapolation (Varadhan & Roland 2008), an
    extrapolated point being kept only when its REML likelihood is no worse than the
    plain step's. Converged when one plain MINQUE step moves θ by less than ``tol``
    relative to Σ|θ| (the iteration then refines a little further, see below);
    ``iterations`` counts MINQUE solves.

    Parameters
    ----------
    problem : Problem
        (y, X, kernels) prepared by an engine (:func:`build_problem`).
    constrain : bool, default True
        Hold the components (the residual included) ≥ 0, recording the boundary.
    tol : float, default 1e-8
        Relative change of θ at which an iterative estimator stops.
    max_iter : int, default 200
        Most iterations of an iterative estimator.

    Returns
    -------
    VarianceFit
        θ̂, its covariance, convergence facts, the boundary and the REML log-likelihood.
    """
    floor = variance_floor(problem)
    start = minque0(problem, constrain=False).theta

    def step(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = problem.state(weights)
        return solve_nonnegative(state.S(), state.q(), constrain)

    current = start  # the θ whose weights feed the next step
    alpha = np.maximum(start, floor)
    history = [start.copy()]
    theta, boundary = start, np.zeros(start.size, dtype=bool)
    change, converged, solves, done = np.inf, False, 0, False
    # Past the tolerance the iteration goes on to tol·1e-3 while each stage still halves
    # the change (a few solves): stopping right at the tolerance leaves an error of about
    # tol·ρ/(1 − ρ), so runs that differ only by rounding (two BLAS builds) would
    # disagree at the 1e-8 level, by which iteration happened to cross it.
    refine_to = tol * 1e-3
    while solves < max_iter and not done:
        stage = [alpha]
        stage_start = change
        for _ in range(2):  # two plain steps, then one extrapolation
            theta, boundary = step(alpha)
            solves += 1
            history.append(theta.copy())
            change = float(np.max(np.abs(theta - current)) / max(np.sum(np.abs(theta)), floor))
            current, alpha = theta, _prior_weights(theta, floor)
            stage.append(alpha)
            converged = converged or change < tol
            done = change < refine_to or (converged and change > 0.5 * stage_start) or solves >= max_iter
            if done:
                break
        if len(stage) == 3 and not done:
            extrapolated = _squarem(stage, floor, constrain)
            if _loglik_at(problem, extrapolated) >= _loglik_at(problem, stage[2]):
                current = alpha = extrapolated
    state = problem.state(_prior_weights(theta, floor))
    cov = sandwich(state, state.S(), theta)
    return VarianceFit(
        theta, cov, "minque1", converged, solves, change, boundary, constrain,
        _loglik_at(problem, theta), history,
    )


def _squarem(stage: list[np.ndarray], floor: float, constrain: bool) -> np.ndarray:
    """SQUAREM step (SqS3 step length −‖r‖/‖v‖) from α₀ and two plain updates α₁, α₂.

    The step length is not clamped at −1: the MINQUE map often oscillates (Jacobian
    eigenvalue near −1), where the unclamped length −½ lands on the fixed point."""
    a0, a1, a2 = stage
    r, v = a1 - a0, a2 - 2 * a1 + a0
    norm_v = float(np.linalg.norm(v))
    length = -float(np.linalg.norm(r)) / norm_v if norm_v > 0 else -1.0
    extrapolated = a0 - 2 * length * r + length**2 * v
    if constrain:
        extrapolated[:-1] = np.maximum(extrapolated[:-1], 0.0)
    return _prior_weights(extrapolated, floor)


def _prior_weights(theta: np.ndarray, floor: float) -> np.ndarray:
    """Weights for the next MINQUE step: components held at zero keep weight zero (V stays
    positive definite through the residual); negative ones are lifted to ``floor``."""
    alpha = np.where(theta < 0, floor, theta)
    alpha[-1] = max(alpha[-1], floor)
    return alpha


def _loglik_at(problem, theta: np.ndarray) -> float:
    try:
        return problem.state(theta).reml_loglik()
    except (NtkmixedError, np.linalg.LinAlgError):
        return float("nan")
