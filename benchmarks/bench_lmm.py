"""Single-kernel LMM benchmark: ntkmixed against glimix-core, and against one eigh.

Part 1 (n = 2000 and 5000 by default): REML and iterated MINQUE (MINQUE1) on the same
kernel — a GRM of simulated genotypes with mean diagonal 1 — against glimix-core's REML
(``glimix_core.lmm.LMM(y, X, economic_qs(K), restricted=True)``). Both sides are timed
from the kernel matrix, eigendecomposition included; h² must agree to 1e-4. Rows:

* ``estimator``: the pure estimator ``ntkmixed.estimation.reml/minque1(problem)``
  (eigendecomposition + search), against glimix ``economic_qs`` + ``LMM.fit``.
* ``fit(Precomputed)``: ``Precomputed(K)`` (which validates K with an ``eigvalsh``) plus
  ``ntkmixed.fit``, against the same glimix time.
* ``fit(GRM)``: ``ntkmixed.fit(..., genotypes=G, kernel=GRM())``, kernel construction
  included, against glimix plus this script's own GRM construction.

Part 2 (n = 10 000): MINQUE0 and REML, as pure estimators on a built kernel and through
``ntkmixed.fit`` with ``Precomputed(K)``. Each measurement runs in a fresh subprocess that
loads K, times one ``numpy.linalg.eigh`` of it (the reference), then the measured call.
Peak memory is the peak resident set size (``VmHWM`` in ``/proc/self/status``, which counts
LAPACK workspace as well as numpy arrays) minus the resident size just before the call,
with K, y and X already loaded; the peak counter is reset between the reference and the call
(``/proc/self/clear_refs``). ``VmHWM`` is the counter behind
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, read directly because ``ru_maxrss`` of a
process started by ``subprocess`` also carries the parent's peak from before ``exec``. Each
call is timed in two parts, with the peak of each part (above the same baseline) reported,
so the step that sets the peak is visible.

Timings are wall-clock seconds, the best of ``--repeats`` runs taken in turn. On a shared
machine they are noisy; the load average is printed with the tables.

Usage::

    python benchmarks/bench_lmm.py            # full run (tens of minutes on 2 cores)
    python benchmarks/bench_lmm.py --quick    # small n, seconds
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

H2_TOL = 1e-4
TIME_TARGET_GLIMIX = 1.0
TIME_TARGET_EIGH = 1.5
MEMORY_TARGET_N2 = 6.0  # peak extra memory, in units of n²·8 bytes
SNP_BLOCK = 2000


# --- data ------------------------------------------------------------------------------
def simulate(n: int, n_snps: int, h2: float, seed: int, keep_genotypes: bool):
    """Genotypes (int8, allele frequencies U(0.05, 0.5)), the GRM K = Z Zᵀ/p normalised to
    mean diagonal 1, covariates sex and age, and y = Xβ + g + e with Var(g)/Var(g+e) ≈ h2.
    Z is built block by block so that n × p float64 never exists at once."""
    from ntkmixed import standardize

    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.05, 0.5, n_snps)
    K = np.zeros((n, n))
    g = np.zeros(n)
    blocks = []
    seconds_kernel = 0.0
    for start in range(0, n_snps, SNP_BLOCK):
        block = rng.binomial(2, freqs[start:start + SNP_BLOCK], size=(n, min(SNP_BLOCK, n_snps - start)))
        block = block.astype(np.int8)
        if keep_genotypes:
            blocks.append(block)
        t0 = time.perf_counter()
        Z, _ = standardize(block, quiet=True)
        K += Z @ Z.T
        seconds_kernel += time.perf_counter() - t0
        g += Z @ rng.standard_normal(Z.shape[1])
    t0 = time.perf_counter()
    K /= n_snps
    K /= np.mean(np.diag(K))
    seconds_kernel += time.perf_counter() - t0
    sex = rng.integers(0, 2, n).astype(float)
    age = rng.uniform(40.0, 70.0, n)
    g *= np.sqrt(h2 / np.var(g))
    y = 1.0 + 0.3 * sex + 0.02 * age + g + rng.standard_normal(n) * np.sqrt(1.0 - h2)
    data = pd.DataFrame({"y": y, "sex": sex, "age": age}, index=[f"id{i}" for i in range(n)])
    X = np.column_stack([np.ones(n), sex, age])
    genotypes = np.hstack(blocks) if keep_genotypes else None
    return K, y, X, data, genotypes, seconds_kernel


def h2_of(theta: np.ndarray) -> float:
    return float(theta[0] / theta.sum())


# --- part 1: against glimix-core -------------------------------------------------------
def run_glimix(K, y, X):
    from glimix_core.lmm import LMM
    from numpy_sugar.linalg import economic_qs

    t0 = time.perf_counter()
    QS = economic_qs(K)
    lmm = LMM(y, X, QS, restricted=True)
    lmm.fit(verbose=False)
    seconds = time.perf_counter() - t0
    return seconds, lmm.v0 / (lmm.v0 + lmm.v1), float(lmm.lml())


def run_estimator(method, K, y, X):
    from ntkmixed.estimation import ESTIMATORS, build_problem

    t0 = time.perf_counter()
    problem, _ = build_problem(y, X, [K])
    fit = ESTIMATORS[method](problem)
    seconds = time.perf_counter() - t0
    return seconds, h2_of(fit.theta), float(fit.loglik)


def run_fit(method, data, kernel_factory, genotypes=None):
    import ntkmixed as nm

    t0 = time.perf_counter()
    kernel = kernel_factory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit("y ~ sex + age", data, genotypes=genotypes, kernel=kernel, method=method)
    seconds = time.perf_counter() - t0
    return seconds, float(res.h2), float(res.loglik)


def time_eigh(K) -> float:
    t0 = time.perf_counter()
    np.linalg.eigh(K)
    return time.perf_counter() - t0


def part_glimix(sizes, snps_per_n, repeats, seed) -> pd.DataFrame:
    import ntkmixed as nm

    rows = []
    for n in sizes:
        n_snps = int(round(snps_per_n * n))
        K, y, X, data, G, seconds_kernel = simulate(n, n_snps, 0.5, seed, keep_genotypes=True)
        runs = {
            "eigh": lambda: (time_eigh(K), np.nan, np.nan),
            "glimix": lambda: run_glimix(K, y, X),
        }
        for method in ("reml", "minque1"):
            runs[(method, "estimator")] = lambda m=method: run_estimator(m, K, y, X)
            runs[(method, "fit(Precomputed)")] = lambda m=method: run_fit(m, data, lambda: nm.Precomputed(K))
            runs[(method, "fit(GRM)")] = lambda m=method: run_fit(m, data, nm.GRM, genotypes=G)
        best = {}
        for _ in range(repeats):  # in turn, so a burst of load hits every row alike
            for key, run in runs.items():
                seconds, h2, loglik = run()
                if key not in best or seconds < best[key][0]:
                    best[key] = (seconds, h2, loglik)
        t_glimix, h2_glimix, ll_glimix = best["glimix"]
        for method in ("reml", "minque1"):
            for path in ("estimator", "fit(Precomputed)", "fit(GRM)"):
                seconds, h2, loglik = best[(method, path)]
                reference = t_glimix + (seconds_kernel if path == "fit(GRM)" else 0.0)
                rows.append({
                    "n": n, "p": n_snps, "method": method, "ours": path,
                    "eigh_s": best["eigh"][0], "ours_s": seconds, "glimix_s": reference,
                    "ratio": seconds / reference,
                    "h2_ours": h2, "h2_glimix": h2_glimix, "abs_dh2": abs(h2 - h2_glimix),
                    "dloglik": loglik - ll_glimix,
                })
        del K, G
    return pd.DataFrame(rows)


# --- part 2: against eigh, with peak memory, one subprocess per measurement --------------
def _rss_kib() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _peak_kib() -> int:
    """Peak resident size of this process (VmHWM, the counter behind ru_maxrss)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the peak counter to the current resident size (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return _peak_kib() <= _rss_kib() + 1024


def _warm_up(task: str) -> None:
    """Import what the measured call imports lazily (formulaic, scipy.optimize, ...), so
    that the memory figure counts arrays, not modules."""
    import ntkmixed as nm
    from ntkmixed.estimation import estimate

    if task == "eigh":
        return
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 60))
    K = Z @ Z.T / 60
    y = rng.standard_normal(40)
    X = np.column_stack([np.ones(40), rng.standard_normal((40, 2))])
    method = task.split("-")[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task.startswith("fit-"):
            data = pd.DataFrame({"y": y, "sex": X[:, 1], "age": X[:, 2]})
            nm.fit("y ~ sex + age", data, kernel=nm.Precomputed(K), method=method).summary()
        else:
            estimate(method, y, X, [K])


def worker(task: str, directory: str) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    import ntkmixed as nm
    from ntkmixed.estimation import ESTIMATORS, build_problem

    folder = Path(directory)
    K = np.load(folder / "K.npy")
    y, X = np.load(folder / "y.npy"), np.load(folder / "X.npy")
    data = pd.DataFrame({"y": y, "sex": X[:, 1], "age": X[:, 2]}, index=[f"id{i}" for i in range(y.size)])
    n = K.shape[0]
    out = {"task": task, "n": n}

    def parts():
        """The measured call as two timed parts (see the report's legend)."""
        method = task.split("-")[-1]
        if task == "eigh":
            yield lambda: np.linalg.eigh(K)
        elif task.startswith("fit-"):
            kernel = []
            yield lambda: kernel.append(nm.Precomputed(K))

            def fit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out["h2"] = float(nm.fit("y ~ sex + age", data, kernel=kernel[0], method=method).h2)
            yield fit
        else:
            problem = []
            yield lambda: problem.append(build_problem(y, X, [K])[0])
            yield lambda: out.__setitem__("h2", h2_of(ESTIMATORS[method](problem[0]).theta))

    _warm_up(task)
    if not _reset_peak():
        raise RuntimeError("cannot reset the peak-RSS counter (/proc/self/clear_refs); no memory figure")
    if task != "eigh":  # the reference, right before the call
        out["eigh_s"] = time_eigh(K)
        _reset_peak()
    baseline = _rss_kib()
    total = 0.0
    for i, part in enumerate(parts(), start=1):
        t0 = time.perf_counter()
        part()
        seconds = time.perf_counter() - t0
        total += seconds
        out[f"part{i}_s"] = seconds
        out[f"part{i}_peak_bytes"] = (_peak_kib() - baseline) * 1024
        _reset_peak()  # the next part's peak counts from what is live now
    out["seconds"] = total
    out["peak_extra_bytes"] = max(v for k, v in out.items() if k.endswith("_peak_bytes"))
    out["baseline_bytes"] = baseline * 1024
    print(json.dumps(out))


def part_eigh(n, snps_per_n, tasks, seed) -> pd.DataFrame:
    n_snps = int(round(snps_per_n * n))
    K, y, X, _, _, _ = simulate(n, n_snps, 0.5, seed, keep_genotypes=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_lmm_") as directory:
        folder = Path(directory)
        np.save(folder / "K.npy", K)
        np.save(folder / "y.npy", y)
        np.save(folder / "X.npy", X)
        del K
        for task in tasks:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", task, directory],
                capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"worker {task} failed:\n{done.stderr}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = pd.DataFrame(rows)
    unit = 8.0 * n * n
    table["p"] = n_snps
    table["eigh_s"] = table["eigh_s"] if "eigh_s" in table else np.nan
    table["ratio"] = table["seconds"] / table["eigh_s"]
    table["peak_extra_GB"] = table["peak_extra_bytes"] / 1e9
    table["peak_extra_n2x8"] = table["peak_extra_bytes"] / unit
    return table


# --- report ----------------------------------------------------------------------------
def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report_glimix(table: pd.DataFrame) -> None:
    print("\n== Single kernel vs glimix-core REML (restricted=True); times in s, best of repeats ==")
    print("ratio = ours_s / glimix_s (target <= 1.0); glimix_s = economic_qs + LMM.fit"
          " (+ GRM construction for the fit(GRM) rows)")
    shown = table.copy()
    shown["h2_ok"] = np.where(shown["abs_dh2"] <= H2_TOL, "yes", "NO")
    shown["time_ok"] = np.where(shown["ratio"] <= TIME_TARGET_GLIMIX, "yes", "NO")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))


def report_eigh(table: pd.DataFrame) -> None:
    n = int(table["n"].iloc[0])
    print(f"\n== n = {n}, p = {int(table['p'].iloc[0])}: time vs one numpy.linalg.eigh, peak memory ==")
    print("ratio = seconds / eigh_s (eigh timed in the same process right before; target <= 1.5)")
    print(f"peak_extra = peak RSS (VmHWM) - RSS with K, y, X loaded; n²·8 = {8 * n * n / 1e9:.2f} GB;"
          f" target <= {MEMORY_TARGET_N2:g}·n²·8 = {MEMORY_TARGET_N2 * 8 * n * n / 1e9:.2f} GB")
    print("part1/part2: estimator rows = build_problem (eigh + rotation) / estimation;"
          " fit rows = Precomputed(K) (copy, symmetrisation, eigvalsh) / ntkmixed.fit;"
          " partN_peak = peak during that part above the same baseline")
    unit = 8.0 * n * n
    for i in (1, 2):
        if f"part{i}_peak_bytes" in table:
            table[f"part{i}_peak_n2x8"] = table[f"part{i}_peak_bytes"] / unit
    columns = ["task", "eigh_s", "seconds", "ratio", "part1_s", "part2_s", "h2", "peak_extra_GB",
               "peak_extra_n2x8", "part1_peak_n2x8", "part2_peak_n2x8"]
    shown = table[[c for c in columns if c in table]].copy()
    shown["time_ok"] = np.where(shown["task"] == "eigh", "-", np.where(shown["ratio"] <= TIME_TARGET_EIGH, "yes", "NO"))
    shown["mem_ok"] = np.where(shown["peak_extra_n2x8"] <= MEMORY_TARGET_N2, "yes", "NO")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small n: a smoke test in seconds")
    parser.add_argument("--sizes", type=int, nargs="+", help="n for the glimix comparison (default 2000 5000; 0 skips)")
    parser.add_argument("--large", type=int, help="n for the eigh/memory part (default 10000; 0 skips)")
    parser.add_argument("--snps-per-n", type=float, default=1.5, help="SNPs per individual (p ≥ n keeps the GRM full rank)")
    parser.add_argument("--repeats", type=int, help="runs per timing, best kept (default 1; --quick 2)")
    parser.add_argument("--large-tasks", nargs="+", default=["eigh", "minque0", "reml", "fit-minque0", "fit-reml"],
                        choices=["eigh", "minque0", "reml", "fit-minque0", "fit-reml"])
    parser.add_argument("--seed", type=int, default=20251001)
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return
    sizes = [n for n in (args.sizes or ([300, 600] if args.quick else [2000, 5000])) if n > 0]
    large = args.large if args.large is not None else (800 if args.quick else 10000)
    repeats = args.repeats or (2 if args.quick else 1)
    print(f"bench_lmm: numpy {np.__version__}, {os.cpu_count()} CPUs, load average {_load()}")
    started = time.perf_counter()
    if sizes:
        report_glimix(part_glimix(sizes, args.snps_per_n, repeats, args.seed))
        print(f"load average {_load()}")
    if large:
        report_eigh(part_eigh(large, args.snps_per_n, args.large_tasks, args.seed))
        print(f"load average {_load()}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
