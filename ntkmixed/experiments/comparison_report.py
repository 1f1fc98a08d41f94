"""Tables and plots of a :func:`~ntkmixed.experiments.comparison.compare` run."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ..exceptions import NtkmixedError

#: method name -> label used in tables and plots
METHOD_LABELS: dict[str, str] = {
    "gblup": "GBLUP",
    "ntk-lmm": "NTK-LMM",
    "ntk-krr": "NTK-KRR",
    "nngp-krr": "NNGP-KRR",
    "ntk-inf-krr": "NTK∞-KRR",
    "nn": "NN",
}


def summarize(results: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and SD of the test correlation and MSE, and mean seconds, per method (and per
    the ``by`` columns, e.g. ``["scenario", "n_snps"]``); rows keep the order in which
    each value first appears in ``results``."""
    keys = [*by, "method"]
    table = (
        results.groupby(keys, sort=False)
        .agg(
            cor_mean=("cor", "mean"),
            cor_sd=("cor", "std"),
            mse_mean=("mse", "mean"),
            mse_sd=("mse", "std"),
            seconds=("seconds", "mean"),
            n_splits=("split", "nunique"),
        )
        .reset_index()
    )
    ranks = [f"_rank_{key}" for key in keys]
    for key, rank in zip(keys, ranks):
        first_seen = {value: i for i, value in enumerate(dict.fromkeys(results[key]))}
        table[rank] = table[key].map(first_seen)
    return table.sort_values(ranks).drop(columns=ranks).reset_index(drop=True)


def plot_comparison(results: pd.DataFrame, metric: str = "cor", facet: str | None = "scenario",
                    group: str | None = "n_snps", ax=None):
    """Paper-style box plots (Ge & Lu, Figure 1) of ``metric`` per method.

    One panel per value of the ``facet`` column and, inside a panel, one cluster of boxes
    per value of the ``group`` column (methods side by side in colour); columns that are
    absent or constant are ignored. Needs matplotlib; returns the Figure.
    """
    import matplotlib.pyplot as plt

    if metric not in results.columns:
        raise NtkmixedError(f"The 'metric' parameter of plot_comparison must be a column of results. Got {metric!r}.")
    facet = facet if facet in results.columns and results[facet].nunique() > 1 else None
    group = group if group in results.columns else None
    panels = list(dict.fromkeys(results[facet])) if facet else [None]
    if ax is not None and len(panels) > 1:
        raise NtkmixedError("plot_comparison draws several panels; pass ax=None to get a new figure.")
    if ax is None:
        ncols = min(len(panels), 3)
        nrows = math.ceil(len(panels) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
        axes = axes.ravel()
        for extra in axes[len(panels):]:
            extra.set_visible(False)
    else:
        fig, axes = ax.figure, [ax]
    methods = list(dict.fromkeys(results["method"]))
    colours = plt.get_cmap("tab10").colors
    for panel_ax, panel in zip(axes, panels):
        sub = results if panel is None else results[results[facet] == panel]
        groups = list(dict.fromkeys(sub[group])) if group else [None]
        width = 0.8 / len(methods)
        for g_pos, g in enumerate(groups):
            cell = sub if g is None else sub[sub[group] == g]
            for m_pos, method in enumerate(methods):
                values = cell.loc[cell["method"] == method, metric].dropna().to_numpy()
                if values.size == 0:
                    continue
                position = g_pos + (m_pos - (len(methods) - 1) / 2) * width
                box = panel_ax.boxplot(values, positions=[position], widths=width * 0.9, patch_artist=True,
                                       showfliers=True, manage_ticks=False,
                                       medianprops={"color": "black"}, flierprops={"markersize": 3})
                for patch in box["boxes"]:
                    patch.set_facecolor(colours[m_pos % len(colours)])
                    patch.set_alpha(0.75)
        panel_ax.set_xticks(range(len(groups)))
        panel_ax.set_xticklabels([f"{g} SNPs" if group == "n_snps" else str(g) for g in groups] if group else [""])
        panel_ax.set_title(str(panel) if panel is not None else "")
        panel_ax.set_ylabel({"cor": "test correlation", "mse": "test MSE"}.get(metric, metric))
        panel_ax.grid(axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[i % len(colours)], alpha=0.75) for i in range(len(methods))]
    fig.legend(handles, [METHOD_LABELS.get(m, m) for m in methods], loc="upper center",
               ncol=len(methods), frameon=False, bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig
