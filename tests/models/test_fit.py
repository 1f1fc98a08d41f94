"""ntkmixed.fit end to end: labelled results, dense-formula checks on the public outputs,
row handling and invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from conftest import simulate_lmm


def _dense_reference(data, G, formula_columns, theta):
    """β̂, BLUP and h² SE computed with explicit matrices from the fitted θ̂."""
    Z = (G - G.mean(0)) / G.std(0)
    K = Z @ Z.T / Z.shape[1]
    K /= np.mean(np.diag(K))
    X = np.column_stack([np.ones(len(data))] + formula_columns)
    y = data["y"].to_numpy()
    V = theta[0] * K + theta[1] * np.eye(len(y))
    Vi = np.linalg.inv(V)
    C = np.linalg.inv(X.T @ Vi @ X)
    beta = C @ X.T @ Vi @ y
    P = Vi - Vi @ X @ C @ X.T @ Vi
    return K, X, beta, C, theta[0] * K @ P @ y, P


@pytest.mark.parametrize("method", ["minque0", "minque1", "reml"])
def test_public_outputs_match_dense_formulas(lmm_data, method):
    data, G = lmm_data
    res = nm.fit("y ~ sex + age", data=data, genotypes=G, method=method)
    theta = res.variance_components["estimate"].to_numpy()
    male = (data["sex"] == "male").to_numpy(float)
    K, X, beta, C, blup, P = _dense_reference(data, G.to_numpy(), [male, data["age"].to_numpy()], theta)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(C)), rtol=1e-8)
    np.testing.assert_allclose(res.blup.to_numpy(), blup, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res.fitted.to_numpy(), X @ beta + blup, rtol=1e-8)
    assert list(res.params.index) == ["Intercept", "sex[T.male]", "age"]
    assert list(res.variance_components.index) == ["GRM", "residual"]
    assert res.blup.index.equals(data.index)
    # h² (sample variance: D = (tr K − 1ᵀK1/n)/(n − 1)) and its SE by the delta method,
    # checked against a finite-difference gradient
    cov = res.variance_components_cov.to_numpy()
    n = K.shape[0]
    D = (np.trace(K) - K.sum() / n) / (n - 1)
    h2 = lambda t: t[0] * D / (t[0] * D + t[1])  # noqa: E731
    eps = 1e-6
    gradient = np.array([(h2(theta + eps * e) - h2(theta - eps * e)) / (2 * eps) for e in np.eye(2)])
    assert res.h2 == pytest.approx(h2(theta))
    assert res.h2_se == pytest.approx(np.sqrt(gradient @ cov @ gradient), rel=1e-6)
    assert res.pvalues.between(0, 1).all()
    assert res.nobs == len(data)


def test_prediction_for_new_people_is_the_conditional_mean():
    data, G = simulate_lmm(n=140, seed=4)
    train, test = data.index[:100], data.index[100:]
    res = nm.fit("y ~ age", data=data.loc[train], genotypes=G.loc[train], method="reml")
    predicted = res.predict(data.loc[test], genotypes=G.loc[test])
    # dense: kernel of stacked rows, standardised with training statistics only
    Gt = G.loc[train].to_numpy()
    mean, sd = Gt.mean(0), Gt.std(0)
    Z_all = (G.loc[list(train) + list(test)].to_numpy() - mean) / sd
    K_all = Z_all @ Z_all.T / Z_all.shape[1]
    K_all /= np.mean(np.diag(K_all)[:100])
    sg, se = res.variance_components["estimate"]
    X = np.column_stack([np.ones(100), data.loc[train, "age"]])
    X_new = np.column_stack([np.ones(40), data.loc[test, "age"]])
    V = sg * K_all[:100, :100] + se * np.eye(100)
    y = data.loc[train, "y"].to_numpy()
    beta = res.params.to_numpy()
    expected = X_new @ beta + sg * K_all[100:, :100] @ np.linalg.solve(V, y - X @ beta)
    np.testing.assert_allclose(predicted.to_numpy(), expected, rtol=1e-8)
    assert predicted.index.equals(test)
    # predicting the training people reproduces the fitted values
    np.testing.assert_allclose(res.predict(data.loc[train], G.loc[train]).to_numpy(), res.fitted.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.predict().to_numpy(), res.fitted.to_numpy())


def test_missing_rows_are_dropped_and_counted(lmm_data):
    data, G = lmm_data
    data = data.copy()
    data.loc[data.index[:3], "y"] = np.nan
    data.loc[data.index[5], "age"] = np.nan
    G = G.copy()
    G.loc[data.index[7]] = np.nan
    G = G.drop(index=data.index[9])
    res = nm.fit("y ~ sex + age", data=data, genotypes=G)
    assert res.nobs == len(data) - 6
    assert res.dropped == {"not in genotypes": 1, "missing genotypes": 1, "missing response or covariates": 4}
    assert "6 of 120" in str(res.summary())
    extra = pd.concat([G, pd.DataFrame(0.0, index=["extra1", "extra2"], columns=G.columns)])
    assert "Genotyped, not in data: 2" in str(nm.fit("y ~ sex + age", data=data, genotypes=extra).summary())
    kept = data.index.difference(data.index[[0, 1, 2, 5, 7, 9]])
    assert set(res.blup.index) == set(kept)


def test_results_do_not_depend_on_row_order(lmm_data):
    data, G = lmm_data
    res = nm.fit("y ~ sex + age", data=data, genotypes=G, method="reml")
    order = np.random.default_rng(0).permutation(len(data))
    shuffled = nm.fit("y ~ sex + age", data=data.iloc[order], genotypes=G.iloc[::-1], method="reml")
    pd.testing.assert_frame_equal(res.variance_components, shuffled.variance_components, rtol=1e-5)
    pd.testing.assert_series_equal(res.blup, shuffled.blup.loc[res.blup.index], rtol=1e-5)


def test_permuting_people_permutes_blups_with_positional_genotypes(lmm_data):
    data, G = lmm_data
    res = nm.fit("y ~ sex + age", data=data, genotypes=G.to_numpy())
    order = np.random.default_rng(1).permutation(len(data))
    permuted = nm.fit("y ~ sex + age", data=data.iloc[order], genotypes=G.to_numpy()[order])
    np.testing.assert_allclose(permuted.variance_components.to_numpy(), res.variance_components.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(permuted.blup.to_numpy(), res.blup.to_numpy()[order], rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("method", ["minque0", "minque1", "reml"])
def test_scaling_y_scales_components_by_c_squared(lmm_data, method):
    data, G = lmm_data
    res = nm.fit("y ~ sex + age", data=data, genotypes=G, method=method)
    scaled = data.assign(y=3.0 * data["y"])
    res3 = nm.fit("y ~ sex + age", data=scaled, genotypes=G, method=method)
    np.testing.assert_allclose(res3.variance_components["estimate"], 9 * res.variance_components["estimate"], rtol=1e-6)
    assert res3.h2 == pytest.approx(res.h2, rel=1e-6)


def test_minque1_converges_to_reml_on_genotype_kernels(lmm_data):
    data, G = lmm_data
    a = nm.fit("y ~ sex + age", data=data, genotypes=G, method="minque1")
    b = nm.fit("y ~ sex + age", data=data, genotypes=G, method="reml")
    assert a.converged and b.converged
    np.testing.assert_allclose(a.variance_components["estimate"], b.variance_components["estimate"], rtol=1e-5)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)


def test_grm_without_intercept_warns_that_the_likelihood_runs_to_h2_one():
    # A GRM of centred genotypes is singular along 1. With a centred y and no intercept,
    # y has no component along 1 and the REML likelihood grows without bound as σ²_e → 0
    # (DESIGN §6). ntkmixed says so; the intercept removes the problem.
    data, G = simulate_lmm(n=100, seed=8, covariates=False)
    data = data.assign(y=data["y"] - data["y"].mean())
    with pytest.warns(nm.exceptions.IdentifiabilityWarning, match="unbounded"):
        res = nm.fit("y ~ 0", data=data, genotypes=G, method="reml")
    assert res.nobs == 100
    # the direction the warning names: the kernel annihilates 1 and y has no component on it
    K = nm.GRM().gram(nm.standardize(G, quiet=True)[0])
    assert np.linalg.norm(K @ np.ones(100)) < 1e-8 * np.linalg.norm(K)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", nm.exceptions.IdentifiabilityWarning)
        with_intercept = nm.fit("y ~ 1", data=data, genotypes=G, method="reml")
    assert 0 < with_intercept.h2 < 0.99 and with_intercept.converged


def test_save_and_load_round_trip_everything_predict_needs(tmp_path, lmm_data):
    data, G = lmm_data
    groups = (np.arange(len(data)) % 10)
    block = nm.Precomputed((groups[:, None] == groups[None, :]).astype(float), ids=data.index, name="family")
    train = data.index[:90]
    res = nm.fit("y ~ C(sex) + np.log(age)", data=data.loc[train], genotypes=G, kernel=[nm.GRM(), block], method="reml")
    path = tmp_path / "model.npz"
    res.save(path)
    loaded = nm.load(path)
    test = data.index[90:]
    np.testing.assert_array_equal(loaded.predict(data.loc[test], G.loc[test]), res.predict(data.loc[test], G.loc[test]))
    pd.testing.assert_frame_equal(loaded.variance_components, res.variance_components)
    pd.testing.assert_series_equal(loaded.blup, res.blup)
    pd.testing.assert_frame_equal(loaded.blup_pev, res.blup_pev)
    pd.testing.assert_frame_equal(loaded.fixed_effects, res.fixed_effects)
    assert loaded.h2_se == res.h2_se and loaded.loglik == res.loglik
    assert str(loaded.summary()) == str(res.summary())
    with np.load(path, allow_pickle=False) as archive:  # readable without pickle
        assert "__meta__" in archive.files


def test_unseen_factor_levels_are_an_error_unless_allowed(lmm_data):
    data, G = lmm_data
    res = nm.fit("y ~ sex", data=data, genotypes=G)
    new = data.iloc[:4].copy()
    new["sex"] = ["female", "male", "other", "male"]
    with pytest.raises(nm.NtkmixedError, match="allow_new_levels"):
        res.predict(new, G.iloc[:4])
    predicted = res.predict(new, G.iloc[:4], allow_new_levels=True)
    baseline = res.predict(new.assign(sex="female"), G.iloc[:4])
    assert predicted.iloc[2] == pytest.approx(baseline.iloc[2])


def test_summary_is_an_object_with_text_html_and_tables(lmm_data):
    data, G = lmm_data
    summary = nm.fit("y ~ sex + age", data=data, genotypes=G).summary()
    text = str(summary)
    for fragment in ["minque1", "Converged", "h² definition", "Heritability", "residual", "Rows dropped"]:
        assert fragment in text
    assert "<table" in summary._repr_html_()
    assert set(summary.tables) == {"fixed_effects", "variance_components", "heritability", "kernel_diagnostics"}
    assert all(isinstance(t, pd.DataFrame) for t in summary.tables.values())


def test_unused_factor_levels_are_dropped_like_model_frame(lmm_data):
    data, G = lmm_data
    data = data.assign(site=pd.Categorical(np.where(np.arange(len(data)) % 2, "a", "b"), categories=["a", "b", "c"]))
    data.loc[data.index[:5], "y"] = np.nan
    res = nm.fit("y ~ site + age", data=data, genotypes=G)
    assert list(res.params.index) == ["Intercept", "site[T.b]", "age"]
    new = data.iloc[:3].assign(site=pd.Categorical(["c", "a", "b"], categories=["a", "b", "c"]))
    with pytest.raises(nm.NtkmixedError, match="allow_new_levels"):
        res.predict(new, G.iloc[:3])
