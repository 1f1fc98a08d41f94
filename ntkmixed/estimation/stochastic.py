"""Variance components with stochastic traces, for the matrix-free engine
(:mod:`.engines.matrix_free`). Notation as in :mod:`.minque`; Z is the n×B matrix of
Rademacher probes (E[z zᵀ] = I, so tr A ≈ (1/B) Σ_b z_bᵀ A z_b), the same at every step.
Every trace is in fact taken over the problem's ``trace_columns`` [Π⊥Z, D]: exactly on the
kernels' top eigenvectors D, by Hutchinson on the rest, the probe averages below read as
``problem.per_probe`` means.

* :func:`rhe_minque0` — MINQUE0 = Haseman–Elston: S_ij = tr(M K_i M K_j) ≈
  (1/B) Σ_b (K_i M z_b)ᵀ M (K_j M z_b); q, tr(M K_i) and S_ee = n − k are exact. One pass
  gives K_i [M Z, M y, Q] block by block; a second pass the cross terms of a block
  jackknife: replicate j leaves out SNP block j of every kernel (rescaled to the same
  trace, which for a mean-diagonal GRM is its renormalisation) and its θ̂₍₋ⱼ₎ solves the
  same equations exactly; Cov(θ̂) = (J−1)/J Σ_j (θ̂₍₋ⱼ₎ − θ̄)(θ̂₍₋ⱼ₎ − θ̄)ᵀ.
* :func:`stochastic_minque1` — iterated MINQUE θ ← Ŝ(α)⁻¹ q(α), α = θ, with
  Ŝ_ij ≈ (1/B) Σ_b (K_i P z_b)ᵀ (P K_j z_b) (symmetrised); one CG solve per step with
  [Z, K_1 Z, …, y, X], one pass.
* :func:`stochastic_reml` — AI-REML: score −½(t_i − q_i) with t_i = tr(P K_i) ≈
  (1/B) Σ_b z_bᵀ K_i P z_b and the exact average information ½ (K_i P y)ᵀ P (K_j P y);
  per step one solve with [Z, y, X], one pass, one small solve.

Monte-Carlo error: θ̂ is fixed by exact q and estimated traces, so with per-probe
estimates g_b (of Ŝθ̂ for MINQUE, of t for REML), Cov_MC(θ̂) ≈ Ŝ⁻¹ Cov(ḡ) Ŝ⁻¹ — reported
with the SEs of the traces in ``engine_info``, and added to the statistical covariance
(the jackknife's replicates share the probes, so they do not see it): the reported
Cov(θ̂) is jackknife + MC for MINQUE0, 2 Ŝ⁻¹ (the inverse Fisher information) + MC for the
iterative estimators.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from .block_factor import JACKKNIFE_BLOCKS, BlockFactorOperator, add_products, joint_block_pass, transpose_product
from .minque import solve_nonnegative, variance_floor
from .variance_fit import VarianceFit

LOG = logging.getLogger("ntkmixed")


# --- MINQUE0 by randomised Haseman–Elston ---------------------------------------------
def rhe_minque0(problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200,
                jackknife: bool = True) -> VarianceFit:
    """Randomised MINQUE0 with block-jackknife SEs (``tol``/``max_iter`` unused)."""
    c = len(problem.operators)
    W, u = problem.project(problem.trace_columns), problem.project(problem.y)
    B = W.shape[1]  # trace columns: probes and deflation directions
    R = np.column_stack([W, u, problem.Q])
    blocked = all(isinstance(op, BlockFactorOperator) for op in problem.operators)
    if blocked:
        total, blocks = joint_block_pass(problem.operators, functools.partial(_rhe_block, R=R, Q=problem.Q, B=B),
                                         min_blocks=JACKKNIFE_BLOCKS if jackknife else 1)
        width = R.shape[1]
        T = [total[:, i * width : (i + 1) * width] for i in range(c)]
        a = np.array([b["a"] for b in blocks])  # J × c: uᵀ K_ij u
        t = np.array([b["t"] for b in blocks])  # tr K_ij
        e = np.array([b["e"] for b in blocks])  # tr Qᵀ K_ij Q
        q_kernels, traces, traces_q = a.sum(axis=0), t.sum(axis=0), e.sum(axis=0)
    else:
        T = problem.kernel_products(R)
        q_kernels = np.array([float(u @ Ti[:, B]) for Ti in T])
        traces = np.array([float(np.sum(op.diagonal())) for op in problem.operators])
        traces_q = np.array([float(np.sum(problem.Q * Ti[:, B + 1 :])) for Ti in T])
    MT = [problem.project(Ti[:, :B]) for Ti in T]
    per_column = np.array([[np.einsum("ij,ij->j", T[i][:, :B], MT[l]) for l in range(c)] for i in range(c)])
    per_probe = problem.per_probe(per_column)  # c × c × probes
    S, q = _minque0_equations(per_probe.mean(axis=2), q_kernels, traces, traces_q, float(u @ u), problem.n - problem.k)
    theta, boundary = solve_nonnegative(S, q, constrain)
    free_theta = np.linalg.solve(S, q)
    S_probe = np.repeat(S[:, :, None], per_probe.shape[2], axis=2)
    S_probe[:c, :c] = (per_probe + np.transpose(per_probe, (1, 0, 2))) / 2
    mc_cov = _mc_cov(S, S_probe, free_theta)
    problem.info.update({"method": "randomised Haseman-Elston (MINQUE0)",
                         "trace_mc_relative_se": _trace_se(per_probe).tolist(), "theta_mc_se": _se(mc_cov).tolist(),
                         "h2_mc_se": _h2_se(theta, mc_cov)})
    cov = np.full((c + 1, c + 1), np.nan)
    if blocked and jackknife:
        problem.jackknife_cov = _jackknife_cov(problem, blocks, per_column, MT, q_kernels, traces, traces_q,
                                               float(u @ u))
        # the replicates share the probes, so they miss the Monte-Carlo error: add it
        cov = problem.jackknife_cov + mc_cov
        problem.info["jackknife_blocks"] = len(blocks)
        problem.info["theta_jackknife_se"] = _se(problem.jackknife_cov).tolist()
        problem.info["se_method"] = "block jackknife over SNP blocks plus the Monte-Carlo variance of the traces"
    else:  # no SNP blocks to leave out: the SEs stay NaN rather than guessed
        problem.info["se_method"] = "none: the block jackknife needs kernels streamed in SNP blocks"
    LOG.info("minque0 (randomised HE, %d probes): theta = %s", B, _show(theta))
    return VarianceFit(theta, cov, "minque0", True, 1, 0.0, boundary, constrain, float("nan"))


def _rhe_block(j, Fs, R, Q, B, out=None):
    """Pass 1 of RHE on block j: K_ij R for every kernel (added into ``out``), and the
    block's shares. The jackknife's self term cross[i, l, b] = (K_ij M z_b)ᵀ M (K_lj M z_b)
    comes from the w×w Gram matrices F_iᵀ M F_l (R's last columns are Q, so F_iᵀQ is
    known), not from n-row products."""
    G = [transpose_product(F, R) for F in Fs]
    total = add_products(out, [(F, g) for F, g in zip(Fs, G)], Fs[0].shape[0])
    grams = [[transpose_product(Fi, Fl) for Fl in Fs] for Fi in Fs]
    cross = np.empty((len(Fs), len(Fs), B))
    for i, gi in enumerate(G):
        for l, gl in enumerate(G):
            projected = grams[i][l] - gi[:, B + 1 :] @ gl[:, B + 1 :].T  # F_iᵀ M F_l (zero columns: no Q)
            cross[i, l] = np.einsum("wb,wb->b", gi[:, :B], projected @ gl[:, :B])
    small = {"a": [float(g[:, B] @ g[:, B]) for g in G], "t": [float(np.trace(grams[i][i])) for i in range(len(Fs))],
             "e": [float(np.sum(g[:, B + 1 :] ** 2)) for g in G], "cross": cross, "G": [g[:, :B] for g in G]}
    return total, small


def _rhe_jackknife_block(j, Fs, MT_all, G_blocks, out=None):
    """Pass 2 on block j: d[i, l, b] = (K_ij M z_b)ᵀ M (K_l M z_b) for every kernel pair."""
    c = len(Fs)
    B = MT_all.shape[1] // c
    d = np.empty((c, c, B))
    for i, F in enumerate(Fs):
        H = transpose_product(F, MT_all)
        for l in range(c):
            d[i, l] = np.einsum("ij,ij->j", G_blocks[j][i], H[:, l * B : (l + 1) * B])
    return None, d


def _minque0_equations(S_kernels, q_kernels, traces, traces_q, q_residual, dof):
    c = q_kernels.size
    S = np.empty((c + 1, c + 1))
    S[:c, :c] = (S_kernels + S_kernels.T) / 2
    S[:c, c] = S[c, :c] = traces - traces_q
    S[c, c] = dof
    return S, np.append(q_kernels, q_residual)


def _jackknife_cov(problem, blocks, per_column, MT, q_kernels, traces, traces_q, q_residual):
    G_blocks = [b["G"] for b in blocks]
    _, d = joint_block_pass(problem.operators, functools.partial(
        _rhe_jackknife_block, MT_all=np.hstack(MT), G_blocks=G_blocks), min_blocks=len(blocks))
    replicates = []
    for j, block in enumerate(blocks):
        a, t, e = np.array(block["a"]), np.array(block["t"]), np.array(block["e"])
        scale = traces / (traces - t)
        left_out = problem.per_probe(per_column - d[j] - np.transpose(d[j], (1, 0, 2)) + block["cross"])
        S_kernels = np.outer(scale, scale) * left_out.mean(axis=2)
        S, q = _minque0_equations(S_kernels, scale * (q_kernels - a), scale * (traces - t),
                                  scale * (traces_q - e), q_residual, problem.n - problem.k)
        replicates.append(np.linalg.solve(S, q))
    replicates = np.array(replicates)
    J = len(replicates)
    centred = replicates - replicates.mean(axis=0)
    return (J - 1) / J * centred.T @ centred


# --- iterated MINQUE and REML ----------------------------------------------------------
def _minque_pieces(problem, weights: np.ndarray, need_S: bool):
    """Exact q, per-probe traces t_i,b = z_bᵀ K_i P z_b and (``need_S``) per-probe
    Ŝ_ij,b = (K_i P z_b)ᵀ (P K_j z_b) at V(weights)."""
    Z, c = problem.trace_columns, len(problem.operators)
    extra = [Z] + (problem.kernel_probes() if need_S else [])
    _, _, Py, P_extra = problem.gls(weights, np.hstack(extra), label="minque" if need_S else "reml")
    B = Z.shape[1]
    PZ = P_extra[:, :B]
    products = problem.kernel_products(np.column_stack([PZ, Py]))
    KPZ = [v[:, :B] for v in products] + [PZ]  # residual: K = I
    KPy = [v[:, B] for v in products] + [Py]
    q = np.array([float(Py @ v) for v in KPy])
    t = problem.per_probe(np.array([np.einsum("ij,ij->j", Z, v) for v in KPZ]))  # (c+1) × probes
    S = None
    if need_S:
        PKZ = [P_extra[:, B * (1 + i) : B * (2 + i)] for i in range(c)] + [PZ]
        S = np.array([[np.einsum("ij,ij->j", KPZ[i], PKZ[l]) for l in range(c + 1)] for i in range(c + 1)])
        S = problem.per_probe((S + np.transpose(S, (1, 0, 2))) / 2)
    return q, t, S, Py, KPy


def _start(problem) -> np.ndarray:
    return rhe_minque0(problem, constrain=False, jackknife=False).theta


def _tolerance(problem, tol: float) -> float:
    """θ cannot move less than CG and round-off let it: stop at 10 × the CG tolerance."""
    return max(tol, 10.0 * problem.cg_tol)


def stochastic_minque1(problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """Iterated MINQUE with Hutchinson traces (see the module docstring)."""
    floor = variance_floor(problem)
    tol = _tolerance(problem, tol)
    theta = _start(problem)
    history = [theta.copy()]
    converged, change, iteration = False, np.inf, 0
    boundary = np.zeros(theta.size, dtype=bool)
    for iteration in range(1, max_iter + 1):
        alpha = _prior(theta, floor)
        q, _, S_probe, _, _ = _minque_pieces(problem, alpha, need_S=True)
        new, boundary = solve_nonnegative(S_probe.mean(axis=2), q, constrain)
        change = float(np.max(np.abs(new - theta)) / max(np.sum(np.abs(new)), floor))
        theta = new
        history.append(theta.copy())
        LOG.info("minque1 iteration %d: theta = %s, relative change %.2e", iteration, _show(theta), change)
        if change < tol:
            converged = True
            break
    q, t, S_probe, _, _ = _minque_pieces(problem, _prior(theta, floor), need_S=True)
    S = S_probe.mean(axis=2)
    mc_cov = _mc_cov(S, S_probe, theta)
    _record(problem, "iterated MINQUE, Hutchinson traces", S, t, mc_cov, theta)
    return VarianceFit(theta, 2.0 * np.linalg.inv(S) + mc_cov, "minque1", converged, iteration, change, boundary, constrain,
                       float("nan"), history)


def stochastic_reml(problem, *, constrain: bool = True, tol: float = 1e-8, max_iter: int = 200) -> VarianceFit:
    """AI-REML with Hutchinson traces (see the module docstring)."""
    floor = variance_floor(problem)
    tol = _tolerance(problem, tol)
    theta = np.maximum(_start(problem), floor * 100)
    fixed = np.zeros(theta.size, dtype=bool)
    history = [theta.copy()]
    converged, change, iteration = False, np.inf, 0
    for iteration in range(1, max_iter + 1):
        q, t, _, _, KPy = _minque_pieces(problem, theta, need_S=False)
        score = -0.5 * (t.mean(axis=1) - q)
        _, _, _, PKPy = problem.gls(theta, np.column_stack(KPy), label="ai")
        ai = 0.5 * np.column_stack(KPy).T @ PKPy
        free = ~fixed
        step = np.zeros_like(theta)
        step[free] = np.linalg.solve(ai[np.ix_(free, free)], score[free])
        proposal = _feasible(theta, step, constrain, floor)
        if constrain:
            fixed |= (proposal <= 0) & (np.arange(theta.size) < theta.size - 1)
        change = float(np.max(np.abs(proposal - theta)) / max(np.sum(np.abs(proposal)), floor))
        theta = proposal
        history.append(theta.copy())
        LOG.info("reml iteration %d: theta = %s, relative change %.2e", iteration, _show(theta), change)
        if change < tol:
            converged = True
            break
    q, t, S_probe, _, _ = _minque_pieces(problem, np.where(fixed, 0.0, theta), need_S=True)
    S = S_probe.mean(axis=2)
    theta = np.where(fixed, 0.0, theta)
    mc_cov = np.linalg.solve(S, np.linalg.solve(S, np.cov(t) / t.shape[1]).T)
    _record(problem, "AI-REML, Hutchinson traces", S, t, mc_cov, theta)
    problem.info["score_at_estimate"] = (-0.5 * (t.mean(axis=1) - q)).tolist()
    return VarianceFit(theta, 2.0 * np.linalg.inv(S) + mc_cov, "reml", converged, iteration, change, fixed, constrain,
                       float("nan"), history)


def _feasible(theta: np.ndarray, step: np.ndarray, constrain: bool, floor: float) -> np.ndarray:
    """θ + step with the residual kept ≥ floor (halving the step until it is), and with
    ``constrain`` negative genetic components held at zero."""
    factor = 1.0
    proposal = theta + step
    while proposal[-1] < floor and factor > 1e-6:
        factor /= 2.0
        proposal = theta + factor * step
    if constrain:
        proposal[:-1] = np.maximum(proposal[:-1], 0.0)
    proposal[-1] = max(proposal[-1], floor)
    return proposal


def _prior(theta: np.ndarray, floor: float) -> np.ndarray:
    alpha = np.where(theta < 0, floor, theta)
    alpha[-1] = max(alpha[-1], floor)
    return alpha


# --- Monte-Carlo error ------------------------------------------------------------------
def _mc_cov(S: np.ndarray, S_probe: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Cov_MC(θ̂) for θ̂ solving Ŝ θ = q, Ŝ the mean over probes of ``S_probe`` (m×m×B):
    δθ ≈ −Ŝ⁻¹ δŜ θ̂, so with g_b = Ŝ_b θ̂, Cov_MC = Ŝ⁻¹ Cov(g)/B Ŝ⁻¹."""
    g = np.einsum("ijb,j->ib", S_probe, theta)
    cov_g = np.atleast_2d(np.cov(g)) / S_probe.shape[2]
    S_inv = np.linalg.inv(S)
    return S_inv @ cov_g @ S_inv.T


def _record(problem, method: str, S, t, mc_cov, theta) -> None:
    relative = t.std(axis=1, ddof=1) / np.sqrt(t.shape[1]) / np.abs(t.mean(axis=1))
    problem.info.update({"method": method, "trace_mc_relative_se": relative.tolist(),
                         "theta_mc_se": _se(mc_cov).tolist(), "h2_mc_se": _h2_se(theta, mc_cov),
                         "se_method": "inverse Fisher information 2 S⁻¹ (S by Hutchinson) plus the "
                                      "Monte-Carlo variance of the traces"})


def _trace_se(per_probe: np.ndarray) -> np.ndarray:
    """Relative MC SEs of the estimated kernel-pair traces S_ij (upper triangle, row by row)."""
    c, B = per_probe.shape[0], per_probe.shape[2]
    return np.array([per_probe[i, j].std(ddof=1) / np.sqrt(B) / abs(per_probe[i, j].mean())
                     for i in range(c) for j in range(i, c)])


def _se(cov: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(np.diag(cov), 0, None))


def _h2_se(theta: np.ndarray, cov: np.ndarray) -> float:
    """MC SE of Σσ²_k / Σθ (the kernel-share h²) by the delta method."""
    total, genetic = theta.sum(), theta[:-1].sum()
    gradient = np.full(theta.size, -genetic / total**2)
    gradient[:-1] += 1.0 / total
    return float(np.sqrt(max(gradient @ cov @ gradient, 0.0)))


def _show(theta: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in theta) + f"], h2 = {theta[:-1].sum() / theta.sum():.4f}"


ESTIMATORS = {"minque0": rhe_minque0, "minque1": stochastic_minque1, "reml": stochastic_reml}
