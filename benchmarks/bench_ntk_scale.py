"""NTK-LMM and NTK-KRR at large n: Nyström (with and without its diagonal correction),
random features, HODLR and the matrix-free engine against the dense fit where it fits.

Data (seeded, regenerated in every worker): HWE genotypes with allele frequencies
U(0.05, 0.5) and p SNPs (int8 dosages); a Ricker trait, ``ntkmixed.simulate.phenotype(G,
"ricker", h2=0.5)`` on all SNPs; covariate sex; a random 80/20 split (train/test).
Structures for the HODLR part: ``unrelated``; ``populations`` — two Balding–Nichols
populations (F_ST = 0.1), people sorted by population; ``families`` — nuclear families
of 2 founders + 4 children (Mendelian transmission, unlinked SNPs), sorted by family.

Parts (``--part``), every configuration in a fresh subprocess so that its peak memory
(VmHWM, reset after the data are simulated) is its own:

* ``lmm``: ``ntkmixed.fit(method="reml")`` per engine — dense, ``Nystrom(m)`` for
  m ∈ {500, 2000, 5000, auto} (diagonal "exact", and "none" at m = 2000),
  ``RandomFeatures`` (analytic kernel), ``matrix-free`` and ``hodlr`` where asked for.
  Rows: seconds (kernel + fit + prediction of the test people), peak extra memory,
  h² ± SE, trace error, test correlation, and |Δh²|, Δcorrelation against dense.
* ``krr``: ``ntkmixed.krr`` with 5-fold CV over 30 λ, dense against Nyström and, for
  the analytic kernel with ``--engines matrix-free``, CG through tiled products.
* ``hodlr``: HODLR compression and REML against dense for the three structures:
  ranks per level, stored fraction of n², probe error, seconds, |Δh²|.
* ``curve``: accuracy against m (Nyström) and D (random features) at one n.

Kernels: ``ntk-inf`` = NTK(depth=3, width=None) (analytic), ``ntk-2000`` =
NTK(depth=3, width=2000, seed=1) (empirical). Results are appended as JSON lines to
``--out`` (default ``benchmarks/results/ntk_scale/results.jsonl``) with the load average
before and after each run; ``--summarize`` prints the tables.

Usage (run under the machine-wide lock, parts of at most ~45 minutes)::

    flock /tmp/ntkmixed-bench.lock nice -n 5 python benchmarks/bench_ntk_scale.py --part lmm --sizes 5000 10000 --snps 100 --kernels ntk-inf
    python benchmarks/bench_ntk_scale.py --summarize
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import loadavg, reset_peak, status_kib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "ntk_scale" / "results.jsonl"
KERNELS = {
    "ntk-inf": lambda: __import__("ntkmixed").NTK(depth=3, width=None),
    "ntk-2000": lambda: __import__("ntkmixed").NTK(depth=3, width=2000, seed=1, progress=False),
}


# --- data ----------------------------------------------------------------------------------
def genotypes(n: int, p: int, structure: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.05, 0.5, p)
    if structure == "unrelated":
        return rng.binomial(2, base, size=(n, p)).astype(np.int8)
    if structure == "populations":
        F = 0.1
        halves = []
        for size in (n // 2, n - n // 2):
            freq = rng.beta(base * (1 - F) / F, (1 - base) * (1 - F) / F)
            halves.append(rng.binomial(2, np.clip(freq, 0.01, 0.99), size=(size, p)))
        return np.vstack(halves).astype(np.int8)
    if structure == "families":
        out = np.empty((n, p), dtype=np.int8)
        for start in range(0, n, 6):
            parents = rng.binomial(2, base, size=(2, p))
            rows = [parents[0], parents[1]]
            for _ in range(4):
                # each parent passes one allele: a dosage-2 parent always, 1 with prob 1/2
                child = sum(rng.binomial(1, parent / 2.0) for parent in parents)
                rows.append(child)
            block = np.array(rows[: min(6, n - start)])
            out[start : start + block.shape[0]] = block
        return out
    raise ValueError(structure)


def dataset(n: int, p: int, structure: str = "unrelated", seed: int = 1):
    import ntkmixed as nm

    G = genotypes(n, p, structure, seed)
    ids = pd.Index([f"id{i}" for i in range(n)], name="iid")
    G = pd.DataFrame(G, index=ids, columns=[f"rs{j}" for j in range(p)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pheno = nm.simulate.phenotype(G, "ricker", h2=0.5, seed=seed)
    rng = np.random.default_rng(seed + 7)
    data = pd.DataFrame({"y": pheno.y.to_numpy(), "sex": rng.choice(["f", "m"], n)}, index=ids)
    data["y"] += 0.3 * (data["sex"] == "m")
    test = np.zeros(n, dtype=bool)
    test[rng.choice(n, n // 5, replace=False)] = True
    if structure != "unrelated":  # HODLR part: everyone trains, in the sorted order
        test[:] = False
    return data, G, test


# --- one configuration -------------------------------------------------------------------
def kernel_of(config: dict):
    import ntkmixed as nm

    base = KERNELS[config["kernel"]]()
    approx = config.get("approx", "exact")
    if approx == "nystrom":
        landmarks = config["m"] if config["m"] != "auto" else "auto"
        return nm.Nystrom(base, landmarks=landmarks, seed=0, diagonal=config.get("diagonal", "exact"),
                          trace_tol=config.get("trace_tol", 0.05), max_landmarks=config.get("max_landmarks", 8192))
    if approx == "random-features":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from ntk_random_features import RandomFeatures  # measured, not kept in the package

        return RandomFeatures(base, features=config["m"], seed=0)
    return base


def engine_of(config: dict):
    import ntkmixed as nm

    engine = config.get("engine", "auto")
    if engine == "hodlr":
        return nm.HODLR(tol=config.get("hodlr_tol", 1e-8), leaf_size=config.get("leaf_size", 256),
                        max_rank=config.get("max_rank", 2048))
    return engine


def run(config: dict) -> dict:
    import ntkmixed as nm

    data, G, test = dataset(config["n"], config["p"], config.get("structure", "unrelated"), config.get("seed", 1))
    train, held_out = data.loc[~test], data.loc[test]
    out = dict(config, load_before=loadavg())
    reset_peak()
    baseline = status_kib("VmRSS:")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = kernel_of(config)
        if config["part"] == "krr":
            res = nm.krr("y ~ sex", train, G.loc[train.index], kernel=kernel, cv=5, seed=0,
                         engine=config.get("engine", "auto"))
            out.update(lam=res.lambda_, cv_engine=res.engine, engine_info=res.engine_info)
        else:
            model = nm.KernelLMM.from_formula("y ~ sex", train, G.loc[train.index], kernel=kernel)
            out["kernel_s"] = time.perf_counter() - start
            res = model.fit(method=config.get("method", "reml"), engine=engine_of(config))
            out.update(h2=res.h2, h2_se=res.h2_se, engine=res.engine)
            info = getattr(res, "engine_info", None)
            out["engine_info"] = dict(info) if isinstance(info, dict) else info_from(model, res)
            trained = res.kernels[0]
            if hasattr(trained, "training") and trained.training:
                out["trace_error"] = trained.training["trace_error"]
                out["rank"] = trained.training["rank"]
        out["fit_s"] = time.perf_counter() - start
        if held_out.shape[0]:
            predicted = res.predict(held_out, G.loc[held_out.index])
            out["test_cor"] = float(np.corrcoef(predicted, held_out["y"])[0, 1])
    out["seconds"] = time.perf_counter() - start
    out["peak_extra_gib"] = (status_kib("VmHWM:") - baseline) / 2**20
    out["load_after"] = loadavg()
    return out


def info_from(model, res) -> dict:
    """What the engine reported, where results do not carry ``engine_info`` yet."""
    operator = model.trained_kernels[0].operator
    info = dict(getattr(operator, "approximation", {}) or {})
    info.pop("history", None)
    return info


# --- the study -----------------------------------------------------------------------------
def configs(args) -> list[dict]:
    out = []
    if args.part in ("lmm", "krr"):
        for n in args.sizes:
            for p in args.snps:
                for kernel in args.kernels:
                    base = {"part": args.part, "n": n, "p": p, "kernel": kernel}
                    if n <= args.dense_max:
                        out.append(dict(base, approx="exact", engine="auto"))
                    for m in args.landmarks:
                        if m != "auto" and int(m) >= 0.8 * n:
                            continue
                        out.append(dict(base, approx="nystrom", m=m if m == "auto" else int(m), diagonal="exact"))
                    if args.part == "lmm" and "2000" in args.landmarks:
                        out.append(dict(base, approx="nystrom", m=2000, diagonal="none"))
                    if kernel == "ntk-inf":
                        for engine in args.engines:
                            if args.part == "lmm" or engine == "matrix-free":
                                out.append(dict(base, approx="exact", engine=engine))
    elif args.part == "hodlr":
        for n in args.sizes:
            for structure in args.structures:
                for kernel, p in (("grm", args.snps[0]), ("ntk-inf", args.snps[0])):
                    base = {"part": "hodlr", "n": n, "p": p, "structure": structure, "kernel": kernel}
                    out.append(dict(base, engine="dense"))
                    out.append(dict(base, engine="hodlr", hodlr_tol=args.hodlr_tol))
    elif args.part == "curve":
        n, p = args.sizes[0], args.snps[0]
        for kernel in args.kernels:
            base = {"part": "lmm", "n": n, "p": p, "kernel": kernel, "curve": True}
            if n <= args.dense_max:
                out.append(dict(base, approx="exact"))
            for m in (250, 500, 1000, 2000, 3000):
                if m < 0.8 * n:
                    out.append(dict(base, approx="nystrom", m=m, diagonal="exact"))
                    out.append(dict(base, approx="nystrom", m=m, diagonal="none"))
                    if kernel == "ntk-inf":
                        out.append(dict(base, approx="random-features", m=m))
                        out.append(dict(base, approx="random-features", m=4 * m))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["lmm", "krr", "hodlr", "curve"], default="lmm")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--snps", type=int, nargs="+", default=[100])
    parser.add_argument("--kernels", nargs="+", default=["ntk-inf"], choices=sorted(KERNELS))
    parser.add_argument("--landmarks", nargs="*", default=["500", "2000", "5000", "auto"])
    parser.add_argument("--engines", nargs="*", default=[],
                        help="extra engines for the analytic kernel: matrix-free, hodlr (krr: matrix-free)")
    parser.add_argument("--dense-max", type=int, default=20000)
    parser.add_argument("--hodlr-tol", type=float, default=1e-8)
    parser.add_argument("--structures", nargs="+", default=["unrelated", "populations", "families"],
                        choices=["unrelated", "populations", "families"], help="sample structures of the hodlr part")
    parser.add_argument("--timeout", type=float, default=2700.0, help="seconds per configuration")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    if args.summarize:
        summarize(args.out)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for config in configs(args):
        print(json.dumps(config), flush=True)
        if args.dry_run:
            continue
        record = launch(config, args.timeout)
        with open(args.out, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        print("  ->", {k: record.get(k) for k in ("seconds", "h2", "test_cor", "trace_error", "peak_extra_gib", "error")},
              flush=True)


def run_worker(config: dict) -> dict:
    if config["part"] == "hodlr":
        return run_hodlr(config)
    return run(config)


def launch(config: dict, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(config)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(config, error=f"did not finish in {timeout:.0f} s", load_after=loadavg())
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return dict(config, error=(done.stderr.strip().splitlines() or ["no output"])[-1][:300], load_after=loadavg())
    return json.loads(lines[-1])


# --- HODLR study ---------------------------------------------------------------------------
def run_hodlr(config: dict) -> dict:
    import ntkmixed as nm
    from ntkmixed.estimation import build_problem, reml

    data, G, _ = dataset(config["n"], config["p"], config["structure"], config.get("seed", 1))
    out = dict(config, load_before=loadavg())
    kernel = nm.GRM() if config["kernel"] == "grm" else KERNELS[config["kernel"]]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nm.KernelLMM.from_formula("y ~ sex", data, G, kernel=kernel)
    operator = model.trained_kernels[0].operator
    y, X = model.design.y, model.design.X
    reset_peak()
    baseline = status_kib("VmRSS:")
    start = time.perf_counter()
    if config["engine"] == "dense":
        from ntkmixed.estimation.operators import DenseOperator

        problem, _ = build_problem(y, X, [DenseOperator(operator.dense())], "dense")
    else:
        problem, _ = build_problem(y, X, [operator], engine_of(config))
        out["engine_info"] = problem.engine_info()
    out["build_s"] = time.perf_counter() - start
    fit = reml(problem)
    out["seconds"] = time.perf_counter() - start
    out["h2"] = float(fit.theta[0] / fit.theta.sum())
    out["peak_extra_gib"] = (status_kib("VmHWM:") - baseline) / 2**20
    out["load_after"] = loadavg()
    return out


# --- tables --------------------------------------------------------------------------------
def summarize(path: Path) -> None:
    records = [json.loads(line) for line in open(path)] if path.exists() else []
    if not records:
        print(f"no results in {path}")
        return
    frame = pd.DataFrame(records)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 60)
    for part, rows in frame.groupby("part"):
        print(f"\n== {part} ==")
        rows = rows.copy()
        if part in ("lmm", "krr"):
            rows["label"] = rows.apply(_label, axis=1)
            keys = ["n", "p", "kernel"]
            dense = rows[(rows.get("approx") == "exact") & (rows.get("engine", "auto").isin(["auto", "dense"]))]
            reference = dense.set_index(keys)
            for column in ("h2", "test_cor"):
                if column in rows and column in reference:
                    rows[f"d_{column}"] = [
                        (r[column] - reference.loc[tuple(r[k] for k in keys), column])
                        if tuple(r[k] for k in keys) in reference.index and pd.notna(r.get(column)) else np.nan
                        for _, r in rows.iterrows()]
            shown = [c for c in ["n", "p", "kernel", "label", "seconds", "peak_extra_gib", "h2", "h2_se", "trace_error",
                                 "test_cor", "d_h2", "d_test_cor", "lam", "error", "load_before", "load_after"] if c in rows]
            print(rows[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        else:
            rows["ranks"] = rows.get("engine_info").apply(
                lambda info: " ".join(f"{lv['median']:.0f}" for lv in info["ranks_by_level"]) if isinstance(info, dict) else "")
            rows["stored"] = rows.get("engine_info").apply(
                lambda info: info["stored_fraction"] if isinstance(info, dict) else np.nan)
            rows["probe_err"] = rows.get("engine_info").apply(
                lambda info: info["probe_relative_error"] if isinstance(info, dict) else np.nan)
            shown = [c for c in ["n", "structure", "kernel", "p", "engine", "seconds", "build_s", "peak_extra_gib", "h2",
                                 "ranks", "stored", "probe_err", "error", "load_before"] if c in rows]
            print(rows[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _label(row) -> str:
    approx = row.get("approx", "exact")
    if approx == "nystrom":
        return f"Nystrom m={row['m']} diag={row.get('diagonal', 'exact')}"
    if approx == "random-features":
        return f"RandomFeatures D={row['m']}"
    engine = row.get("engine", "auto")
    return "dense" if engine in ("auto", "dense", None) or pd.isna(engine) else engine


if __name__ == "__main__":
    main()
