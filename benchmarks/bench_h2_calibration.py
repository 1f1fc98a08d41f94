"""Calibration of heritability estimates: bias, SD, mean SE and 95% coverage (Wald and
profile likelihood) of h², for every kernel × trait × estimator (issue 13).

Two studies:

* ``example`` — the packaged example genotypes (700 people × 740 SNPs), ``y ~ 1``.
  Kernels: ``grm``; ``ntk2``/``ntk3`` (empirical NTK, depth 2/3, width 2000, seed 1);
  ``ntk-inf`` (analytic NTK, depth 2); ``nngp`` (depth 2); ``grm+ntk`` ([GRM, ntk2], two
  components). Traits (true h² 0.5): the five architectures of :func:`ntkmixed.simulate.phenotype`
  (linear, hyperbolic, power, cosh, ricker; 100 causal SNPs drawn per replicate) and
  ``model``: traits drawn from the fitted model itself, g ~ N(0, σ²K)
  (:func:`ntkmixed.simulate.from_kernel`; for ``grm+ntk`` each kernel carries h² 0.25).
  Every kernel is built once and fitted to every trait.
* ``model-check`` — n = 1000 people × 2000 SNPs simulated by msprime, GRM and empirical NTK
  (depth 2, width 2000), traits from the model itself at true h² 0.2 and 0.5, REML (and
  iterated MINQUE): is the mean sample-variance h² within 0.03 of the truth, and does the
  95% profile interval cover it in 93–97% of replicates?

The truth is the target h² (0.5, or 0.2/0.5), a share of the sample variance: for the
five architectures, the broad-sense share of the genetic value, which a kernel may not
capture in full; for ``model`` traits, the model's own parameter. Coverage is of the truth.

    python benchmarks/bench_h2_calibration.py --study example --reps 100 --kernels grm ntk2
    python benchmarks/bench_h2_calibration.py --study model-check --reps 200
    python benchmarks/bench_h2_calibration.py --summarize results/h2_calibration/example-*.csv

Writes ``<out>/<study>-<kernels>.csv`` (one row per fit) and prints the table; ``--summarize``
pools CSV files into ``summary.md``/``summary.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "h2_calibration"
KERNELS = ("grm", "ntk2", "ntk3", "ntk-inf", "nngp", "grm+ntk")
TRAITS = ("linear", "hyperbolic", "power", "cosh", "ricker", "model")
METHODS = ("minque0", "minque1", "reml")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", choices=["example", "model-check"], default="example")
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--kernels", nargs="+", default=None, help=f"example: {KERNELS}; model-check: grm ntk2")
    parser.add_argument("--traits", nargs="+", default=list(TRAITS), choices=TRAITS)
    parser.add_argument("--methods", nargs="+", default=None, choices=METHODS,
                        help="default: all three (example), reml and minque1 (model-check)")
    parser.add_argument("--h2", nargs="+", type=float, default=None, help="true h² (example: 0.5; model-check: 0.2 0.5)")
    parser.add_argument("--n-causal", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--summarize", nargs="+", type=Path, metavar="CSV")
    return parser.parse_args(argv)


def kernel_list(name: str):
    import ntkmixed as nm

    ntk2 = nm.NTK(depth=2, width=2000, seed=1)
    return {
        "grm": [nm.GRM()], "ntk2": [ntk2], "ntk3": [nm.NTK(depth=3, width=2000, seed=1)],
        "ntk-inf": [nm.NTK(depth=2, width=None)], "nngp": [nm.NNGP(depth=2)], "grm+ntk": [nm.GRM(), ntk2],
    }[name]


def genotypes_for(study: str, seed: int) -> pd.DataFrame:
    import ntkmixed as nm

    if study == "example":
        return nm.datasets.load_example().genotypes.to_dataframe()
    return nm.simulate.genotypes(1000, 2000, seed=seed, method="msprime")


def build_model(kernels, G: pd.DataFrame):
    """The kernels trained once on everyone (the response is a placeholder)."""
    import ntkmixed as nm

    frame = pd.DataFrame({"y": np.random.default_rng(0).standard_normal(len(G))}, index=G.index)
    return nm.KernelLMM.from_formula("y ~ 1", frame, genotypes=G, kernel=kernels, progress=False)


def traits(model, G: pd.DataFrame, trait: str, h2: float, reps: int, seed: int, n_causal: int) -> np.ndarray:
    """reps × n phenotypes of one kind, seeded by (seed, trait, h2)."""
    import ntkmixed as nm

    stream = [seed, TRAITS.index(trait), int(round(1000 * h2))]
    if trait != "model":
        return np.array([nm.simulate.phenotype(G, trait, h2=h2, n_causal=n_causal, seed=stream + [r]).y.to_numpy()
                         for r in range(reps)])
    matrices = [t.operator.dense() for t in model.trained_kernels]
    share = h2 / len(matrices)  # each kernel carries an equal part of the sample variance
    genetic = sum(nm.simulate.from_kernel(K, share, n_traits=reps, seed=stream + [k]).genetic_value.to_numpy()
                  for k, K in enumerate(matrices))
    noise = np.random.default_rng(stream + [99]).normal(0.0, np.sqrt(1.0 - h2), size=genetic.shape)
    return (genetic + noise).T


def fit_all(model, y: np.ndarray, methods, truth: float) -> list[dict]:
    import ntkmixed as nm

    refitted = nm.KernelLMM(dataclasses.replace(model.design, y=y), model.trained_kernels, model.component_names)
    rows, profile = [], None
    for method in methods:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = refitted.fit(method=method)
        wald = res.conf_int_h2(method="wald").iloc[-1]
        if profile is None and res.heritability_basis.profile is not None:
            profile = res.conf_int_h2(method="profile").iloc[-1]  # the same REML profile for every method
        theta = res.variance_fit.theta
        kernel_h2 = nm.models.heritability.total_share(theta, res.variance_fit.cov, np.ones(theta.size))
        rows.append({
            "method": method, "h2": res.h2, "se": res.h2_se, "h2_kernel": kernel_h2[0],
            "wald_lower": wald["lower"], "wald_upper": wald["upper"],
            "profile_lower": np.nan if profile is None else profile["lower"],
            "profile_upper": np.nan if profile is None else profile["upper"],
            "converged": res.converged, "boundary": bool(res.boundary.iloc[:-1].any()), "truth": truth,
            "seconds": time.perf_counter() - start,
        })
    return rows


def run(args) -> None:
    study = args.study
    kernels = args.kernels or (list(KERNELS) if study == "example" else ["grm", "ntk2"])
    methods = args.methods or (list(METHODS) if study == "example" else ["reml", "minque1"])
    h2_values = args.h2 or ([0.5] if study == "example" else [0.2, 0.5])
    trait_kinds = args.traits if study == "example" else ["model"]
    G = genotypes_for(study, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    parts = [study, *kernels] + ([] if trait_kinds == list(TRAITS) or study != "example" else trait_kinds)
    path = args.out / ("-".join(parts) + ".csv")
    print(f"# {study}: n = {len(G)}, p = {G.shape[1]}, kernels {kernels}, traits {trait_kinds}, methods {methods}, "
          f"h² {h2_values}, {args.reps} replicates; load average {os.getloadavg()[0]:.2f}; {platform.node()}", flush=True)
    rows = []
    for name in kernels:
        start = time.perf_counter()
        model = build_model(kernel_list(name), G)
        for t in model.trained_kernels:
            t.operator.dense()
        diagnostics = [t.diagnostics() for t in model.trained_kernels]
        built = time.perf_counter() - start
        print(f"{name}: built in {built:.1f} s; D = {[round(d.sample_variance_factor, 4) for d in diagnostics]}, "
              f"constant share {[round(d.constant_share, 3) for d in diagnostics]}, nugget share "
              f"{[round(d.nugget_share, 4) for d in diagnostics]}", flush=True)
        for h2 in h2_values:
            for trait in trait_kinds:
                start = time.perf_counter()
                Y = traits(model, G, trait, h2, args.reps, args.seed, args.n_causal)
                for r, y in enumerate(Y):
                    for row in fit_all(model, y, methods, h2):
                        rows.append({"study": study, "kernel": name, "trait": trait, "rep": r, **row})
                print(f"  {name} {trait} h²={h2}: {time.perf_counter() - start:.0f} s "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
                pd.DataFrame(rows).to_csv(path, index=False)
    table = summarize(pd.DataFrame(rows))
    print(markdown(table))
    print(f"# wrote {path}; load average {os.getloadavg()[0]:.2f}")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per kernel × trait × method × truth: mean h², bias, SD, mean SE, coverage."""
    truth = results["truth"]
    profile_covers = ((results["profile_lower"] <= truth) & (truth <= results["profile_upper"])).astype(float)
    results = results.assign(
        wald_covers=((results["wald_lower"] <= truth) & (truth <= results["wald_upper"])).astype(float),
        profile_covers=profile_covers.where(results["profile_lower"].notna()),
    )
    grouped = results.groupby(["study", "kernel", "trait", "truth", "method"], sort=False)
    table = grouped.agg(reps=("h2", "size"), mean_h2=("h2", "mean"), sd=("h2", "std"), mean_se=("se", "mean"),
                        wald=("wald_covers", "mean"), profile=("profile_covers", "mean"),
                        mean_h2_kernel=("h2_kernel", "mean"), boundary=("boundary", "mean"),
                        seconds=("seconds", "mean")).reset_index()
    table.insert(table.columns.get_loc("mean_h2") + 1, "bias", table["mean_h2"] - table["truth"])
    return table


def markdown(table: pd.DataFrame) -> str:
    """A GitHub table (three decimals), without depending on tabulate."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, (float, np.floating)) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.summarize:
        results = pd.concat([pd.read_csv(p) for p in args.summarize], ignore_index=True)
        table = summarize(results)
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "summary.csv", index=False)
        (args.out / "summary.md").write_text(markdown(table) + "\n")
        print(markdown(table))
        return
    run(args)


if __name__ == "__main__":
    main()
