"""PLINK 1 binary filesets (.bed/.bim/.fam): reading, validation and lazy subsetting.

:func:`read_plink` checks the fileset once (files present, .bed magic bytes, .bed size
against the .fam and .bim row counts, unique IIDs) and returns a :class:`Genotypes`
object that holds only the sample and SNP tables. Dosages are read on demand by
bed-reader; subsetting by SNP, region or sample only narrows the index, nothing is read.

Dosages count the A1 allele (column 5 of the .bim), as bed-reader and PLINK's
``--export A`` do: 0, 1, 2, NaN for a missing call.

The module is over 400 lines because of its documentation: the numpy-style docstrings of
the :class:`Genotypes` view (one per property and selection method, shown in the API
reference) are about a third of it; the code is the reader and one view class.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import PathLike, check
from ..exceptions import NtkmixedError
from .genotype_stats import snp_statistics
from .tables import numeric_column, read_table

_MAGIC = bytes([0x6C, 0x1B, 0x01])  # PLINK 1 .bed, SNP-major
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "phenotype"]
BIM_COLUMNS = ["chrom", "snp", "cm", "pos", "a1", "a2"]
_BLOCK_BYTES = 256 * 2**20


def read_plink(prefix: str | os.PathLike) -> "Genotypes":
    """Open the PLINK fileset ``prefix.bed/.bim/.fam`` (``prefix`` may end in one of
    those suffixes). Raises :class:`~ntkmixed.exceptions.NtkmixedError` for missing
    files, a malformed or truncated .bed, .fam/.bim row counts that disagree with the
    .bed size, and duplicated IIDs.

    Parameters
    ----------
    prefix : str or os.PathLike
        The fileset prefix (``data`` for ``data.bed``, ``data.bim``, ``data.fam``).

    Returns
    -------
    Genotypes
        A lazy view of all people and SNPs; nothing is read until dosages are asked for.

    Examples
    --------
    >>> import ntkmixed as nm
    >>> G = nm.read_plink(nm.datasets.example_paths()["bfile"])
    >>> G.shape
    (700, 740)
    """
    base = _strip_suffix(Path(check(prefix, "prefix", "read_plink", PathLike())))
    paths = {ext: base.with_name(base.name + "." + ext) for ext in ("bed", "bim", "fam")}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise NtkmixedError(
            f"PLINK fileset {str(base)!r} is incomplete: missing {', '.join(absent)}."
        )
    fam = _read_table(paths["fam"], FAM_COLUMNS, {c: str for c in FAM_COLUMNS})
    bim = _read_table(
        paths["bim"], BIM_COLUMNS,
        {"chrom": str, "snp": str, "cm": np.float64, "pos": np.int64, "a1": str, "a2": str},
    )
    _check_bed(paths["bed"], n_samples=len(fam), n_snps=len(bim))
    iids = pd.Index(fam["iid"], name="IID")
    if iids.has_duplicates:
        dups = iids[iids.duplicated()].unique()
        raise NtkmixedError(
            f"{paths['fam']} has {len(dups)} duplicated IID(s) (ntkmixed matches people by "
            f"IID, so IIDs must be unique): {dups[:5].tolist()}."
        )
    return Genotypes(paths["bed"], fam, bim)


class Genotypes:
    """Genotypes of a PLINK fileset, read lazily.

    Attributes: ``sample_ids`` (IIDs, ``pd.Index`` named ``"IID"``), ``fid``, ``fam``
    (the .fam rows), ``snps`` (the .bim rows: chrom, snp, cm, pos, a1, a2), ``snp_ids``.
    :meth:`read` returns the n×p float64 dosage matrix, :meth:`to_dataframe` the same
    indexed by IID with SNP IDs as columns. :meth:`select_snps`, :meth:`select_region`,
    :meth:`select_samples` and :meth:`subset` return narrowed views without reading.

    After :func:`ntkmixed.qc.qc` (or :meth:`impute_mean`) missing calls are replaced by
    the per-SNP mean of the retained people; ``imputation`` records how many.

    Made by :func:`ntkmixed.read_plink`; the constructor arguments describe a view.

    Parameters
    ----------
    bed_path : pathlib.Path
        The .bed file.
    fam, bim : pandas.DataFrame
        All rows of the .fam and .bim files.
    sample_index, snp_index : numpy.ndarray, optional
        Positions of the people and SNPs in view (default: all).
    impute_means : numpy.ndarray, optional
        Per-SNP means that replace missing calls (default: missing calls stay NaN).
    imputation : dict, optional
        ``{"method": "mean", "n_imputed": k}`` when missing calls are imputed.
    qc_report : QCReport, optional
        The quality control that produced this view.
    """

    def __init__(
        self,
        bed_path: Path,
        fam: pd.DataFrame,
        bim: pd.DataFrame,
        sample_index: np.ndarray | None = None,
        snp_index: np.ndarray | None = None,
        impute_means: np.ndarray | None = None,
        imputation: dict[str, Any] | None = None,
        qc_report: Any = None,
    ):
        self.bed_path = Path(bed_path)
        self._fam_all = fam
        self._bim_all = bim
        self._sample_index = np.arange(len(fam)) if sample_index is None else np.asarray(sample_index, dtype=np.intp)
        self._snp_index = np.arange(len(bim)) if snp_index is None else np.asarray(snp_index, dtype=np.intp)
        self._impute_means = impute_means
        #: ``{"method": "mean", "n_imputed": k}`` once missing calls are imputed, else None
        self.imputation = imputation
        #: the :class:`~ntkmixed.qc.QCReport` that produced this object, if any
        self.qc_report = qc_report

    # --- tables --------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """The fileset prefix."""
        return str(self.bed_path.with_suffix(""))

    @property
    def fam(self) -> pd.DataFrame:
        """The .fam rows of the people in view (fid, iid, father, mother, sex, phenotype)."""
        return self._fam_all.iloc[self._sample_index].reset_index(drop=True)

    @property
    def snps(self) -> pd.DataFrame:
        """The .bim rows of the SNPs in view (chrom, snp, cm, pos, a1, a2)."""
        return self._bim_all.iloc[self._snp_index].reset_index(drop=True)

    @property
    def sample_ids(self) -> pd.Index:
        """IIDs of the people in view (``pandas.Index`` named ``"IID"``)."""
        return pd.Index(self._fam_all["iid"].to_numpy()[self._sample_index], name="IID")

    @property
    def fid(self) -> pd.Index:
        """Family IDs of the people in view."""
        return pd.Index(self._fam_all["fid"].to_numpy()[self._sample_index], name="FID")

    @property
    def snp_ids(self) -> pd.Index:
        """IDs of the SNPs in view."""
        return pd.Index(self._bim_all["snp"].to_numpy()[self._snp_index], name="SNP")

    @property
    def n_samples(self) -> int:
        """Number of people in view."""
        return int(self._sample_index.size)

    @property
    def n_snps(self) -> int:
        """Number of SNPs in view."""
        return int(self._snp_index.size)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_snps)``."""
        return (self.n_samples, self.n_snps)

    def __repr__(self) -> str:
        chroms = pd.unique(self._bim_all["chrom"].to_numpy()[self._snp_index])
        shown = ", ".join(map(str, chroms[:5])) + (", …" if len(chroms) > 5 else "")
        extra = ", missing calls mean-imputed" if self._impute_means is not None else ""
        return (
            f"Genotypes({self.n_samples} samples × {self.n_snps} SNPs from "
            f"{self.prefix!r}; chromosome(s) {shown}{extra})"
        )

    # --- dosages -------------------------------------------------------------------
    def read(self, samples: np.ndarray | None = None, snps: np.ndarray | None = None) -> np.ndarray:
        """Dosage matrix (float64; NaN for missing calls unless imputed).

        Parameters
        ----------
        samples, snps : numpy.ndarray, optional
            Positions within this view (default: all).

        Returns
        -------
        numpy.ndarray
            n × p dosages of the A1 allele count (0, 1, 2).
        """
        from bed_reader import open_bed

        rows = self._sample_index if samples is None else self._sample_index[samples]
        cols = self._snp_index if snps is None else self._snp_index[snps]
        if rows.size == 0 or cols.size == 0:
            return np.empty((rows.size, cols.size))
        with open_bed(self.bed_path, iid_count=len(self._fam_all), sid_count=len(self._bim_all)) as bed:
            values = bed.read(index=(rows, cols), dtype="float64", order="C")
        if self._impute_means is not None:
            means = self._impute_means if snps is None else self._impute_means[snps]
            missing = np.isnan(values)
            if missing.any():
                values[missing] = np.broadcast_to(means, values.shape)[missing]
        return values

    def iter_snp_blocks(self, block_size: int | None = None) -> Iterator[tuple[slice, np.ndarray]]:
        """``(positions, dosages)`` for consecutive blocks of SNPs, to bound memory.

        Parameters
        ----------
        block_size : int, optional
            SNPs per block (default: blocks of about 256 MB of float64 dosages).

        Yields
        ------
        positions : slice
            The SNP positions of the block within this view.
        dosages : numpy.ndarray
            n × block dosages.
        """
        if block_size is None:
            block_size = max(1, min(self.n_snps, _BLOCK_BYTES // (8 * max(self.n_samples, 1))))
        for start in range(0, self.n_snps, block_size):
            block = slice(start, min(start + block_size, self.n_snps))
            yield block, self.read(snps=np.arange(block.start, block.stop))

    def to_dataframe(self) -> pd.DataFrame:
        """Dosages indexed by IID, one column per SNP ID.

        Returns
        -------
        pandas.DataFrame
            n × p.
        """
        return pd.DataFrame(self.read(), index=self.sample_ids, columns=self.snp_ids)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self.read()
        return values if dtype is None else values.astype(dtype)

    # --- subsetting ----------------------------------------------------------------
    def select_snps(self, snps: Iterable[str]) -> "Genotypes":
        """The SNPs whose IDs are listed (kept in fileset order, as PLINK's ``--extract``);
        unknown IDs are an error.

        Parameters
        ----------
        snps : iterable of str
            SNP IDs.

        Returns
        -------
        Genotypes
            A narrowed view (nothing is read).
        """
        wanted = pd.Index([str(s) for s in _as_list(snps, "snps")])
        current = self.snp_ids
        unknown = wanted.difference(current)
        if len(unknown):
            raise NtkmixedError(
                f"{len(unknown)} of the {len(wanted)} requested SNP(s) are not in "
                f"{self.prefix!r}: {unknown[:5].tolist()}."
            )
        return self._narrow(snp_positions=np.flatnonzero(current.isin(wanted)))

    def select_region(self, chrom: Any, start: int | None = None, end: int | None = None) -> "Genotypes":
        """SNPs on chromosome ``chrom`` with ``start <= pos <= end`` (base pairs, either
        bound optional). An empty region is an error.

        Parameters
        ----------
        chrom : str or int
            Chromosome code as in the .bim file.
        start, end : int, optional
            Base-pair bounds, inclusive.

        Returns
        -------
        Genotypes
            A narrowed view (nothing is read).
        """
        snps = self.snps
        mask = snps["chrom"].astype(str).str.removeprefix("chr") == str(chrom).removeprefix("chr")
        if start is not None:
            mask &= snps["pos"] >= int(start)
        if end is not None:
            mask &= snps["pos"] <= int(end)
        if not mask.any():
            span = "" if start is None and end is None else f":{start or 0}-{'end' if end is None else end}"
            raise NtkmixedError(f"No SNP of {self.prefix!r} lies in the region chromosome {chrom}{span}.")
        return self._narrow(snp_positions=np.flatnonzero(mask.to_numpy()))

    def select_samples(self, ids: Iterable[Any]) -> "Genotypes":
        """The people with these IIDs, in the order given; unknown IIDs are an error.

        Parameters
        ----------
        ids : iterable
            IIDs.

        Returns
        -------
        Genotypes
            A narrowed view (nothing is read).
        """
        wanted = pd.Index([str(i) for i in _as_list(ids, "ids")])
        if wanted.has_duplicates:
            raise NtkmixedError(f"The 'ids' argument of select_samples has duplicates: {wanted[wanted.duplicated()][:5].tolist()}.")
        positions = self.sample_ids.get_indexer(wanted)
        if (positions < 0).any():
            raise NtkmixedError(
                f"{int((positions < 0).sum())} of the {len(wanted)} requested IID(s) are not "
                f"in {self.prefix!r}: {wanted[positions < 0][:5].tolist()}."
            )
        return self._narrow(sample_positions=positions)

    def subset(
        self,
        snps: Iterable[str] | None = None,
        chrom: Any = None,
        start: int | None = None,
        end: int | None = None,
        samples: Iterable[Any] | None = None,
    ) -> "Genotypes":
        """Combine :meth:`select_snps`, :meth:`select_region` and :meth:`select_samples`.

        Parameters
        ----------
        snps : iterable of str, optional
            SNP IDs to keep.
        chrom : str or int, optional
            Chromosome to keep.
        start, end : int, optional
            Base-pair bounds on ``chrom``.
        samples : iterable, optional
            IIDs to keep, in this order.

        Returns
        -------
        Genotypes
            A narrowed view (nothing is read).
        """
        out = self
        if snps is not None:
            out = out.select_snps(snps)
        if chrom is not None:
            out = out.select_region(chrom, start, end)
        elif start is not None or end is not None:
            raise NtkmixedError("A base-pair range ('start'/'end') needs a chromosome ('chrom').")
        if samples is not None:
            out = out.select_samples(samples)
        return out

    def impute_mean(self) -> "Genotypes":
        """Missing calls replaced by each SNP's mean dosage over these people. A SNP with
        no called genotype at all is an error (remove it first, e.g. ``geno=``).

        Returns
        -------
        Genotypes
            The same view with imputation recorded in ``imputation``.
        """
        stats = snp_statistics(self)
        empty = stats.index[stats["n_called"].to_numpy() == 0]
        if len(empty):
            raise NtkmixedError(
                f"{len(empty)} SNP(s) have no called genotype in the {self.n_samples} people "
                f"analysed, so their missing calls cannot be imputed: {empty[:5].tolist()}. "
                "Remove them with a missingness filter (geno=, --geno) or an exclusion list."
            )
        n_imputed = int(stats["n_missing"].sum())
        means = stats["mean_dosage"].to_numpy()
        return self._narrow(impute_means=means, imputation={"method": "mean", "n_imputed": n_imputed})

    def raw(self) -> "Genotypes":
        """The same view with missing calls left missing (undoes :meth:`impute_mean`).

        Returns
        -------
        Genotypes
            The view without imputation.
        """
        return self._narrow(impute_means=None, imputation=None)

    def qc(self, **thresholds: Any) -> "Genotypes":
        """:func:`ntkmixed.qc.qc` on this object.

        Parameters
        ----------
        **thresholds
            ``maf``, ``geno``, ``mind``, ``hwe``, ``impute`` as :func:`ntkmixed.qc.qc` takes them.

        Returns
        -------
        Genotypes
            The people and SNPs that pass, with the report in ``qc_report``.
        """
        from .qc import qc

        return qc(self, **thresholds)

    def _narrow(
        self,
        sample_positions: np.ndarray | None = None,
        snp_positions: np.ndarray | None = None,
        **changes: Any,
    ) -> "Genotypes":
        means = changes.get("impute_means", self._impute_means)
        if means is not None and snp_positions is not None and "impute_means" not in changes:
            means = means[snp_positions]
        return Genotypes(
            self.bed_path,
            self._fam_all,
            self._bim_all,
            sample_index=self._sample_index if sample_positions is None else self._sample_index[sample_positions],
            snp_index=self._snp_index if snp_positions is None else self._snp_index[snp_positions],
            impute_means=means,
            imputation=changes.get("imputation", self.imputation),
            qc_report=changes.get("qc_report", self.qc_report),
        )


def _strip_suffix(path: Path) -> Path:
    if path.suffix in (".bed", ".bim", ".fam"):
        return path.with_suffix("")
    return path


def _as_list(values: Any, name: str) -> list[Any]:
    if isinstance(values, (str, bytes)):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise NtkmixedError(f"The {name!r} argument must be a list of IDs. Got {type(values).__name__}.") from None


def _read_table(path: Path, columns: list[str], dtypes: dict[str, Any]) -> pd.DataFrame:
    table = read_table(path, what=f".{path.suffix.lstrip('.')} file")
    frame = table.frame
    if frame.shape[1] != len(columns):
        raise NtkmixedError(
            f"{path} must have {len(columns)} columns ({' '.join(columns)}). Got {frame.shape[1]}."
        )
    frame.columns = columns
    for column, dtype in dtypes.items():
        if dtype is str:
            frame[column] = frame[column].astype(object)
            continue
        values = numeric_column(table, column, f"column {column!r}", what=f".{path.suffix.lstrip('.')} file")
        if dtype is np.int64 and (values != np.round(values)).any():
            row = int(np.flatnonzero((values != np.round(values)).to_numpy())[0])
            raise NtkmixedError(f"{path}, line {table.line(row)}: column {column!r} must be a whole number. "
                                f"Got {frame[column].iloc[row]!r}.")
        frame[column] = values.astype(dtype)
    return frame


#: SNP blocks whose padding bits are checked (spread over the file)
_PADDING_CHECKS = 4096


def _check_padding(path: Path, n_samples: int, n_snps: int) -> None:
    """PLINK writes zeros in the unused 2-bit slots at the end of each SNP's block (when the
    number of people is not a multiple of 4). Non-zero padding means the .bed holds
    genotypes for more people than the .fam lists, which the file size cannot show when
    the difference stays within the last byte."""
    used = n_samples % 4
    if used == 0 or n_snps == 0:
        return
    bytes_per_snp = (n_samples + 3) // 4
    blocks = np.unique(np.linspace(0, n_snps - 1, min(n_snps, _PADDING_CHECKS)).astype(np.int64))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=3, shape=(n_snps, bytes_per_snp))
    last = np.asarray(data[blocks, -1])
    del data
    nonzero = int(np.count_nonzero(last >> (2 * used)))
    if nonzero:
        raise NtkmixedError(
            f"{path} does not match its .fam: the padding bits after the {n_samples} people of the .fam are "
            f"not zero in {nonzero} of the {blocks.size} SNP blocks checked, so the .bed holds genotypes for "
            "more people than the .fam lists (a .fam that belongs to another .bed?)."
        )


def _check_bed(path: Path, n_samples: int, n_snps: int) -> None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        magic = handle.read(3)
    if len(magic) < 3 or magic[:2] != _MAGIC[:2]:
        raise NtkmixedError(f"{path} is not a PLINK 1 .bed file (its first bytes are not 0x6c 0x1b).")
    if magic[2] != _MAGIC[2]:
        raise NtkmixedError(
            f"{path} is in individual-major mode; ntkmixed reads SNP-major .bed files "
            "(rewrite it with plink --make-bed)."
        )
    bytes_per_snp = (n_samples + 3) // 4
    expected = 3 + n_snps * bytes_per_snp
    if size == expected:
        _check_padding(path, n_samples, n_snps)
        return
    held = (size - 3) / bytes_per_snp if bytes_per_snp else float("nan")
    what = "truncated" if size < expected else "longer than expected"
    raise NtkmixedError(
        f"{path} is {what}: {size} bytes, but {n_samples} samples (.fam) × {n_snps} SNPs "
        f"(.bim) need {expected} bytes ({held:.6g} SNPs' worth of data present). The .bed "
        "does not match its .fam/.bim."
    )
