"""ntkmixed.nn.MLPRegressor: architecture, reproducibility, learning, alignment."""

import numpy as np
import pandas as pd
import pytest
import torch

from ntkmixed import simulate
from ntkmixed.exceptions import NtkmixedError
from ntkmixed.experiments.nn import MLPRegressor, _batches


@pytest.fixture(scope="module")
def data():
    G = simulate.genotypes(400, 20, seed=2, method="binomial")
    sim = simulate.phenotype(G, "linear", h2=0.8, seed=4)
    return G, sim.y


def test_architecture_is_the_papers():
    net = MLPRegressor()._network(100)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert [(l.in_features, l.out_features) for l in net if isinstance(l, torch.nn.Linear)] == [(100, 50), (50, 30), (30, 1)]
    assert all(l.p == 0.2 for l in net if isinstance(l, torch.nn.Dropout))


def test_learns_a_linear_signal_better_than_the_mean(data):
    G, y = data
    train, test = G.index[:320], G.index[320:]
    model = MLPRegressor(seed=0).fit(G.loc[train], y.loc[train])
    predicted = model.predict(G.loc[test])
    assert isinstance(predicted, pd.Series) and predicted.index.equals(test)
    mse_model = np.mean((predicted - y.loc[test]) ** 2)
    mse_mean = np.mean((y.loc[train].mean() - y.loc[test]) ** 2)
    assert mse_model < 0.6 * mse_mean
    assert np.corrcoef(predicted, y.loc[test])[0, 1] > 0.6
    # early stopping: stopped `patience` epochs after the best validation loss, or at the cap
    history = model.history_
    assert model.best_epoch_ == history["val_loss"].idxmin()
    assert model.n_epochs_ in (model.best_epoch_ + model.patience, model.max_epochs)


def test_reproducible_and_leaves_global_torch_state_alone(data):
    G, y = data
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = MLPRegressor(seed=7, max_epochs=15).fit(G, y).predict(G)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    second = MLPRegressor(seed=7, max_epochs=15).fit(G, y).predict(G)
    other = MLPRegressor(seed=8, max_epochs=15).fit(G, y).predict(G)
    pd.testing.assert_series_equal(first, second)
    assert not np.allclose(first, other)


def test_aligns_phenotype_by_sample_id(data):
    G, y = data
    shuffled = y.sample(frac=1.0, random_state=1)
    a = MLPRegressor(seed=1, max_epochs=5).fit(G, y).predict(G)
    b = MLPRegressor(seed=1, max_epochs=5).fit(G, shuffled).predict(G)
    pd.testing.assert_series_equal(a, b)
    arrays = MLPRegressor(seed=1, max_epochs=5).fit(G.to_numpy(), y.to_numpy()).predict(G.to_numpy())
    assert isinstance(arrays, np.ndarray)
    np.testing.assert_allclose(arrays, a.to_numpy())


def test_covariates_are_used(data):
    G, _ = data
    rng = np.random.default_rng(0)
    covariates = pd.DataFrame({"age": rng.normal(50, 10, len(G))}, index=G.index)
    y = pd.Series(0.3 * covariates["age"] + rng.normal(0, 1, len(G)), index=G.index)
    train, test = G.index[:320], G.index[320:]
    model = MLPRegressor(seed=0).fit(G.loc[train], y.loc[train], covariates=covariates.loc[train])
    predicted = model.predict(G.loc[test], covariates=covariates.loc[test])
    assert np.corrcoef(predicted, y.loc[test])[0, 1] > 0.9
    with pytest.raises(NtkmixedError, match="covariates"):
        model.predict(G.loc[test])


def test_batches_never_leave_a_single_row():
    for n in range(2, 100):
        batches = _batches(np.arange(n), 32)
        assert sum(b.size for b in batches) == n
        assert all(b.size >= 2 for b in batches)


def test_validation(data):
    G, y = data
    with pytest.raises(NtkmixedError, match="'dropout'"):
        MLPRegressor(dropout=1.0)
    with pytest.raises(NtkmixedError, match="'batch_size'"):
        MLPRegressor(batch_size=1)
    with pytest.raises(NtkmixedError, match="inconsistent numbers of samples"):
        MLPRegressor().fit(G.to_numpy(), y.to_numpy()[:-1])
    with pytest.raises(NtkmixedError, match="not fitted"):
        MLPRegressor().predict(G)
