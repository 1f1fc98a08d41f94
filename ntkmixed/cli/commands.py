"""What the ``ntkmixed`` commands do. Results go to stdout (summaries) and to files; the
log to stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import pandas as pd

from .._runtime import set_torch_threads
from ..data.datasets import load_example
from ..data.phenotypes import merge_by_iid
from ..kernels import GRM, NTK
from ..models import fit, krr, load
from .association import run_gwas, run_kernel_test
from .errors import CommandError
from ..exceptions import UnseenLevelsError
from .inputs import (check_kernel_memory, covariate_tables, load_genotypes, load_inputs, make_kernels, resolve_model,
                     training_dosages)
from .log import Log, progress_lines_to
from .outputs import (Outputs, add_json_and_log, add_log, blp_table, common_json, fixed_table, hsq_text,
                      records, tsv)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.quiet else None


def run_fit(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    outputs = Outputs(args.out)
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    check_kernel_memory(kernel, len(inputs.data), inputs.genotypes.n_snps, args)
    log.info(f"Fitting {inputs.formula} with {kernel!r} by {args.method} (engine {args.engine}) ...")
    started = time.monotonic()
    with progress_lines_to(log):
        result = fit(inputs.formula, inputs.data, genotypes=inputs.genotypes, kernel=kernel, method=args.method,
                     constrain=not args.no_constrain, progress=_progress(args), h2_definition=args.h2_definition,
                     engine=args.engine, probes=args.probes, seed=args.seed)
    log.info(f"Fitted in {time.monotonic() - started:.1f} s by the {result.engine} engine ({result.engine_reason}).")
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())

    outputs.add_text("hsq", hsq_text(result))
    outputs.add_text("blp", tsv(blp_table(result, inputs.fids)))
    outputs.add_text("fixed", tsv(fixed_table(result.fixed_effects)))
    outputs.add("model.npz", result.save)
    document = common_json(args, argv, inputs, kernel, "lmm")
    document.update({
        "n": result.nobs, "n_dropped": result.n_dropped, "method": result.method, "converged": result.converged,
        "constrain": result.constrain, "loglik": result.loglik,
        "engine": {"name": result.engine, "reason": result.engine_reason, "info": result.engine_info},
        "variance_components": records(result.variance_components),
        "variance_components_cov": result.variance_components_cov.to_numpy().tolist(),
        "heritability": records(result.heritability), "h2": result.h2, "h2_se": result.h2_se,
        "h2_definition": result.h2_definition, "h2_conf_int": records(result.conf_int_h2()),
        "sample_variance_factors": result.sample_variance_factors.to_dict(),
        "kernel_diagnostics": records(result.kernel_diagnostics),
        "fixed_effects": records(result.fixed_effects),
        "model_file": os.path.basename(outputs.path("model.npz")),
    })
    add_json_and_log(outputs, document, log)
    outputs.commit(log)


def run_krr(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    outputs = Outputs(args.out)
    lambdas = None
    if args.lambdas:
        try:
            lambdas = [float(x) for x in args.lambdas.split(",") if x.strip()]
        except ValueError:
            raise CommandError(f"--lambdas must be comma-separated numbers; got {args.lambdas!r}") from None
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    check_kernel_memory(kernel, len(inputs.data), inputs.genotypes.n_snps, args)
    log.info(f"Kernel ridge regression {inputs.formula} with {kernel!r}, λ by {args.cv}-fold CV ...")
    result = krr(inputs.formula, inputs.data, inputs.genotypes, kernel=kernel, lambdas=lambdas, cv=args.cv,
                 scoring=args.scoring, seed=args.seed, engine=args.engine)
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())
    cv_results = pd.DataFrame(result.cv_results)
    params = pd.Series(result.params)
    outputs.add_text("cv", cv_results.to_csv(sep="\t", na_rep="NA", float_format="%.10g",
                                             index=not isinstance(cv_results.index, pd.RangeIndex)))
    outputs.add_text("fixed", tsv(pd.DataFrame({"Term": params.index.astype(str), "Estimate": params.to_numpy()})))
    outputs.add("model.npz", result.save)
    document = common_json(args, argv, inputs, kernel, "krr")
    document.update({
        "lambda": result.lambda_, "cv": args.cv, "scoring": args.scoring, "seed": args.seed,
        "engine": result.engine, "engine_info": result.engine_info,
        "cv_results": json.loads(cv_results.to_json(orient="split")),
        "fixed_effects": {str(k): v for k, v in params.items()},
        "model_file": os.path.basename(outputs.path("model.npz")),
    })
    add_json_and_log(outputs, document, log)
    outputs.commit(log)


def run_predict(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    outputs = Outputs(args.out)
    model_file, description = resolve_model(args.model)
    result = load(model_file)
    log.info(f"Loaded {model_file}: {result!r}")
    genotypes = load_genotypes(args, log, run_qc=False)
    snps = description.get("snps") if description else None
    dosages = training_dosages(genotypes, snps, result, log)
    tables = covariate_tables(args, skip=set())
    if tables:
        newdata, report = merge_by_iid(genotypes.sample_ids, tables, fids=genotypes.fid)
        log.info(str(report))
    else:
        newdata = pd.DataFrame(index=genotypes.sample_ids)
    try:
        predicted = result.predict(newdata, genotypes=dosages.loc[newdata.index], allow_new_levels=args.allow_new_levels)
    except UnseenLevelsError as exc:
        raise CommandError(str(exc).replace("The 'newdata' argument of predict has", "The covariates of --covar/--qcovar have")
                           .replace("Pass allow_new_levels=True", "Pass --allow-new-levels")) from None
    fids = pd.Series(genotypes.fid.to_numpy(), index=genotypes.sample_ids)
    table = pd.DataFrame({"FID": fids.reindex(predicted.index).to_numpy(), "IID": predicted.index.to_numpy(),
                          "PRED": predicted.to_numpy()})
    log.info(f"Predicted {int(table['PRED'].notna().sum())} of {len(table)} people.")
    outputs.add_text("pred", tsv(table))
    add_log(outputs, log)
    outputs.commit(log)


def run_example(args: argparse.Namespace, argv: list[str], log: Log) -> None:
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


#: command name -> runner
COMMANDS: dict[str, Callable[[argparse.Namespace, list[str], Log], None]] = {
    "fit": run_fit, "krr": run_krr, "predict": run_predict, "gwas": run_gwas, "kernel-test": run_kernel_test,
    "example": run_example,
}
