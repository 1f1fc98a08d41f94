"""From the ``kernel`` argument of a model to trained kernels on the design's people:
the checks every model makes, IDs for precomputed kernels, the caller's progress choice."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._validation import check_flag
from ..data.design import Design, build_design
from ..exceptions import NtkmixedError
from ..kernels.base import Kernel
from ..kernels.precomputed import Precomputed, PrecomputedFactor
from ..kernels.trained import TrainedKernel, as_kernel_list, component_names, train_kernels


@dataclass
class KernelData:
    """A design and its kernels trained on the design's people: what an LMM and a KRR on
    the same formula and kernel share (including the kernel's eigendecomposition, once
    an engine computes it)."""

    design: Design
    trained_kernels: list[TrainedKernel]
    component_names: list[str]


def prepare(formula: str, data: Any, genotypes: Any, kernel: Any, where: str, progress: bool | None,
            n_parameters_extra: int | None = None) -> KernelData:
    """Design and trained kernels from the public arguments (validated here).
    ``n_parameters_extra``: variance parameters besides the fixed effects (default: one
    per kernel plus the residual)."""
    progress = check_flag(progress, "progress", where, allow_none=True)
    kernels = as_kernel_list(kernel, where)
    names = component_names(kernels)
    require_genotypes(kernels, genotypes, where)
    extra = len(kernels) + 1 if n_parameters_extra is None else n_parameters_extra
    design = build_design(formula, data, genotypes, where, n_parameters_extra=extra)
    return KernelData(design, train_on_design(kernels, design, data.index, progress), names)


def require_genotypes(kernels: list[Kernel], genotypes: Any, where: str) -> None:
    """An error when a genotype kernel is asked for without genotypes."""
    needing = [k for k in kernels if k.needs_genotypes]
    if needing and genotypes is None:
        raise NtkmixedError(f"The 'genotypes' argument of {where} is required for kernel {needing[0]!r}. Got None.")


def train_on_design(kernels: list[Kernel], design: Design, data_index: pd.Index, progress: bool | None) -> list[TrainedKernel]:
    """Each kernel evaluated and normalised on the design's people. A ``Precomputed``
    kernel (matrix or factor) without IDs is labelled by ``data_index`` (its rows follow
    ``data``)."""
    prepared = [_with_progress(_bind_ids(k, data_index), progress) for k in kernels]
    return train_kernels(prepared, design.samples)


def _bind_ids(kernel: Kernel, data_index: pd.Index) -> Kernel:
    if isinstance(kernel, (Precomputed, PrecomputedFactor)) and kernel.ids is None:
        return kernel.bind_ids(data_index)
    return kernel


def _with_progress(kernel: Kernel, progress: bool | None) -> Kernel:
    """A copy of the kernel with the caller's progress setting (the user's object is left alone)."""
    if progress is None or not hasattr(kernel, "progress"):
        return kernel
    adjusted = copy.copy(kernel)
    adjusted.progress = progress
    return adjusted
