"""
Kernel ridge regression: choosing λ by cross-validation
=======================================================

NTK-KRR chooses the ridge parameter λ by k-fold cross-validation, scoring every λ on
every fold from one eigendecomposition of the kernel. With λ = σ²_e/σ²_g it predicts
exactly as the kernel LMM does (Ge & Lu, Proposition 1).
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import ntkmixed as nm

example = nm.datasets.load_example()
# the infinite-width NTK: deterministic, and cheap to build three times on this page
kernel = nm.NTK(depth=2, width=None)
cv = nm.krr("y_nonlinear ~ sex + age + population", data=example.data,
            genotypes=example.genotypes, kernel=kernel, cv=5, seed=0)
cv

# %%
# The score of every λ on every fold (here: held-out mean squared error) and the curve:
cv.cv_results.head()

# %%
ax = cv.plot_cv()
plt.gcf().set_size_inches(6, 3.2)
plt.tight_layout()

# %%
# The LMM on the same kernel implies a ridge parameter; KRR at that λ gives the LMM's
# predictions (up to rounding).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", nm.BoundaryWarning)
    lmm = nm.fit("y_nonlinear ~ sex + age + population", data=example.data,
                 genotypes=example.genotypes, kernel=kernel)
    at_lmm = nm.krr("y_nonlinear ~ sex + age + population", data=example.data,
                    genotypes=example.genotypes, kernel=kernel, lambdas=[lmm.implied_lambda])
print(f"LMM-implied λ = {lmm.implied_lambda:.3f}; cross-validated λ = {cv.lambda_:.3f}")
print("largest difference of fitted values:",
      float(np.max(np.abs(at_lmm.fitted - lmm.fitted))))
