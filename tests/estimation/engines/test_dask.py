"""Genotypes as a dask array: the matrix-free engine runs its block products as dask
tasks on the active scheduler and gives the in-memory results (same seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def _data(n=120, p=20, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), (n, p)).astype(float)
    G[5, 3] = np.nan
    data = pd.DataFrame({"x": rng.standard_normal(n)})
    data["y"] = 0.5 * data["x"] + np.nan_to_num(G[:, :8]).sum(axis=1) * 0.3 + rng.standard_normal(n)
    return data, G


def _fit(data, genotypes, method):
    return nm.fit("y ~ x", data, genotypes=genotypes, method=method, engine="matrix-free", probes=6, seed=4)


def _same(a, b):
    np.testing.assert_allclose(a.variance_fit.theta, b.variance_fit.theta, rtol=1e-8)
    np.testing.assert_allclose(a.variance_fit.cov, b.variance_fit.cov, rtol=1e-8)
    np.testing.assert_allclose(a.blup, b.blup, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-8)


def test_a_distributed_local_cluster_gives_the_in_memory_estimates():
    data, G = _data()
    in_memory = {m: _fit(data, G, m) for m in ("minque0", "reml")}
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        genotypes = da.from_array(G, chunks=(60, 8))
        with distributed.get_task_stream(client) as stream:
            for method, expected in in_memory.items():
                res = _fit(data, genotypes, method)
                _same(res, expected)
                assert res.engine_info["genotype_passes"] == expected.engine_info["genotype_passes"]
        # the block products ran as tasks on the cluster's worker processes
        assert len({task["worker"] for task in stream.data}) == 2
        assert any("apply_shared" in task["key"] if isinstance(task["key"], str) else "apply_shared" in str(task["key"])
                   for task in stream.data)


def test_the_default_threaded_scheduler_gives_the_in_memory_estimates_too():
    data, G = _data(seed=1)
    _same(_fit(data, da.from_array(G, chunks=(120, 7)), "minque0"), _fit(data, G, "minque0"))
