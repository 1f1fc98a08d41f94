"""Results of :func:`ntkmixed.gwas`: the per-SNP table in input SNP order, the null model
of each LOCO chromosome, genomic control, plots, GCTA's .mlma layout, saving."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..models import archive
from ..models.summary import Summary
from . import plots

#: the median of χ²₁, the denominator of λ_GC
_CHI2_MEDIAN = float(stats.chi2.ppf(0.5, 1))
TEST_NAMES = {
    "wald": "Wald (h² fixed at the null estimate, scale re-estimated per SNP; F(1, n−k−1)) — FaST-LMM's test",
    "lrt": "likelihood ratio (h² fixed at the null estimate, scale profiled by ML; χ²₁)",
    "score": "score (null covariance fixed; χ²₁) — GCTA-MLMA's test",
    "grammar-gamma": "calibrated score (GRAMMAR-Gamma / fastGWA; χ²₁)",
}


class GWASResults:
    """Per-SNP association results.

    ``table``: one row per tested SNP, in the genotypes' order — SNP, chr, bp, A1 (the
    counted allele, so ``beta`` is per copy of A1), A2, freq (of A1 in the analysed
    people), n (called genotypes), beta, se, stat, p (never 0: below ~2.2e-308 it is that
    number, see log10_p), log10_p and note (why a SNP has no test, else empty).
    ``null_models``: the null fit of each LOCO chromosome (or ``"all"``).

    Parameters
    ----------
    table : pandas.DataFrame
        The per-SNP table described above.
    null_models : pandas.DataFrame
        One row per null model (index: chromosome, or ``"all"`` without LOCO): n, h², its
        SE, σ²_g, σ²_e, log-likelihood, method, engine, SNPs tested.
    test : str
        The test (see :func:`ntkmixed.gwas`).
    loco : bool
        Whether each chromosome had its own kernel.
    null_method : str
        Estimator of the null variance components.
    formula : str
        The model's formula.
    kernel : str
        The background kernel's repr.
    n : int
        People analysed.
    """

    def __init__(self, table: pd.DataFrame, null_models: pd.DataFrame, test: str, loco: bool, null_method: str,
                 formula: str, kernel: str, n: int):
        self.table = table
        self.null_models = null_models
        self.test = test
        self.loco = loco
        self.null_method = null_method
        self.formula = formula
        self.kernel = kernel
        self.n = int(n)

    @property
    def test_description(self) -> str:
        """What the test fixes and its reference distribution."""
        return TEST_NAMES[self.test]

    @cached_property
    def lambda_gc(self) -> float:
        """Genomic inflation: median χ²₁ quantile of the p-values over 0.4549."""
        p = self.table["p"].dropna().to_numpy()
        if p.size == 0:
            return float("nan")
        return float(stats.chi2.isf(np.median(p), 1) / _CHI2_MEDIAN)

    @property
    def n_tested(self) -> int:
        """SNPs with a p-value."""
        return int(self.table["p"].notna().sum())

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` SNPs with the smallest p-values.

        Parameters
        ----------
        k : int, default 10
            How many rows.

        Returns
        -------
        pandas.DataFrame
        """
        return self.table.sort_values("log10_p").head(k)

    def summary(self) -> Summary:
        """The report: scan facts, null models, top SNPs.

        Returns
        -------
        Summary
        """
        facts = [
            ("Formula", self.formula), ("Background kernel", self.kernel),
            ("LOCO", "yes (kernel without the tested chromosome)" if self.loco else "no"),
            ("Null variance components", self.null_method), ("Test", self.test_description),
            ("People", str(self.n)), ("SNPs tested", f"{self.n_tested} of {len(self.table)}"),
            ("Genomic control λ_GC", f"{self.lambda_gc:.4f}"),
        ]
        notes = self.table["note"][self.table["note"] != ""].value_counts()
        remarks = [f"{count} SNP(s) not tested: {reason}." for reason, count in notes.items()]
        columns = ["SNP", "chr", "bp", "A1", "freq", "beta", "se", "p"]
        return Summary("Mixed-model association scan", facts,
                       {"null_models": self.null_models, "top_snps": self.top(10)[columns].set_index("SNP")}, remarks)

    def plot_manhattan(self, ax=None, **kwargs):
        """Manhattan plot (−log10 p by position, chromosomes alternately shaded).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        **kwargs
            Passed to the plotting function.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return plots.manhattan(self.table, ax=ax, **kwargs)

    def plot_qq(self, ax=None, **kwargs):
        """QQ plot of −log10 p against the uniform expectation, with λ_GC.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        **kwargs
            Passed to the plotting function.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return plots.qq(self.table["log10_p"].to_numpy(), lambda_gc=self.lambda_gc, ax=ax, **kwargs)

    def mlma_table(self) -> pd.DataFrame:
        """GCTA's .mlma columns: Chr SNP bp A1 A2 Freq b se p.

        Returns
        -------
        pandas.DataFrame
        """
        t = self.table
        return pd.DataFrame({"Chr": t["chr"].to_numpy(), "SNP": t["SNP"].to_numpy(), "bp": t["bp"].to_numpy(),
                             "A1": t["A1"].to_numpy(), "A2": t["A2"].to_numpy(), "Freq": t["freq"].to_numpy(),
                             "b": t["beta"].to_numpy(), "se": t["se"].to_numpy(), "p": t["p"].to_numpy()})

    def to_csv(self, path) -> None:
        """Write the .mlma layout (tab-separated, NA for untested SNPs).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        self.mlma_table().to_csv(path, sep="\t", index=False, na_rep="NA", float_format="%.6g")

    # --- persistence ---------------------------------------------------------------------
    def save(self, path) -> None:
        """Save to a ``.npz`` archive (no pickle); load with :func:`ntkmixed.load`.

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        columns, arrays = archive.frame_to_arrays(self.table, "snp_")
        null_columns, null_arrays = archive.frame_to_arrays(self.null_models, "null_")
        arrays.update(null_arrays)
        arrays["null_index"] = np.array([str(i) for i in self.null_models.index], dtype=str)
        meta = {"kind": "gwas", "table": columns, "null_models": null_columns, "null_index_name": self.null_models.index.name,
                "test": self.test, "loco": self.loco, "null_method": self.null_method, "formula": self.formula,
                "kernel": self.kernel, "n": self.n}
        archive.write_archive(path, meta, arrays)

    @classmethod
    def from_archive(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "GWASResults":
        """Rebuild results written by :meth:`save` (called by :func:`ntkmixed.load`).

        Parameters
        ----------
        meta : dict
            The archive's JSON header.
        arrays : dict of numpy.ndarray
            The archive's arrays by name.

        Returns
        -------
        GWASResults
        """
        n_snps = len(arrays["snp_0"])
        table = archive.frame_from_arrays(meta["table"], arrays, "snp_", pd.RangeIndex(n_snps))
        index = pd.Index(arrays["null_index"].astype(str).tolist(), name=meta["null_index_name"])
        null_models = archive.frame_from_arrays(meta["null_models"], arrays, "null_", index)
        return cls(table, null_models, meta["test"], meta["loco"], meta["null_method"], meta["formula"],
                   meta["kernel"], meta["n"])

    def __repr__(self) -> str:
        return (f"<GWASResults {self.formula!r} test={self.test} loco={self.loco} n={self.n} "
                f"SNPs={self.n_tested}/{len(self.table)} λ_GC={self.lambda_gc:.3f}>")


archive.register_kind("gwas", GWASResults.from_archive)
