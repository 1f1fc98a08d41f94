"""Kernel normalisation, in one place.

* ``"mean-diag"``: ``K / mean(diag K_train)`` (GCTA-like), so that ``h²`` is a share of
  phenotypic variance; cross-kernels are divided by the same training constant.
* ``"unit-diag"``: ``K_ij / sqrt(K_ii K_jj)`` (cosine, as in the NTK paper); a cross-kernel
  needs the new rows' own diagonal.
* ``"none"``: unchanged.
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
    def fit(cls, rule: str, K_train: np.ndarray, in_place: bool = False) -> tuple["Normalization", np.ndarray]:
        """Learn the constants from the training Gram matrix; return them and the
        normalised matrix (``K_train`` itself, overwritten, when ``in_place``)."""
        diag = np.diag(K_train).copy()
        if rule == "none":
            return cls("none"), K_train
        if rule == "mean-diag":
            scale = float(diag.mean())
            if not np.isfinite(scale) or scale <= 0:
                raise NtkmixedError(
                    f"Cannot apply 'mean-diag' normalisation: the kernel's mean diagonal is {scale!r}."
                )
            if in_place:
                K_train /= scale
                return cls("mean-diag", scale=scale), K_train
            return cls("mean-diag", scale=scale), K_train / scale
        if rule == "unit-diag":
            if np.any(diag <= 0):
                raise NtkmixedError(
                    "Cannot apply 'unit-diag' normalisation: the kernel has "
                    f"{int(np.sum(diag <= 0))} non-positive diagonal entries."
                )
            root = np.sqrt(diag)
            if in_place:
                K_train /= root[:, None]
                K_train /= root[None, :]
                return cls("unit-diag", train_diag=diag), K_train
            return cls("unit-diag", train_diag=diag), K_train / np.outer(root, root)
        raise NtkmixedError(f"Unknown normalisation {rule!r}.")

    def apply_cross(self, K_cross: np.ndarray, new_diag: np.ndarray | None = None) -> np.ndarray:
        """Normalise K(new, train) with the training constants."""
        if self.rule == "none":
            return K_cross
        if self.rule == "mean-diag":
            return K_cross / self.scale
        if new_diag is None:
            raise NtkmixedError("'unit-diag' normalisation of a cross-kernel needs the new rows' diagonal.")
        return K_cross / np.outer(np.sqrt(new_diag), np.sqrt(self.train_diag))
