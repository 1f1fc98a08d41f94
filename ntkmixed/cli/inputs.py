"""Assembling a run's inputs from the command line: the PLINK fileset with its
selections and QC, phenotype and covariate files merged by IID, the formula, the kernels,
and for ``predict`` the saved model and the new people's dosages."""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._runtime import set_torch_threads
from ..data.design import formula_from_columns
from ..data.phenotypes import merge_by_iid, read_covar, read_pheno
from ..data.plink import read_plink
from ..data.qc import qc
from ..kernels import GRM, NNGP, NTK
from ..exceptions import NtkmixedError
from .errors import CommandError
from .log import Log
from .parser import names

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Inputs:
    genotypes: Any
    data: pd.DataFrame
    formula: str
    phenotype: str
    qc_report: Any
    merge_report: Any
    fids: pd.Series


def load_genotypes(args: argparse.Namespace, log: Log, run_qc: bool = True):
    genotypes = read_plink(args.bfile)
    log.info(f"Read {genotypes.n_samples} people and {genotypes.n_snps} SNPs from {args.bfile}.")
    if getattr(args, "chr", None) is not None:
        genotypes = genotypes.select_region(args.chr, args.from_bp, args.to_bp)
        log.info(f"{genotypes.n_snps} SNPs in the region chromosome {args.chr} {args.from_bp or ''}-{args.to_bp or ''}.")
    elif getattr(args, "from_bp", None) is not None or getattr(args, "to_bp", None) is not None:
        raise CommandError("--from-bp/--to-bp need --chr")
    if getattr(args, "extract", None):
        wanted = _first_column(args.extract)
        present = [s for s in wanted if s in set(genotypes.snp_ids)]
        if not present:
            raise CommandError(f"none of the {len(wanted)} SNPs listed in --extract {args.extract} is in the fileset")
        genotypes = genotypes.select_snps(present)
        log.info(f"--extract: {len(present)} SNPs kept ({len(wanted) - len(present)} listed SNPs not in the fileset).")
    if getattr(args, "keep", None):
        genotypes = _keep(genotypes, args.keep, log)
    if run_qc:
        genotypes = qc(genotypes, maf=args.maf, geno=args.geno, mind=args.mind, hwe=args.hwe)
        log.info(str(genotypes.qc_report))
    return genotypes


def _first_column(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise CommandError(f"file {path!r} does not exist")
    with open(path, encoding="utf-8") as handle:
        return [line.split()[0] for line in handle if line.strip()]


def _keep(genotypes, path: str, log: Log):
    if not os.path.isfile(path):
        raise CommandError(f"file {path!r} (--keep) does not exist")
    with open(path, encoding="utf-8") as handle:
        rows = [line.split() for line in handle if line.strip() and not line.startswith("#")]
    wanted = [row[1] if len(row) >= 2 else row[0] for row in rows]
    known = set(genotypes.sample_ids)
    present = [i for i in genotypes.sample_ids if i in set(wanted)]
    if not present:
        raise CommandError(f"none of the {len(wanted)} people listed in --keep {path} is in the fileset")
    log.info(f"--keep: {len(present)} people kept ({sum(i not in known for i in wanted)} listed IIDs not in the fileset).")
    return genotypes.select_samples(present)


def covariate_tables(args: argparse.Namespace, skip: set[str], same_file: str | None = None) -> dict[str, pd.DataFrame]:
    tables = {}
    categorical = names(getattr(args, "categorical", None)) or []
    chosen = names(getattr(args, "covar_name", None))
    for flag, path, quantitative in (("--covar", args.covar, False), ("--qcovar", args.qcovar, True)):
        if not path:
            continue
        table = read_covar(path, quantitative=quantitative, columns=chosen,
                           categorical=None if quantitative else categorical)
        if same_file is not None and os.path.abspath(path) == os.path.abspath(same_file):
            table = table.drop(columns=[c for c in skip if c in table])
        tables[f"{flag} {path}"] = table
    return tables


def load_inputs(args: argparse.Namespace, log: Log) -> Inputs:
    genotypes = load_genotypes(args, log)
    selector = args.pheno_name if args.pheno_name is not None else (args.mpheno or 1)
    pheno = read_pheno(args.pheno, columns=[selector])
    phenotype = str(pheno.columns[-1])
    log.info(f"Phenotype {phenotype!r} from {args.pheno}: {pheno[phenotype].notna().sum()} of {len(pheno)} people with a value.")
    tables = {f"--pheno {args.pheno}": pheno}
    tables.update(covariate_tables(args, skip={phenotype}, same_file=args.pheno))
    data, merge_report = merge_by_iid(genotypes.sample_ids, tables, fids=genotypes.fid)
    log.info(str(merge_report))
    covariates = [c for c in data.columns if c != phenotype]
    formula, data = _formula(args.formula, phenotype, covariates, data, log)
    fids = pd.Series(genotypes.fid.to_numpy(), index=genotypes.sample_ids)
    genotypes = genotypes.select_samples(data.index)
    return Inputs(genotypes, data, formula, phenotype, genotypes.qc_report, merge_report, fids)


def _formula(text: str | None, phenotype: str, covariates: list[str], data: pd.DataFrame, log: Log) -> tuple[str, pd.DataFrame]:
    if text is None:
        formula = formula_from_columns(phenotype, covariates)
        log.info(f"Formula (all covariates, as GCTA): {formula}")
        return formula, data
    if "~" not in text:
        raise CommandError(f"--formula must have a response and a '~', e.g. '{phenotype} ~ sex + age'; got {text!r}")
    response = text.split("~", 1)[0].strip()
    if _IDENTIFIER.match(response) and response != phenotype:
        if response in data.columns:
            raise CommandError(
                f"--formula response {response!r} is a covariate column, not the phenotype {phenotype!r} "
                "chosen by --pheno-name/--mpheno"
            )
        data = data.rename(columns={phenotype: response})
        log.info(f"Response {response!r} of --formula is phenotype {phenotype!r}.")
    return text, data


def check_kernel_memory(kernel, n: int, p: int, args: argparse.Namespace) -> None:
    """An error naming --width/--depth, before fitting, when an empirical NTK would not fit
    in memory for these n people and p SNPs."""
    for k in kernel if isinstance(kernel, list) else [kernel]:
        if isinstance(k, NTK) and not k.analytic:
            try:
                k.check_memory(n, p)
            except NtkmixedError as exc:
                raise CommandError(f"--width {args.width} --depth {args.depth}: {exc}") from None


def make_kernels(args: argparse.Namespace):
    several = len(args.kernel) > 1
    if "ntk" in args.kernel:
        set_torch_threads(args.threads)
    kernels = []
    for name in args.kernel:
        label = {"grm": "GRM", "ntk": "NTK", "ntk-inf": "NTK_inf", "nngp": "NNGP"}[name] if several else None
        if name == "grm":
            kernels.append(GRM(name=label))
        elif name == "ntk":
            kernels.append(NTK(depth=args.depth, width=args.width, seed=args.seed, name=label))
        elif name == "ntk-inf":
            kernels.append(NTK(depth=args.depth, width=None, name=label))
        else:
            kernels.append(NNGP(depth=args.depth, name=label))
    return kernels if several else kernels[0]


def resolve_model(path: str) -> tuple[str, dict | None]:
    if not os.path.isfile(path):
        raise CommandError(f"model file {path!r} does not exist")
    if path.endswith(".json"):
        description = _read_description(path, "--model")
        if "model_file" not in description:
            raise CommandError(f"{path} is not an ntkmixed result description (no 'model_file')")
        model_file = os.path.join(os.path.dirname(os.path.abspath(path)), description["model_file"])
        if not os.path.isfile(model_file):
            raise CommandError(f"{path} names the model file {model_file!r}, which does not exist")
        return model_file, description
    sidecar = re.sub(r"\.model\.npz$", ".json", path)
    if sidecar != path and os.path.isfile(sidecar):
        return path, _read_description(sidecar, f"the result description next to {path}")
    return path, None


def _read_description(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            description = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path} ({what}) is not valid JSON ({exc})") from None
    if not isinstance(description, dict):
        raise CommandError(f"{path} ({what}) is not an ntkmixed result description (not a JSON object)")
    return description


def training_dosages(genotypes, snps: dict | None, result: Any, log: Log) -> pd.DataFrame:
    """The new people's dosages for the training SNPs, in training order and orientation."""
    if snps is None:
        standardization = getattr(getattr(result, "design", None), "standardization", None)
        if standardization is None:
            raise CommandError("the model file does not record its SNPs; pass the OUT.json written with it")
        snps = {"ids": list(standardization.snp_names)}
        log.warn("no OUT.json next to the model: SNPs matched by ID without checking alleles")
    ids = [str(s) for s in snps["ids"]]
    present = set(genotypes.snp_ids)
    absent = [s for s in ids if s not in present]
    if absent:
        raise CommandError(
            f"{len(absent)} of the model's {len(ids)} SNPs are not in --bfile {genotypes.prefix}: {absent[:5]}"
        )
    selected = genotypes.select_snps(ids)
    dosages = selected.to_dataframe()[ids]
    if "a1" in snps:
        new = selected.snps.drop_duplicates("snp").set_index("snp").loc[ids]
        same = (new["a1"].to_numpy() == np.array(snps["a1"])) & (new["a2"].to_numpy() == np.array(snps["a2"]))
        swapped = (new["a1"].to_numpy() == np.array(snps["a2"])) & (new["a2"].to_numpy() == np.array(snps["a1"]))
        bad = ~(same | swapped)
        if bad.any():
            shown = [f"{s} ({a}/{b} vs {c}/{d})" for s, a, b, c, d in
                     zip(np.array(ids)[bad][:3], new["a1"][bad], new["a2"][bad], np.array(snps["a1"])[bad], np.array(snps["a2"])[bad])]
            raise CommandError(f"{int(bad.sum())} SNPs have alleles that differ from the training data: {', '.join(shown)}")
        if swapped.any():
            dosages.loc[:, swapped] = 2.0 - dosages.loc[:, swapped]
            log.info(f"{int(swapped.sum())} SNPs have A1/A2 swapped relative to training; their dosages were flipped.")
    return dosages
