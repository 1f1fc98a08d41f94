"""Genotypes as association scans read them: a SNP table (ID, chromosome, position,
alleles) and dosage blocks for the analysed people, in their row order, never the whole
matrix as float64 at once.

Accepted: a PLINK :class:`~ntkmixed.data.plink.Genotypes` (or prefix; streamed from the
.bed), a DataFrame indexed by sample ID, an n×p array (rows in the order of ``data``), or
a Dask array (blocks computed one at a time). Arrays and DataFrames carry no chromosome or
position; pass ``snp_info`` (columns ``chr``, ``bp`` and optionally ``snp``, ``a1``,
``a2``, one row per column) to give them.

Missing calls are mean-imputed per SNP over the analysed people and counted; SNPs with
no variation among them are reported, not dropped (the scans give them NaN).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.alignment import genotype_rows
from ..data.genotypes import check_dosages
from ..data.plink import Genotypes, read_plink
from ..exceptions import NtkmixedError

#: float64 dosages per block, at most (about 128 MB)
BLOCK_BYTES = 128 * 2**20
SNP_COLUMNS = ("snp", "chr", "bp", "a1", "a2")


@dataclass(frozen=True)
class DosageBlock:
    """Dosages of SNP positions ``positions`` for the analysed people (missing calls
    imputed) with the facts the results report."""

    positions: np.ndarray
    values: np.ndarray  # n × m float64
    n_called: np.ndarray
    a1_freq: np.ndarray
    polymorphic: np.ndarray


class SnpSource:
    """Table of SNPs and a reader of their dosages for chosen people."""

    def __init__(self, genotypes: Any, snp_info: pd.DataFrame | None = None, where: str = "gwas"):
        if isinstance(genotypes, (str, os.PathLike)):
            genotypes = read_plink(genotypes)
        self.where = where
        self._plink = genotypes if isinstance(genotypes, Genotypes) else None
        self._dask = _is_dask(genotypes)
        if self._plink is not None:
            bim = genotypes.snps
            table = pd.DataFrame({"snp": bim["snp"].astype(str).to_numpy(), "chr": bim["chrom"].astype(str).to_numpy(),
                                  "bp": bim["pos"].to_numpy(np.int64), "a1": bim["a1"].astype(str).to_numpy(),
                                  "a2": bim["a2"].astype(str).to_numpy()})
            self.sample_ids: pd.Index | None = genotypes.sample_ids
            self._values = None
        else:
            if isinstance(genotypes, pd.DataFrame):
                self.sample_ids = genotypes.index
                names = [str(c) for c in genotypes.columns]
                self._values = genotypes
            else:
                self.sample_ids = None
                if not self._dask:
                    genotypes = np.asarray(genotypes)
                if genotypes.ndim != 2:
                    raise NtkmixedError(f"The 'genotypes' argument of {where} must be a 2-D people × SNPs matrix. Got shape {genotypes.shape}.")
                names = [f"snp{j + 1}" for j in range(genotypes.shape[1])]
                self._values = genotypes
            table = pd.DataFrame({"snp": names, "chr": pd.array([pd.NA] * len(names), dtype="string"),
                                  "bp": np.zeros(len(names), dtype=np.int64), "a1": "", "a2": ""})
        if snp_info is not None:
            table = _merge_snp_info(table, snp_info, where)
        self.table = table.reset_index(drop=True)

    @property
    def n_snps(self) -> int:
        return len(self.table)

    @property
    def has_chromosomes(self) -> bool:
        return bool(self.table["chr"].notna().all())

    def kernel_genotypes(self, positions: np.ndarray) -> Any:
        """The SNPs at ``positions`` in a form models accept (for a kernel on them)."""
        if self._plink is not None:
            return self._plink._narrow(snp_positions=np.asarray(positions, dtype=np.intp))
        if isinstance(self._values, pd.DataFrame):
            return self._values.iloc[:, positions]
        values = self._values[:, positions]
        return np.asarray(values.compute() if self._dask else values)

    def rows_for(self, ids: pd.Index, data_index: pd.Index) -> np.ndarray:
        """Genotype rows of the analysed people ``ids`` (a subset of ``data_index``); an
        array without IDs pairs with ``data`` by position."""
        if self.sample_ids is None:
            genotype_rows(None, self._values.shape[0], data_index, self.where)  # equal counts, or an error
            return data_index.get_indexer(ids)
        if self._plink is not None:  # IIDs are strings
            positions = self.sample_ids.get_indexer(pd.Index([str(i) for i in ids]))
        else:
            positions = self.sample_ids.get_indexer(ids)
        if (positions < 0).any():
            raise NtkmixedError(f"{int((positions < 0).sum())} analysed people are not in the 'genotypes' of {self.where}.")
        return positions

    def blocks(self, rows: np.ndarray, positions: np.ndarray, block_size: int | None = None) -> Iterator[DosageBlock]:
        """Dosage blocks of the SNPs at ``positions`` (in that order) for genotype ``rows``."""
        if block_size is None:
            block_size = max(1, min(max(len(positions), 1), BLOCK_BYTES // (8 * max(len(rows), 1))))
        for start in range(0, len(positions), block_size):
            chunk = np.asarray(positions[start:start + block_size], dtype=np.intp)
            values = self._read(rows, chunk)
            ids = None if self.sample_ids is None else list(self.sample_ids[rows])
            check_dosages(values, "genotypes", self.where, ids, list(self.table["snp"].iloc[chunk]) if ids else None)
            yield _impute(chunk, values)

    def _read(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        if self._plink is not None:
            return self._plink.raw().read(samples=rows, snps=columns)
        if isinstance(self._values, pd.DataFrame):
            return self._values.iloc[rows, columns].to_numpy(dtype=np.float64, na_value=np.nan)
        block = self._values[:, columns]
        block = block.compute() if self._dask else block
        return np.asarray(block, dtype=np.float64)[rows]


def _impute(positions: np.ndarray, values: np.ndarray) -> DosageBlock:
    called = ~np.isnan(values)
    n_called = called.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        means = np.nanmean(values, axis=0)
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    if not called.all():
        values = np.where(called, values, np.where(np.isfinite(means), means, 0.0))
    polymorphic = (n_called > 0) & (spread > 0)
    return DosageBlock(positions, values, n_called.astype(np.int64), means / 2.0, polymorphic)


def _merge_snp_info(table: pd.DataFrame, snp_info: pd.DataFrame, where: str) -> pd.DataFrame:
    if not isinstance(snp_info, pd.DataFrame) or len(snp_info) != len(table):
        got = f"{len(snp_info)} rows" if isinstance(snp_info, pd.DataFrame) else type(snp_info).__name__
        raise NtkmixedError(f"The 'snp_info' argument of {where} must be a DataFrame with one row per SNP ({len(table)}). Got {got}.")
    columns = {c.lower(): c for c in snp_info.columns}
    aliases = {"snp": ("snp", "id", "rsid"), "chr": ("chr", "chrom", "chromosome"), "bp": ("bp", "pos", "position"),
               "a1": ("a1",), "a2": ("a2",)}
    out = table.copy()
    for key, names in aliases.items():
        found = next((columns[n] for n in names if n in columns), None)
        if found is None:
            continue
        values = snp_info[found].to_numpy()
        out[key] = values.astype(np.int64) if key == "bp" else pd.array([None if pd.isna(v) else str(v) for v in values], dtype="string")
    if "chr" not in {k for k, names in aliases.items() if any(n in columns for n in names)}:
        raise NtkmixedError(f"The 'snp_info' argument of {where} needs a 'chr' column. Got columns {list(snp_info.columns)}.")
    return out


def _is_dask(values: Any) -> bool:
    return type(values).__module__.startswith("dask") and hasattr(values, "compute")
