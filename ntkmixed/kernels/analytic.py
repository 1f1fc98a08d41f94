"""Infinite-width kernels of the ReLU network of DESIGN §3: the analytic NTK and the NNGP,
by the arc-cosine recursion.

For the bias-free network with weights N(0, 1), h_1 = W_1 x/√p, a_l = √2·relu(h_l),
h_{l+1} = W_{l+1} a_l/√w and f = v·a_L/√w, as w → ∞ every pre-activation h_l is a
Gaussian process and (Jacot et al. 2018; Arora et al. 2019)

    Σ⁰(x, x') = x·x'/p,                       Θ⁰ = Σ⁰
    Σˡ(x, x') = 2·E[relu(u) relu(v)]          (u, v) ~ N(0, [[Σˡ⁻¹(x,x), Σˡ⁻¹(x,x')],
    Σ̇ˡ(x, x') = 2·E[relu'(u) relu'(v)]                      [Σˡ⁻¹(x',x), Σˡ⁻¹(x',x')]])
    Θˡ = Θˡ⁻¹·Σ̇ˡ + Σˡ,                        l = 1, …, L.

With ρ = Σˡ⁻¹(x,x')/√(Σˡ⁻¹(x,x)·Σˡ⁻¹(x',x')) and θ = arccos ρ, the expectations are the
arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009):

    Σˡ = √(Σˡ⁻¹(x,x)·Σˡ⁻¹(x',x')) · (sin θ + (π − θ) cos θ)/π,     Σ̇ˡ = (π − θ)/π.

The factor 2 (c_σ = 2) keeps the diagonal: Σˡ(x, x) = ‖x‖²/p at every layer, so
Θᴸ(x, x) = (L + 1)‖x‖²/p. The NNGP kernel is the covariance of the network output,
Cov(f(x), f(x')) = Σᴸ(x, x') (the readout is linear, so it adds no layer), and the NTK is
Θᴸ. Cost: one O(n₁n₂p) matrix product and O(n₁n₂L) elementwise work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_int
from ._checks import gram_inputs
from .base import Kernel


def arccos_kernels(Z1: np.ndarray, Z2: np.ndarray | None, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """``(NNGP, NTK)`` = (Σᴸ, Θᴸ) between the rows of Z1 and Z2 (Z1 itself when None)."""
    symmetric = Z2 is None
    Z2 = Z1 if symmetric else Z2
    p = Z1.shape[1]
    sigma0 = (Z1 @ Z2.T) / p
    norm1 = np.einsum("ij,ij->i", Z1, Z1) / p
    norm2 = norm1 if symmetric else np.einsum("ij,ij->i", Z2, Z2) / p
    # Σˡ(x,x) = ‖x‖²/p at every layer, so one scale serves all layers
    scale = np.sqrt(np.outer(norm1, norm2))
    positive = scale > 0
    rho = np.divide(sigma0, scale, out=np.zeros_like(sigma0), where=positive)
    np.clip(rho, -1.0, 1.0, out=rho)
    if symmetric:
        # a row's cosine with itself is 1 exactly (rounding would otherwise move arccos)
        np.fill_diagonal(rho, np.where(norm1 > 0, 1.0, 0.0))
    return arccos_kernels_from_cosines(rho, scale, depth)


def check_depth(depth: Any, where: str) -> int:
    return check_positive_int(depth, "depth", where)


#: below this relative sensitivity (see :func:`relatedness_sensitivity`) a deep kernel is
#: reported as nearly constant plus identity
MIN_SENSITIVITY = 0.05


def relatedness_sensitivity(depth: int, kernel: str) -> float:
    """How much a kernel entry tells related from unrelated people, relative to the GRM.

    For unit-norm inputs with cosine ρ, let k(ρ) be the infinite-width kernel scaled by
    its diagonal (NTK: Θᴸ(ρ)/(L + 1); NNGP: Σᴸ(ρ)). The sensitivity is
    (k(0.2) − k(0)) / (1 − k(0)) — how far an entry moves between unrelated people and
    people whose genotypes correlate 0.2, as a share of the diagonal's excess over
    unrelated entries (the identity-like part) — divided by the same ratio for the linear
    kernel (0.2). It falls with depth (NTK: 0.47 at depth 2, 0.05 near depth 22, 0.02 at
    depth 50; NNGP: 0.05 near depth 98): deep ReLU kernels approach a constant plus the identity, and a variance
    component with such a kernel is confounded with the residual.
    """
    rho = np.array([[0.0, 0.2]])
    scale = np.ones_like(rho)
    nngp, ntk = arccos_kernels_from_cosines(rho, scale, depth)
    values = nngp[0] if kernel == "NNGP" else ntk[0] / (depth + 1)
    return float((values[1] - values[0]) / (1.0 - values[0]) / 0.2)


def arccos_kernels_from_cosines(rho: np.ndarray, scale: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The recursion of :func:`arccos_kernels` from input cosines ρ and scales √(Σ⁰(x,x)Σ⁰(x',x'))."""
    rho = np.clip(np.asarray(rho, dtype=np.float64), -1.0, 1.0)
    tau = rho.copy()  # Θˡ / scale
    for _ in range(depth):
        theta = np.arccos(rho)
        derivative = (np.pi - theta) / np.pi
        rho = (np.sqrt(np.maximum(1.0 - rho * rho, 0.0)) + (np.pi - theta) * rho) / np.pi
        np.clip(rho, -1.0, 1.0, out=rho)
        tau *= derivative
        tau += rho
    return rho * scale, tau * scale


def deep_kernel_warning(kernel: Any, depth: int) -> str | None:
    """The warning text when ``kernel`` (NTK or NNGP) is nearly constant plus identity."""
    kind = type(kernel).__name__
    sensitivity = relatedness_sensitivity(depth, kind)
    if sensitivity >= MIN_SENSITIVITY:
        return None
    deepest = max((d for d in range(1, depth) if relatedness_sensitivity(d, kind) >= MIN_SENSITIVITY), default=1)
    return (
        f"{kernel!r} is nearly a constant plus the identity at depth {depth}: between unrelated people "
        f"and people whose genotypes correlate 0.2 its normalised entries move {sensitivity:.1%} as much "
        "as the GRM's. Its variance component is then confounded with the residual and h² means little "
        f"(it can come out near 1 whatever the trait). Use depth <= {deepest}."
    )


class NNGP(Kernel):
    """NNGP (Gaussian-process) kernel of the infinite-width bias-free ReLU MLP with
    ``depth`` hidden layers (DESIGN §3): the covariance of the network output,

        K(x, x') = Σᴸ(x, x'),   Σ⁰ = x·x'/p,
        Σˡ = √(Σˡ⁻¹(x,x) Σˡ⁻¹(x',x')) · (sin θ + (π − θ) cos θ)/π,
        cos θ = Σˡ⁻¹(x,x') / √(Σˡ⁻¹(x,x) Σˡ⁻¹(x',x')),

    so K(x, x) = ‖x‖²/p. This is the "GP kernel" of Liu, Tai et al. (arXiv 2501.10929);
    see :mod:`ntkmixed.kernels.analytic` for the derivation.

    Parameters
    ----------
    depth : int, default 2
        Number of hidden layers (≥ 1).
    normalize : {"mean-diag", "unit-diag", "none"}, default "mean-diag"
        Normalisation applied by the model (mean training diagonal 1, cosine, or none).
    name : str, optional
        Name of the variance component in results (default: ``"NNGP"``).
    """

    def __init__(self, depth: int = 2, normalize: str | None = "mean-diag", name: str | None = None):
        super().__init__(normalize=normalize, name=name)
        self.depth = check_depth(depth, "NNGP")

    def params(self) -> dict[str, Any]:
        return {"depth": self.depth}

    def identifiability_warning(self) -> str | None:
        return deep_kernel_warning(self, self.depth)

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        Z1, Z2 = gram_inputs(Z1, Z2, type(self).__name__)
        return arccos_kernels(Z1, Z2, self.depth)[0]

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        Z, _ = gram_inputs(Z, None, type(self).__name__)
        return np.einsum("ij,ij->i", Z, Z) / Z.shape[1]
