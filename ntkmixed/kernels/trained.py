"""Kernels evaluated on a model's training people: the normalised training kernel, as an
operator an engine can use, and what is needed to compute normalised cross-kernels for
new people later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.samples import Samples
from ..estimation.operators import KernelOperator
from ..exceptions import NtkmixedError
from .base import Kernel
from .diagnostics import KernelDiagnostics, kernel_diagnostics
from .normalize import Normalization


@dataclass
class TrainedKernel:
    """A kernel with the constants learned on the training people. ``operator`` is the
    normalised training kernel (None for a model loaded from a file: prediction needs
    only cross-kernels)."""

    kernel: Kernel
    normalization: Normalization
    operator: KernelOperator | None
    _diagnostics: KernelDiagnostics | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.kernel.component_name

    def diagnostics(self) -> KernelDiagnostics:
        """:func:`~ntkmixed.kernels.diagnostics.kernel_diagnostics` of the training kernel,
        computed once (every fit on this trained kernel reports the same)."""
        if self._diagnostics is None:
            if self.operator is None:
                raise NtkmixedError("Kernel diagnostics need the training kernel, which a loaded model does not hold.")
            self._diagnostics = kernel_diagnostics(self.operator)
        return self._diagnostics

    def detached(self) -> "TrainedKernel":
        """The same kernel and constants without the training operator (what results keep:
        prediction needs only cross-kernels, and the operator may hold n×n matrices)."""
        return TrainedKernel(kernel=self.kernel, normalization=self.normalization, operator=None)

    def cross(self, new: Samples, train: Samples) -> np.ndarray:
        """Normalised K(new, train) with the training constants."""
        return self.kernel.normalized_cross(new, train, self.normalization)

    def cross_times(self, new: Samples, train: Samples, vectors: np.ndarray) -> np.ndarray:
        """Normalised K(new, train) @ vectors: what prediction needs (an approximate
        kernel computes it without the new × train matrix)."""
        return self.kernel.normalized_cross_times(new, train, self.normalization, vectors)


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
    """Each kernel on the training people: normalisation constants from its diagonal, and
    the operator engines will use (no n×n matrix is formed here)."""
    trained = []
    for kernel in kernels:
        raw_diagonal = np.asarray(kernel.diag_of(samples), dtype=np.float64)
        normalization = Normalization.from_diagonal(kernel.normalize, raw_diagonal)
        kernel, operator = kernel.trained_on(samples, normalization, raw_diagonal)
        trained.append(TrainedKernel(kernel=kernel, normalization=normalization, operator=operator))
    return trained
