"""Pairing rows of two inputs by sample ID (or, when the genotypes carry no IDs, by
position), in one place for training and prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import NtkmixedError


def genotype_rows(genotype_ids: pd.Index | None, n_genotype_rows: int, ids: pd.Index, where: str) -> np.ndarray:
    """Row of the genotypes for each of ``ids`` (−1 where absent).

    Without genotype IDs the rows pair by position, which needs equal counts."""
    if genotype_ids is None:
        if n_genotype_rows != len(ids):
            raise NtkmixedError(
                "Found input variables with inconsistent numbers of samples: data has "
                f"{len(ids)} rows, genotypes has {n_genotype_rows}. Index the genotypes by "
                f"sample ID (a DataFrame) to align them by ID ({where})."
            )
        return np.arange(len(ids))
    if ids.has_duplicates:
        raise NtkmixedError(
            f"The 'data' argument of {where} has duplicated index values (sample IDs), so "
            "genotypes cannot be aligned by ID."
        )
    return genotype_ids.get_indexer(ids)


def missing_ids_message(ids: pd.Index, positions: np.ndarray, what: str) -> str:
    """``"3 newdata sample ID(s) are not in …: [first five]"``."""
    absent = ids[positions < 0]
    return f"{len(absent)} {what}: {absent[:5].tolist()}."
