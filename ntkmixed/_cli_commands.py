"""What the ``ntkmixed`` commands do; the parser, logging and atomic outputs are in
:mod:`ntkmixed.cli`. Results go to stdout (summaries) and to files; the log to stderr."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .cli import JSON_FORMAT, CommandError, Log, Outputs, _names, set_torch_threads

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


# --- shared steps ---------------------------------------------------------------------
def load_genotypes(args: argparse.Namespace, log: Log, run_qc: bool = True):
    from .plink import read_plink
    from .qc import qc

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
    from .phenotypes import read_covar

    tables = {}
    categorical = _names(getattr(args, "categorical", None)) or []
    chosen = _names(getattr(args, "covar_name", None))
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
    from .phenotypes import merge_by_iid, read_pheno

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
        terms = [c if _IDENTIFIER.match(c) else f"`{c}`" for c in covariates]
        response = phenotype if _IDENTIFIER.match(phenotype) else f"`{phenotype}`"
        formula = f"{response} ~ " + (" + ".join(terms) if terms else "1")
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


def make_kernels(args: argparse.Namespace):
    from .kernels import GRM, NNGP, NTK

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


def _as_list(kernel: Any) -> list:
    return kernel if isinstance(kernel, list) else [kernel]


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (pd.Index, np.ndarray)):
        return [_json_ready(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(index): {str(k): v for k, v in row.items()} for index, row in frame.iterrows()}


def _snp_table(genotypes) -> dict[str, list[str]]:
    snps = genotypes.snps
    return {"ids": snps["snp"].tolist(), "a1": snps["a1"].tolist(), "a2": snps["a2"].tolist()}


def _tsv(frame: pd.DataFrame) -> str:
    floats = frame.select_dtypes("float").columns
    frame = frame.assign(**{c: frame[c] + 0.0 for c in floats})  # -0.0 prints as 0
    return frame.to_csv(sep="\t", index=False, na_rep="NA", float_format="%.10g")


def _common_json(args: argparse.Namespace, argv: list[str], inputs: Inputs, kernel: Any, analysis: str) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "ntkmixed_version": __version__,
        "command": ["ntkmixed", *argv],
        "analysis": analysis,
        "inputs": {"bfile": args.bfile, "pheno": args.pheno, "phenotype": inputs.phenotype, "covar": args.covar,
                   "qcovar": args.qcovar, "formula": inputs.formula},
        "kernels": [k.config() for k in _as_list(kernel)],
        "qc": inputs.qc_report.to_dict(),
        "merge": {"n_genotyped": inputs.merge_report.n_genotyped, "n_merged": inputs.merge_report.n_merged,
                  "unmatched": inputs.merge_report.unmatched,
                  "genotyped_without_data": inputs.merge_report.genotyped_without_data,
                  "fid_mismatches": inputs.merge_report.fid_mismatches},
        "snps": _snp_table(inputs.genotypes),
    }


def _add_json_and_log(outputs: Outputs, document: dict[str, Any], log: Log) -> None:
    def write_json(path: str) -> None:
        document["warnings"] = list(log.warnings)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(_json_ready(document), handle, indent=1, allow_nan=False)
            handle.write("\n")

    outputs.add("json", write_json)
    _add_log(outputs, log)


def _add_log(outputs: Outputs, log: Log) -> None:
    def write_log(path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(log.lines) + "\n")

    outputs.add("log", write_log)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.quiet else None


# --- fit --------------------------------------------------------------------------------
def run_fit(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    from .model import fit

    outputs = Outputs(args.out)
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    log.info(f"Fitting {inputs.formula} with {kernel!r} by {args.method} ...")
    started = time.monotonic()
    result = fit(inputs.formula, inputs.data, genotypes=inputs.genotypes, kernel=kernel, method=args.method,
                 constrain=not args.no_constrain, progress=_progress(args))
    log.info(f"Fitted in {time.monotonic() - started:.1f} s.")
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())

    outputs.add_text("hsq", hsq_text(result))
    outputs.add_text("blp", _tsv(blp_table(result, inputs.fids)))
    outputs.add_text("fixed", _tsv(fixed_table(result.fixed_effects)))
    outputs.add("model.npz", result.save)
    document = _common_json(args, argv, inputs, kernel, "lmm")
    document.update({
        "n": result.nobs, "n_dropped": result.n_dropped, "method": result.method, "converged": result.converged,
        "constrain": result.constrain, "loglik": result.loglik,
        "variance_components": _records(result.variance_components),
        "variance_components_cov": result.variance_components_cov.to_numpy().tolist(),
        "heritability": _records(result.heritability), "h2": result.h2, "h2_se": result.h2_se,
        "fixed_effects": _records(result.fixed_effects),
        "model_file": os.path.basename(outputs.path("model.npz")),
    })
    _add_json_and_log(outputs, document, log)
    outputs.commit(log)


def hsq_text(result: Any) -> str:
    """GCTA's .hsq layout: Source, Variance, SE."""
    components = result.variance_components
    cov = result.variance_components_cov.to_numpy()
    k = len(components) - 1
    labels = ["V(G)"] if k == 1 else [f"V(G{i + 1})" for i in range(k)]
    rows = [(label, components["estimate"].iloc[i], components["se"].iloc[i]) for i, label in enumerate(labels)]
    rows.append(("V(e)", components["estimate"].iloc[k], components["se"].iloc[k]))
    rows.append(("Vp", components["estimate"].sum(), math.sqrt(max(float(cov.sum()), 0.0))))
    heritability = result.heritability
    rows += [(f"{label}/Vp", heritability["estimate"].iloc[i], heritability["se"].iloc[i]) for i, label in enumerate(labels)]
    if k > 1:
        rows.append(("Sum of V(G)/Vp", result.h2, result.h2_se))
    lines = ["Source\tVariance\tSE"] + [f"{s}\t{v:.6g}\t{se:.6g}" for s, v, se in rows]
    lines += [f"logL\t{result.loglik:.6f}", f"n\t{result.nobs}"]
    if k > 1:
        lines += [f"# G{i + 1}\t{name}" for i, name in enumerate(components.index[:k])]
    return "\n".join(lines) + "\n"


def blp_table(result: Any, fids: pd.Series) -> pd.DataFrame:
    ids = result.blup.index
    table = pd.DataFrame({"FID": fids.reindex(ids).to_numpy(), "IID": ids.to_numpy(),
                          "BLUP": result.blup.to_numpy(), "PEV": result.blup_pev["total"].to_numpy()})
    components = result.blup_components
    if components.shape[1] > 1:
        for name in components.columns:
            table[f"BLUP_{name}"] = components[name].to_numpy()
            table[f"PEV_{name}"] = result.blup_pev[name].to_numpy()
    return table


def fixed_table(effects: pd.DataFrame) -> pd.DataFrame:
    table = effects.rename(columns={"coef": "Estimate", "se": "SE", "z": "Z", "p": "P",
                                    "ci_lower": "CI_lower", "ci_upper": "CI_upper"})
    table.insert(0, "Term", effects.index.astype(str))
    return table


# --- krr --------------------------------------------------------------------------------
def run_krr(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    from .ridge import krr

    outputs = Outputs(args.out)
    lambdas = None
    if args.lambdas:
        try:
            lambdas = [float(x) for x in args.lambdas.split(",") if x.strip()]
        except ValueError:
            raise CommandError(f"--lambdas must be comma-separated numbers; got {args.lambdas!r}") from None
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    log.info(f"Kernel ridge regression {inputs.formula} with {kernel!r}, λ by {args.cv}-fold CV ...")
    result = krr(inputs.formula, inputs.data, inputs.genotypes, kernel=kernel, lambdas=lambdas, cv=args.cv,
                 scoring=args.scoring, seed=args.seed)
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())
    cv_results = pd.DataFrame(result.cv_results)
    params = pd.Series(result.params)
    outputs.add_text("cv", cv_results.to_csv(sep="\t", na_rep="NA", float_format="%.10g",
                                             index=not isinstance(cv_results.index, pd.RangeIndex)))
    outputs.add_text("fixed", _tsv(pd.DataFrame({"Term": params.index.astype(str), "Estimate": params.to_numpy()})))
    outputs.add("model.npz", result.save)
    document = _common_json(args, argv, inputs, kernel, "krr")
    document.update({
        "lambda": result.lambda_, "cv": args.cv, "scoring": args.scoring, "seed": args.seed,
        "cv_results": json.loads(cv_results.to_json(orient="split")),
        "fixed_effects": {str(k): v for k, v in params.items()},
        "model_file": os.path.basename(outputs.path("model.npz")),
    })
    _add_json_and_log(outputs, document, log)
    outputs.commit(log)


# --- predict ----------------------------------------------------------------------------
def run_predict(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    from .io import load
    from .phenotypes import merge_by_iid

    outputs = Outputs(args.out)
    model_file, description = _resolve_model(args.model)
    result = load(model_file)
    log.info(f"Loaded {model_file}: {result!r}")
    genotypes = load_genotypes(args, log, run_qc=False)
    snps = description.get("snps") if description else None
    dosages = _training_dosages(genotypes, snps, result, log)
    tables = covariate_tables(args, skip=set())
    if tables:
        newdata, report = merge_by_iid(genotypes.sample_ids, tables, fids=genotypes.fid)
        log.info(str(report))
    else:
        newdata = pd.DataFrame(index=genotypes.sample_ids)
    predicted = result.predict(newdata, genotypes=dosages.loc[newdata.index], allow_new_levels=args.allow_new_levels)
    fids = pd.Series(genotypes.fid.to_numpy(), index=genotypes.sample_ids)
    table = pd.DataFrame({"FID": fids.reindex(predicted.index).to_numpy(), "IID": predicted.index.to_numpy(),
                          "PRED": predicted.to_numpy()})
    log.info(f"Predicted {int(table['PRED'].notna().sum())} of {len(table)} people.")
    outputs.add_text("pred", _tsv(table))
    _add_log(outputs, log)
    outputs.commit(log)


def _resolve_model(path: str) -> tuple[str, dict | None]:
    if not os.path.isfile(path):
        raise CommandError(f"model file {path!r} does not exist")
    if path.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as handle:
                description = json.load(handle)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON ({exc})") from None
        if "model_file" not in description:
            raise CommandError(f"{path} is not an ntkmixed result description (no 'model_file')")
        model_file = os.path.join(os.path.dirname(os.path.abspath(path)), description["model_file"])
        if not os.path.isfile(model_file):
            raise CommandError(f"{path} names the model file {model_file!r}, which does not exist")
        return model_file, description
    sidecar = re.sub(r"\.model\.npz$", ".json", path)
    if sidecar != path and os.path.isfile(sidecar):
        with open(sidecar, encoding="utf-8") as handle:
            return path, json.load(handle)
    return path, None


def _training_dosages(genotypes, snps: dict | None, result: Any, log: Log) -> pd.DataFrame:
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


# --- example ----------------------------------------------------------------------------
def run_example(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    from .datasets import load_example
    from .kernels import GRM, NTK
    from .model import fit

    started = time.monotonic()
    example = load_example()
    truth = example.truth["phenotypes"][args.phenotype]
    formula = f"{args.phenotype} ~ sex + age + education + population"
    log.info(f"Example: {example!r}")
    rows = []
    set_torch_threads(args.threads)
    for kernel in (GRM(), NTK(depth=args.depth, width=args.width, seed=args.seed)):
        log.info(f"Fitting {formula} with {kernel!r} by {args.method} ...")
        tic = time.monotonic()
        result = fit(formula, example.data, genotypes=example.genotypes, kernel=kernel, method=args.method,
                     progress=_progress(args))
        seconds = time.monotonic() - tic
        print(result.summary(), end="\n\n", flush=True)
        rows.append({"kernel": repr(kernel), "h2": result.h2, "se": result.h2_se, "logL": result.loglik, "seconds": seconds})
    table = pd.DataFrame(rows).set_index("kernel")
    print(f"Heritability of {args.phenotype} (simulated h² = {truth['h2']:g}, realised {truth['realized_h2']:.3f}; "
          f"{truth['link']})")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    log.info(f"Done in {time.monotonic() - started:.1f} s.")
    sys.stdout.flush()
