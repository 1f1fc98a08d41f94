"""The torch engine of the empirical NTK: seeded weights, the network they define, and the
Gram matrix from batched forward/backward passes (never per-sample Jacobians).

Network (DESIGN §3), bias-free, NTK parameterisation, weights N(0, 1)::

    h_1 = W_1 x / √p,   a_l = √2·relu(h_l),   h_{l+1} = W_{l+1} a_l / √w,   f = v·a_L / √w

For a dense layer the gradient of f with respect to its weight matrix is the outer product
of the back-propagated gradient at its output and its (scaled) input, so

    Θ(x, x') = Σ_{l=1}^{L+1} ⟨A_{l-1}(x), A_{l-1}(x')⟩ · ⟨D_l(x), D_l(x')⟩

with A_0 = x/√p, A_l = √(2/w)·relu(h_l) (layer inputs with their 1/√fan_in factor),
D_l = ∂f/∂h_l for l ≤ L and D_{L+1} = 1 (the readout). With U_l = √(2/w)·W_l and
u = √(2/w)·v this is one forward pass A_l = relu(A_{l-1} U_lᵀ) and one backward pass
D_L = u ∘ 1[A_L > 0], D_l = (D_{l+1} U_{l+1}) ∘ 1[A_l > 0], in row blocks.

Memory: the features (A, D) of at most ``FEATURE_BUDGET_BYTES`` worth of rows are kept
(a "panel"); other rows stream past it in blocks, their features recomputed once per
panel — so only when the features of all rows exceed the budget (n above about 5300 at
p = 738, width = 2000, depth = 3 in float64). Peak memory is the n1×n2 float64 result,
the panel, the weights and O(block × panel rows) work buffers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: features kept in memory at once (bytes); above this, rows are streamed in panels
FEATURE_BUDGET_BYTES = 512 * 2**20
#: work buffers (three of them) for one block of the result are kept under this size
BUFFER_BUDGET_BYTES = 96 * 2**20

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def init_weights(seed: int, p: int, width: int, depth: int) -> list[torch.Tensor]:
    """The weights of one initialisation, float64 on the CPU, in layer order
    ``[W_1 (w×p), W_2 (w×w), …, W_L (w×w), v (1×w)]``.

    Drawn with ``torch.randn`` from a CPU ``torch.Generator`` seeded with ``seed``, in
    that order, so they depend only on (seed, p, width, depth) — not on device or dtype.
    The draws are float32 standard normals stored as float64 (drawing float32 is about
    three times faster, and 24-bit normal draws are as good a random initialisation);
    every computation with them is float64 unless ``dtype="float32"`` is asked for.
    """
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    shapes = [(width, p)] + [(width, width)] * (depth - 1) + [(1, width)]
    return [torch.randn(shape, generator=generator, dtype=torch.float32).double() for shape in shapes]


class ReLUNetwork(nn.Module):
    """The bias-free ReLU MLP whose parameter Jacobian defines the empirical NTK.

    ``forward(x)`` maps an (n, p) float64 tensor to the (n,) outputs
    ``f = v·a_L/√w``; each layer divides by √fan_in and hidden layers apply √2·relu.
    """

    def __init__(self, weights: list[torch.Tensor]):
        super().__init__()
        self.layers = nn.ModuleList()
        for weight in weights:
            layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(weight)
            self.layers.append(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            h = layer(h) / math.sqrt(layer.in_features)
            if index < last:
                h = math.sqrt(2.0) * torch.relu(h)
        return h.squeeze(-1)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        from ..exceptions import NtkmixedError

        raise NtkmixedError(
            f"The 'device' parameter of NTK is {device!r}, but CUDA is not available "
            "on this machine. Use device='auto' or 'cpu'."
        )
    return resolved


@dataclass
class Plan:
    """How one Gram matrix is computed: where, in what precision, in what blocks.

    ``block`` rows are streamed past a panel at a time (and features are computed that
    many rows at a time); ``gram_block`` rows at a time form the triangle of a
    symmetric panel (smaller, so that little of the upper triangle is computed twice);
    ``panel`` rows keep their features in memory.
    """

    device: torch.device
    dtype: torch.dtype
    block: int
    gram_block: int
    panel: int
    flops: float = field(default=0.0)


def make_plan(
    n_rows: int, n_panel_rows: int, p: int, width: int, depth: int,
    dtype: str, device: str, block_size: int | None,
) -> Plan:
    """Choose the row blocks and the panel size (rows whose features stay in memory)."""
    resolved = resolve_device(device)
    torch_dtype = _DTYPES[dtype]
    itemsize = torch.finfo(torch_dtype).bits // 8
    row_bytes = itemsize * (p + 2 * depth * width)
    panel = max(1, min(n_panel_rows, FEATURE_BUDGET_BYTES // row_bytes))
    if block_size is None:
        cuda = resolved.type == "cuda"
        # three work buffers of block × panel entries stay under BUFFER_BUDGET_BYTES
        buffer_cap = max(64, BUFFER_BUDGET_BYTES // (3 * itemsize * panel))
        block = max(1, min(2048 if cuda else 512, buffer_cap, max(n_rows, 1)))
        gram_block = min(block, 1024 if cuda else 128)
    else:
        block = gram_block = block_size
    return Plan(device=resolved, dtype=torch_dtype, block=block, gram_block=gram_block, panel=panel)


class _Features:
    """A_0 … A_L and D_1 … D_L of a set of rows (each a rows × fan tensor)."""

    def __init__(self, A: list[torch.Tensor], D: list[torch.Tensor]):
        self.A = A
        self.D = D

    def rows(self, start: int, stop: int) -> "_Features":
        return _Features([a[start:stop] for a in self.A], [d[start:stop] for d in self.D])


class _Network:
    """Scaled weights of one initialisation on the compute device."""

    def __init__(self, weights: list[torch.Tensor], plan: Plan):
        width = weights[0].shape[0]
        scale = math.sqrt(2.0 / width)
        self.plan = plan
        self.p = weights[0].shape[1]
        self.width = width
        self.hidden = [(scale * w).to(device=plan.device, dtype=plan.dtype) for w in weights[:-1]]
        self.readout = (scale * weights[-1]).to(device=plan.device, dtype=plan.dtype)

    def empty(self, rows: int) -> _Features:
        plan = self.plan
        fans = [self.p] + [self.width] * len(self.hidden)
        A = [torch.empty((rows, fan), device=plan.device, dtype=plan.dtype) for fan in fans]
        D = [torch.empty((rows, self.width), device=plan.device, dtype=plan.dtype) for _ in self.hidden]
        return _Features(A, D)

    def fill(self, Z: np.ndarray, start: int, stop: int, F: _Features, at: int = 0) -> None:
        """Forward and backward pass for rows start:stop of Z, written into rows
        at:at+(stop-start) of F (row slices of row-major tensors: no copies)."""
        rows = slice(at, at + stop - start)
        A = [a[rows] for a in F.A]
        D = [d[rows] for d in F.D]
        A[0].copy_(torch.as_tensor(Z[start:stop]))
        A[0].mul_(1.0 / math.sqrt(self.p))
        for l, U in enumerate(self.hidden):
            torch.mm(A[l], U.T, out=A[l + 1])
            A[l + 1].relu_()
        torch.mul(A[-1] > 0, self.readout, out=D[-1])
        for l in range(len(self.hidden) - 2, -1, -1):
            torch.mm(D[l + 1], self.hidden[l + 1], out=D[l])
            D[l].mul_(A[l + 1] > 0)
        L = len(self.hidden)
        self.plan.flops += 2.0 * (stop - start) * (self.p * self.width + 2 * (L - 1) * self.width**2)

    def features_of(self, Z: np.ndarray, start: int, stop: int) -> _Features:
        F = self.empty(stop - start)
        self.fill(Z, start, stop, F)
        return F

    def panel(self, Z: np.ndarray, start: int, stop: int) -> _Features:
        """Features of rows start:stop, filled block by block."""
        F = self.empty(stop - start)
        for b0 in range(start, stop, self.plan.block):
            self.fill(Z, b0, min(stop, b0 + self.plan.block), F, at=b0 - start)
        return F


class _Buffers:
    """Three reusable flat buffers so block products do not allocate."""

    def __init__(self, size: int, plan: Plan):
        self.flat = [torch.empty(size, device=plan.device, dtype=plan.dtype) for _ in range(3)]

    def views(self, rows: int, cols: int) -> list[torch.Tensor]:
        return [buf[: rows * cols].view(rows, cols) for buf in self.flat]


def _block_gram(R: _Features, C: _Features, buffers: _Buffers, plan: Plan) -> torch.Tensor:
    """Σ_l (A_{l-1}^R A_{l-1}^Cᵀ) ∘ (D_l^R D_l^Cᵀ) + A_L^R A_L^Cᵀ for one block."""
    rows, cols = R.A[0].shape[0], C.A[0].shape[0]
    acc, t1, t2 = buffers.views(rows, cols)
    torch.mm(R.A[-1], C.A[-1].T, out=acc)
    macs = R.A[-1].shape[1]
    for l in range(len(R.D)):
        torch.mm(R.A[l], C.A[l].T, out=t1)
        torch.mm(R.D[l], C.D[l].T, out=t2)
        acc.addcmul_(t1, t2)
        macs += R.A[l].shape[1] + R.D[l].shape[1]
    plan.flops += 2.0 * rows * cols * macs
    return acc


def _store(target: torch.Tensor, block: torch.Tensor, accumulate: bool) -> None:
    if accumulate:
        target.add_(block.to(device=target.device, dtype=target.dtype))
    else:
        target.copy_(block)


def gram(
    Z1: np.ndarray,
    Z2: np.ndarray | None,
    weights_of: Callable[[int], list[torch.Tensor]],
    n_init: int,
    plan: Plan,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Empirical NTK Gram matrix averaged over ``n_init`` initialisations.

    ``weights_of(i)`` returns the CPU float64 weights of initialisation i; ``progress``
    is called with 1 after each row block.

    Symmetric case: for each panel (rows i0:i1 of Z1), the panel's own triangle is
    formed from its cached features, ``gram_block`` rows at a time; later rows stream
    past it and fill both K[rows, panel] and its transpose. Cross case: every row block
    of Z1 streams past each panel of Z2.
    """
    symmetric = Z2 is None
    cols_Z = Z1 if symmetric else Z2
    n1, n2 = Z1.shape[0], cols_Z.shape[0]
    out = torch.zeros((n1, n2), dtype=torch.float64)
    buffers = _Buffers(max(plan.block, plan.gram_block) * min(plan.panel, n2), plan)
    tick = progress if progress is not None else (lambda _: None)
    for init in range(n_init):
        net = _Network(weights_of(init), plan)
        accumulate = init > 0
        for i0 in range(0, n2, plan.panel):
            i1 = min(n2, i0 + plan.panel)
            panel = net.panel(cols_Z, i0, i1)
            if symmetric:
                for r0 in range(i0, i1, plan.gram_block):
                    r1 = min(i1, r0 + plan.gram_block)
                    block = _block_gram(panel.rows(r0 - i0, r1 - i0), panel.rows(0, r1 - i0), buffers, plan)
                    diag = block[:, r0 - i0 :]
                    diag.copy_((diag + diag.T) / 2)
                    _store(out[r0:r1, i0:r1], block, accumulate)
                    if r0 > i0:
                        _store(out[i0:r0, r0:r1], block[:, : r0 - i0].T, accumulate)
                    tick(1)
            for r0 in range(i1 if symmetric else 0, n1, plan.block):
                r1 = min(n1, r0 + plan.block)
                block = _block_gram(net.features_of(Z1, r0, r1), panel, buffers, plan)
                _store(out[r0:r1, i0:i1], block, accumulate)
                if symmetric:
                    _store(out[i0:i1, r0:r1], block.T, accumulate)
                tick(1)
            del panel
    if n_init > 1:
        out /= n_init
    return out.numpy()


def gram_diag(
    Z: np.ndarray, weights_of: Callable[[int], list[torch.Tensor]], n_init: int, plan: Plan
) -> np.ndarray:
    """Θ(x, x) = Σ_l ‖A_{l-1}(x)‖²·‖D_l(x)‖² + ‖A_L(x)‖², averaged over initialisations."""
    diag = torch.zeros(Z.shape[0], dtype=torch.float64)
    for init in range(n_init):
        net = _Network(weights_of(init), plan)
        for r0 in range(0, Z.shape[0], plan.block):
            r1 = min(Z.shape[0], r0 + plan.block)
            F = net.features_of(Z, r0, r1)
            value = F.A[-1].square().sum(1)
            for l in range(len(F.D)):
                value += F.A[l].square().sum(1) * F.D[l].square().sum(1)
            diag[r0:r1] += value.to(device="cpu", dtype=torch.float64)
    return (diag / n_init).numpy()


def memory_needed(n1: int, n2: int, p: int, width: int, depth: int, plan: Plan, diagonal_only: bool = False) -> dict[str, float]:
    """Bytes a :func:`gram` (or :func:`gram_diag`) call allocates at its peak, by part:
    the weights (drawn float64 on the CPU, plus their scaled copy on the device), the
    result (float64, CPU), the features of a panel and a block, and the work buffers."""
    itemsize = torch.finfo(plan.dtype).bits // 8
    parameters = float(width) * p + (depth - 1) * float(width) ** 2 + width
    row_bytes = itemsize * (p + 2.0 * depth * width)
    panel = 0 if diagonal_only else min(plan.panel, n2)
    return {
        "weights": parameters * (8 + itemsize),
        "result": 8.0 * (n1 if diagonal_only else n1 * n2),
        "features": row_bytes * (panel + plan.block),
        "buffers": 0.0 if diagonal_only else 3.0 * itemsize * max(plan.block, plan.gram_block) * panel,
    }


def block_count(n1: int, n2: int, plan: Plan, symmetric: bool) -> int:
    """Row blocks processed by :func:`gram` for one initialisation (progress-bar total)."""
    total = 0
    for i0 in range(0, n2, plan.panel):
        i1 = min(n2, i0 + plan.panel)
        if symmetric:
            total += len(range(i0, i1, plan.gram_block))
        total += len(range(i1 if symmetric else 0, n1, plan.block))
    return total


def estimated_flops(n1: int, n2: int, p: int, width: int, depth: int, symmetric: bool) -> float:
    """Matmul flops of one initialisation (used to decide whether to show progress)."""
    rows = n1 if symmetric else n1 + n2
    features = 2.0 * rows * (p * width + 2 * (depth - 1) * width**2)
    entries = n1 * (n1 + 1) / 2 if symmetric else n1 * n2
    return features + 2.0 * entries * (p + 2 * depth * width)
