"""Restricted maximum likelihood (DESIGN §2).

REML log-likelihood of the error contrasts (orthonormal A with AᵀX = 0):

    ℓ(θ) = −½ [ (n−k) log 2π + log|V| + log|XᵀV⁻¹X| − log|XᵀX| + yᵀPy ]

* one kernel: V = τ (h K + (1−h) I); τ is profiled out (τ̂ = yᵀP_h y / (n−k)) and h is
  found by a grid plus bounded Brent search, all on one eigendecomposition of K;
* several kernels: AI-REML (average information, as GCTA) with step halving, from the
  MINQUE0 start.

The covariance of θ̂ is the inverse Fisher information 2 S⁻¹, S_ij = tr(P K_i P K_j).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from ..exceptions import NtkmixedError
from .minque import minque0, variance_floor
from .problem import Problem
from .variance_fit import VarianceFit

# Upper end of the search for h. Closer to 1, a kernel direction that the fixed effects
# absorb (the all-ones vector of a centred GRM with an intercept) gets weight 1/(1−h) in
# XᵀV⁻¹X; by 1 − 1e-7 its condition number passes 1e11 and round-off manufactures a
# likelihood spike above the true optimum (seen at n = 2000–10 000). 1 − 1e-5 stays clear.
_H_MAX = 1.0 - 1e-5


def reml(problem: Problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """REML: a 1-D profile search where the engine profiles the likelihood (one kernel;
    ``tol``/``max_iter`` unused there), AI-REML otherwise.

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
    if problem.supports_profile:
        return _reml_profiled(problem, constrain)
    return _reml_ai(problem, constrain, tol, max_iter)


def _reml_profiled(problem: Problem, constrain: bool) -> VarianceFit:
    h_min = 0.0 if constrain else problem.smallest_profile_h()
    # engines whose evaluations are costly (a Gram or a factorisation each) ask for fewer
    grid = np.linspace(h_min, _H_MAX, int(getattr(problem, "profile_grid_points", 101)))
    values = np.array([problem.profile_reml(h)[0] for h in grid])
    best = int(np.argmax(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    result = minimize_scalar(
        lambda h: -problem.profile_reml(h)[0], bounds=(lo, hi), method="bounded",
        options={"xatol": 1e-10, "maxiter": 500},
    )
    h = float(result.x) if -result.fun >= values[best] else float(grid[best])
    loglik, tau = problem.profile_reml(h)
    theta = np.array([tau * h, tau * (1.0 - h)])
    boundary = np.array([constrain and h <= 1e-9, h >= _H_MAX - 1e-9])
    theta[boundary] = 0.0
    theta, loglik = _polish(problem, theta, loglik, free=~boundary)
    state = problem.state(np.maximum(theta, _floor_from(problem, tau)))
    cov = 2.0 * np.linalg.inv(state.S())
    return VarianceFit(
        theta, cov, "reml", bool(result.success), int(result.nfev), 0.0, boundary, constrain, loglik
    )


def _polish(problem: Problem, theta: np.ndarray, loglik: float, free: np.ndarray) -> tuple[np.ndarray, float]:
    """Fisher-scoring steps on the free components (θ_F ← S_FF⁻¹ q_F at the current θ,
    one MINQUE step) from the search result. A search on the likelihood value locates
    the optimum only to about the square root of machine precision, because the
    likelihood is flat there; the score equation pins it to round-off. Steps that lower
    the likelihood, leave the parameter space or make V singular are not taken."""
    index = np.flatnonzero(free)
    if index.size == 0:
        return theta, loglik
    # engines whose states are costly (a Gram or a factorisation each) ask for fewer steps
    for _ in range(int(getattr(problem, "polish_steps", 50))):
        try:
            state = problem.state(theta)
            proposal = theta.copy()
            proposal[index] = np.linalg.solve(state.S()[np.ix_(index, index)], state.q()[index])
            if np.any(proposal[index] <= 0):
                break
            proposed_loglik = problem.state(proposal).reml_loglik()
        except (NtkmixedError, np.linalg.LinAlgError):
            break
        if not np.isfinite(proposed_loglik) or proposed_loglik < loglik - 1e-9 * abs(loglik):
            break
        change = float(np.max(np.abs(proposal - theta)) / np.sum(theta))
        theta, loglik = proposal, proposed_loglik
        if change < 1e-13:
            break
    return theta, loglik


def _floor_from(problem, tau: float) -> float:
    return 1e-6 * tau


def _reml_ai(problem: Problem, constrain: bool, tol: float, max_iter: int) -> VarianceFit:
    floor = variance_floor(problem)
    theta = np.maximum(minque0(problem, constrain=False).theta, floor * 100)
    fixed = np.zeros(theta.size, dtype=bool)
    state = problem.state(theta)
    loglik = state.reml_loglik()
    converged = False
    change = np.inf
    history = [theta.copy()]
    iteration = 0
    for iteration in range(1, max_iter + 1):
        score, ai = state.score_and_ai()
        free = ~fixed
        step = np.zeros_like(theta)
        step[free] = np.linalg.solve(ai[np.ix_(free, free)], score[free])
        factor = 1.0
        while True:
            proposal = theta + factor * step
            if constrain:
                hit = (proposal < 0) & free
                hit[-1] = False
                proposal = np.where(hit, 0.0, proposal)
            proposal[-1] = max(proposal[-1], floor)
            new_state = problem.state(proposal)
            new_loglik = new_state.reml_loglik()
            if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-10 * abs(loglik):
                break
            factor /= 2.0
            if factor < 1e-6:
                new_state, new_loglik, proposal = state, loglik, theta
                break
        if constrain:
            fixed |= (proposal <= 0) & (np.arange(theta.size) < theta.size - 1)
        change = float(np.max(np.abs(proposal - theta)) / max(np.sum(np.abs(proposal)), floor))
        loglik_change = new_loglik - loglik
        theta, state, loglik = proposal, new_state, new_loglik
        history.append(theta.copy())
        if change < tol or (abs(loglik_change) < 1e-12 * max(abs(loglik), 1.0) and change < 1e-7):
            converged = True
            break
    boundary = fixed.copy()
    theta = np.where(boundary, 0.0, theta)
    cov = 2.0 * np.linalg.inv(state.S())
    return VarianceFit(
        theta, cov, "reml", converged, iteration, change, boundary, constrain,
        loglik, history,
    )
