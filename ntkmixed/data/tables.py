"""Whitespace-separated text tables (.fam, .bim, phenotype and covariate files) read as
text by pandas' C parser, with errors that name the file, the line and the column.

Every row must have as many fields as the first; a short or a long row is an error at
its line (not a row of NaN, as a plain ``read_csv`` would give). Numeric columns are
converted with :func:`numeric_column`, which names the first offending line and value
and refuses infinite values (``inf``, or ``1e400``, which overflows float64).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import NtkmixedError

_SNIFF_BYTES = 8192


class Table:
    """The text fields of a file (``frame``: one str column per field) and the physical
    line number of each row, found when first needed (blank lines are skipped)."""

    def __init__(self, path: str, frame: pd.DataFrame):
        self.path = path
        self.frame = frame
        self._lines: np.ndarray | None = None

    def line(self, row: int) -> int:
        """1-based line in the file of row ``row`` of ``frame``."""
        if self._lines is None:
            self._lines = _data_lines(self.path)
        return int(self._lines[row])


def read_table(path: Any, what: str = "File") -> Table:
    """All fields of ``path`` as text, or an error for a missing, empty, binary or ragged file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise NtkmixedError(f"{what} {path!r} is a directory, not a file.")
    if not os.path.isfile(path):
        raise NtkmixedError(f"{what} {path!r} does not exist.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise NtkmixedError(f"{what} {path!r} cannot be read: {exc.strerror or exc}.") from None
    if b"\x00" in head:
        raise NtkmixedError(f"{what} {path!r} is not a text file (it holds binary data).")
    try:
        frame = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False, na_filter=False,
                            comment=None, engine="c")
    except pd.errors.EmptyDataError:
        raise NtkmixedError(f"{what} {path!r} is empty.") from None
    except UnicodeDecodeError as exc:
        raise NtkmixedError(f"{what} {path!r} is not a UTF-8 text file ({exc.reason} at byte {exc.start}).") from None
    except pd.errors.ParserError:
        line, count, expected = _first_ragged_line(path)
        raise NtkmixedError(
            f"{what} {path!r}, line {line}: {count} fields, but the first line has {expected}; every line "
            "must have the same number of whitespace-separated fields."
        ) from None
    short = (frame == "").to_numpy()
    if short.any():
        row = int(np.flatnonzero(short.any(axis=1))[0])
        table = Table(path, frame)
        count = int((~short[row]).sum())
        raise NtkmixedError(
            f"{what} {path!r}, line {table.line(row)}: {count} fields, but the first line has "
            f"{frame.shape[1]}; every line must have the same number of whitespace-separated fields."
        )
    return Table(path, frame)


def numeric_column(table: Table, column: str | int, label: str, missing: tuple[str, ...] = (),
                   what: str = "File", ids: pd.Index | None = None) -> pd.Series:
    """Column ``column`` of ``table.frame`` as float64 (NaN for the ``missing`` codes);
    text or an infinite value is an error naming the file, the line and ``label`` (say
    ``"column 'pos'"``) and, when ``ids`` are given, the row's IID."""
    values = table.frame[column]
    cleaned = values.where(~values.isin(missing)) if missing else values
    numeric = pd.to_numeric(cleaned, errors="coerce")
    bad = numeric.isna().to_numpy() & cleaned.notna().to_numpy()
    infinite = np.isinf(numeric.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any() or infinite.any():
        row = int(np.flatnonzero(bad | infinite)[0])
        value = cleaned.iloc[row]
        problem = "must be a finite number" if infinite[row] else "must be numeric"
        if infinite[row] and value.lower().lstrip("+-") not in ("inf", "infinity"):
            problem += " (the value overflows a 64-bit float)"
        if missing:
            problem += " (missing: -9 or NA)" if "-9" in missing else f" (missing: {missing[0]})"
        total = int(bad.sum() + infinite.sum())
        more = f" ({total} such values in the column)" if total > 1 else ""
        person = f" (IID {ids[row]!r})" if ids is not None else ""
        raise NtkmixedError(
            f"{what} {table.path!r}, line {table.line(row)}{person}, {label} {problem}. Got {value!r}{more}.")
    return numeric.astype(np.float64)


def _data_lines(path: str) -> np.ndarray:
    with open(path, "rb") as handle:
        return np.array([number for number, line in enumerate(handle, start=1) if line.strip()], dtype=np.int64)


def _first_ragged_line(path: str) -> tuple[int, int, int]:
    expected = None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            fields = len(line.split())
            if not fields:
                continue
            if expected is None:
                expected = fields
            elif fields != expected:
                return number, fields, expected
    return 0, 0, expected or 0
