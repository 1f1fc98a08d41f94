"""Writes the format-1 archives in this folder with the ntkmixed of commit d39780b (before
the layered layout). Kept so that anyone can see how the files were made; the test
(tests/models/test_archive_compatibility.py) loads them with today's code and compares
their predictions with fresh fits, never with numbers stored here.

    PYTHONPATH=<checkout of d39780b> python tests/data/archives_v1/make_archives.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import ntkmixed as nm

HERE = Path(__file__).parent
N_TRAIN, N_SNPS = 150, 200


def training_data():
    example = nm.datasets.load_example()
    data = example.data.iloc[:N_TRAIN]
    G = example.genotypes.to_dataframe().iloc[:N_TRAIN, :N_SNPS]
    return data, G


def main() -> None:
    warnings.simplefilter("ignore")
    data, G = training_data()
    K = nm.kernels.Polynomial(degree=2).gram(nm.standardize(G, quiet=True)[0])
    nm.fit("y_additive ~ sex + age", data, genotypes=G, kernel=nm.GRM(), method="minque1").save(HERE / "lmm_grm.npz")
    nm.fit("y_nonlinear ~ sex + population", data, genotypes=G,
           kernel=[nm.GRM(), nm.NTK(depth=2, width=None)], method="reml").save(HERE / "lmm_two_kernels.npz")
    nm.fit("y_nonlinear ~ age", data, genotypes=G,
           kernel=nm.Precomputed(K, ids=data.index, name="poly"), method="minque0").save(HERE / "lmm_precomputed.npz")
    nm.krr("y_nonlinear ~ sex", data, genotypes=G, kernel=nm.NTK(depth=2, width=64, seed=3), cv=4,
           lambdas=np.geomspace(0.05, 20, 9)).save(HERE / "krr_ntk.npz")
    nm.krr("y_additive ~ 1", data, genotypes=G, kernel=nm.NNGP(depth=2, normalize="unit-diag"), cv="loo",
           lambdas=np.geomspace(0.05, 20, 9)).save(HERE / "krr_nngp_loo.npz")


if __name__ == "__main__":
    main()
