"""GWAS through the low-rank engine (K = F Fᵀ, U n×m with m < n, no n×n array) equals the
dense (spectral) scan, itself tested against brute-force GLS in test_gwas.py; the low-rank
whitener equals the dense inverse for one and for several kernels."""

from __future__ import annotations

import numpy as np
import pytest

from ntkmixed.association import gwas
from ntkmixed.association.whiten import LowRankWhitener, whitener_for
from ntkmixed.estimation import FactorOperator, build_problem

from test_gwas import _data

COLUMNS = ["beta", "se", "stat", "p", "log10_p"]


def _compare(a, b, rtol=1e-8):
    for column in COLUMNS:
        x, y = a.table[column].to_numpy(float), b.table[column].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), column
        ok = ~np.isnan(x)
        np.testing.assert_allclose(x[ok], y[ok], rtol=rtol, atol=0, err_msg=column)
    assert list(a.table["note"]) == list(b.table["note"])


@pytest.mark.parametrize("test", ["wald", "lrt", "score", "grammar-gamma"])
@pytest.mark.parametrize("loco", [False, True])
def test_lowrank_scan_equals_dense_scan(test, loco):
    data, G, info = _data(n=120, p=50)
    kwargs = dict(loco=loco, test=test, snp_info=info, block_size=9, calibration_snps=30, seed=4)
    lowrank = gwas("y ~ sex + age", data, G, engine="lowrank", **kwargs)
    dense = gwas("y ~ sex + age", data, G, engine="dense", **kwargs)
    assert set(lowrank.null_models["engine"]) == {"lowrank"}
    assert set(dense.null_models["engine"]) == {"dense"}
    np.testing.assert_allclose(lowrank.null_models["h2"], dense.null_models["h2"], rtol=1e-8)
    if test == "grammar-gamma":
        np.testing.assert_allclose(lowrank.null_models["gamma"], dense.null_models["gamma"], rtol=1e-8)
    _compare(lowrank, dense)


def test_auto_engine_picks_lowrank_for_a_grm_with_fewer_snps_than_people():
    data, G, info = _data(n=120, p=50)
    res = gwas("y ~ sex + age", data, G, loco=False, snp_info=info)
    assert set(res.null_models["engine"]) == {"lowrank"}


@pytest.mark.parametrize("ranks", [(12,), (12, 7)])
def test_lowrank_whitener_equals_the_dense_inverse(ranks):
    rng = np.random.default_rng(2)
    n = 40
    factors = [rng.normal(size=(n, r)) / np.sqrt(r) for r in ranks]
    y, X = rng.normal(size=n), np.column_stack([np.ones(n), rng.normal(size=n)])
    weights = np.array([0.7, 0.3, 0.4][: len(ranks)] + [0.4])
    problem, choice = build_problem(y, X, [FactorOperator(F) for F in factors], "lowrank")
    assert choice.name == "lowrank" and problem.m == sum(ranks) < n
    whiten = whitener_for(problem, weights)
    assert isinstance(whiten, LowRankWhitener)
    V = sum(w * F @ F.T for w, F in zip(weights[:-1], factors)) + weights[-1] * np.eye(n)
    B = rng.normal(size=(n, 6))
    WB = whiten(B)
    assert WB.shape == B.shape
    np.testing.assert_allclose(WB.T @ WB, B.T @ np.linalg.solve(V, B), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(whiten(B[:, 0]), WB[:, 0], rtol=1e-12, atol=1e-14)


def test_lowrank_whitener_refuses_a_zero_residual_weight():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(20, 5))
    problem, _ = build_problem(rng.normal(size=20), np.ones((20, 1)), [FactorOperator(F)], "lowrank")
    with pytest.raises(Exception, match="zero residual variance"):
        LowRankWhitener(problem, np.array([1.0, 0.0]))
