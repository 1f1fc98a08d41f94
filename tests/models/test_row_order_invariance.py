"""People are matched by ID, never by position: permuting the rows of ``data`` and of the
genotypes (independently) and relabelling the people leaves every estimate unchanged —
``fit`` (h², variance components, β̂, BLUPs), ``predict``, and ``krr`` with k-fold CV
(folds are drawn over the people ranked by ID, so for KRR the relabelling keeps the IDs'
order; any relabelling is tested for ``fit`` and ``predict``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ntkmixed as nm
from conftest import simulate_lmm

N_TRAIN, N_NEW = 40, 8
DATA, GENOTYPES = simulate_lmm(n=N_TRAIN + N_NEW, p=40, seed=21)
TRAIN, NEW = DATA.iloc[:N_TRAIN], DATA.iloc[N_TRAIN:]
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def reference():
    lmm = quiet(nm.fit, "y ~ sex + age", TRAIN, genotypes=GENOTYPES.loc[TRAIN.index], method="reml")
    krr = quiet(nm.krr, "y ~ sex + age", TRAIN, genotypes=GENOTYPES.loc[TRAIN.index], kernel=nm.GRM(), cv=5, seed=3)
    return lmm, krr


def relabelled(ids: pd.Index, how: str, rng: np.random.Generator) -> dict:
    """An injective map from the IDs to new ones: text kept in order, integers, or the IDs
    shuffled among the people."""
    if how == "prefix":
        return {i: f"person-{i}" for i in ids}
    if how == "int":
        return dict(zip(ids, rng.permutation(10 * len(ids))[: len(ids)] + 1000))
    return dict(zip(ids, rng.permutation(ids)))


def transformed(frame: pd.DataFrame, order: list[int], mapping: dict) -> pd.DataFrame:
    return frame.iloc[order].rename(index=mapping)


def lmm_estimates(res, mapping: dict) -> dict:
    back = {v: k for k, v in mapping.items()}
    return {"h2": res.h2, "h2_se": res.h2_se, "theta": res.variance_components["estimate"].to_numpy(),
            "params": res.params.to_numpy(), "bse": res.bse.to_numpy(),
            "blup": res.blup.rename(index=back).sort_index().to_numpy(), "loglik": res.loglik}


def assert_same(a: dict, b: dict, rtol: float = 1e-7) -> None:
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=1e-10, err_msg=key)


@SETTINGS
@given(rows=st.permutations(range(N_TRAIN)), genotype_rows=st.permutations(range(N_TRAIN + N_NEW)),
       new_rows=st.permutations(range(N_NEW)), how=st.sampled_from(["prefix", "int", "shuffled"]),
       seed=st.integers(0, 2**16))
def test_fit_and_predict_do_not_depend_on_row_order_or_labels(reference, rows, genotype_rows, new_rows, how, seed):
    lmm, _ = reference
    mapping = relabelled(DATA.index, how, np.random.default_rng(seed))
    train = transformed(TRAIN, rows, mapping)
    genotypes = transformed(GENOTYPES, genotype_rows, mapping)
    res = quiet(nm.fit, "y ~ sex + age", train, genotypes=genotypes, method="reml")
    assert_same(lmm_estimates(res, mapping), lmm_estimates(lmm, {i: i for i in TRAIN.index}))

    expected = lmm.predict(NEW, GENOTYPES.loc[NEW.index])
    new = transformed(NEW, new_rows, mapping)
    predicted = res.predict(new, genotypes)
    back = {v: k for k, v in mapping.items()}
    np.testing.assert_allclose(predicted.rename(index=back).loc[NEW.index], expected, rtol=1e-7, atol=1e-10)


@SETTINGS
@given(rows=st.permutations(range(N_TRAIN)), genotype_rows=st.permutations(range(N_TRAIN + N_NEW)))
def test_krr_cross_validation_does_not_depend_on_row_order(reference, rows, genotype_rows):
    _, krr = reference
    mapping = relabelled(DATA.index, "prefix", np.random.default_rng(0))
    res = quiet(nm.krr, "y ~ sex + age", transformed(TRAIN, rows, mapping),
                genotypes=transformed(GENOTYPES, genotype_rows, mapping), kernel=nm.GRM(), cv=5, seed=3)
    # the λ grid is relative to the kernel's mean diagonal, which sums in another order
    assert res.lambda_ == pytest.approx(krr.lambda_, rel=1e-12)
    assert int(np.argmin(np.abs(res.lambdas - res.lambda_))) == int(np.argmin(np.abs(krr.lambdas - krr.lambda_)))
    np.testing.assert_allclose(res.cv_results.to_numpy(), krr.cv_results.to_numpy(), rtol=1e-8, atol=1e-12)
    back = {v: k for k, v in mapping.items()}
    np.testing.assert_allclose(res.dual_coef.rename(index=back).loc[TRAIN.index], krr.dual_coef, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res.predict(transformed(NEW, list(range(N_NEW)), mapping),
                                           transformed(GENOTYPES, genotype_rows, mapping)).to_numpy(),
                               krr.predict(NEW, GENOTYPES.loc[NEW.index]).to_numpy(), rtol=1e-7, atol=1e-10)


def test_positional_folds_would_have_moved_lambda(reference):
    """The property above can fail: with folds cut by row position (the old rule), a
    permutation of the rows changes the folds, and on these data the chosen λ."""
    _, krr = reference
    shuffled = TRAIN.iloc[np.random.default_rng(1).permutation(N_TRAIN)]
    positions_folds = nm.estimation.ridge.make_folds(N_TRAIN, 5, 3)  # by position, no ID ranks
    res = quiet(nm.krr, "y ~ sex + age", shuffled, genotypes=GENOTYPES, kernel=nm.GRM(), cv=positions_folds)
    assert not np.allclose(res.cv_results["mean"].to_numpy(), krr.cv_results["mean"].to_numpy())
