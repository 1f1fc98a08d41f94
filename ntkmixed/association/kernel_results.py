"""Results of kernel association tests: one region (:func:`ntkmixed.kernel_test`) or many
(:func:`ntkmixed.region_scan`), as tidy DataFrames, with summaries and saving."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..models import archive
from ..models.summary import Summary
from .mixture import P_FLOOR

METHOD_NAMES = {"davies": "exact inversion (accuracy in 'accuracy')", "liu": "Liu–Tang–Zhang moment matching",
                "saddlepoint": "Lugannani–Rice saddlepoint"}


def p_from_log10(log10_p: float) -> float:
    """p from log10 p, never 0 (below the smallest normal double it is that double)."""
    return P_FLOOR if log10_p < math.log10(P_FLOOR) else min(1.0, 10.0**log10_p)


class KernelTestResults:
    """One region's test: ``table`` (per kernel: Q, p, log10_p, method, accuracy,
    n_eigenvalues, note), ``p`` (the ACAT combination when there are several kernels,
    else the kernel's p) and the null model's facts.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per kernel, indexed by the kernel's label.
    combined_log10_p : float
        log10 of the combined p (ACAT over the kernels; the kernel's own with one).
    null : dict
        Facts of the null model (background kernel, h², σ̂², method, engine).
    formula : str
        The model's formula.
    n : int
        People analysed.
    n_snps : int
        SNPs in the tested region.
    """

    def __init__(self, table: pd.DataFrame, combined_log10_p: float, null: dict, formula: str, n: int, n_snps: int):
        self.table = table
        self.log10_p = float(combined_log10_p)
        self.null = dict(null)
        self.formula = formula
        self.n = int(n)
        self.n_snps = int(n_snps)

    @property
    def p(self) -> float:
        """The region's p: ACAT over the kernels, or the one kernel's p (never 0)."""
        return p_from_log10(self.log10_p)

    @property
    def pvalues(self) -> pd.Series:
        """Per-kernel p-values, indexed by kernel."""
        return self.table["p"]

    def summary(self) -> Summary:
        """The report: region, null model, per-kernel statistics and p-values.

        Returns
        -------
        Summary
        """
        facts = [("Formula", self.formula), ("People", str(self.n)), ("Region SNPs", str(self.n_snps)),
                 ("Null model", _null_text(self.null))]
        if len(self.table) > 1:
            facts.append(("Combined p (ACAT)", f"{self.p:.4g}"))
        notes = [f"{k}: {n}" for k, n in self.table["note"].items() if n]
        notes.append("p-values: " + "; ".join(sorted({METHOD_NAMES[m] for m in self.table["method"]})))
        return Summary("Kernel association test (variance-component score test)", facts,
                       {"kernels": self.table.drop(columns="note")}, notes)

    def save(self, path) -> None:
        """Write the results to an archive (no pickle); read back with :func:`ntkmixed.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The archive file (``.npz``).
        """
        columns, arrays = archive.frame_to_arrays(self.table.reset_index(), "k_")
        meta = {"kind": "kernel_test", "table": columns, "log10_p": self.log10_p, "null": _plain(self.null),
                "formula": self.formula, "n": self.n, "n_snps": self.n_snps, "n_rows": len(self.table)}
        archive.write_archive(path, meta, arrays)

    @classmethod
    def from_archive(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "KernelTestResults":
        """Rebuild from an archive's header and arrays (used by :func:`ntkmixed.load`).

        Parameters
        ----------
        meta : dict
            The archive header.
        arrays : dict of numpy.ndarray
            The archive's arrays by name.

        Returns
        -------
        KernelTestResults
        """
        table = archive.frame_from_arrays(meta["table"], arrays, "k_", pd.RangeIndex(meta["n_rows"])).set_index("kernel")
        return cls(table, meta["log10_p"], meta["null"], meta["formula"], meta["n"], meta["n_snps"])

    def __repr__(self) -> str:
        kernels = ", ".join(f"{k}: p={p:.3g}" for k, p in self.table["p"].items())
        return f"<KernelTestResults n={self.n} SNPs={self.n_snps} {kernels}; p={self.p:.3g}>"


class RegionScanResults:
    """Many regions: ``table`` with one row per region (name, chr, start, end, n_snps,
    then ``p_<kernel>`` and ``log10_p_<kernel>`` per kernel, ``p_acat`` when there are
    several, and ``note``) in the order the regions were given.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per region, as described above.
    kernels : list of str
        Labels of the tested kernels.
    null : dict
        Facts of the null model (shared by all regions).
    formula : str
        The model's formula.
    n : int
        People analysed.
    pvalue : str
        How the p-values were computed (``"davies"``, ``"liu"`` or ``"saddlepoint"``).
    """

    def __init__(self, table: pd.DataFrame, kernels: list[str], null: dict, formula: str, n: int, pvalue: str):
        self.table = table
        self.kernels = list(kernels)
        self.null = dict(null)
        self.formula = formula
        self.n = int(n)
        self.pvalue = pvalue

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` regions with the smallest (combined, else first kernel's) p.

        Parameters
        ----------
        k : int, default 10
            How many rows.

        Returns
        -------
        pandas.DataFrame
        """
        column = "log10_p_acat" if "log10_p_acat" in self.table else f"log10_p_{self.kernels[0]}"
        return self.table.sort_values(column).head(k)

    def summary(self) -> Summary:
        """The report: scan facts, null model, the top regions.

        Returns
        -------
        Summary
        """
        facts = [("Formula", self.formula), ("People", str(self.n)), ("Regions", str(len(self.table))),
                 ("Kernels", ", ".join(self.kernels)), ("Null model", _null_text(self.null)),
                 ("p-values", METHOD_NAMES[self.pvalue])]
        return Summary("Kernel association scan over regions", facts, {"top_regions": self.top(10)}, [])

    def save(self, path) -> None:
        """Write the results to an archive (no pickle); read back with :func:`ntkmixed.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The archive file (``.npz``).
        """
        columns, arrays = archive.frame_to_arrays(self.table, "r_")
        meta = {"kind": "region_scan", "table": columns, "kernels": self.kernels, "null": _plain(self.null),
                "formula": self.formula, "n": self.n, "pvalue": self.pvalue, "n_rows": len(self.table)}
        archive.write_archive(path, meta, arrays)

    @classmethod
    def from_archive(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "RegionScanResults":
        """Rebuild from an archive's header and arrays (used by :func:`ntkmixed.load`).

        Parameters
        ----------
        meta : dict
            The archive header.
        arrays : dict of numpy.ndarray
            The archive's arrays by name.

        Returns
        -------
        RegionScanResults
        """
        table = archive.frame_from_arrays(meta["table"], arrays, "r_", pd.RangeIndex(meta["n_rows"]))
        return cls(table, meta["kernels"], meta["null"], meta["formula"], meta["n"], meta["pvalue"])

    def __repr__(self) -> str:
        return f"<RegionScanResults {len(self.table)} regions, kernels {self.kernels}, n={self.n}>"


def _null_text(null: dict) -> str:
    if null.get("background", "none") == "none":
        return f"covariates only (σ̂²_e = {null['sigma2_e']:.4g})"
    return f"background {null['background']}, h² = {null['h2']:.3f} ({null['method']}, {null['engine']} engine)"


def _plain(facts: dict) -> dict:
    from .._runtime import json_plain

    return json_plain(facts)


archive.register_kind("kernel_test", KernelTestResults.from_archive)
archive.register_kind("region_scan", RegionScanResults.from_archive)
