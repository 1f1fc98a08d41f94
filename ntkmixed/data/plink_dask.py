"""A PLINK fileset as a lazily read dask array: one read task per chunk of SNPs, so that
on a multi-machine cluster every worker reads its own columns from a shared file system."""

from __future__ import annotations

from typing import Any

import numpy as np

from .genotype_source import block_width


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
