"""What the integrity checks of model files cost: save and load of a fitted LMM (format 2:
SHA-256 of every array and of the header, file sealed in the zip comment, members read one
by one) against writing and reading the same arrays as a plain ``np.savez_compressed`` /
``np.load`` (what format 1 did), in the same run.

    flock /tmp/ntkmixed-bench.lock nice -n 5 python benchmarks/bench_archive.py --n 3000 --p 5000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import ntkmixed as nm
from ntkmixed.models import archive


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--p", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    G = rng.binomial(2, rng.uniform(0.05, 0.5, args.p), (args.n, args.p)).astype(float)
    ids = pd.Index([f"id{i}" for i in range(args.n)])
    data = pd.DataFrame({"y": rng.normal(size=args.n), "age": rng.normal(50, 8, args.n)}, index=ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit("y ~ age", data=data, genotypes=pd.DataFrame(G, index=ids), method="minque0")
    design_meta, arrays = archive.design_to_archive(res.design)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.npz")
        plain = os.path.join(directory, "plain.npz")
        save = _best(lambda: res.save(path), args.repeats)
        load = _best(lambda: nm.load(path), args.repeats)
        plain_save = _best(lambda: np.savez_compressed(plain, **arrays), args.repeats)

        def plain_load():
            with np.load(plain, allow_pickle=False) as archive_file:
                {name: archive_file[name] for name in archive_file.files}

        plain_read = _best(plain_load, args.repeats)
        size = os.path.getsize(path) / 1e6
    with open("/proc/loadavg") as handle:
        load_average = handle.read().split()[:3]
    print(f"n = {args.n}, p = {args.p}: model file {size:.1f} MB (arrays {sum(a.nbytes for a in arrays.values()) / 1e6:.0f} MB "
          f"uncompressed); load average {' '.join(load_average)}")
    print(f"save  {save:7.2f} s   plain np.savez_compressed {plain_save:7.2f} s   ratio {save / plain_save:5.2f}")
    print(f"load  {load:7.2f} s   plain np.load             {plain_read:7.2f} s   ratio {load / plain_read:5.2f}")


if __name__ == "__main__":
    main()
