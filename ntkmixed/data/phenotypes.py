"""Phenotype and covariate files in PLINK/GCTA layout, and their merge with genotypes.

A file is a whitespace-separated table ``FID IID col1 col2 …``. The header is optional:
a first line starting ``FID IID`` or ``#FID IID`` (PLINK 2) names the columns, and
``#IID …`` / ``IID …`` declares a file without an FID column. Without a header the
columns are named ``pheno1, pheno2, …`` (phenotypes) or ``covar1, covar2, …``
(covariates), matching GCTA's ``--mpheno N`` numbering. ``-9``, ``NA``, ``NaN`` and
``.`` are missing values.

Every line must have as many fields as the first, and numbers must be finite: a short
or long line, a stray token in a numeric column and ``inf``/``1e400`` are errors naming
the file, the line and the column.

Phenotypes must be numeric. Covariates may be categorical (GCTA's ``--covar``) or
quantitative (``--qcovar``): by default a column of numbers is quantitative and a column
of words categorical; a column that mixes the two (``41, 4O, 52``) is an error at the
first odd value, unless ``categorical=[...]`` names it (which also forces numeric codes,
1/2 for sex say, to be categories).

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

from .._validation import Boolean, check, shown
from ..exceptions import DataWarning, NtkmixedError
from .tables import Table, numeric_column, read_table

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
    table, source = _read_id_table(path, header, default_prefix="pheno")
    available = _value_columns(table)
    chosen = available if columns is None else [_column_name(c, available, path) for c in _names(columns, "columns", "read_pheno")]
    table = table[[c for c in ("FID",) if c in table] + list(chosen)]
    for column in chosen:
        table[column] = _numeric_column(source, table, column, what="phenotype")
    return table


def _names(values: Any, name: str, where: str, numbers: bool = True) -> list:
    """A column name (or, with ``numbers``, a 1-based column number) alone, or a list of them."""
    kinds = (str, int, np.integer) if numbers else (str,)

    def fits(value: Any) -> bool:
        return isinstance(value, kinds) and not isinstance(value, bool)

    if fits(values):
        return [values]
    if isinstance(values, (list, tuple, pd.Index, np.ndarray, set)) and all(fits(v) for v in values):
        return list(values)
    expected = "a column name or number, or a list of them" if numbers else "a column name or a list of column names"
    raise NtkmixedError(f"The {name!r} parameter of {where} must be {expected}. Got {shown(values)} instead.")


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
    quantitative = check(quantitative, "quantitative", "read_covar", Boolean())
    forced = set(_names(categorical, "categorical", "read_covar", numbers=False)) if categorical is not None else set()
    table, source = _read_id_table(path, header, default_prefix="covar")
    if columns is not None:
        chosen = [_column_name(c, _value_columns(table), path) for c in _names(columns, "columns", "read_covar")]
        table = table[[c for c in ("FID",) if c in table] + chosen]
    unknown = forced.difference(_value_columns(table))
    if unknown:
        raise NtkmixedError(
            f"Categorical covariate(s) {sorted(unknown)} are not columns of {os.fspath(path)}. "
            f"Its columns are {_value_columns(table)}."
        )
    for column in _value_columns(table):
        values = table[column].where(~table[column].isin(MISSING_CODES))
        numeric = pd.to_numeric(values, errors="coerce")
        is_number = (numeric.notna() & ~np.isinf(numeric)).to_numpy()
        present = values.notna().to_numpy()
        if quantitative or (column not in forced and is_number[present].all()):
            table[column] = _numeric_column(source, table, column, what="quantitative covariate")
        elif column not in forced and is_number[present].any():
            _mixed_column_error(source, table, column, is_number, present)
        else:
            table[column] = pd.Categorical(values.astype(object))
    return table


def _mixed_column_error(source: "_Source", table: pd.DataFrame, column: str, is_number: np.ndarray,
                        present: np.ndarray) -> None:
    """A covariate column of numbers with a stray word (or words with a stray number)."""
    numbers, words = int((is_number & present).sum()), int((~is_number & present).sum())
    odd = (~is_number & present) if numbers >= words else (is_number & present)
    row = int(np.flatnonzero(odd)[0])
    value = table[column].iloc[row]
    kind = "numbers" if numbers >= words else "words"
    raise NtkmixedError(
        f"File {source.path!r}, line {source.line(row)}, column {column!r}: a column of {kind} ({max(numbers, words)} "
        f"values) holds {value!r}" + (f" and {int(odd.sum()) - 1} more like it" if odd.sum() > 1 else "")
        + f". Fix the value, or name the column in "
        f"categorical=[{column!r}] (--categorical {column}) to read it as categories."
    )


class _Source:
    """Where the rows of an ID table came from: the file and each row's line."""

    def __init__(self, table: Table, skipped: int):
        self.path, self._table, self._skipped = table.path, table, skipped

    def line(self, row: int) -> int:
        return self._table.line(row + self._skipped)


def _read_id_table(path: str | os.PathLike, header: bool | None, default_prefix: str) -> tuple[pd.DataFrame, _Source]:
    source = read_table(path)
    path = source.path
    raw = source.frame.astype(object)
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
    return table, _Source(source, 1 if header else 0)


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


def _numeric_column(source: _Source, table: pd.DataFrame, column: str, what: str) -> pd.Series:
    """A value column as float64, NaN for the missing codes (-9 included); text or an
    infinite value is an error naming the file, line and column."""
    frame = pd.DataFrame({column: table[column].to_numpy()})
    numeric = numeric_column(_Lines(source, frame), column, f"{what} {column!r}", missing=MISSING_CODES,
                             ids=table.index)
    numeric.index = table.index
    return numeric.where(numeric != -9.0)


class _Lines:
    """The view of a value column that :func:`numeric_column` reads (path, frame, line)."""

    def __init__(self, source: _Source, frame: pd.DataFrame):
        self.path, self.frame, self._source = source.path, frame, source

    def line(self, row: int) -> int:
        return self._source.line(row)


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
