"""ntkmixed.krr end to end: scikit-learn's KernelRidge and GridSearchCV, the dense GLS
formula with covariates, brute-force LOO and k-fold CV, the LMM equivalence (Ge & Lu,
Proposition 1), folds, warnings, errors, save/load, summary and plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from conftest import simulate_lmm
from ntkmixed.exceptions import BoundaryWarning, NtkmixedError


def _grm(G_train, G_all):
    """Mean-diag GRM of all rows, standardised and normalised with training statistics."""
    mean, sd = G_train.mean(0), G_train.std(0)
    Z = (G_all - mean) / sd
    K = Z @ Z.T / Z.shape[1]
    Zt = (G_train - mean) / sd
    return K / np.mean(np.einsum("ij,ij->i", Zt, Zt) / Z.shape[1])


def _dense_fit(y, X, K, lam):
    Vi = np.linalg.inv(K + lam * np.eye(y.size))
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y) if X.shape[1] else np.zeros(0)
    return beta, Vi @ (y - X @ beta)


@pytest.fixture(scope="module")
def split_data():
    data, G = simulate_lmm(n=130, p=80, seed=3)
    return data, G, data.index[:100], data.index[100:]


def test_matches_sklearn_kernel_ridge_and_grid_search(split_data):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV

    data, G, train, test = split_data
    data = data.assign(y=data["y"] - data.loc[train, "y"].mean())  # no intercept, as sklearn
    K_all = _grm(G.loc[train].to_numpy(), G.to_numpy())
    kernel = nm.Precomputed(K_all, ids=data.index)
    y = data.loc[train, "y"].to_numpy()
    lambdas = np.geomspace(0.01, 100, 9)
    res = nm.krr("y ~ 0", data=data.loc[train], kernel=kernel, lambdas=lambdas, cv=5, seed=1)
    search = GridSearchCV(KernelRidge(kernel="precomputed"), {"alpha": lambdas}, cv=res.folds,
                          scoring="neg_mean_squared_error").fit(K_all[:100, :100], y)
    assert res.lambda_ == pytest.approx(search.best_params_["alpha"])
    np.testing.assert_allclose(res.cv_results["mean"], -search.cv_results_["mean_test_score"], rtol=1e-8)
    for j in range(5):
        np.testing.assert_allclose(res.cv_results[f"fold_{j}"], -search.cv_results_[f"split{j}_test_score"], rtol=1e-8)
    reference = search.best_estimator_
    np.testing.assert_allclose(res.dual_coef.to_numpy(), reference.dual_coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.predict(data.loc[test]).to_numpy(), reference.predict(K_all[100:, :100]), rtol=1e-8)
    np.testing.assert_allclose(res.fitted.to_numpy(), reference.predict(K_all[:100, :100]), rtol=1e-8)
    assert res.params.empty
    assert sklearn.__version__


def test_covariates_follow_the_dense_gls_formula(split_data):
    data, G, train, test = split_data
    lam = 0.7
    res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(), lambdas=[lam])
    K_all = _grm(G.loc[train].to_numpy(), G.to_numpy())
    design = lambda rows: np.column_stack(  # noqa: E731
        [np.ones(len(rows)), (data.loc[rows, "sex"] == "male").to_numpy(float), data.loc[rows, "age"]])
    X, X_new, y = design(train), design(test), data.loc[train, "y"].to_numpy()
    beta, alpha = _dense_fit(y, X, K_all[:100, :100], lam)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-8)
    np.testing.assert_allclose(res.dual_coef.to_numpy(), alpha, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res.fitted.to_numpy(), X @ beta + K_all[:100, :100] @ alpha, rtol=1e-8)
    np.testing.assert_allclose(res.resid.to_numpy(), y - res.fitted.to_numpy(), rtol=1e-12)
    expected = X_new @ beta + K_all[100:, :100] @ alpha
    np.testing.assert_allclose(res.predict(data.loc[test], G.loc[test]).to_numpy(), expected, rtol=1e-8)
    assert list(res.params.index) == ["Intercept", "sex[T.male]", "age"]
    assert res.dual_coef.index.equals(train)
    # predicting the training people reproduces the fitted values
    np.testing.assert_allclose(res.predict(data.loc[train], G.loc[train]).to_numpy(), res.fitted.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("scoring", ["mse", "cor"])
def test_chosen_lambda_equals_exhaustive_brute_force_cv(split_data, scoring):
    data, G, train, _ = split_data
    lambdas = np.geomspace(0.02, 50, 7)
    res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(),
                 lambdas=lambdas, cv=4, scoring=scoring, seed=5)
    K = _grm(G.loc[train].to_numpy(), G.loc[train].to_numpy())
    X = np.column_stack([np.ones(100), (data.loc[train, "sex"] == "male").to_numpy(float), data.loc[train, "age"]])
    y = data.loc[train, "y"].to_numpy()
    brute = np.empty((lambdas.size, 4))
    for j, (tr, te) in enumerate(res.folds):
        for i, lam in enumerate(lambdas):
            beta, alpha = _dense_fit(y[tr], X[tr], K[np.ix_(tr, tr)], lam)
            predicted = X[te] @ beta + K[np.ix_(te, tr)] @ alpha
            brute[i, j] = np.mean((y[te] - predicted) ** 2) if scoring == "mse" else np.corrcoef(y[te], predicted)[0, 1]
    np.testing.assert_allclose(res.cv_results[[f"fold_{j}" for j in range(4)]].to_numpy(), brute, rtol=1e-8)
    best = np.argmin(brute.mean(1)) if scoring == "mse" else np.argmax(brute.mean(1))
    assert res.lambda_ == lambdas[best]
    np.testing.assert_allclose(res.cv_results["se"], brute.std(1, ddof=1) / 2, rtol=1e-8)


def test_loo_equals_refitting_n_times():
    data, G = simulate_lmm(n=45, p=50, seed=6)
    lambdas = [0.05, 0.5, 5.0]
    res = nm.krr("y ~ age", data=data, genotypes=G, kernel=nm.GRM(), lambdas=lambdas, cv="loo")
    K = _grm(G.to_numpy(), G.to_numpy())
    X = np.column_stack([np.ones(45), data["age"]])
    y = data["y"].to_numpy()
    errors = np.empty((3, 45))
    for i in range(45):
        keep = np.delete(np.arange(45), i)
        for j, lam in enumerate(lambdas):
            beta, alpha = _dense_fit(y[keep], X[keep], K[np.ix_(keep, keep)], lam)
            errors[j, i] = y[i] - (X[i] @ beta + K[i, keep] @ alpha)
    np.testing.assert_allclose(res.cv_results["mean"], np.mean(errors**2, axis=1), rtol=1e-8)
    np.testing.assert_allclose(res.cv_results["se"], np.std(errors**2, axis=1, ddof=1) / np.sqrt(45), rtol=1e-8)
    assert res.lambda_ == lambdas[int(np.argmin(np.mean(errors**2, axis=1)))]
    assert res.folds is None and res.cv == "loo"


@pytest.mark.parametrize("method", ["reml", "minque1"])
def test_krr_at_the_implied_lambda_predicts_as_the_lmm(split_data, method):
    """Ge & Lu, Proposition 1: λ = σ̂²_e/σ̂²_g makes KRR and LMM predictions coincide."""
    data, G, train, test = split_data
    lmm = nm.fit("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], method=method)
    sigma_g, sigma_e = lmm.variance_components["estimate"]
    assert lmm.implied_lambda == pytest.approx(sigma_e / sigma_g)
    res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(),
                 lambdas=[lmm.implied_lambda], cv=3)
    pd.testing.assert_series_equal(res.params, lmm.params, rtol=1e-8)
    np.testing.assert_allclose(res.predict(data.loc[test], G.loc[test]), lmm.predict(data.loc[test], G.loc[test]),
                               rtol=1e-8)
    np.testing.assert_allclose(res.fitted, lmm.fitted, rtol=1e-8)


def test_folds_are_reproducible_and_can_be_given(split_data):
    from sklearn.model_selection import KFold

    data, G, train, _ = split_data
    kwargs = dict(data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(), lambdas=np.geomspace(0.05, 20, 6))
    a = nm.krr("y ~ sex", cv=5, seed=2, **kwargs)
    b = nm.krr("y ~ sex", cv=5, seed=2, **kwargs)
    c = nm.krr("y ~ sex", cv=5, seed=3, **kwargs)
    pd.testing.assert_frame_equal(a.cv_results, b.cv_results)
    assert not np.allclose(a.cv_results["mean"], c.cv_results["mean"])
    explicit = nm.krr("y ~ sex", cv=[(tr.tolist(), te.tolist()) for tr, te in a.folds], **kwargs)
    pd.testing.assert_frame_equal(explicit.cv_results, a.cv_results)
    assert explicit.cv == "5 user folds"
    splitter = KFold(4, shuffle=True, random_state=0)
    from_splitter = nm.krr("y ~ sex", cv=splitter, **kwargs)
    expected = list(splitter.split(np.zeros((100, 1))))
    assert all(np.array_equal(f[1], e[1]) for f, e in zip(from_splitter.folds, expected))


def test_lambda_at_the_grid_edge_warns(split_data):
    data, G, train, _ = split_data
    with pytest.warns(BoundaryWarning, match="smallest value of the grid"):
        res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(),
                     lambdas=[200.0, 500.0, 1000.0])
    assert res.at_grid_edge and res.lambda_ == 200.0
    assert "edge of the grid" in str(res.summary())


def test_default_grid_is_scaled_by_the_kernel_diagonal(split_data):
    data, G, train, _ = split_data
    K = 5.0 * _grm(G.loc[train].to_numpy(), G.loc[train].to_numpy())
    res = nm.krr("y ~ sex", data=data.loc[train], kernel=nm.Precomputed(K), cv=3)
    np.testing.assert_allclose(res.lambdas, 5.0 * np.geomspace(0.005, 200, 30))


def test_default_kernel_is_the_empirical_ntk(split_data):
    data, _, train, _ = split_data
    with pytest.raises(NtkmixedError, match=r"required for kernel NTK\(depth=2, width=2000, seed=0"):
        nm.krr("y ~ 1", data=data.loc[train])


@pytest.mark.filterwarnings("ignore::ntkmixed.exceptions.BoundaryWarning")
def test_missing_rows_are_dropped(split_data):
    data, G, train, _ = split_data
    data = data.loc[train].copy()
    data.loc[data.index[:4], "age"] = np.nan
    res = nm.krr("y ~ age", data=data, genotypes=G.loc[train], kernel=nm.GRM(), lambdas=[0.5, 1.0, 2.0], cv=3)
    assert res.nobs == 96 and res.dropped == {"missing response or covariates": 4}
    assert res.dual_coef.index.equals(data.index[4:])


def test_invalid_options_are_reported(split_data):
    data, G, train, _ = split_data
    kwargs = dict(data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM())
    with pytest.raises(NtkmixedError, match="'scoring' parameter of krr must be one of"):
        nm.krr("y ~ sex", scoring="r2", **kwargs)
    with pytest.raises(NtkmixedError, match="'cv' parameter of krr must be an integer >= 2"):
        nm.krr("y ~ sex", cv=1, **kwargs)
    with pytest.raises(NtkmixedError, match="'cv' parameter of krr must be an integer >= 2, 'loo'.*Got 'kfold'"):
        nm.krr("y ~ sex", cv="kfold", **kwargs)
    with pytest.raises(NtkmixedError, match="finite numbers > 0"):
        nm.krr("y ~ sex", lambdas=[0.1, -1.0], **kwargs)
    with pytest.raises(NtkmixedError, match="finite numbers > 0"):
        nm.krr("y ~ sex", lambdas=[], **kwargs)
    with pytest.raises(NtkmixedError, match="repeated"):
        nm.krr("y ~ sex", lambdas=[1.0, 1.0], **kwargs)
    with pytest.raises(NtkmixedError, match="one kernel"):
        nm.krr("y ~ sex", data=data.loc[train], genotypes=G.loc[train], kernel=[nm.GRM(), nm.GRM(name="b")])
    with pytest.raises(NtkmixedError, match="'genotypes' argument of krr is required"):
        nm.krr("y ~ sex", data=data.loc[train], kernel=nm.GRM())
    with pytest.raises(NtkmixedError, match="disjoint"):
        nm.krr("y ~ sex", cv=[([0, 1, 2, 3, 4, 5], [5, 6])], **kwargs)


def test_fold_missing_a_factor_level_is_refused(split_data):
    data, G, train, _ = split_data
    frame = data.loc[train].assign(group=["a"] * 97 + ["b"] * 3)
    with pytest.raises(NtkmixedError, match="fold 0"):
        nm.krr("y ~ group", data=frame, genotypes=G.loc[train], kernel=nm.GRM(),
               cv=[(np.arange(97), np.arange(97, 100))])
    with pytest.raises(NtkmixedError, match="leave-one-out"):
        nm.krr("y ~ group", data=frame.assign(group=["a"] * 99 + ["b"]), genotypes=G.loc[train],
               kernel=nm.GRM(), cv="loo", lambdas=[1.0])


@pytest.mark.filterwarnings("ignore::ntkmixed.exceptions.BoundaryWarning")
@pytest.mark.parametrize("cv", [4, "loo"])
def test_save_and_load_round_trip(tmp_path, split_data, cv):
    data, G, train, test = split_data
    res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(),
                 lambdas=np.geomspace(0.05, 20, 5), cv=cv, scoring="cor")
    path = tmp_path / "krr.npz"
    res.save(path)
    loaded = nm.load(path)
    assert isinstance(loaded, nm.KRRResults)
    assert loaded.lambda_ == res.lambda_ and loaded.scoring == "cor" and loaded.cv == res.cv
    pd.testing.assert_frame_equal(loaded.cv_results, res.cv_results)
    pd.testing.assert_series_equal(loaded.params, res.params)
    pd.testing.assert_series_equal(loaded.fitted, res.fitted, rtol=1e-12)
    pd.testing.assert_series_equal(loaded.predict(data.loc[test], G.loc[test]), res.predict(data.loc[test], G.loc[test]))
    if cv == 4:
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(loaded.folds, res.folds))
    assert str(loaded.summary()) == str(res.summary())


def test_progress_bar_counts_folds(split_data, capsys):
    data, G, train, _ = split_data
    nm.krr("y ~ sex", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(), lambdas=[0.3, 1.0, 3.0],
           cv=4, progress=True)
    err = capsys.readouterr().err
    assert "cross-validation folds" in err and "4/4" in err


def test_summary_and_plot(split_data):
    data, G, train, _ = split_data
    res = nm.krr("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.GRM(),
                 lambdas=np.geomspace(0.05, 20, 6), cv=3)
    summary = res.summary()
    text = str(summary)
    assert "Chosen λ" in text and "3-fold, seed 0" in text and "sex[T.male]" in text
    assert "<table" in summary._repr_html_()
    assert set(summary.tables) == {"fixed_effects", "cv_results"}
    assert (summary.tables["cv_results"]["chosen"] == "*").sum() == 1
    assert "KRRResults" in repr(res)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = res.plot_cv()
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 3 + 1 + 1  # folds, mean, chosen λ
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
