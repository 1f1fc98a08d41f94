"""
A first NTK-LMM
===============

Fit the kernel linear mixed model with the genomic relationship matrix (GBLUP) and with
the Neural Tangent Kernel of a ReLU network, read the summary, and compare the
heritability estimates of four kernels.
"""

import matplotlib.pyplot as plt
import warnings

import ntkmixed as nm

example = nm.datasets.load_example()
example

# %%
# The data: covariates and two phenotypes, indexed by sample ID. ``y_nonlinear`` has a
# rise-then-fall genetic architecture, ``y_additive`` an additive one.
example.data.head()

# %%
# One model per kernel. ``method="minque1"`` is iterated MINQUE, whose fixed point is the
# REML estimate. The summary is an object: printed it is a text table, in a notebook or
# on this page it is HTML, and ``summary.tables`` are DataFrames.
formula = "y_nonlinear ~ sex + age + population"
res = nm.fit(formula, data=example.data, genotypes=example.genotypes,
             kernel=nm.NTK(depth=2, width=2000, seed=1), method="minque1")
res.summary()

# %%
# Labelled results are plain pandas objects:
res.variance_components

# %%
res.fixed_effects

# %%
# Four kernels on the same phenotype: the GRM, the empirical NTK above, its infinite-width
# limit and the NNGP kernel of the same network (the last two are deterministic and cheap).
kernels = {
    "GRM": nm.GRM(),
    "NTK (infinite width)": nm.NTK(depth=2, width=None),
    "NNGP": nm.NNGP(depth=2),
}
fits = {"NTK (width 2000)": res}                       # the fit above
with warnings.catch_warnings():
    warnings.simplefilter("ignore", nm.BoundaryWarning)
    warnings.simplefilter("ignore", nm.DataWarning)      # the same 8 rows as above
    for label, kernel in kernels.items():
        fits[label] = nm.fit(formula, data=example.data, genotypes=example.genotypes, kernel=kernel)

true_h2 = example.h2["y_nonlinear"]
fig, ax = plt.subplots(figsize=(6, 3))
labels = ["GRM", "NTK (width 2000)", "NTK (infinite width)", "NNGP"]
ax.barh(labels, [fits[k].h2 for k in labels], xerr=[1.96 * fits[k].h2_se for k in labels],
        color="#4c72b0", capsize=3)
ax.axvline(true_h2, color="black", linestyle="--")
ax.set_title(f"dashed: the simulated h² = {true_h2:g}", fontsize=9)
ax.set_xlabel("h² (95 % interval)")
ax.set_xlim(0, 1)
ax.invert_yaxis()
fig.tight_layout()

# %%
# The NTK and NNGP kernels are far from centred, and their h² runs above the simulated
# value; see the user guide's page on heritability for why, and compare kernels on
# prediction of held-out people (next example) rather than on h² alone.
