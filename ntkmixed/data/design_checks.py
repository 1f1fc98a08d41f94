"""Checks of what a formula reads from ``data`` (and, at prediction, ``newdata``): the
response's type and values, finite fixed-effect columns, the reason when no row is
left, and new data whose columns changed type or hold unseen factor levels.

Each error names the argument, the column or term, and the rows (sample IDs) involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import examples
from ..exceptions import NtkmixedError, UnseenLevelsError


def check_data_frame(data: Any, name: str, where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise NtkmixedError(f"The {name!r} argument of {where} must be a pandas DataFrame. Got {type(data).__name__}.")
    if len(data) == 0:
        raise NtkmixedError(f"The {name!r} argument of {where} has no rows.")


def check_response_column(lhs_variables: set[str], lhs_text: str, data: pd.DataFrame, where: str) -> None:
    """A response read straight from a column must be numeric (or boolean, used as 0/1)."""
    if len(lhs_variables) != 1:
        return
    (name,) = lhs_variables
    if name not in data.columns or lhs_text.strip() != name:
        return
    column = data[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        raise NtkmixedError(
            f"The response {name!r} of {where} must be numeric. Got a categorical column with levels "
            f"{examples(list(column.cat.categories))}; code it as numbers (e.g. 0/1) for a linear mixed model."
        )
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        values = column.dropna()
        text = [v for v in values.unique()[:3]]
        raise NtkmixedError(
            f"The response {name!r} of {where} must be numeric. Got a column of {column.dtype} "
            f"({type(text[0]).__name__ if text else 'no'} values, e.g. {examples(text, 3)}); convert it "
            "with pd.to_numeric or code it as numbers."
        )
    if column.isna().all():
        raise NtkmixedError(f"The response {name!r} of {where} has no non-missing value (all {len(column)} are NaN).")


def check_one_response(lhs_columns: list[str], lhs_text: str, where: str) -> None:
    if len(lhs_columns) != 1:
        raise NtkmixedError(
            f"The 'formula' of {where} must have exactly one response on its left-hand side. Got "
            f"{lhs_text.strip()!r}, which gives {len(lhs_columns)} columns: {lhs_columns}."
        )


def check_finite(values: np.ndarray, labels: list[str], ids: pd.Index, what: str, where: str) -> None:
    """No ±inf in the columns of ``values`` (NaN is missing and handled elsewhere)."""
    values = values.reshape(len(ids), -1)
    infinite = np.isinf(values)
    if not infinite.any():
        return
    parts = []
    for j in np.flatnonzero(infinite.any(axis=0))[:3]:
        rows = ids[infinite[:, j]]
        parts.append(f"{labels[j]!r} for {len(rows)} row(s): {examples(list(rows))}")
    raise NtkmixedError(
        f"{what} of {where} has infinite values in " + "; ".join(parts)
        + ". Infinite values are not missing values: remove or recode them (a transform in the "
        "formula, such as np.exp, can overflow)."
    )


def explain_no_rows(frame: pd.DataFrame, lhs_variables: set[str], rhs_variables: set[str], available: np.ndarray,
                    where: str) -> None:
    """When no complete row is left, say why: the response or a covariate is missing in
    every row that has genotypes."""
    rows = frame.loc[available]
    for name in sorted(lhs_variables):
        if name in rows and rows[name].isna().all():
            raise NtkmixedError(
                f"The response {name!r} of {where} has no non-missing value among the "
                f"{int(available.sum())} rows with genotypes.")
    for name in sorted(rhs_variables):
        if name in rows and rows[name].isna().all():
            raise NtkmixedError(
                f"The covariate {name!r} of {where} has no non-missing value among the "
                f"{int(available.sum())} rows with genotypes.")


def check_new_columns(encoder_state: dict, newdata: pd.DataFrame) -> None:
    """A column that was numeric in training must be numeric in ``newdata`` (formulaic
    would otherwise encode text as new categories and fail deep inside)."""
    for name, (kind, _) in encoder_state.items():
        if name not in newdata.columns or getattr(kind, "value", kind) != "numerical":
            continue
        column = newdata[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            example = column.dropna()[:3].tolist()
            raise NtkmixedError(
                f"The 'newdata' argument of predict has column {name!r} of {column.dtype} (e.g. "
                f"{examples(example, 3)}), but it was numeric in training. Convert it (pd.to_numeric)."
            )


def unseen_levels(encoder_state: dict, newdata: pd.DataFrame) -> dict[str, list]:
    """Levels of each categorical column of ``newdata`` not seen in training."""
    unseen = {}
    for name, (kind, state) in encoder_state.items():
        if name not in newdata.columns or getattr(kind, "value", kind) != "categorical":
            continue
        known = set(state.get("categories", []))
        new = [v for v in pd.unique(newdata[name].dropna()) if v not in known]
        if new:
            unseen[name] = new
    return unseen


def raise_unseen_levels(unseen: dict[str, list], fallback: str) -> None:
    detail = "; ".join(f"{name!r}: {examples(levels)}" for name, levels in unseen.items()) or fallback
    raise UnseenLevelsError(
        f"The 'newdata' argument of predict has factor levels not seen in training ({detail}). "
        "Pass allow_new_levels=True to predict them at the reference level."
    )
