"""The argument parser of ``ntkmixed`` and its argument types."""

from __future__ import annotations

import argparse

from .._version import __version__
from ..estimation.engines import engine_names
from ..models.krr import KRR_ENGINES
from .errors import UsageError

KERNELS = ("grm", "ntk", "ntk-inf", "nngp")
METHODS = ("minque0", "minque1", "reml")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ntkmixed", description="Kernel linear mixed models and kernel ridge regression with Neural Tangent Kernels.")
    parser.add_argument("--version", action="version", version=f"ntkmixed {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{fit,krr,predict,gwas,kernel-test,example}", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="only warnings and errors on stderr")
    common.add_argument("--threads", type=_positive_int, help="CPU threads for BLAS and torch")

    data = _Parser(add_help=False)
    group = data.add_argument_group("input")
    group.add_argument("--bfile", required=True, metavar="PREFIX", help="PLINK 1 fileset PREFIX.bed/.bim/.fam")
    group.add_argument("--pheno", required=True, metavar="FILE", help="phenotype file: FID IID y1 y2 … (header optional)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--mpheno", type=_positive_int, metavar="N", help="use the N-th phenotype column (default 1)")
    which.add_argument("--pheno-name", metavar="NAME", help="use the phenotype column NAME")
    group.add_argument("--covar", metavar="FILE", help="covariates: numeric columns quantitative, others categorical")
    group.add_argument("--qcovar", metavar="FILE", help="quantitative covariates (all numeric), as GCTA --qcovar")
    group.add_argument("--covar-name", metavar="A,B", help="use only these covariate columns")
    group.add_argument("--categorical", metavar="A,B", help="treat these numeric covariate columns as categorical")
    group.add_argument("--formula", help="fixed effects, e.g. 'y ~ sex + age' (default: all covariates)")
    subset = data.add_argument_group("SNP and sample selection, quality control (PLINK 2 order: mind, geno, hwe, maf)")
    subset.add_argument("--chr", metavar="CHR", help="only SNPs on this chromosome")
    subset.add_argument("--from-bp", type=int, metavar="BP", help="with --chr: first base-pair position")
    subset.add_argument("--to-bp", type=int, metavar="BP", help="with --chr: last base-pair position")
    subset.add_argument("--extract", metavar="FILE", help="only the SNPs listed (first column)")
    subset.add_argument("--keep", metavar="FILE", help="only the people listed (FID IID, or IID)")
    subset.add_argument("--maf", type=float, help="remove SNPs with minor-allele frequency below this")
    subset.add_argument("--geno", type=float, help="remove SNPs with missing-call rate above this")
    subset.add_argument("--mind", type=float, help="remove people with missing-call rate above this")
    subset.add_argument("--hwe", type=float, help="remove SNPs with exact HWE p-value below this")

    kernel = _Parser(add_help=False)
    group = kernel.add_argument_group("kernel")
    group.add_argument("--kernel", default="grm", type=_kernel_list, metavar="{grm,ntk,ntk-inf,nngp}",
                       help="genetic kernel (comma-separated for one variance component each; default grm)")
    group.add_argument("--depth", type=_positive_int, default=2, help="hidden layers of the NTK/NNGP network (default 2)")
    group.add_argument("--width", type=_positive_int, default=2000, help="width of the empirical NTK (default 2000)")
    group.add_argument("--seed", type=_seed, default=0, help="NTK initialisation seed (and CV folds for krr; default 0)")

    out = _Parser(add_help=False)
    out.add_argument("--out", required=True, metavar="PREFIX", help="output file prefix")

    fit = commands.add_parser("fit", parents=[data, kernel, out, common], help="kernel LMM: variance components, h² ± SE, BLUPs")
    fit.add_argument("--method", choices=METHODS, default="minque1", help="variance-component estimator (default minque1)")
    fit.add_argument("--no-constrain", action="store_true", help="report unbiased (possibly negative) MINQUE components")
    fit.add_argument("--engine", choices=engine_names(), default="auto",
                     help="linear algebra: dense, exact lowrank, or matrix-free (streams the .bed; default auto)")
    fit.add_argument("--probes", type=_probe_count, metavar="B",
                     help="random probe vectors of the matrix-free engine (default 50; seeded by --seed)")
    fit.add_argument("--h2-definition", choices=("sample-variance", "kernel"), default="sample-variance",
                     help="h² as the share of expected sample variance (default; D-weighted) or σ²_g/(σ²_g + σ²_e) "
                          "on the kernel as given")

    krr = commands.add_parser("krr", parents=[data, kernel, out, common], help="kernel ridge regression, λ by k-fold CV")
    krr.add_argument("--lambdas", metavar="L1,L2,…", help="ridge parameters to try (default: the krr grid)")
    krr.add_argument("--cv", type=_at_least_two, default=5, help="number of CV folds (default 5)")
    krr.add_argument("--scoring", default="mse", help="CV score (default mse)")
    krr.add_argument("--engine", choices=KRR_ENGINES, default="auto",
                     help="exact (a factor or the n×n kernel) or matrix-free (CG, products only; default auto)")

    predict = commands.add_parser("predict", parents=[common], help="predict new people from a saved model")
    predict.add_argument("--model", required=True, metavar="FILE", help="OUT.json or OUT.model.npz from fit or krr")
    predict.add_argument("--bfile", required=True, metavar="PREFIX", help="PLINK fileset of the new people")
    predict.add_argument("--covar", metavar="FILE", help="their covariates (the model's formula columns)")
    predict.add_argument("--qcovar", metavar="FILE", help="their quantitative covariates")
    predict.add_argument("--categorical", metavar="A,B", help="numeric covariate columns that are categorical")
    predict.add_argument("--keep", metavar="FILE", help="only the people listed (FID IID, or IID)")
    predict.add_argument("--allow-new-levels", action="store_true", help="unseen categories get the reference level")
    predict.add_argument("--out", required=True, metavar="PREFIX", help="output file prefix")

    gwas = commands.add_parser("gwas", parents=[data, kernel, out, common],
                               help="per-SNP mixed-model association scan (.mlma, QQ and Manhattan plots)")
    gwas.add_argument("--loco", action="store_true", help="leave the tested chromosome out of the kernel (needs >= 2 chromosomes)")
    gwas.add_argument("--test", choices=("wald", "lrt", "score", "grammar-gamma"), default="wald",
                      help="per-SNP test (default wald, FaST-LMM's; score is GCTA-MLMA's)")
    gwas.add_argument("--null-method", choices=METHODS, default="reml", help="null variance-component estimator (default reml)")

    ktest = commands.add_parser("kernel-test", parents=[data, kernel, out, common],
                                help="kernel (SKAT-type) association tests of regions")
    ktest.add_argument("--regions", metavar="FILE", help="regions: chr start end [name] per line")
    ktest.add_argument("--window", type=_positive_int, metavar="BP", help="fixed windows of this many base pairs instead")
    ktest.add_argument("--step", type=_positive_int, metavar="BP", help="window step (default: the window)")
    ktest.add_argument("--background", choices=("none", "grm"), default="none",
                       help="background kernel of the null model (default none; grm: all SNPs' GRM)")
    ktest.add_argument("--pvalue", choices=("davies", "liu", "saddlepoint"), default="davies",
                       help="null distribution method (default davies: exact inversion)")
    ktest.add_argument("--min-snps", type=_positive_int, default=2, help="skip regions with fewer SNPs (default 2)")

    example = commands.add_parser("example", parents=[common], help="GRM and NTK fits on the embedded example dataset")
    example.add_argument("--phenotype", choices=("y_nonlinear", "y_additive"), default="y_nonlinear")
    example.add_argument("--method", choices=METHODS, default="minque1")
    example.add_argument("--depth", type=_positive_int, default=2)
    example.add_argument("--width", type=_positive_int, default=2000)
    example.add_argument("--seed", type=_seed, default=1)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _probe_count(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 probes, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _seed(text: str) -> int:
    """An integer in [0, 2**63 − 1] (what numpy and torch generators accept)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63 - 1], got {text!r}")
    return value


def _at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {text!r}")
    return value


def _kernel_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in KERNELS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"kernels must be among {', '.join(KERNELS)}; got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"each kernel may be given once; got {text!r}")
    return names


def names(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]
