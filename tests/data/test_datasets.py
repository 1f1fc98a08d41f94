"""The embedded example dataset: shape, types, common SNPs, LD and population structure,
the recorded truth matches the data, and the generating script reproduces the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.data.datasets import DATA_DIR, example_paths, load_example
from ntkmixed.data.qc import snp_statistics


@pytest.fixture(scope="module")
def example():
    return load_example()


@pytest.fixture(scope="module")
def dosages(example):
    return example.genotypes.read()


def test_shape_types_and_ids(example):
    assert example.genotypes.shape == (700, 740)
    data = example.data
    assert data.index.name == "IID" and data.index.equals(example.genotypes.sample_ids)
    assert list(data.columns) == ["sex", "age", "education", "population", "y_additive", "y_nonlinear"]
    for column in ("sex", "education", "population"):
        assert isinstance(data[column].dtype, pd.CategoricalDtype)
    assert list(data["education"].cat.categories) == ["primary", "secondary", "tertiary"]
    assert data["population"].value_counts().to_dict() == {"popA": 400, "popB": 300}
    assert data[["age", "y_additive", "y_nonlinear"]].dtypes.eq(np.float64).all()
    assert not data[["sex", "age", "education", "population"]].isna().any().any()
    assert 0 < data["y_additive"].isna().sum() < 20 and 0 < data["y_nonlinear"].isna().sum() < 20
    assert example.h2 == {"y_additive": 0.5, "y_nonlinear": 0.6}
    assert "700 people × 740 SNPs" in repr(example)


def test_stored_small_as_plink_fileset_and_tsv():
    names = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
    assert names == ["example.bed", "example.bim", "example.fam", "example.tsv", "example_truth.json"]
    assert sum(p.stat().st_size for p in DATA_DIR.iterdir()) < 2_000_000
    assert Path(example_paths()["bfile"] + ".bed").is_file()


def test_snps_are_common_complete_and_in_one_region(example):
    stats = snp_statistics(example.genotypes)
    assert stats["maf"].min() >= 0.05
    assert stats["n_missing"].sum() == 0
    snps = example.genotypes.snps
    assert set(snps["chrom"]) == {"1"} and snps["pos"].is_monotonic_increasing
    assert snps["pos"].max() - snps["pos"].min() < 1_000_000
    assert (stats["a1_freq"] <= 0.5).all()  # A1 is the minor allele, PLINK 1 habit


def test_two_population_structure(example, dosages):
    Z = (dosages - dosages.mean(0)) / dosages.std(0)
    pc1 = np.linalg.svd(Z, full_matrices=False)[0][:, 0]
    is_b = (example.data["population"] == "popB").to_numpy()
    assert abs(np.corrcoef(pc1, is_b)[0, 1]) > 0.9
    # F_ST (Hudson) between the populations: realistic between-continent scale
    pa, pb = dosages[~is_b].mean(0) / 2, dosages[is_b].mean(0) / 2
    fst = np.mean((pa - pb) ** 2) / np.mean(pa * (1 - pb) + pb * (1 - pa))
    assert 0.01 < fst < 0.3


def test_linkage_disequilibrium_decays_with_distance(example, dosages):
    pos = example.genotypes.snps["pos"].to_numpy()
    r2 = np.corrcoef(dosages.T) ** 2
    i, j = np.triu_indices(len(pos), k=1)
    distance = pos[j] - pos[i]
    near, far = r2[i, j][distance < 10_000].mean(), r2[i, j][distance > 300_000].mean()
    assert near > 0.1 and near > 4 * far


def test_truth_describes_the_phenotypes(example, dosages):
    """Rebuild the genetic values from the recorded causal SNPs and effects: the residual
    left after the recorded fixed effects has the recorded variance and no covariate
    signal."""
    data, truth = example.data, example.truth
    fixed_effects = truth["fixed_effects"]
    fixed = (fixed_effects["intercept"] + fixed_effects["sex[male]"] * (data["sex"] == "male")
             + fixed_effects["age (per year)"] * (data["age"] - 60)
             + fixed_effects["education[secondary]"] * (data["education"] == "secondary")
             + fixed_effects["education[tertiary]"] * (data["education"] == "tertiary")
             + fixed_effects["population[popB]"] * (data["population"] == "popB")).to_numpy(float)
    snp_ids = example.genotypes.snp_ids
    for name, spec in truth["phenotypes"].items():
        columns = snp_ids.get_indexer(spec["causal_snps"])
        Z = dosages[:, columns]
        Z = (Z - Z.mean(0)) / Z.std(0)
        score = Z @ np.array(spec["causal_effects_standardised"])
        score = (score - score.mean()) / score.std()
        if name == "y_nonlinear":
            s = np.logaddexp(0, score)
            score = s * np.exp(-s)
        value = (score - score.mean()) / score.std() * np.sqrt(spec["h2"])
        y = data[name].to_numpy()
        seen = ~np.isnan(y)
        noise = (y - fixed - value)[seen]
        assert seen.sum() == 700 - spec["n_missing"]
        assert noise.var() == pytest.approx(spec["residual_variance"], abs=0.08)
        assert abs(noise.mean()) < 0.1
        assert abs(np.corrcoef(noise, data["age"].to_numpy()[seen])[0, 1]) < 0.12
        realized = value[seen].var() / (value[seen].var() + noise.var())
        assert realized == pytest.approx(spec["realized_h2"], abs=0.02)


def test_generating_script_reproduces_the_files(tmp_path):
    msprime = pytest.importorskip("msprime", exc_type=ImportError)
    truth = json.loads((DATA_DIR / "example_truth.json").read_text())
    if msprime.__version__ != truth["msprime_version"]:
        pytest.skip(f"files were made with msprime {truth['msprime_version']}, this is {msprime.__version__}")
    from ntkmixed.data.datasets.make_example import main

    main(["--out", str(tmp_path)])
    for path in DATA_DIR.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_example_works_with_the_model(example):
    result = nm.fit("y_additive ~ sex + age + education + population", data=example.data,
                    genotypes=example.genotypes, kernel=nm.GRM())
    assert result.nobs == 700 - example.truth["phenotypes"]["y_additive"]["n_missing"]
    # h² of the additive trait within 3 SE of the simulated value
    assert abs(result.h2 - example.truth["phenotypes"]["y_additive"]["realized_h2"]) < 3 * result.h2_se
