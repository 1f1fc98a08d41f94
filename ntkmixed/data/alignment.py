"""Pairing rows of two inputs by sample ID (or, when the genotypes carry no IDs, by
position), in one place for training, prediction and precomputed kernels.

IDs are matched exactly (``1`` and ``"1"`` are different IDs). When the inputs share no
ID, or share more IDs as text than as values (``1`` vs ``"1"``), alignment refuses with
the reason instead of dropping everyone; a default ``RangeIndex`` on one side is named as
the likely cause (a table that lost its IDs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import examples
from ..exceptions import NtkmixedError


def genotype_rows(genotype_ids: pd.Index | None, n_genotype_rows: int, ids: pd.Index, where: str,
                  data_name: str = "data", genotype_name: str = "genotypes") -> np.ndarray:
    """Row of the genotypes for each of ``ids`` (−1 where absent).

    Without genotype IDs the rows pair by position, which needs equal counts."""
    if genotype_ids is None:
        if n_genotype_rows != len(ids):
            raise NtkmixedError(
                f"Found input variables with inconsistent numbers of samples: {data_name} has "
                f"{len(ids)} rows, {genotype_name} has {n_genotype_rows}. Index the genotypes by "
                f"sample ID (a DataFrame) to align them by ID ({where})."
            )
        return np.arange(len(ids))
    check_unique_ids(ids, data_name, where)
    return match_ids(genotype_ids, ids, where, genotype_name, data_name)


def check_unique_ids(ids: pd.Index, name: str, where: str) -> None:
    if ids.has_duplicates:
        duplicated = ids[ids.duplicated()].unique()
        raise NtkmixedError(
            f"The {name!r} argument of {where} has duplicated index values (sample IDs), so rows "
            f"cannot be aligned by ID: {examples(list(duplicated))}."
        )


def match_ids(reference: pd.Index, ids: pd.Index, where: str, reference_name: str, ids_name: str) -> np.ndarray:
    """Position in ``reference`` of each of ``ids`` (−1 where absent), refusing when the
    two share no ID or match better as text than as values."""
    positions = reference.get_indexer(ids)
    if len(ids) == 0 or len(reference) == 0:
        return positions
    matched = int((positions >= 0).sum())
    as_text = pd.Index(reference.map(str)).get_indexer(pd.Index(ids.map(str))) if not reference.map(str).has_duplicates else positions
    text_matched = int((as_text >= 0).sum())
    if text_matched > matched:
        raise NtkmixedError(
            f"The sample IDs of {ids_name!r} and {reference_name!r} ({where}) differ in type: "
            f"{text_matched - matched} ID(s) match only as text, e.g. {ids_name} has "
            f"{_typed(ids[(as_text >= 0) & (positions < 0)][:3])} and {reference_name} has "
            f"{_typed(reference[as_text[(as_text >= 0) & (positions < 0)][:3]])} "
            f"({_kind(ids)} vs {_kind(reference)}). Convert one of them, e.g. index.astype(str)."
        )
    if matched == 0:
        hint = ""
        for index, name in ((reference, reference_name), (ids, ids_name)):
            if isinstance(index, pd.RangeIndex):
                hint = (f" The index of {name!r} is a default RangeIndex (0, 1, 2, …): it looks like it "
                        "lost its sample IDs; set them as the index.")
        raise NtkmixedError(
            f"None of the {len(ids)} sample IDs of {ids_name!r} is in {reference_name!r} ({where}): "
            f"{ids_name} has {examples(list(ids[:3]), 3)}…, {reference_name} has "
            f"{examples(list(reference[:3]), 3)}….{hint}"
        )
    return positions


def missing_ids_message(ids: pd.Index, positions: np.ndarray, what: str) -> str:
    """``"3 newdata sample ID(s) are not in …: [first five]"``."""
    absent = ids[positions < 0]
    return f"{len(absent)} {what}: {examples(list(absent))}."


def _typed(values: pd.Index) -> str:
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values)


def _kind(index: pd.Index) -> str:
    kinds = sorted({type(v.item() if isinstance(v, np.generic) else v).__name__ for v in index[:1000]})
    return "/".join(kinds) + " IDs"
