"""The ``gwas`` and ``kernel-test`` commands: per-SNP scans (GCTA's .mlma, a log, QQ and
Manhattan PNGs) and kernel tests of regions (a tidy table). Every file is written only
when all are computed (:class:`~.outputs.Outputs`)."""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from ..association import gwas, region_scan
from ..kernels import GRM
from .errors import CommandError
from .inputs import load_inputs, make_kernels
from .log import Log
from .outputs import Outputs, add_json_and_log, common_json, records, tsv


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.quiet else None


def run_gwas(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    outputs = Outputs(args.out)
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    if isinstance(kernel, list):
        raise CommandError("gwas takes one background kernel (--kernel grm, ntk, ntk-inf or nngp)")
    log.info(f"GWAS {inputs.formula}: {args.test} test, background {kernel!r}, null by {args.null_method}, "
             f"LOCO {'on' if args.loco else 'off'} ...")
    started = time.monotonic()
    result = gwas(inputs.formula, inputs.data, inputs.genotypes, kernel=kernel, loco=args.loco, test=args.test,
                  null_method=args.null_method, progress=_progress(args))
    log.info(f"Tested {result.n_tested} SNPs in {time.monotonic() - started:.1f} s; λ_GC = {result.lambda_gc:.4f}.")
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())
    outputs.add_text("mlma", tsv(result.mlma_table()))
    outputs.add("qq.png", lambda path: _figure(path, result.plot_qq, (4.5, 4.5)))
    outputs.add("manhattan.png", lambda path: _figure(path, result.plot_manhattan, (10, 3.5)))
    outputs.add("gwas.npz", result.save)
    document = common_json(args, argv, inputs, kernel, "gwas")
    document.update({"test": result.test, "test_description": result.test_description, "loco": result.loco,
                     "null_method": result.null_method, "n": result.n, "n_tested": result.n_tested,
                     "lambda_gc": result.lambda_gc, "null_models": records(result.null_models),
                     "results_file": os.path.basename(outputs.path("gwas.npz"))})
    add_json_and_log(outputs, document, log)
    outputs.commit(log)


def run_kernel_test(args: argparse.Namespace, argv: list[str], log: Log) -> None:
    outputs = Outputs(args.out)
    inputs = load_inputs(args, log)
    kernel = make_kernels(args)
    regions = _read_regions(args.regions) if args.regions else None
    if regions is None and args.window is None:
        raise CommandError("kernel-test needs --regions FILE or --window BP")
    background = GRM() if args.background == "grm" else None
    log.info(f"Kernel tests {inputs.formula} with {kernel!r}, background {args.background}, p by {args.pvalue} ...")
    started = time.monotonic()
    result = region_scan(inputs.formula, inputs.data, inputs.genotypes, regions=regions, window=args.window,
                         step=args.step, kernel=kernel, background=background, pvalue=args.pvalue,
                         min_snps=args.min_snps, progress=_progress(args))
    log.info(f"Tested {len(result.table)} regions in {time.monotonic() - started:.1f} s.")
    summary = str(result.summary())
    print(summary, flush=True)
    log.lines.extend(summary.splitlines())
    outputs.add_text("kernel_test.tsv", tsv(result.table))
    outputs.add("kernel_test.npz", result.save)
    document = common_json(args, argv, inputs, kernel, "kernel-test")
    document.update({"pvalue": args.pvalue, "background": args.background, "n": result.n,
                     "n_regions": len(result.table), "kernel_names": result.kernels, "null": result.null,
                     "results_file": os.path.basename(outputs.path("kernel_test.npz"))})
    add_json_and_log(outputs, document, log)
    outputs.commit(log)


def _figure(path: str, draw, size) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=size)
    draw(ax=ax)
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")
    plt.close(figure)


def _read_regions(path: str) -> pd.DataFrame:
    """chr start end [name], whitespace-separated, header optional."""
    if not os.path.isfile(path):
        raise CommandError(f"regions file {path!r} does not exist")
    table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment="#")
    first = [str(v).lower() for v in table.iloc[0]]
    if first[:3] == ["chr", "start", "end"] or first[:1] == ["chr"]:
        table = table.iloc[1:]
    if table.shape[1] < 3:
        raise CommandError(f"{path}: each line needs chr start end [name]; got {table.shape[1]} column(s)")
    columns = ["chr", "start", "end", "name"][: min(table.shape[1], 4)]
    table = table.iloc[:, : len(columns)]
    table.columns = columns
    for column in ("start", "end"):
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            raise CommandError(f"{path}: column {column} must be base-pair positions; got {table[column][values.isna()].iloc[0]!r}")
        table[column] = values.astype("int64")
    return table.reset_index(drop=True)
