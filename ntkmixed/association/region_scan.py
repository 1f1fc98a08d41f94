"""``ntkmixed.region_scan``: kernel association tests over many regions (a table of
chr/start/end, or fixed windows), sharing one null model, with progress and a tidy table.
Each region's genotypes are read on their own (streamed from a .bed), mean-imputed and
standardised on the analysed people."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._runtime import progress_bar
from .._validation import check_option, check_positive_int
from ..estimation import ESTIMATORS
from ..exceptions import DataWarning, NtkmixedError, warn
from ..kernels import NTK
from ..kernels.trained import as_kernel_list, component_names
from .kernel_results import RegionScanResults, p_from_log10
from .kernel_test import PVALUE_METHODS, KernelNull, combined_log10_p, kernel_tests_on, null_for_kernel_tests
from .snp_source import SnpSource


def region_scan(
    formula: str,
    data: pd.DataFrame,
    genotypes: Any,
    regions: pd.DataFrame | None = None,
    window: int | None = None,
    step: int | None = None,
    kernel: Any = None,
    background: Any = None,
    pvalue: str = "davies",
    snp_info: pd.DataFrame | None = None,
    min_snps: int = 2,
    null_method: str = "reml",
    engine: str = "auto",
    progress: bool | None = None,
) -> RegionScanResults:
    """Kernel tests of many regions, sharing one null model.

    Parameters
    ----------
    formula : str
        ``"y ~ sex + age"``: response and covariates, as :func:`ntkmixed.fit`.
    data : pandas.DataFrame
        One row per person, indexed by sample ID.
    genotypes : Genotypes, str, numpy.ndarray or pandas.DataFrame
        PLINK ``Genotypes`` or prefix (or an array/DataFrame with ``snp_info``).
    regions : pandas.DataFrame, optional
        Columns ``chr``, ``start``, ``end`` (base pairs, inclusive) and optionally ``name``.
    window : int, optional
        Instead of ``regions``: fixed windows of ``window`` bp along each chromosome.
    step : int, optional
        Distance between window starts (default ``window``).
    kernel : Kernel or list of Kernel, optional
        Default ``NTK(depth=2)``.
    background : Kernel, optional
        Null-model kernel (e.g. ``GRM()``) built from all of ``genotypes``.
    pvalue : {"davies", "saddlepoint", "liu"}
        See :func:`ntkmixed.kernel_test`.
    snp_info : pandas.DataFrame, optional
        Chromosome and position per SNP column, for arrays and DataFrames.
    min_snps : int, default 2
        Regions with fewer polymorphic SNPs get NaN and a note.
    null_method : str, default "reml"
        Estimator of the background null model.
    engine : str, default "auto"
        Engine of the background null model.
    progress : bool, optional
        Progress bar over regions (default: only on a terminal).

    Returns
    -------
    RegionScanResults
        One row per region, in the order given, with each kernel's p and the ACAT p.
    """
    pvalue = check_option(pvalue, "pvalue", PVALUE_METHODS, "region_scan")
    check_option(null_method, "null_method", tuple(ESTIMATORS), "region_scan")
    min_snps = check_positive_int(min_snps, "min_snps", "region_scan")
    kernels = as_kernel_list(NTK(depth=2) if kernel is None else kernel, "region_scan")
    names = component_names(kernels)
    source = SnpSource(genotypes, snp_info, "region_scan")
    if not source.has_chromosomes:
        raise NtkmixedError("region_scan needs each SNP's chromosome and position: pass PLINK genotypes, or "
                            "'snp_info' with 'chr' and 'bp' columns.")
    table = _regions(regions, window, step, source.table)
    people = _with_genotypes(data, source)
    everything = np.arange(source.n_snps)
    null = null_for_kernel_tests(formula, people, background,
                                 None if background is None else source.kernel_genotypes(everything),
                                 null_method, engine, progress, "region_scan")
    rows = source.rows_for(null.ids, data.index)
    chromosomes = source.table["chr"].astype(str).str.removeprefix("chr").to_numpy()
    bp = source.table["bp"].to_numpy()
    results = []
    bar = progress_bar(len(table), "region_scan", progress, unit="region")
    try:
        for region in table.itertuples(index=False):
            inside = np.flatnonzero((chromosomes == str(region.chr).removeprefix("chr"))
                                    & (bp >= region.start) & (bp <= region.end))
            results.append(_test_region(null, source, rows, inside, kernels, names, pvalue, min_snps))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    out = pd.concat([table.reset_index(drop=True), pd.DataFrame(results)], axis=1)
    return RegionScanResults(out, names, null.facts, formula, len(null.ids), pvalue)


def _test_region(null: KernelNull, source: SnpSource, rows, positions, kernels, names, pvalue, min_snps) -> dict:
    row: dict[str, Any] = {"n_snps": 0}
    if positions.size:
        block = next(source.blocks(rows, positions, block_size=positions.size))
        G = block.values[:, block.polymorphic]
        row["n_snps"] = int(G.shape[1])
    if row["n_snps"] < min_snps:
        for name in names:
            row[f"p_{name}"], row[f"log10_p_{name}"] = np.nan, np.nan
        if len(names) > 1:
            row["p_acat"], row["log10_p_acat"] = np.nan, np.nan
        row["note"] = f"fewer than {min_snps} polymorphic SNP(s)"
        return row
    Z = (G - G.mean(axis=0)) / G.std(axis=0)
    tests = kernel_tests_on(null, kernels, names, Z, pvalue)
    for name, test in zip(names, tests):
        row[f"p_{name}"], row[f"log10_p_{name}"] = test["p"], test["log10_p"]
    if len(names) > 1:
        combined = combined_log10_p(tests)
        row["p_acat"], row["log10_p_acat"] = p_from_log10(combined), combined
    row["note"] = "; ".join(f"{t['kernel']}: {t['note']}" for t in tests if t["note"])
    return row


def _regions(regions, window, step, snps: pd.DataFrame) -> pd.DataFrame:
    if (regions is None) == (window is None):
        raise NtkmixedError("region_scan needs exactly one of 'regions' (a table of chr/start/end) or 'window' (bp).")
    if regions is not None:
        if not isinstance(regions, pd.DataFrame):
            raise NtkmixedError(f"The 'regions' argument of region_scan must be a DataFrame. Got {type(regions).__name__}.")
        lower = {c.lower(): c for c in regions.columns}
        missing = [c for c in ("chr", "start", "end") if c not in lower]
        if missing:
            raise NtkmixedError(f"The 'regions' argument of region_scan lacks column(s) {missing}. Got {list(regions.columns)}.")
        out = pd.DataFrame({"chr": regions[lower["chr"]].astype(str).to_numpy(),
                            "start": regions[lower["start"]].astype(np.int64).to_numpy(),
                            "end": regions[lower["end"]].astype(np.int64).to_numpy()})
        if (out["end"] < out["start"]).any():
            raise NtkmixedError("The 'regions' argument of region_scan has rows with end < start.")
        names = regions[lower["name"]].astype(str).to_numpy() if "name" in lower else [
            f"{c}:{s}-{e}" for c, s, e in zip(out["chr"], out["start"], out["end"])]
        out.insert(0, "name", names)
        return out
    window = check_positive_int(window, "window", "region_scan")
    step = window if step is None else check_positive_int(step, "step", "region_scan")
    rows = []
    for chromosome in pd.unique(snps["chr"].astype(str)):
        positions = snps.loc[snps["chr"].astype(str) == chromosome, "bp"].to_numpy()
        for start in range(int(positions.min()), int(positions.max()) + 1, step):
            end = start + window - 1
            rows.append((f"{chromosome}:{start}-{end}", chromosome, start, end))
            if end >= positions.max():
                break
    return pd.DataFrame(rows, columns=["name", "chr", "start", "end"])


def _with_genotypes(data: pd.DataFrame, source: SnpSource) -> pd.DataFrame:
    """``data`` restricted to genotyped people (counted), in its own order."""
    if source.sample_ids is None:
        return data
    known = set(map(str, source.sample_ids))
    keep = np.array([str(i) in known for i in data.index])
    if not keep.all():
        warn(f"Dropped {int((~keep).sum())} of {len(data)} rows of 'data' without genotypes.", DataWarning)
    return data[keep]
