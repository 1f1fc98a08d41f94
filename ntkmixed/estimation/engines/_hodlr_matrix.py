"""A kernel matrix compressed to HODLR form (hierarchically off-diagonal low-rank).

The index range is halved recursively down to leaves of at most ``leaf_size`` people:

    K = [[K₁₁, U Vᵀ], [V Uᵀ, K₂₂]],   K₁₁, K₂₂ again of this form, leaves dense.

Each off-diagonal block A (n₁ × n₂) is compressed by a randomised range finder
(Halko, Martinsson & Tropp 2011): Y = A Ω, Q = orth(Y), B = QᵀA = Ũ s Ṽᵀ, keeping the
singular values above ``tol`` · s₁ (the block's largest). The sketch starts at 32
columns (+ 10 oversampling) and doubles until its smallest singular value falls below
the tolerance — so the rank follows the data — or ``max_rank`` is reached (then the
block keeps ``max_rank`` and its estimated relative error is recorded). A block of full
numerical rank is kept exactly (rank min(n₁, n₂)).

Blocks come from a *source* ``source(r0, r1, c0, c1) -> array``: views of a dense
matrix, or kernel entries computed on the fly. Large on-the-fly blocks are visited in
column chunks (two passes per sketch size), so no block is held whole.

What the compression costs and achieves is kept in :attr:`HODLRMatrix.info`: ranks per
level, stored numbers, and the relative error on a random probe, ‖(K − K_H)x‖/‖Kx‖,
against the exact product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: columns of the first sketch and of the oversampling
FIRST_SKETCH = 32
OVERSAMPLING = 10
#: a block with at most this many entries is formed whole (cheap matmuls, exact SVD checks)
WHOLE_BLOCK_ENTRIES = 4096 * 4096
#: columns per chunk when a large block is visited in pieces
CHUNK_COLUMNS = 2048


@dataclass
class Node:
    lo: int
    hi: int
    level: int
    left: "Node | None" = None
    right: "Node | None" = None
    dense: np.ndarray | None = None  # leaf block
    U: np.ndarray | None = None  # off-diagonal K[lo:mid, mid:hi] ≈ U Vᵀ
    V: np.ndarray | None = None
    block_error: float = 0.0  # estimated relative error of U Vᵀ when the rank was capped

    @property
    def is_leaf(self) -> bool:
        return self.left is None

    @property
    def mid(self) -> int:
        return self.left.hi

    @property
    def rank(self) -> int:
        return 0 if self.U is None else self.U.shape[1]


@dataclass
class HODLRMatrix:
    root: Node
    n: int
    tol: float
    leaf_size: int
    info: dict = field(default_factory=dict)

    def nodes(self):
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if not node.is_leaf:
                stack += [node.right, node.left]

    def matmul(self, B: np.ndarray) -> np.ndarray:
        """K_H B, O(n (leaf + Σ ranks)) per column."""
        B = np.asarray(B, dtype=np.float64)
        vector = B.ndim == 1
        B2 = B.reshape(self.n, -1)
        out = np.zeros_like(B2)
        for node in self.nodes():
            if node.is_leaf:
                out[node.lo : node.hi] += node.dense @ B2[node.lo : node.hi]
            elif node.rank:
                lo, mid, hi = node.lo, node.mid, node.hi
                out[lo:mid] += node.U @ (node.V.T @ B2[mid:hi])
                out[mid:hi] += node.V @ (node.U.T @ B2[lo:mid])
        return out[:, 0] if vector else out

    def ranks_by_level(self) -> list[list[int]]:
        levels: dict[int, list[int]] = {}
        for node in self.nodes():
            if not node.is_leaf:
                levels.setdefault(node.level, []).append(node.rank)
        return [sorted(levels[level]) for level in sorted(levels)]

    def stored_numbers(self) -> int:
        total = 0
        for node in self.nodes():
            total += node.dense.size if node.is_leaf else (node.rank * (node.hi - node.lo))
        return int(total)


def split(lo: int, hi: int, leaf_size: int, level: int = 0) -> Node:
    node = Node(lo, hi, level)
    if hi - lo > leaf_size:
        mid = (lo + hi) // 2
        node.left = split(lo, mid, leaf_size, level + 1)
        node.right = split(mid, hi, leaf_size, level + 1)
    return node


def compress(source: Callable[[int, int, int, int], np.ndarray], n: int, tol: float, leaf_size: int,
             max_rank: int, seed: int, on_node: Callable[[], None] | None = None) -> HODLRMatrix:
    """HODLR form of the symmetric n×n matrix whose blocks ``source`` returns."""
    rng = np.random.default_rng(seed)
    root = split(0, n, leaf_size)
    matrix = HODLRMatrix(root, n, tol, leaf_size)
    for node in matrix.nodes():
        if node.is_leaf:
            block = np.array(source(node.lo, node.hi, node.lo, node.hi), dtype=np.float64)
            node.dense = (block + block.T) / 2.0
        else:
            node.U, node.V, node.block_error = low_rank(source, node.lo, node.mid, node.mid, node.hi, tol, max_rank, rng)
        if on_node is not None:
            on_node()
    return matrix


def low_rank(source, r0: int, r1: int, c0: int, c1: int, tol: float, max_rank: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """``(U, V, error)`` with A = source(r0, r1, c0, c1) ≈ U Vᵀ to relative ``tol`` (see the
    module docstring); ``error`` is the estimated relative error when the rank was capped."""
    n1, n2 = r1 - r0, c1 - c0
    full = min(n1, n2)
    if n1 * n2 <= WHOLE_BLOCK_ENTRIES:
        A = np.asarray(source(r0, r1, c0, c1), dtype=np.float64)
        times, adjoint_times = (lambda W: A @ W), (lambda Q: A.T @ Q)
    else:
        times, adjoint_times = _chunked(source, r0, r1, c0, c1)
    columns = min(FIRST_SKETCH + OVERSAMPLING, full)
    Y = np.zeros((n1, 0))
    while True:
        Y = np.hstack([Y, times(rng.standard_normal((n2, columns - Y.shape[1])))])
        Q = np.linalg.qr(Y)[0]
        B = adjoint_times(Q).T  # Qᵀ A
        Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
        if s.size == 0 or s[0] == 0:
            return np.zeros((n1, 0)), np.zeros((n2, 0)), 0.0
        keep = int(np.sum(s > tol * s[0]))
        complete = columns >= full
        resolved = keep <= columns - OVERSAMPLING
        if complete or resolved or columns >= max_rank + OVERSAMPLING:
            break
        columns = min(2 * columns, full, max_rank + OVERSAMPLING)
    error = 0.0
    if keep > max_rank:
        error = float(s[max_rank] / s[0])
        keep = max_rank
    elif not (complete or resolved):
        error = float(s[-1] / s[0])
    U = Q @ (Ub[:, :keep] * s[:keep])
    return U, np.ascontiguousarray(Vt[:keep].T), error


def _chunked(source, r0, r1, c0, c1):
    """A Ω and Aᵀ Q for a block visited in column chunks (one pass over its entries each)."""
    edges = list(range(c0, c1, CHUNK_COLUMNS)) + [c1]

    def times(W: np.ndarray) -> np.ndarray:
        out = np.zeros((r1 - r0, W.shape[1]))
        for a, b in zip(edges[:-1], edges[1:]):
            out += source(r0, r1, a, b) @ W[a - c0 : b - c0]
        return out

    def adjoint_times(Q: np.ndarray) -> np.ndarray:
        return np.vstack([source(r0, r1, a, b).T @ Q for a, b in zip(edges[:-1], edges[1:])])

    return times, adjoint_times
