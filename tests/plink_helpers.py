"""Shared helpers for tests that write PLINK filesets and run the real PLINK 2."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PLINK2 = shutil.which("plink2")
needs_plink2 = pytest.mark.skipif(PLINK2 is None, reason="plink2 (Debian package plink2) is not installed")


def write_fileset(prefix: Path, G: np.ndarray, *, iids=None, chrom=None, pos=None, father=None, a1=None, a2=None, sid=None) -> Path:
    """Write dosages ``G`` (people × SNPs, NaN missing, counting allele_1) with bed-reader."""
    from bed_reader import to_bed

    n, p = G.shape
    properties = {
        "fid": [f"F{i}" for i in range(n)] if iids is None else list(iids),
        "iid": [f"I{i}" for i in range(n)] if iids is None else list(iids),
        "father": ["0"] * n if father is None else list(father),
        "mother": ["0"] * n,
        "chromosome": ["1"] * p if chrom is None else list(chrom),
        "sid": [f"rs{j}" for j in range(p)] if sid is None else list(sid),
        "bp_position": np.arange(1, p + 1) * 1000 if pos is None else np.asarray(pos),
        "allele_1": ["A"] * p if a1 is None else list(a1),
        "allele_2": ["G"] * p if a2 is None else list(a2),
    }
    to_bed(f"{prefix}.bed", G, properties=properties)
    return prefix


def random_genotypes(rng: np.random.Generator, n: int, p: int, missing: float = 0.0, hwe_violators: int = 0) -> np.ndarray:
    freq = rng.uniform(0.005, 0.5, p)
    G = rng.binomial(2, freq, (n, p)).astype(float)
    if hwe_violators:
        G[:, :hwe_violators] = rng.choice([0.0, 2.0], (n, hwe_violators))
    if missing:
        rate = rng.uniform(0, missing, p)[None, :] * rng.uniform(0.2, 2.0, n)[:, None]
        G[rng.uniform(size=(n, p)) < rate] = np.nan
    return G


def plink2(*args: str, cwd: Path) -> str:
    result = subprocess.run([PLINK2, *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"plink2 {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def read_plink_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", dtype=str)
