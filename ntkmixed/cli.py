"""The ``ntkmixed`` command line, in the habits of GCTA and PLINK.

    ntkmixed fit --bfile data --pheno y.phen [--mpheno 2 | --pheno-name y] [--covar c.txt]
                 [--formula "y ~ sex + age"] --kernel ntk --depth 2 --width 2000 --seed 1
                 --method minque1 [--maf 0.01 --geno 0.05 --mind 0.05 --hwe 1e-6] --out res
    ntkmixed krr --bfile data --pheno y.phen --kernel ntk --cv 5 --out ridge
    ntkmixed predict --model res.json --bfile new [--covar c.txt] --out new
    ntkmixed example            # the README's main job, on the embedded dataset

``fit`` writes ``OUT.hsq`` (variance components, V(G)/Vp ± SE, logL, n — GCTA's layout),
``OUT.blp`` (BLUP of the genetic value and its prediction-error variance per person),
``OUT.fixed`` (fixed effects), ``OUT.model.npz`` (the fitted model, ``ntkmixed.load``),
``OUT.log`` and ``OUT.json``. ``krr`` writes ``OUT.cv`` (cross-validation table),
``OUT.fixed``, ``OUT.model.npz``, ``OUT.log`` and ``OUT.json``. ``predict`` writes
``OUT.pred`` (FID IID PRED) and ``OUT.log``.

``OUT.json`` (format 1) holds: ``format``, ``ntkmixed_version``, ``command``, ``analysis``
("lmm" or "krr"), ``inputs`` (files, phenotype, formula), ``kernels`` (their configs),
``qc`` (thresholds, counts removed by --mind/--geno/--hwe/--maf, imputed calls), ``merge``
(IID matching counts), ``n``, the estimates (LMM: ``method``, ``converged``, ``loglik``,
``variance_components``, ``heritability``, ``h2``, ``h2_se``, ``fixed_effects``; KRR:
``lambda``, ``cv_results``, ``fixed_effects``), ``snps`` (training SNP IDs with A1/A2, so
that ``predict`` can match and orient a new fileset), ``model_file`` (the .npz, relative to
the JSON) and ``warnings``. Missing numbers are ``null``.

Log and progress go to stderr (``--quiet`` keeps only warnings and errors). Any error
ends the program with one line ``ntkmixed: error: ...`` and exit status 1 (2 for a
command-line mistake); outputs are written to temporary files in the output directory
and renamed only when everything has been computed, so a failed run leaves nothing
half-written. Set ``NTKMIXED_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from . import __version__

KERNELS = ("grm", "ntk", "ntk-inf", "nngp")
METHODS = ("minque0", "minque1", "reml")
JSON_FORMAT = 1
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class UsageError(Exception):
    """A command-line mistake (exit status 2)."""


class CommandError(Exception):
    """A failure with a message meant for the user (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --- log and outputs ------------------------------------------------------------------
class Log:
    """Lines for stderr and OUT.log; warnings are always shown, the rest unless quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.started = time.monotonic()

    def info(self, message: str) -> None:
        for line in str(message).splitlines():
            self.lines.append(line)
            if not self.quiet:
                print(line, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        text = " ".join(str(message).split())
        self.warnings.append(text)
        self.lines.append(f"Warning: {text}")
        print(f"ntkmixed: warning: {text}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Outputs:
    """Files of one run, written together at the end: each to a temporary file in the
    output directory, then renamed (atomic on one file system)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        directory = os.path.dirname(os.path.abspath(prefix))
        if not os.path.isdir(directory):
            raise CommandError(f"output directory {directory!r} (from --out {prefix}) does not exist")
        if not os.access(directory, os.W_OK):
            raise CommandError(f"output directory {directory!r} is not writable")
        self.directory = directory
        self._pending: list[tuple[str, Callable[[str], None]]] = []

    def path(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    def add_text(self, suffix: str, text: str) -> None:
        def write(path: str) -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        self._pending.append((self.path(suffix), write))

    def add(self, suffix: str, writer: Callable[[str], None]) -> None:
        self._pending.append((self.path(suffix), writer))

    def commit(self, log: Log) -> list[str]:
        temporaries: list[tuple[str, str]] = []
        try:
            for final, writer in self._pending:
                handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{os.path.basename(final)}.", suffix=".tmp")
                os.close(handle)
                temporaries.append((temporary, final))
                writer(temporary)
                os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files
            for temporary, final in temporaries:
                os.replace(temporary, final)
        except BaseException:
            for temporary, _ in temporaries:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            raise
        written = [final for _, final in temporaries]
        log.info("Wrote " + ", ".join(written) + ".")
        return written


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- command line ---------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ntkmixed", description="Kernel linear mixed models and kernel ridge regression with Neural Tangent Kernels.")
    parser.add_argument("--version", action="version", version=f"ntkmixed {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{fit,krr,predict,example}", parser_class=_Parser)

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
    group.add_argument("--seed", type=_non_negative_int, default=0, help="NTK initialisation seed (and CV folds for krr; default 0)")

    out = _Parser(add_help=False)
    out.add_argument("--out", required=True, metavar="PREFIX", help="output file prefix")

    fit = commands.add_parser("fit", parents=[data, kernel, out, common], help="kernel LMM: variance components, h² ± SE, BLUPs")
    fit.add_argument("--method", choices=METHODS, default="minque1", help="variance-component estimator (default minque1)")
    fit.add_argument("--no-constrain", action="store_true", help="report unbiased (possibly negative) MINQUE components")

    krr = commands.add_parser("krr", parents=[data, kernel, out, common], help="kernel ridge regression, λ by k-fold CV")
    krr.add_argument("--lambdas", metavar="L1,L2,…", help="ridge parameters to try (default: the krr grid)")
    krr.add_argument("--cv", type=_positive_int, default=5, help="number of CV folds (default 5)")
    krr.add_argument("--scoring", default="mse", help="CV score (default mse)")

    predict = commands.add_parser("predict", parents=[common], help="predict new people from a saved model")
    predict.add_argument("--model", required=True, metavar="FILE", help="OUT.json or OUT.model.npz from fit or krr")
    predict.add_argument("--bfile", required=True, metavar="PREFIX", help="PLINK fileset of the new people")
    predict.add_argument("--covar", metavar="FILE", help="their covariates (the model's formula columns)")
    predict.add_argument("--qcovar", metavar="FILE", help="their quantitative covariates")
    predict.add_argument("--categorical", metavar="A,B", help="numeric covariate columns that are categorical")
    predict.add_argument("--keep", metavar="FILE", help="only the people listed (FID IID, or IID)")
    predict.add_argument("--allow-new-levels", action="store_true", help="unseen categories get the reference level")
    predict.add_argument("--out", required=True, metavar="PREFIX", help="output file prefix")

    example = commands.add_parser("example", parents=[common], help="GRM and NTK fits on the embedded example dataset")
    example.add_argument("--phenotype", choices=("y_nonlinear", "y_additive"), default="y_nonlinear")
    example.add_argument("--method", choices=METHODS, default="minque1")
    example.add_argument("--depth", type=_positive_int, default=2)
    example.add_argument("--width", type=_positive_int, default=2000)
    example.add_argument("--seed", type=_non_negative_int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 error, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"ntkmixed: error: {exc}", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    log = Log(quiet=args.quiet)
    try:
        with _thread_limit(args.threads), _warnings_to(log):
            COMMANDS[args.command](args, argv, log)
    except KeyboardInterrupt:
        print("ntkmixed: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if os.environ.get("NTKMIXED_DEBUG"):
            raise
        print(f"ntkmixed: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    from .exceptions import NtkmixedError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (NtkmixedError, CommandError, UsageError)):
        return text
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or text}: {exc.filename}"
    return f"{type(exc).__name__}: {text} (set NTKMIXED_DEBUG=1 for the traceback)"


@contextmanager
def _warnings_to(log: Log):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *rest, **kw: log.warn(message)
        yield


@contextmanager
def _thread_limit(threads: int | None):
    if threads is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    for name in _THREAD_VARIABLES:  # for libraries loaded from here on
        os.environ[name] = str(threads)
    torch_threads = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS already loaded keeps its setting
        threadpool_limits = None
    # torch, when already loaded, is set here; a command that loads it later for an
    # empirical NTK sets it then (set_torch_threads); both follow OMP_NUM_THREADS anyway
    torch = sys.modules.get("torch")
    if torch is not None:
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        if threadpool_limits is not None:
            with threadpool_limits(limits=threads):
                yield
        else:
            yield
    finally:
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def set_torch_threads(threads: int | None) -> None:
    """Limit torch's intra-op threads (imports torch; used before an empirical NTK)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _kernel_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in KERNELS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"kernels must be among {', '.join(KERNELS)}; got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"each kernel may be given once; got {text!r}")
    return names


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _register() -> dict[str, Callable[[argparse.Namespace, list[str], Log], None]]:
    from . import _cli_commands as commands

    return {"fit": commands.run_fit, "krr": commands.run_krr, "predict": commands.run_predict, "example": commands.run_example}


class _Commands(dict):
    def __missing__(self, key: str):
        self.update(_register())
        return self[key]


COMMANDS: dict[str, Callable[[argparse.Namespace, list[str], Log], None]] = _Commands()


if __name__ == "__main__":
    # run the imported module, not this __main__ copy, so that its classes are the ones
    # the command modules raise
    from ntkmixed.cli import main as _main

    sys.exit(_main())
