"""Raw kernel blocks K(rows, cols) of the training people with torch, on CPU or CUDA, for
kernels evaluated on the fly (no n×n matrix is ever held).

An *evaluator* holds the training rows on the compute device and returns the raw
(un-normalised) block for two index ranges. Pairs of a person with themself are exact:
the arc-cosine kernels turn a cosine of 1 − ε into an error of order √ε, so the cosine
of a self-pair is set to 1, as the symmetric Gram does. Kernels without a torch
evaluator here are evaluated through their own ``gram`` (NumPy), block by block.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_evaluator(kernel, Z: np.ndarray, device: str = "auto", dtype: str = "float64",
                   feature_budget_bytes: int = 2 * 2**30):
    """The evaluator for ``kernel`` on training rows ``Z`` (see the module docstring)."""
    resolved = resolve_device(device)
    torch_dtype = _DTYPES[dtype]
    # by exact type (this module sits below the kernel classes it serves): a subclass
    # may change the values, so it is evaluated through its own gram
    kind = type(kernel).__name__
    if kind == "NTK" and kernel.analytic:
        return ArcCosineEvaluator(Z, kernel.depth, "ntk", resolved, torch_dtype)
    if kind == "NNGP":
        return ArcCosineEvaluator(Z, kernel.depth, "nngp", resolved, torch_dtype)
    if kind == "Gaussian" and kernel.bandwidth is not None:
        return GaussianEvaluator(Z, kernel.bandwidth, resolved, torch_dtype)
    if kind == "Polynomial":
        return PolynomialEvaluator(Z, kernel.degree, kernel.c, resolved, torch_dtype)
    if kind == "GRM":
        return PolynomialEvaluator(Z, 1, 0.0, resolved, torch_dtype)
    if kind == "NTK":
        from . import _ntk_torch

        row_bytes = 8 * (Z.shape[1] + 2 * kernel.depth * kernel.width) * kernel.n_init
        if Z.shape[0] * row_bytes <= feature_budget_bytes:
            return EmpiricalNTKEvaluator(kernel, Z, _ntk_torch)
    return GramEvaluator(kernel, Z)


class _TorchEvaluator:
    def __init__(self, Z: np.ndarray, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self.Z = torch.as_tensor(np.ascontiguousarray(Z), dtype=dtype, device=device)
        self.n, self.p = self.Z.shape

    def block(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        raise NotImplementedError

    def _self_pairs(self, r0: int, r1: int, c0: int, c1: int):
        """(rows, cols) positions inside the block where row index == column index."""
        start, stop = max(r0, c0), min(r1, c1)
        if start >= stop:
            return None
        index = torch.arange(start, stop, device=self.device)
        return index - r0, index - c0


class ArcCosineEvaluator(_TorchEvaluator):
    """Analytic NTK (Θᴸ) or NNGP (Σᴸ) of the bias-free ReLU network by the arc-cosine
    recursion (see :mod:`ntkmixed.kernels.analytic`), in place: a tile is memory-bound
    elementwise work, so every step writes into one of three tile-sized buffers."""

    def __init__(self, Z, depth: int, which: str, device, dtype):
        super().__init__(Z, device, dtype)
        self.depth, self.which = depth, which
        norms = (self.Z * self.Z).sum(dim=1) / self.p
        self.root = torch.sqrt(norms)
        self.inverse_root = torch.where(norms > 0, 1.0 / torch.where(norms > 0, self.root, 1.0), 0.0)

    def block(self, r0, r1, c0, c1):
        rho = self.Z[r0:r1] @ self.Z[c0:c1].T
        rho.mul_((self.inverse_root[r0:r1] / self.p)[:, None]).mul_(self.inverse_root[None, c0:c1])
        rho.clamp_(-1.0, 1.0)
        pairs = self._self_pairs(r0, r1, c0, c1)
        if pairs is not None:
            rows, cols = pairs
            rho[rows, cols] = (self.root[r0 + rows] > 0).to(rho.dtype)
        tau = rho.clone() if self.which == "ntk" else None
        slope, work = torch.empty_like(rho), torch.empty_like(rho)
        pi = math.pi
        for _ in range(self.depth):
            torch.arccos(rho, out=slope)
            slope.mul_(-1.0 / pi).add_(1.0)  # Σ̇ = (π − θ)/π
            if tau is not None:
                tau.mul_(slope)
            # ρ ← √(1 − ρ²)/π + Σ̇·ρ  (= (sin θ + (π − θ) cos θ)/π)
            torch.mul(rho, rho, out=work)
            work.mul_(-1.0 / pi**2).add_(1.0 / pi**2).clamp_(min=0.0).sqrt_()
            work.addcmul_(slope, rho)
            rho, work = work, rho
            rho.clamp_(-1.0, 1.0)
            if tau is not None:
                tau.add_(rho)
        out = tau if tau is not None else rho
        out.mul_(self.root[r0:r1, None]).mul_(self.root[None, c0:c1])
        return out


class GaussianEvaluator(_TorchEvaluator):
    def __init__(self, Z, bandwidth: float, device, dtype):
        super().__init__(Z, device, dtype)
        self.factor = -1.0 / (2.0 * bandwidth**2)
        self.squares = (self.Z * self.Z).sum(dim=1)

    def block(self, r0, r1, c0, c1):
        D = self.Z[r0:r1] @ self.Z[c0:c1].T
        D *= -2.0
        D += self.squares[r0:r1, None]
        D += self.squares[None, c0:c1]
        D.clamp_(min=0.0)
        D *= self.factor
        D.exp_()
        pairs = self._self_pairs(r0, r1, c0, c1)
        if pairs is not None:
            D[pairs] = 1.0
        return D


class PolynomialEvaluator(_TorchEvaluator):
    def __init__(self, Z, degree: int, c: float, device, dtype):
        super().__init__(Z, device, dtype)
        self.degree, self.c = degree, c

    def block(self, r0, r1, c0, c1):
        K = self.Z[r0:r1] @ self.Z[c0:c1].T
        K /= self.p
        K += self.c
        return K.pow_(self.degree) if self.degree != 1 else K


class EmpiricalNTKEvaluator:
    """The empirical NTK from the forward/backward features of every training row, held
    in memory (``make_evaluator`` checks they fit): Θ = Σ_l (A A ᵀ) ∘ (D Dᵀ) + A_L A_Lᵀ."""

    def __init__(self, kernel, Z: np.ndarray, engine):
        self.engine = engine
        self.n, p = Z.shape
        self.plan = engine.make_plan(self.n, self.n, p, kernel.width, kernel.depth, kernel.dtype,
                                     kernel.device, kernel.block_size)
        self.device, self.dtype = self.plan.device, self.plan.dtype
        self.features = []
        for init in range(kernel.n_init):
            network = engine._Network(engine.init_weights(kernel.seed + init, p, kernel.width, kernel.depth), self.plan)
            self.features.append(network.panel(Z, 0, self.n))
        self.n_init = kernel.n_init
        self._buffers = None

    def block(self, r0, r1, c0, c1):
        rows, cols = r1 - r0, c1 - c0
        if self._buffers is None or self._buffers.flat[0].numel() < rows * cols:
            self._buffers = self.engine._Buffers(rows * cols, self.plan)
        out = None
        for features in self.features:
            block = self.engine._block_gram(features.rows(r0, r1), features.rows(c0, c1), self._buffers, self.plan)
            out = block.clone() if out is None else out.add_(block)
        if self.n_init > 1:
            out /= self.n_init
        return out


class GramEvaluator:
    """Any kernel through its own ``gram`` (NumPy); a block on the diagonal is computed as
    a symmetric Gram, so self-pairs are exact."""

    device = torch.device("cpu")
    dtype = torch.float64

    def __init__(self, kernel, Z: np.ndarray):
        self.kernel, self.Z = kernel, Z
        self.n = Z.shape[0]

    def block(self, r0, r1, c0, c1):
        if (r0, r1) == (c0, c1):
            values = self.kernel.gram(self.Z[r0:r1])
        else:
            values = self.kernel.gram(self.Z[r0:r1], self.Z[c0:c1])
        return torch.as_tensor(np.asarray(values, dtype=np.float64))
