"""Genotypes of the people a model is fitted to, read in SNP blocks, so that no n×p
float64 copy of all dosages has to exist.

A :class:`GenotypeSource` holds the dosages of a fixed list of people (its rows) and
reads any range of SNP columns as float64 (NaN for a missing call):

* :class:`ArraySource` — in memory, compactly: int8 codes (−1 missing) when every
  dosage is 0, 1 or 2, float32 when that is lossless, else float64;
* :class:`PlinkSource` — a PLINK fileset (:class:`~ntkmixed.data.plink.Genotypes`),
  blocks read from the .bed on demand;
* :class:`DaskSource` — a ``dask.array.Array`` (people × SNPs, any chunks); blocks are
  computed on the active scheduler, and :attr:`DaskSource.dask` hands the array to code
  that builds its own task graph (the matrix-free GRM engine); a PLINK fileset becomes
  one lazily by :func:`~ntkmixed.data.plink_dask.read_plink_dask`.

:class:`StandardizedGenotypes` pairs a source with the training
:class:`~ntkmixed.data.genotypes.Standardization` and yields standardised blocks of the
kept SNPs — what genotype kernels stream over. :func:`learn_standardization` computes the
standardisation in one pass with the same per-column arithmetic as
:func:`~ntkmixed.data.genotypes.standardize`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._validation import examples
from ..exceptions import DataWarning, NtkmixedError, warn
from .genotypes import Standardization, check_dosages, column_statistics

#: float64 bytes of one block read from a source (bounds the memory of a pass)
BLOCK_BYTES = 64 * 2**20


def block_width(n_rows: int, n_columns: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Columns per block so that an n_rows × width float64 block fits ``block_bytes``."""
    return max(1, min(max(n_columns, 1), block_bytes // (8 * max(n_rows, 1))))


def is_dask_array(value: Any) -> bool:
    return type(value).__module__.startswith("dask.") and hasattr(value, "chunks") and hasattr(value, "compute")


class GenotypeSource:
    """Dosages of ``n_samples`` people (rows) at ``n_snps`` SNPs, read by column range."""

    n_samples: int
    n_snps: int
    #: a dask array of the same dosages (rows × SNPs) when the source is backed by one
    dask = None

    def missing_columns(self) -> np.ndarray | None:
        """Which SNP columns hold a missing call, where the source knows without a read
        (None: unknown, so every block is checked)."""
        return None

    def read(self, start: int, stop: int) -> np.ndarray:
        """float64 dosages of SNP columns ``start:stop`` (NaN for missing calls)."""
        raise NotImplementedError

    def rows(self, positions: np.ndarray) -> "GenotypeSource":
        """The same SNPs for the people at ``positions`` (in that order)."""
        raise NotImplementedError

    def read_columns(self, columns: np.ndarray) -> np.ndarray:
        """Dosages of these SNP columns in the source's own form: int8 codes (−1
        missing) where it stores them so, else float64 with NaN."""
        if columns.size == 0:
            return np.zeros((self.n_samples, 0))
        first, last = int(columns[0]), int(columns[-1]) + 1
        return self.read(first, last)[:, columns - first]

    def blocks(self, width: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, stop, dosages)`` over consecutive SNP blocks."""
        width = width or block_width(self.n_samples, self.n_snps)
        for start in range(0, self.n_snps, width):
            stop = min(start + width, self.n_snps)
            yield start, stop, self.read(start, stop)

    def to_array(self) -> np.ndarray:
        """All dosages as one float64 array (n × p): only for code that needs them so."""
        out = np.empty((self.n_samples, self.n_snps))
        for start, stop, values in self.blocks():
            out[:, start:stop] = values
        return out

    def stored(self) -> np.ndarray:
        """The dosages in their most compact lossless array form (for saving)."""
        return compact_dosages(self.to_array())


def compact_dosages(values: np.ndarray) -> np.ndarray:
    """int8 codes (−1 missing) when every value is 0, 1, 2 or NaN; float32 when that
    represents every value exactly; else float64."""
    values = np.asarray(values)
    if values.dtype == np.int8:
        return values
    finite = values[~np.isnan(values)] if values.dtype.kind == "f" else values.ravel()
    if np.all((finite == 0) | (finite == 1) | (finite == 2)):
        codes = np.where(np.isnan(values), -1, values).astype(np.int8) if values.dtype.kind == "f" else values.astype(np.int8)
        return codes
    single = values.astype(np.float32)
    if np.array_equal(single.astype(np.float64), values, equal_nan=True):
        return single
    return np.asarray(values, dtype=np.float64)


#: columns per step when people are reordered, and rows per step of a change of layout
ROW_GATHER_COLUMNS = 64
LAYOUT_ROWS = 4096


def fortran_order(values: np.ndarray) -> np.ndarray:
    """``values`` in column-major order, copied in row blocks when it is not (3.5× one
    ``np.asfortranarray`` on int8 codes: each block's transpose stays in cache)."""
    if values.flags.f_contiguous:
        return values
    out = np.empty(values.shape, dtype=values.dtype, order="F")
    for start in range(0, values.shape[0], LAYOUT_ROWS):
        out[start : start + LAYOUT_ROWS] = values[start : start + LAYOUT_ROWS]
    return out


def dosages_from_stored(stored: np.ndarray) -> np.ndarray:
    """float64 dosages from :func:`compact_dosages`' output (int8 −1 is missing)."""
    if stored.dtype == np.int8:
        out = stored.astype(np.float64)
        out[stored < 0] = np.nan
        return out
    return np.asarray(stored, dtype=np.float64)


class ArraySource(GenotypeSource):
    """Dosages held in memory in a compact array (see :func:`compact_dosages`)."""

    def __init__(self, stored: np.ndarray):
        if stored.ndim != 2:
            raise ValueError(f"dosages must be an n×p matrix; got shape {stored.shape}")
        # column-major: every pass reads SNP blocks, which are then contiguous (a gather of
        # columns from a row-major array cost 4× the block's matrix product)
        self.values = fortran_order(stored)
        self.n_samples, self.n_snps = stored.shape
        self._missing_columns: np.ndarray | None = None

    @classmethod
    def from_dosages(cls, values: np.ndarray) -> "ArraySource":
        return cls(compact_dosages(values))

    def read(self, start: int, stop: int) -> np.ndarray:
        return dosages_from_stored(self.values[:, start:stop])

    def rows(self, positions: np.ndarray) -> "ArraySource":
        positions = np.asarray(positions, dtype=np.intp)
        if positions.size == self.n_samples and np.array_equal(positions, np.arange(self.n_samples)):
            return self  # data already in genotype order: no copy (1 GB at 100k × 10k)
        out = np.empty((positions.size, self.n_snps), dtype=self.values.dtype, order="F")
        for start in range(0, self.n_snps, ROW_GATHER_COLUMNS):  # contiguous columns: 2× one take
            stop = min(start + ROW_GATHER_COLUMNS, self.n_snps)
            out[:, start:stop] = self.values[:, start:stop][positions]
        return ArraySource(out)

    def missing_columns(self) -> np.ndarray:
        """Columns with a missing call, found once (one read of the stored codes)."""
        if self._missing_columns is None:
            if self.values.dtype == np.int8:
                self._missing_columns = (self.values < 0).any(axis=0)
            else:
                self._missing_columns = np.isnan(self.values).any(axis=0)
        return self._missing_columns

    def code_statistics(self, scale: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-SNP mean and SD of the called int8 codes from the counts of 0, 1 and 2
        (what :func:`~ntkmixed.data.genotypes.column_statistics` computes from float64
        dosages, to round-off, in a fifth of its time at 100 000 × 10 000)."""
        ones, twos, called = (np.empty(self.n_snps) for _ in range(3))
        for start in range(0, self.n_snps, ROW_GATHER_COLUMNS):
            block = self.values[:, start : start + ROW_GATHER_COLUMNS]
            stop = start + block.shape[1]
            ones[start:stop] = np.count_nonzero(block == 1, axis=0)
            twos[start:stop] = np.count_nonzero(block == 2, axis=0)
            called[start:stop] = np.count_nonzero(block >= 0, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # all-missing columns give NaN
            means = (ones + 2.0 * twos) / called
            if scale == "binomial":
                freq = means / 2.0
                return means, np.sqrt(2.0 * freq * (1.0 - freq))
            squares = (called - ones - twos) * means**2 + ones * (1.0 - means) ** 2 + twos * (2.0 - means) ** 2
            return means, np.sqrt(squares / called)

    def called_counts(self) -> np.ndarray:
        """Non-missing calls per person, reading only the columns that have a missing one."""
        missing = np.flatnonzero(self.missing_columns())
        counts = np.full(self.n_samples, self.n_snps, dtype=np.int64)
        for start in range(0, missing.size, ROW_GATHER_COLUMNS):
            block = self.values[:, missing[start : start + ROW_GATHER_COLUMNS]]
            counts -= np.count_nonzero(block < 0 if block.dtype == np.int8 else np.isnan(block), axis=1)
        return counts

    def read_columns(self, columns: np.ndarray) -> np.ndarray:
        columns = np.asarray(columns, dtype=np.intp)
        if columns.size and columns[-1] - columns[0] == columns.size - 1 and np.all(np.diff(columns) == 1):
            block = self.values[:, columns[0] : columns[-1] + 1]  # a view: consecutive SNPs
        else:
            block = self.values[:, columns]
        if self.values.dtype == np.int8:
            return block
        return np.asarray(block, dtype=np.float64)

    def stored(self) -> np.ndarray:
        return self.values


class PlinkSource(GenotypeSource):
    """Dosages read from a PLINK fileset block by block (``rows``: positions of the
    people within the :class:`~ntkmixed.data.plink.Genotypes` view)."""

    def __init__(self, genotypes, rows: np.ndarray | None = None):
        self.genotypes = genotypes
        self.row_positions = np.arange(genotypes.n_samples) if rows is None else np.asarray(rows, dtype=np.intp)
        self.n_samples, self.n_snps = self.row_positions.size, genotypes.n_snps

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.genotypes.read(samples=self.row_positions, snps=np.arange(start, stop))

    def rows(self, positions: np.ndarray) -> "PlinkSource":
        return PlinkSource(self.genotypes, self.row_positions[np.asarray(positions, dtype=np.intp)])

    def read_columns(self, columns: np.ndarray) -> np.ndarray:
        return self.genotypes.read(samples=self.row_positions, snps=np.asarray(columns, dtype=np.intp))


class DaskSource(GenotypeSource):
    """Dosages in a dask array (people × SNPs); reads compute on the active scheduler."""

    def __init__(self, array):
        if array.ndim != 2:
            raise NtkmixedError(f"A dask array of genotypes must be 2-D (people × SNPs). Got shape {array.shape}.")
        self.dask = array.astype(np.float64)
        self.n_samples, self.n_snps = (int(s) for s in array.shape)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.dask[:, start:stop].compute(), dtype=np.float64)

    def rows(self, positions: np.ndarray) -> "DaskSource":
        return DaskSource(self.dask[np.asarray(positions, dtype=np.intp)])


def source_of(genotypes: Any, name: str, where: str):
    """``(source, sample_ids or None, snp_names)`` for what a user passed as genotypes,
    reading nothing from a PLINK fileset or a dask array (their values are checked as
    they are read); arrays and DataFrames are checked and stored compactly."""
    from .genotypes import coerce_genotypes
    from .plink import Genotypes, read_plink

    if isinstance(genotypes, str) or hasattr(genotypes, "__fspath__"):
        genotypes = read_plink(genotypes)
    if isinstance(genotypes, Genotypes):
        snp_ids = genotypes.snp_ids
        if snp_ids.has_duplicates:  # SNPs are matched by ID at prediction, as for a DataFrame
            duplicated = snp_ids[snp_ids.duplicated()].unique()
            raise NtkmixedError(
                f"The {name!r} argument of {where} has duplicated SNP IDs in {genotypes.prefix}.bim: "
                f"{examples(list(duplicated))}. SNPs are matched by ID at prediction, so IDs must be unique "
                "(PLINK 2: --set-all-var-ids or --rm-dup).")
        return PlinkSource(genotypes), genotypes.sample_ids, [str(s) for s in snp_ids]
    if is_dask_array(genotypes):
        source = DaskSource(genotypes)
        if source.n_snps == 0:
            raise NtkmixedError(f"The {name!r} argument of {where} has no SNP column (shape {genotypes.shape}).")
        return source, None, [f"snp{j + 1}" for j in range(source.n_snps)]
    values, ids, snp_names = coerce_genotypes(genotypes, name, where, keep_integer=True)
    return ArraySource.from_dosages(values), ids, snp_names


def called_counts(source: GenotypeSource, name: str, where: str, check: bool) -> np.ndarray:
    """Non-missing calls per person, in one pass; ``check`` applies the dosage value
    rule to every block (sources whose values were not checked when read)."""
    if isinstance(source, ArraySource) and not check:
        return source.called_counts()
    counts = np.zeros(source.n_samples, dtype=np.int64)
    for start, _, values in source.blocks():
        if check:
            check_dosages(values, name, where)
        counts += np.count_nonzero(~np.isnan(values), axis=1)
    return counts


def learn_standardization(source: GenotypeSource, snp_names: list[str], scale: str = "sample",
                          quiet: bool = False) -> Standardization:
    """The training standardisation of ``source``'s people in one pass (per-SNP means
    and SDs as :func:`~ntkmixed.data.genotypes.standardize` computes them)."""
    if isinstance(source, ArraySource) and source.values.dtype == np.int8 and scale in ("sample", "binomial"):
        means, sds = source.code_statistics(scale)
    else:
        means, sds = np.empty(source.n_snps), np.empty(source.n_snps)
        for start, stop, values in source.blocks():
            means[start:stop], sds[start:stop] = column_statistics(values, scale)
    kept = np.isfinite(sds) & (sds > 1e-12)
    if not kept.any():
        raise NtkmixedError(
            "The 'genotypes' argument has no polymorphic SNP: every column is constant or entirely missing."
        )
    dropped = int((~kept).sum())
    if dropped and not quiet:
        warn(f"Dropped {dropped} monomorphic or all-missing SNP(s) of {kept.size}.", DataWarning)
    return Standardization(means=np.where(np.isfinite(means), means, 0.0), sds=np.where(kept, sds, 1.0), kept=kept,
                           snp_names=tuple(snp_names), scale=scale)


class StandardizedGenotypes:
    """Standardised genotypes of the kept SNPs (z = (g − mean)/sd, 0 for a missing
    call), produced in column blocks from a source and the training standardisation."""

    def __init__(self, source: GenotypeSource, standardization: Standardization):
        self.source = source
        self.standardization = standardization
        self.kept_columns = np.flatnonzero(standardization.kept)
        self.n_samples, self.n_snps = source.n_samples, int(self.kept_columns.size)
        self._means = standardization.means[self.kept_columns]
        self._sds = standardization.sds[self.kept_columns]

    def block(self, start: int, stop: int, factor: float = 1.0) -> np.ndarray:
        """Standardised columns ``start:stop`` of the kept SNPs (n × (stop − start)),
        times ``factor``."""
        columns = self.kept_columns[start:stop]
        missing = self.source.missing_columns()
        raw = self.source.read_columns(columns)
        return standardize_block(raw, self._means[start:stop], factor / self._sds[start:stop],
                                 may_be_missing=missing is None or bool(missing[columns].any()))

    def bounds(self, min_blocks: int = 1, block_bytes: int | None = None) -> list[tuple[int, int]]:
        """Consecutive column ranges covering the kept SNPs: at least ``min_blocks`` of
        them (when there are that many SNPs), none over ``block_bytes`` as float64
        (default ``BLOCK_BYTES``)."""
        width = block_width(self.n_samples, self.n_snps, block_bytes or BLOCK_BYTES)
        count = min(self.n_snps, max(min_blocks, -(-self.n_snps // width)))
        edges = np.linspace(0, self.n_snps, count + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def dense(self) -> np.ndarray:
        """All standardised genotypes as one float64 array (n × kept SNPs)."""
        out = np.empty((self.n_samples, self.n_snps))
        for start, stop in self.bounds():
            out[:, start:stop] = self.block(start, stop)
        return out

    def dask_blocks(self, bounds: list[tuple[int, int]], factor: float = 1.0) -> list | None:
        """The standardised blocks (times ``factor``) as dask arrays — tasks on the
        active scheduler — or None when the source is not a dask array."""
        if self.source.dask is None:
            return None
        array = self.source.dask[:, self.kept_columns]
        return [array[:, a:b].rechunk({1: b - a}).map_blocks(
            standardize_block, self._means[a:b], factor / self._sds[a:b], dtype=np.float64) for a, b in bounds]


def standardize_block(raw: np.ndarray, means: np.ndarray, inverse_sds: np.ndarray,
                      may_be_missing: bool = True) -> np.ndarray:
    """(g − mean) · (1/sd) per column, 0 for a missing call, from int8 codes (−1 missing)
    or float dosages (NaN missing): the same arithmetic for every source.
    ``may_be_missing=False`` (the source knows these columns are complete) skips the
    search for missing int8 codes."""
    if raw.dtype == np.int8:
        z = np.empty(raw.shape, order="F" if raw.flags.f_contiguous else "C")
        np.subtract(raw, means, out=z)  # the int8 → float64 cast inside the ufunc: no temporary
        z *= inverse_sds
        if may_be_missing:
            missing = raw < 0  # a pass over one byte per call; the write only where there are any
            if missing.any():
                z[missing] = 0.0
        return z
    z = np.asarray(raw, dtype=np.float64) - means
    z *= inverse_sds
    z[np.isnan(z)] = 0.0
    return z
