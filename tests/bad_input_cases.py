"""Bad inputs to every public entry point, each with the outcome it must have.

One table serves two purposes:

* ``tests/test_bad_input.py`` runs every case: an expected error must be raised with the
  expected ntkmixed exception type and a message that names the argument (and, where it
  matters, the value, file, line or IDs); a documented behaviour must hold (a warning of
  the stated type, the same estimate, ...).
* ``python tests/bad_input_cases.py`` classifies what the *installed or importable*
  ntkmixed does with each case — clear error, unclear error, raw exception, silent (no
  error where one is due), handled, failed check — and prints the counts. Run it with
  ``PYTHONPATH=<an older checkout>`` to count the outcomes of an older version.

The cases use only the public API (``ntkmixed.*``, the ``ntkmixed`` command line), so
the same table runs against an older version.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

import ntkmixed as nm

N, P = 40, 30


# --- the world the cases run in -------------------------------------------------------------
class World:
    """Small inputs, fitted models and files, built lazily in ``directory``."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        rng = np.random.default_rng(14)
        ids = pd.Index([f"s{i:02d}" for i in range(N)], name="iid")
        G = rng.binomial(2, rng.uniform(0.1, 0.5, P), (N, P)).astype(float)
        Z = (G - G.mean(0)) / G.std(0)
        sex = np.array(["female", "male"] * (N // 2))
        age = rng.normal(50, 8, N).round(1)
        y = 1 + 0.4 * (sex == "male") + 0.02 * age + Z @ rng.normal(0, np.sqrt(0.5 / P), P) + rng.normal(0, 0.7, N)
        self.data = pd.DataFrame({"y": y, "sex": sex, "age": age}, index=ids)
        self.G = pd.DataFrame(G, index=ids, columns=[f"rs{j}" for j in range(P)])

    def copy_G(self) -> pd.DataFrame:
        return self.G.copy()

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    @cached_property
    def lmm(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nm.fit("y ~ sex + age", data=self.data, genotypes=self.G)

    @cached_property
    def krr_result(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nm.krr("y ~ sex + age", data=self.data, genotypes=self.G, kernel=nm.GRM(), cv=5)

    @cached_property
    def archive(self) -> Path:
        path = self.dir / "model.npz"
        self.lmm.save(path)
        return path

    def damaged_archive(self, name: str, transform: Callable[[bytes], bytes]) -> Path:
        return self.write(name, transform(self.archive.read_bytes()))

    def rewritten_archive(self, name: str, change: Callable[[dict, dict], None], resign: bool = False) -> Path:
        """The saved model with its entries changed by ``change(meta, arrays)``, written
        back as a valid zip (so only ntkmixed's own checks can catch it). ``resign``
        recomputes the checksums, as a file written that way by another program would."""
        with zipfile.ZipFile(self.archive) as source:
            entries = {info.filename: source.read(info.filename) for info in source.infolist()}
        arrays = {k[:-4]: np.load(io.BytesIO(v), allow_pickle=False) for k, v in entries.items()}
        meta = json.loads(str(arrays.pop("__meta__")))
        change(meta, arrays)
        path = self.dir / name
        if resign:
            _resign(meta, arrays)
        buffer = {"__meta__": np.array(json.dumps(meta))} if meta is not None else {}
        buffer.update(arrays)
        np.savez(path, **buffer)
        if resign:
            _seal(path)
        return path

    @cached_property
    def fileset(self) -> Path:
        """A PLINK fileset of the people and SNPs of ``G`` (IIDs = the sample IDs)."""
        from bed_reader import to_bed

        prefix = self.dir / "geno"
        ids = list(self.G.index)
        to_bed(f"{prefix}.bed", np.array(self.G, dtype=np.float64), properties={
            "fid": ids, "iid": ids, "sid": list(self.G.columns), "chromosome": ["1"] * P,
            "bp_position": np.arange(1, P + 1) * 1000, "allele_1": ["A"] * P, "allele_2": ["G"] * P})
        return prefix

    def fileset_copy(self, name: str, fam: str | None = None, bim: str | None = None, bed: bytes | None = None) -> Path:
        """A copy of the fileset with one of its files replaced."""
        prefix = self.dir / name
        for ext, replacement in (("bed", bed), ("bim", bim), ("fam", fam)):
            target = Path(f"{prefix}.{ext}")
            if replacement is None:
                shutil.copyfile(f"{self.fileset}.{ext}", target)
            elif isinstance(replacement, bytes):
                target.write_bytes(replacement)
            else:
                target.write_text(replacement)
        return prefix

    def fam_lines(self) -> list[str]:
        return Path(f"{self.fileset}.fam").read_text().splitlines()

    def bim_lines(self) -> list[str]:
        return Path(f"{self.fileset}.bim").read_text().splitlines()

    def pheno_text(self, rows: list[str] | None = None) -> str:
        lines = ["FID IID y"] + [f"{i} {i} {v:.6f}" for i, v in self.data["y"].items()]
        if rows:
            lines[1 : 1 + len(rows)] = rows
        return "\n".join(lines) + "\n"

    def covar_text(self, rows: list[str] | None = None) -> str:
        lines = ["FID IID sex age"] + [
            f"{i} {i} {s} {a}" for i, s, a in zip(self.data.index, self.data["sex"], self.data["age"])]
        if rows:
            lines[1 : 1 + len(rows)] = rows
        return "\n".join(lines) + "\n"

    @cached_property
    def cli_inputs(self) -> dict[str, Path]:
        return {"bfile": self.fileset, "pheno": self.write("cli/pheno.txt", self.pheno_text()),
                "covar": self.write("cli/covar.txt", self.covar_text())}

    @cached_property
    def cli_model(self) -> Path:
        """OUT.json of a CLI fit (its model file next to it)."""
        out = self.dir / "cli_model" / "run"
        out.parent.mkdir(exist_ok=True)
        status, err = run_cli(self, "fit", *self.cli_fit_args(out))
        if status != 0:
            raise RuntimeError(f"the reference CLI fit failed: {err}")
        return Path(f"{out}.json")

    def cli_fit_args(self, out: Any, pheno: Any = None, covar: Any = None) -> list[str]:
        inputs = self.cli_inputs
        return ["--bfile", str(inputs["bfile"]), "--pheno", str(pheno or inputs["pheno"]),
                "--covar", str(covar or inputs["covar"]), "--out", str(out), "--quiet"]


def _resign(meta: dict, arrays: dict) -> None:
    try:
        from ntkmixed.models import archive_file
    except ImportError:  # a version without checksums
        return
    meta["checksums"] = {n: archive_file._checksum(np.asarray(a, order="C")) for n, a in arrays.items()}
    meta[archive_file.HEADER_HASH] = archive_file.header_hash(meta)


def _seal(path: Path) -> None:
    try:
        from ntkmixed.models.archive_file import seal
    except ImportError:  # a version without sealed files
        return
    seal(str(path))


class CommandFailed(Exception):
    """The command line exited with a non-zero status; the message is its stderr."""

    def __init__(self, status: int, stderr: str):
        super().__init__(stderr.strip())
        self.status = status


def run_cli(world: World, *argv: str) -> tuple[int, str]:
    from ntkmixed.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main([str(a) for a in argv])
    return status, err.getvalue()


def cli(world: World, *argv: str, out_dir: Path | None = None) -> None:
    """Run a command that must fail; raise CommandFailed with its stderr. When
    ``out_dir`` is given, check the run left that folder exactly as it was."""
    before = _snapshot(out_dir) if out_dir is not None else None
    status, stderr = run_cli(world, *argv)
    if out_dir is not None:
        after = _snapshot(out_dir)
        if after != before:
            raise AssertionError(f"the failed run changed {out_dir}: {sorted(set(after) ^ set(before))} "
                                 f"or contents; stderr: {stderr.strip()}")
    if status != 0:
        raise CommandFailed(status, stderr)


def _snapshot(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def out_folder(world: World, name: str, keep: dict[str, str] | None = None) -> Path:
    """A fresh output folder, optionally holding outputs of an earlier run."""
    folder = world.dir / "outs" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for file, text in (keep or {}).items():
        (folder / file).write_text(text)
    return folder


# --- the case table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """``error``: the ntkmixed exception type name that must be raised (``"CommandFailed"``
    for the command line), or None when the call must succeed. ``mentions``: substrings
    the error message must contain. ``warns``: the warning type name a successful call
    must issue. A successful call's own asserts check the documented behaviour."""

    name: str
    area: str
    call: Callable[[World], Any]
    error: str | None = "NtkmixedError"
    mentions: tuple[str, ...] = ()
    warns: str | None = None

    def run(self, world: World) -> tuple[Any, list]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = self.call(world)
        return value, caught


CASES: list[Case] = []


def bad(area: str, name: str, mentions: tuple[str, ...] | str, error: str = "NtkmixedError"):
    """Register ``function(world)`` as a call that must raise ``error`` naming ``mentions``."""
    mentions = (mentions,) if isinstance(mentions, str) else tuple(mentions)

    def register(function):
        CASES.append(Case(name, area, function, error, mentions))
        return function

    return register


def ok(area: str, name: str, warns: str | None = None):
    """Register ``function(world)`` as documented behaviour: it must run (its own asserts
    check the outcome) and, if ``warns``, issue that warning type."""

    def register(function):
        CASES.append(Case(name, area, function, None, (), warns))
        return function

    return register


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def fit(w: World, formula: str = "y ~ sex + age", data: Any = None, genotypes: Any = "default", **kwargs):
    return nm.fit(formula, data=w.data if data is None else data,
                  genotypes=w.G if isinstance(genotypes, str) and genotypes == "default" else genotypes, **kwargs)


def krr(w: World, formula: str = "y ~ sex + age", data: Any = None, genotypes: Any = "default", **kwargs):
    kwargs.setdefault("kernel", nm.GRM())
    return nm.krr(formula, data=w.data if data is None else data,
                  genotypes=w.G if isinstance(genotypes, str) and genotypes == "default" else genotypes, **kwargs)


def with_cell(frame: pd.DataFrame, row: int, column: Any, value: Any) -> pd.DataFrame:
    frame = frame.copy()
    if not isinstance(value, (int, float, np.floating)) and pd.api.types.is_float_dtype(frame[column].dtype):
        frame[column] = frame[column].astype(object)
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return frame


def same(a: float, b: float, rel: float = 1e-6) -> None:
    assert abs(a - b) <= rel * max(abs(a), abs(b), 1e-300), f"{a!r} != {b!r}"


# --- fit: options ---------------------------------------------------------------------------------
bad("fit", "unknown method", ("'method'", "'minque2'"))(lambda w: fit(w, method="minque2"))
bad("fit", "tol given as a string", ("'tol'", "'1e-8'"))(lambda w: fit(w, tol="1e-8"))
bad("fit", "negative tol", ("'tol'", "-1"))(lambda w: fit(w, tol=-1))
bad("fit", "NaN tol", ("'tol'", "nan"))(lambda w: fit(w, tol=float("nan")))
bad("fit", "max_iter zero", ("'max_iter'", "0"))(lambda w: fit(w, max_iter=0))
bad("fit", "max_iter fractional", ("'max_iter'", "2.5"))(lambda w: fit(w, max_iter=2.5))
bad("fit", "max_iter boolean", ("'max_iter'", "True"))(lambda w: fit(w, max_iter=True))
bad("fit", "constrain not boolean", ("'constrain'", "'yes'"))(lambda w: fit(w, constrain="yes"))
bad("fit", "unknown engine", ("'engine'", "'gpu'"))(lambda w: fit(w, engine="gpu"))
bad("fit", "progress not boolean", ("'progress'", "'yes'"))(lambda w: fit(w, progress="yes"))
bad("fit", "KernelLMM.fit max_iter negative", ("'max_iter'", "-1"))(
    lambda w: quiet(nm.KernelLMM.from_formula, "y ~ sex", w.data, genotypes=w.G).fit(max_iter=-1))

# --- fit: formula and response --------------------------------------------------------------------
bad("fit", "formula not text", ("'formula'", "int"))(lambda w: fit(w, formula=123))
bad("fit", "formula without response", ("'formula'", "response"))(lambda w: fit(w, formula="~ sex"))
bad("fit", "string response", ("response", "'y'", "numeric", "str"))(
    lambda w: fit(w, data=w.data.assign(y=np.where(w.data["y"] > 1.9, "high", "low"))))
bad("fit", "categorical response", ("response", "'y'", "numeric", "categor"))(
    lambda w: fit(w, data=w.data.assign(y=pd.Categorical(np.where(w.data["y"] > 1.9, "high", "low")))))
bad("fit", "two responses", ("response", "y + age", "one"))(lambda w: fit(w, formula="y + age ~ sex"))
bad("fit", "all-NaN response", ("response", "'y'", "no non-missing"))(lambda w: fit(w, data=w.data.assign(y=np.nan)))
bad("fit", "inf in the response", ("response", "'y'", "infinite", "s03"))(
    lambda w: fit(w, data=with_cell(w.data, 3, "y", np.inf)))
bad("fit", "-inf in a covariate", ("'age'", "infinite", "s05"))(
    lambda w: fit(w, data=with_cell(w.data, 5, "age", -np.inf)))
bad("fit", "huge covariate overflows to inf in a transform", ("infinite", "np.exp(age)"))(
    lambda w: quiet(fit, w, formula="y ~ np.exp(age)", data=w.data.assign(age=w.data["age"] * 100)))


@ok("fit", "response scaled by 1e100 gives the same h²")
def _(w):
    base = w.lmm
    scaled = quiet(fit, w, data=w.data.assign(y=w.data["y"] * 1e100))
    same(scaled.h2, base.h2)
    same(scaled.params["age"], base.params["age"] * 1e100)


@ok("fit", "response scaled by 1e-100 gives the same h² (REML)")
def _(w):
    base = quiet(fit, w, method="reml")
    scaled = quiet(fit, w, data=w.data.assign(y=w.data["y"] * 1e-100), method="reml")
    same(scaled.h2, base.h2)
    same(scaled.loglik - base.loglik, -(N - 3) * np.log(1e-100), rel=1e-6)


@ok("fit", "covariate scaled by 1e150 gives the same h² and a rescaled coefficient")
def _(w):
    base = w.lmm
    scaled = quiet(fit, w, data=w.data.assign(age=w.data["age"] * 1e150))
    same(scaled.h2, base.h2)
    same(scaled.params["age"] * 1e150, base.params["age"])
    same(scaled.bse["age"] * 1e150, base.bse["age"])


@ok("fit", "minque0 with y scaled by 1e100 gives the same h²")
def _(w):
    base = quiet(fit, w, method="minque0")
    scaled = quiet(fit, w, data=w.data.assign(y=w.data["y"] * 1e100), method="minque0")
    same(scaled.h2, base.h2)


bad("fit", "response scaled by 1e200: variance components overflow float64", ("response", "'y'", "1e400", "Rescale"))(
    lambda w: fit(w, data=w.data.assign(y=w.data["y"] * 1e200)))
bad("fit", "response scaled by 1e-200: variance components underflow float64", ("response", "'y'", "Rescale"))(
    lambda w: fit(w, data=w.data.assign(y=w.data["y"] * 1e-200)))


# --- fit: data and IDs -----------------------------------------------------------------------------
bad("fit", "data is a dict", ("'data'", "DataFrame", "dict"))(lambda w: fit(w, data=w.data.to_dict()))
bad("fit", "data is an array", ("'data'", "DataFrame", "ndarray"))(lambda w: fit(w, data=w.data.to_numpy()))
bad("fit", "data has no rows", ("'data'", "no rows"))(lambda w: fit(w, data=w.data.iloc[:0]))
bad("fit", "data index duplicated", ("'data'", "duplicated", "s01"))(
    lambda w: fit(w, data=w.data.rename(index={"s02": "s01"})))
bad("fit", "data IDs int, genotype IDs str", ("sample ID", "int", "str"))(
    lambda w: fit(w, data=w.data.set_axis(range(N)), genotypes=w.G.set_axis([str(i) for i in range(N)])))
bad("fit", "genotype IDs int, data IDs str", ("sample ID", "int", "str"))(
    lambda w: fit(w, data=w.data.set_axis([str(i) for i in range(N)]), genotypes=w.G.set_axis(range(N))))
bad("fit", "no sample ID in common", ("none of the", "sample ID", "'genotypes'"))(
    lambda w: fit(w, genotypes=w.G.set_axis([f"x{i}" for i in range(N)])))
bad("fit", "genotype DataFrame with a default RangeIndex", ("'genotypes'", "RangeIndex"))(
    lambda w: fit(w, genotypes=w.G.reset_index(drop=True)))
bad("fit", "genotype DataFrame with the IDs in a column", ("'genotypes'", "iid", "index"))(
    lambda w: fit(w, genotypes=w.G.reset_index()))


@ok("fit", "genotypes missing for some people: rows dropped with a count", warns="DataWarning")
def _(w):
    res = fit(w, genotypes=w.G.iloc[5:])
    assert res.nobs == N - 5 and res.dropped.get("not in genotypes") == 5


@ok("fit", "genotype rows in another order are matched by ID")
def _(w):
    res = quiet(fit, w, genotypes=w.G.iloc[::-1])
    same(res.h2, w.lmm.h2, rel=1e-9)


# --- fit: genotype values -----------------------------------------------------------------------------
def _G_array(w, row, col, value):
    G = w.G.to_numpy().copy()
    G[row, col] = value
    return G


bad("genotypes", "-9 in a genotype array", ("'genotypes'", "[0, 2]", "-9", "row 3", "SNP column 4", "NaN"))(
    lambda w: fit(w, genotypes=_G_array(w, 3, 4, -9)))
bad("genotypes", "57 in a genotype DataFrame", ("'genotypes'", "[0, 2]", "57", "s07", "rs2"))(
    lambda w: fit(w, genotypes=with_cell(w.G, 7, "rs2", 57.0)))
bad("genotypes", "-3.5 in a genotype DataFrame", ("'genotypes'", "[0, 2]", "-3.5"))(
    lambda w: fit(w, genotypes=with_cell(w.G, 1, "rs1", -3.5)))
bad("genotypes", "2.5 in a genotype array", ("'genotypes'", "[0, 2]", "2.5"))(
    lambda w: fit(w, genotypes=_G_array(w, 0, 0, 2.5)))
bad("genotypes", "inf in a genotype DataFrame", ("'genotypes'", "inf", "s04", "rs3"))(
    lambda w: fit(w, genotypes=with_cell(w.G, 4, "rs3", np.inf)))
bad("genotypes", "inf in a genotype array", ("'genotypes'", "inf"))(
    lambda w: fit(w, genotypes=_G_array(w, 4, 3, np.inf)))
bad("genotypes", "duplicated SNP IDs", ("'genotypes'", "duplicated SNP", "rs1"))(
    lambda w: fit(w, genotypes=w.G.rename(columns={"rs2": "rs1"})))
bad("genotypes", "genotypes 1-D", ("'genotypes'", "2-D"))(lambda w: fit(w, genotypes=w.G.to_numpy()[:, 0]))
bad("genotypes", "genotypes 3-D", ("'genotypes'", "2-D"))(lambda w: fit(w, genotypes=w.G.to_numpy()[:, :, None]))
bad("genotypes", "genotypes of text", ("'genotypes'", "numeric"))(lambda w: fit(w, genotypes=w.G.to_numpy().astype(str)))
bad("genotypes", "genotype DataFrame with a text cell", ("'genotypes'", "numeric", "rs0"))(
    lambda w: fit(w, genotypes=with_cell(w.G, 0, "rs0", "AA")))
bad("genotypes", "genotype array with too few rows", ("inconsistent numbers of samples", "40", "39"))(
    lambda w: fit(w, genotypes=w.G.to_numpy()[:-1]))
bad("genotypes", "genotype DataFrame with no SNP column", ("'genotypes'", "no SNP"))(
    lambda w: fit(w, genotypes=w.G.iloc[:, :0]))
bad("genotypes", "genotype path that does not exist", ("nowhere/geno",))(lambda w: fit(w, genotypes="nowhere/geno"))
bad("genotypes", "genotype DataFrame with duplicated sample IDs", ("'genotypes'", "duplicated", "s01"))(
    lambda w: fit(w, genotypes=w.G.rename(index={"s02": "s01"})))


@ok("genotypes", "NaN genotype calls are missing (mean-imputed)")
def _(w):
    res = quiet(fit, w, genotypes=_G_array(w, 3, 4, np.nan))
    assert res.nobs == N and np.isfinite(res.h2)


@ok("genotypes", "fractional dosages in [0, 2] are used as they are")
def _(w):
    res = quiet(fit, w, genotypes=w.G * 0.9 + 0.05)
    assert np.isfinite(res.h2)


@ok("genotypes", "a person with no genotype call is dropped with a count", warns="DataWarning")
def _(w):
    G = w.G.copy()
    G.loc["s00"] = np.nan
    res = fit(w, genotypes=G)
    assert res.nobs == N - 1 and res.dropped.get("missing genotypes") == 1


# --- kernels -------------------------------------------------------------------------------------------
bad("kernels", "kernel list empty", ("'kernel'",))(lambda w: fit(w, kernel=[]))
bad("kernels", "kernel given as text", ("'kernel'", "str"))(lambda w: fit(w, kernel="grm"))
bad("kernels", "kernel names repeated", ("names", "unique"))(lambda w: fit(w, kernel=[nm.GRM(name="a"), nm.GRM(name="a")]))
bad("kernels", "NTK depth 0", ("'depth'", "NTK", "0"))(lambda w: nm.NTK(depth=0))
bad("kernels", "NTK depth fractional", ("'depth'", "2.5"))(lambda w: nm.NTK(depth=2.5))
bad("kernels", "NTK depth as text", ("'depth'", "'3'"))(lambda w: nm.NTK(depth="3"))
bad("kernels", "NTK width 0", ("'width'", "0"))(lambda w: nm.NTK(width=0))
bad("kernels", "NTK width negative", ("'width'", "-5"))(lambda w: nm.NTK(width=-5))
bad("kernels", "NTK width as text", ("'width'", "'big'"))(lambda w: nm.NTK(width="big"))
bad("kernels", "NTK width too large for memory", ("'width'", "10000000", "needs about", "PB", "memory"))(
    lambda w: fit(w, kernel=nm.NTK(width=10**7)))
bad("kernels", "NTK seed negative", ("'seed'", "-1"))(lambda w: nm.NTK(seed=-1))
bad("kernels", "NTK seed 2**64", ("'seed'", "18446744073709551616", "2**63"))(lambda w: nm.NTK(seed=2**64))
bad("kernels", "NTK seed 2**63", ("'seed'", "2**63"))(lambda w: nm.NTK(seed=2**63))
bad("kernels", "NTK seed + n_init past 2**63", ("'seed'", "'n_init'", "2**63"))(lambda w: nm.NTK(seed=2**63 - 1, n_init=2))
bad("kernels", "NTK seed fractional", ("'seed'", "1.5"))(lambda w: nm.NTK(seed=1.5))
bad("kernels", "NTK seed as text", ("'seed'", "'1'"))(lambda w: nm.NTK(seed="1"))
bad("kernels", "NTK n_init 0", ("'n_init'", "0"))(lambda w: nm.NTK(n_init=0))
bad("kernels", "NTK dtype float16", ("'dtype'", "'float16'"))(lambda w: nm.NTK(dtype="float16"))
bad("kernels", "NTK device tpu", ("'device'", "'tpu'"))(lambda w: nm.NTK(device="tpu"))
bad("kernels", "NTK block_size 0", ("'block_size'", "0"))(lambda w: nm.NTK(block_size=0))
bad("kernels", "NTK progress as text", ("'progress'", "'yes'"))(lambda w: nm.NTK(progress="yes"))
bad("kernels", "NTK normalize unknown", ("'normalize'", "'zscore'"))(lambda w: nm.NTK(normalize="zscore"))
bad("kernels", "kernel name empty", ("'name'", "''"))(lambda w: nm.GRM(name=""))
bad("kernels", "kernel name a number", ("'name'", "3"))(lambda w: nm.GRM(name=3))
bad("kernels", "NNGP depth 0", ("'depth'", "NNGP"))(lambda w: nm.NNGP(depth=0))
bad("kernels", "Polynomial degree 0", ("'degree'", "0"))(lambda w: nm.Polynomial(degree=0))
bad("kernels", "Polynomial c negative", ("'c'", "-1"))(lambda w: nm.Polynomial(c=-1))
bad("kernels", "Polynomial c as text", ("'c'", "'1'"))(lambda w: nm.Polynomial(c="1"))
bad("kernels", "Gaussian bandwidth 0", ("'bandwidth'", "0"))(lambda w: nm.Gaussian(bandwidth=0))
bad("kernels", "GRM normalize unknown", ("'normalize'", "'x'"))(lambda w: nm.GRM(normalize="x"))


@ok("kernels", "a very deep NTK warns that its kernel is nearly constant plus identity", warns="IdentifiabilityWarning")
def _(w):
    fit(w, kernel=nm.NTK(depth=50, width=None))


@ok("kernels", "NTK seed 2**63 - 1 is accepted")
def _(w):
    assert nm.NTK(seed=2**63 - 1).seed == 2**63 - 1


# --- Precomputed --------------------------------------------------------------------------------------------
def _K(w):
    Z = (w.G - w.G.mean()) / w.G.std(ddof=0)
    return pd.DataFrame(Z.to_numpy() @ Z.to_numpy().T / P, index=w.G.index, columns=w.G.index)


bad("precomputed", "K not square", ("'K'", "square", "(2, 3)"))(lambda w: nm.Precomputed(np.ones((2, 3))))
bad("precomputed", "K 1-D", ("'K'", "square"))(lambda w: nm.Precomputed(np.ones(4)))
bad("precomputed", "K not symmetric", ("'K'", "symmetric"))(lambda w: nm.Precomputed(np.array([[1.0, 0.5], [0.0, 1.0]])))
bad("precomputed", "K with NaN", ("'K'", "finite"))(lambda w: nm.Precomputed(np.array([[1.0, np.nan], [np.nan, 1.0]])))
bad("precomputed", "K not PSD", ("'K'", "positive semi-definite", "-1"), error="NotPositiveSemidefiniteError")(
    lambda w: nm.Precomputed(np.array([[1.0, 2.0], [2.0, 1.0]])))
bad("precomputed", "K of text", ("'K'", "numeric"))(lambda w: nm.Precomputed([["a", "b"], ["c", "d"]]))
bad("precomputed", "tol as text", ("'tol'", "'abc'"))(lambda w: nm.Precomputed(np.eye(3), tol="abc"))
bad("precomputed", "tol negative", ("'tol'", "-1"))(lambda w: nm.Precomputed(np.eye(3), tol=-1))
bad("precomputed", "tol NaN", ("'tol'", "nan"))(lambda w: nm.Precomputed(np.eye(3), tol=float("nan")))
bad("precomputed", "ids of the wrong length", ("'ids'", "3", "2"))(lambda w: nm.Precomputed(np.eye(3), ids=["a", "b"]))
bad("precomputed", "ids duplicated", ("'ids'", "duplicates", "'a'"))(lambda w: nm.Precomputed(np.eye(3), ids=["a", "a", "b"]))
bad("precomputed", "K DataFrame whose columns are other IDs", ("'K'", "columns", "index", "s00"))(
    lambda w: nm.Precomputed(_K(w).rename(columns={"s00": "t00"})))
bad("precomputed", "no ids while data has duplicated IDs", ("'data'", "duplicated", "s01"))(
    lambda w: nm.fit("y ~ sex", data=w.data.rename(index={"s02": "s01"}), kernel=nm.Precomputed(_K(w).to_numpy())))
bad("precomputed", "no ids and the wrong number of rows", ("one row per row of 'data'", "40"))(
    lambda w: nm.fit("y ~ sex", data=w.data, kernel=nm.Precomputed(np.eye(10))))
bad("precomputed", "ids that miss fitted people", ("Precomputed", "not in", "s00"))(
    lambda w: nm.fit("y ~ sex", data=w.data, kernel=nm.Precomputed(_K(w).iloc[1:, 1:])))
bad("precomputed", "int ids while data IDs are str", ("sample ID", "int", "str"))(
    lambda w: nm.fit("y ~ sex", data=w.data.set_axis([str(i) for i in range(N)]),
                     kernel=nm.Precomputed(_K(w).to_numpy(), ids=range(N))))


@ok("precomputed", "a K DataFrame whose columns are in another order is aligned by ID")
def _(w):
    aligned = quiet(nm.fit, "y ~ sex", data=w.data, kernel=nm.Precomputed(_K(w)))
    shuffled = quiet(nm.fit, "y ~ sex", data=w.data, kernel=nm.Precomputed(_K(w).iloc[:, ::-1]))
    same(aligned.h2, shuffled.h2, rel=1e-12)


@ok("precomputed", "a PSD K with tol=0 is accepted")
def _(w):
    nm.Precomputed(np.eye(3), tol=0)


# --- krr ----------------------------------------------------------------------------------------------------------
bad("krr", "cv 1", ("'cv'", "1"))(lambda w: krr(w, cv=1))
bad("krr", "cv 0", ("'cv'", "0"))(lambda w: krr(w, cv=0))
bad("krr", "cv True", ("'cv'", "True"))(lambda w: krr(w, cv=True))
bad("krr", "cv unknown word", ("'cv'", "'kfold'"))(lambda w: krr(w, cv="kfold"))
bad("krr", "cv fractional", ("'cv'", "2.5"))(lambda w: krr(w, cv=2.5))
bad("krr", "cv more folds than people", ("'cv'", "41", "40"))(lambda w: krr(w, cv=41))
bad("krr", "lambdas negative", ("'lambdas'", "-1"))(lambda w: krr(w, lambdas=[-1.0, 1.0]))
bad("krr", "lambdas empty", ("'lambdas'",))(lambda w: krr(w, lambdas=[]))
bad("krr", "lambdas NaN", ("'lambdas'", "nan"))(lambda w: krr(w, lambdas=[np.nan]))
bad("krr", "lambdas text", ("'lambdas'", "abc"))(lambda w: krr(w, lambdas="abc"))
bad("krr", "lambdas 2-D", ("'lambdas'", "1-D"))(lambda w: krr(w, lambdas=[[1.0, 2.0], [3.0, 4.0]]))
bad("krr", "scoring unknown", ("'scoring'", "'r2'"))(lambda w: krr(w, scoring="r2"))
bad("krr", "seed negative", ("'seed'", "-1"))(lambda w: krr(w, seed=-1))
bad("krr", "seed as text", ("'seed'", "'0'"))(lambda w: krr(w, seed="0"))
bad("krr", "two kernels", ("'kernel'", "one kernel"))(lambda w: krr(w, kernel=[nm.GRM(), nm.GRM()]))
bad("krr", "inf in the response", ("response", "'y'", "infinite"))(lambda w: krr(w, data=with_cell(w.data, 2, "y", np.inf)))
bad("krr", "user folds out of range", ("'cv'", "[0, 39]"))(lambda w: krr(w, cv=[(np.arange(30), np.arange(30, 45))]))
bad("krr", "progress as text", ("'progress'", "'x'"))(lambda w: krr(w, progress="x"))


@ok("krr", "permuting the rows of data leaves the cross-validated λ unchanged")
def _(w):
    base = w.krr_result
    order = np.random.default_rng(5).permutation(N)
    shuffled = quiet(krr, w, data=w.data.iloc[order], cv=5)
    # the same grid point: the grid's scale is a sum over people, equal up to rounding
    assert abs(shuffled.lambda_ - base.lambda_) <= 1e-12 * base.lambda_, (shuffled.lambda_, base.lambda_)
    np.testing.assert_allclose(shuffled.cv_results["mean"].to_numpy(), base.cv_results["mean"].to_numpy(), rtol=1e-9)


@ok("krr", "response scaled by 1e200 or 1e-200 gives the same λ and rescaled estimates")
def _(w):
    base = w.krr_result
    for factor in (1e200, 1e-200):
        scaled = quiet(krr, w, data=w.data.assign(y=w.data["y"] * factor), cv=5)
        assert scaled.lambda_ == base.lambda_, (factor, scaled.lambda_, base.lambda_)
        same(scaled.params["age"], base.params["age"] * factor)
        same(scaled.dual_coef.iloc[0], base.dual_coef.iloc[0] * factor)
    scaled = quiet(krr, w, data=w.data.assign(y=w.data["y"] * 1e100), cv=5)  # MSE ~1e200: representable
    same(scaled.cv_results["mean"].iloc[0], base.cv_results["mean"].iloc[0] * 1e200)


# --- predict -----------------------------------------------------------------------------------------------------------
bad("predict", "newdata a dict", ("'newdata'", "DataFrame", "dict"))(lambda w: w.lmm.predict(w.data.to_dict(), w.G))
bad("predict", "newdata lacks a formula column", ("'newdata'", "['age']"))(lambda w: w.lmm.predict(w.data.drop(columns="age"), w.G))
bad("predict", "genotypes with the wrong SNP count", ("'genotypes'", "30", "29"))(
    lambda w: w.lmm.predict(w.data, w.G.to_numpy()[:, :-1]))
bad("predict", "genotypes lacking training SNPs", ("'genotypes'", "lacks SNP", "rs29"))(
    lambda w: w.lmm.predict(w.data, w.G.drop(columns="rs29")))
bad("predict", "new IDs not in the genotypes", ("'genotypes'", "s00"))(lambda w: w.lmm.predict(w.data, w.G.iloc[1:]))
bad("predict", "inf in new genotypes", ("'genotypes'", "predict", "inf", "s01", "rs5"))(
    lambda w: w.lmm.predict(w.data, with_cell(w.G, 1, "rs5", np.inf)))
bad("predict", "-9 in new genotypes", ("'genotypes'", "predict", "[0, 2]", "-9"))(
    lambda w: w.lmm.predict(w.data, with_cell(w.G, 1, "rs5", -9.0)))
bad("predict", "inf in a new covariate", ("'newdata'", "'age'", "infinite", "s02"))(
    lambda w: w.lmm.predict(with_cell(w.data, 2, "age", np.inf), w.G))
bad("predict", "numeric covariate given as text", ("'newdata'", "'age'", "numeric"))(
    lambda w: w.lmm.predict(w.data.assign(age=w.data["age"].astype(str)), w.G))
bad("predict", "unseen factor level", ("'newdata'", "allow_new_levels", "sex"))(
    lambda w: w.lmm.predict(w.data.assign(sex="other"), w.G))
bad("predict", "allow_new_levels not boolean", ("'allow_new_levels'", "'yes'"))(
    lambda w: w.lmm.predict(w.data, w.G, allow_new_levels="yes"))
bad("predict", "genotypes without newdata", ("'genotypes'", "'newdata'"))(lambda w: w.lmm.predict(genotypes=w.G))
bad("predict", "newdata IDs str, genotype IDs int", ("sample ID", "int", "str"))(
    lambda w: w.lmm.predict(w.data.set_axis([str(i) for i in range(N)]), w.G.set_axis(pd.Index(range(N)))))
bad("predict", "genotype DataFrame with a default RangeIndex", ("'genotypes'", "RangeIndex"))(
    lambda w: w.lmm.predict(w.data, w.G.reset_index(drop=True)))
bad("predict", "newdata with duplicated IDs", ("'newdata'", "duplicated", "s01"))(
    lambda w: w.lmm.predict(w.data.rename(index={"s02": "s01"}), w.G))
bad("predict", "genotype array rows differ from newdata rows", ("inconsistent numbers of samples", "40", "39"))(
    lambda w: w.lmm.predict(w.data, w.G.to_numpy()[:-1]))
bad("predict", "genotypes with duplicated SNP IDs", ("'genotypes'", "duplicated SNP"))(
    lambda w: w.lmm.predict(w.data, w.G.rename(columns={"rs2": "rs1"})))
bad("predict", "KRR: inf in new genotypes", ("'genotypes'", "inf"))(
    lambda w: w.krr_result.predict(w.data, with_cell(w.G, 1, "rs5", np.inf)))


@ok("predict", "a new person without any genotype call predicts NaN, with a warning", warns="DataWarning")
def _(w):
    G = w.G.copy()
    G.loc["s03"] = np.nan
    predicted = w.lmm.predict(w.data, G)
    assert np.isnan(predicted["s03"]) and predicted.drop("s03").notna().all()


@ok("predict", "a missing covariate predicts NaN")
def _(w):
    predicted = quiet(w.lmm.predict, with_cell(w.data, 2, "age", np.nan), w.G)
    assert np.isnan(predicted["s02"]) and predicted.drop("s02").notna().all()


@ok("predict", "SNP columns in another order are matched by name")
def _(w):
    np.testing.assert_allclose(w.lmm.predict(w.data, w.G[w.G.columns[::-1]]), w.lmm.predict(w.data, w.G), rtol=1e-12)


# --- save and load --------------------------------------------------------------------------------------------------------------
bad("archive", "save to a directory", ("'path'", "directory"))(lambda w: w.lmm.save(w.dir))
bad("archive", "save to None", ("'path'", "None"))(lambda w: w.lmm.save(None))
bad("archive", "save to a number", ("'path'", "123"))(lambda w: w.lmm.save(123))
bad("archive", "save under /proc", ("/proc/x",))(lambda w: w.lmm.save("/proc/x"))
bad("archive", "save into a missing folder", ("does not exist", "nowhere"))(lambda w: w.lmm.save(w.dir / "nowhere" / "m.npz"))
bad("archive", "KRR save to a directory", ("'path'", "directory"))(lambda w: w.krr_result.save(w.dir))
bad("archive", "load a missing file", ("missing.npz", "does not exist"), error="ArchiveError")(lambda w: nm.load(w.dir / "missing.npz"))
bad("archive", "load a directory", ("directory",), error="ArchiveError")(lambda w: nm.load(w.dir))
bad("archive", "load None", ("'path'", "None"))(lambda w: nm.load(None))
bad("archive", "load an empty file", ("empty.npz", "empty"), error="ArchiveError")(lambda w: nm.load(w.write("empty.npz", b"")))
bad("archive", "load random bytes", ("random.npz", "not an ntkmixed model"), error="ArchiveError")(
    lambda w: nm.load(w.write("random.npz", np.random.default_rng(0).bytes(3000))))
bad("archive", "load a .npy file", ("array.npy", "not an ntkmixed model"), error="ArchiveError")(
    lambda w: nm.load(_npy(w)))
bad("archive", "load a pickled object array", ("objects.npz",), error="ArchiveError")(lambda w: nm.load(_pickled(w)))
bad("archive", "load a truncated archive", ("truncated.npz", "damaged"), error="ArchiveError")(
    lambda w: nm.load(w.damaged_archive("truncated.npz", lambda b: b[: len(b) // 2])))
bad("archive", "load an archive with flipped bytes", ("flipped.npz",), error="ArchiveError")(
    lambda w: nm.load(w.damaged_archive("flipped.npz", lambda b: _flip(b, [len(b) // 3, len(b) // 3 + 7]))))
bad("archive", "load an archive whose header is not JSON", ("badjson.npz", "header"), error="ArchiveError")(
    lambda w: nm.load(_rewrite_meta(w, "badjson.npz", "{not json")))
bad("archive", "load an archive whose header is a JSON list", ("list.npz", "header"), error="ArchiveError")(
    lambda w: nm.load(_rewrite_meta(w, "list.npz", "[1, 2]")))
bad("archive", "load an archive with a tampered array", ("tampered.npz", "Py"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("tampered.npz", lambda m, a: a.update(Py=a["Py"][:-1]))))
bad("archive", "load an archive with a changed value", ("changed.npz", "beta", "checksum"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("changed.npz", lambda m, a: a.update(beta=a["beta"] + 1))))
bad("archive", "load an archive missing an entry", ("noentry.npz", "theta"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("noentry.npz", lambda m, a: a.pop("theta"))))
bad("archive", "load an archive without a header", ("nometa.npz", "__meta__"), error="ArchiveError")(
    lambda w: nm.load(_without_meta(w)))
bad("archive", "load an archive from a newer format", ("future.npz", "newer"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("future.npz", lambda m, a: m.update(format_version=99))))
bad("archive", "load an archive whose header was edited", ("edited.npz", "header", "altered"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("edited.npz", lambda m, a: m.update(formula="y ~ 1"))))
bad("archive", "load an unknown kind of model", ("kind.npz", "'spaceship'"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("kind.npz", lambda m, a: m.update(kind="spaceship"), resign=True)))
bad("archive", "load an archive whose header lacks a key", ("nodesign.npz", "design"), error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("nodesign.npz", lambda m, a: m.pop("design"), resign=True)))
bad("archive", "load a re-signed archive whose Py has the wrong length", ("shortpy.npz", "'Py'", "shape"),
    error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("shortpy.npz", lambda m, a: a.update(Py=a["Py"][:-1]), resign=True)))
bad("archive", "load a re-signed archive naming a non-kernel class", ("notkernel.npz", "'Normalization'"),
    error="ArchiveError")(
    lambda w: nm.load(w.rewritten_archive("notkernel.npz", lambda m, a: m["kernels"][0]["config"].update(
        type="Normalization"), resign=True)))


def _npy(w):
    path = w.path("array.npy")
    np.save(path, np.arange(10.0))
    return path


def _pickled(w):
    path = w.path("objects.npz")
    np.savez(path, __meta__=np.array([{"a": 1}], dtype=object))
    return path


def _flip(data: bytes, positions: list[int]) -> bytes:
    array = bytearray(data)
    for position in positions:
        array[position] ^= 0xFF
    return bytes(array)


def _rewrite_meta(w, name: str, text: str) -> Path:
    path = w.rewritten_archive(name, lambda m, a: None)
    with zipfile.ZipFile(path) as source:
        entries = {info.filename: source.read(info.filename) for info in source.infolist()}
    buffer = io.BytesIO()
    np.save(buffer, np.array(text))
    entries["__meta__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as target:
        for filename, content in entries.items():
            target.writestr(filename, content)
    return path


def _without_meta(w) -> Path:
    path = w.rewritten_archive("nometa.npz", lambda m, a: None)
    with zipfile.ZipFile(path) as source:
        entries = {info.filename: source.read(info.filename) for info in source.infolist()}
    with zipfile.ZipFile(path, "w") as target:
        for filename, content in entries.items():
            if filename != "__meta__.npy":
                target.writestr(filename, content)
    return path


@ok("archive", "mixed int/str sample IDs keep their types through save and load")
def _(w):
    data = w.data.set_axis([1, 2, "a", *[f"s{i}" for i in range(3, N)]])
    res = quiet(fit, w, data=data, genotypes=w.G.set_axis(data.index))
    res.save(w.path("mixed.npz"))
    loaded = nm.load(w.path("mixed.npz"))
    assert list(loaded.blup.index[:3]) == [1, 2, "a"], list(loaded.blup.index[:3])


@ok("archive", "float sample IDs keep their type through save and load")
def _(w):
    data = w.data.set_axis(np.arange(N) + 0.5)
    res = quiet(fit, w, data=data, genotypes=w.G.set_axis(data.index))
    res.save(w.path("float.npz"))
    loaded = nm.load(w.path("float.npz"))
    assert loaded.blup.index.equals(res.blup.index) and loaded.blup.index.dtype == np.float64


# --- files: PLINK ---------------------------------------------------------------------------------------------------------------------
bad("plink", "read_plink of a missing fileset", ("nowhere", "missing"))(lambda w: nm.read_plink(w.dir / "nowhere"))
bad("plink", "read_plink of None", ("'prefix'", "None"))(lambda w: nm.read_plink(None))
bad("plink", ".fam with one person more than the .bed holds", (".bed", ".fam", "41"))(
    lambda w: nm.read_plink(w.fileset_copy("famplus", fam="\n".join(w.fam_lines() + ["x x 0 0 0 -9"]) + "\n")))
bad("plink", ".fam with one person fewer than the .bed holds", (".fam", ".bed", "padding"))(
    lambda w: nm.read_plink(w.fileset_copy("famminus", fam="\n".join(w.fam_lines()[:-1]) + "\n")))
bad("plink", ".bim with one SNP more than the .bed holds", (".bed", ".bim", "31"))(
    lambda w: nm.read_plink(w.fileset_copy("bimplus", bim="\n".join(w.bim_lines() + ["1 extra 0 99999 A G"]) + "\n")))
bad("plink", ".bim with a ragged row", (".bim", "line 3"))(
    lambda w: nm.read_plink(w.fileset_copy("bimragged", bim="\n".join(
        w.bim_lines()[:2] + [" ".join(w.bim_lines()[2].split()[:5])] + w.bim_lines()[3:]) + "\n")))
bad("plink", ".bim with text in the position column", (".bim", "line 2", "'pos'"))(
    lambda w: nm.read_plink(w.fileset_copy("bimtext", bim="\n".join(
        w.bim_lines()[:1] + ["1 rs1 0 here A G"] + w.bim_lines()[2:]) + "\n")))
bad("plink", ".fam with five columns", (".fam", "6 columns", "5"))(
    lambda w: nm.read_plink(w.fileset_copy("fam5", fam="\n".join(" ".join(l.split()[:5]) for l in w.fam_lines()) + "\n")))
bad("plink", ".bed with wrong magic bytes", (".bed", "PLINK 1"))(
    lambda w: nm.read_plink(w.fileset_copy("badmagic", bed=b"\x00\x00\x01" + Path(f"{w.fileset}.bed").read_bytes()[3:])))
bad("plink", ".fam with duplicated IIDs", (".fam", "duplicated IID", "s01"))(
    lambda w: nm.read_plink(w.fileset_copy("famdup", fam="\n".join(
        [w.fam_lines()[0], w.fam_lines()[1], w.fam_lines()[1].replace("s01 s01", "s99 s01")] + w.fam_lines()[3:]) + "\n")))
bad("plink", "fit on a fileset with duplicated SNP IDs", ("duplicated SNP", "rs1"))(
    lambda w: fit(w, genotypes=w.fileset_copy("bimdup", bim="\n".join(
        w.bim_lines()[:2] + [w.bim_lines()[2].replace("rs2", "rs1")] + w.bim_lines()[3:]) + "\n")))
bad("plink", "empty .bim", (".bim", "empty"))(lambda w: nm.read_plink(w.fileset_copy("bimempty", bim="")))
bad("plink", "qc maf negative", ("'maf'", "-0.1"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), maf=-0.1))
bad("plink", "qc maf above 0.5", ("'maf'", "0.7"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), maf=0.7))
bad("plink", "qc geno as text", ("'geno'", "'0.1'"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), geno="0.1"))
bad("plink", "qc hwe 2", ("'hwe'", "2"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), hwe=2))
bad("plink", "qc mind boolean", ("'mind'", "True"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), mind=True))
bad("plink", "qc impute as text", ("'impute'", "'yes'"))(lambda w: nm.qc.qc(nm.read_plink(w.fileset), impute="yes"))
bad("plink", "qc of an array", ("'genotypes'", "Genotypes"))(lambda w: nm.qc.qc(w.G.to_numpy()))


@ok("plink", "a fileset fits the same model as the DataFrame of its dosages")
def _(w):
    same(quiet(fit, w, genotypes=nm.read_plink(w.fileset)).h2, w.lmm.h2, rel=1e-9)


# --- files: phenotypes and covariates -----------------------------------------------------------------------------------------------------
bad("pheno", "short row", ("short.txt", "line 3", "2 fields", "has 3"))(
    lambda w: nm.read_pheno(w.write("short.txt", w.pheno_text(["s00 s00 1.0", "s01 s01"]))))
bad("pheno", "long row", ("long.txt", "line 2"))(
    lambda w: nm.read_pheno(w.write("long.txt", w.pheno_text(["s00 s00 1.0 2.0"]))))
bad("pheno", "inf value", ("inf.txt", "line 2", "'y'", "inf"))(
    lambda w: nm.read_pheno(w.write("inf.txt", w.pheno_text(["s00 s00 inf"]))))
bad("pheno", "1e400 value", ("big.txt", "line 3", "'y'", "1e400"))(
    lambda w: nm.read_pheno(w.write("big.txt", w.pheno_text(["s00 s00 1.0", "s01 s01 1e400"]))))
bad("pheno", "stray token", ("stray.txt", "line 2", "'y'", "'1.2.3'"))(
    lambda w: nm.read_pheno(w.write("stray.txt", w.pheno_text(["s00 s00 1.2.3"]))))
bad("pheno", "missing file", ("nofile.txt", "does not exist"))(lambda w: nm.read_pheno(w.dir / "nofile.txt"))
bad("pheno", "empty file", ("empty.txt", "empty"))(lambda w: nm.read_pheno(w.write("empty.txt", "")))
bad("pheno", "binary file", ("binary.txt", "text"))(lambda w: nm.read_pheno(w.write("binary.txt", bytes(range(256)) * 4)))
bad("pheno", "a directory", ("directory",))(lambda w: nm.read_pheno(w.dir))
bad("pheno", "duplicated IID", ("dup.txt", "more than once", "s00"))(
    lambda w: nm.read_pheno(w.write("dup.txt", w.pheno_text(["s00 s00 1.0", "s00 s00 2.0"]))))
bad("pheno", "unknown phenotype column", ("'height'", "columns"))(
    lambda w: nm.read_pheno(w.write("pheno.txt", w.pheno_text()), columns=["height"]))
bad("pheno", "phenotype number 0", ("number 0",))(lambda w: nm.read_pheno(w.write("pheno.txt", w.pheno_text()), columns=[0]))
bad("pheno", "header only", ("headonly.txt", "no rows"))(lambda w: nm.read_pheno(w.write("headonly.txt", "FID IID y\n")))


@ok("pheno", "-9 and NA are missing phenotypes")
def _(w):
    table = nm.read_pheno(w.write("missing.txt", w.pheno_text(["s00 s00 -9", "s01 s01 NA"])))
    assert table["y"].isna().sum() == 2


@ok("pheno", "a single phenotype name may be given as a string")
def _(w):
    table = nm.read_pheno(w.write("pheno.txt", w.pheno_text()), columns="y")
    assert list(table.columns) == ["FID", "y"]


bad("covar", "stray token in a numeric covariate column", ("stray.cov", "line 3", "'age'", "'4O'"))(
    lambda w: nm.read_covar(w.write("stray.cov", w.covar_text(["s00 s00 female 41", "s01 s01 male 4O"]))))
bad("covar", "inf in a covariate", ("infcov.cov", "line 2", "'age'", "inf"))(
    lambda w: nm.read_covar(w.write("infcov.cov", w.covar_text(["s00 s00 female inf"]))))
bad("covar", "short covariate row", ("shortcov.cov", "line 2"))(
    lambda w: nm.read_covar(w.write("shortcov.cov", w.covar_text(["s00 s00 female"]))))
bad("covar", "categorical is a number", ("'categorical'", "5"))(
    lambda w: nm.read_covar(w.write("covar.cov", w.covar_text()), categorical=5))
bad("covar", "categorical names an unknown column", ("'height'", "columns"))(
    lambda w: nm.read_covar(w.write("covar.cov", w.covar_text()), categorical=["height"]))
bad("covar", "quantitative with a text column", ("'sex'", "numeric"))(
    lambda w: nm.read_covar(w.write("covar.cov", w.covar_text()), quantitative=True))


@ok("covar", "categorical='sex' is the one column 'sex' (not its letters)")
def _(w):
    table = nm.read_covar(w.write("covar.cov", w.covar_text()), categorical="sex")
    assert isinstance(table["sex"].dtype, pd.CategoricalDtype)


@ok("covar", "a stray-token column forced categorical is read as categories")
def _(w):
    table = nm.read_covar(w.write("stray2.cov", w.covar_text(["s00 s00 female 41", "s01 s01 male 4O"])), categorical=["age"])
    assert isinstance(table["age"].dtype, pd.CategoricalDtype)


# --- simulate and compare ------------------------------------------------------------------------------------------------------------------------
bad("simulate", "h2 above 1", ("'h2'", "1.5"))(lambda w: nm.simulate.phenotype(w.G, h2=1.5))
bad("simulate", "h2 negative", ("'h2'", "-0.1"))(lambda w: nm.simulate.phenotype(w.G, h2=-0.1))
bad("simulate", "h2 as text", ("'h2'", "'0.5'"))(lambda w: nm.simulate.phenotype(w.G, h2="0.5"))
bad("simulate", "unknown scenario", ("'scenario'", "'quadratic'"))(lambda w: nm.simulate.phenotype(w.G, "quadratic"))
bad("simulate", "n_causal 0", ("'n_causal'", "0"))(lambda w: nm.simulate.phenotype(w.G, n_causal=0))
bad("simulate", "n_causal above p", ("'n_causal'", "31"))(lambda w: nm.simulate.phenotype(w.G, n_causal=31))
bad("simulate", "seed as text", ("'seed'", "'a'"))(lambda w: nm.simulate.phenotype(w.G, seed="a"))
bad("simulate", "seed negative", ("'seed'", "-1"))(lambda w: nm.simulate.phenotype(w.G, seed=-1))
bad("simulate", "seed list with a negative entry", ("'seed'", "list", "-1"))(
    lambda w: nm.simulate.phenotype(w.G, seed=[3, -1]))
bad("simulate", "seed empty list", ("'seed'", "[]"))(lambda w: nm.simulate.phenotype(w.G, seed=[]))
bad("simulate", "from_kernel seed negative", ("'seed'", "-1"))(
    lambda w: nm.simulate.from_kernel(np.eye(4), seed=-1))


@ok("simulate", "a list seed names one reproducible stream")
def _(w):
    first, again = (nm.simulate.phenotype(w.G, seed=[7, 2]).y for _ in range(2))
    other = nm.simulate.phenotype(w.G, seed=[7, 3]).y
    assert first.equals(again) and not first.equals(other)


bad("simulate", "-9 in the genotypes", ("'genotypes'", "[0, 2]", "-9"))(
    lambda w: nm.simulate.phenotype(with_cell(w.G, 0, "rs0", -9.0)))
bad("simulate", "unknown causal SNP", ("'snps'", "'rs99'"))(lambda w: nm.simulate.phenotype(w.G, snps=["rs99"]))
bad("simulate", "power gamma negative", ("'gamma'", "-1"))(lambda w: nm.simulate.phenotype(w.G, "power", gamma=-1))
bad("simulate", "genotypes n 1", ("'n'", "1"))(lambda w: nm.simulate.genotypes(1, 5, method="binomial"))
bad("simulate", "genotypes p 0", ("'p'", "0"))(lambda w: nm.simulate.genotypes(10, 0, method="binomial"))
bad("simulate", "genotypes unknown method", ("'method'", "'coalescent'"))(lambda w: nm.simulate.genotypes(10, 5, method="coalescent"))
bad("simulate", "genotypes min_maf 0.6", ("'min_maf'", "0.6"))(lambda w: nm.simulate.genotypes(10, 5, method="binomial", min_maf=0.6))
bad("simulate", "genotypes seed as text", ("'seed'", "'x'"))(lambda w: nm.simulate.genotypes(10, 5, method="binomial", seed="x"))

bad("compare", "phenotype of text", ("'phenotype'", "numeric", "s00"))(
    lambda w: nm.compare(w.G, w.data["y"].astype(object).where(w.data.index != "s00", "tall"), methods=["gblup"], n_splits=1))
bad("compare", "phenotype with inf", ("'phenotype'", "infinite", "s00"))(
    lambda w: nm.compare(w.G, w.data["y"].where(w.data.index != "s00", np.inf), methods=["gblup"], n_splits=1))
bad("compare", "unknown method", ("'methods'", "'xgboost'"))(lambda w: nm.compare(w.G, w.data["y"], methods=["xgboost"], n_splits=1))
bad("compare", "n_splits 0", ("'n_splits'", "0"))(lambda w: nm.compare(w.G, w.data["y"], methods=["gblup"], n_splits=0))
bad("compare", "test_size 1.5", ("'test_size'", "1.5"))(lambda w: nm.compare(w.G, w.data["y"], methods=["gblup"], n_splits=1, test_size=1.5))
bad("compare", "covariates a list", ("'covariates'", "DataFrame"))(
    lambda w: nm.compare(w.G, w.data["y"], methods=["gblup"], n_splits=1, covariates=[1, 2]))
bad("compare", "phenotype sharing no ID", ("'phenotype'", "sample ID"))(
    lambda w: nm.compare(w.G, w.data["y"].set_axis([f"x{i}" for i in range(N)]), methods=["gblup"], n_splits=1))
bad("compare", "phenotype array of the wrong length", ("inconsistent numbers of samples", "40", "39"))(
    lambda w: nm.compare(w.G, w.data["y"].to_numpy()[:-1], methods=["gblup"], n_splits=1))
bad("compare", "width 0", ("'width'", "0"))(lambda w: nm.compare(w.G, w.data["y"], methods=["ntk-lmm"], n_splits=1, width=0))
bad("compare", "-9 in the genotypes", ("'genotypes'", "[0, 2]", "-9"))(
    lambda w: nm.compare(with_cell(w.G, 0, "rs0", -9.0), w.data["y"], methods=["gblup"], n_splits=1))


# --- association tests ----------------------------------------------------------------------------------------------------------------
def _snp_info(w):
    return pd.DataFrame({"chr": ["1"] * (P // 2) + ["2"] * (P - P // 2), "bp": np.arange(P) * 1000 + 1}, index=w.G.columns)


bad("association", "gwas: -9 in the genotypes", ("'genotypes'", "[0, 2]", "-9", "s03"))(
    lambda w: nm.gwas("y ~ sex", w.data, with_cell(w.G, 3, "rs20", -9.0), snp_info=_snp_info(w)))
bad("association", "gwas: loco as text", ("'loco'", "'yes'"))(
    lambda w: nm.gwas("y ~ sex", w.data, w.G, snp_info=_snp_info(w), loco="yes"))
bad("association", "gwas: unknown test", ("'test'", "'t'"))(lambda w: nm.gwas("y ~ sex", w.data, w.G, test="t"))
bad("association", "gwas: seed negative", ("'seed'", "-1"))(lambda w: nm.gwas("y ~ sex", w.data, w.G, seed=-1))
bad("association", "gwas: progress as text", ("'progress'", "'x'"))(
    lambda w: nm.gwas("y ~ sex", w.data, w.G, snp_info=_snp_info(w), engine="dense", progress="x"))
bad("association", "gwas: inf in the response", ("response", "'y'", "infinite"))(
    lambda w: nm.gwas("y ~ sex", with_cell(w.data, 1, "y", np.inf), w.G, snp_info=_snp_info(w)))
bad("association", "gwas: genotype IDs int, data IDs str", ("sample ID", "int", "str"))(
    lambda w: nm.gwas("y ~ sex", w.data.set_axis([str(i) for i in range(N)]), w.G.set_axis(pd.Index(range(N))),
                      snp_info=_snp_info(w)))
bad("association", "kernel_test: unknown p-value method", ("'pvalue'", "'exact'"))(
    lambda w: nm.kernel_test("y ~ sex", w.data, w.G, pvalue="exact"))
bad("association", "kernel_test: inf in the genotypes", ("'genotypes'", "inf"))(
    lambda w: nm.kernel_test("y ~ sex", w.data, with_cell(w.G, 2, "rs4", np.inf)))
bad("association", "kernel_test: progress as text", ("'progress'", "'x'"))(
    lambda w: nm.kernel_test("y ~ sex", w.data, w.G, progress="x"))


# --- the command line ----------------------------------------------------------------------------------------------------------------------------
def _fit_cli(w, out, pheno=None, covar=None, *extra, out_dir=None):
    cli(w, "fit", *w.cli_fit_args(out, pheno, covar), *extra, out_dir=out_dir)


bad("cli", "--out in an unwritable place fails before fitting", ("--out", "/proc"), error="CommandFailed")(
    lambda w: _cli_fails_fast(w, "/proc/r"))
bad("cli", "--out naming a folder", ("--out", "folder"), error="CommandFailed")(
    lambda w: _fit_cli(w, str(out_folder(w, "slash")) + "/", out_dir=out_folder(w, "slash")))
bad("cli", "--out in a missing folder", ("--out", "does not exist"), error="CommandFailed")(
    lambda w: _fit_cli(w, w.dir / "no" / "such" / "run"))
bad("cli", "inf phenotype in the file", ("pheno_inf.txt", "line 2", "inf"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "inf", {"run.hsq": "old"}) / "run",
                       w.write("cli/pheno_inf.txt", w.pheno_text(["s00 s00 inf"])), out_dir=out_folder(w, "inf", {"run.hsq": "old"})))
bad("cli", "ragged phenotype file", ("pheno_short.txt", "line 2"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "ragged") / "run", w.write("cli/pheno_short.txt", w.pheno_text(["s00 s00"])),
                       out_dir=out_folder(w, "ragged")))
bad("cli", "stray token in a covariate file", ("covar_stray.txt", "line 2", "'age'"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "stray") / "run", None, w.write("cli/covar_stray.txt", w.covar_text(["s00 s00 female 5x0"]))))
bad("cli", "a huge --width", ("--width", "memory"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "width") / "run", None, None, "--kernel", "ntk", "--width", str(10**7),
                       out_dir=out_folder(w, "width")))
bad("cli", "a huge --seed", ("--seed", "2**63"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "seed") / "run", None, None, "--kernel", "ntk", "--seed", str(2**64)))
bad("cli", "--cv 1", ("--cv",), error="CommandFailed")(
    lambda w: cli(w, "krr", *w.cli_fit_args(out_folder(w, "cv") / "run"), "--cv", "1"))
bad("cli", "--threads 0", ("--threads",), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "threads") / "run", None, None, "--threads", "0"))
bad("cli", "--mpheno past the last phenotype", ("pheno.txt", "phenotype number 5"), error="CommandFailed")(
    lambda w: _fit_cli(w, out_folder(w, "mpheno") / "run", None, None, "--mpheno", "5"))
bad("cli", "predict from a corrupt model file", ("corrupt.model.npz",), error="CommandFailed")(
    lambda w: cli(w, "predict", "--model", w.write("cli/corrupt.model.npz", b"PK\x03\x04garbage"), "--bfile", w.fileset,
                  "--out", out_folder(w, "corrupt") / "pred", out_dir=out_folder(w, "corrupt")))
bad("cli", "predict from a corrupt OUT.json", ("corrupt.json", "JSON"), error="CommandFailed")(
    lambda w: cli(w, "predict", "--model", w.write("cli/corrupt.json", "{nope"), "--bfile", w.fileset,
                  "--out", out_folder(w, "corruptjson") / "pred"))
bad("cli", "predict with a corrupt OUT.json next to the model", ("run.json", "JSON"), error="CommandFailed")(
    lambda w: _corrupt_sidecar(w))
bad("cli", "predict with a truncated model", ("run.model.npz", "damaged"), error="CommandFailed")(
    lambda w: _truncated_cli_model(w))
bad("cli", "predict with an unseen level", ("--allow-new-levels", "sex"), error="CommandFailed")(
    lambda w: cli(w, "predict", "--model", w.cli_model, "--bfile", w.fileset,
                  "--covar", w.write("cli/newlevel.txt", w.covar_text(["s00 s00 other 50.0"])),
                  "--out", out_folder(w, "newlevel") / "pred", out_dir=out_folder(w, "newlevel")))


def _cli_fails_fast(w, out: str):
    started = time.monotonic()
    status, stderr = run_cli(w, "fit", *w.cli_fit_args(out), "--kernel", "ntk")
    if "Fitting" in stderr or time.monotonic() - started > 20:
        raise AssertionError(f"the run went on to fit before checking --out: {stderr}")
    if status != 0:
        raise CommandFailed(status, stderr)


def _corrupt_sidecar(w):
    folder = out_folder(w, "sidecar")
    model = folder / "run.model.npz"
    shutil.copyfile(w.cli_model.with_name("run.model.npz"), model)
    (folder / "run.json").write_text("{not json")
    cli(w, "predict", "--model", model, "--bfile", w.fileset, "--out", folder / "pred")


def _truncated_cli_model(w):
    folder = out_folder(w, "truncated")
    shutil.copyfile(w.cli_model, folder / "run.json")
    data = w.cli_model.with_name("run.model.npz").read_bytes()
    (folder / "run.model.npz").write_bytes(data[: len(data) // 2])
    cli(w, "predict", "--model", folder / "run.json", "--bfile", w.fileset, "--out", folder / "pred")


# --- classification (the probe) -----------------------------------------------------------------------------------------------------------------------
OUTCOMES = ("clear error", "unclear error", "raw exception", "silent", "handled", "failed check")


def classify(case: Case, world: World) -> tuple[str, str]:
    """``(outcome, detail)`` of one case against the importable ntkmixed."""
    try:
        _, caught = case.run(world)
    except AssertionError as exc:
        return "failed check", f"AssertionError: {exc}"
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        text = " ".join(str(exc).split())
        if case.error is None:
            return ("raw exception" if not _is_ntkmixed_error(exc) else "unclear error"), f"{type(exc).__name__}: {text}"
        if isinstance(exc, CommandFailed):
            if "NTKMIXED_DEBUG" in text or "Traceback" in text:
                return "raw exception", text
        elif not _is_ntkmixed_error(exc):
            return "raw exception", f"{type(exc).__name__}: {text}"
        if "allow_pickle" in text:
            return "unclear error", text
        lacking = [m for m in case.mentions if m.lower() not in text.lower()]
        if lacking:
            return "unclear error", f"{type(exc).__name__}: {text}  [lacks {lacking}]"
        return "clear error", f"{type(exc).__name__}: {text}"
    if case.error is not None:
        names = sorted({type(w.message).__name__ for w in caught})
        return "silent", f"no error (warnings: {names})" if names else "no error"
    if case.warns and not any(type(w.message).__name__ == case.warns for w in caught):
        return "silent", f"no {case.warns}"
    return "handled", ""


def _is_ntkmixed_error(exc: BaseException) -> bool:
    return isinstance(exc, nm.NtkmixedError)


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    with tempfile.TemporaryDirectory() as directory:
        world = World(Path(directory))
        counts: Counter = Counter()
        by_area: dict[str, Counter] = {}
        for case in CASES:
            outcome, detail = classify(case, world)
            counts[outcome] += 1
            by_area.setdefault(case.area, Counter())[outcome] += 1
            if verbose or outcome not in ("clear error", "handled"):
                print(f"[{outcome}] {case.area}: {case.name}" + (f" -> {detail[:300]}" if detail else ""))
    print(f"\nntkmixed from {os.path.dirname(nm.__file__)}: {len(CASES)} cases")
    for area, area_counts in by_area.items():
        print(f"  {area:12s} " + ", ".join(f"{k} {v}" for k, v in area_counts.most_common()))
    print("  total        " + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
