"""The Nyström approximation of a genotype kernel, as a kernel of its own.

    K ≈ K̃ = C W⁺ Cᵀ = F Fᵀ,   C = K(X, L),   W = K(L, L)

on m *landmark* people L of the training set, computed on the normalised kernel. The
training kernel is handed to engines as the factor F (n × r, r ≤ m): the low-rank
engine fits it in O(n m²) without an n×n matrix. With ``diagonal="exact"`` the
diagonal is put back, K̃ + diag(K − F Fᵀ) (a diagonal-plus-low-rank kernel: Woodbury),
so that every person keeps exactly their own kernel variance; ``"none"`` drops it.

How far K̃ is from K is measured, not assumed: the relative trace error
1 − ‖F‖²_F / tr K (exact, since the diagonal of K is known) is recorded with the
landmarks in the trained kernel (its ``training`` facts), in ``res.engine_info``, in
the summary and in saved models. Cross-kernels for new people use the same landmarks
and the training normalisation: K̃(new, train) = C(new, L) W⁺ C(train, L)ᵀ (the
diagonal correction concerns a person with themself only).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from .._runtime import plain_scalar
from .._validation import check_option, check_positive_float, check_positive_int
from ..data.samples import Samples
from ..estimation.diagonal_low_rank import DiagonalPlusLowRankOperator
from ..estimation.operators import FactorOperator, KernelOperator
from ..exceptions import ConvergenceWarning, NtkmixedError, warn
from ._nystrom_factor import exact_diagonal_correction, landmark_basis, seeded_order, trace_error
from .base import Kernel
from .classical import Gaussian
from .normalize import Normalization

DIAGONAL_RULES = ("exact", "none")
#: the first landmark count tried by ``landmarks="auto"`` (then doubled)
AUTO_START = 256


class Nystrom(Kernel):
    """Nyström approximation K̃ = C W⁺ Cᵀ of ``kernel`` on landmark people.

    ``landmarks``: an int m (the first m of a permutation of the training people seeded
    by ``seed``, so smaller sets are nested in larger ones), explicit sample IDs, or
    ``"auto"``: m = 256, 512, … (at most ``max_landmarks``) until the relative trace
    error 1 − ‖F‖²_F / tr K is at most ``trace_tol``. ``diagonal="exact"`` adds
    diag(K − K̃) so the kernel's diagonal is exact; ``"none"`` keeps K̃ alone.

    A Gaussian kernel with the median-heuristic bandwidth gets its bandwidth from the
    training people (:meth:`Gaussian.fixed_on`, subsampled with ``seed`` beyond 20 000
    people), fixed in the trained kernel. The kernel's normalisation is the wrapped kernel's.

    Parameters
    ----------
    kernel : Kernel or dict
        The kernel to approximate (or its :meth:`~Kernel.config`).
    landmarks : int, sequence of IDs or "auto", default 2000
        Number of landmark people, their sample IDs, or ``"auto"`` (see above).
    seed : int, default 0
        Seed of the landmark order (and of the bandwidth subsample).
    diagonal : {"exact", "none"}, default "exact"
        Add diag(K − K̃) so the diagonal is exact, or not.
    trace_tol : float, default 0.05
        Relative trace error that ``landmarks="auto"`` stops at, in (0, 1).
    max_landmarks : int, default 4096
        Largest landmark count ``"auto"`` tries.
    normalize : str, optional
        Must be the wrapped kernel's normalisation (set it there).
    name : str, optional
        Name of the variance component (default ``"Nystrom[<kernel>]"``).
    training : dict, optional
        What training fixed (landmark IDs, rank, trace error); set by the model and by
        ``load``, not by users.
    """

    def __init__(
        self,
        kernel: Kernel | dict,
        landmarks: int | str | Any = 2000,
        seed: int = 0,
        diagonal: str = "exact",
        trace_tol: float = 0.05,
        max_landmarks: int = 4096,
        normalize: str | None = None,
        name: str | None = None,
        training: dict | None = None,
    ):
        inner = Kernel.from_config(kernel) if isinstance(kernel, dict) else kernel
        _check_wrapped(inner, "Nystrom")
        if normalize is not None and normalize != inner.normalize:
            raise NtkmixedError(
                f"The 'normalize' parameter of Nystrom is the wrapped kernel's ({inner.normalize!r}); "
                f"set it on the wrapped kernel. Got {normalize!r}."
            )
        super().__init__(normalize=inner.normalize, name=name)
        self.kernel = inner
        self.landmarks = _check_landmarks(landmarks)
        self.seed = check_positive_int(seed, "seed", "Nystrom", minimum=0)
        self.diagonal = check_option(diagonal, "diagonal", DIAGONAL_RULES, "Nystrom")
        self.trace_tol = check_positive_float(trace_tol, "trace_tol", "Nystrom")
        if not self.trace_tol < 1:
            raise NtkmixedError(f"The 'trace_tol' parameter of Nystrom must be in (0, 1). Got {trace_tol!r}.")
        self.max_landmarks = check_positive_int(max_landmarks, "max_landmarks", "Nystrom")
        self.training = dict(training or {})
        self._cache: dict[str, Any] = {}

    # --- identity ---------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        params = {"kernel": self.kernel.config(), "landmarks": self.landmarks, "seed": self.seed,
                  "diagonal": self.diagonal, "trace_tol": self.trace_tol, "max_landmarks": self.max_landmarks}
        if self.training:
            params["training"] = self.training
        return params

    def config(self) -> dict[str, Any]:
        config = super().config()
        if isinstance(self.landmarks, tuple):
            config["landmarks"] = [plain_scalar(v) for v in self.landmarks]
        return config

    def __repr__(self) -> str:
        if isinstance(self.landmarks, tuple):
            shown = f"<{len(self.landmarks)} IDs>"
        else:
            shown = repr(self.landmarks)
        parts = [repr(self.kernel), f"landmarks={shown}", f"seed={self.seed}", f"diagonal={self.diagonal!r}"]
        if self.landmarks == "auto":
            parts.append(f"trace_tol={self.trace_tol:g}")
        if "trace_error" in self.training:
            parts.append(f"rank={self.training['rank']}, trace error={self.training['trace_error']:.4f}")
        if self.name is not None:
            parts.append(f"name={self.name!r}")
        return "Nystrom(" + ", ".join(parts) + ")"

    __hash__ = Kernel.__hash__

    @property
    def progress(self) -> bool | None:
        """The wrapped kernel's progress setting (the model sets it for the whole build)."""
        return getattr(self.kernel, "progress", None)

    @progress.setter
    def progress(self, value: bool | None) -> None:
        if hasattr(self.kernel, "progress"):
            self.kernel = copy.copy(self.kernel)
            self.kernel.progress = value

    @property
    def component_name(self) -> str:
        """Name of the variance component this kernel defines in a model."""
        return self.name or f"Nystrom[{self.kernel.component_name}]"

    # --- values -------------------------------------------------------------------------
    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        raise NtkmixedError(
            "A Nystrom kernel is defined by landmarks among training people; it has no Gram matrix "
            "of arbitrary genotype rows. Use it in ntkmixed.fit or ntkmixed.krr."
        )

    def diag_of(self, samples: Samples) -> np.ndarray:
        return self.kernel.diag_of(samples)

    def trained_on(self, train: Samples, normalization: Normalization,
                   raw_diagonal: np.ndarray) -> tuple["Nystrom", KernelOperator]:
        Z = self._genotypes(train)
        inner = _with_training_reference(self.kernel, Z, self.seed)
        diagonal = normalization.apply_diagonal(raw_diagonal)
        scale = normalization.row_scale()
        if isinstance(self.landmarks, tuple):
            positions, history = self._positions_of(train), []
            W = _normalized_landmarks(inner, Z, positions, scale)
            C = _normalized_block(inner, Z, positions, scale)
            C[positions] = W
            basis = landmark_basis(W)
        else:
            positions, C, basis, history = self._factor_blocks(inner, Z, scale, diagonal)
        F = C @ basis
        del C
        error = trace_error(F, diagonal)
        facts = {
            "requested": self._requested(), "landmark_count": int(positions.size), "rank": int(F.shape[1]),
            "trace_error": error,
        }
        if history:
            facts["history"] = history
        resolved = Nystrom(inner, landmarks=tuple(plain_scalar(v) for v in train.ids[positions]), seed=self.seed,
                           diagonal=self.diagonal, trace_tol=self.trace_tol, max_landmarks=self.max_landmarks,
                           name=self.name, training=facts)
        resolved._cache = {"ids": train.ids, "positions": positions, "basis": basis, "factor": F}
        approximation = {"kind": "nystrom", "kernel": repr(inner), "diagonal": self.diagonal, "seed": self.seed,
                         **facts}
        if self.diagonal == "exact":
            operator = DiagonalPlusLowRankOperator(F, exact_diagonal_correction(F, diagonal), approximation)
        else:
            operator = FactorOperator(F)
            operator.approximation = approximation
        return resolved, operator

    def normalized_cross(self, new: Samples, train: Samples, normalization: Normalization) -> np.ndarray:
        return self._landmark_side(new, train, normalization) @ self._training_factor(train, normalization).T

    def normalized_cross_times(self, new: Samples, train: Samples, normalization: Normalization,
                               vectors: np.ndarray) -> np.ndarray:
        """K̃(new, train) V = C(new, L) B (Fᵀ V), B Bᵀ = W⁺: no new × train matrix.

        Parameters
        ----------
        new, train : Samples
            The new people and the training people.
        normalization : Normalization
            The training normalisation.
        vectors : numpy.ndarray
            n_train × m.

        Returns
        -------
        numpy.ndarray
            n_new × m.
        """
        projected = self._training_factor(train, normalization).T @ vectors
        return self._landmark_side(new, train, normalization) @ projected

    # --- helpers ----------------------------------------------------------------------
    def _requested(self) -> str:
        if self.landmarks == "auto":
            return f"auto (trace_tol={self.trace_tol:g}, at most {self.max_landmarks})"
        if isinstance(self.landmarks, tuple):
            return "given IDs"
        return f"{self.landmarks} (seeded uniform)"

    def _factor_blocks(self, inner: Kernel, Z: np.ndarray, scale, diagonal: np.ndarray):
        """``(positions, C, B, history)``: landmark rows, C = K(X, L) (normalised), and
        B with W⁺ = B Bᵀ; ``history`` lists (m, trace error) of the ``"auto"`` rounds."""
        n = Z.shape[0]
        order = seeded_order(n, self.seed)
        if self.landmarks != "auto":
            positions = order[: min(self.landmarks, n)]
            W = _normalized_landmarks(inner, Z, positions, scale)
            C = _normalized_block(inner, Z, positions, scale)
            C[positions] = W
            return positions, C, landmark_basis(W), []
        history, count, C = [], 0, np.zeros((n, 0))
        target = min(AUTO_START, n, self.max_landmarks)
        while True:
            C = np.hstack([C, _normalized_block(inner, Z, order[count:target], scale)])
            count = target
            positions = order[:count]
            W = _normalized_landmarks(inner, Z, positions, scale)
            C[positions] = W
            basis = landmark_basis(W)
            error = trace_error(C @ basis, diagonal)
            history.append([int(count), error])
            if error <= self.trace_tol or count >= min(n, self.max_landmarks):
                break
            target = min(2 * count, n, self.max_landmarks)
        if error > self.trace_tol:
            warn(f"Nystrom(landmarks='auto') stopped at {count} landmarks (max_landmarks={self.max_landmarks}) with "
                 f"trace error {error:.4f} > trace_tol {self.trace_tol:g}.", ConvergenceWarning)
        return positions, C, basis, history

    def _landmark_side(self, new: Samples, train: Samples, normalization: Normalization) -> np.ndarray:
        """s_new C_raw(new, L) s_L B (n_new × r)."""
        positions, basis = self._landmark_state(train, normalization)
        Z_train, Z_new = self._genotypes(train), self._genotypes(new)
        new_diag = self.kernel.diag_of(new) if normalization.rule == "unit-diag" else None
        s_new = normalization.new_row_scale(new_diag)
        block = _normalized_block(self.kernel, Z_new, positions, normalization.row_scale(),
                                  Z_columns=Z_train, row_scale=s_new)
        return block @ basis

    def _landmark_state(self, train: Samples, normalization: Normalization) -> tuple[np.ndarray, np.ndarray]:
        if not self._cache_matches(train):
            positions = self._positions_of(train)
            Z = self._genotypes(train)
            basis = landmark_basis(_normalized_landmarks(self.kernel, Z, positions, normalization.row_scale()))
            self._cache = {"ids": train.ids, "positions": positions, "basis": basis}
        return self._cache["positions"], self._cache["basis"]

    def _training_factor(self, train: Samples, normalization: Normalization) -> np.ndarray:
        """F on the training people: kept from training, or recomputed (a loaded model)."""
        positions, basis = self._landmark_state(train, normalization)
        if "factor" not in self._cache:
            Z = self._genotypes(train)
            scale = normalization.row_scale()
            C = _normalized_block(self.kernel, Z, positions, scale)
            C[positions] = _normalized_landmarks(self.kernel, Z, positions, scale)
            self._cache["factor"] = C @ basis
        return self._cache["factor"]

    def _cache_matches(self, train: Samples) -> bool:
        ids = self._cache.get("ids")
        return ids is not None and (ids is train.ids or ids.equals(train.ids))

    def _positions_of(self, train: Samples) -> np.ndarray:
        if not isinstance(self.landmarks, tuple):
            raise NtkmixedError(f"{self!r} has not been trained on people yet (fit or krr choose its landmarks).")
        positions = train.ids.get_indexer(pd.Index(list(self.landmarks)))
        missing = [lm for lm, p in zip(self.landmarks, positions) if p < 0]
        if missing:
            raise NtkmixedError(
                f"The 'landmarks' of Nystrom must be IDs of training people; {len(missing)} are not, e.g. "
                f"{missing[:5]}."
            )
        return positions


def _normalized_block(kernel: Kernel, Z_rows: np.ndarray, positions: np.ndarray, scale,
                      Z_columns: np.ndarray | None = None, row_scale=None) -> np.ndarray:
    """Normalised K(rows, landmarks): diag(s_rows) K_raw diag(s_L). ``scale`` is the
    training row scale (a number, or one value per training row); landmarks are rows
    ``positions`` of ``Z_columns`` (default: ``Z_rows``, the training rows)."""
    columns = Z_rows if Z_columns is None else Z_columns
    if positions.size == 0:
        return np.zeros((Z_rows.shape[0], 0))
    block = np.asarray(kernel.gram(Z_rows, columns[positions]), dtype=np.float64)
    column_scale = scale[positions] if np.ndim(scale) else scale
    rows = scale if row_scale is None else row_scale
    block *= np.reshape(rows, (-1, 1)) if np.ndim(rows) else rows
    block *= column_scale
    return block


def _normalized_landmarks(kernel: Kernel, Z: np.ndarray, positions: np.ndarray, scale) -> np.ndarray:
    """W = normalised K(L, L) by the kernel's symmetric Gram (which knows that a person's
    pair with themself has cosine exactly 1; a cross-Gram computes it with rounding,
    and the arc-cosine kernels turn a cosine of 1 − ε into an error of √ε), the same
    way at training and at prediction."""
    s = scale[positions] if np.ndim(scale) else scale
    W = np.array(kernel.gram(Z[positions]), dtype=np.float64)
    W *= np.reshape(s, (-1, 1)) if np.ndim(s) else s
    W *= s
    return (W + W.T) / 2.0


def _with_training_reference(kernel: Kernel, Z: np.ndarray, seed: int) -> Kernel:
    """The kernel with any data-dependent constant fixed on the training people (the
    median-heuristic bandwidth of a Gaussian kernel, which otherwise would come from
    whatever rows are passed as the second argument of ``gram``)."""
    return kernel.fixed_on(Z, seed) if isinstance(kernel, Gaussian) else kernel


def _check_wrapped(kernel: Any, where: str) -> None:
    if not isinstance(kernel, Kernel):
        raise NtkmixedError(f"The 'kernel' argument of {where} must be an ntkmixed kernel (NTK(...), NNGP(...), "
                            f"Gaussian(), ...). Got {type(kernel).__name__}.")
    if not kernel.needs_genotypes or isinstance(kernel, Nystrom):
        raise NtkmixedError(f"The 'kernel' argument of {where} must be a genotype kernel (not a precomputed "
                            f"or approximate one). Got {kernel!r}.")


def _check_landmarks(landmarks: Any):
    if isinstance(landmarks, str):
        if landmarks != "auto":
            raise NtkmixedError(f"The 'landmarks' parameter of Nystrom must be an int, 'auto' or a list of sample "
                                f"IDs. Got {landmarks!r}.")
        return "auto"
    if isinstance(landmarks, (int, np.integer)) and not isinstance(landmarks, bool):
        return check_positive_int(landmarks, "landmarks", "Nystrom")
    try:
        ids = tuple(plain_scalar(v) for v in landmarks)
    except TypeError:
        raise NtkmixedError(f"The 'landmarks' parameter of Nystrom must be an int, 'auto' or a list of sample IDs. "
                            f"Got {type(landmarks).__name__}.") from None
    if not ids:
        raise NtkmixedError("The 'landmarks' parameter of Nystrom lists no IDs.")
    if len(set(ids)) != len(ids):
        raise NtkmixedError("The 'landmarks' parameter of Nystrom repeats an ID.")
    return ids
