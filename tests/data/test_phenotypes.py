"""Phenotype/covariate files in PLINK/GCTA layout and their merge with a fileset."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ntkmixed.exceptions import DataWarning, NtkmixedError
from ntkmixed.data.phenotypes import merge_by_iid, read_covar, read_pheno


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_gcta_layout_without_header(tmp_path):
    path = _write(tmp_path, "p.phen", "F1 I1 1.5 -9\nF2 I2 NA 3\nF3 I3 2 4e1\n")
    table = read_pheno(path)
    assert list(table.columns) == ["FID", "pheno1", "pheno2"]
    assert list(table.index) == ["I1", "I2", "I3"] and table.index.name == "IID"
    np.testing.assert_array_equal(table["pheno1"], [1.5, np.nan, 2.0])
    np.testing.assert_array_equal(table["pheno2"], [np.nan, 3.0, 40.0])
    assert table["FID"].tolist() == ["F1", "F2", "F3"]


@pytest.mark.parametrize(
    "text",
    ["FID IID height bmi\n1 10 1.7 20\n2 20 -9 NA\n",
     "#FID\tIID\theight\tbmi\n1\t10\t1.7\t20\n2\t20\t-9\tNA\n",
     "#IID height bmi\n10 1.7 20\n20 -9 NA\n",
     "fam person height bmi\n1 10 1.7 20\n2 20 -9 NA\n"],
)
def test_header_variants(tmp_path, text):
    table = read_pheno(_write(tmp_path, "p.txt", text))
    assert [c for c in table.columns if c != "FID"] == ["height", "bmi"]
    assert list(table.index) == ["10", "20"]  # IDs stay strings
    assert table.loc["10", "height"] == 1.7 and np.isnan(table.loc["20", "height"]) and np.isnan(table.loc["20", "bmi"])


def test_header_can_be_forced(tmp_path):
    path = _write(tmp_path, "p.txt", "a b c\n1 2 3\n")
    with_header = read_pheno(path, header=True)
    assert list(with_header.columns) == ["FID", "c"] and with_header.index.tolist() == ["2"]
    with pytest.raises(NtkmixedError, match=r"line 1 \(IID 'b'\), phenotype 'pheno1' must be numeric.*Got 'c'"):
        read_pheno(path, header=False)


def test_non_numeric_phenotype_is_a_clear_error(tmp_path):
    path = _write(tmp_path, "p.txt", "FID IID y\nA a 1.2\nB b high\nC c 2\n")
    with pytest.raises(NtkmixedError, match=r"line 3 \(IID 'b'\), phenotype 'y' must be numeric.*Got 'high'"):
        read_pheno(path)


def test_file_level_errors(tmp_path):
    with pytest.raises(NtkmixedError, match="does not exist"):
        read_pheno(tmp_path / "nope.txt")
    with pytest.raises(NtkmixedError, match="is empty"):
        read_pheno(_write(tmp_path, "empty.txt", ""))
    with pytest.raises(NtkmixedError, match=r"IID\(s\) more than once.*'a'"):
        read_pheno(_write(tmp_path, "dup.txt", "F a 1\nG a 2\n"))
    with pytest.raises(NtkmixedError, match="at least 3 columns"):
        read_pheno(_write(tmp_path, "two.txt", "F a\nG b\n"))
    with pytest.raises(NtkmixedError, match="line 2: 5 fields, but the first line has 3"):
        read_pheno(_write(tmp_path, "ragged.txt", "F a 1\nG b 2 3 4\n"))


def test_covariates_categorical_and_quantitative(tmp_path):
    path = _write(tmp_path, "c.txt", "FID IID sex age site\nA a M 40 1\nB b F NA 2\nC c F 51 -9\n")
    table = read_covar(path)
    assert isinstance(table["sex"].dtype, pd.CategoricalDtype)
    assert table["age"].dtype == np.float64 and np.isnan(table.loc["b", "age"])
    assert table["site"].dtype == np.float64 and np.isnan(table.loc["c", "site"])
    forced = read_covar(path, categorical=["site"])
    assert isinstance(forced["site"].dtype, pd.CategoricalDtype)
    assert sorted(forced["site"].cat.categories) == ["1", "2"] and pd.isna(forced.loc["c", "site"])
    with pytest.raises(NtkmixedError, match="quantitative covariate 'sex' must be numeric"):
        read_covar(path, quantitative=True)
    with pytest.raises(NtkmixedError, match=r"\['height'\] are not columns"):
        read_covar(path, categorical=["height"])


def test_merge_counts_and_order(tmp_path):
    pheno = read_pheno(_write(tmp_path, "p.txt", "FID IID y\nF1 a 1\nF2 b 2\nF9 z 3\nF4 d -9\n"))
    covar = read_covar(_write(tmp_path, "c.txt", "FID IID sex\nF1 a M\nF2 b F\nF4 d F\nF3 c M\n"))
    with pytest.warns(DataWarning, match=r"1 IID\(s\) of pheno are not in the genotype fileset"):
        data, report = merge_by_iid(["d", "c", "b", "a"], {"pheno": pheno, "covar": covar}, fids=["F4", "F3", "X", "F1"])
    assert list(data.index) == ["d", "b", "a"]  # genotype order; c has no phenotype row
    assert list(data.columns) == ["y", "sex"]
    assert np.isnan(data.loc["d", "y"])  # missing values stay (the model drops them, counted)
    assert report.unmatched == {"pheno": 1, "covar": 0}
    assert report.genotyped_without_data == 1 and report.n_merged == 3 and report.fid_mismatches == 1


def test_merge_without_overlap_or_with_clashing_columns(tmp_path):
    pheno = read_pheno(_write(tmp_path, "p.txt", "F1 x 1\nF2 y 2\n"))
    with pytest.raises(NtkmixedError, match="None of the 2 IIDs in phenotype file is in the genotype fileset"):
        merge_by_iid(["a", "b"], {"phenotype file": pheno})
    other = read_pheno(_write(tmp_path, "q.txt", "F1 x 1\nF2 y 2\n"))
    with pytest.raises(NtkmixedError, match="'pheno1' is in both p and q"):
        merge_by_iid(["x", "y"], {"p": pheno, "q": other})


def test_complete_merge_does_not_warn(tmp_path):
    pheno = read_pheno(_write(tmp_path, "p.txt", "F1 x 1\nF2 y 2\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data, report = merge_by_iid(["x", "y"], {"p": pheno})
    assert report.n_merged == 2 and data["pheno1"].tolist() == [1.0, 2.0]


def test_select_phenotypes_by_name_or_number(tmp_path):
    path = _write(tmp_path, "p.txt", "FID IID sex y1 y2\nA a M 1 2\nB b F NA 4\n")
    assert list(read_pheno(path, columns=["y2"]).columns) == ["FID", "y2"]
    assert list(read_pheno(path, columns=[2]).columns) == ["FID", "y1"]  # GCTA --mpheno 2
    with pytest.raises(NtkmixedError, match="phenotype 'sex' must be numeric"):
        read_pheno(path)  # every column is a phenotype unless chosen
    with pytest.raises(NtkmixedError, match=r"has 3 phenotype column\(s\); phenotype number 4"):
        read_pheno(path, columns=[4])
    with pytest.raises(NtkmixedError, match=r"no column 'y3'. Its columns are \['sex', 'y1', 'y2'\]"):
        read_pheno(path, columns=["y3"])
