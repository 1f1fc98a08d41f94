"""A kernel known through a factor that is produced in column blocks on demand,
K = F Fᵀ = Σ_j F_j F_jᵀ (the GRM: F_j = standardised SNP block j, scaled), so that
products, traces and the jackknife over blocks never hold F, let alone K.

Every use is a *pass*: :meth:`BlockFactorOperator.block_pass` applies a function to each
block F_j and returns the sum of its n-row outputs and the list of its small outputs.
Passes run block by block in this process (a progress bar per pass), or — when the
genotypes are a dask array — as dask tasks on the active scheduler (threads by default,
a ``distributed.Client`` when one exists); never a scheduler of our own. Sums use one
fixed pairwise order, the same in both cases, so a dask run and an in-memory run of the
same blocks add the same numbers in the same order.

The engines ask only for what they need: ``matmul`` (one pass), ``diagonal`` (known from
training), ``mean_entry`` (one pass, cached), ``factor_width`` (free) and, for the
exact low-rank and dense engines, ``factor()`` — which forms F (n × r float64) once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._runtime import progress_bar
from .factor_svd import ThinSVD
from .operators import FactorOperator, KernelOperator

#: blocks of a jackknife pass (its replicates), unless the kernel has fewer SNPs; other
#: passes use the fewest blocks that fit in memory (fewer, larger products run faster)
JACKKNIFE_BLOCKS = 100


def pairwise_sum(items):
    """Σ items in a fixed binary-tree order (as a binary counter): O(log m) partial
    sums alive at once, and the same order for numbers, arrays or dask objects."""
    stack: list[tuple[int, Any]] = []
    for item in items:
        level = 0
        while stack and stack[-1][0] == level:
            item = stack.pop()[1] + item
            level += 1
        stack.append((level, item))
    total = None
    while stack:
        value = stack.pop()[1]
        total = value if total is None else value + total
    return total


class BlockFactorOperator(KernelOperator):
    """K = F Fᵀ with F (n × width) given block by block.

    ``read_block(start, stop)`` returns F[:, start:stop] as float64; ``block_bounds(m)``
    the column ranges of a pass with at least m blocks (within memory);
    ``dask_blocks(bounds)`` the same blocks as dask arrays, or None. ``diagonal`` is
    diag K, known without a pass.
    """

    has_dense = True

    def __init__(self, n: int, width: int, read_block: Callable[[int, int], np.ndarray],
                 block_bounds: Callable[[int], list[tuple[int, int]]], diagonal: np.ndarray,
                 dask_blocks: Callable[[list], list | None] | None = None, progress: bool | None = None,
                 label: str = "kernel"):
        super().__init__(n)
        self.width = int(width)
        self._read_block = read_block
        self._block_bounds = block_bounds
        self._dask_blocks = dask_blocks
        self._diagonal = np.asarray(diagonal, dtype=np.float64)
        self.progress = progress
        self.label = label
        self._materialised: FactorOperator | None = None
        self._mean_entry: float | None = None
        #: passes made so far (each reads every genotype block once)
        self.passes = 0

    # --- passes -----------------------------------------------------------------
    @property
    def uses_dask(self) -> bool:
        """Whether passes run as dask tasks."""
        return self._dask_blocks is not None

    def bounds(self, min_blocks: int = 1) -> list[tuple[int, int]]:
        return self._block_bounds(min_blocks)

    def block_pass(self, fn: Callable[[int, np.ndarray], tuple[Any, Any]], min_blocks: int = 1,
                   desc: str | None = None) -> tuple[Any, list]:
        """``(Σ_j big_j, [small_j])`` with ``(big_j, small_j) = fn(j, F_j)`` over the blocks
        of a pass (``big_j`` n-row arrays or None)."""
        return joint_block_pass([self], lambda j, blocks: fn(j, blocks[0]), min_blocks, desc)

    def matmul(self, V: np.ndarray) -> np.ndarray:
        """K V = Σ_j F_j (F_jᵀ V), one pass (or F (Fᵀ V) once F is formed)."""
        V = np.asarray(V, dtype=np.float64)
        if self._materialised is not None:
            return self._materialised.matmul(V)
        total, _ = self.block_pass(_times_block(V))
        return total if total is not None else np.zeros_like(V)

    def transpose_times(self, V: np.ndarray) -> np.ndarray:
        """Fᵀ V (width × m), one pass."""
        V = np.asarray(V, dtype=np.float64)
        _, parts = self.block_pass(_transpose_block(V))
        return np.concatenate(parts, axis=0)

    def diagonal(self) -> np.ndarray:
        return self._diagonal.copy()

    def mean_entry(self) -> float:
        """1ᵀK1 / n² = ‖Fᵀ1‖² / n², one pass (cached)."""
        if self._mean_entry is None:
            column_sums = self.transpose_times(np.ones((self.n, 1)))[:, 0]
            self._mean_entry = float(column_sums @ column_sums) / self.n**2
        return self._mean_entry

    # --- the factor itself, for engines that decompose it -------------------------
    def factor_width(self) -> int:
        return self.width

    def factor(self) -> np.ndarray:
        """F (n × width float64), formed once."""
        return self._formed().F

    def thin_svd(self) -> ThinSVD:
        return self._formed().thin_svd()

    def dense(self) -> np.ndarray:
        return self._formed().dense()

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        return self._formed().spectrum()

    @property
    def has_spectrum(self) -> bool:
        return self._materialised is not None and self._materialised.has_spectrum

    def _formed(self) -> FactorOperator:
        if self._materialised is None:
            F = np.empty((self.n, self.width))
            for start, stop in self.bounds(1):
                F[:, start:stop] = self._read_block(start, stop)
            self._materialised = FactorOperator(F)
        return self._materialised


def joint_block_pass(operators: Sequence[BlockFactorOperator], fn: Callable[[int, list], tuple[Any, Any]],
                     min_blocks: int = 1, desc: str | None = None) -> tuple[Any, list]:
    """One pass over several block factors together: ``fn(j, [F_1j, …, F_cj])`` sees
    block j of every kernel at once (the jackknife's leave-block-out cross terms need
    them side by side). Every operator is split into the same number of blocks."""
    count = max(len(op.bounds(min_blocks)) for op in operators)
    bounds = [op.bounds(count) for op in operators]
    if len({len(b) for b in bounds}) != 1:  # a kernel has fewer SNPs than blocks asked for
        count = min(len(b) for b in bounds)
        bounds = [op.bounds(count) for op in operators]
        if len({len(b) for b in bounds}) != 1:
            raise ValueError("the kernels cannot be split into the same number of blocks")
    for op in operators:
        op.passes += 1
    if all(op.uses_dask for op in operators):
        blocks = [op._dask_blocks(b) for op, b in zip(operators, bounds)]
        return _dask_pass(fn, [list(column) for column in zip(*blocks)])
    smalls = []
    label = desc or f"{'+'.join(op.label for op in operators)}: pass over genotype blocks"
    bar = progress_bar(len(bounds[0]), label, operators[0].progress, unit="block", leave=False)

    def produce():
        for j in range(len(bounds[0])):
            big, small = fn(j, [op._read_block(*b[j]) for op, b in zip(operators, bounds)])
            smalls.append(small)
            if bar is not None:
                bar.update()
            if big is not None:
                yield big

    try:
        total = pairwise_sum(produce())
    finally:
        if bar is not None:
            bar.close()
    return total, smalls


def _times_block(V: np.ndarray):
    def fn(j: int, F: np.ndarray):
        return F @ (F.T @ V), None
    return fn


def _transpose_block(V: np.ndarray):
    def fn(j: int, F: np.ndarray):
        return None, F.T @ V
    return fn


def _dask_pass(fn, blocks: Sequence) -> tuple[Any, list]:
    """The pass as dask tasks: one per block, sums in the same pairwise order."""
    import dask

    outputs = [dask.delayed(fn, nout=2, pure=True)(j, block) for j, block in enumerate(blocks)]
    bigs = [out[0] for out in outputs]
    smalls = [out[1] for out in outputs]
    total, smalls = dask.compute(_delayed_pairwise(bigs), smalls)
    return total, list(smalls)


def _delayed_pairwise(bigs: list):
    import dask

    def add(a, b):
        if a is None:
            return b
        return a if b is None else a + b

    stack: list[tuple[int, Any]] = []
    for item in bigs:
        level = 0
        while stack and stack[-1][0] == level:
            item = dask.delayed(add, pure=True)(stack.pop()[1], item)
            level += 1
        stack.append((level, item))
    total = None
    while stack:
        value = stack.pop()[1]
        total = value if total is None else dask.delayed(add, pure=True)(value, total)
    return total
