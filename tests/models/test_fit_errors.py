"""Bad input gives errors that name the argument, what was expected and what was received."""

from __future__ import annotations

import numpy as np
import pytest

import ntkmixed as nm


def test_unknown_method(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match=r"'method' parameter of fit must be one of .* Got 'minque2'"):
        nm.fit("y ~ sex", data=data, genotypes=G, method="minque2")


def test_rank_deficient_design_names_aliased_columns(lmm_data):
    data, G = lmm_data
    data = data.assign(age2=2 * data["age"])
    with pytest.raises(nm.NtkmixedError, match=r"\['age2'\] are aliased"):
        nm.fit("y ~ age + age2", data=data, genotypes=G)


def test_constant_response(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match="constant"):
        nm.fit("y ~ 1", data=data.assign(y=1.0), genotypes=G)


def test_fewer_rows_than_parameters(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match="more complete rows than parameters"):
        nm.fit("y ~ sex + age", data=data.iloc[:4], genotypes=G)


def test_inconsistent_numbers_of_samples(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match=r"inconsistent numbers of samples.*120.*119"):
        nm.fit("y ~ sex", data=data, genotypes=G.to_numpy()[:-1])


def test_non_numeric_genotypes(lmm_data):
    data, G = lmm_data
    G = G.astype(object)
    G.iloc[0, 0] = "AA"
    with pytest.raises(nm.NtkmixedError, match="numeric"):
        nm.fit("y ~ sex", data=data, genotypes=G)


def test_genotypes_required_for_genotype_kernels(lmm_data):
    data, _ = lmm_data
    with pytest.raises(nm.NtkmixedError, match="'genotypes' argument of fit is required"):
        nm.fit("y ~ sex", data=data)


def test_unknown_formula_variable(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match=r"not in 'data': \['height'\]"):
        nm.fit("y ~ height", data=data, genotypes=G)


def test_wrong_kernel_type(lmm_data):
    data, G = lmm_data
    with pytest.raises(nm.NtkmixedError, match="kernel objects"):
        nm.fit("y ~ sex", data=data, genotypes=G, kernel="grm")


def test_precomputed_validation_reports_the_smallest_eigenvalue():
    K = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(nm.NtkmixedError, match=r"smallest eigenvalue -1"):
        nm.Precomputed(K)
    with pytest.raises(nm.NtkmixedError, match="square"):
        nm.Precomputed(np.ones((2, 3)))
    with pytest.raises(nm.NtkmixedError, match="symmetric"):
        nm.Precomputed(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(nm.NtkmixedError, match="finite"):
        nm.Precomputed(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_precomputed_without_ids_must_match_data_rows(lmm_data):
    data, _ = lmm_data
    with pytest.raises(nm.NtkmixedError, match="one row per row of 'data'"):
        nm.fit("y ~ sex", data=data, kernel=nm.Precomputed(np.eye(10)))


def test_predict_needs_genotypes_and_columns(lmm_data):
    data, G = lmm_data
    res = nm.fit("y ~ sex + age", data=data, genotypes=G)
    with pytest.raises(nm.NtkmixedError, match="'genotypes' argument of predict is required"):
        res.predict(data.iloc[:3])
    with pytest.raises(nm.NtkmixedError, match=r"lacks column\(s\) used by the formula: \['age'\]"):
        res.predict(data.iloc[:3].drop(columns="age"), G.iloc[:3])
    with pytest.raises(nm.NtkmixedError, match="None of the 3 sample IDs of 'newdata' is in 'genotypes'"):
        res.predict(data.iloc[:3], G.iloc[3:6])
