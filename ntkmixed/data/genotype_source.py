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
  that builds its own task graph (the matrix-free GRM engine).

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
        self.values = np.asfortranarray(stored)
        self.n_samples, self.n_snps = stored.shape

    @classmethod
    def from_dosages(cls, values: np.ndarray) -> "ArraySource":
        return cls(compact_dosages(values))

    def read(self, start: int, stop: int) -> np.ndarray:
        return dosages_from_stored(self.values[:, start:stop])

    def rows(self, positions: np.ndarray) -> "ArraySource":
        return ArraySource(self.values.take(np.asarray(positions, dtype=np.intp), axis=0))

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
        raw = self.source.read_columns(self.kept_columns[start:stop])
        return standardize_block(raw, self._means[start:stop], factor / self._sds[start:stop])

    def bounds(self, min_blocks: int = 1, block_bytes: int = BLOCK_BYTES) -> list[tuple[int, int]]:
        """Consecutive column ranges covering the kept SNPs: at least ``min_blocks`` of
        them (when there are that many SNPs), none over ``block_bytes`` as float64."""
        width = block_width(self.n_samples, self.n_snps, block_bytes)
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


def standardize_block(raw: np.ndarray, means: np.ndarray, inverse_sds: np.ndarray) -> np.ndarray:
    """(g − mean) · (1/sd) per column, 0 for a missing call, from int8 codes (−1 missing)
    or float dosages (NaN missing): the same arithmetic for every source."""
    if raw.dtype == np.int8:
        z = raw.astype(np.float64)
        z -= means
        z *= inverse_sds
        missing = raw < 0  # a pass over one byte per call; the write only where there are any
        if missing.any():
            z[missing] = 0.0
        return z
    z = np.asarray(raw, dtype=np.float64) - means
    z *= inverse_sds
    z[np.isnan(z)] = 0.0
    return z


def read_plink_dask(prefix: Any, snps_per_chunk: int | None = None):
    """A PLINK fileset as a dask array (people × SNPs, float64, NaN missing), read lazily.

    Each chunk of SNPs is one task that opens the .bed itself, so on a multi-machine dask
    cluster every worker reads its own columns from a shared file system; nothing is
    read here. Pass the array as ``genotypes`` (rows follow the .fam; align data by
    position or give a DataFrame of IDs) to fit with the matrix-free engine on the
    active dask scheduler.

    Parameters
    ----------
    prefix : str, path or Genotypes
        The fileset (``prefix.bed/.bim/.fam``) or an opened (possibly subset) view.
    snps_per_chunk : int, optional
        SNP columns per task (default: about 64 MB of float64 per chunk).

    Returns
    -------
    dask.array.Array
        n × p dosages of the A1 allele.
    """
    import dask
    import dask.array as da

    from .plink import Genotypes, read_plink

    genotypes = prefix if isinstance(prefix, Genotypes) else read_plink(prefix)
    n, p = genotypes.shape
    width = snps_per_chunk or block_width(n, p)
    chunks = []
    for start in range(0, p, width):
        stop = min(start + width, p)
        task = dask.delayed(_read_plink_columns, pure=True)(genotypes, start, stop)
        chunks.append(da.from_delayed(task, shape=(n, stop - start), dtype=np.float64))
    return da.concatenate(chunks, axis=1)


def _read_plink_columns(genotypes, start: int, stop: int) -> np.ndarray:
    return genotypes.read(snps=np.arange(start, stop))
