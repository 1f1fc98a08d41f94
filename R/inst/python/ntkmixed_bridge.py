"""The Python half of the R package: builds ntkmixed inputs from what R sends and turns
results into plain Python values that reticulate converts without NumPy or pandas.

Debian's reticulate 1.28 cannot convert NumPy >= 2 arrays at all, converts pandas
categoricals and R's integer/logical/character NA wrongly, and warns on pandas >= 2.2
indexes. So nothing here hands reticulate an array or a pandas object: numbers travel as
little-endian float64 bytes (an R raw vector on one side, a bytearray on the other),
strings as lists, and tables as tagged dicts that the R side rebuilds. This works with
NumPy 1 or 2 and pandas 2 or 3 alike.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

import ntkmixed
from ntkmixed._runtime import plain_scalar

# --- R -> Python -------------------------------------------------------------------


def _doubles(raw: Any) -> np.ndarray:
    """float64 values from the bytes of an R double vector (NA arrives as NaN)."""
    return np.frombuffer(bytes(raw), dtype="<f8").astype(np.float64)


def _names(values: Any) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def make_column(spec: dict) -> Any:
    """One data.frame column: ``kind`` is the R type, ``values`` its doubles or strings,
    ``missing`` the 0/1 bytes of ``is.na``."""
    kind = spec["kind"]
    missing = np.frombuffer(bytes(spec["missing"]), dtype=np.uint8).astype(bool)
    if kind == "double":
        return _doubles(spec["values"])
    if kind == "integer":
        values = _doubles(spec["values"])
        return values if missing.any() else values.astype(np.int64)
    if kind == "logical":
        values = _doubles(spec["values"])
        if not missing.any():
            return values.astype(bool)
        return pd.array([None if m else bool(v) for v, m in zip(values, missing)], dtype="boolean")
    if kind == "character":
        strings = _names(spec["values"]) or []
        return pd.Series([None if m else s for s, m in zip(strings, missing)], dtype=object).to_numpy()
    if kind == "factor":
        codes = np.nan_to_num(_doubles(spec["values"]), nan=0.0).astype(np.int64) - 1
        codes[missing] = -1
        return pd.Categorical.from_codes(
            codes, categories=_names(spec["levels"]) or [], ordered=bool(spec["ordered"])
        )
    raise ValueError(f"Unknown column kind {kind!r} from R.")


def make_frame(columns: dict, index: Any) -> pd.DataFrame:
    """A DataFrame indexed by sample ID (the R row names)."""
    ids = pd.Index(_names(index) or [], dtype=object)
    return pd.DataFrame({name: make_column(spec) for name, spec in columns.items()}, index=ids)


def make_matrix(raw: Any, nrow: int, ncol: int, rownames: Any = None, colnames: Any = None) -> Any:
    """A column-major R matrix; a DataFrame indexed by sample ID when it has row names."""
    values = _doubles(raw).reshape((int(nrow), int(ncol)), order="F")
    values = np.ascontiguousarray(values)
    if rownames is None:
        return values
    columns = _names(colnames) if colnames is not None else None
    return pd.DataFrame(values, index=pd.Index(_names(rownames), dtype=object), columns=columns)


def make_kernel(spec: Any) -> Any:
    """A kernel (or a list of kernels) from ``{"type": name, "args": {...}}``."""
    if isinstance(spec, list):
        return [make_kernel(s) for s in spec]
    args = dict(spec["args"] or {})
    if spec["type"] == "Precomputed":
        args["K"] = make_matrix(**args.pop("K"))
    return getattr(ntkmixed, spec["type"])(**args)


# --- calling ntkmixed -----------------------------------------------------------------


class Outcome:
    """What one call returned, which warnings it raised, and the error it ended with."""

    def __init__(self, value: Any, caught: list, error: BaseException | None):
        self.value = value
        self.warnings = [[type(w.message).__name__, str(w.message)] for w in caught]
        self.error = None if error is None else [type(error).__name__, str(error)]


def call(function: Any, *args: Any, **kwargs: Any) -> Outcome:
    """Run ``function`` (a callable or the name of an ntkmixed attribute), recording
    warnings so that R can re-issue them as R warnings."""
    if isinstance(function, str):
        function = getattr(ntkmixed, function)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = function(*args, **kwargs)
        except Exception as error:  # every failure goes back to R as an R error
            return Outcome(None, list(caught), error)
    return Outcome(value, list(caught), None)


def method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Outcome:
    return call(getattr(obj, name), *args, **kwargs)


# --- Python -> R ----------------------------------------------------------------------


def _bytes(values: Any) -> bytearray:
    return bytearray(np.ascontiguousarray(np.asarray(values, dtype="<f8")).tobytes())


def _column(values: pd.Series) -> dict:
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return {"kind": "logical", "values": _bytes(values.to_numpy(dtype=float))}
    if pd.api.types.is_numeric_dtype(values.dtype):
        return {"kind": "double", "values": _bytes(values.to_numpy(dtype=float, na_value=np.nan))}
    strings = [None if pd.isna(v) else str(v) for v in values.tolist()]
    return {"kind": "character", "values": strings}


def plain(obj: Any) -> Any:
    """Tagged plain values: frames, series and arrays become dicts R knows how to rebuild."""
    if isinstance(obj, pd.DataFrame):
        return {
            "__type__": "frame",
            "index": [str(i) for i in obj.index],
            "columns": [str(c) for c in obj.columns],
            "data": [_column(obj.iloc[:, j]) for j in range(obj.shape[1])],
        }
    if isinstance(obj, pd.Series):
        return {"__type__": "series", "index": [str(i) for i in obj.index], "name": None if obj.name is None else str(obj.name), **_column(obj)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            return {"__type__": "array", "dims": list(obj.shape), "values": _bytes(obj.ravel(order="F"))}
        return [plain(v) for v in obj.tolist()]
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    obj = plain_scalar(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def attributes(obj: Any, names: list) -> dict:
    """``plain`` of each named attribute; an attribute that raises is reported, not fatal."""
    out = {}
    for name in _names(names) or []:
        try:
            value = getattr(obj, name)
            out[name] = plain(value() if name in _CALLED else value)
        except Exception as error:  # a missing optional attribute must not lose the fit
            out[name] = {"__type__": "unavailable", "reason": f"{type(error).__name__}: {error}"}
    return out


# attributes that are methods in the Python API
_CALLED = {"conf_int", "conf_int_h2"}


def summary_payload(results: Any) -> dict:
    """The summary's text and its tables."""
    summary = results.summary()
    return {"text": str(summary), "tables": plain(dict(summary.tables))}


def environment() -> dict:
    """Versions, for messages and session information."""
    import sys

    return {
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "ntkmixed": getattr(ntkmixed, "__version__", "unknown"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def plain_matrix(frame: Any) -> dict:
    """A numeric DataFrame (or anything with ``to_dataframe()``) as one column-major block."""
    if hasattr(frame, "to_dataframe"):
        frame = frame.to_dataframe()
    values = frame.to_numpy(dtype=np.float64)
    return {
        "__type__": "matrix",
        "dims": list(values.shape),
        "values": _bytes(values.ravel(order="F")),
        "rownames": [str(i) for i in frame.index],
        "colnames": [str(c) for c in frame.columns],
    }


def example_payload() -> dict:
    """Paths and truth of the packaged example dataset."""
    import json
    from pathlib import Path

    from ntkmixed.data.datasets import example_paths

    paths = example_paths()
    return {"paths": paths, "truth": json.loads(Path(paths["truth"]).read_text())}


class HeldOutFolds:
    """A scikit-learn-style splitter from R: one vector of held-out row positions
    (0-based, among the rows the model uses) per fold; the training rows are the rest."""

    def __init__(self, tests: list):
        self.tests = [np.asarray(_doubles(t), dtype=np.int64) for t in tests]

    def split(self, X: Any, y: Any = None, groups: Any = None):
        n = len(X)
        for test in self.tests:
            if test.size and (test.min() < 0 or test.max() >= n):
                raise ValueError(
                    f"The 'cv' argument of krr has held-out rows outside 1..{n} (the rows used "
                    f"after dropping incomplete ones). Got {int(test.min()) + 1}..{int(test.max()) + 1}."
                )
            train = np.setdiff1d(np.arange(n), test)
            yield train, test

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return len(self.tests)


# --- association tests ------------------------------------------------------------------


def gwas_payload(results: Any) -> dict:
    """A :class:`ntkmixed.GWASResults` as plain values: the per-SNP table in input order,
    the null model of each LOCO chromosome (row names: chromosome, or "all") and the facts."""
    return {
        "table": plain(results.table),
        "null_models": plain(results.null_models),
        "lambda_gc": plain_scalar(results.lambda_gc),
        "test": results.test,
        "test_description": results.test_description,
        "loco": bool(results.loco),
        "null_method": results.null_method,
        "kernel": results.kernel,
        "n": int(results.n),
        "n_tested": int(results.n_tested),
        "summary": str(results.summary()),
    }


def kernel_test_payload(results: Any) -> dict:
    """A :class:`ntkmixed.KernelTestResults`: one row per kernel (the kernel's label in
    column ``kernel``), the combined p (ACAT over kernels, or the one kernel's) and the
    null model's facts."""
    return {
        "table": plain(results.table.reset_index()),
        "p": plain_scalar(results.p),
        "log10_p": plain_scalar(results.log10_p),
        "null": plain(results.null),
        "n": int(results.n),
        "n_snps": int(results.n_snps),
        "summary": str(results.summary()),
    }


def region_scan_payload(results: Any) -> dict:
    """A :class:`ntkmixed.RegionScanResults`: one row per region, in the order given."""
    return {
        "table": plain(results.table),
        "kernels": [str(k) for k in results.kernels],
        "null": plain(results.null),
        "n": int(results.n),
        "pvalue": results.pvalue,
        "summary": str(results.summary()),
    }
