"""Summaries: an object whose ``str()`` is a text report, ``_repr_html_`` an HTML one, and
whose ``tables`` are DataFrames (which R converts directly)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .heritability import definition_text, diagnostics_warnings


@dataclass
class Summary:
    """A titled report: key/value facts, named tables and notes."""

    title: str
    info: list[tuple[str, str]]
    tables: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        width = 78
        lines = [self.title.center(width), "=" * width]
        key_width = max((len(k) for k, _ in self.info), default=0)
        lines += [f"{k + ':':<{key_width + 1}} {v}" for k, v in self.info]
        for name, table in self.tables.items():
            lines += ["-" * width, name.replace("_", " ").capitalize(), "-" * width]
            lines.append(table.to_string(float_format=_format_number))
        lines.append("=" * width)
        lines += self.notes
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>", "<table>"]
        parts += [f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self.info]
        parts.append("</table>")
        for name, table in self.tables.items():
            parts.append(f"<h5>{html.escape(name.replace('_', ' ').capitalize())}</h5>")
            parts.append(table.to_html(float_format=_format_number, border=0))
        parts += [f"<p><small>{html.escape(n)}</small></p>" for n in self.notes]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return str(self)


def _format_number(value: float) -> str:
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.3e}"


def dropped_text(n_input: int, dropped: dict[str, int]) -> str:
    total = sum(dropped.values())
    if not total:
        return "0"
    return f"{total} of {n_input} (" + ", ".join(f"{c} {r}" for r, c in dropped.items()) + ")"


def engine_info_text(info: dict) -> str:
    """`` (rank 740, probes 50)``: the engine's numeric facts, for the Engine line."""
    shown = [f"{key.replace('_', ' ')} {_format_fact(value)}" for key, value in info.items()
             if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)]
    return f" ({', '.join(shown)})" if shown else ""


def _format_fact(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.3g}"


def lmm_summary(results) -> Summary:
    """The report of an :class:`~ntkmixed.models.lmm_results.LMMResults`."""
    fit = results.variance_fit
    kernels = "; ".join(f"{name} = {kernel!r} [{t.normalization.rule}]" for name, kernel, t in zip(
        results.component_names, results.kernels, results.trained_kernels))
    boundary = [n for n, b in results.boundary.items() if b]
    info = [
        ("Model", "Kernel linear mixed model"),
        ("Formula", results.formula),
        ("Kernels", kernels),
        ("Method", f"{results.method} ({'components constrained >= 0' if results.constrain else 'unconstrained'})"),
        ("Engine", f"{results.engine}: {results.engine_reason}{engine_info_text(results.engine_info)}"),
        ("Observations", str(results.nobs)),
        ("Rows dropped", dropped_text(results.design.n_input, results.design.dropped)),
        *([("Genotyped, not in data", str(results.design.n_unused_genotype_rows))]
          if results.design.n_unused_genotype_rows else []),
        ("Converged", f"{'Yes' if results.converged else 'No'} ({fit.iterations} iterations)"),
        ("At boundary", ", ".join(boundary) if boundary else "none"),
        ("REML log-likelihood", f"{results.loglik:.4f}"),
        ("Heritability h²", f"{results.h2:.4f} (SE {results.h2_se:.4f}{_interval_text(results)})"),
        ("h² definition", results.h2_definition),
    ]
    basis = results.heritability_basis
    tables = {
        "fixed_effects": results.fixed_effects,
        "variance_components": results.variance_components,
        "heritability": results.heritability,
    }
    if basis.diagnostics is not None:
        tables["kernel_diagnostics"] = results.kernel_diagnostics.drop(columns="nugget_method")
    notes = [
        f"h² definition: {definition_text(results.h2_definition)}.",
        "SEs of variance components: " + (
            "inverse Fisher information." if results.method == "reml" else "sandwich S⁻¹ Var(q) S⁻¹ under normality."
        ) + " h² SE by the delta method.",
    ]
    if basis.diagnostics is not None:
        notes += diagnostics_warnings(results.component_names, basis.diagnostics, results.h2_definition)
    if results.engine == "matrix-free":
        facts = results.engine_info
        notes[1] = f"SEs of variance components: {facts.get('se_method', 'not estimated')}. h² SE by the delta method."
        notes.append(f"Matrix-free engine: traces by {facts.get('probes')} random probes (seed {facts.get('seed')}), "
                     f"Monte-Carlo SE of h² {facts.get('h2_mc_se', float('nan')):.2g}; V⁻¹ by conjugate gradients "
                     f"(tolerance {facts.get('cg_tol')}); prediction-error variances and the log-likelihood are not "
                     "computed.")
    return Summary("Kernel LMM results", info, tables, notes)


def _interval_text(results) -> str:
    interval = results.conf_int_h2().iloc[-1]
    method = {"profile": "profile-likelihood", "wald": "Wald"}[interval["method"]]
    return f"; 95% {method} CI {interval['lower']:.4f} to {interval['upper']:.4f}"


def krr_summary(results) -> Summary:
    """The report of a :class:`~ntkmixed.models.krr_results.KRRResults`."""
    table = results.cv_results
    best = table.loc[results.lambda_]
    label = {"mse": "mean squared error", "cor": "correlation"}[results.scoring]
    lambdas = results.lambdas
    seed = f", seed {results.seed}" if results.cv.endswith("-fold") else ""
    info = [
        ("Model", "Kernel ridge regression (fixed effects unpenalised)"),
        ("Formula", results.formula),
        ("Kernel", f"{results.kernel!r} [{results.trained_kernel.normalization.rule}]"),
        ("Observations", str(results.nobs)),
        ("Rows dropped", dropped_text(results.design.n_input, results.design.dropped)),
        ("Cross-validation", f"{'leave-one-out' if results.cv == 'loo' else results.cv}{seed}; held-out {label}"),
        ("λ grid", f"{lambdas.size} values from {lambdas[0]:.4g} to {lambdas[-1]:.4g}"),
        ("Chosen λ", f"{results.lambda_:.6g}{' (at the edge of the grid)' if results.at_grid_edge else ''}"),
        ("CV score at λ", f"{best['mean']:.6g} (SE {best['se']:.3g})"),
        ("Engine", f"{results.engine}{engine_info_text(results.engine_info)}"),
    ]
    cv_table = table[["mean", "se"]].assign(chosen=np.where(lambdas == results.lambda_, "*", ""))
    tables = {"fixed_effects": results.params.to_frame(), "cv_results": cv_table}
    notes = [
        "α̂ = (K + λI)⁻¹(y − Xβ̂) with β̂ the GLS estimate at V = K + λI; with λ = σ²_e/σ²_g "
        "the predictions equal the kernel LMM's.",
        "CV score: mean over folds of the held-out score; SE = SD over folds / √k.",
    ]
    return Summary("Kernel ridge regression results", info, tables, notes)
