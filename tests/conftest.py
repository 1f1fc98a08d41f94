"""Shared fixtures: small simulated data sets with known structure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest


def simulate_lmm(n=120, p=60, h2=0.5, seed=0, covariates=True):
    """Genotypes (0/1/2), a GRM-driven genetic effect and covariates; returns (data, G)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.5, p)
    G = rng.binomial(2, freq, size=(n, p)).astype(float)
    Z = (G - G.mean(0)) / G.std(0)
    g = Z @ rng.normal(0, np.sqrt(h2 / p), p)
    ids = [f"s{i:03d}" for i in range(n)]
    data = pd.DataFrame(index=pd.Index(ids, name="iid"))
    mean = np.ones(n)
    if covariates:
        data["sex"] = rng.choice(["female", "male"], n)
        data["age"] = rng.normal(50, 8, n)
        mean = 1.0 + 0.4 * (data["sex"] == "male").to_numpy() + 0.02 * data["age"].to_numpy()
    data["y"] = mean + g + rng.normal(0, np.sqrt(1 - h2), n)
    return data, pd.DataFrame(G, index=data.index, columns=[f"rs{j}" for j in range(p)])


@pytest.fixture
def lmm_data():
    return simulate_lmm()


@pytest.fixture(autouse=True)
def _quiet_data_warnings():
    from ntkmixed.exceptions import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        yield
