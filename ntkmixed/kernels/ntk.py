"""The Neural Tangent Kernel of a bias-free ReLU MLP: empirical (finite width, seeded
initialisation, computed with torch) or analytic (infinite width, arc-cosine recursion).

torch is imported only when an empirical kernel is evaluated, so that building kernel
descriptions (and ``import ntkmixed``) stays cheap.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .._runtime import available_memory, format_bytes, progress_bar, stderr_is_terminal
from .._validation import MAX_SEED, check_flag, check_option, check_positive_int, check_seed
from ..exceptions import NtkmixedError
from ._checks import gram_inputs
from .analytic import arccos_kernels, check_depth, deep_kernel_warning
from .base import Kernel

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
#: a build expected to take longer than this (seconds) shows a progress bar when allowed
PROGRESS_AFTER_SECONDS = 2.0


class NTK(Kernel):
    """Neural Tangent Kernel of the bias-free ReLU MLP p → width → … → width → 1 with
    ``depth`` hidden layers in the NTK parameterisation (DESIGN §3), weights N(0, 1)::

        h_1 = W_1 x/√p,   a_l = √2·relu(h_l),   h_{l+1} = W_{l+1} a_l/√width,   f = v·a_L/√width

    **Empirical** (``width`` an integer): the kernel of the network at initialisation,

        Θ(x, x') = ⟨∂f(x)/∂w, ∂f(x')/∂w⟩
                 = Σ_{l=1}^{L+1} ⟨A_{l-1}(x), A_{l-1}(x')⟩ · ⟨D_l(x), D_l(x')⟩,

    with A_l the input of layer l+1 including its 1/√fan_in factor and D_l = ∂f/∂h_l
    (D_{L+1} = 1). It is computed from one batched forward and backward pass in row
    blocks — never per-sample Jacobians — so it equals ``J Jᵀ`` for the Jacobian ``J`` of
    :meth:`network` up to rounding. The weights of initialisation i are drawn from a CPU
    ``torch.Generator`` seeded with ``seed + i`` (W_1, …, W_L, v in that order; float32
    draws stored as float64), so they
    depend only on (seed, p, width, depth); ``n_init > 1`` averages initialisations
    ``seed, seed + 1, …, seed + n_init − 1``. Θ differs from the infinite-width kernel by
    O(1/√width).

    **Analytic** (``width=None`` or ``"inf"``): the infinite-width limit Θᴸ of the
    arc-cosine recursion (see :mod:`ntkmixed.kernels.analytic`); deterministic, so
    ``seed`` is ignored. Θᴸ(x, x) = (L + 1)‖x‖²/p.

    ``dtype`` ("float64" or "float32", faster on GPUs), ``device`` ("auto" = CUDA when
    available, "cpu", "cuda", "cuda:N"), ``block_size`` (rows per block; default chosen to
    bound memory) and ``progress`` (tqdm bar over row blocks for builds expected to take
    more than ~2 s: ``None`` = only when stderr is a terminal, ``True``/``False`` = always
    on/off) say how the empirical kernel is computed, not what it is: they are not part
    of :meth:`params`, equality or ``repr`` (a saved kernel is rebuilt with the defaults),
    except ``dtype``, which changes the values.

    ``gram`` returns float64 NumPy arrays whatever the compute dtype. ``seed`` is an
    integer in [0, 2**63 − 1] (what a torch generator holds), with ``seed + n_init − 1``
    in that range too. Before an empirical kernel allocates anything, its peak memory
    (weights, result, features, buffers) is estimated and compared with the memory
    available: too large an estimate is an error that says how much is needed.

    Parameters
    ----------
    depth : int, default 2
        Number of hidden layers L (≥ 1).
    width : int, "inf" or None, default 2000
        Hidden-layer width of the empirical kernel; ``None`` or ``"inf"`` for the
        analytic infinite-width kernel.
    seed : int, default 0
        Seed of the first initialisation (≥ 0); ignored by the analytic kernel.
    n_init : int, default 1
        Number of independent initialisations averaged (1 for the analytic kernel).
    normalize : {"mean-diag", "unit-diag", "none"}, default "mean-diag"
        Normalisation applied by the model (mean training diagonal 1, cosine, or none).
    dtype : {"float64", "float32"}, default "float64"
        Compute precision of the empirical kernel.
    device : str, default "auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    block_size : int, optional
        Rows per block (default: chosen to bound memory).
    progress : bool, optional
        Progress bar for long builds (default: only when stderr is a terminal).
    name : str, optional
        Name of the variance component in results (default: ``"NTK"``).

    Examples
    --------
    >>> import ntkmixed as nm
    >>> nm.NTK(depth=3, width=4096, seed=1)
    NTK(depth=3, width=4096, seed=1)
    >>> nm.NTK(depth=3, width=None)
    NTK(depth=3, width='inf')
    """

    def __init__(
        self,
        depth: int = 2,
        width: int | str | None = 2000,
        seed: int = 0,
        n_init: int = 1,
        normalize: str | None = "mean-diag",
        dtype: str = "float64",
        device: str = "auto",
        block_size: int | None = None,
        progress: bool | None = None,
        name: str | None = None,
    ):
        super().__init__(normalize=normalize, name=name)
        self.depth = check_depth(depth, "NTK")
        self.width = _check_width(width)
        self.seed = check_seed(seed, "seed", "NTK")
        self.n_init = check_positive_int(n_init, "n_init", "NTK")
        if self.seed + self.n_init - 1 > MAX_SEED:
            raise NtkmixedError(
                f"The 'seed' and 'n_init' parameters of NTK seed initialisations seed, …, seed + n_init - 1, "
                f"which must stay below 2**63. Got seed={seed!r}, n_init={n_init!r}."
            )
        if self.width is None and self.n_init != 1:
            raise NtkmixedError(
                "The 'n_init' parameter of NTK must be 1 when width is infinite: the "
                f"infinite-width kernel is deterministic. Got {n_init!r} instead."
            )
        self.dtype = check_option(dtype, "dtype", ("float64", "float32"), "NTK")
        if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
            raise NtkmixedError(
                "The 'device' parameter of NTK must be 'auto', 'cpu', 'cuda' or 'cuda:N'. "
                f"Got {device!r} instead."
            )
        self.device = device
        self.block_size = None if block_size is None else check_positive_int(block_size, "block_size", "NTK")
        self.progress = check_flag(progress, "progress", "NTK", allow_none=True)

    @property
    def analytic(self) -> bool:
        """Whether this is the infinite-width kernel."""
        return self.width is None

    def params(self) -> dict[str, Any]:
        if self.analytic:
            return {"depth": self.depth, "width": "inf"}
        return {"depth": self.depth, "width": self.width, "seed": self.seed, "n_init": self.n_init, "dtype": self.dtype}

    def __repr__(self) -> str:
        shown = self.params()
        if not self.analytic:
            defaults = {"n_init": 1, "dtype": "float64"}
            shown = {k: v for k, v in shown.items() if defaults.get(k, object()) != v}
        if self.normalize != self.default_normalize:
            shown["normalize"] = self.normalize
        if self.name is not None:
            shown["name"] = self.name
        return "NTK(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    __hash__ = Kernel.__hash__

    # --- kernel values ----------------------------------------------------------------
    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        """Un-normalised Θ(Z1[i], Z2[j]) (Z2 = Z1 when None), float64.

        Parameters
        ----------
        Z1 : numpy.ndarray
            Standardised genotypes, n₁ × p.
        Z2 : numpy.ndarray, optional
            Second set of rows, n₂ × p (default ``Z1``).

        Returns
        -------
        numpy.ndarray
            n₁ × n₂ float64 kernel matrix.
        """
        Z1, Z2 = gram_inputs(Z1, Z2, "NTK")
        if self.analytic:
            return arccos_kernels(Z1, Z2, self.depth)[1]
        from . import _ntk_torch as engine

        n1, p = Z1.shape
        n2 = n1 if Z2 is None else Z2.shape[0]
        plan = engine.make_plan(n1, n2, p, self.width, self.depth, self.dtype, self.device, self.block_size)
        self._check_memory(engine.memory_needed(n1, n2, p, self.width, self.depth, plan), plan)
        flops = self.n_init * engine.estimated_flops(n1, n2, p, self.width, self.depth, Z2 is None)
        bar = self._progress_bar(
            engine.block_count(n1, n2, plan, Z2 is None) * self.n_init, flops, plan.device.type
        )
        try:
            return engine.gram(Z1, Z2, self._weights_of(p), self.n_init, plan, None if bar is None else bar.update)
        finally:
            if bar is not None:
                bar.close()

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        """Θ(Z[i], Z[i]) without the full matrix.

        Parameters
        ----------
        Z : numpy.ndarray
            Standardised genotypes, n × p.

        Returns
        -------
        numpy.ndarray
            The n diagonal entries.
        """
        Z, _ = gram_inputs(Z, None, "NTK")
        if self.analytic:
            return (self.depth + 1) * np.einsum("ij,ij->i", Z, Z) / Z.shape[1]
        from . import _ntk_torch as engine

        n, p = Z.shape
        plan = engine.make_plan(n, n, p, self.width, self.depth, self.dtype, self.device, self.block_size)
        self._check_memory(engine.memory_needed(n, n, p, self.width, self.depth, plan, diagonal_only=True), plan)
        return engine.gram_diag(Z, self._weights_of(p), self.n_init, plan)

    def network(self, p: int, init: int = 0):
        """The seeded float64 ``torch.nn.Module`` (initialisation ``init``) for ``p``
        inputs whose parameter Jacobian defines this kernel: ``Θ = J Jᵀ``.

        Parameters
        ----------
        p : int
            Number of inputs (SNPs).
        init : int, default 0
            Which initialisation (its weights are drawn with seed ``seed + init``).

        Returns
        -------
        torch.nn.Module
            The network at initialisation.
        """
        if self.analytic:
            raise NtkmixedError("NTK(width='inf') is the infinite-width limit; it has no finite network.")
        p = check_positive_int(p, "p", "NTK.network")
        init = check_positive_int(init, "init", "NTK.network", minimum=0)
        from . import _ntk_torch as engine

        plan = engine.make_plan(1, 1, p, self.width, self.depth, "float64", "cpu", None)
        self._check_memory(engine.memory_needed(1, 1, p, self.width, self.depth, plan, diagonal_only=True), plan)
        if init >= self.n_init:
            raise NtkmixedError(
                f"The 'init' argument of NTK.network must be below n_init={self.n_init}. Got {init}."
            )
        from . import _ntk_torch as engine

        return engine.ReLUNetwork(engine.init_weights(self.seed + init, p, self.width, self.depth))

    def identifiability_warning(self) -> str | None:
        return deep_kernel_warning(self, self.depth)

    def check_memory(self, n: int, p: int) -> None:
        """An error saying how much memory is needed when the n×n kernel of n people and
        p SNPs would not fit; nothing is allocated (the infinite-width kernel passes).

        Parameters
        ----------
        n : int
            People the kernel would be built on.
        p : int
            SNPs (input width of the network).

        Raises
        ------
        NtkmixedError
            When the estimated peak memory exceeds the memory available.
        """
        if self.analytic:
            return
        from . import _ntk_torch as engine

        plan = engine.make_plan(n, n, p, self.width, self.depth, self.dtype, self.device, self.block_size)
        self._check_memory(engine.memory_needed(n, n, p, self.width, self.depth, plan), plan)

    # --- helpers ----------------------------------------------------------------------
    def _check_memory(self, needed: dict[str, float], plan) -> None:
        """An error, before anything is allocated, when the peak memory of the build
        exceeds what is available (CPU memory; on CUDA also the device's free memory)."""
        total = sum(needed.values())
        available = available_memory()
        if plan.device.type == "cuda":
            import torch

            free, _ = torch.cuda.mem_get_info(plan.device)
            on_device = needed["weights"] / 2 + needed["features"] + needed["buffers"]
            if on_device > free:
                self._too_large(on_device, free, "free on the GPU")
        if available is not None and total > available:
            self._too_large(total, available, "available on this machine")

    def _too_large(self, needed: float, available: float, where: str) -> None:
        hidden = "" if self.depth == 1 else f", {self.depth - 1} hidden layer(s) of {self.width} × {self.width}"
        raise NtkmixedError(
            f"The 'width' parameter of NTK is too large for memory: {self!r} needs about "
            f"{format_bytes(needed)} (weights{hidden}, float64), and {format_bytes(available)} is {where}. "
            "Use a smaller width, or width=None for the infinite-width kernel, which needs no weights."
        )

    def _weights_of(self, p: int):
        from . import _ntk_torch as engine

        return lambda init: engine.init_weights(self.seed + init, p, self.width, self.depth)

    def _progress_bar(self, total: int, flops: float, device_type: str):
        if self.progress is False:
            return None
        if self.progress is None:
            if not stderr_is_terminal():
                return None
            import torch

            # rough sustained rates; only used to decide whether a bar is worth showing
            rate = 5e12 if device_type == "cuda" else 1.5e10 * max(1, torch.get_num_threads())
            if flops / rate < PROGRESS_AFTER_SECONDS:
                return None
        return progress_bar(total, repr(self), True, unit="block", leave=False)


def _check_width(width: Any) -> int | None:
    if width is None or width == "inf" or (isinstance(width, float) and math.isinf(width) and width > 0):
        return None
    if isinstance(width, str):
        raise NtkmixedError(f"The 'width' parameter of NTK must be a positive integer, None or 'inf'. Got {width!r} instead.")
    return check_positive_int(width, "width", "NTK")
