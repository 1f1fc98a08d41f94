"""Kernel normalisation, in one place.

* ``"mean-diag"``: ``K / mean(diag K_train)`` (GCTA-like), so that ``h²`` is a share of
  phenotypic variance; cross-kernels are divided by the same training constant.
* ``"unit-diag"``: ``K_ij / sqrt(K_ii K_jj)`` (cosine, as in the NTK paper); a cross-kernel
  needs the new rows' own diagonal.
* ``"none"``: unchanged.

The constants come from the training diagonal alone, so a kernel can be normalised
before (or without) its n×n matrix being formed: as a matrix, a factor, or products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import NtkmixedError


@dataclass(frozen=True)
class Normalization:
    """The rule and the training constants needed to replay it on cross-kernels."""

    rule: str
    scale: float = 1.0
    train_diag: np.ndarray | None = None

    @classmethod
    def from_diagonal(cls, rule: str, diag: np.ndarray) -> "Normalization":
        """Learn the constants from the un-normalised training diagonal k(x_i, x_i).

        Parameters
        ----------
        rule : {"mean-diag", "unit-diag", "none"}
            The normalisation.
        diag : numpy.ndarray
            Un-normalised diagonal of the training kernel.

        Returns
        -------
        Normalization
            The rule with its training constants.
        """
        diag = np.asarray(diag, dtype=np.float64)
        if rule == "none":
            return cls("none")
        if rule == "mean-diag":
            scale = float(diag.mean())
            if not np.isfinite(scale) or scale <= 0:
                raise NtkmixedError(
                    f"Cannot apply 'mean-diag' normalisation: the kernel's mean diagonal is {scale!r}."
                )
            return cls("mean-diag", scale=scale)
        if rule == "unit-diag":
            if np.any(diag <= 0):
                raise NtkmixedError(
                    "Cannot apply 'unit-diag' normalisation: the kernel has "
                    f"{int(np.sum(diag <= 0))} non-positive diagonal entries."
                )
            return cls("unit-diag", train_diag=diag.copy())
        raise NtkmixedError(f"Unknown normalisation {rule!r}.")

    def row_scale(self) -> np.ndarray | float:
        """s with normalised K = diag(s) K_raw diag(s) on the training rows (a number for
        the rules that scale every entry alike).

        Returns
        -------
        float or numpy.ndarray
            The row scale s.
        """
        if self.rule == "mean-diag":
            return 1.0 / np.sqrt(self.scale)
        if self.rule == "unit-diag":
            return 1.0 / np.sqrt(self.train_diag)
        return 1.0

    def new_row_scale(self, new_diag: np.ndarray | None = None) -> np.ndarray | float:
        """s_new with normalised K(new, train) = diag(s_new) K_raw(new, train) diag(s),
        s = :meth:`row_scale` (``new_diag``: the new rows' raw diagonal, for unit-diag).

        Parameters
        ----------
        new_diag : numpy.ndarray, optional
            Un-normalised k(x, x) of the new people (needed by ``"unit-diag"``).

        Returns
        -------
        float or numpy.ndarray
            The new rows' scale s_new.
        """
        if self.rule == "unit-diag":
            if new_diag is None:
                raise NtkmixedError("'unit-diag' normalisation of a cross-kernel needs the new rows' diagonal.")
            return 1.0 / np.sqrt(np.asarray(new_diag, dtype=np.float64))
        return self.row_scale()

    def apply_train(self, K_train: np.ndarray) -> np.ndarray:
        """Normalise the training Gram matrix in place (and return it).

        Parameters
        ----------
        K_train : numpy.ndarray
            Un-normalised n × n training kernel, overwritten.

        Returns
        -------
        numpy.ndarray
            ``K_train``, normalised.
        """
        if self.rule == "mean-diag":
            K_train /= self.scale
        elif self.rule == "unit-diag":
            root = np.sqrt(self.train_diag)
            K_train /= root[:, None]
            K_train /= root[None, :]
        return K_train

    def apply_diagonal(self, diag: np.ndarray) -> np.ndarray:
        """The normalised diagonal from the raw one (training rows).

        Parameters
        ----------
        diag : numpy.ndarray
            Un-normalised diagonal of the training kernel.

        Returns
        -------
        numpy.ndarray
            The normalised diagonal (a new array).
        """
        if self.rule == "mean-diag":
            return diag / self.scale
        if self.rule == "unit-diag":
            return np.ones_like(diag)
        return diag.copy()

    def apply_cross(self, K_cross: np.ndarray, new_diag: np.ndarray | None = None) -> np.ndarray:
        """Normalise K(new, train) with the training constants.

        Parameters
        ----------
        K_cross : numpy.ndarray
            Un-normalised n_new × n_train cross-kernel.
        new_diag : numpy.ndarray, optional
            Un-normalised k(x, x) of the new people; needed by ``"unit-diag"``.

        Returns
        -------
        numpy.ndarray
            The normalised cross-kernel.
        """
        if self.rule == "none":
            return K_cross
        if self.rule == "mean-diag":
            return K_cross / self.scale
        if new_diag is None:
            raise NtkmixedError("'unit-diag' normalisation of a cross-kernel needs the new rows' diagonal.")
        return K_cross / np.outer(np.sqrt(new_diag), np.sqrt(self.train_diag))
