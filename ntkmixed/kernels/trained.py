"""Kernels evaluated on a model's training people: the normalised training matrix and what
is needed to compute normalised cross-kernels for new people later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import NtkmixedError
from .base import Kernel, Samples
from .normalize import Normalization


@dataclass
class TrainedKernel:
    kernel: Kernel
    normalization: Normalization
    matrix: np.ndarray

    @property
    def name(self) -> str:
        return self.kernel.component_name

    def cross(self, new: Samples, train: Samples) -> np.ndarray:
        """Normalised K(new, train) with the training constants."""
        raw = self.kernel.cross_gram(new, train)
        new_diag = self.kernel.diag_of(new) if self.normalization.rule == "unit-diag" else None
        return self.normalization.apply_cross(raw, new_diag)


def as_kernel_list(kernel: Any, where: str = "fit") -> list[Kernel]:
    """A list of kernels with unique component names (``GRM``, ``GRM_2``, ... when repeated)."""
    kernels = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    if not kernels:
        raise NtkmixedError(f"The 'kernel' argument of {where} must be a kernel or a non-empty list of kernels.")
    for item in kernels:
        if not isinstance(item, Kernel):
            raise NtkmixedError(
                f"The 'kernel' argument of {where} must be ntkmixed kernel objects (GRM(), "
                f"NTK(...), Precomputed(K), ...). Got {type(item).__name__}."
            )
    explicit = [k.name for k in kernels if k.name is not None]
    if len(set(explicit)) != len(explicit):
        raise NtkmixedError(f"Kernel names must be unique. Got {explicit}.")
    return kernels


def component_names(kernels: list[Kernel]) -> list[str]:
    """Names of the variance components: the kernel's name, numbered when repeated."""
    names = [k.component_name for k in kernels]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if names.count(name) == 1 else f"{name}_{seen[name]}")
    if "residual" in unique:
        raise NtkmixedError("A kernel cannot be named 'residual'; that name is the residual variance.")
    return unique


def train_kernels(kernels: list[Kernel], samples: Samples) -> list[TrainedKernel]:
    trained = []
    for kernel in kernels:
        raw = np.asarray(kernel.train_gram(samples), dtype=np.float64)
        if not raw.flags.owndata or not raw.flags.writeable:  # normalised in place below
            raw = raw.copy()
        _symmetrize_in_place(raw)
        normalization, matrix = Normalization.fit(kernel.normalize, raw, in_place=True)
        trained.append(TrainedKernel(kernel=kernel, normalization=normalization, matrix=matrix))
    return trained


def _symmetrize_in_place(matrix: np.ndarray, block: int = 1024) -> None:
    """matrix ← (matrix + matrixᵀ)/2 in blocks, without an n×n temporary."""
    n = matrix.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        for other in range(start, n, block):
            end = min(other + block, n)
            average = (matrix[start:stop, other:end] + matrix[other:end, start:stop].T) / 2.0
            matrix[start:stop, other:end] = average
            matrix[other:end, start:stop] = average.T
