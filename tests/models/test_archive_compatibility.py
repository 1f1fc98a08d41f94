"""Model files written before the layered layout (format 1, commit d39780b; see
tests/fixtures/archives_v1/make_archives.py) still load, and predict exactly what a fresh
fit with today's code predicts for the same data and options."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

import ntkmixed as nm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "archives_v1"


def _maker():
    spec = importlib.util.spec_from_file_location("make_archives", FIXTURES / "make_archives.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    ex = nm.datasets.load_example()
    G = ex.genotypes.to_dataframe()
    maker = _maker()
    train = ex.data.iloc[: maker.N_TRAIN]
    new = ex.data.iloc[maker.N_TRAIN : maker.N_TRAIN + 50]
    return train, G.loc[train.index].iloc[:, : maker.N_SNPS], new, G.loc[new.index].iloc[:, : maker.N_SNPS]


def _fresh(name, train, G):
    """The fit make_archives.py saved as ``name``, redone by today's code."""
    lambdas = np.geomspace(0.05, 20, 9)
    if name == "lmm_grm":
        return nm.fit("y_additive ~ sex + age", train, genotypes=G, kernel=nm.GRM(), method="minque1")
    if name == "lmm_two_kernels":
        return nm.fit("y_nonlinear ~ sex + population", train, genotypes=G,
                      kernel=[nm.GRM(), nm.NTK(depth=2, width=None)], method="reml")
    if name == "lmm_precomputed":
        K = nm.kernels.Polynomial(degree=2).gram(nm.standardize(G, quiet=True)[0])
        return nm.fit("y_nonlinear ~ age", train, genotypes=G, kernel=nm.Precomputed(K, ids=train.index, name="poly"),
                      method="minque0")
    if name == "krr_ntk":
        return nm.krr("y_nonlinear ~ sex", train, genotypes=G, kernel=nm.NTK(depth=2, width=64, seed=3), cv=4,
                      lambdas=lambdas)
    return nm.krr("y_additive ~ 1", train, genotypes=G, kernel=nm.NNGP(depth=2, normalize="unit-diag"), cv="loo",
                  lambdas=lambdas)


@pytest.mark.parametrize("name", ["lmm_grm", "lmm_two_kernels", "lmm_precomputed", "krr_ntk", "krr_nngp_loo"])
def test_old_archive_loads_and_predicts_like_a_fresh_fit(example, name):
    train, G, new, G_new = example
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = nm.load(FIXTURES / f"{name}.npz")
        fresh = _fresh(name, train, G)
    assert type(old) is type(fresh) and old.formula == fresh.formula and old.nobs == fresh.nobs
    # iterated MINQUE now refines past its tolerance (1e-8 relative change), so the old
    # file's estimates differ from today's at that level; every other fit is exact
    rtol = 1e-6 if name == "lmm_grm" else 1e-8
    np.testing.assert_allclose(old.params.to_numpy(), fresh.params.to_numpy(), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(old.fitted.to_numpy(), fresh.fitted.to_numpy(), rtol=rtol, atol=1e-9)
    if name.startswith("lmm"):
        np.testing.assert_allclose(old.variance_components.to_numpy(), fresh.variance_components.to_numpy(), rtol=rtol)
        np.testing.assert_allclose(old.blup_pev.to_numpy(), fresh.blup_pev.to_numpy(), rtol=rtol, atol=1e-9)
        assert old.engine == "dense" and "not recorded" in old.engine_reason
        if name == "lmm_precomputed":  # a precomputed kernel predicts only people it covers
            return
        predicted_old, predicted_new = old.predict(new, genotypes=G_new), fresh.predict(new, genotypes=G_new)
    else:
        # the same grid point: the grid scales with the kernel, and SNP statistics from int8
        # code counts move it at round-off
        assert old.lambda_ == pytest.approx(fresh.lambda_, rel=1e-12)
        np.testing.assert_allclose(old.cv_results.to_numpy(), fresh.cv_results.to_numpy(), rtol=rtol)
        predicted_old, predicted_new = old.predict(new, genotypes=G_new), fresh.predict(new, genotypes=G_new)
    assert predicted_old.index.equals(new.index)
    np.testing.assert_allclose(predicted_old.to_numpy(), predicted_new.to_numpy(), rtol=rtol, atol=1e-9)


def test_a_new_archive_round_trips_the_engine(example, tmp_path):
    train, G, new, G_new = example
    fresh = _fresh("lmm_grm", train, G)
    fresh.save(tmp_path / "m.npz")
    loaded = nm.load(tmp_path / "m.npz")
    assert (loaded.engine, loaded.engine_reason) == (fresh.engine, fresh.engine_reason) == ("dense", fresh.engine_reason)
    assert "eigendecomposition" in fresh.engine_reason
