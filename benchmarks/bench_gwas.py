"""Association benchmarks: per-SNP GWAS against FaST-LMM, power of the NTK kernel test
against the linear-kernel (SKAT-type) test, and type-I error with a background GRM.

Part ``fastlmm`` (n = 1000 and 5000, 20 000 SNPs by default): simulated genotypes with
two populations written to a .bed; phenotype = 50 causal SNPs + population + noise;
covariates sex-like and age-like. ``ntkmixed.gwas(loco=False, test="wald")`` against
``fastlmm.association.single_snp(test_snps=bed, K0=bed, covar=…, leave_out_one_chrom=False)``
run in /work/venvs/fastlmm (its own numpy). Both see the same genotypes, phenotype,
covariates and kernel (GRM of all SNPs, unit-variance SNPs, mean diagonal 1). Each side is
timed inside its own process from the .bed to the table (kernel, eigendecomposition, REML,
scan). Printed: max |Δ −log10 p|, correlation of −log10 p, max relative difference of β̂
and SE (FaST-LMM's SnpWeight is per SD of the SNP: divided by the SNP's SD), h², times
and the ratio ours/theirs.

Part ``power``: windows of 20 consecutive SNPs of the example genotypes (700 people),
phenotype from ``ntkmixed.simulate.phenotype`` (all 20 causal, scenario linear / cosh /
ricker, region h² = ``--power-h2``), tested with GRM (linear) and NTK (depth 2, analytic
and empirical width 2000) kernels; rejection rates at α = 1e-3.

Part ``typeone``: n = 300, y ~ N(Xβ, V) with a background GRM (h² = 0.3) of 1000 SNPs;
the region (30 other SNPs) tested with GRM and NTK kernels and the background GRM in the
null (REML per replicate, the background's eigendecomposition shared); rejections at
α = 0.01 and 0.001 with binomial 99% limits.

Usage::

    flock /tmp/ntkmixed-bench.lock nice -n 5 python benchmarks/bench_gwas.py --parts fastlmm power typeone
    python benchmarks/bench_gwas.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import ntkmixed as nm  # noqa: E402
from ntkmixed.association import mixture, scan  # noqa: E402
from ntkmixed.association.kernel_stat import kernel_statistic  # noqa: E402
from ntkmixed.association.whiten import SpectralWhitener  # noqa: E402
from ntkmixed.estimation import SpectralProblem, reml  # noqa: E402

FASTLMM_PYTHON = "/work/venvs/fastlmm/bin/python"
FASTLMM_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from fastlmm.association import single_snp
from pysnptools.snpreader import Bed
bed = Bed(sys.argv[1], count_A1=True)
start = time.perf_counter()
frame = single_snp(test_snps=bed, pheno=sys.argv[2], K0=bed, covar=sys.argv[3], leave_out_one_chrom=False,
                   count_A1=True)
seconds = time.perf_counter() - start
frame[["SNP", "PValue", "SnpWeight", "SnpWeightSE", "Nullh2"]].to_csv(sys.argv[4], sep="\t", index=False)
print(json.dumps({"seconds": seconds}))
"""


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def simulate(n: int, p: int, seed: int):
    rng = np.random.default_rng(seed)
    population = np.arange(n) % 2
    base = rng.uniform(0.05, 0.5, p)
    shift = rng.uniform(-0.1, 0.1, p)
    G = np.empty((n, p), dtype=np.float32)
    for start in range(0, p, 2000):
        stop = min(start + 2000, p)
        freq = np.clip(base[start:stop] + np.outer(population - 0.5, shift[start:stop]), 0.02, 0.98)
        G[:, start:stop] = rng.binomial(2, freq)
    causal = rng.choice(p, 50, replace=False)
    Zc = (G[:, causal] - G[:, causal].mean(0)) / G[:, causal].std(0)
    y = Zc @ rng.normal(0, np.sqrt(0.4 / 50), 50) + 0.3 * population + rng.normal(0, np.sqrt(0.6), n)
    covar = pd.DataFrame({"sex": rng.binomial(1, 0.5, n).astype(float), "age": rng.normal(50, 10, n)})
    y = y + 0.2 * covar["sex"].to_numpy() + 0.01 * covar["age"].to_numpy()
    return G, y, covar


def part_fastlmm(sizes, p, seed):
    from bed_reader import to_bed

    rows = []
    for n in sizes:
        G, y, covar = simulate(n, p, seed + n)
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "g")
            ids = [f"i{i}" for i in range(n)]
            chrom = np.where(np.arange(p) < p // 2, "1", "2")
            to_bed(prefix + ".bed", G, properties={"fid": ids, "iid": ids, "chromosome": chrom,
                                                   "sid": [f"rs{j}" for j in range(p)], "bp_position": np.arange(p) + 1})
            pd.DataFrame({"fid": ids, "iid": ids, "y": y}).to_csv(prefix + ".pheno", sep=" ", header=False, index=False)
            pd.DataFrame({"fid": ids, "iid": ids, **covar}).to_csv(prefix + ".cov", sep=" ", header=False, index=False)
            script = os.path.join(tmp, "run_fastlmm.py")
            with open(script, "w") as handle:
                handle.write(FASTLMM_SCRIPT)
            before = loadavg()
            out = subprocess.run([FASTLMM_PYTHON, script, prefix + ".bed", prefix + ".pheno", prefix + ".cov", prefix + ".fl"],
                                 capture_output=True, text=True, check=True)
            theirs_seconds = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
            theirs = pd.read_csv(prefix + ".fl", sep="\t").set_index("SNP")
            data = pd.DataFrame({"y": y, "sex": covar["sex"].to_numpy(), "age": covar["age"].to_numpy()}, index=pd.Index(ids, name="IID"))
            bed = nm.read_plink(prefix)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = nm.gwas("y ~ sex + age", data, bed, loco=False, test="wald")
            ours_seconds = time.perf_counter() - start
            after = loadavg()
        table = ours.table.set_index("SNP")
        theirs = theirs.loc[table.index]
        sd = G.astype(np.float64).std(0)
        ok = table["p"].notna().to_numpy()
        lp_ours, lp_theirs = -np.log10(table["p"].to_numpy()[ok]), -np.log10(theirs["PValue"].to_numpy()[ok])
        beta_theirs = theirs["SnpWeight"].to_numpy()[ok] / sd[ok]
        se_theirs = theirs["SnpWeightSE"].to_numpy()[ok] / sd[ok]
        rows.append({
            "n": n, "snps": p, "h2_ours": float(ours.null_models["h2"].iloc[0]), "h2_fastlmm": float(theirs["Nullh2"].iloc[0]),
            "max_abs_dlog10p": float(np.max(np.abs(lp_ours - lp_theirs))), "corr_log10p": float(np.corrcoef(lp_ours, lp_theirs)[0, 1]),
            "max_rel_dbeta": float(np.max(np.abs(table["beta"].to_numpy()[ok] - beta_theirs) / np.abs(table["se"].to_numpy()[ok]))),
            "max_rel_dse": float(np.max(np.abs(table["se"].to_numpy()[ok] / se_theirs - 1))),
            "seconds_ours": ours_seconds, "seconds_fastlmm": theirs_seconds, "ratio": ours_seconds / theirs_seconds,
            "load_before": before, "load_after": after,
        })
        print(pd.DataFrame(rows).tail(1).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def part_power(reps, h2, seed, kernels):
    from ntkmixed.experiments.simulate import phenotype

    example = nm.datasets.load_example()
    G = example.genotypes.read()
    n, p = G.shape
    data = pd.DataFrame(index=pd.RangeIndex(n))
    rng = np.random.default_rng(seed)
    rows = []
    for scenario in ("linear", "cosh", "ricker"):
        rejected = {name: 0 for name in kernels}
        for rep in range(reps):
            start = int(rng.integers(0, p - 20))
            region = G[:, start:start + 20]
            region = region[:, region.std(0) > 0]
            y = phenotype(region, scenario, h2=h2, seed=int(rng.integers(1 << 30))).y.to_numpy()
            frame = data.assign(y=y)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = nm.kernel_test("y ~ 1", frame, region, kernel=list(kernels.values()))
            for name, p_value in zip(kernels, res.table["p"]):
                rejected[name] += p_value < 1e-3
        row = {"scenario": scenario, "reps": reps, "h2": h2, **{f"power_{k}": v / reps for k, v in rejected.items()}}
        rows.append(row)
        print(row, flush=True)
    return pd.DataFrame(rows)


def part_typeone(reps, seed):
    rng = np.random.default_rng(seed)
    n = 300
    Gb = rng.binomial(2, rng.uniform(0.05, 0.5, 1000), (n, 1000)).astype(float)
    Zb = (Gb - Gb.mean(0)) / Gb.std(0)
    Kb = Zb @ Zb.T / 1000
    Kb /= np.mean(np.diag(Kb))
    Gr = rng.binomial(2, rng.uniform(0.05, 0.5, 30), (n, 30)).astype(float)
    Zr = (Gr - Gr.mean(0)) / Gr.std(0)
    kernels = {"GRM": Zr @ Zr.T / 30, "NTK": nm.NTK(depth=2, width=None).gram(Zr)}
    kernels = {k: K / np.mean(np.diag(K)) for k, K in kernels.items()}
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    root = np.linalg.cholesky(0.3 * Kb + 0.7 * np.eye(n) + 1e-9 * np.eye(n))
    operator = nm.estimation.DenseOperator(Kb)
    p_values = {k: [] for k in kernels}
    for _ in range(reps):
        y = X @ np.array([1.0, 0.5]) + root @ rng.normal(size=n)
        problem = SpectralProblem(y, X, operator)
        fit = reml(problem)
        projection = scan.null_projection(SpectralWhitener(problem, fit.theta + np.array([0, 1e-12])), y, X)
        for name, K in kernels.items():
            p_values[name].append(kernel_statistic(projection, K=K).tail("davies").p)
    rows = []
    for name, values in p_values.items():
        values = np.array(values)
        for alpha in (0.01, 0.001):
            lo, hi = stats.binom.ppf([0.005, 0.995], reps, alpha)
            count = int(np.sum(values < alpha))
            rows.append({"kernel": name, "alpha": alpha, "reps": reps, "rejections": count, "limits_99": f"[{lo:.0f}, {hi:.0f}]",
                         "within": bool(lo <= count <= hi)})
    print(pd.DataFrame(rows).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["fastlmm", "power", "typeone"], choices=["fastlmm", "power", "typeone"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 5000])
    parser.add_argument("--snps", type=int, default=20000)
    parser.add_argument("--power-reps", type=int, default=100)
    parser.add_argument("--power-h2", type=float, default=0.04)
    parser.add_argument("--power-kernels", nargs="+", default=["GRM", "NTK_inf", "NTK_w2000"],
                        choices=["GRM", "NTK_inf", "NTK_w2000"])
    parser.add_argument("--typeone-reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    parser.add_argument("--out", default=None, help="directory for CSV results")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.snps, args.power_reps, args.typeone_reps = [300], 2000, 5, 50
    print(f"load average at start: {loadavg()}", flush=True)
    results = {}
    if "fastlmm" in args.parts:
        results["fastlmm"] = part_fastlmm(args.sizes, args.snps, args.seed)
    if "power" in args.parts:
        kernels = {"GRM": nm.GRM(), "NTK_inf": nm.NTK(depth=2, width=None, name="NTK_inf"),
                   "NTK_w2000": nm.NTK(depth=2, width=2000, seed=1, name="NTK_w2000")}
        kernels = {name: kernels[name] for name in args.power_kernels}
        results["power"] = part_power(args.power_reps, args.power_h2, args.seed, kernels)
    if "typeone" in args.parts:
        results["typeone"] = part_typeone(args.typeone_reps, args.seed)
    for name, frame in results.items():
        print(f"\n== {name} ==\n{frame.to_string(index=False)}")
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            frame.to_csv(os.path.join(args.out, f"{name}.csv"), index=False)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
