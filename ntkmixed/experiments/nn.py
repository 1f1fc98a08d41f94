"""The neural-network baseline of Ge & Lu (arXiv 2510.01426): a small trained MLP that
NTK-LMM and NTK-KRR are compared against.

Architecture and training, as in the paper::

    input (standardised SNPs [+ covariates]) → 50 → 30 → 1
    each hidden layer: Linear → BatchNorm → ReLU → Dropout(0.2)
    loss: mean squared error on the standardised phenotype
    Adam (lr 1e-3) with L2 weight decay, mini-batches of 32, at most 200 epochs,
    early stopping with patience 20 on a 10 % validation split (best weights restored)

Training is reproducible: the validation split and batch order come from a
``numpy.random.Generator`` seeded by ``seed``, and the weights and dropout masks from
torch's CPU generator seeded by ``seed`` inside ``torch.random.fork_rng`` (so the
caller's global torch state is left as it was). On CPU, the same data, settings and seed
give the same predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._runtime import torch_threads
from .._validation import check_positive_float, check_positive_int
from ..exceptions import NtkmixedError
from ..data.genotypes import coerce_genotypes, standardize


class MLPRegressor:
    """The paper's MLP baseline with a scikit-learn-like ``fit`` / ``predict``.

    Parameters
    ----------
    hidden
        Widths of the hidden layers (paper: ``(50, 30)``).
    dropout
        Dropout probability after each hidden layer (0.2).
    lr, weight_decay
        Adam learning rate (1e-3) and L2 penalty coefficient (1e-4).
    batch_size, max_epochs, patience, validation_fraction
        32, 200, 20 and 0.1 as in the paper.
    seed
        Seeds the validation split, batch order, initial weights and dropout masks.
    n_threads
        torch CPU threads used while fitting and predicting (the caller's setting is
        restored afterwards). A network this small runs fastest on one thread: with two
        threads on a busy two-core machine one fit took 30 s instead of 2 s. ``None``
        keeps torch's current setting.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (50, 30),
        dropout: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.1,
        seed: int = 0,
        n_threads: int | None = 1,
    ):
        where = "MLPRegressor"
        self.hidden = tuple(check_positive_int(h, "hidden", where) for h in hidden)
        self.dropout = check_positive_float(dropout, "dropout", where, allow_zero=True)
        if self.dropout >= 1.0:
            raise NtkmixedError(f"The 'dropout' parameter of {where} must be below 1. Got {dropout!r}.")
        self.lr = check_positive_float(lr, "lr", where)
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", where, allow_zero=True)
        self.batch_size = check_positive_int(batch_size, "batch_size", where, minimum=2)
        self.max_epochs = check_positive_int(max_epochs, "max_epochs", where)
        self.patience = check_positive_int(patience, "patience", where)
        self.validation_fraction = check_positive_float(validation_fraction, "validation_fraction", where)
        if self.validation_fraction >= 0.5:
            raise NtkmixedError(
                f"The 'validation_fraction' parameter of {where} must be below 0.5. "
                f"Got {validation_fraction!r}."
            )
        self.seed = check_positive_int(seed, "seed", where, minimum=0)
        self.n_threads = None if n_threads is None else check_positive_int(n_threads, "n_threads", where)

    def __repr__(self) -> str:
        return (
            f"MLPRegressor(hidden={self.hidden}, dropout={self.dropout}, lr={self.lr}, "
            f"weight_decay={self.weight_decay}, batch_size={self.batch_size}, "
            f"max_epochs={self.max_epochs}, patience={self.patience}, seed={self.seed}, "
            f"n_threads={self.n_threads})"
        )

    # --- fitting -------------------------------------------------------------------
    def fit(self, genotypes: Any, y: Any, covariates: Any = None) -> MLPRegressor:
        """Train on raw genotypes (standardised here with the training means/SDs) and a
        phenotype; ``covariates`` (n×q numbers) are standardised and appended as inputs.

        When ``genotypes`` is a DataFrame and ``y`` a Series, they are aligned by sample ID.
        """
        import torch

        G, ids, _ = coerce_genotypes(genotypes, "genotypes", "MLPRegressor.fit")
        target = _as_target(y, ids, G.shape[0])
        Z, self.standardization_ = standardize(G, quiet=True)
        X = self._with_covariates(Z, covariates, ids, fitting=True)
        if not np.isfinite(target).all():
            raise NtkmixedError("The 'y' argument of MLPRegressor.fit has missing or infinite values.")
        n = X.shape[0]
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 2:
            raise NtkmixedError(f"MLPRegressor.fit needs at least 3 individuals. Got {n}.")
        self.y_mean_ = float(target.mean())
        self.y_sd_ = float(target.std()) or 1.0
        t = (target - self.y_mean_) / self.y_sd_

        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        val, train = order[:n_val], order[n_val:]
        X_t = torch.as_tensor(X, dtype=torch.float32)
        t_t = torch.as_tensor(t, dtype=torch.float32).unsqueeze(1)
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = self._network(X.shape[1])
            optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            loss_fn = torch.nn.MSELoss()
            best_loss, best_state, best_epoch, waited = float("inf"), None, 0, 0
            history = []
            for epoch in range(1, self.max_epochs + 1):
                network.train()
                train_loss = 0.0
                for batch in _batches(rng.permutation(train), self.batch_size):
                    optimizer.zero_grad()
                    loss = loss_fn(network(X_t[batch]), t_t[batch])
                    loss.backward()
                    optimizer.step()
                    train_loss += float(loss.detach()) * batch.size
                network.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(network(X_t[val]), t_t[val]))
                history.append((epoch, train_loss / train.size, val_loss))
                if val_loss < best_loss:
                    best_loss, best_epoch, waited = val_loss, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
            network.load_state_dict(best_state)
        network.eval()
        self.network_ = network
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history)
        self.history_ = pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss"]).set_index("epoch")
        return self

    def predict(self, genotypes: Any, covariates: Any = None) -> pd.Series | np.ndarray:
        """Predicted phenotype for new individuals (training standardisation reused);
        a Series indexed by sample ID when ``genotypes`` is a DataFrame, else an array."""
        import torch

        if not hasattr(self, "network_"):
            raise NtkmixedError("This MLPRegressor is not fitted yet; call fit() first.")
        G, ids, _ = coerce_genotypes(genotypes, "genotypes", "MLPRegressor.predict")
        X = self._with_covariates(self.standardization_.apply(G), covariates, ids, fitting=False)
        with torch_threads(self.n_threads), torch.no_grad():
            out = self.network_(torch.as_tensor(X, dtype=torch.float32)).squeeze(1).numpy()
        prediction = self.y_mean_ + self.y_sd_ * out.astype(np.float64)
        if ids is None:
            return prediction
        return pd.Series(prediction, index=ids, name="predicted")

    # --- helpers -------------------------------------------------------------------
    def _network(self, n_inputs: int):
        import torch

        layers: list[torch.nn.Module] = []
        width = n_inputs
        for hidden in self.hidden:
            layers += [
                torch.nn.Linear(width, hidden),
                torch.nn.BatchNorm1d(hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(self.dropout),
            ]
            width = hidden
        layers.append(torch.nn.Linear(width, 1))
        return torch.nn.Sequential(*layers)

    def _with_covariates(self, Z: np.ndarray, covariates: Any, ids: pd.Index | None, fitting: bool) -> np.ndarray:
        where = "MLPRegressor.fit" if fitting else "MLPRegressor.predict"
        if fitting:
            self.n_covariates_ = 0
        if covariates is None:
            if not fitting and self.n_covariates_:
                raise NtkmixedError(f"The model was fitted with {self.n_covariates_} covariate(s); pass 'covariates' to predict.")
            return Z
        if isinstance(covariates, pd.Series):
            covariates = covariates.to_frame()
        if isinstance(covariates, pd.DataFrame):
            if ids is not None:
                missing = ids.difference(covariates.index)
                if len(missing):
                    raise NtkmixedError(
                        f"The 'covariates' argument of {where} lacks {len(missing)} sample ID(s) "
                        f"of the genotypes, e.g. {list(missing[:3])}."
                    )
                covariates = covariates.loc[ids]
            covariates = covariates.to_numpy(dtype=np.float64)
        C = np.asarray(covariates, dtype=np.float64)
        C = C.reshape(-1, 1) if C.ndim == 1 else C
        if C.shape[0] != Z.shape[0] or not np.isfinite(C).all():
            raise NtkmixedError(
                f"The 'covariates' argument of {where} must be finite with one row per "
                f"individual ({Z.shape[0]}). Got shape {C.shape}."
            )
        if fitting:
            self.n_covariates_ = C.shape[1]
            self.covariate_mean_ = C.mean(axis=0)
            sd = C.std(axis=0)
            self.covariate_sd_ = np.where(sd > 0, sd, 1.0)
        elif C.shape[1] != self.n_covariates_:
            raise NtkmixedError(f"Expected {self.n_covariates_} covariate column(s), as in fit. Got {C.shape[1]}.")
        return np.hstack([Z, (C - self.covariate_mean_) / self.covariate_sd_])


def _as_target(y: Any, ids: pd.Index | None, n: int) -> np.ndarray:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise NtkmixedError(f"The 'y' argument of MLPRegressor.fit must be one column. Got {y.shape[1]}.")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series) and ids is not None:
        missing = ids.difference(y.index)
        if len(missing):
            raise NtkmixedError(
                f"The 'y' argument of MLPRegressor.fit lacks {len(missing)} sample ID(s) of the "
                f"genotypes, e.g. {list(missing[:3])}."
            )
        y = y.loc[ids]
    target = np.asarray(y, dtype=np.float64).reshape(-1)
    if target.size != n:
        raise NtkmixedError(
            f"Found input variables with inconsistent numbers of samples: genotypes {n}, y {target.size}."
        )
    return target


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """Mini-batches of ``order``; a trailing batch of one joins the previous one because
    batch normalisation needs at least two rows in training mode."""
    batches = [order[i : i + size] for i in range(0, order.size, size)]
    if len(batches) > 1 and batches[-1].size == 1:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


__all__ = ["MLPRegressor"]
