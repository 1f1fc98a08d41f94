"""Random features for the infinite-width kernels (analytic NTK, NNGP), as a factor kernel.

Arc-cosine random features (Cho & Saul 2009) for the NNGP, and for the NTK the recursion
Θˡ = Θˡ⁻¹·Σ̇ˡ + Σˡ written on features with a sketched tensor product (the construction of
Zandieh et al. 2021, arXiv 2106.07880, with a Gaussian product sketch):

    φ₀ = x/√p,   φₗ = √(2/w) relu(Wₗ φₗ₋₁),   ψ̇ₗ = √(2/w) 1[Wₗ φₗ₋₁ > 0]        (φₗ·φₗ' ≈ Σˡ, ψ̇ₗ·ψ̇ₗ' ≈ Σ̇ˡ)
    θ₀ = φ₀,   θₗ = [ (R θₗ₋₁) ∘ (S ψ̇ₗ) / √s ,  φₗ ]                              (θₗ·θₗ' ≈ Θˡ)

with Wₗ, R, S standard normal: E[(Ra)ₖ(Sb)ₖ(Ra')ₖ(Sb')ₖ] = (a·a')(b·b'), so every inner
product is unbiased. ``features`` = D splits as w = s = D/2, so F has D columns (NNGP:
φ_L, D columns of width D). The weights depend only on (seed, p, D, depth).

Normalisation uses the kernel's exact diagonal (the training constants of the wrapped
kernel), so the factor approximates the same normalised kernel as Nyström does; the
diagonal of F Fᵀ is not exact, and unlike Nyström's residual, K − F Fᵀ need not be
positive semi-definite, so there is no diagonal correction. Whether these features earn
their place next to Nyström is measured in ``benchmarks/bench_ntk_scale.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_positive_int
from ..data.samples import Samples
from ..estimation.operators import FactorOperator, KernelOperator
from ..exceptions import NtkmixedError
from .base import Kernel
from .normalize import Normalization

#: rows whose features are computed at once (bounds the w × rows work arrays)
ROW_BLOCK = 4096


class RandomFeatures(Kernel):
    """Random-feature approximation of ``kernel`` (``NTK(width=None)`` or ``NNGP``) with
    ``features`` columns drawn with ``seed`` (see the module docstring)."""

    def __init__(self, kernel: Kernel | dict, features: int = 4000, seed: int = 0, normalize: str | None = None,
                 name: str | None = None):
        inner = Kernel.from_config(kernel) if isinstance(kernel, dict) else kernel
        kind = type(inner).__name__
        if not ((kind == "NTK" and inner.analytic) or kind == "NNGP"):
            raise NtkmixedError(
                "The 'kernel' argument of RandomFeatures must be an infinite-width kernel: NTK(width=None) or "
                f"NNGP(...). Got {inner!r}."
            )
        if normalize is not None and normalize != inner.normalize:
            raise NtkmixedError(f"The 'normalize' parameter of RandomFeatures is the wrapped kernel's "
                                f"({inner.normalize!r}); set it there. Got {normalize!r}.")
        super().__init__(normalize=inner.normalize, name=name)
        self.kernel = inner
        self.features = check_positive_int(features, "features", "RandomFeatures", minimum=2)
        self.seed = check_positive_int(seed, "seed", "RandomFeatures", minimum=0)
        self._cache: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        return {"kernel": self.kernel.config(), "features": self.features, "seed": self.seed}

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        return f"RandomFeatures({self.kernel!r}, features={self.features}, seed={self.seed}{name})"

    __hash__ = Kernel.__hash__

    @property
    def component_name(self) -> str:
        return self.name or f"RandomFeatures[{self.kernel.component_name}]"

    # --- values -----------------------------------------------------------------------
    def feature_map(self, Z: np.ndarray) -> np.ndarray:
        """Un-normalised features (rows × D) of standardised genotype rows."""
        import torch

        weights = self._weights(Z.shape[1])
        out = np.empty((Z.shape[0], self.features))
        for start in range(0, Z.shape[0], ROW_BLOCK):
            rows = torch.as_tensor(Z[start : start + ROW_BLOCK], dtype=torch.float64)
            out[start : start + rows.shape[0]] = self._features(rows, weights).numpy()
        return out

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        F1 = self.feature_map(np.asarray(Z1, dtype=np.float64))
        F2 = F1 if Z2 is None else self.feature_map(np.asarray(Z2, dtype=np.float64))
        return F1 @ F2.T

    def diag_of(self, samples: Samples) -> np.ndarray:
        return self.kernel.diag_of(samples)  # the exact diagonal sets the normalisation

    def trained_on(self, train: Samples, normalization: Normalization,
                   raw_diagonal: np.ndarray) -> tuple["RandomFeatures", KernelOperator]:
        F = self._normalized_features(self._genotypes(train), normalization.row_scale())
        operator = FactorOperator(F)
        operator.approximation = {"kind": "random-features", "kernel": repr(self.kernel), "features": self.features,
                                  "seed": self.seed, "trace_error": float(1 - np.sum(F * F) /
                                                                          np.sum(normalization.apply_diagonal(raw_diagonal)))}
        trained = RandomFeatures(self.kernel, self.features, self.seed, name=self.name)
        trained._cache = {"ids": train.ids, "factor": F}
        return trained, operator

    def normalized_cross(self, new: Samples, train: Samples, normalization: Normalization) -> np.ndarray:
        return self._new_features(new, normalization) @ self._training_factor(train, normalization).T

    def normalized_cross_times(self, new: Samples, train: Samples, normalization: Normalization,
                               vectors: np.ndarray) -> np.ndarray:
        return self._new_features(new, normalization) @ (self._training_factor(train, normalization).T @ vectors)

    # --- helpers ------------------------------------------------------------------------
    def _new_features(self, new: Samples, normalization: Normalization) -> np.ndarray:
        new_diag = self.kernel.diag_of(new) if normalization.rule == "unit-diag" else None
        return self._normalized_features(self._genotypes(new), normalization.new_row_scale(new_diag))

    def _training_factor(self, train: Samples, normalization: Normalization) -> np.ndarray:
        ids = self._cache.get("ids")
        if ids is None or not (ids is train.ids or ids.equals(train.ids)):
            self._cache = {"ids": train.ids,
                           "factor": self._normalized_features(self._genotypes(train), normalization.row_scale())}
        return self._cache["factor"]

    def _normalized_features(self, Z: np.ndarray, scale) -> np.ndarray:
        F = self.feature_map(Z)
        F *= np.reshape(scale, (-1, 1)) if np.ndim(scale) else scale
        return F

    def _weights(self, p: int):
        """Wₗ (w × fan-in), R (s × D), S (s × w) per layer, from a CPU generator seeded with ``seed``."""
        import torch

        generator = torch.Generator(device="cpu")
        generator.manual_seed(self.seed)
        ntk = type(self.kernel).__name__ == "NTK"
        width = self.features // 2 if ntk else self.features
        sketch = self.features - width
        layers, fan_theta, fan_phi = [], p, p
        for _ in range(self.kernel.depth):
            W = torch.randn((width, fan_phi), generator=generator, dtype=torch.float64)
            R = torch.randn((sketch, fan_theta), generator=generator, dtype=torch.float64) if ntk else None
            S = torch.randn((sketch, width), generator=generator, dtype=torch.float64) if ntk else None
            layers.append((W, R, S))
            fan_phi, fan_theta = width, self.features
        return layers

    def _features(self, rows, layers):
        import torch

        phi = rows / math.sqrt(rows.shape[1])
        theta = phi
        for W, R, S in layers:
            pre = phi @ W.T
            scale = math.sqrt(2.0 / W.shape[0])
            if R is not None:
                derivative = (pre > 0).to(pre.dtype) * scale
                sketched = (theta @ R.T) * (derivative @ S.T) / math.sqrt(R.shape[0])
            phi = torch.relu(pre) * scale
            if R is not None:
                theta = torch.cat([sketched, phi], dim=1)
        return theta if layers[0][1] is not None else phi
