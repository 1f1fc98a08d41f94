"""Kernel ridge regression with a cross-validated λ: ntkmixed against scikit-learn's
``GridSearchCV(KernelRidge(kernel="precomputed"))`` on the same kernel, folds and grid.

Data: genotypes with allele frequencies U(0.05, 0.5), the GRM K = Z Zᵀ/p normalised to
mean diagonal 1, and y = g + e with h² = 0.5, centred (scikit-learn's KernelRidge has no
intercept, so both sides fit ``y ~ 0``). Folds: ``ntkmixed.estimation.ridge.make_folds(n,
5, seed)``, handed to GridSearchCV as a list of (train, test) pairs. Grid: 7 or 30
log-spaced values in [0.01, 100] (h² from 0.99 to 0.01).

Rows per (n, grid size):

* ``sklearn``: ``GridSearchCV(..., scoring="neg_mean_squared_error").fit(K, y)``, refit at
  the best λ included.
* ``engine``: ``ntkmixed.estimation.ridge`` — held-out predictions of every fold at every λ
  (``cv_predictions``, method "auto"), fold scores, the choice of λ and the final fit
  (``ridge_fit``) — the like-for-like comparison, starting from the same K.
* ``krr()``: ``ntkmixed.krr("y ~ 0", data, kernel=Precomputed(K), ...)``, the public entry
  point (design, kernel normalisation and results included). ``Precomputed(K)`` validates
  K with an ``eigvalsh`` once, when the kernel object is created; that is outside the
  timing and printed separately.

Each ntkmixed row checks that the same λ is chosen and prints the largest difference of
the mean CV scores from scikit-learn's. Reference timings: one ``eigh`` of the full K
and one ``eigh`` per fold's training block (the costs quoted in the issue), for n ≤
``--reference-max-n``.

Timings are wall-clock seconds (best of ``--repeats`` for ntkmixed; scikit-learn once)
and process CPU seconds. The machine is shared: the load average is printed.

Usage::

    python benchmarks/bench_krr.py                 # n = 2000 (7 and 30 values), n = 5000 (7 values)
    python benchmarks/bench_krr.py --full          # n = 5000 with 30 values as well (long)
    python benchmarks/bench_krr.py --quick         # n = 500, seconds
    python benchmarks/bench_krr.py --sizes 2000    # n = 2000 only
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd


def simulate(n: int, n_snps: int, seed: int):
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.05, 0.5, n_snps)
    G = rng.binomial(2, freqs, size=(n, n_snps)).astype(np.float64)
    Z = (G - G.mean(0)) / G.std(0)
    K = Z @ Z.T / n_snps
    K /= np.mean(np.diag(K))
    g = np.linalg.cholesky(K + 1e-8 * np.eye(n)) @ rng.standard_normal(n) * np.sqrt(0.5)
    y = g + rng.standard_normal(n) * np.sqrt(0.5)
    return K, y - y.mean()


def timed(function, repeats: int = 1):
    best_wall, best_cpu, value = np.inf, np.inf, None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        value = function()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, value


def run_sklearn(K, y, grid, folds):
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(KernelRidge(kernel="precomputed"), {"alpha": grid}, cv=folds,
                          scoring="neg_mean_squared_error", refit=True).fit(K, y)
    return float(search.best_params_["alpha"]), -search.cv_results_["mean_test_score"]


def run_engine(K, y, grid, folds):
    from ntkmixed.estimation import DenseOperator
    from ntkmixed.estimation.ridge import cross_validate

    X = np.zeros((y.size, 0))
    outcome = cross_validate(y, X, DenseOperator(K), np.asarray(grid), folds, "mse")
    return float(grid[outcome.best]), outcome.mean, outcome.engine


def run_public(kernel, y, grid, folds):
    import ntkmixed as nm
    from ntkmixed.exceptions import BoundaryWarning

    data = pd.DataFrame({"y": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)
        res = nm.krr("y ~ 0", data=data, kernel=kernel, lambdas=grid, cv=folds)
    return res.lambda_, res.cv_results["mean"].to_numpy(), res.engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 500 only")
    parser.add_argument("--full", action="store_true", help="also n = 5000 with the 30-value grid")
    parser.add_argument("--sizes", default="2000,5000", help="comma-separated n values (default 2000,5000)")
    parser.add_argument("--repeats", type=int, default=2, help="ntkmixed timings: best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-max-n", type=int, default=2000,
                        help="time the eigh references only up to this n (default 2000)")
    args = parser.parse_args()

    from ntkmixed import Precomputed
    from ntkmixed.estimation.ridge import make_folds

    sizes = [int(v) for v in args.sizes.split(",")]
    plan = [(500, (7, 30))] if args.quick else [(n, (7, 30) if n <= 2000 or args.full else (7,)) for n in sizes]
    print(f"threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"cpus={os.cpu_count()}; load average before: {os.getloadavg()}")
    rows = []
    for n, grid_sizes in plan:
        K, y = simulate(n, n_snps=max(2 * n, 1000), seed=args.seed)
        folds = make_folds(n, 5, args.seed)
        if n <= args.reference_max_n:
            wall, cpu, _ = timed(lambda: np.linalg.eigh(K))
            rows.append(dict(n=n, grid=np.nan, what="reference: one eigh of K", wall_s=wall, cpu_s=cpu))
            wall, cpu, _ = timed(lambda: [np.linalg.eigh(K[np.ix_(tr, tr)]) for tr, _ in folds])
            rows.append(dict(n=n, grid=np.nan, what="reference: one eigh per fold", wall_s=wall, cpu_s=cpu))
        wall, cpu, kernel = timed(lambda: Precomputed(K))
        rows.append(dict(n=n, grid=np.nan, what="Precomputed(K) validation (eigvalsh)", wall_s=wall, cpu_s=cpu))
        for size in grid_sizes:
            grid = np.geomspace(0.01, 100, size)
            sk_wall, sk_cpu, (sk_lambda, sk_scores) = timed(lambda: run_sklearn(K, y, grid, folds))
            rows.append(dict(n=n, grid=size, what="sklearn GridSearchCV", wall_s=sk_wall, cpu_s=sk_cpu, lambda_=sk_lambda))
            for what, runner, arg in (("ntkmixed engine", run_engine, K), ("ntkmixed krr()", run_public, kernel)):
                wall, cpu, (lam, mean, method) = timed(lambda: runner(arg, y, grid, folds), args.repeats)
                rows.append(dict(
                    n=n, grid=size, what=f"{what} [{method}]", wall_s=wall, cpu_s=cpu, lambda_=lam,
                    same_lambda=bool(lam == sk_lambda), max_score_diff=float(np.max(np.abs(mean - sk_scores))),
                    speedup_wall=sk_wall / wall, speedup_cpu=sk_cpu / cpu,
                ))
            print(pd.DataFrame(rows[-3:]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    table = pd.DataFrame(rows)
    print("\nAll results (seconds; speedup = sklearn time / ntkmixed time):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nload average after: {os.getloadavg()}")
    wanted = {7: 5.0, 30: 20.0}
    for _, row in table[table["what"].str.startswith("ntkmixed engine")].iterrows():
        target = wanted.get(int(row["grid"]))
        if target:
            status = "meets" if row["speedup_wall"] >= target else "misses"
            print(f"n={row['n']}, {int(row['grid'])} values: engine {row['speedup_wall']:.1f}x faster (wall) — "
                  f"{status} the {target:.0f}x target; same λ: {row['same_lambda']}")


if __name__ == "__main__":
    main()
