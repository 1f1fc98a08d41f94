"""Datasets shipped with ntkmixed.

:func:`load_example` returns the embedded example: 700 simulated people from two
populations genotyped at 740 common SNPs of one 1 Mb region (msprime coalescent, so with
realistic LD), with covariates and two phenotypes of known heritability — one additive,
one with a Ricker-shaped (rise-then-fall) genetic architecture. The generating script is
:mod:`ntkmixed.datasets.make_example` (``python -m ntkmixed.datasets.make_example``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

DATA_DIR = Path(__file__).parent / "data"

__all__ = ["Example", "load_example", "example_paths"]


@dataclass(frozen=True)
class Example:
    """The example dataset.

    ``genotypes``: :class:`~ntkmixed.plink.Genotypes` of the packaged PLINK fileset
    (``bfile`` is its prefix). ``data``: DataFrame indexed by IID with ``sex``, ``age``,
    ``education``, ``population`` (categoricals except age) and the phenotypes
    ``y_additive`` and ``y_nonlinear`` (NaN where missing). ``truth``: the simulation
    settings and true values, e.g. ``truth["phenotypes"]["y_nonlinear"]["h2"]``.
    """

    genotypes: Any
    data: pd.DataFrame
    truth: dict = field(repr=False)
    bfile: str
    table: str

    @property
    def phenotypes(self) -> list[str]:
        """Names of the phenotype columns of ``data``."""
        return list(self.truth["phenotypes"])

    @property
    def h2(self) -> dict[str, float]:
        """True heritability of each phenotype."""
        return {name: spec["h2"] for name, spec in self.truth["phenotypes"].items()}

    def __repr__(self) -> str:
        return (
            f"Example({self.genotypes.n_samples} people × {self.genotypes.n_snps} SNPs; "
            f"covariates sex, age, education, population; phenotypes "
            f"{', '.join(self.phenotypes)} with true h² "
            f"{', '.join(f'{v:g}' for v in self.h2.values())})"
        )


def example_paths() -> dict[str, str]:
    """Paths of the packaged files: ``bfile`` (PLINK prefix), ``table`` (TSV with FID, IID,
    covariates and phenotypes, usable as a --pheno or --covar file) and ``truth`` (JSON).

    Returns
    -------
    dict of str to str
        ``{"bfile": ..., "table": ..., "truth": ...}``.
    """
    return {
        "bfile": str(DATA_DIR / "example"),
        "table": str(DATA_DIR / "example.tsv"),
        "truth": str(DATA_DIR / "example_truth.json"),
    }


def load_example() -> Example:
    """Load the embedded example dataset (see the module docstring).

    Returns
    -------
    Example
        ``genotypes``, ``data`` (covariates and phenotypes by IID) and ``truth``.

    Examples
    --------
    >>> import ntkmixed as nm
    >>> example = nm.datasets.load_example()
    >>> example.data.shape[0], example.genotypes.n_snps
    (700, 740)
    """
    from ..plink import read_plink

    paths = example_paths()
    genotypes = read_plink(paths["bfile"])
    table = pd.read_csv(paths["table"], sep="\t", dtype={"FID": str, "IID": str}, na_values=["NA"], keep_default_na=False)
    data = table.drop(columns=["FID"]).set_index("IID")
    data["age"] = data["age"].astype("float64")
    for column, levels in (
        ("sex", ["female", "male"]),
        ("education", ["primary", "secondary", "tertiary"]),
        ("population", ["popA", "popB"]),
    ):
        data[column] = pd.Categorical(data[column].astype(object), categories=levels)
    for column in ("y_additive", "y_nonlinear"):
        data[column] = data[column].astype("float64")
    data.index = pd.Index(data.index.astype(object), name="IID")
    truth = json.loads(Path(paths["truth"]).read_text())
    return Example(genotypes=genotypes, data=data, truth=truth, bfile=paths["bfile"], table=paths["table"])
