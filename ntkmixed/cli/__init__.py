"""The ``ntkmixed`` command line, in the habits of GCTA and PLINK.

    ntkmixed fit --bfile data --pheno y.phen [--mpheno 2 | --pheno-name y] [--covar c.txt]
                 [--formula "y ~ sex + age"] --kernel ntk --depth 2 --width 2000 --seed 1
                 --method minque1 [--h2-definition kernel] [--maf 0.01 --geno 0.05 --mind 0.05 --hwe 1e-6] --out res
    ntkmixed krr --bfile data --pheno y.phen --kernel ntk --cv 5 --out ridge
    ntkmixed predict --model res.json --bfile new [--covar c.txt] --out new
    ntkmixed example            # the README's main job, on the embedded dataset

``fit`` writes ``OUT.hsq`` (variance components, V(G)/Vp ± SE, logL, n — GCTA's layout —
then ``#`` lines with the h² definition, the factors D and the 95% interval for h²),
``OUT.blp`` (BLUP of the genetic value and its prediction-error variance per person),
``OUT.fixed`` (fixed effects), ``OUT.model.npz`` (the fitted model, ``ntkmixed.load``),
``OUT.log`` and ``OUT.json``. ``krr`` writes ``OUT.cv`` (cross-validation table),
``OUT.fixed``, ``OUT.model.npz``, ``OUT.log`` and ``OUT.json``. ``predict`` writes
``OUT.pred`` (FID IID PRED) and ``OUT.log``.

``OUT.json`` (format 1) holds: ``format``, ``ntkmixed_version``, ``command``, ``analysis``
("lmm" or "krr"), ``inputs`` (files, phenotype, formula), ``kernels`` (their configs),
``qc`` (thresholds, counts removed by --mind/--geno/--hwe/--maf, imputed calls), ``merge``
(IID matching counts), ``n``, the estimates (LMM: ``method``, ``converged``, ``loglik``,
``variance_components``, ``heritability``, ``h2``, ``h2_se``, ``h2_definition``,
``h2_conf_int``, ``sample_variance_factors``, ``kernel_diagnostics``, ``fixed_effects``; KRR:
``lambda``, ``cv_results``, ``fixed_effects``), ``snps`` (training SNP IDs with A1/A2, so
that ``predict`` can match and orient a new fileset), ``model_file`` (the .npz, relative to
the JSON) and ``warnings``. Missing numbers are ``null``.

Log and progress go to stderr (``--quiet`` keeps only warnings and errors). Any error
ends the program with one line ``ntkmixed: error: ...`` and exit status 1 (2 for a
command-line mistake); outputs are written to temporary files in the output directory
and renamed only when everything has been computed, so a failed run leaves nothing
half-written. Set ``NTKMIXED_DEBUG=1`` to see the traceback of an unexpected error.
"""

from .main import main

__all__ = ["main"]
