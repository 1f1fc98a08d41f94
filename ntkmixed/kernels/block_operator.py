"""The normalised training kernel of a genotype kernel, evaluated on the fly.

Engines that never hold an n×n matrix (matrix-free conjugate gradients, HODLR
compression) ask for K·V and for blocks K[rows, cols]; this operator computes them from
the genotypes, tile by tile, with torch on the CPU or a GPU (``device="auto"``: CUDA when
available). K·V visits each tile of the upper triangle once and uses it twice (K is
symmetric), so a product costs n²/2 kernel entries plus n²·B multiply-adds for B right-
hand sides — about as much as forming K once, with O(tile² + n B) memory. The tiles of
the first pass are kept, in float64, for the passes after it while they fit in
``TILE_CACHE_SHARE`` of the memory then available (the upper triangle is half an n×n
matrix; tiles beyond the budget are recomputed in every pass): an iterative fit makes
about a hundred passes, and a kept tile costs a matrix product instead of a kernel
evaluation. An engine that wants the dense matrix still gets it (formed once, by the
kernel's own Gram routine, and cached), as from any Gram operator.

The analytic NTK, the NNGP, Gaussian and polynomial kernels have torch evaluators; the
empirical NTK uses its forward/backward features of every training row when they fit
in memory, and any other kernel its own ``gram`` block by block.
"""

from __future__ import annotations

import numpy as np

from .._runtime import available_memory
from .normalize import Normalization
from .operators import GramOperator

#: rows of a tile on a CPU / a GPU (a tile and its temporaries: ~5 · tile² doubles)
CPU_TILE = 2048
GPU_TILE = 8192
#: landmarks of the Nyström factor offered to preconditioned solvers (Falkon's idea)
PRECONDITIONER_LANDMARKS = 1000
#: share of the memory available at the first pass (the GPU's, on a GPU) that the tiles
#: kept for later passes may take
TILE_CACHE_SHARE = 0.4


class BlockKernelOperator(GramOperator):
    """Normalised K of ``kernel`` on the training rows ``Z``: products and blocks on the
    fly (see the module docstring); ``passes`` counts the products computed that way."""

    def __init__(self, kernel, Z: np.ndarray, raw_diagonal: np.ndarray, normalization: Normalization,
                 device: str | None = None, tile: int | None = None):
        super().__init__(lambda: kernel.gram(Z), raw_diagonal, normalization)
        # a kernel with data-dependent constants (Gaussian's median bandwidth) fixes them on
        # the training rows, since blocks see only some rows at a time
        self.kernel = kernel.fixed_on(Z) if hasattr(kernel, "fixed_on") else kernel
        self.Z = Z
        self._row_scale = normalization.row_scale()
        self.device = device if device is not None else getattr(kernel, "device", "auto")
        self._tile = tile
        self._evaluator = None
        self._mean = None
        self._preconditioner = None
        self.passes = 0
        #: bytes the kept tiles may still take (None: set at the first pass)
        self.tile_cache_room: int | None = None
        self._tiles: dict[tuple[int, int], object] = {}
        self._tile_count = 0

    @property
    def evaluator(self):
        if self._evaluator is None:
            from ._block_torch import make_evaluator

            self._evaluator = make_evaluator(self.kernel, self.Z, self.device)
        return self._evaluator

    @property
    def tile(self) -> int:
        if self._tile is None:
            self._tile = GPU_TILE if self.evaluator.device.type == "cuda" else CPU_TILE
        return self._tile

    def matmul(self, V: np.ndarray) -> np.ndarray:
        if self.is_formed:
            return self.dense() @ V
        return self.streamed_matmul(V)

    def streamed_matmul(self, V: np.ndarray) -> np.ndarray:
        """K V from tiles of the upper triangle, each used for both of its blocks."""
        import torch

        V = np.asarray(V, dtype=np.float64)
        vector = V.ndim == 1
        block = V.reshape(self.n, -1) * self._scale_column()
        evaluator = self.evaluator
        W = torch.as_tensor(block, dtype=evaluator.dtype, device=evaluator.device)
        out = torch.zeros_like(W)
        edges = list(range(0, self.n, self.tile)) + [self.n]
        if self.tile_cache_room is None:
            self.tile_cache_room = _cache_budget(evaluator.device)
        self._tile_count = (len(edges) - 1) * len(edges) // 2
        for i in range(len(edges) - 1):
            r0, r1 = edges[i], edges[i + 1]
            for j in range(i, len(edges) - 1):
                c0, c1 = edges[j], edges[j + 1]
                tile = self._tile_at(i, j, r0, r1, c0, c1)
                out[r0:r1] += tile @ W[c0:c1]
                if j > i:
                    out[c0:c1] += tile.T @ W[r0:r1]
        self.passes += 1
        result = out.to(device="cpu", dtype=torch.float64).numpy() * self._scale_column()
        return result[:, 0] if vector else result

    def _tile_at(self, i: int, j: int, r0: int, r1: int, c0: int, c1: int):
        """Un-normalised tile (i, j): kept from an earlier pass, or evaluated (and kept
        while the budget allows)."""
        tile = self._tiles.get((i, j))
        if tile is None:
            tile = self.evaluator.block(r0, r1, c0, c1)
            size = tile.numel() * tile.element_size()
            if size <= self.tile_cache_room:
                self._tiles[(i, j)] = tile
                self.tile_cache_room -= size
        return tile

    @property
    def tile_cache_fraction(self) -> float:
        """Share of the upper triangle's tiles kept for later passes (0 before a pass)."""
        return len(self._tiles) / self._tile_count if self._tile_count else 0.0

    def block(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Normalised K[r0:r1, c0:c1] (a view of the dense matrix once it is formed)."""
        if self.is_formed:
            return self.dense()[r0:r1, c0:c1]
        import torch

        values = self.evaluator.block(r0, r1, c0, c1).to(device="cpu", dtype=torch.float64).numpy()
        values = np.array(values, dtype=np.float64)
        scale = self._row_scale
        if np.ndim(scale):
            values *= scale[r0:r1, None]
            values *= scale[None, c0:c1]
        else:
            values *= scale * scale
        return values

    def preconditioner_factor(self) -> np.ndarray:
        """L (n × ≤ m) with K ≈ L Lᵀ: the Nyström factor on ``PRECONDITIONER_LANDMARKS``
        seeded-uniform landmarks (C = K[:, L] from n × m entries, W = K[L, L]), for a
        preconditioner of V (the matrix-free engine's). Computed once and cached."""
        if self._preconditioner is None:
            import torch

            from ._block_torch import make_evaluator
            from ._nystrom_factor import landmark_basis, seeded_order

            m = min(PRECONDITIONER_LANDMARKS, self.n)
            landmarks = np.sort(seeded_order(self.n, 0)[:m])
            # the landmarks appended as rows n … n+m−1, so each block is K(rows, landmarks)
            stacked = make_evaluator(self.kernel, np.vstack([self.Z, self.Z[landmarks]]), self.device)
            C = np.empty((self.n, m))
            for start in range(0, self.n, self.tile):
                stop = min(self.n, start + self.tile)
                C[start:stop] = stacked.block(start, stop, self.n, self.n + m).to("cpu", torch.float64).numpy()
            # K(L, L) with its self-pairs exact replaces the landmarks' own rows
            C[landmarks] = stacked.block(self.n, self.n + m, self.n, self.n + m).to("cpu", torch.float64).numpy()
            scale = self._row_scale
            if np.ndim(scale):
                C *= scale[:, None]
                C *= scale[landmarks][None, :]
            else:
                C *= scale * scale
            W = C[landmarks]
            self._preconditioner = C @ landmark_basis((W + W.T) / 2.0)
        return self._preconditioner

    def mean_entry(self) -> float:
        if self.is_formed:
            return float(self.dense().mean())
        if self._mean is None:
            self._mean = float(np.sum(self.streamed_matmul(np.ones(self.n)))) / self.n**2
        return self._mean

    def _scale_column(self):
        scale = self._row_scale
        return scale[:, None] if np.ndim(scale) else scale


def _cache_budget(device) -> int:
    """Bytes the kept tiles may take on ``device`` (see ``TILE_CACHE_SHARE``)."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(TILE_CACHE_SHARE * free)
    available = available_memory()
    return int(TILE_CACHE_SHARE * available) if available is not None else 0
