"""The ntkmixed command line: outputs agree with the Python API, predict reproduces the
model, bad input ends with one clear line, a non-zero exit and no output files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.cli import main
from plink_helpers import write_fileset

N, P = 200, 300


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A fileset with a few missing calls, a phenotype file (two phenotypes, header) and a
    covariate file (categorical sex, numeric age)."""
    directory = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(3)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, P), (N, P)).astype(float)
    G[rng.uniform(size=G.shape) < 0.002] = np.nan
    iids = [f"p{i:03d}" for i in range(N)]
    prefix = write_fileset(directory / "geno", G, iids=iids)
    Z = np.nan_to_num((G - np.nanmean(G, 0)) / np.nanstd(G, 0))
    sex = rng.choice(["F", "M"], N)
    age = rng.normal(50, 10, N).round(1)
    g = Z @ rng.normal(0, np.sqrt(0.5 / P), P)
    y1 = 1 + 0.5 * (sex == "M") + 0.02 * age + g + rng.normal(0, 0.7, N)
    y2 = rng.normal(size=N)
    y1[[4, 9]] = -9
    pd.DataFrame({"FID": iids, "IID": iids, "height": y1, "noise": y2}).to_csv(directory / "pheno.txt", sep=" ", index=False)
    pd.DataFrame({"FID": iids, "IID": iids, "sex": sex, "age": age}).to_csv(directory / "covar.txt", sep="\t", index=False)
    return directory, prefix, G


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _fit_args(study, out, *extra):
    directory, prefix, _ = study
    return ["fit", "--bfile", prefix, "--pheno", directory / "pheno.txt", "--pheno-name", "height",
            "--covar", directory / "covar.txt", "--out", out, *extra]


def test_fit_writes_gcta_style_outputs_that_match_the_api(study, tmp_path, capsys):
    directory, prefix, G = study
    out = tmp_path / "res"
    status, stdout, stderr = _run(capsys, *_fit_args(study, out, "--kernel", "grm", "--method", "reml"))
    assert status == 0, stderr
    assert "Kernel LMM results" in stdout and "Heritability" in stdout
    assert f"QC input: {N} samples, {P} SNPs." in stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["res.blp", "res.fixed", "res.hsq", "res.json", "res.log", "res.model.npz"]

    data = pd.read_csv(directory / "pheno.txt", sep=" ", index_col="IID").drop(columns="FID")
    data = data.join(pd.read_csv(directory / "covar.txt", sep="\t", index_col="IID").drop(columns="FID"))
    data["height"] = data["height"].replace(-9, np.nan)
    genotypes = pd.DataFrame(np.where(np.isnan(G), np.nanmean(G, 0), G), index=data.index)
    expected = nm.fit("height ~ sex + age", data[["height", "sex", "age"]], genotypes=genotypes, method="reml")

    hsq = pd.read_csv(out.with_suffix(".hsq"), sep="\t", index_col="Source")
    assert hsq.loc["V(G)/Vp", "Variance"] == pytest.approx(expected.h2, rel=1e-5)
    assert hsq.loc["V(G)/Vp", "SE"] == pytest.approx(expected.h2_se, rel=1e-5)
    assert hsq.loc["V(e)", "Variance"] == pytest.approx(expected.variance_components["estimate"]["residual"], rel=1e-5)
    assert hsq.loc["Vp", "Variance"] == pytest.approx(expected.variance_components["estimate"].sum(), rel=1e-5)
    assert hsq.loc["logL", "Variance"] == pytest.approx(expected.loglik, abs=1e-5)
    assert hsq.loc["n", "Variance"] == expected.nobs == N - 2

    blp = pd.read_csv(out.with_suffix(".blp"), sep="\t")
    assert list(blp.columns) == ["FID", "IID", "BLUP", "PEV"]
    assert blp["IID"].tolist() == expected.blup.index.tolist()
    np.testing.assert_allclose(blp["BLUP"], expected.blup, rtol=1e-6, atol=1e-9)
    fixed = pd.read_csv(out.with_suffix(".fixed"), sep="\t", index_col="Term")
    np.testing.assert_allclose(fixed["Estimate"], expected.params, rtol=1e-6)

    document = json.loads(out.with_suffix(".json").read_text())
    assert document["h2"] == pytest.approx(expected.h2, rel=1e-6)
    assert document["inputs"]["formula"] == "height ~ sex + age"
    assert document["qc"]["n_imputed"] == int(np.isnan(G).sum())
    assert document["merge"]["n_merged"] == N and document["kernels"][0]["type"] == "GRM"
    assert len(document["snps"]["ids"]) == P
    assert nm.load(tmp_path / document["model_file"]).h2 == pytest.approx(expected.h2)


def test_hsq_and_json_say_which_h2_and_give_its_interval(study, tmp_path, capsys):
    for definition in ["sample-variance", "kernel"]:
        out = tmp_path / definition
        status, _, stderr = _run(capsys, *_fit_args(study, out, "--method", "reml", "--h2-definition", definition))
        assert status == 0, stderr
        model = nm.load(out.with_suffix(".model.npz"))
        assert model.h2_definition == definition
        lines = out.with_suffix(".hsq").read_text().splitlines()
        assert f"# h2 definition: {definition}" in lines
        assert f"# D(G)\t{model.sample_variance_factors.iloc[0]:.6g}" in lines
        interval = model.conf_int_h2()
        assert (f"# V(G)/Vp 95% CI (profile)\t{interval.loc['h2', 'lower']:.6g}\t{interval.loc['h2', 'upper']:.6g}"
                in lines)
        hsq = pd.read_csv(out.with_suffix(".hsq"), sep="\t", index_col="Source")
        assert hsq.loc["V(G)/Vp", "Variance"] == pytest.approx(model.h2, rel=1e-5)
        document = json.loads(out.with_suffix(".json").read_text())
        assert document["h2_definition"] == definition
        assert document["h2_conf_int"]["h2"]["lower"] == pytest.approx(interval.loc["h2", "lower"])
        assert document["kernel_diagnostics"]["GRM"]["sample_variance_factor"] == pytest.approx(
            model.sample_variance_factors.iloc[0])


def test_mpheno_formula_alias_qc_and_region(study, tmp_path, capsys):
    directory, prefix, _ = study
    gcta = tmp_path / "pheno.phen"  # GCTA layout: no header
    lines = (directory / "pheno.txt").read_text().splitlines()[1:]
    gcta.write_text("\n".join(" ".join([*line.split()[:2], line.split()[3], line.split()[2]]) for line in lines) + "\n")
    status, _, stderr = _run(
        capsys, "fit", "--bfile", prefix, "--pheno", gcta, "--mpheno", 2, "--covar", directory / "covar.txt",
        "--formula", "y ~ sex", "--kernel", "ntk-inf", "--depth", 1, "--maf", 0.15, "--chr", 1,
        "--to-bp", 250_000, "--out", tmp_path / "alias", "--quiet")
    assert status == 0, stderr
    document = json.loads((tmp_path / "alias.json").read_text())
    assert document["inputs"]["phenotype"] == "pheno2" and document["inputs"]["formula"] == "y ~ sex"
    kernel = document["kernels"][0]
    assert kernel["type"] == "NTK" and kernel["depth"] == 1 and kernel["width"] in (None, "inf")
    genotypes = nm.read_plink(prefix).select_region(1, end=250_000)
    assert document["qc"]["n_snps_in"] == genotypes.n_snps == 250
    assert document["qc"]["removed"]["maf"] == nm.read_plink(prefix).select_region(1, end=250_000).qc(maf=0.15).qc_report.removed["maf"]
    assert "Kernel" not in stderr.replace("warning", "")  # --quiet: no log lines


def test_predict_reproduces_fitted_values_and_flips_swapped_alleles(study, tmp_path, capsys):
    directory, prefix, G = study
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "m", "--kernel", "grm", "--quiet"))
    assert status == 0, stderr
    status, _, stderr = _run(capsys, "predict", "--model", tmp_path / "m.json", "--bfile", prefix,
                             "--covar", directory / "covar.txt", "--out", tmp_path / "p")
    assert status == 0, stderr
    predicted = pd.read_csv(tmp_path / "p.pred", sep="\t", index_col="IID")["PRED"]
    fitted = nm.load(tmp_path / "m.model.npz").fitted
    # training people: the out-of-sample formula gives back the in-sample fitted values
    # (for people without missing calls: fit imputes with means over all people after QC,
    # predict with the training standardisation's means)
    complete = pd.Index([f"p{i:03d}" for i in range(N)])[~np.isnan(G).any(axis=1)].intersection(fitted.index)
    assert len(complete) > 50
    np.testing.assert_allclose(predicted.reindex(complete), fitted.reindex(complete), rtol=1e-7)

    # the same people in a fileset with A1/A2 swapped and SNPs in another order
    order = np.random.default_rng(0).permutation(P)
    new_ids = [f"p{i:03d}" for i in range(20)]
    swapped = write_fileset(tmp_path / "new", 2.0 - G[:20][:, order], iids=new_ids,
                            sid=[f"rs{j}" for j in order], a1=["G"] * P, a2=["A"] * P, pos=np.arange(1, P + 1) * 1000)
    status, _, stderr = _run(capsys, "predict", "--model", tmp_path / "m.model.npz", "--bfile", swapped,
                             "--covar", directory / "covar.txt", "--out", tmp_path / "q")
    assert status == 0, stderr
    assert "300 SNPs have A1/A2 swapped" in stderr
    again = pd.read_csv(tmp_path / "q.pred", sep="\t", index_col="IID")["PRED"]
    np.testing.assert_allclose(again, predicted.loc[new_ids], rtol=1e-10)


def test_krr_command(study, tmp_path, capsys):
    args = _fit_args(study, tmp_path / "k", "--kernel", "grm", "--lambdas", "0.3,1,3", "--cv", 3)
    status, stdout, stderr = _run(capsys, "krr", *args[1:])
    assert status == 0, stderr
    document = json.loads((tmp_path / "k.json").read_text())
    assert document["analysis"] == "krr" and document["lambda"] in (0.3, 1.0, 3.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.cv", "k.fixed", "k.json", "k.log", "k.model.npz"]
    status, _, stderr = _run(capsys, "predict", "--model", tmp_path / "k.json", "--bfile", study[1],
                             "--covar", study[0] / "covar.txt", "--out", tmp_path / "kp")
    assert status == 0, stderr
    # the matrix-free engine on the same inputs: the same λ, its CG work in the JSON
    args = _fit_args(study, tmp_path / "m", "--kernel", "grm", "--lambdas", "0.3,1,3", "--cv", 3,
                     "--engine", "matrix-free")
    status, _, stderr = _run(capsys, "krr", *args[1:])
    assert status == 0, stderr
    free = json.loads((tmp_path / "m.json").read_text())
    assert free["engine"] == "matrix-free" and document["engine"] in ("eigen", "band", "factor")
    assert free["lambda"] == document["lambda"] and 0 < free["engine_info"]["cg_residual_max"] <= 1e-6


# --- bad input: one line, exit != 0, nothing written -----------------------------------
def _copy_fileset(prefix, directory, name):
    for ext in ("bed", "bim", "fam"):
        shutil.copy(f"{prefix}.{ext}", directory / f"{name}.{ext}")
    return directory / name


def _broken_inputs(study, work):
    directory, prefix, G = study
    cases = {}
    missing = _copy_fileset(prefix, work, "nobed")
    (work / "nobed.bed").unlink()
    cases["missing .bed"] = ({"--bfile": missing}, r"incomplete: missing .*nobed\.bed")
    truncated = _copy_fileset(prefix, work, "trunc")
    with open(f"{truncated}.bed", "r+b") as handle:
        handle.truncate(1000)
    cases["truncated .bed"] = ({"--bfile": truncated}, "truncated: 1000 bytes")
    extra = _copy_fileset(prefix, work, "extra")
    with open(f"{extra}.bim", "a") as handle:
        handle.write("1 rsX 0 999999 A G\n")
    cases[".bim rows vs .bed"] = ({"--bfile": extra}, r"301 SNPs \(\.bim\) need")
    dups = _copy_fileset(prefix, work, "dups")
    fam = (work / "dups.fam").read_text().replace("p001", "p000")
    (work / "dups.fam").write_text(fam)
    cases["duplicated IIDs"] = ({"--bfile": dups}, r"duplicated IID\(s\).*'p000'")
    strangers = work / "strangers.txt"
    strangers.write_text("FID IID height\n" + "".join(f"x{i} x{i} {i}.5\n" for i in range(10)))
    cases["phenotype IDs absent"] = ({"--pheno": strangers}, "None of the 10 IIDs in --pheno .* is in the genotype fileset")
    words = work / "words.txt"
    words.write_text("FID IID height\np000 p000 tall\np001 p001 1.2\n")
    cases["non-numeric phenotype"] = ({"--pheno": words}, r"words.txt', line 2 \(IID 'p000'\), phenotype 'height' must be numeric .*Got 'tall'")
    hole = G.copy()
    hole[:, 7] = np.nan
    cases["SNP missing for everyone"] = (
        {"--bfile": write_fileset(work / "hole", hole, iids=[f"p{i:03d}" for i in range(N)])},
        r"no called genotype .*'rs7'")
    cases["output directory missing"] = ({"--out": work / "no" / "such" / "dir" / "res"}, r"output directory .*no/such/dir.* does not exist")
    return cases


def test_bad_inputs_fail_cleanly(study, tmp_path, capsys):
    work = tmp_path / "inputs"
    work.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name, (override, message) in _broken_inputs(study, work).items():
        args = _fit_args(study, out_dir / "res")
        for flag, value in override.items():
            args[args.index(flag) + 1] = value
        status, stdout, stderr = _run(capsys, *args)
        lines = [line for line in stderr.splitlines() if not line.startswith("ntkmixed: warning:") and "ntkmixed: error" in line]
        assert status == 1, name
        assert len(lines) == 1 and lines[0].startswith("ntkmixed: error: "), (name, stderr)
        assert re.search(message, lines[0]), (name, lines[0])
        assert "Traceback" not in stderr
        assert list(out_dir.iterdir()) == [], name  # nothing written, no temporary left


def test_usage_errors_exit_2_with_one_line(study, tmp_path, capsys):
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "r", "--kernel", "rbf"))
    assert status == 2 and stderr.count("\n") == 1 and stderr.startswith("ntkmixed: error: argument --kernel")
    status, _, stderr = _run(capsys, "fit", "--pheno", "x")
    assert status == 2 and "required" in stderr and stderr.count("\n") == 1


def test_failure_while_writing_leaves_nothing(study, tmp_path, capsys, monkeypatch):
    from ntkmixed.models import LMMResults

    def broken_save(self, path):
        Path(path).write_text("partial")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(LMMResults, "save", broken_save)
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "r", "--quiet"))
    assert status == 1 and "No space left on device" in stderr
    assert list(tmp_path.iterdir()) == []


def test_threads_option_is_restored(study, tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    before_env, before_torch = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    seen = []
    import ntkmixed.cli.commands as commands

    real_fit = commands.fit
    monkeypatch.setattr(commands, "fit", lambda *a, **k: seen.append((os.environ["OMP_NUM_THREADS"], torch.get_num_threads())) or real_fit(*a, **k))
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "t", "--threads", 1, "--quiet"))
    assert status == 0, stderr
    assert seen == [("1", 1)]  # limited while computing
    assert os.environ.get("OMP_NUM_THREADS") == before_env and torch.get_num_threads() == before_torch


def test_console_entry_point_in_a_subprocess(study, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(nm.__file__).parent.parent)}
    ok = subprocess.run([sys.executable, "-m", "ntkmixed.cli", *map(str, _fit_args(study, tmp_path / "s", "--quiet", "--threads", 1))],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "Kernel LMM results" in ok.stdout and (tmp_path / "s.hsq").is_file()
    bad = subprocess.run([sys.executable, "-m", "ntkmixed.cli", *map(str, _fit_args(study, tmp_path / "missing" / "s"))],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("ntkmixed: error: output directory")
    assert bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_example_command_prints_grm_and_ntk_heritability(capsys):
    status, stdout, stderr = _run(capsys, "example", "--width", 512, "--quiet")
    assert status == 0, stderr
    assert "Heritability of y_nonlinear (simulated h² = 0.6" in stdout
    assert "GRM()" in stdout and "NTK(depth=2, width=512, seed=1)" in stdout
    assert stdout.count("Kernel LMM results") == 2


def test_several_kernels_give_one_component_each(study, tmp_path, capsys):
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "two", "--kernel", "grm,nngp", "--quiet"))
    assert status == 0, stderr
    hsq = pd.read_csv(tmp_path / "two.hsq", sep="\t", comment="#", index_col="Source")
    assert list(hsq.index[:3]) == ["V(G1)", "V(G2)", "V(e)"] and "Sum of V(G)/Vp" in hsq.index
    assert hsq.loc["Sum of V(G)/Vp", "Variance"] == pytest.approx(hsq.loc["V(G1)/Vp", "Variance"] + hsq.loc["V(G2)/Vp", "Variance"], abs=2e-6)
    blp = pd.read_csv(tmp_path / "two.blp", sep="\t")
    assert list(blp.columns) == ["FID", "IID", "BLUP", "PEV", "BLUP_GRM", "PEV_GRM", "BLUP_NNGP", "PEV_NNGP"]
    np.testing.assert_allclose(blp["BLUP"], blp["BLUP_GRM"] + blp["BLUP_NNGP"], atol=1e-8)


def test_fit_streams_the_bed_with_the_matrix_free_engine_and_logs_each_iteration(study, tmp_path, capsys, monkeypatch):
    from ntkmixed.data.plink import Genotypes

    def refuse(self):
        raise AssertionError("the whole fileset was read into one matrix")

    monkeypatch.setattr(Genotypes, "to_dataframe", refuse)
    monkeypatch.setattr(Genotypes, "__array__", refuse)
    out = tmp_path / "mf"
    status, stdout, stderr = _run(capsys, *_fit_args(study, out, "--method", "reml", "--engine", "matrix-free",
                                                     "--probes", 8, "--seed", 3))
    assert status == 0, stderr
    assert "Engine:" in stdout and "matrix-free" in stdout
    log = out.with_suffix(".log").read_text()
    assert re.search(r"reml iteration 1: theta = \[", log) and "by the matrix-free engine" in log
    document = json.loads(out.with_suffix(".json").read_text())
    assert document["engine"]["name"] == "matrix-free" and document["engine"]["info"]["probes"] == 8
    assert document["engine"]["info"]["seed"] == 3 and document["engine"]["info"]["cg_iterations"] > 0
    blp = pd.read_csv(out.with_suffix(".blp"), sep="\t")
    assert blp["PEV"].isna().all() and blp["BLUP"].notna().all()
    status, _, stderr = _run(capsys, *_fit_args(study, tmp_path / "bad", "--engine", "matrix-free", "--probes", 1))
    assert status != 0 and "at least 2 probes" in stderr
