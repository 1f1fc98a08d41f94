"""Manhattan and QQ plots of association results (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import NtkmixedError


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise NtkmixedError("Plots need matplotlib: pip install 'ntkmixed[plot]'.") from None
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    return _pyplot().subplots(figsize=(9, 3.5))[1]


def _chromosome_order(labels: pd.Series) -> list[str]:
    """Chromosomes in natural order: 1, 2, …, 22, then X, Y, MT and others by name."""
    def key(label: str):
        text = str(label).removeprefix("chr")
        return (0, int(text), "") if text.isdigit() else (1, 0, text)

    return sorted(pd.unique(labels.astype(str)), key=key)


def manhattan(table: pd.DataFrame, ax=None, threshold: float | None = 5e-8, colors=("#1f4e79", "#7fa7cf"),
              point_size: float = 6.0, title: str | None = None):
    """−log10 p along the genome; chromosomes side by side in natural order."""
    ax = _axes(ax)
    tested = table[table["log10_p"].notna()]
    chromosomes = tested["chr"].astype(str).fillna("NA")
    order = _chromosome_order(chromosomes)
    if len(order) == 1:  # one chromosome: plot against position
        ax.scatter(tested["bp"].to_numpy(dtype=float), -tested["log10_p"].to_numpy(), s=point_size,
                   color=colors[0], linewidths=0)
        ax.set_xlabel(f"position on chromosome {order[0]} (bp)")
    else:
        offset, ticks = 0.0, []
        for i, chromosome in enumerate(order):
            rows = tested[chromosomes == chromosome]
            bp = rows["bp"].to_numpy(dtype=float)
            ax.scatter(offset + bp - bp.min(), -rows["log10_p"].to_numpy(), s=point_size,
                       color=colors[i % len(colors)], linewidths=0)
            span = max(float(np.ptp(bp)), 1.0)
            ticks.append(offset + span / 2.0)
            offset += span * 1.02
        ax.set_xticks(ticks)
        ax.set_xticklabels(order)
        ax.set_xlabel("chromosome")
    if threshold is not None:
        ax.axhline(-np.log10(threshold), color="#b22222", linewidth=0.8, linestyle="--")
    ax.set_ylabel("−log10 p")
    if title:
        ax.set_title(title)
    return ax


def qq(log10_p: np.ndarray, lambda_gc: float | None = None, ax=None, point_size: float = 6.0, title: str | None = None):
    """Observed against expected −log10 p under the uniform null, with a 95% band."""
    from scipy import stats

    ax = _axes(ax)
    observed = np.sort(-np.asarray(log10_p, dtype=float)[np.isfinite(log10_p)])[::-1]
    m = observed.size
    if m == 0:
        raise NtkmixedError("No tested SNP to plot.")
    ranks = np.arange(1, m + 1)
    expected = -np.log10(ranks / (m + 1))
    lower = -np.log10(stats.beta.ppf(0.975, ranks, m - ranks + 1))
    upper = -np.log10(stats.beta.ppf(0.025, ranks, m - ranks + 1))
    ax.fill_between(expected, lower, upper, color="#dddddd", linewidth=0)
    ax.plot([0, expected[0]], [0, expected[0]], color="#b22222", linewidth=0.8)
    ax.scatter(expected, observed, s=point_size, color="#1f4e79", linewidths=0)
    ax.set_xlabel("expected −log10 p")
    ax.set_ylabel("observed −log10 p")
    if lambda_gc is not None and np.isfinite(lambda_gc):
        ax.text(0.03, 0.95, f"λ_GC = {lambda_gc:.3f}", transform=ax.transAxes, va="top")
    if title:
        ax.set_title(title)
    return ax
