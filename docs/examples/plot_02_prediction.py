"""
Predicting people the model has not seen
========================================

Hold out a fifth of the people, fit on the rest, and predict the held-out phenotypes
from their covariates and genotypes. Nothing about the held-out people — not even their
genotype means — enters the fit.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ntkmixed as nm

example = nm.datasets.load_example()
data = example.data.dropna(subset=["y_nonlinear"])
genotypes = example.genotypes.to_dataframe()          # dosages indexed by sample ID

rng = np.random.default_rng(7)
test_ids = rng.choice(data.index.to_numpy(), size=len(data) // 5, replace=False)
train, test = data.drop(index=test_ids), data.loc[test_ids]

# %%
# Fit on the training people only, then predict the test people. Genotypes are passed as
# a DataFrame indexed by sample ID, so rows are matched by ID, not by position.
formula = "y_nonlinear ~ sex + age + population"
results = {
    "GRM": nm.fit(formula, data=train, genotypes=genotypes, kernel=nm.GRM()),
    "NTK": nm.fit(formula, data=train, genotypes=genotypes, kernel=nm.NTK(depth=2, width=2000, seed=1)),
}
predictions = {name: res.predict(newdata=test, genotypes=genotypes) for name, res in results.items()}

accuracy = pd.DataFrame({
    name: {"correlation": np.corrcoef(pred, test["y_nonlinear"])[0, 1],
           "mean squared error": float(np.mean((pred - test["y_nonlinear"]) ** 2))}
    for name, pred in predictions.items()
}).T
accuracy

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2), sharex=True, sharey=True)
for ax, (name, pred) in zip(axes, predictions.items()):
    ax.scatter(pred, test["y_nonlinear"], s=10, alpha=0.7)
    ax.set_title(f"{name}: r = {accuracy.loc[name, 'correlation']:.2f}")
    ax.set_xlabel("predicted")
axes[0].set_ylabel("observed (held out)")
fig.tight_layout()

# %%
# A fitted model saves to ``.npz`` + JSON (no pickle) and predicts in a later session:
import tempfile
from pathlib import Path

path = Path(tempfile.mkdtemp()) / "ntk_model.npz"
results["NTK"].save(path)
reloaded = nm.load(path)
np.allclose(reloaded.predict(newdata=test, genotypes=genotypes), predictions["NTK"])
