"""Genotype sources: compact storage, blocks, streamed standardisation = in-memory."""

from __future__ import annotations

import numpy as np
import pytest

from ntkmixed.data.genotype_source import (ArraySource, PlinkSource, StandardizedGenotypes, compact_dosages,
                                           dosages_from_stored, learn_standardization)
from ntkmixed.data.genotypes import standardize
from ntkmixed.data.genotype_source import source_of
from ntkmixed.exceptions import NtkmixedError


def _dosages(n=50, p=30, seed=0):
    G = np.random.default_rng(seed).binomial(2, 0.3, (n, p)).astype(float)
    G[1, 2] = G[4, 7] = np.nan
    G[:, 5] = 1.0  # monomorphic
    return G


@pytest.mark.parametrize("values,dtype", [
    (np.array([[0.0, 1.0], [2.0, np.nan]]), np.int8),
    (np.array([[0.5, 1.25], [2.0, np.nan]]), np.float32),
    (np.array([[0.1, 1.0], [2.0, np.nan]]), np.float64),
])
def test_dosages_are_stored_compactly_and_without_loss(values, dtype):
    stored = compact_dosages(values)
    assert stored.dtype == dtype
    np.testing.assert_array_equal(dosages_from_stored(stored), values)


def test_streamed_standardisation_equals_the_in_memory_one():
    G = _dosages()
    Z, expected = standardize(G, quiet=True)
    learned = learn_standardization(ArraySource.from_dosages(G), [f"snp{j + 1}" for j in range(G.shape[1])],
                                    quiet=True)
    np.testing.assert_array_equal(learned.kept, expected.kept)
    np.testing.assert_allclose(learned.means, expected.means, rtol=1e-15)
    np.testing.assert_allclose(learned.sds, expected.sds, rtol=1e-15)
    streamed = StandardizedGenotypes(ArraySource.from_dosages(G), learned)
    np.testing.assert_allclose(streamed.dense(), Z, rtol=1e-14, atol=1e-15)
    for start, stop in streamed.bounds(7):
        np.testing.assert_allclose(streamed.block(start, stop, 2.0), 2.0 * Z[:, start:stop], rtol=1e-14, atol=1e-15)
    assert len(streamed.bounds(7)) == 7 and streamed.bounds(7)[-1][1] == Z.shape[1]


def test_a_bed_source_reads_the_same_blocks(tmp_path):
    from plink_helpers import write_fileset

    from ntkmixed.data.plink import read_plink

    G = _dosages()
    write_fileset(tmp_path / "g", G)
    rows = np.array([3, 0, 10, 7])
    bed = PlinkSource(read_plink(tmp_path / "g")).rows(rows)
    memory = ArraySource.from_dosages(G).rows(rows)
    for (a, b, x), (_, _, y) in zip(bed.blocks(4), memory.blocks(4)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(bed.read_columns(np.array([1, 2, 9])), G[rows][:, [1, 2, 9]])


def test_read_plink_dask_is_the_fileset_read_lazily(tmp_path):
    pytest.importorskip("dask.array")
    from plink_helpers import write_fileset

    import ntkmixed as nm

    G = _dosages()
    write_fileset(tmp_path / "g", G)
    array = nm.read_plink_dask(tmp_path / "g", snps_per_chunk=7)
    assert array.chunks[1] == (7, 7, 7, 7, 2)
    np.testing.assert_array_equal(array.compute(), G)


def test_integer_dosages_are_stored_without_a_float_copy_and_still_checked(monkeypatch):
    import pandas as pd

    codes = np.random.default_rng(1).integers(0, 3, (40, 12)).astype(np.int8)
    frame = pd.DataFrame(codes, index=[f"s{i}" for i in range(40)], columns=[f"rs{j}" for j in range(12)])
    float_copies = []
    original = pd.DataFrame.to_numpy
    monkeypatch.setattr(pd.DataFrame, "to_numpy", lambda self, *a, **k: float_copies.append(k.get("dtype")) or original(self, *a, **k))
    for genotypes in (frame, codes):
        source, _, _ = source_of(genotypes, "genotypes", "fit")
        assert source.values.dtype == np.int8 and source.values.flags.f_contiguous
        np.testing.assert_array_equal(source.read(0, 12), codes)
        np.testing.assert_array_equal(source.read_columns(np.arange(3, 7)), codes[:, 3:7])
        np.testing.assert_array_equal(source.read_columns(np.array([0, 5, 2])), codes[:, [0, 5, 2]])
    assert np.float64 not in float_copies
    with pytest.raises(NtkmixedError, match="dosages in \\[0, 2\\].*-9 is PLINK's missing code"):
        source_of(frame.replace(0, -9).astype(np.int8), "genotypes", "fit")
