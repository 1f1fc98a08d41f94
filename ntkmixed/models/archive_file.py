"""The model file itself: an ``.npz`` (zip of ``.npy`` arrays) written atomically, with a
JSON header that lists every array's shape, dtype, size and SHA-256, and read back
without ever unpickling.

Format 2 (this version) adds the checksums, and seals the file: the zip comment holds the
SHA-256 of every byte before it, so that damage anywhere — array data, zip headers,
timestamps — is caught. Format-1 files (no checksums) still load, their arrays then
checked only for their shapes by the loaders. Any problem with a file —
missing, a directory, empty, not a zip, truncated, bytes flipped, a header that is not a
JSON object, an entry missing, added or changed, an object array, a newer format — is one
:class:`~ntkmixed.exceptions.ArchiveError` that names the file and says what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from .._validation import PathLike, check
from ..exceptions import ArchiveError

FORMAT_VERSION = 2
META = "__meta__"
#: header field holding the SHA-256 of the rest of the header
HEADER_HASH = "header_sha256"
#: the zip comment of a sealed file starts with this; the hex SHA-256 follows
_SEAL = b"ntkmixed-sha256:"
_END_RECORD = b"PK\x05\x06"
_HASH_CHUNK = 64 * 2**20


def checked_path(path: Any, where: str) -> str:
    return check(path, "path", where, PathLike())


def write_archive(path: Any, meta: dict, arrays: dict[str, np.ndarray], where: str = "save") -> None:
    """Write atomically: a temporary file in the target directory, then rename."""
    path = checked_path(path, where)
    if os.path.isdir(path):
        raise ArchiveError(f"The 'path' argument of {where} is a directory ({path!r}); give a file name such as "
                           f"{os.path.join(path, 'model.npz')!r}.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ArchiveError(f"Cannot save to {path!r}: directory {directory!r} does not exist.")
    payload: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.asarray(value, order="C")  # not ascontiguousarray: it turns 0-d arrays 1-d
        if array.dtype.hasobject:
            raise TypeError(f"archive entry {name!r} has object dtype; convert it first")
        payload[name] = array
    header = {"format_version": FORMAT_VERSION, **meta, "checksums": {n: _checksum(a) for n, a in payload.items()}}
    header[HEADER_HASH] = header_hash(header)
    payload[META] = np.array(json.dumps(header))
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f"{os.path.basename(path)}.", suffix=".partial")
    except OSError as exc:
        raise ArchiveError(f"Cannot save to {path!r}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **payload)
        seal(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        _remove(temporary)
        raise ArchiveError(f"Cannot save to {path!r}: {exc.strerror or exc}.") from None
    except BaseException:
        _remove(temporary)
        raise


def read_archive(path: Any, where: str = "load") -> tuple[dict, dict[str, np.ndarray]]:
    """``(header, arrays)`` of a model file, checked against its checksums."""
    path = checked_path(path, where)
    if not os.path.exists(path):
        raise ArchiveError(f"Model file {path!r} does not exist.")
    if os.path.isdir(path):
        raise ArchiveError(f"{path!r} is a directory, not an ntkmixed model file.")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            start = handle.read(6)
    except OSError as exc:
        raise ArchiveError(f"Cannot read the model file {path!r}: {exc.strerror or exc}.") from None
    if size == 0:
        raise ArchiveError(f"Model file {path!r} is empty.")
    if start == b"\x93NUMPY":
        raise ArchiveError(f"{path!r} is a single NumPy array (.npy), not an ntkmixed model file (.npz).")
    if not zipfile.is_zipfile(path):
        raise ArchiveError(
            f"{path!r} is not an ntkmixed model file (it is not a .npz archive), or it is damaged "
            "(truncated or overwritten)."
        )
    arrays = _read_members(path)
    if META not in arrays:
        raise ArchiveError(f"{path!r} is not an ntkmixed model file: it has no {META} header entry.")
    meta = _parse_header(path, arrays.pop(META))
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ArchiveError(f"The header of {path!r} has no valid format_version (got {version!r}).")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"{path!r} was written by a newer ntkmixed (format {version}; this version reads up to "
            f"{FORMAT_VERSION}). Upgrade ntkmixed to load it."
        )
    if version >= 2:
        if not isinstance(meta.get("checksums"), dict):
            raise ArchiveError(f"The header of {path!r} lacks the checksums of its arrays (format 2 requires them).")
        _verify(path, meta["checksums"], arrays)
        if meta.get(HEADER_HASH) != header_hash(meta):
            raise ArchiveError(f"The {META} header of {path!r} has been altered or damaged (its checksum does not match).")
        sealed = _seal_matches(path)
        if sealed is None:
            raise ArchiveError(f"{path!r} has been altered: it lacks the file checksum ntkmixed writes (zip comment).")
        if not sealed:
            raise ArchiveError(f"{path!r} is damaged: its bytes do not match the file checksum written with it.")
    return meta, arrays


def seal(path: str) -> None:
    """Write the SHA-256 of the file's bytes up to the end record's comment length into the
    zip comment (which no zip reader interprets)."""
    end = _end_record(path)
    digest = _file_hash(path, end + 20)
    comment = _SEAL + digest.encode("ascii")
    with open(path, "r+b") as handle:
        handle.seek(end + 20)
        handle.write(struct.pack("<H", len(comment)))
        handle.truncate()
        handle.write(comment)


def _seal_matches(path: str) -> bool | None:
    """True if the seal matches, False if it does not, None if the file has no seal."""
    end = _end_record(path)
    with open(path, "rb") as handle:
        handle.seek(end + 20)
        tail = handle.read()
    length, comment = struct.unpack("<H", tail[:2])[0], tail[2:]
    if not comment.startswith(_SEAL):
        return None
    return length == len(comment) and comment[len(_SEAL):] == _file_hash(path, end + 20).encode("ascii")


def _end_record(path: str) -> int:
    """Offset of the zip end-of-central-directory record (searched in the last 64 kB)."""
    size = os.path.getsize(path)
    start = max(0, size - 22 - 65535)
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read()
    position = data.rfind(_END_RECORD)
    if position < 0:
        raise zipfile.BadZipFile("no end-of-archive record")
    return start + position


def _file_hash(path: str, length: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_HASH_CHUNK, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def header_hash(meta: dict) -> str:
    """SHA-256 of the header without its own hash field (keys sorted)."""
    content = {k: v for k, v in meta.items() if k != HEADER_HASH}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def _read_members(path: str) -> dict[str, np.ndarray]:
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as member:
                    data = member.read()  # checks the member's CRC-32 and length
                arrays[name] = _array_from_npy(path, name, data)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError,
            KeyError, RuntimeError) as exc:
        raise ArchiveError(f"{path!r} is damaged and cannot be read ({type(exc).__name__}: {exc}).") from None
    return arrays


def _array_from_npy(path: str, name: str, data: bytes) -> np.ndarray:
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ArchiveError(f"{path!r} is damaged: entry {name!r} has an unknown .npy version {version}.")
    if dtype.hasobject:
        raise ArchiveError(
            f"{path!r} is not an ntkmixed model file: entry {name!r} holds Python objects, which "
            "ntkmixed never writes and never unpickles."
        )
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


def _parse_header(path: str, entry: np.ndarray) -> dict:
    if entry.ndim != 0 or entry.dtype.kind != "U":
        raise ArchiveError(f"The {META} header of {path!r} is not a JSON text (dtype {entry.dtype}, shape {entry.shape}).")
    try:
        meta = json.loads(str(entry))
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"The {META} header of {path!r} is not valid JSON ({exc}).") from None
    if not isinstance(meta, dict):
        raise ArchiveError(f"The {META} header of {path!r} is JSON but not an object (got a {type(meta).__name__}).")
    return meta


def _verify(path: str, checksums: dict, arrays: dict[str, np.ndarray]) -> None:
    missing = sorted(set(checksums) - set(arrays))
    extra = sorted(set(arrays) - set(checksums))
    if missing:
        raise ArchiveError(f"{path!r} is damaged: entries listed in its header are missing: {missing}.")
    if extra:
        raise ArchiveError(f"{path!r} has been altered: it holds entries its header does not list: {extra}.")
    for name, expected in checksums.items():
        actual = _checksum(np.asarray(arrays[name], order="C"))
        if actual != expected:
            differs = [k for k in ("shape", "dtype", "bytes", "sha256") if actual.get(k) != (expected or {}).get(k)]
            raise ArchiveError(
                f"{path!r} has been altered or damaged: entry {name!r} does not match the checksum in its "
                f"header ({', '.join(differs)} differ)."
            )


def _checksum(array: np.ndarray) -> dict[str, Any]:
    digest = hashlib.sha256()
    view = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
    for start in range(0, len(view), _HASH_CHUNK):
        digest.update(view[start : start + _HASH_CHUNK])
    return {"shape": list(array.shape), "dtype": array.dtype.str, "bytes": int(array.nbytes), "sha256": digest.hexdigest()}


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
