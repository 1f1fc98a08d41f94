"""Speed, accuracy and memory of ntkmixed's NTK kernels (not run in CI).

    python benchmarks/bench_kernels.py              # all parts, sizes of the issue
    python benchmarks/bench_kernels.py --parts a,b  # some parts only

(a) empirical NTK (structured forward/backward products, ``NTK.gram``) against the
    per-sample-Jacobian method the paper used: torch.func ``vmap(jacrev)`` of the same
    network in row blocks, ``J_a J_bᵀ`` accumulated. At n = 1000, p = 738, width = 2000
    the Jacobians alone would take n × 9.5 M × 8 bytes ≈ 76 GB, so the Jacobian method is
    timed on a subset of ``--jac-rows`` rows and extrapolated with its exact cost model
    (n Jacobian rows + n(n+1)/2 Jacobian dot products); the extrapolation assumes every
    Jacobian is computed once, which is a lower bound on its real time. Both matrices
    are compared on the subset.
(b) achieved GFLOP/s of ``NTK.gram`` (its matmul flops, counted by the engine) against a
    plain float64 square matmul on this machine, measured in the same run.
(c) analytic (infinite-width) NTK time; against neural-tangents when it is importable.
(d) peak resident memory of ``NTK.gram`` at n = 5000 in a fresh subprocess: the
    high-water mark during the call (Linux VmHWM, reset just before it) minus the
    resident memory just before it. (ru_maxrss is not used where /proc exists: a child
    inherits its parent's high-water mark across fork/exec.)
(e) ``ntkmixed.fit("y ~ 1", data, genotypes=G, kernel=NTK(depth=3, width=2000))`` at
    n = 700, p = 740, end to end (standardisation, kernel, MINQUE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import ntkmixed as nm  # noqa: E402


def timed(fn, repeat: int = 1):
    """Best wall time of ``repeat`` calls and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def genotype_like(n: int, p: int, seed: int) -> np.ndarray:
    """Standardised 0/1/2 genotypes with varied allele frequencies."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, size=p)
    G = rng.binomial(2, freq, size=(n, p)).astype(float)
    return nm.standardize(G)[0]


def jacobian_method(kernel, Z: np.ndarray, block: int):
    """Θ by per-sample Jacobians: vmap(jacrev) in row blocks, J_a J_bᵀ accumulated.

    Returns (Θ, seconds spent in Jacobians, seconds spent in products, rows, entries).
    """
    import torch
    from torch.func import functional_call, jacrev, vmap

    net = kernel.network(Z.shape[1])
    params = {name: value.detach() for name, value in net.named_parameters()}

    def output(prm, x):
        return functional_call(net, prm, (x[None],))[0]

    per_sample = vmap(jacrev(output), in_dims=(None, 0))

    def jacobian(rows):
        J = per_sample(params, torch.as_tensor(Z[rows]))
        return torch.cat([j.reshape(len(Z[rows]), -1) for j in J.values()], dim=1)

    n = len(Z)
    starts = list(range(0, n, block))
    t_jac = t_dot = 0.0
    start = time.perf_counter()
    jacobians = [jacobian(slice(s, min(n, s + block))) for s in starts]
    t_jac = time.perf_counter() - start
    theta = torch.zeros((n, n), dtype=torch.float64)
    start = time.perf_counter()
    entries = 0
    for a, sa in enumerate(starts):
        for b in range(a, len(starts)):
            sb = starts[b]
            product = jacobians[a] @ jacobians[b].T
            theta[sa : sa + len(jacobians[a]), sb : sb + len(jacobians[b])] = product
            theta[sb : sb + len(jacobians[b]), sa : sa + len(jacobians[a])] = product.T
            entries += product.numel()
    t_dot = time.perf_counter() - start
    return theta.numpy(), t_jac, t_dot, n, entries


def part_a_b(args, rows: list) -> None:
    import torch

    from ntkmixed.kernels import _ntk_torch as engine

    n, p, width, depth = args.n, args.p, args.width, args.depth
    Z = genotype_like(n, p, seed=1)
    kernel = nm.NTK(depth=depth, width=width, seed=0, progress=False)
    kernel.gram(Z[:64])  # warm-up (thread pools, allocator)
    t_ntk, K = timed(lambda: kernel.gram(Z), repeat=args.repeat)

    # the engine's own flop count and time, without weight generation
    weights = engine.init_weights(0, p, width, depth)
    plan = engine.make_plan(n, n, p, width, depth, "float64", "cpu", None)
    t_engine, _ = timed(lambda: engine.gram(Z, None, lambda i: weights, 1, plan), repeat=args.repeat)
    flops = plan.flops / args.repeat
    t_weights, _ = timed(lambda: engine.init_weights(0, p, width, depth))

    size = args.matmul_size
    A = torch.randn(size, size, dtype=torch.float64)
    B = torch.randn(size, size, dtype=torch.float64)
    A @ B
    t_mm, _ = timed(lambda: A @ B, repeat=3)
    mm_rate = 2 * size**3 / t_mm  # flop/s
    del A, B

    m = args.jac_rows
    sub = Z[:m]
    K_jac, t_jac, t_dot, _, entries = jacobian_method(kernel, sub, args.jac_block)
    K_sub = kernel.gram(sub)
    rel = float(np.abs(K_sub - K_jac).max() / np.abs(K_jac).max())
    n_params = p * width + (depth - 1) * width**2 + width
    pairs = n * (n + 1) / 2
    jacobians_at_n = n * t_jac / m
    measured = jacobians_at_n + pairs * t_dot / entries
    # most favourable to the Jacobian method: every Jacobian computed once and the
    # products at the full matmul rate of this machine
    lower_bound = jacobians_at_n + pairs * 2 * n_params / mm_rate
    rows.append(("(a) NTK.gram, n=%d p=%d width=%d depth=%d (best of %d)" % (n, p, width, depth, args.repeat), f"{t_ntk:.2f} s"))
    rows.append((f"    Jacobian method on {m} rows (vmap(jacrev) blocks of {args.jac_block}; {n_params / 1e6:.2f} M params)",
                 f"{t_jac:.2f} s Jacobians + {t_dot:.2f} s products"))
    rows.append((f"    Jacobian method at n={n}, extrapolated from the {m} rows (needs {n * n_params * 8 / 2**30:.0f} GiB of Jacobians)",
                 f"{measured:.0f} s (as measured: {jacobians_at_n:.0f} s Jacobians + {measured - jacobians_at_n:.0f} s products)"))
    rows.append(("    ... lower bound: products J Jᵀ at the full matmul rate below",
                 f"{lower_bound:.0f} s"))
    rows.append(("    speed-up of NTK.gram over the lower bound (target >= 100x)", f"{lower_bound / t_ntk:.0f}x"))
    rows.append((f"    max |Θ_NTK - Θ_Jacobian| / max|Θ| on the {m} rows (target <= 1e-8)", f"{rel:.1e}"))

    mm_gflops = mm_rate / 1e9
    rows.append((f"(b) float64 matmul {size}x{size} @ {size}x{size} (best of 3)", f"{mm_gflops:.1f} GFLOP/s"))
    rows.append((f"    NTK engine: {flops / 1e9:.0f} GFLOP of matmuls in {t_engine:.2f} s (+ weights {t_weights:.2f} s)",
                 f"{flops / t_engine / 1e9:.1f} GFLOP/s = {flops / t_engine / mm_rate:.0%} of matmul"))
    rows.append(("    NTK.gram whole call incl. weight generation (target >= 40%)",
                 f"{flops / t_ntk / 1e9:.1f} GFLOP/s = {flops / t_ntk / mm_rate:.0%} of matmul"))
    del K


def part_c(args, rows: list) -> None:
    n, p, depth = args.n, args.p, args.depth
    Z = genotype_like(n, p, seed=2)
    kernel = nm.NTK(depth=depth, width=None)
    t_analytic, K = timed(lambda: kernel.gram(Z), repeat=3)
    rows.append((f"(c) analytic NTK, n={n} p={p} depth={depth} (best of 3)", f"{t_analytic:.3f} s"))
    try:
        from neural_tangents import stax
    except ImportError:
        rows.append(("    neural-tangents", "not installed (optional; skipped)"))
        return
    layers = [stax.Dense(512, W_std=1.0, b_std=None), stax.Relu()]
    for _ in range(depth - 1):
        layers += [stax.Dense(512, W_std=math.sqrt(2.0), b_std=None), stax.Relu()]
    layers += [stax.Dense(1, W_std=math.sqrt(2.0), b_std=None)]
    kernel_fn = stax.serial(*layers)[2]
    kernel_fn(Z[:10], Z[:10], "ntk")
    t_nt, K_nt = timed(lambda: np.asarray(kernel_fn(Z, Z, "ntk")), repeat=3)
    rel = float(np.abs(K - K_nt).max() / np.abs(K).max())
    rows.append(("    neural-tangents kernel_fn (JAX CPU, best of 3)", f"{t_nt:.3f} s; ratio {t_nt / t_analytic:.1f}x; rel diff {rel:.1e}"))


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_worker(n: int, p: int, width: int, depth: int) -> None:
    Z = genotype_like(n, p, seed=3)
    kernel = nm.NTK(depth=depth, width=width, progress=False)
    kernel.gram(Z[:8])  # torch and BLAS initialised before the baseline is read
    # ru_maxrss carries the parent's high-water mark across fork/exec, so the peak is
    # read from /proc (VmHWM, reset through clear_refs) where available
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before, source = _proc_status_kib("VmRSS"), "VmHWM"
    except OSError:
        before, source = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
    start = time.perf_counter()
    K = kernel.gram(Z)
    seconds = time.perf_counter() - start
    after = _proc_status_kib("VmHWM") if source == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after, "source": source, "seconds": seconds, "shape": list(K.shape)}))


def part_d(args, rows: list) -> None:
    n = args.memory_n
    command = [sys.executable, os.path.abspath(__file__), "--memory-worker", str(n), str(args.p), str(args.width), str(args.depth)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = (result["after_kib"] - result["before_kib"]) / 2**20
    rows.append((f"(d) peak memory of NTK.gram, n={n} p={args.p} width={args.width} depth={args.depth}",
                 f"{peak:.2f} GiB above the process's resident memory before the call (target <= 2 GiB; "
                 f"{result['source']}); process peak {result['after_kib'] / 2**20:.2f} GiB; {result['seconds']:.1f} s; "
                 f"the n×n float64 result alone is {n * n * 8 / 2**30:.2f} GiB"))


def part_e(args, rows: list) -> None:
    import pandas as pd

    n, p = args.fit_n, args.fit_p
    rng = np.random.default_rng(4)
    freq = rng.uniform(0.05, 0.5, size=p)
    G = rng.binomial(2, freq, size=(n, p)).astype(float)
    Zs = nm.standardize(G)[0]
    y = Zs @ rng.normal(0, 1 / math.sqrt(p), p) + rng.normal(size=n)
    data = pd.DataFrame({"y": y}, index=[f"id{i}" for i in range(n)])
    nm.fit("y ~ 1", data.iloc[:50], genotypes=G[:50])  # imports (formulaic, scipy) and warm-up
    t_fit, res = timed(lambda: nm.fit("y ~ 1", data, genotypes=G, kernel=nm.NTK(depth=3, width=2000)), repeat=args.repeat)
    t_kernel, _ = timed(lambda: nm.NTK(depth=3, width=2000, progress=False).gram(Zs), repeat=args.repeat)
    rows.append((f"(e) fit('y ~ 1', NTK(depth=3, width=2000)), n={n} p={p}, minque1, best of {args.repeat} (target < 5 s)",
                 f"{t_fit:.2f} s (of which NTK.gram alone {t_kernel:.2f} s); h2 = {float(res.h2):.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="a,c,d,e", help="comma-separated parts among a (incl. b), c, d, e")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--p", type=int, default=738)
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2, help="timing repeats of NTK.gram (best kept)")
    parser.add_argument("--jac-rows", type=int, default=48, help="rows for the Jacobian method")
    parser.add_argument("--jac-block", type=int, default=16, help="rows per vmap(jacrev) block")
    parser.add_argument("--matmul-size", type=int, default=2000)
    parser.add_argument("--memory-n", type=int, default=5000)
    parser.add_argument("--fit-n", type=int, default=700)
    parser.add_argument("--fit-p", type=int, default=740)
    parser.add_argument("--memory-worker", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    import torch

    parts = set(args.parts.split(","))
    print(f"ntkmixed kernel benchmark — torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, device {'cuda' if torch.cuda.is_available() else 'cpu'} available")
    rows: list = []
    for key, part in (("a", part_a_b), ("c", part_c), ("d", part_d), ("e", part_e)):
        if key in parts or (key == "a" and "b" in parts):
            part(args, rows)
            for label, value in rows:
                print(f"{label:<95} {value}")
            sys.stdout.flush()
            rows.clear()


if __name__ == "__main__":
    main()
