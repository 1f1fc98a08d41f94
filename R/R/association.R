# gwas(), kernel_test(), region_scan(): association tests through the Python functions of
# the same names; results come back as data.frames inside R-owned S3 objects.

#' Per-SNP mixed-model association scan (GWAS)
#'
#' For each chromosome (or once, with \code{loco = FALSE}) the null model
#' \deqn{y = X\beta + g + e,\quad g \sim N(0, \sigma^2_g K),\quad
#' e \sim N(0, \sigma^2_e I)} is fitted with the kernel \eqn{K} built from the
#' SNPs \emph{not} on that chromosome (leave one chromosome out, LOCO); its
#' covariance \eqn{\hat V} is then held fixed and every SNP of the chromosome is
#' tested by generalised least squares, as FaST-LMM and GCTA-MLMA do. A thin
#' layer over the Python \code{ntkmixed.gwas}.
#'
#' Tests: \code{"wald"} (FaST-LMM's: the ratio \eqn{\sigma^2_g/\sigma^2_e}
#' fixed, the scale re-estimated per SNP, \eqn{F(1, n-k-1)}), \code{"lrt"}
#' (likelihood ratio, scale profiled, \eqn{\chi^2_1}), \code{"score"}
#' (GCTA-MLMA's: \eqn{\hat V} fixed, \eqn{\chi^2_1}) and
#' \code{"grammar-gamma"} (the calibrated score test of GRAMMAR-Gamma and
#' fastGWA, for large n). Missing calls are mean-imputed per SNP and counted
#' (column \code{n}); SNPs without variation get \code{NA} and a \code{note}.
#' P-values are never 0: beyond the smallest double, \code{log10_p} keeps the
#' exact value.
#'
#' @inheritParams fit
#' @param genotypes The prefix of a PLINK fileset (chromosomes and positions
#'   from its \code{.bim}; read in blocks, never all at once), or a numeric
#'   dosage matrix (rows = samples with IDs as row names, columns = SNPs) with
#'   \code{snp_info} giving each column's chromosome and position.
#' @param kernel The background kernel (default \code{GRM()}; any kernel, e.g.
#'   \code{NTK(width = Inf)}).
#' @param loco Build the kernel without the tested chromosome (needs SNPs on at
#'   least two chromosomes).
#' @param test \code{"wald"}, \code{"lrt"}, \code{"score"} or
#'   \code{"grammar-gamma"}.
#' @param null_method Estimator of the null variance components:
#'   \code{"reml"}, \code{"minque1"} or \code{"minque0"} (NExt-LMM's moment
#'   estimate, here with a per-SNP standard error).
#' @param snps IDs of the SNPs to test (default all); reported in the
#'   genotypes' order.
#' @param engine \code{"auto"}, \code{"dense"} or \code{"lowrank"} (a GRM on
#'   fewer SNPs than people: exact, no n x n matrix); the one used is in
#'   \code{null_models$engine}.
#' @param snp_info For a matrix: a data.frame with one row per column and
#'   columns \code{chr} and \code{bp} (optionally \code{snp}, \code{a1},
#'   \code{a2}).
#' @param block_size SNPs per block (default: about 128 MB of dosages).
#' @param calibration_snps,seed Size and seed of the random SNP subset that
#'   calibrates the \code{"grammar-gamma"} test.
#' @param progress Progress bar over SNP blocks: \code{NULL} (only on a
#'   terminal), \code{TRUE} or \code{FALSE}.
#' @return An object of class \code{"ntkmixed_gwas"}: \code{$results}, a
#'   data.frame with one row per tested SNP in the genotypes' order (columns
#'   \code{SNP}, \code{chr}, \code{bp}, \code{A1} (the counted allele),
#'   \code{A2}, \code{freq}, \code{n}, \code{beta}, \code{se}, \code{stat},
#'   \code{p}, \code{log10_p}, \code{note}); \code{$null_models}, a data.frame
#'   with the null fit of each LOCO chromosome (\code{h2}, \code{sigma2_g},
#'   \code{sigma2_e}, \code{engine}, ...); \code{$lambda_gc}; and \code{$test},
#'   \code{$loco}, \code{$n}. Methods: \code{print}, \code{summary},
#'   \code{as.data.frame}, \code{nobs} and \code{plot} (Manhattan or QQ plot);
#'   see \code{\link{ntkmixed_gwas-methods}}.
#' @seealso \code{\link{kernel_test}} for region-level kernel tests.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' # the example has one chromosome, so the kernel cannot leave it out
#' scan <- gwas(y_additive ~ sex + age, data = example$data, genotypes = example$bfile,
#'              loco = FALSE)
#' scan
#' head(as.data.frame(scan))
#' plot(scan)                # Manhattan plot
#' plot(scan, type = "qq")   # QQ plot with lambda_GC
#' @export
gwas <- function(formula, data, genotypes, kernel = GRM(), loco = TRUE, test = "wald",
                 null_method = "reml", snps = NULL, engine = "auto", snp_info = NULL,
                 block_size = NULL, calibration_snps = 500L, seed = 0L, progress = NULL) {
  call <- sys.call()
  where <- "gwas"
  formula_text <- formula_to_text(formula, data, where)
  kernels <- kernel_list(kernel)
  if (length(kernels) != 1L) {
    stop(sprintf("The 'kernel' argument of gwas must be one background kernel. Got a list of %d.",
                 length(kernels)), call. = FALSE)
  }
  py_genotypes <- required_genotypes(genotypes, where)
  if (!is.null(snp_info) && !is.data.frame(snp_info)) {
    stop(sprintf("The 'snp_info' argument of gwas must be a data.frame with columns chr and bp. Got %s.",
                 describe(snp_info)), call. = FALSE)
  }
  if (!is.null(snps) && (!is.character(snps) || anyNA(snps))) {
    stop(sprintf("The 'snps' argument of gwas must be a character vector of SNP IDs. Got %s.",
                 format_value(snps)), call. = FALSE)
  }
  py_data <- frame_to_py(drop_unused_levels(data), "data")
  blas_hint(kernels)
  results <- py_run(
    "gwas", formula_text, data = py_data, genotypes = py_genotypes, kernel = kernel_to_py(kernels[[1]]),
    loco = as_flag(loco, "loco", where),
    test = as_string(test, "test", where),
    null_method = as_string(null_method, "null_method", where),
    snps = if (!is.null(snps)) string_list(snps),
    engine = as_string(engine, "engine", where),
    snp_info = if (!is.null(snp_info)) frame_to_py(snp_info, "snp_info"),
    block_size = as_count(block_size, "block_size", where, allow_null = TRUE),
    calibration_snps = as_count(calibration_snps, "calibration_snps", where),
    seed = as_count(seed, "seed", where),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    where = call
  )
  payload <- from_py(bridge()$gwas_payload(results))
  table <- payload$table
  rownames(table) <- NULL
  structure(list(
    call = call, formula = formula, kernel = kernels[[1]], results = table,
    null_models = payload$null_models, lambda_gc = payload$lambda_gc, test = payload$test,
    test_description = payload$test_description, loco = payload$loco,
    null_method = payload$null_method, n = payload$n, n_tested = payload$n_tested,
    summary_text = payload$summary, python = results
  ), class = "ntkmixed_gwas")
}

required_genotypes <- function(genotypes, where) {
  if (is.null(genotypes)) {
    stop(sprintf(paste0("The 'genotypes' argument of %s is required: a PLINK prefix or a numeric ",
                        "matrix (rows = samples, row names = sample IDs)."), where), call. = FALSE)
  }
  genotypes_to_py(genotypes, where)
}

#' Methods for GWAS results
#'
#' \code{plot(x)} draws a Manhattan plot (\eqn{-\log_{10} p} along the genome,
#' chromosomes side by side in natural order, alternately coloured; one
#' chromosome is plotted against base-pair position), \code{plot(x, type =
#' "qq")} a QQ plot of observed against expected \eqn{-\log_{10} p} under the
#' uniform null with a pointwise 95\% band and \eqn{\lambda_{GC}}. Both use
#' \code{log10_p}, so p-values below the smallest double are placed exactly.
#'
#' @param object,x Results from \code{\link{gwas}}.
#' @param y Unused.
#' @param type \code{"manhattan"} or \code{"qq"}.
#' @param threshold Manhattan plot: p-value of the dashed line (default
#'   \code{5e-8}; \code{NULL} for none).
#' @param col Point colours (Manhattan: alternating by chromosome).
#' @param pch,cex Point symbol and size.
#' @param main Title.
#' @param n Number of rows shown by \code{print}.
#' @param row.names,optional Unused (for the generic).
#' @param ... Further graphical parameters (\code{plot}); unused otherwise.
#' @return \code{plot} returns \code{x} invisibly; \code{as.data.frame} the
#'   per-SNP table; \code{summary} an object that prints the full report (scan
#'   facts, null models, top SNPs).
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' scan <- gwas(y_additive ~ sex, data = example$data, genotypes = example$bfile, loco = FALSE)
#' summary(scan)
#' scan$null_models
#' plot(scan, threshold = 0.05 / nrow(scan$results))
#' plot(scan, type = "qq")
#' @name ntkmixed_gwas-methods
NULL

#' @rdname ntkmixed_gwas-methods
#' @export
print.ntkmixed_gwas <- function(x, n = 5L, ...) {
  cat("Mixed-model association scan\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Background kernel:", format(x$kernel), if (isTRUE(x$loco)) "(LOCO)" else "", "\n")
  cat("Test:", x$test_description, "\n")
  cat(sprintf("People: %d; SNPs tested: %d of %d; lambda_GC = %.4f\n", as.integer(x$n),
              as.integer(x$n_tested), nrow(x$results), x$lambda_gc))
  top <- x$results[order(x$results$log10_p), c("SNP", "chr", "bp", "A1", "freq", "beta", "se", "p")]
  cat("\nTop SNPs:\n")
  print(utils::head(top, n), row.names = FALSE)
  invisible(x)
}

#' @rdname ntkmixed_gwas-methods
#' @export
summary.ntkmixed_gwas <- function(object, ...) {
  structure(list(text = object$summary_text, null_models = object$null_models,
                 lambda_gc = object$lambda_gc), class = "summary.ntkmixed_gwas")
}

#' @rdname ntkmixed_gwas-methods
#' @export
print.summary.ntkmixed_gwas <- function(x, ...) {
  cat(x$text, "\n", sep = "")
  invisible(x)
}

#' @rdname ntkmixed_gwas-methods
#' @export
as.data.frame.ntkmixed_gwas <- function(x, row.names = NULL, optional = FALSE, ...) x$results

#' @rdname ntkmixed_gwas-methods
#' @export
nobs.ntkmixed_gwas <- function(object, ...) as.integer(object$n)

#' @rdname ntkmixed_gwas-methods
#' @export
plot.ntkmixed_gwas <- function(x, y, type = c("manhattan", "qq"), threshold = 5e-8, col = NULL,
                               pch = 20, cex = 0.6, main = NULL, ...) {
  type <- match.arg(type)
  tested <- x$results[is.finite(x$results$log10_p), , drop = FALSE]
  if (!nrow(tested)) stop("No tested SNP to plot.", call. = FALSE)
  if (type == "qq") {
    qq_plot(tested$log10_p, x$lambda_gc, col = if (is.null(col)) "#1f4e79" else col, pch = pch,
            cex = cex, main = main, ...)
  } else {
    manhattan_plot(tested, threshold, col = if (is.null(col)) c("#1f4e79", "#7fa7cf") else col,
                   pch = pch, cex = cex, main = main, ...)
  }
  invisible(x)
}

# Chromosomes in natural order: 1, 2, ..., 22, then X, Y, MT and others by name.
chromosome_order <- function(labels) {
  labels <- unique(as.character(labels))
  text <- sub("^chr", "", labels)
  number <- suppressWarnings(as.numeric(ifelse(grepl("^[0-9]+$", text), text, NA)))
  labels[order(is.na(number), number, text)]
}

manhattan_plot <- function(tested, threshold, col, pch, cex, main, ...) {
  minus_log10 <- -tested$log10_p
  chromosomes <- as.character(tested$chr)
  order_ <- chromosome_order(chromosomes)
  top <- max(minus_log10, if (!is.null(threshold)) -log10(threshold), 1)
  if (length(order_) == 1L) {
    graphics::plot(tested$bp, minus_log10, pch = pch, cex = cex, col = col[1], ylim = c(0, top * 1.05),
                   xlab = sprintf("position on chromosome %s (bp)", order_), ylab = expression(-log[10](p)),
                   main = main, ...)
  } else {
    position <- numeric(nrow(tested))
    colour <- character(nrow(tested))
    ticks <- numeric(length(order_))
    offset <- 0
    for (i in seq_along(order_)) {
      on <- chromosomes == order_[i]
      bp <- tested$bp[on]
      position[on] <- offset + bp - min(bp)
      colour[on] <- col[(i - 1L) %% length(col) + 1L]
      span <- max(diff(range(bp)), 1)
      ticks[i] <- offset + span / 2
      offset <- offset + span * 1.02
    }
    graphics::plot(position, minus_log10, pch = pch, cex = cex, col = colour, xaxt = "n",
                   ylim = c(0, top * 1.05), xlab = "chromosome", ylab = expression(-log[10](p)),
                   main = main, ...)
    graphics::axis(1, at = ticks, labels = order_, tick = FALSE)
  }
  if (!is.null(threshold)) graphics::abline(h = -log10(threshold), lty = 2, col = "firebrick")
}

qq_plot <- function(log10_p, lambda_gc, col, pch, cex, main, ...) {
  observed <- sort(-log10_p, decreasing = TRUE)
  m <- length(observed)
  ranks <- seq_len(m)
  expected <- -log10(ranks / (m + 1))
  lower <- -log10(stats::qbeta(0.975, ranks, m - ranks + 1))
  upper <- -log10(stats::qbeta(0.025, ranks, m - ranks + 1))
  graphics::plot(expected, observed, type = "n", xlab = expression(expected ~ -log[10](p)),
                 ylab = expression(observed ~ -log[10](p)), ylim = c(0, max(observed, upper)), main = main, ...)
  graphics::polygon(c(expected, rev(expected)), c(lower, rev(upper)), col = "grey87", border = NA)
  graphics::abline(0, 1, col = "firebrick")
  graphics::points(expected, observed, pch = pch, cex = cex, col = col)
  if (is.finite(lambda_gc)) {
    graphics::legend("topleft", legend = sprintf("lambda_GC = %.3f", lambda_gc), bty = "n")
  }
}

#' Kernel association test of a region
#'
#' The variance-component score test of \eqn{H_0: \sigma^2_K = 0} in
#' \deqn{y = X\beta + g_b + g_K + e,\quad g_K \sim N(0, \sigma^2_K K),} where
#' \eqn{K} is a kernel (NTK, GRM = SKAT's linear kernel, NNGP, ...) of the
#' region's genotypes and \eqn{g_b} an optional background effect with kernel
#' \code{background} (SKAT with kinship). The statistic's null law is a mixture
#' of \eqn{\chi^2} variables with weights the eigenvalues of
#' \eqn{P^{1/2} K P^{1/2}}; p by exact inversion of its characteristic
#' function (\code{"davies"}, accuracy reported, falling back to the
#' saddlepoint with a note), the Lugannani-Rice saddlepoint, or Liu's moment
#' matching. Several kernels give a p-value each and their Cauchy (ACAT)
#' combination. A thin layer over the Python \code{ntkmixed.kernel_test}.
#'
#' @inheritParams fit
#' @param genotypes The region's genotypes: a numeric matrix (rows = samples,
#'   row names = sample IDs) or a PLINK prefix.
#' @param kernel A kernel or a list of kernels (default \code{NTK(depth = 2)}).
#' @param background Optional kernel of the null model, e.g. \code{GRM()}
#'   (genome-wide relatedness).
#' @param pvalue \code{"davies"}, \code{"saddlepoint"} or \code{"liu"}.
#' @param background_genotypes Genotypes of the background kernel (default:
#'   \code{genotypes}).
#' @param null_method,engine Estimator and engine of the background null model.
#' @return An object of class \code{"ntkmixed_kernel_test"}: \code{$table}, a
#'   data.frame with one row per kernel (columns \code{kernel}, \code{Q},
#'   \code{ratio}, \code{p}, \code{log10_p}, \code{method}, \code{accuracy},
#'   \code{n_eigenvalues}, \code{note}); \code{$p} (the ACAT combination with
#'   several kernels, else the kernel's p; never 0) and \code{$log10_p};
#'   \code{$null} (the null model's facts); \code{$n}; \code{$n_snps}. Methods
#'   \code{print}, \code{summary}, \code{as.data.frame}.
#' @seealso \code{\link{region_scan}} for many regions, \code{\link{gwas}}.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' region <- example$genotypes[, 301:340]
#' kt <- kernel_test(y_nonlinear ~ sex + age, data = example$data, genotypes = region,
#'                   kernel = list(GRM(name = "linear"), NTK(depth = 2, width = Inf, name = "NTK")))
#' kt
#' kt$table[, c("kernel", "p", "method")]
#' @export
kernel_test <- function(formula, data, genotypes, kernel = NTK(depth = 2L), background = NULL,
                        pvalue = "davies", background_genotypes = NULL, null_method = "reml",
                        engine = "auto", progress = NULL) {
  call <- sys.call()
  where <- "kernel_test"
  formula_text <- formula_to_text(formula, data, where)
  kernels <- kernel_list(kernel)
  py_genotypes <- required_genotypes(genotypes, where)
  if (!is.null(background)) background <- kernel_list(background)
  if (!is.null(background) && length(background) != 1L) {
    stop(sprintf("The 'background' argument of kernel_test must be one kernel. Got a list of %d.",
                 length(background)), call. = FALSE)
  }
  py_data <- frame_to_py(drop_unused_levels(data), "data")
  blas_hint(c(kernels, background))
  results <- py_run(
    "kernel_test", formula_text, data = py_data, genotypes = py_genotypes, kernel = kernel_to_py(kernel),
    background = if (!is.null(background)) kernel_to_py(background[[1]]),
    pvalue = as_string(pvalue, "pvalue", where),
    background_genotypes = genotypes_to_py(background_genotypes, where),
    null_method = as_string(null_method, "null_method", where),
    engine = as_string(engine, "engine", where),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    where = call
  )
  payload <- from_py(bridge()$kernel_test_payload(results))
  table <- payload$table
  rownames(table) <- NULL
  structure(list(
    call = call, formula = formula, kernels = kernels, table = table, p = payload$p,
    log10_p = payload$log10_p, null = payload$null, n = payload$n, n_snps = payload$n_snps,
    summary_text = payload$summary, python = results
  ), class = "ntkmixed_kernel_test")
}

#' Kernel association tests over many regions
#'
#' Tests each region of a table (chromosome, start, end) or each fixed window
#' with \code{\link{kernel_test}}, sharing one null model. A thin layer over the
#' Python \code{ntkmixed.region_scan}.
#'
#' @inheritParams kernel_test
#' @param genotypes A PLINK prefix, or a numeric matrix with \code{snp_info}.
#' @param regions A data.frame with columns \code{chr}, \code{start},
#'   \code{end} (base pairs, inclusive) and optionally \code{name}.
#' @param window,step Instead of \code{regions}: windows of \code{window} bp
#'   every \code{step} bp (default \code{window}) along each chromosome.
#' @param background Optional null-model kernel built from all of
#'   \code{genotypes}, e.g. \code{GRM()}.
#' @param snp_info For a matrix: a data.frame with one row per column and
#'   columns \code{chr} and \code{bp}.
#' @param min_snps Regions with fewer polymorphic SNPs get \code{NA} and a note.
#' @param progress Progress bar over regions.
#' @return An object of class \code{"ntkmixed_region_scan"}: \code{$table}, a
#'   data.frame with one row per region in the order given (\code{name},
#'   \code{chr}, \code{start}, \code{end}, \code{n_snps}, then \code{p_<kernel>}
#'   and \code{log10_p_<kernel>} per kernel, \code{p_acat} with several kernels,
#'   and \code{note}); \code{$kernels}; \code{$null}; \code{$n}. Methods
#'   \code{print}, \code{summary}, \code{as.data.frame}.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' scan <- region_scan(y_nonlinear ~ sex, data = example$data, genotypes = example$bfile,
#'                     window = 250000, kernel = NTK(depth = 2, width = Inf))
#' scan$table[, c("name", "n_snps", "p_NTK")]
#' @export
region_scan <- function(formula, data, genotypes, regions = NULL, window = NULL, step = NULL,
                        kernel = NTK(depth = 2L), background = NULL, pvalue = "davies",
                        snp_info = NULL, min_snps = 2L, null_method = "reml", engine = "auto",
                        progress = NULL) {
  call <- sys.call()
  where <- "region_scan"
  formula_text <- formula_to_text(formula, data, where)
  kernels <- kernel_list(kernel)
  py_genotypes <- required_genotypes(genotypes, where)
  for (table_name in c("regions", "snp_info")) {
    value <- get(table_name)
    if (!is.null(value) && !is.data.frame(value)) {
      stop(sprintf("The '%s' argument of region_scan must be a data.frame. Got %s.", table_name,
                   describe(value)), call. = FALSE)
    }
  }
  if (!is.null(background)) background <- kernel_list(background)
  py_data <- frame_to_py(drop_unused_levels(data), "data")
  blas_hint(c(kernels, background))
  results <- py_run(
    "region_scan", formula_text, data = py_data, genotypes = py_genotypes,
    regions = if (!is.null(regions)) frame_to_py(regions, "regions"),
    window = as_count(window, "window", where, allow_null = TRUE),
    step = as_count(step, "step", where, allow_null = TRUE),
    kernel = kernel_to_py(kernel),
    background = if (!is.null(background)) kernel_to_py(background[[1]]),
    pvalue = as_string(pvalue, "pvalue", where),
    snp_info = if (!is.null(snp_info)) frame_to_py(snp_info, "snp_info"),
    min_snps = as_count(min_snps, "min_snps", where),
    null_method = as_string(null_method, "null_method", where),
    engine = as_string(engine, "engine", where),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    where = call
  )
  payload <- from_py(bridge()$region_scan_payload(results))
  table <- payload$table
  rownames(table) <- NULL
  structure(list(
    call = call, formula = formula, table = table, kernels = unlist(payload$kernels),
    null = payload$null, n = payload$n, pvalue = payload$pvalue, summary_text = payload$summary,
    python = results
  ), class = "ntkmixed_region_scan")
}

#' Methods for kernel association tests
#'
#' @param object,x Results from \code{\link{kernel_test}} or
#'   \code{\link{region_scan}}.
#' @param row.names,optional Unused (for the generic).
#' @param ... Unused.
#' @return \code{as.data.frame}: the per-kernel (\code{kernel_test}) or
#'   per-region (\code{region_scan}) table; \code{summary}: an object that prints
#'   the full report.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' kt <- kernel_test(y_nonlinear ~ sex, data = example$data,
#'                   genotypes = example$genotypes[, 301:340], kernel = NTK(depth = 2, width = Inf))
#' summary(kt)
#' as.data.frame(kt)
#' @name ntkmixed_kernel_test-methods
NULL

#' @rdname ntkmixed_kernel_test-methods
#' @export
print.ntkmixed_kernel_test <- function(x, ...) {
  cat("Kernel association test (variance-component score test)\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat(sprintf("People: %d; region SNPs: %d; null model: %s\n", as.integer(x$n), as.integer(x$n_snps),
              if (identical(x$null$background, "none")) "covariates only" else paste("background", x$null$background)))
  print(x$table[, c("kernel", "Q", "p", "method")], row.names = FALSE)
  if (nrow(x$table) > 1L) cat(sprintf("Combined p (ACAT): %.4g\n", x$p))
  invisible(x)
}

#' @rdname ntkmixed_kernel_test-methods
#' @export
summary.ntkmixed_kernel_test <- function(object, ...) {
  structure(list(text = object$summary_text), class = "summary.ntkmixed_kernel_test")
}

#' @rdname ntkmixed_kernel_test-methods
#' @export
print.summary.ntkmixed_kernel_test <- function(x, ...) {
  cat(x$text, "\n", sep = "")
  invisible(x)
}

#' @rdname ntkmixed_kernel_test-methods
#' @export
as.data.frame.ntkmixed_kernel_test <- function(x, row.names = NULL, optional = FALSE, ...) x$table

#' @rdname ntkmixed_kernel_test-methods
#' @export
print.ntkmixed_region_scan <- function(x, ...) {
  cat("Kernel association scan over regions\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat(sprintf("People: %d; regions: %d; kernels: %s\n", as.integer(x$n), nrow(x$table),
              paste(x$kernels, collapse = ", ")))
  shown <- intersect(c("name", "n_snps", paste0("p_", x$kernels), "p_acat"), names(x$table))
  print(utils::head(x$table[, shown, drop = FALSE], 10L), row.names = FALSE)
  invisible(x)
}

#' @rdname ntkmixed_kernel_test-methods
#' @export
summary.ntkmixed_region_scan <- function(object, ...) {
  structure(list(text = object$summary_text), class = "summary.ntkmixed_kernel_test")
}

#' @rdname ntkmixed_kernel_test-methods
#' @export
as.data.frame.ntkmixed_region_scan <- function(x, row.names = NULL, optional = FALSE, ...) x$table
