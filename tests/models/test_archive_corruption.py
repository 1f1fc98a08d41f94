"""Any damage to a saved model is one ArchiveError naming the file: truncation at 20
points and 50 single flipped bytes all over the file (zip headers and timestamps
included, which only the file seal can catch), for an LMM and a KRR archive."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ntkmixed as nm
from ntkmixed.exceptions import ArchiveError


@pytest.fixture(scope="module")
def saved(tmp_path_factory, request):
    from conftest import simulate_lmm

    data, G = simulate_lmm(n=60, p=40, seed=4)
    directory = tmp_path_factory.mktemp("archives")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lmm = nm.fit("y ~ sex + age", data=data, genotypes=G)
        krr = nm.krr("y ~ sex", data=data, genotypes=G, kernel=nm.GRM(), cv=3)
    paths = {}
    for name, result in (("lmm", lmm), ("krr", krr)):
        paths[name] = directory / f"{name}.npz"
        result.save(paths[name])
    return paths, {"lmm": lmm, "krr": krr}, data, G


@pytest.mark.parametrize("kind", ["lmm", "krr"])
def test_intact_copy_loads_and_predicts_the_same(saved, kind, tmp_path):
    paths, results, data, G = saved
    copy = tmp_path / "copy.npz"
    copy.write_bytes(paths[kind].read_bytes())
    loaded = nm.load(copy)
    np.testing.assert_allclose(loaded.predict(data, G), results[kind].predict(data, G), rtol=1e-12)


def _assert_refused(path, what):
    with pytest.raises(ArchiveError) as info:
        nm.load(path)
    message = str(info.value)
    assert str(path) in message, message
    assert "allow_pickle" not in message and "pickle.load" not in message, message
    return message


@pytest.mark.parametrize("kind", ["lmm", "krr"])
def test_truncated_at_20_points(saved, kind, tmp_path):
    data = saved[0][kind].read_bytes()
    for length in np.linspace(0, len(data) - 1, 20).astype(int):
        path = tmp_path / f"cut{length}.npz"
        path.write_bytes(data[:length])
        _assert_refused(path, f"truncated to {length} of {len(data)} bytes")


@pytest.mark.parametrize("kind", ["lmm", "krr"])
def test_50_flipped_bytes(saved, kind, tmp_path):
    data = saved[0][kind].read_bytes()
    positions = np.random.default_rng(50).choice(len(data), size=50, replace=False)
    messages = set()
    for position in positions:
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(position % 8)
        path = tmp_path / f"flip{position}.npz"
        path.write_bytes(bytes(damaged))
        messages.add(_assert_refused(path, f"byte {position} flipped").split(":")[0])
    assert messages  # every flip was refused, each with a message


def test_a_byte_flipped_in_a_zip_timestamp_is_caught_by_the_seal(saved, tmp_path):
    """Bytes that no zip reader checks: the modification time of the first member."""
    data = bytearray(saved[0]["lmm"].read_bytes())
    assert data[:4] == b"PK\x03\x04"
    data[10] ^= 0x01  # local header: last modification time
    path = tmp_path / "timestamp.npz"
    path.write_bytes(bytes(data))
    assert "do not match the file checksum" in _assert_refused(path, "timestamp")


def test_entries_keep_their_shape_including_zero_dimensional(tmp_path):
    """A 0-d array (a stored scalar) comes back 0-d: np.ascontiguousarray would make it 1-d,
    and the checksum and the loaders would then disagree about its shape."""
    from ntkmixed.models.archive_file import read_archive, write_archive

    arrays = {"scalar": np.array(2.5), "vector": np.arange(3.0), "matrix": np.ones((2, 3)), "empty": np.zeros((0, 4))}
    write_archive(tmp_path / "shapes.npz", {"kind": "test"}, arrays)
    _, loaded = read_archive(tmp_path / "shapes.npz")
    assert {k: v.shape for k, v in loaded.items()} == {k: v.shape for k, v in arrays.items()}
    assert float(loaded["scalar"]) == 2.5
