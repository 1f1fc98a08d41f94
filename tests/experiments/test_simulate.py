"""ntkmixed.simulate: scenario formulas, realised heritability, reproducibility, genotypes."""

import math

import numpy as np
import pandas as pd
import pytest

from ntkmixed import simulate
from ntkmixed.exceptions import NtkmixedError

N = 600


@pytest.fixture(scope="module")
def genotypes():
    return simulate.genotypes(N, 60, seed=11, method="binomial")


def _softplus(x):
    return np.log1p(np.exp(x))


# the docstring formulas, written out independently of simulate.transform
REFERENCE = {
    "linear": lambda g: g,
    "hyperbolic": lambda g: _softplus(2.0 * g) / (1.0 + _softplus(2.0 * g)),
    "power": lambda g: np.sign(g) * np.abs(g) ** 3.0,
    "cosh": np.cosh,
    "ricker": lambda g: _softplus(g) * np.exp(-_softplus(g) / 1.0),
}


def _h2_standard_error(h2, n):
    """Delta-method SE of var(f)/var(f + e) when var(f) = h² is fixed and e ~ N(0, 1 − h²):
    var(y) − 1 = (s²_e − (1 − h²)) + 2 cov(f, e), with variances 2(1 − h²)²/n and
    4 h²(1 − h²)/n."""
    return h2 * math.sqrt((2 * (1 - h2) ** 2 + 4 * h2 * (1 - h2)) / n)


@pytest.mark.parametrize("scenario", simulate.SCENARIOS)
@pytest.mark.parametrize("h2", [0.2, 0.5, 0.8])
def test_realized_h2_matches_target_within_sampling_error(genotypes, scenario, h2):
    se = _h2_standard_error(h2, N)
    realized = np.array([
        simulate.phenotype(genotypes, scenario, h2=h2, n_causal=20, seed=seed).realized_h2
        for seed in range(40)
    ])
    # every replicate within 4.5 SE; the mean of 40 within 4.5 SE/√40 (no bias)
    assert np.all(np.abs(realized - h2) < 4.5 * se)
    assert abs(realized.mean() - h2) < 4.5 * se / math.sqrt(realized.size)


@pytest.mark.parametrize("scenario", simulate.SCENARIOS)
def test_phenotype_follows_documented_formula(genotypes, scenario):
    sim = simulate.phenotype(genotypes, scenario, h2=0.4, n_causal=15, seed=3)
    causal = sim.causal
    assert len(causal) == 15 and sim.params["n_causal"] == 15
    # g = Z β on the in-sample standardised causal SNPs, rescaled to variance 1
    X = genotypes[causal].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    g = Z @ sim.beta[causal].to_numpy()
    g = g / g.std()
    np.testing.assert_allclose(sim.additive_value.to_numpy(), g, atol=1e-10)
    # genetic value = f(g), centred, variance h²
    f = REFERENCE[scenario](g)
    f = (f - f.mean()) / f.std() * math.sqrt(0.4)
    np.testing.assert_allclose(sim.genetic_value.to_numpy(), f, atol=1e-10)
    np.testing.assert_allclose(sim.y.to_numpy(), f + sim.noise.to_numpy())
    assert sim.y.index.equals(genotypes.index) and sim.y.name == "y"


def test_scenarios_differ_in_linearity(genotypes):
    """cosh is even in g, so its genetic value is far less linear in g than power's."""
    def linear_share(scenario):
        sim = simulate.phenotype(genotypes, scenario, n_causal=30, seed=5)
        return np.corrcoef(sim.genetic_value, sim.additive_value)[0, 1] ** 2

    assert linear_share("linear") == pytest.approx(1.0)
    assert linear_share("cosh") < 0.3 < linear_share("power") < 0.99


def test_beta_variance_is_one_over_number_of_causal_snps(genotypes):
    betas = np.concatenate([
        simulate.phenotype(genotypes, n_causal=50, seed=s).beta.to_numpy() for s in range(60)
    ])
    nonzero = betas[betas != 0]
    # sample variance of 3000 N(0, 1/50) draws: SE ≈ (1/50)·√(2/3000)
    assert abs(nonzero.var() - 1 / 50) < 4 * (1 / 50) * math.sqrt(2 / nonzero.size)


def test_reproducible_from_seed(genotypes):
    a = simulate.phenotype(genotypes, "ricker", h2=0.3, n_causal=10, seed=42)
    b = simulate.phenotype(genotypes, "ricker", h2=0.3, n_causal=10, seed=42)
    c = simulate.phenotype(genotypes, "ricker", h2=0.3, n_causal=10, seed=43)
    pd.testing.assert_series_equal(a.y, b.y)
    pd.testing.assert_series_equal(a.beta, b.beta)
    assert not np.allclose(a.y, c.y)
    assert a.causal != c.causal


def test_snp_subset_and_array_input(genotypes):
    subset = [f"snp{j}" for j in range(1, 21)]
    sim = simulate.phenotype(genotypes, "power", snps=subset, n_causal=5, seed=1)
    assert set(sim.causal) <= set(subset) and len(sim.causal) == 5
    from_array = simulate.phenotype(genotypes.to_numpy(), "power", snps=list(range(20)), n_causal=5, seed=1)
    np.testing.assert_allclose(from_array.y.to_numpy(), sim.y.to_numpy())
    assert from_array.y.index[0] == "id1"


def test_h2_bounds_and_parameters(genotypes):
    zero = simulate.phenotype(genotypes, "cosh", h2=0.0, seed=1)
    assert np.all(zero.genetic_value == 0) and zero.realized_h2 == 0
    one = simulate.phenotype(genotypes, "cosh", h2=1.0, seed=1)
    assert one.realized_h2 == pytest.approx(1.0)
    custom = simulate.phenotype(genotypes, "hyperbolic", curvature=5.0, seed=1)
    assert custom.params["curvature"] == 5.0
    with pytest.raises(NtkmixedError, match="'scenario'"):
        simulate.phenotype(genotypes, "quadratic")
    with pytest.raises(NtkmixedError, match="'gamma'"):
        simulate.phenotype(genotypes, "ricker", gamma=2.0)
    with pytest.raises(NtkmixedError, match="> 1"):
        simulate.phenotype(genotypes, "power", gamma=0.5)
    with pytest.raises(NtkmixedError, match="'h2'"):
        simulate.phenotype(genotypes, h2=1.5)
    with pytest.raises(NtkmixedError, match="'n_causal'"):
        simulate.phenotype(genotypes, n_causal=1000)


def test_transform_values():
    g = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(simulate.transform("power", g, gamma=2.0), [-1.0, 0.0, 4.0])
    ricker = simulate.transform("ricker", np.linspace(-4, 6, 2001))
    s = _softplus(np.linspace(-4, 6, 2001))
    # the Ricker curve peaks where softplus(g) equals the optimum
    assert s[np.argmax(ricker)] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("method", ["binomial", "msprime"])
def test_simulated_genotypes(method):
    G = simulate.genotypes(200, 40, seed=3, method=method)
    assert G.shape == (200, 40) and G.index[0] == "id1" and G.columns[-1] == "snp40"
    assert set(np.unique(G.to_numpy())) <= {0.0, 1.0, 2.0}
    freq = G.mean(axis=0) / 2
    assert (np.minimum(freq, 1 - freq) >= 0.05 - 1e-12).all()
    pd.testing.assert_frame_equal(G, simulate.genotypes(200, 40, seed=3, method=method))


def test_msprime_genotypes_have_linkage_disequilibrium():
    def adjacent_r2(G):
        r = np.corrcoef(G.to_numpy().T)
        return np.mean(np.diag(r, 1) ** 2)

    ld = adjacent_r2(simulate.genotypes(300, 80, seed=1, method="msprime"))
    independent = adjacent_r2(simulate.genotypes(300, 80, seed=1, method="binomial"))
    assert independent < 0.02 < 0.1 < ld
