"""Genotype matrices: coercion of what users pass, the value rule, and column
standardisation.

**Genotype values — one rule for arrays, DataFrames, PLINK filesets and prediction.**

* A value is an allele dosage in [0, 2]: the count of the A1 allele (0, 1, 2) or a
  fractional dosage from imputation. NaN (``None``/``pd.NA`` in a DataFrame) is a missing
  call; missing calls are set to the training mean at standardisation, and a person with
  no call at all is left out (training: dropped with a count; prediction: predicted NaN
  with a warning).
* Anything else is an error that names the cells (sample and SNP): negative values,
  values above 2, ±inf, and text (numbers stored as strings included). In particular −9,
  the missing code of many PLINK text exports, is *not* read as missing from arrays or
  DataFrames — replace it first (``G.replace(-9, np.nan)``). The readers say where −9 is
  missing: phenotype and covariate files (:mod:`ntkmixed.data.phenotypes`) yes; a .bed
  fileset has its own missing code and yields 0/1/2/NaN.
* Sample IDs are a DataFrame's index or a fileset's IIDs; an array has none and pairs
  with ``data`` by position (equal row counts required). SNP IDs are the DataFrame's
  columns or the .bim IDs, and must be unique, because prediction matches SNPs by ID.

Standardisation is learned on the training individuals (means, SDs, which SNPs are kept)
and replayed unchanged on new individuals, so that kernels between training and new
people are computed in the same coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import cells, examples
from ..exceptions import DataWarning, NtkmixedError, warn

#: the range of an allele dosage
DOSAGE_RANGE = (0.0, 2.0)
#: cells checked at a time (bounds the temporary masks of :func:`check_dosages`)
_CHECK_BLOCK = 2**24


@dataclass(frozen=True)
class Standardization:
    """Per-SNP centring and scaling learned from training genotypes.

    ``z_ij = (g_ij - mean_j) / sd_j`` for the kept (non-monomorphic) SNPs; missing calls
    are set to the training mean before scaling (so to 0 after it). ``scale`` says how the
    SD was obtained: ``"sample"`` (empirical SD, ddof=0) or ``"binomial"``
    (``sqrt(2 p (1 - p))`` with ``p = mean / 2``, as PLINK and GCTA do for 0/1/2 dosages).
    """

    means: np.ndarray
    sds: np.ndarray
    kept: np.ndarray
    snp_names: tuple[str, ...]
    scale: str = "sample"

    @property
    def n_snps(self) -> int:
        """Number of SNPs kept (polymorphic in training)."""
        return int(self.kept.sum())

    def apply(self, genotypes: np.ndarray) -> np.ndarray:
        """Standardise new rows with the training means and SDs.

        Parameters
        ----------
        genotypes : array_like
            n × p dosages with the training SNP columns (NaN for missing calls).

        Returns
        -------
        numpy.ndarray
            n × :attr:`n_snps` standardised genotypes.
        """
        values = np.asarray(genotypes, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.kept.size:
            raise NtkmixedError(
                f"The 'genotypes' argument of predict must have {self.kept.size} SNP columns, as in "
                f"training. Got shape {values.shape}."
            )
        kept = values[:, self.kept]
        means = self.means[self.kept]
        kept = np.where(np.isnan(kept), means, kept)
        return (kept - means) / self.sds[self.kept]


def standardize(
    genotypes: Any, scale: str = "sample", quiet: bool = False
) -> tuple[np.ndarray, Standardization]:
    """Standardise genotype columns; returns ``(Z, standardization)``.

    Monomorphic SNPs (zero variance among non-missing calls) are dropped, with a
    :class:`~ntkmixed.exceptions.DataWarning` unless ``quiet``.

    Parameters
    ----------
    genotypes : array_like, pandas.DataFrame, Genotypes or str
        n × p dosages (NaN for missing calls), a DataFrame indexed by sample ID, a
        :class:`~ntkmixed.Genotypes` or a PLINK prefix.
    scale : {"sample", "binomial"}, default "sample"
        Empirical SDs, or ``sqrt(2 p (1 - p))`` from the allele frequency (PLINK, GCTA).
    quiet : bool, default False
        Drop monomorphic SNPs without a warning.

    Returns
    -------
    Z : numpy.ndarray
        Standardised genotypes of the kept SNPs, missing calls at 0.
    standardization : Standardization
        The training means and SDs, to apply to new people.
    """
    values, _, snp_names = coerce_genotypes(genotypes, "genotypes", "standardize")
    means, sds = column_statistics(values, scale)
    kept = np.isfinite(sds) & (sds > 1e-12)
    if not kept.any():
        raise NtkmixedError(
            "The 'genotypes' argument has no polymorphic SNP: every column is constant or "
            "entirely missing."
        )
    dropped = int((~kept).sum())
    if dropped and not quiet:
        warn(f"Dropped {dropped} monomorphic or all-missing SNP(s) of {kept.size}.", DataWarning)
    standardization = Standardization(
        means=np.where(np.isfinite(means), means, 0.0),
        sds=np.where(kept, sds, 1.0),
        kept=kept,
        snp_names=tuple(snp_names),
        scale=scale,
    )
    return standardization.apply(values), standardization


def column_statistics(values: np.ndarray, scale: str = "sample") -> tuple[np.ndarray, np.ndarray]:
    """Per-SNP mean and SD of called dosages (NaN for an all-missing column); the one
    computation behind every standardisation, in memory or streamed in blocks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns give NaN
        complete = not np.isnan(values).any()  # the nan-functions copy the block: 5× slower
        means = np.mean(values, axis=0) if complete else np.nanmean(values, axis=0)
        if scale == "sample":
            sds = np.std(values, axis=0) if complete else np.nanstd(values, axis=0)
        elif scale == "binomial":
            freq = means / 2.0
            sds = np.sqrt(2.0 * freq * (1.0 - freq))
        else:
            raise NtkmixedError(
                f"The 'scale' parameter of standardize must be one of {{'sample', 'binomial'}}. "
                f"Got {scale!r} instead."
            )
    return means, sds


def coerce_genotypes(
    genotypes: Any, name: str, where: str, keep_integer: bool = False
) -> tuple[np.ndarray, pd.Index | None, list[str]]:
    """``(values, sample_ids or None, snp_names)`` from an array, a DataFrame indexed by
    sample ID, a PLINK prefix (str/Path) or any object with ``to_dataframe()``; the
    values obey the genotype value rule of this module (checked here). Values are
    float64, except that ``keep_integer`` leaves integer dosages in their integer type
    (a caller that stores int8 codes need not hold 8 bytes per genotype on the way)."""
    if isinstance(genotypes, (str,)) or hasattr(genotypes, "__fspath__"):
        from .plink import read_plink

        genotypes = read_plink(genotypes)
    if not isinstance(genotypes, (pd.DataFrame, np.ndarray)) and hasattr(genotypes, "to_dataframe"):
        genotypes = genotypes.to_dataframe()
    if isinstance(genotypes, pd.DataFrame):
        values, ids, snp_names = _from_frame(genotypes, name, where, keep_integer)
    else:
        values, ids, snp_names = _from_array(genotypes, name, where, keep_integer), None, None
    if values.shape[1] == 0:
        raise NtkmixedError(f"The {name!r} argument of {where} has no SNP column (shape {values.shape}).")
    snp_names = snp_names if snp_names is not None else [f"snp{j + 1}" for j in range(values.shape[1])]
    check_dosages(values, name, where, None if ids is None else list(ids), snp_names if ids is not None else None)
    return values, ids, snp_names


def check_dosages(values: np.ndarray, name: str, where: str, sample_ids: list | None = None,
                  snp_names: list | None = None) -> None:
    """The genotype value rule: every value is NaN or a dosage in [0, 2]. The error names
    the offending cells (by sample and SNP ID when given, else by position)."""
    low, high = DOSAGE_RANGE
    n, p = values.shape
    step = max(1, _CHECK_BLOCK // max(n, 1))
    bad_columns = []
    for start in range(0, p, step):
        block = values[:, start : start + step]
        with np.errstate(invalid="ignore"):
            outside = (block < low) | (block > high)
        if outside.any():
            bad_columns.append(start + np.flatnonzero(outside.any(axis=0)))
    if not bad_columns:
        return
    columns = np.concatenate(bad_columns)
    sub = values[:, columns]
    with np.errstate(invalid="ignore"):
        mask = (sub < low) | (sub > high)
    hint = ""
    if np.any(sub[mask] == -9):
        hint = (" -9 is PLINK's missing code in text exports; ntkmixed reads it as missing only in "
                "phenotype/covariate files, so replace it with NaN first (G.replace(-9, np.nan)).")
    shown_columns = None if snp_names is None else [snp_names[j] for j in columns]
    positions = [f"SNP column {j}" for j in columns] if snp_names is None else shown_columns
    raise NtkmixedError(
        f"The {name!r} argument of {where} must hold allele dosages in [0, 2] (NaN for a missing "
        f"call). Got {int(mask.sum())} value(s) outside that range: "
        f"{cells(mask, sub, sample_ids, positions)}.{hint}"
    )


def check_unique_snp_ids(snp_ids: pd.Index, name: str, where: str) -> None:
    """SNPs are matched by ID at prediction, so a genotype input's SNP IDs must be unique."""
    if snp_ids.has_duplicates:
        duplicated = snp_ids[snp_ids.duplicated()].unique()
        raise NtkmixedError(
            f"The {name!r} argument of {where} has duplicated SNP IDs: {examples(list(duplicated))}. "
            "SNPs are matched by ID at prediction, so IDs must be unique (PLINK 2: --set-all-var-ids "
            "or --rm-dup)."
        )


def _from_frame(frame: pd.DataFrame, name: str, where: str,
                keep_integer: bool = False) -> tuple[np.ndarray, pd.Index, list[str]]:
    check_unique_snp_ids(frame.columns, name, where)
    # from the dtypes, not frame[c] per column: that costs seconds at 10⁴–10⁵ SNPs
    non_numeric = [c for c, dtype in zip(frame.columns, frame.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    if non_numeric:
        hint = ""
        first = frame.columns[0]
        if non_numeric[0] == first and frame[first].is_unique:
            hint = (f" Column {first!r} looks like sample IDs: make it the index "
                    f"(genotypes.set_index({first!r})).")
        raise NtkmixedError(
            f"The {name!r} argument of {where} must hold numeric dosages. Got non-numeric column(s): "
            f"{examples([str(c) for c in non_numeric])}.{hint}"
        )
    if frame.index.has_duplicates:
        dups = frame.index[frame.index.duplicated()].unique()
        raise NtkmixedError(
            f"The {name!r} argument of {where} has duplicated sample IDs in its index: {examples(list(dups))}."
        )
    if keep_integer and len(frame.columns) and all(dtype.kind in "iu" for dtype in frame.dtypes):
        values = frame.to_numpy()  # numpy integer columns: no missing values, no float copy
    else:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, frame.index, [str(c) for c in frame.columns]


def _from_array(genotypes: Any, name: str, where: str, keep_integer: bool = False) -> np.ndarray:
    raw = genotypes if isinstance(genotypes, np.ndarray) else None
    if raw is None:
        try:
            raw = np.asarray(genotypes)
        except (TypeError, ValueError):
            raw = None
    if raw is not None and (raw.dtype.kind in "USV" or (raw.dtype == object and any(
            isinstance(v, (str, bytes)) for v in raw.reshape(-1)[:10000]))):
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a numeric n×p array, a DataFrame indexed by "
            f"sample ID, or a PLINK prefix. Got a {type(genotypes).__name__} of text (dtype {raw.dtype}); "
            "convert it to numbers first."
        )
    try:
        integer = keep_integer and raw is not None and raw.dtype.kind in "iu"
        values = raw if integer else np.asarray(genotypes, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a numeric n×p array, a DataFrame indexed by "
            f"sample ID, or a PLINK prefix. Got a {type(genotypes).__name__} with non-numeric values."
        ) from None
    if values.ndim != 2:
        raise NtkmixedError(
            f"The {name!r} argument of {where} must be a 2-D n×p matrix (people × SNPs). "
            f"Got an array with shape {values.shape}."
        )
    return values
