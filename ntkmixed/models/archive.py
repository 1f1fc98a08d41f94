"""Saving and loading fitted models without pickle.

File format (``.npz``, readable with ``numpy.load(path, allow_pickle=False)``): a NumPy
archive whose entry ``__meta__`` is a JSON document (format version, kind of model,
formula, kernels, estimates, diagnostics, and a checksum of every array) and whose other
entries are plain numeric or unicode arrays (design matrix, response, sample IDs, training
genotypes and their standardisation, normalisation constants, precomputed kernel
matrices, the vectors that prediction needs). Everything ``predict`` needs round-trips,
sample IDs with their types (int, float, str, bool, or a mix of those); nothing executes
code on load. The file layer (atomic writes, checksums, damage → ``ArchiveError``) is
:mod:`ntkmixed.models.archive_file`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from .. import kernels as kernel_module
from .._runtime import plain_scalar
from ..data.design import Design
from ..data.genotype_source import ArraySource, compact_dosages
from ..data.genotypes import Standardization
from ..exceptions import ArchiveError, NtkmixedError
from ..kernels.normalize import Normalization
from ..kernels.precomputed import Precomputed, PrecomputedFactor
from ..kernels.trained import TrainedKernel
from .archive_file import FORMAT_VERSION, checked_path, read_archive, write_archive  # noqa: F401 (used by results)

#: kind of results ("lmm", "krr", …) -> function (meta, arrays) -> results object; each
#: results module registers its own kind, so loading needs no import of the result types
_LOADERS: dict[str, Callable[[dict, dict[str, np.ndarray]], Any]] = {}


def register_kind(kind: str, loader: Callable[[dict, dict[str, np.ndarray]], Any]) -> None:
    """Let :func:`load` rebuild archives whose ``kind`` is ``kind``."""
    _LOADERS[kind] = loader


def load(path: Any):
    """Load results saved with their ``save`` method (a kernel LMM, a KRR, …). A file that
    is missing, damaged, altered or not an ntkmixed model raises
    :class:`~ntkmixed.exceptions.ArchiveError` naming it.

    Parameters
    ----------
    path : str or os.PathLike
        An archive written by ``save`` (``.npz`` with a JSON header; no pickle).

    Returns
    -------
    LMMResults or KRRResults
        The results of the kind the archive records, ready to ``predict``.
    """
    path = checked_path(path, "load")
    meta, arrays = read_archive(path)
    kind = meta.get("kind")
    if kind not in _LOADERS:
        raise ArchiveError(f"{path!r} holds an unknown kind of model: {kind!r} (known: {sorted(_LOADERS)}).")
    try:
        return _LOADERS[kind](meta, arrays)
    except ArchiveError:
        raise
    except (NtkmixedError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        what = f"missing entry or header field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ArchiveError(f"{path!r} is not a valid ntkmixed {kind} model ({what}).") from None


def expect_shapes(arrays: dict[str, np.ndarray], shapes: dict[str, tuple]) -> None:
    """A KeyError or ValueError (turned into an :class:`ArchiveError` by :func:`load`) when
    an entry is missing or has another shape: format-1 files have no checksums, and this
    catches what would otherwise fail inside predict."""
    for name, shape in shapes.items():
        if name not in arrays:
            raise KeyError(name)
        if tuple(arrays[name].shape) != tuple(shape):
            raise ValueError(f"entry {name!r} has shape {arrays[name].shape}, expected {tuple(shape)}")


# --- labelled data --------------------------------------------------------------------
#: how each sample-ID type is stored: (code, Python type)
_ID_TYPES = (("b", bool), ("i", int), ("f", float), ("s", str))


def index_to_array(index: pd.Index) -> tuple[np.ndarray, str]:
    """Sample IDs as a plain array and the kind that restores their type: ``"int"``,
    ``"float"``, ``"str"``, or ``"mixed:<codes>"`` (one type code per ID) for a mix."""
    if pd.api.types.is_bool_dtype(index.dtype):
        return index.to_numpy(dtype=bool), "bool"
    if pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64), "int"
    if pd.api.types.is_float_dtype(index.dtype):
        return index.to_numpy(dtype=np.float64), "float"
    codes = []
    for value in index:
        value = plain_scalar(value)
        code = next((c for c, t in _ID_TYPES if type(value) is t), None)
        if code is None:
            raise ArchiveError(
                f"Sample IDs of type {type(value).__name__} (e.g. {value!r}) cannot be saved; ntkmixed saves "
                "int, float, str and bool IDs. Convert them, e.g. data.index = data.index.astype(str)."
            )
        codes.append(code)
    values = np.array([str(v) for v in index], dtype=str)
    if set(codes) <= {"s"}:
        return values, "str"
    return values, "mixed:" + "".join(codes)


def index_from_array(values: np.ndarray, kind: str) -> pd.Index:
    if kind == "int":
        return pd.Index(values.astype(np.int64))
    if kind == "float":
        return pd.Index(values.astype(np.float64))
    if kind == "bool":
        return pd.Index(values.astype(bool), dtype=object)
    if kind.startswith("mixed:"):
        codes = kind[len("mixed:"):]
        if len(codes) != len(values):
            raise ValueError(f"the sample IDs' type codes ({len(codes)}) do not match the IDs ({len(values)})")
        parse = {"i": int, "f": float, "s": str, "b": lambda v: v == "True"}
        return pd.Index([parse[c](str(v)) for c, v in zip(codes, values)], dtype=object)
    return pd.Index(values.astype(str).tolist())


def frame_to_arrays(frame: pd.DataFrame, prefix: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Columns as plain arrays plus a JSON description of each column's type."""
    columns, arrays = [], {}
    for position, (name, column) in enumerate(frame.items()):
        key = f"{prefix}{position}"
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories.tolist()
            columns.append({"name": name, "kind": "category", "categories": _json_values(categories),
                            "ordered": bool(column.cat.ordered)})
            arrays[key] = column.cat.codes.to_numpy(dtype=np.int64)
        elif pd.api.types.is_bool_dtype(column.dtype):
            columns.append({"name": name, "kind": "bool"})
            arrays[key] = column.to_numpy(dtype=bool)
        elif pd.api.types.is_numeric_dtype(column.dtype):
            columns.append({"name": name, "kind": "float" if pd.api.types.is_float_dtype(column.dtype) else "int"})
            arrays[key] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            missing = column.isna().to_numpy()
            columns.append({"name": name, "kind": "string"})
            arrays[key] = np.array(["" if m else str(v) for v, m in zip(column, missing)], dtype=str)
            arrays[key + "_missing"] = missing
    return columns, arrays


def frame_from_arrays(columns: list[dict], arrays: dict[str, np.ndarray], prefix: str, index: pd.Index) -> pd.DataFrame:
    data = {}
    for position, column in enumerate(columns):
        values = arrays[f"{prefix}{position}"]
        kind = column["kind"]
        if kind == "category":
            data[column["name"]] = pd.Categorical.from_codes(
                values, categories=column["categories"], ordered=column["ordered"])
        elif kind == "bool":
            data[column["name"]] = values.astype(bool)
        elif kind == "int":
            data[column["name"]] = values.astype(np.int64) if not np.isnan(values).any() else values
        elif kind == "float":
            data[column["name"]] = values.astype(np.float64)
        else:
            strings = values.astype(str).astype(object)
            strings[arrays[f"{prefix}{position}_missing"]] = None
            data[column["name"]] = strings
    return pd.DataFrame(data, index=index)


def _json_values(values: list) -> list:
    return [plain_scalar(v) for v in values]


# --- designs and kernels ------------------------------------------------------------
def design_to_archive(design: Design) -> tuple[dict, dict[str, np.ndarray]]:
    ids, id_kind = index_to_array(design.ids)
    columns, arrays = frame_to_arrays(design.covariate_data, "covariate_")
    meta = {
        "formula": design.formula, "response_name": design.response_name,
        "column_names": design.column_names, "n_input": design.n_input,
        "dropped": design.dropped, "id_kind": id_kind, "covariates": columns,
        "n_unused_genotype_rows": design.n_unused_genotype_rows, "id_name": design.ids.name,
        "snp_names": design.snp_names,
    }
    arrays.update({"y": design.y, "X": design.X, "ids": ids})
    if design.standardization is not None:
        std = design.standardization
        meta["standardization_scale"] = std.scale
        # compact and lossless (int8 codes for 0/1/2 dosages): never a float64 copy of a large source
        arrays.update({"genotypes": design.genotype_source.stored(), "std_means": std.means, "std_sds": std.sds, "std_kept": std.kept})
    return meta, arrays


def design_from_archive(meta: dict, arrays: dict[str, np.ndarray]) -> Design:
    n, k = len(arrays["ids"]), len(meta["column_names"])
    expect_shapes(arrays, {"y": (n,), "X": (n, k)})
    ids = index_from_array(arrays["ids"], meta["id_kind"]).rename(meta.get("id_name"))
    covariates = frame_from_arrays(meta["covariates"], arrays, "covariate_", ids)
    rhs = Formula(meta["formula"]).rhs
    spec = model_matrix(rhs, covariates.reset_index(drop=True)).model_spec
    standardization = genotypes = None
    if "genotypes" in arrays:
        p = len(meta["snp_names"])
        expect_shapes(arrays, {"genotypes": (n, p), "std_means": (p,), "std_sds": (p,), "std_kept": (p,)})
        standardization = Standardization(
            means=arrays["std_means"], sds=arrays["std_sds"], kept=arrays["std_kept"].astype(bool),
            snp_names=tuple(meta["snp_names"]), scale=meta.get("standardization_scale", "sample"))
        genotypes = ArraySource(compact_dosages(arrays["genotypes"]))
    return Design(
        formula=meta["formula"], response_name=meta["response_name"], y=arrays["y"], X=arrays["X"],
        column_names=list(meta["column_names"]), ids=ids, model_spec=spec, n_input=meta["n_input"],
        dropped=dict(meta["dropped"]), genotype_source=genotypes, snp_names=meta["snp_names"],
        standardization=standardization, covariate_data=covariates,
        n_unused_genotype_rows=meta.get("n_unused_genotype_rows", 0),
    )


#: user kernels stored with their data: type name -> (class, the attribute holding the data)
_USER_KERNELS = {"Precomputed": (Precomputed, "K"), "PrecomputedFactor": (PrecomputedFactor, "F")}


def kernels_to_archive(trained: list[TrainedKernel]) -> tuple[list[dict], dict[str, np.ndarray]]:
    entries, arrays = [], {}
    for i, t in enumerate(trained):
        entry = {"config": t.kernel.config(), "normalization": t.normalization.rule, "scale": t.normalization.scale}
        if t.normalization.train_diag is not None:
            arrays[f"kernel{i}_train_diag"] = t.normalization.train_diag
        user_kernel = _USER_KERNELS.get(type(t.kernel).__name__)
        if user_kernel is not None:
            arrays[f"kernel{i}_{user_kernel[1]}"] = getattr(t.kernel, user_kernel[1])
            values, id_kind = index_to_array(t.kernel.ids)
            arrays[f"kernel{i}_ids"] = values
            entry["id_kind"] = id_kind
        entries.append(entry)
    return entries, arrays


def kernels_from_archive(entries: list[dict], arrays: dict[str, np.ndarray]) -> list[TrainedKernel]:
    trained = []
    for i, entry in enumerate(entries):
        config = dict(entry["config"])
        kind = config.pop("type")
        if kind in _USER_KERNELS:
            user_kernel, field_name = _USER_KERNELS[kind]
            kernel = user_kernel(
                arrays[f"kernel{i}_{field_name}"], ids=index_from_array(arrays[f"kernel{i}_ids"], entry["id_kind"]),
                name=config.get("name"), normalize=config.get("normalize"))
        else:
            cls = getattr(kernel_module, kind, None)
            if not (isinstance(cls, type) and issubclass(cls, kernel_module.Kernel)):
                raise NtkmixedError(f"Unknown kernel type {kind!r} in model file.")
            kernel = cls(**config)
        normalization = Normalization(
            entry["normalization"], scale=entry["scale"], train_diag=arrays.get(f"kernel{i}_train_diag"))
        trained.append(TrainedKernel(kernel=kernel, normalization=normalization, operator=None))
    return trained
