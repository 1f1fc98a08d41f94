"""ntkmixed.compare: identical honest splits for every method, metrics, summary, plot,
and the CI-sized paper-simulation benchmark."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed import simulate
from ntkmixed.experiments.comparison import make_splits, plot_comparison, summarize
from ntkmixed.exceptions import NtkmixedError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def genotypes():
    return simulate.genotypes(150, 30, seed=5, method="binomial")


def test_make_splits_partitions_and_is_reproducible():
    ids = pd.Index([f"p{i}" for i in range(50)])
    splits = make_splits(ids, n_splits=6, test_size=0.2, seed=3)
    for train, test in splits:
        assert len(test) == 10 and len(train) == 40
        assert train.intersection(test).empty and train.union(test).sort_values().equals(ids.sort_values())
    assert len({tuple(test) for _, test in splits}) == 6
    again = make_splits(ids, n_splits=6, test_size=0.2, seed=3)
    assert all(a[1].equals(b[1]) for a, b in zip(splits, again))
    with pytest.raises(NtkmixedError, match="'test_size'"):
        make_splits(ids, test_size=0.99)


def _spy(log, name):
    def method(train, G_train, test, G_test, split):
        log.append((name, split, tuple(train.index), tuple(test.index), tuple(G_train.index), tuple(G_test.index)))
        assert train.index.intersection(test.index).empty
        return pd.Series(train["y"].mean() + G_test.iloc[:, 0] * 0.01, index=test.index)

    return method


def test_every_method_gets_the_same_splits(genotypes):
    log = []
    y = simulate.phenotype(genotypes, "linear", seed=1).y
    results = nm.compare(genotypes, y, methods=[("a", _spy(log, "a")), "gblup", ("b", _spy(log, "b"))],
                         n_splits=4, seed=9)
    expected = make_splits(y.index, n_splits=4, test_size=0.2, seed=9)
    for split, (train, test) in enumerate(expected):
        seen = [entry for entry in log if entry[1] == split]
        assert [entry[0] for entry in seen] == ["a", "b"]
        for _, _, tr, te, g_tr, g_te in seen:
            assert tr == g_tr == tuple(train) and te == g_te == tuple(test)
        assert results.attrs["test_ids"][split] == list(test)
        # the built-in method was scored on that same split: refit it by hand
        fitted = nm.fit("y ~ 1", data=y.loc[train].to_frame(), genotypes=genotypes.loc[train], kernel=nm.GRM())
        predicted = fitted.predict(newdata=y.loc[test].to_frame(), genotypes=genotypes.loc[test])
        row = results[(results["method"] == "gblup") & (results["split"] == split)].iloc[0]
        assert row["cor"] == pytest.approx(np.corrcoef(predicted, y.loc[test])[0, 1], rel=1e-10)
        assert row["mse"] == pytest.approx(np.mean((predicted - y.loc[test]) ** 2), rel=1e-10)
    assert list(results.columns[:5]) == ["method", "split", "cor", "mse", "seconds"]
    assert (results["n_test"] == 30).all() and (results["seconds"] > 0).all()


def test_scenario_phenotype_and_missing_values(genotypes):
    results = nm.compare(genotypes, "cosh", methods=["gblup"], n_splits=2, seed=4,
                         scenario_options={"h2": 0.6, "n_causal": 10})
    assert (results["scenario"] == "cosh").all() and (results["h2"] == 0.6).all()
    # the simulated phenotype is reproducible from seed: same numbers twice
    again = nm.compare(genotypes, "cosh", methods=["gblup"], n_splits=2, seed=4,
                       scenario_options={"h2": 0.6, "n_causal": 10})
    pd.testing.assert_series_equal(results["cor"], again["cor"])
    y = simulate.phenotype(genotypes, seed=2).y
    y.iloc[:10] = np.nan
    partial = nm.compare(genotypes, y, methods=["gblup"], n_splits=1, test_size=0.2)
    assert partial.loc[0, "n_train"] + partial.loc[0, "n_test"] == 140
    assert not set(partial.attrs["test_ids"][0]) & set(y.index[:10])


def test_all_methods_predict_honestly_with_covariates(genotypes):
    """Every built-in method runs on one split, and with a strong covariate each beats the
    mean predictor on the test people it never saw."""
    rng = np.random.default_rng(0)
    covariates = pd.DataFrame(
        {"age": rng.normal(0, 1, len(genotypes)), "sex": rng.choice(["f", "m"], len(genotypes))},
        index=genotypes.index,
    )
    sim = simulate.phenotype(genotypes, "ricker", h2=0.5, seed=3)
    y = sim.y + 2.0 * covariates["age"] + (covariates["sex"] == "m")
    methods = ["gblup", "ntk-lmm", "ntk-krr", "nngp-krr", "ntk-inf-krr", "nn"]
    results = nm.compare(genotypes, y, methods=methods, n_splits=1, seed=1, covariates=covariates,
                         width=256, nn_options={"max_epochs": 60})
    assert list(results["method"]) == methods
    assert (results["cor"] > 0.7).all(), results[["method", "cor"]]


def test_validation(genotypes):
    y = simulate.phenotype(genotypes, seed=2).y
    with pytest.raises(NtkmixedError, match="'methods'"):
        nm.compare(genotypes, y, methods=["svm"], n_splits=1)
    with pytest.raises(NtkmixedError, match="twice"):
        nm.compare(genotypes, y, methods=["gblup", "gblup"], n_splits=1)
    with pytest.raises(NtkmixedError, match="inconsistent numbers of samples"):
        nm.compare(genotypes, y.to_numpy()[:-1], methods=["gblup"], n_splits=1)
    with pytest.raises(NtkmixedError, match="scenario_options"):
        nm.compare(genotypes, y, methods=["gblup"], n_splits=1, scenario_options={"h2": 0.2})


def test_summarize_matches_groupby():
    results = pd.DataFrame({
        "method": ["nn", "gblup", "nn", "gblup"],
        "split": [0, 0, 1, 1],
        "cor": [0.1, 0.5, 0.3, 0.7],
        "mse": [1.0, 0.5, 0.9, 0.4],
        "seconds": [2.0, 1.0, 4.0, 1.0],
    })
    table = summarize(results)
    assert list(table["method"]) == ["nn", "gblup"]
    nn = table.iloc[0]
    assert nn["cor_mean"] == pytest.approx(0.2) and nn["cor_sd"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert nn["seconds"] == pytest.approx(3.0) and nn["n_splits"] == 2


def test_plot_comparison_draws_one_panel_per_scenario():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    results = pd.DataFrame([
        {"method": m, "split": s, "cor": rng.uniform(), "scenario": sc, "n_snps": k}
        for sc in ("linear", "cosh") for k in (20, 50) for m in ("gblup", "nn") for s in range(3)
    ])
    fig = plot_comparison(results)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["linear", "cosh"]
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["20 SNPs", "50 SNPs"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_paper_simulation_benchmark_ci_sized(tmp_path):
    """The benchmark script end to end at CI size: one scenario, one SNP count, one split."""
    spec = importlib.util.spec_from_file_location("paper_simulation", ROOT / "benchmarks" / "paper_simulation.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    code = script.main(["--reps", "1", "--scenarios", "ricker", "--snps", "20", "--n", "150",
                        "--methods", "gblup", "ntk-lmm", "nn", "--width", "256",
                        "--out", str(tmp_path), "--quiet"])
    assert code == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert sorted(results["method"]) == ["gblup", "nn", "ntk-lmm"]
    assert (results["n_snps"] == 20).all() and (results["n_test"] == 30).all()
    assert results["cor"].notna().all()
    table = (tmp_path / "summary.md").read_text()
    assert "| ricker | 20 |" in table and "NTK-LMM" in table
    assert (tmp_path / "figure.png").stat().st_size > 0
    # pooling two runs (here the same file twice) doubles the splits behind each mean
    pooled = tmp_path / "pooled"
    csv = str(tmp_path / "results.csv")
    assert script.main(["--summarize", csv, csv, "--out", str(pooled), "--quiet"]) == 0
    summary = pd.read_csv(pooled / "summary.csv")
    assert (summary["n_splits"] == 2).all() and (summary["cor_sd"] == 0).all()
