"""
Kernels and their normalisation
===============================

What the kernels look like on the example genotypes: the GRM is centred, the NTK and NNGP
kernels of a ReLU network are not — their constant part is absorbed by the intercept,
which matters when reading h² as a share of variance.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ntkmixed as nm

example = nm.datasets.load_example()
people = example.genotypes.sample_ids[:200]            # 200 people, for a readable picture
G = example.genotypes.select_samples(people).read()
Z, standardization = nm.standardize(G)                # training means and SDs, kept for new people

kernels = {"GRM": nm.GRM(), "NTK (depth 2, infinite width)": nm.NTK(depth=2, width=None),
           "NNGP (depth 2)": nm.NNGP(depth=2)}
matrices = {}
for name, kernel in kernels.items():
    K = kernel.gram(Z)
    matrices[name] = K / np.mean(np.diag(K))          # "mean-diag", the default normalisation

# %%
# After mean-diagonal normalisation every kernel has mean diagonal 1; the mean entry and
# D = mean(diag K) − mean(K) differ:
pd.DataFrame({
    name: {"mean diagonal": np.mean(np.diag(K)), "mean entry": np.mean(K),
           "D = mean diag − mean entry": np.mean(np.diag(K)) - np.mean(K)}
    for name, K in matrices.items()
}).T.round(3)

# %%
# People are ordered by population, so the structure shows as blocks.
order = np.argsort(example.data.loc[people, "population"].astype(str).to_numpy(), kind="stable")
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, (name, K) in zip(axes, matrices.items()):
    image = ax.imshow(K[np.ix_(order, order)], cmap="viridis", vmin=-0.2, vmax=1.0)
    ax.set_title(name, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(image, ax=axes, shrink=0.8)
