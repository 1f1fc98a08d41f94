"""A kernel matrix supplied by the user."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import pandas as pd

from .._validation import Interval, check, examples
from ..data.alignment import check_unique_ids, match_ids
from ..data.samples import Samples
from ..estimation.operators import FactorOperator
from ..exceptions import NotPositiveSemidefiniteError, NtkmixedError
from .base import Kernel
from .normalize import Normalization


class Precomputed(Kernel):
    """A user-supplied kernel matrix ``K`` over the people named by ``ids``.

    ``K`` may cover more people than are fitted (for example training plus new people):
    the model takes the rows and columns of the people it fits, and ``predict`` takes
    ``K[new, train]``. With ``ids=None`` the rows of ``K`` follow the rows of ``data``
    (whose index must then be unique). A DataFrame ``K`` is labelled by its index; its
    columns must hold the same IDs and are put in the index's order.

    The matrix is validated once: square, symmetric, finite and positive semi-definite
    up to ``tol`` relative to its largest eigenvalue. Default normalisation: ``"none"``.

    Parameters
    ----------
    K : array_like or pandas.DataFrame
        The square kernel matrix; a DataFrame's index gives the IDs.
    ids : sequence, optional
        Sample ID of each row of ``K`` (default: the DataFrame index, else the rows of
        ``data`` in order).
    name : str, optional
        Name of the variance component in results (default: ``"Precomputed"``).
    normalize : {"none", "mean-diag", "unit-diag"}, default "none"
        Normalisation applied by the model.
    tol : float, default 1e-8
        Tolerance of the positive semi-definiteness check, relative to the largest
        eigenvalue.
    """

    default_normalize = "none"
    needs_genotypes = False

    def __init__(
        self,
        K: Any,
        ids: Any = None,
        name: str | None = None,
        normalize: str | None = None,
        tol: float = 1e-8,
    ):
        super().__init__(normalize=normalize, name=name)
        tol = check(tol, "tol", "Precomputed", Interval("real", 0, None))
        if isinstance(K, pd.DataFrame):
            K = _columns_in_index_order(K)
        matrix = _validated_matrix(K, tol)
        self.K = matrix
        self.tol = tol
        if ids is None and isinstance(K, pd.DataFrame):
            ids = K.index
        self.ids = _validated_ids(ids, matrix.shape[0], "Precomputed", "K")

    @staticmethod
    def from_factor(F: Any, ids: Any = None, name: str | None = None, normalize: str | None = None) -> "PrecomputedFactor":
        """A user kernel given by a factor, K = F Fᵀ, without forming K.

        Fitted by the exact low-rank engine when F has few columns (see ``engine`` of
        :func:`ntkmixed.fit`).

        Parameters
        ----------
        F : array_like or pandas.DataFrame
            One row per person, any number of columns; a DataFrame's index gives the IDs.
        ids : sequence, optional
            Sample ID of each row of ``F`` (default: the DataFrame index, else the rows
            of ``data`` in order).
        name : str, optional
            Name of the variance component in results (default: ``"Precomputed"``).
        normalize : {"none", "mean-diag", "unit-diag"}, default "none"
            Normalisation applied by the model.

        Returns
        -------
        PrecomputedFactor
            The kernel, usable wherever a ``Precomputed`` kernel is.
        """
        return PrecomputedFactor(F, ids=ids, name=name, normalize=normalize)

    def params(self) -> dict[str, Any]:
        return {"n": self.K.shape[0]}

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        return f"Precomputed(<{self.K.shape[0]}×{self.K.shape[1]} matrix>{name})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Precomputed)
            and other.config() == self.config()
            and np.array_equal(other.K, self.K)
            and _same_ids(self.ids, other.ids)
        )

    __hash__ = Kernel.__hash__

    @property
    def component_name(self) -> str:
        """Name of the variance component this kernel defines in a model."""
        return self.name or "Precomputed"

    def bind_ids(self, ids: pd.Index) -> "Precomputed":
        """A copy whose rows are labelled by ``ids`` (the model does this when ``ids`` is None).

        Parameters
        ----------
        ids : pandas.Index
            One sample ID per row of ``K``.

        Returns
        -------
        Precomputed
            The same matrix, aligned by these IDs from now on.
        """
        if len(ids) != self.K.shape[0]:
            raise NtkmixedError(
                f"Precomputed kernel without 'ids' must have one row per row of 'data' "
                f"({len(ids)}). Got a {self.K.shape[0]}×{self.K.shape[1]} matrix; pass "
                "ids=... to align it by sample ID."
            )
        check_unique_ids(pd.Index(ids), "data", f"a Precomputed kernel without 'ids' ({self.component_name!r})")
        bound = object.__new__(Precomputed)
        bound.__dict__.update(self.__dict__)
        bound.ids = pd.Index(ids)
        return bound

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        raise NtkmixedError("A Precomputed kernel is not computed from genotypes; it is indexed by sample ID.")

    def _positions(self, ids: pd.Index, role: str) -> np.ndarray:
        return _row_positions(self, ids, role)

    def train_gram(self, train: Samples) -> np.ndarray:
        rows = self._positions(train.ids, "training")
        return self.K[np.ix_(rows, rows)]

    def cross_gram(self, new: Samples, train: Samples) -> np.ndarray:
        return self.K[np.ix_(self._positions(new.ids, "new"), self._positions(train.ids, "training"))]

    def diag_of(self, samples: Samples) -> np.ndarray:
        return np.diag(self.K)[self._positions(samples.ids, "evaluated")]


def _columns_in_index_order(K: pd.DataFrame) -> pd.DataFrame:
    if K.columns.equals(K.index):
        return K
    if K.index.has_duplicates or K.columns.has_duplicates or set(K.columns) != set(K.index):
        lacking = [c for c in K.index if c not in set(K.columns)]
        extra = [c for c in K.columns if c not in set(K.index)]
        raise NtkmixedError(
            "The 'K' argument of Precomputed is a DataFrame whose columns are not the IDs of its index "
            f"(unique, the same set): index IDs missing from the columns {examples(lacking)}, column labels "
            f"not in the index {examples(extra)}."
        )
    return K.loc[:, K.index]


class PrecomputedFactor(Kernel):
    """A user kernel K = F Fᵀ known by its factor F (rows: the people named by ``ids``;
    build it with :meth:`Precomputed.from_factor`). Rows may cover more people than are
    fitted: the model takes the rows of its people, and ``predict`` uses
    K(new, train) = F_new F_trainᵀ. Default normalisation: ``"none"``.

    Parameters
    ----------
    F : array_like or pandas.DataFrame
        The factor, one row per person; a DataFrame's index gives the IDs.
    ids : sequence, optional
        Sample ID of each row of ``F`` (default: the DataFrame index, else the rows of
        ``data`` in order).
    name : str, optional
        Name of the variance component in results (default: ``"Precomputed"``).
    normalize : {"none", "mean-diag", "unit-diag"}, default "none"
        Normalisation applied by the model.
    """

    default_normalize = "none"
    needs_genotypes = False

    def __init__(self, F: Any, ids: Any = None, name: str | None = None, normalize: str | None = None):
        super().__init__(normalize=normalize, name=name)
        if ids is None and isinstance(F, pd.DataFrame):
            ids = F.index
        self.F = _validated_factor(F)
        self.ids = _validated_ids(ids, self.F.shape[0], "Precomputed.from_factor", "F")

    def params(self) -> dict[str, Any]:
        return {"n": self.F.shape[0], "rank": self.F.shape[1]}

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        return f"Precomputed.from_factor(<{self.F.shape[0]}×{self.F.shape[1]} factor>{name})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PrecomputedFactor)
            and other.config() == self.config()
            and np.array_equal(other.F, self.F)
            and _same_ids(self.ids, other.ids)
        )

    __hash__ = Kernel.__hash__

    @property
    def component_name(self) -> str:
        """Name of the variance component this kernel defines in a model."""
        return self.name or "Precomputed"

    def bind_ids(self, ids: pd.Index) -> "PrecomputedFactor":
        """A copy whose rows are labelled by ``ids`` (the model does this when ``ids`` is None).

        Parameters
        ----------
        ids : pandas.Index
            One sample ID per row of ``F``.

        Returns
        -------
        PrecomputedFactor
            The same factor, aligned by these IDs from now on.
        """
        if len(ids) != self.F.shape[0]:
            raise NtkmixedError(
                f"A factor kernel without 'ids' must have one row per row of 'data' ({len(ids)}). "
                f"Got a factor with {self.F.shape[0]} rows; pass ids=... to align it by sample ID."
            )
        check_unique_ids(pd.Index(ids), "data", f"a Precomputed factor kernel without 'ids' ({self.component_name!r})")
        bound = object.__new__(PrecomputedFactor)
        bound.__dict__.update(self.__dict__)
        bound.ids = pd.Index(ids)
        return bound

    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        raise NtkmixedError("A Precomputed factor kernel is not computed from genotypes; it is indexed by sample ID.")

    def _rows(self, ids: pd.Index, role: str) -> np.ndarray:
        return _row_positions(self, ids, role)

    def train_gram(self, train: Samples) -> np.ndarray:
        rows = self.F[self._rows(train.ids, "training")]
        return rows @ rows.T

    def cross_gram(self, new: Samples, train: Samples) -> np.ndarray:
        return self.F[self._rows(new.ids, "new")] @ self.F[self._rows(train.ids, "training")].T

    def diag_of(self, samples: Samples) -> np.ndarray:
        rows = self.F[self._rows(samples.ids, "evaluated")]
        return np.einsum("ij,ij->i", rows, rows)

    def training_operator(self, train: Samples, normalization: Normalization, raw_diagonal: np.ndarray) -> FactorOperator:
        rows = self.F[self._rows(train.ids, "training")]
        return FactorOperator(rows * np.reshape(normalization.row_scale(), (-1, 1)))


def _row_positions(kernel, ids: pd.Index, role: str) -> np.ndarray:
    """Rows of a user kernel (matrix or factor) for these sample IDs; an error naming
    the IDs it lacks."""
    if kernel.ids is None:
        raise NtkmixedError("This Precomputed kernel has no 'ids'; it cannot be indexed by sample ID.")
    positions = match_ids(kernel.ids, pd.Index(ids), f"Precomputed kernel {kernel.component_name!r}",
                          "ids", f"the {role} people")
    if (positions < 0).any():
        missing = ids[positions < 0][:5].tolist()
        raise NtkmixedError(
            f"{int((positions < 0).sum())} {role} sample ID(s) are not in the Precomputed "
            f"kernel {kernel.component_name!r}: {missing}."
        )
    return positions


def _same_ids(a: pd.Index | None, b: pd.Index | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a.equals(b))


def _validated_ids(ids: Any, n_rows: int, where: str, what: str) -> pd.Index | None:
    if ids is None:
        return None
    ids = pd.Index(ids)
    if len(ids) != n_rows:
        raise NtkmixedError(f"The 'ids' argument of {where} must have one ID per row of {what} ({n_rows}). Got {len(ids)}.")
    if ids.has_duplicates:
        raise NtkmixedError(f"The 'ids' argument of {where} has duplicates: {ids[ids.duplicated()].unique()[:5].tolist()}.")
    return ids


def _validated_factor(F: Any) -> np.ndarray:
    try:
        factor = np.array(F, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtkmixedError(
            f"The 'F' argument of Precomputed.from_factor must be a numeric matrix. Got a {type(F).__name__} "
            "that cannot be converted to numbers."
        ) from None
    if factor.ndim != 2 or factor.shape[1] == 0:
        raise NtkmixedError(
            f"The 'F' argument of Precomputed.from_factor must be an n×r matrix with r ≥ 1. Got shape {factor.shape}."
        )
    if not np.isfinite(factor).all():
        raise NtkmixedError(
            f"The 'F' argument of Precomputed.from_factor must be finite. Got {int((~np.isfinite(factor)).sum())} "
            "NaN or infinite entries."
        )
    return factor


def _validated_matrix(K: Any, tol: float) -> np.ndarray:
    try:
        matrix = np.array(K, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtkmixedError(
            f"The 'K' argument of Precomputed must be a numeric square matrix. Got a "
            f"{type(K).__name__} that cannot be converted to numbers."
        ) from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise NtkmixedError(
            f"The 'K' argument of Precomputed must be a square matrix. Got shape {matrix.shape}."
        )
    if not np.isfinite(matrix).all():
        raise NtkmixedError(
            f"The 'K' argument of Precomputed must be finite. Got {int((~np.isfinite(matrix)).sum())} "
            "NaN or infinite entries."
        )
    scale = max(float(np.abs(matrix).max()), 1e-300)
    asymmetry = float(np.abs(matrix - matrix.T).max())
    if asymmetry > 1e-8 * scale:
        raise NtkmixedError(
            f"The 'K' argument of Precomputed must be symmetric. Got max |K - Kᵀ| = {asymmetry:.3g}."
        )
    matrix = (matrix + matrix.T) / 2.0
    if _cholesky_succeeds(matrix, tol):  # a third of an eigvalsh; the usual case
        return matrix
    eigenvalues = np.linalg.eigvalsh(matrix)
    if eigenvalues[0] < -tol * max(eigenvalues[-1], 1e-300):
        raise NotPositiveSemidefiniteError(
            "The 'K' argument of Precomputed must be positive semi-definite. Got smallest "
            f"eigenvalue {eigenvalues[0]:.6g} (largest {eigenvalues[-1]:.6g}, tolerance "
            f"{tol:g} relative)."
        )
    return matrix


def _cholesky_succeeds(matrix: np.ndarray, tol: float) -> bool:
    """Whether K + tol·max(diag K)·I has a Cholesky factor. Success means every
    eigenvalue of K exceeds −tol·max(diag K) ≥ −tol·λ_max, i.e. PSD within tolerance;
    on failure the eigenvalue check decides, and reports the smallest eigenvalue."""
    shift = tol * max(float(np.max(np.diag(matrix))), 1e-300)
    try:
        scipy.linalg.cholesky(matrix + shift * np.eye(matrix.shape[0]), lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return False
    return True
