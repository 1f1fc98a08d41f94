"""Errors shared by the ridge routines."""

from __future__ import annotations

from ...exceptions import NtkmixedError


def not_positive_definite(lam: float) -> NtkmixedError:
    return NtkmixedError(
        f"K + λI is not positive definite at λ = {lam:.6g}: the kernel has eigenvalues below "
        "−λ (it is not positive semi-definite). Use larger λ values or check the kernel."
    )


def unidentified_fold(fold: int, label: str = "fold") -> NtkmixedError:
    return NtkmixedError(
        f"Cross-validation {label} {fold}: the training rows do not identify the fixed effects "
        "(a factor level may occur only in the held-out rows). Use fewer folds or other folds."
    )
