"""Biobank-scale GRM fits (issue 11): the dense, exact low-rank and matrix-free engines
against each other and against FaST-LMM's low-rank REML, in one run.

Data (seeded, regenerated in every worker): HWE genotypes of two Balding–Nichols
populations (F_ST = 0.05, ancestral frequencies U(0.05, 0.5)), int8 dosages simulated in
SNP blocks; a trait with true h² = 0.4 spread over all SNPs (β ~ N(0, h²/p) on the
standardised genotypes), a population mean shift and a covariate ``sex``. Every fit
adjusts for the population (as one adjusts for ancestry PCs): without it, MINQUE0 —
Haseman–Elston — gives the mean shift, which lies along the GRM's top eigenvector, the
weight of that eigenvalue squared and reads h² = 1.0 at n = 20 000 (REML 0.396).

Parts (``--part``), every configuration in a fresh subprocess so that its peak memory
(VmHWM, reset after the data are simulated) is its own:

* ``engines``: ``fit("y ~ sex + population", engine=E, method=M)`` for E ∈ {dense (n ≤ --dense-max),
  lowrank (p < 0.7 n), matrix-free}, M from ``--methods``. Rows: seconds, peak extra
  memory, h² ± SE, |Δh²| to dense where dense ran, and the engine's own Monte-Carlo SE.
* ``fastlmm``: our low-rank REML against FaST-LMM (``single_snp`` on one test SNP, whose
  cost is its null model: one SVD of the genotypes when p < n) on the same .bed: h² of
  both, |Δh²|, time ratio (target ours ≤ 0.5× theirs).

Results are appended as JSON lines to ``--out`` (default
``benchmarks/results/scale/results.jsonl``) with the load average; ``--summarize``
prints the table.

    flock /tmp/ntkmixed-bench.lock nice -n 5 python benchmarks/bench_scale.py --part engines --sizes 10000 100000 --snps 10000
    flock /tmp/ntkmixed-bench.lock python benchmarks/bench_scale.py --part fastlmm --sizes 20000 50000 --snps 2000
    python benchmarks/bench_scale.py --summarize
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
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import loadavg, reset_peak, status_kib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "scale" / "results.jsonl"
FASTLMM_PYTHON = "/work/venvs/fastlmm/bin/python"
TRUE_H2 = 0.4
FORMULA = "y ~ sex + population"
FASTLMM_SCRIPT = r"""
import json, sys, time
from fastlmm.association import single_snp
from pysnptools.snpreader import Bed
bed = Bed(sys.argv[1], count_A1=True)
start = time.perf_counter()
frame = single_snp(test_snps=bed[:, :1], pheno=sys.argv[2], K0=bed, covar=sys.argv[3], leave_out_one_chrom=False,
                   count_A1=True)
print(json.dumps({"seconds": time.perf_counter() - start, "h2": float(frame["Nullh2"].iloc[0])}))
"""


# --- data ----------------------------------------------------------------------------------
def simulate(n: int, p: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(data with y and sex, int8 genotypes) indexed by the same IDs."""
    rng = np.random.default_rng(seed)
    population = np.arange(n) % 2
    ancestral = rng.uniform(0.05, 0.5, p)
    fst = 0.05
    G = np.empty((n, p), dtype=np.int8)
    g = np.zeros(n)
    for start in range(0, p, 1000):
        stop = min(start + 1000, p)
        a = ancestral[start:stop]
        freq = rng.beta(a * (1 - fst) / fst, (1 - a) * (1 - fst) / fst, size=(2, stop - start))
        f = freq[population]
        block = (rng.random(f.shape, dtype=np.float32) < f).astype(np.int8)
        block += rng.random(f.shape, dtype=np.float32) < f
        G[:, start:stop] = block
        mean, sd = block.mean(axis=0), block.std(axis=0)
        sd[sd == 0] = 1.0
        g += ((block - mean) / sd) @ rng.normal(0.0, np.sqrt(TRUE_H2 / p), stop - start)
    sex = rng.integers(0, 2, n).astype(float)
    y = g + 0.2 * population + 0.3 * sex + rng.normal(0.0, np.sqrt(1 - TRUE_H2), n)
    ids = pd.Index([f"i{i}" for i in range(n)], name="IID")
    data = pd.DataFrame({"y": y, "sex": sex, "population": population.astype(float)}, index=ids)
    return data, pd.DataFrame(G, index=ids, columns=[f"rs{j}" for j in range(p)])


# --- one configuration -------------------------------------------------------------------
def run_engine(config: dict) -> dict:
    import ntkmixed as nm

    data, G = simulate(config["n"], config["p"], config["seed"])
    reset_peak()
    baseline = status_kib("VmRSS:")
    out = {**config, "load_before": loadavg()}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit(FORMULA, data, genotypes=G, method=config["method"], engine=config["engine"],
                     probes=config.get("probes"), seed=config["seed"], progress=False)
    out.update(seconds=time.perf_counter() - start, peak_extra_gib=(status_kib("VmHWM:") - baseline) / 2**20,
               h2=res.h2, h2_se=res.h2_se, engine_used=res.engine, load_after=loadavg())
    info = dict(getattr(res, "engine_info", {}) or {})
    out["h2_mc_se"] = info.get("h2_mc_se")
    out["cg_iterations"] = info.get("cg_iterations")
    return out


def run_fastlmm(config: dict) -> dict:
    import ntkmixed as nm
    from bed_reader import to_bed

    data, G = simulate(config["n"], config["p"], config["seed"])
    out = {**config, "load_before": loadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "g")
        ids = list(data.index)
        to_bed(prefix + ".bed", G.to_numpy().copy(), properties={"fid": ids, "iid": ids, "chromosome": ["1"] * config["p"],
                                                          "sid": list(G.columns), "bp_position": np.arange(config["p"]) + 1})
        pd.DataFrame({"fid": ids, "iid": ids, "y": data["y"]}).to_csv(prefix + ".pheno", sep=" ", header=False, index=False)
        pd.DataFrame({"fid": ids, "iid": ids, "sex": data["sex"], "population": data["population"]}).to_csv(prefix + ".cov", sep=" ", header=False, index=False)
        script = os.path.join(tmp, "run_fastlmm.py")
        Path(script).write_text(FASTLMM_SCRIPT)
        theirs = subprocess.run([FASTLMM_PYTHON, script, prefix + ".bed", prefix + ".pheno", prefix + ".cov"],
                                capture_output=True, text=True, check=True)
        theirs = json.loads(theirs.stdout.strip().splitlines()[-1])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = nm.fit(FORMULA, data, genotypes=G, method="reml", engine="lowrank", progress=False)
        seconds = time.perf_counter() - start
    out.update(h2=ours.h2, h2_fastlmm=theirs["h2"], d_h2=abs(ours.h2 - theirs["h2"]), seconds=seconds,
               seconds_fastlmm=theirs["seconds"], ratio=seconds / theirs["seconds"], load_after=loadavg())
    return out


# --- the study -----------------------------------------------------------------------------
def configs(args) -> list[dict]:
    out = []
    for n in args.sizes:
        for p in args.snps:
            base = {"part": args.part, "n": n, "p": p, "seed": args.seed + n}
            if args.part == "fastlmm":
                out.append(base)
                continue
            for method in args.methods:
                if n <= args.dense_max:
                    out.append({**base, "engine": "dense", "method": method})
                if p < 0.7 * n and n * p * 8 * 3 < args.memory_gib * 2**30:
                    out.append({**base, "engine": "lowrank", "method": method})
                if n >= args.matrix_free_min:
                    out.append({**base, "engine": "matrix-free", "method": method, "probes": args.probes})
    return out


def summarize(path: Path) -> pd.DataFrame:
    rows = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    engines = rows[rows["part"] == "engines"].copy()
    if len(engines):
        key = list(zip(engines["n"], engines["p"], engines["method"]))
        for exact in ("dense", "lowrank"):  # both exact (tests: equal to 1e-8); dense where it ran
            reference = engines[engines["engine"] == exact].set_index(["n", "p", "method"])["h2"]
            engines[f"d_h2_{exact}"] = [abs(h - reference[k]) if k in reference.index and e != exact else np.nan
                                        for h, k, e in zip(engines["h2"], key, engines["engine"])]
        engines["d_h2_truth_in_se"] = (engines["h2"] - TRUE_H2).abs() / engines["h2_se"]
        columns = ["n", "p", "engine", "method", "probes", "seconds", "peak_extra_gib", "h2", "h2_se", "h2_mc_se",
                   "d_h2_dense", "d_h2_lowrank", "d_h2_truth_in_se", "cg_iterations", "load_before"]
        print("\n== engines ==")
        print(engines[[c for c in columns if c in engines]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    theirs = rows[rows["part"] == "fastlmm"]
    if len(theirs):
        print("\n== fastlmm (low-rank REML) ==")
        columns = ["n", "p", "h2", "h2_fastlmm", "d_h2", "seconds", "seconds_fastlmm", "ratio", "load_before"]
        print(theirs[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["engines", "fastlmm"], default="engines")
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 20_000, 50_000, 100_000])
    parser.add_argument("--snps", nargs="+", type=int, default=[10_000])
    parser.add_argument("--methods", nargs="+", default=["minque0", "reml"])
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--dense-max", type=int, default=20_000)
    parser.add_argument("--matrix-free-min", type=int, default=0)
    parser.add_argument("--memory-gib", type=float, default=16.0, help="skip low-rank fits whose float64 factor copies need more")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--summarize", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        config = json.loads(args.worker)
        result = run_fastlmm(config) if config["part"] == "fastlmm" else run_engine(config)
        print("RESULT " + json.dumps(result, default=float), flush=True)
        return
    if args.summarize:
        summarize(args.out)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for config in configs(args):
        print("running", config, flush=True)
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(config)], capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            print(f"failed (exit {done.returncode}):\n{done.stderr[-2000:]}", flush=True)
            continue
        with args.out.open("a") as handle:
            handle.write(lines[-1][len("RESULT "):] + "\n")
        print(lines[-1], flush=True)
    summarize(args.out)


if __name__ == "__main__":
    main()
