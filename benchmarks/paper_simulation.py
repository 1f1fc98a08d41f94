"""Reproduce the simulation study of Ge & Lu (arXiv 2510.01426, Figure 1).

Design: five genetic architectures (linear, hyperbolic, power, cosh, Ricker; formulas in
:mod:`ntkmixed.simulate`) × SNP counts 20, 50, 100. For each SNP count k, k SNPs are drawn
at random (seeded) from the genotypes; every one of them is causal and the methods see
exactly these k SNPs. One phenotype is simulated per (scenario, k) with heritability
``--h2``, then every method is fitted on ``--reps`` random 80/20 splits of the same people
(:func:`ntkmixed.compare`: identical splits for all methods, no transductive step).

Outputs in ``--out``: ``results.csv`` (one row per method × split × setting),
``summary.csv`` and ``summary.md`` (mean ± SD test correlation, mean seconds per fit), and
``figure.png`` (paper-style box plots).

    python benchmarks/paper_simulation.py --reps 10
    python benchmarks/paper_simulation.py --reps 1 --scenarios linear --snps 20 --n 150
    python benchmarks/paper_simulation.py --summarize run1/results.csv run2/results.csv --out pooled

Genotypes: ``--genotypes example`` (default; ``ntkmixed.datasets.load_example()``, 700
people × 740 SNPs), ``msprime`` (simulated, 700 × 740) or a PLINK prefix.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "paper_simulation"
SCENARIOS = ("linear", "hyperbolic", "power", "cosh", "ricker")
PAPER_METHODS = ("gblup", "ntk-lmm", "ntk-krr", "nn")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=100, help="random 80/20 splits per setting (paper: 100)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--snps", nargs="+", type=int, default=[20, 50, 100], help="SNP counts")
    parser.add_argument("--methods", nargs="+", default=list(PAPER_METHODS),
                        choices=["gblup", "ntk-lmm", "ntk-krr", "nngp-krr", "ntk-inf-krr", "nn"])
    parser.add_argument("--h2", type=float, default=0.5, help="target heritability of every phenotype")
    parser.add_argument("--genotypes", default="example", help="'example', 'msprime' or a PLINK prefix")
    parser.add_argument("--n", type=int, default=None, help="use the first N people only (quick runs)")
    parser.add_argument("--depth", type=int, default=2, help="hidden layers of the NTK/NNGP network")
    parser.add_argument("--width", type=int, default=2000, help="width of the empirical NTK")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/torch threads (1 avoids oversubscribing a shared machine)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--summarize", nargs="+", type=Path, metavar="RESULTS_CSV",
                        help="run nothing: pool earlier results.csv files (e.g. runs with "
                             "different --seed) into one summary and figure in --out")
    return parser.parse_args(argv)


def load_genotypes(source: str, n: int | None):
    import ntkmixed as nm

    if source == "example":
        frame = nm.datasets.load_example().genotypes.to_dataframe()
    elif source == "msprime":
        frame = nm.simulate.genotypes(700, 740, seed=1, method="msprime")
    else:
        frame = nm.read_plink(source).to_dataframe()
    return frame.iloc[:n] if n else frame


def snp_subset(genotypes, k: int, seed: int):
    """k SNPs drawn at random among those polymorphic in the people used, seeded by k."""
    import numpy as np

    polymorphic = genotypes.columns[genotypes.std(axis=0).to_numpy() > 0]
    if k > len(polymorphic):
        raise SystemExit(f"--snps {k} is more than the {len(polymorphic)} polymorphic SNPs available")
    rng = np.random.default_rng([seed, k])
    chosen = np.sort(rng.choice(len(polymorphic), size=k, replace=False))
    return genotypes[polymorphic[chosen]]


def run(args: argparse.Namespace):
    import pandas as pd

    import ntkmixed as nm
    from ntkmixed.experiments.comparison import summarize

    genotypes = load_genotypes(args.genotypes, args.n)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(f"genotypes: {args.genotypes}, {genotypes.shape[0]} people × {genotypes.shape[1]} SNPs; "
        f"{args.reps} split(s) per setting; methods {', '.join(args.methods)}")
    frames = []
    started = time.perf_counter()
    for k in args.snps:
        G = snp_subset(genotypes, k, args.seed)
        for scenario in args.scenarios:
            t0 = time.perf_counter()
            results = nm.compare(
                G, scenario, methods=args.methods, n_splits=args.reps, test_size=0.2,
                seed=args.seed + k, progress=False, depth=args.depth, width=args.width,
                scenario_options={"h2": args.h2},
            )
            results["n_snps"] = k
            frames.append(results)
            means = results.groupby("method", sort=False)["cor"].mean()
            say(f"  {scenario:>10} {k:>3} SNPs ({time.perf_counter() - t0:6.1f} s): "
                + "  ".join(f"{m}={v:.3f}" for m, v in means.items()))
    results = pd.concat(frames, ignore_index=True)
    summary = summarize(results, by=["scenario", "n_snps"])
    say(f"total {time.perf_counter() - started:.0f} s")
    return results, summary


def pool(paths):
    """Results of earlier runs, stacked with a ``run`` column (the file's position), and
    their joint summary: means and SDs over every split of every run."""
    import pandas as pd

    from ntkmixed.experiments.comparison import summarize

    results = pd.concat([pd.read_csv(path).assign(run=i) for i, path in enumerate(paths)], ignore_index=True)
    results["split"] = results["run"] * (results["split"].max() + 1) + results["split"]
    return results, summarize(results, by=["scenario", "n_snps"])


def markdown_table(summary, methods) -> str:
    """Rows (scenario, SNPs), one column per method: 'mean ± SD (seconds s)'."""
    from ntkmixed.experiments.comparison import METHOD_LABELS

    header = "| scenario | SNPs | " + " | ".join(METHOD_LABELS.get(m, m) for m in methods) + " |"
    lines = [header, "|" + "---|" * (len(methods) + 2)]
    for (scenario, k), cell in summary.groupby(["scenario", "n_snps"], sort=False):
        by_method = cell.set_index("method")
        entries = []
        for m in methods:
            row = by_method.loc[m]
            sd = "" if row["n_splits"] < 2 else f" ± {row['cor_sd']:.3f}"
            entries.append(f"{row['cor_mean']:.3f}{sd} ({row['seconds']:.1f} s)")
        lines.append(f"| {scenario} | {k} | " + " | ".join(entries) + " |")
    return "\n".join(lines)


def session_info(args) -> str:
    import numpy as np
    import torch

    import ntkmixed

    return (
        f"ntkmixed {ntkmixed.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}, {os.cpu_count()} CPU(s), threads {args.threads}; "
        f"command: python benchmarks/paper_simulation.py {' '.join(sys.argv[1:])}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.summarize:
        results, summary = pool(args.summarize)
        args.methods = list(dict.fromkeys(results["method"]))
    else:
        results, summary = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "results.csv", index=False)
    summary.to_csv(args.out / "summary.csv", index=False)
    table = markdown_table(summary, args.methods)
    (args.out / "summary.md").write_text(
        "Test correlation, mean ± SD over splits (mean seconds per fit incl. kernel build)\n\n"
        + table + "\n\n" + session_info(args) + "\n"
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        from ntkmixed.experiments.comparison import plot_comparison

        plot_comparison(results).savefig(args.out / "figure.png", dpi=120, bbox_inches="tight")
    except ImportError:
        print("matplotlib is not installed: no figure", file=sys.stderr)
    if not args.quiet:
        print(table)
        print(f"written to {args.out}")
    return 0


def limit_threads(n_threads: int) -> None:
    """One BLAS/torch thread per process by default: fits at n ≈ 560 are too small to gain
    from threads, and on a shared machine extra threads only oversubscribe the cores.
    Must run before numpy is first imported."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(n_threads))
    import torch

    torch.set_num_threads(n_threads)


if __name__ == "__main__":
    limit_threads(parse_args().threads)
    sys.exit(main())
