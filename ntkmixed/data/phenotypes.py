"""Phenotype and covariate files in PLINK/GCTA layout, and their merge with genotypes.

A file is a whitespace-separated table ``FID IID col1 col2 …``. The header is optional:
a first line starting ``FID IID`` or ``#FID IID`` (PLINK 2) names the columns, and
``#IID …`` / ``IID …`` declares a file without an FID column. Without a header the
columns are named ``pheno1, pheno2, …`` (phenotypes) or ``covar1, covar2, …``
(covariates), matching GCTA's ``--mpheno N`` numbering. ``-9``, ``NA``, ``NaN`` and
``.`` are missing values.

Phenotypes must be numeric. Covariates may be categorical (GCTA's ``--covar``) or
quantitative (``--qcovar``): by default a column whose values are not all numbers is
categorical, and ``categorical=[...]`` forces numeric codes (1/2 for sex, say) to be
categories.

Tables are indexed by IID (people are matched by IID, as in the rest of ntkmixed); the
FID is kept as column ``FID``. :func:`merge_by_iid` lines tables up with a fileset and
counts the IIDs that do not match.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataWarning, NtkmixedError

MISSING_CODES = ("-9", "-9.0", "NA", "NaN", "nan", "na", ".", "")


def read_pheno(
    path: str | os.PathLike,
    header: bool | None = None,
    columns: Sequence[str | int] | None = None,
) -> pd.DataFrame:
    """Read a phenotype file; the phenotype columns must be numeric (missing codes aside).

    ``columns`` selects phenotypes by name or by 1-based position among the value
    columns (GCTA's ``--mpheno N``); default: all columns, which must then all be numeric.
    Returns a DataFrame indexed by IID with a ``FID`` column (when the file has one)
    followed by the phenotypes as float64, NaN for missing.

    Parameters
    ----------
    path : str or os.PathLike
        The phenotype file (``FID IID y1 y2 …``, whitespace-separated).
    header : bool, optional
        Whether the first line names the columns (default: detected).
    columns : sequence of str or int, optional
        Phenotypes to keep, by name or 1-based position.

    Returns
    -------
    pandas.DataFrame
        Indexed by IID: ``FID`` (when present) and the phenotypes.
    """
    table = _read_id_table(path, header, default_prefix="pheno")
    available = _value_columns(table)
    chosen = available if columns is None else [_column_name(c, available, path) for c in columns]
    table = table[[c for c in ("FID",) if c in table] + list(chosen)]
    for column in chosen:
        table[column] = _numeric_column(table[column], column, path, what="phenotype")
    return table


def _column_name(column: str | int, available: list[str], path: Any) -> str:
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not 1 <= column <= len(available):
            raise NtkmixedError(
                f"File {os.fspath(path)!r} has {len(available)} phenotype column(s); "
                f"phenotype number {column} does not exist (numbering starts at 1)."
            )
        return available[column - 1]
    if column not in available:
        raise NtkmixedError(
            f"File {os.fspath(path)!r} has no column {column!r}. Its columns are {available}."
        )
    return str(column)


def read_covar(
    path: str | os.PathLike,
    header: bool | None = None,
    categorical: Iterable[str] | None = None,
    quantitative: bool = False,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a covariate file.

    Numeric columns become float64 (quantitative covariates); other columns and those
    named in ``categorical`` become pandas categoricals (discrete covariates).
    ``quantitative=True`` (GCTA's ``--qcovar``) requires every column to be numeric.
    ``columns`` keeps only the named columns (PLINK's ``--covar-name``).

    Parameters
    ----------
    path : str or os.PathLike
        The covariate file (``FID IID c1 c2 …``, whitespace-separated).
    header : bool, optional
        Whether the first line names the columns (default: detected).
    categorical : iterable of str, optional
        Numeric columns to read as categories.
    quantitative : bool, default False
        Require every column to be numeric (GCTA's ``--qcovar``).
    columns : sequence of str, optional
        Covariates to keep.

    Returns
    -------
    pandas.DataFrame
        Indexed by IID: ``FID`` (when present) and the covariates, float64 or categorical.
    """
    table = _read_id_table(path, header, default_prefix="covar")
    if columns is not None:
        chosen = [_column_name(c, _value_columns(table), path) for c in columns]
        table = table[[c for c in ("FID",) if c in table] + chosen]
    forced = set(categorical or ())
    unknown = forced.difference(_value_columns(table))
    if unknown:
        raise NtkmixedError(
            f"Categorical covariate(s) {sorted(unknown)} are not columns of {os.fspath(path)}. "
            f"Its columns are {_value_columns(table)}."
        )
    for column in _value_columns(table):
        values = table[column].where(~table[column].isin(MISSING_CODES))
        numeric = pd.to_numeric(values, errors="coerce")
        is_numeric = bool((numeric.notna() == values.notna()).all())
        if quantitative or (is_numeric and column not in forced):
            table[column] = _numeric_column(table[column], column, path, what="quantitative covariate")
        else:
            table[column] = pd.Categorical(values.astype(object))
    return table


def _read_id_table(path: str | os.PathLike, header: bool | None, default_prefix: str) -> pd.DataFrame:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NtkmixedError(f"File {path!r} does not exist.")
    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError:
        raise NtkmixedError(f"File {path!r} is empty.") from None
    except pd.errors.ParserError as exc:
        raise NtkmixedError(f"File {path!r} is not a whitespace-separated table with the same number of columns on every line: {exc}") from None
    raw = raw.astype(object)
    first = [str(v) for v in raw.iloc[0]]
    token = first[0].lstrip("#").upper()
    if header is None:
        header = token in ("FID", "IID") or _looks_like_header(raw)
    if header:
        names = [v.lstrip("#") if i == 0 else v for i, v in enumerate(first)]
        raw = raw.iloc[1:].reset_index(drop=True)
        # PLINK layout unless the header starts with IID (PLINK 2's FID-less files)
        has_fid = names[0].upper() != "IID"
        if names[0].upper() == "FID" and (len(names) < 2 or names[1].upper() != "IID"):
            raise NtkmixedError(f"File {path!r}: a header starting with FID must have IID as its second column. Got {names[:2]}.")
        if len(set(names)) != len(names):
            raise NtkmixedError(f"File {path!r} has repeated column names in its header: {names}.")
        names = ["FID", "IID", *names[2:]] if has_fid else ["IID", *names[1:]]
    else:
        if raw.shape[1] < 3:
            raise NtkmixedError(
                f"File {path!r} must have at least 3 columns (FID IID value…). Got {raw.shape[1]}."
            )
        names = ["FID", "IID", *(f"{default_prefix}{j}" for j in range(1, raw.shape[1] - 1))]
    if len(names) < (3 if "FID" in names else 2):
        raise NtkmixedError(f"File {path!r} has no value column after the ID column(s).")
    if raw.empty:
        raise NtkmixedError(f"File {path!r} has a header but no rows.")
    raw.columns = names
    iids = pd.Index(raw["IID"].astype(str), name="IID")
    if iids.has_duplicates:
        dups = iids[iids.duplicated()].unique()
        raise NtkmixedError(f"File {path!r} lists {len(dups)} IID(s) more than once: {dups[:5].tolist()}.")
    table = raw.drop(columns="IID")
    table.index = iids
    if "FID" in table:
        table["FID"] = table["FID"].astype(str)
    return table


def _looks_like_header(raw: pd.DataFrame) -> bool:
    """A first line whose value fields are all words while the next line has a number."""
    if raw.shape[0] < 2 or raw.shape[1] < 3:
        return False

    def numeric(field: Any) -> bool:
        return pd.notna(pd.to_numeric(pd.Series([field]), errors="coerce").iloc[0])

    first, second = raw.iloc[0, 2:], raw.iloc[1, 2:]
    words = all(not numeric(v) and v not in MISSING_CODES for v in first)
    return words and any(numeric(v) for v in second)


def _value_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != "FID"]


def _numeric_column(values: pd.Series, column: str, path: Any, what: str) -> pd.Series:
    cleaned = values.where(~values.isin(MISSING_CODES))
    numeric = pd.to_numeric(cleaned, errors="coerce")
    bad = numeric.isna() & cleaned.notna()
    if bad.any():
        examples = pd.unique(cleaned[bad].astype(str))[:3].tolist()
        raise NtkmixedError(
            f"File {os.fspath(path)!r}: {what} {column!r} must be numeric (missing: -9 or NA). "
            f"Got non-numeric value(s) {examples} for {int(bad.sum())} IID(s), e.g. "
            f"{bad[bad].index[0]!r}."
        )
    numeric = numeric.astype(np.float64)
    return numeric.where(numeric != -9.0)


@dataclass(frozen=True)
class MergeReport:
    """Counts from :func:`merge_by_iid`."""

    n_genotyped: int
    n_merged: int
    unmatched: dict[str, int]
    genotyped_without_data: int
    fid_mismatches: int

    def lines(self) -> list[str]:
        """The report as sentences, one per fact (what the CLI logs).

        Returns
        -------
        list of str
        """
        out = [f"{self.n_merged} of {self.n_genotyped} genotyped people have all the tables' rows."]
        for name, count in self.unmatched.items():
            if count:
                out.append(f"{count} IID(s) of {name} are not in the genotype fileset (ignored).")
        if self.genotyped_without_data:
            out.append(f"{self.genotyped_without_data} genotyped IID(s) are missing from at least one table (left out).")
        if self.fid_mismatches:
            out.append(f"{self.fid_mismatches} IID(s) have a different FID in the tables than in the fileset (matched by IID).")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def merge_by_iid(
    sample_ids: Sequence[Any] | pd.Index,
    tables: dict[str, pd.DataFrame],
    fids: Sequence[Any] | None = None,
) -> tuple[pd.DataFrame, MergeReport]:
    """Join ``tables`` (each indexed by IID, as from :func:`read_pheno`) on the genotyped
    IIDs, in genotype order; keep people present in every table.

    Returns ``(data, report)``. Raises if no genotyped IID is in a table, or if two tables
    share a column name. Warns (:class:`~ntkmixed.exceptions.DataWarning`) with the counts
    when some IIDs do not match.

    Parameters
    ----------
    sample_ids : sequence or pandas.Index
        IIDs of the genotyped people, in genotype order.
    tables : dict of str to pandas.DataFrame
        Name (for messages) -> table indexed by IID.
    fids : sequence, optional
        FIDs of the genotyped people, to count FID mismatches.

    Returns
    -------
    data : pandas.DataFrame
        The tables' columns for the people in all of them, indexed by IID.
    report : MergeReport
        The counts.
    """
    ids = pd.Index([str(i) for i in sample_ids], name="IID")
    keep = pd.Series(True, index=ids)
    unmatched: dict[str, int] = {}
    columns: list[pd.DataFrame] = []
    seen: dict[str, str] = {}
    fid_mismatches: set[str] = set()
    fid_lookup = pd.Series([str(f) for f in fids], index=ids) if fids is not None else None
    for name, table in tables.items():
        in_fileset = table.index.isin(ids)
        unmatched[name] = int((~in_fileset).sum())
        if not in_fileset.any():
            raise NtkmixedError(
                f"None of the {len(table)} IIDs in {name} is in the genotype fileset "
                f"(e.g. {table.index[:3].tolist()} vs genotype IIDs {ids[:3].tolist()})."
            )
        keep &= ids.isin(table.index)
        values = table.drop(columns=[c for c in ("FID",) if c in table])
        for column in values.columns:
            if column in seen:
                raise NtkmixedError(f"Column {column!r} is in both {seen[column]} and {name}; rename one.")
            seen[column] = name
        if fid_lookup is not None and "FID" in table:
            common = table.index[in_fileset]
            differs = table.loc[common, "FID"].to_numpy() != fid_lookup[common].to_numpy()
            fid_mismatches.update(common[differs])
        columns.append(values.reindex(ids))
    data = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=ids)
    data = data.loc[keep.to_numpy()]
    report = MergeReport(
        n_genotyped=len(ids),
        n_merged=len(data),
        unmatched=unmatched,
        genotyped_without_data=int((~keep).sum()),
        fid_mismatches=len(fid_mismatches),
    )
    if any(unmatched.values()) or report.genotyped_without_data or fid_mismatches:
        warnings.warn(" ".join(report.lines()[1:]), DataWarning, stacklevel=2)
    return data, report
