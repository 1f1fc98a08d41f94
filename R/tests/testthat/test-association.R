# gwas(), kernel_test(), region_scan() from R: agreement with the Python functions on the
# same inputs (read by Python from files), data.frames back, plot methods, clear errors.

snp_table <- function(p) {
  data.frame(chr = rep(c("1", "2"), length.out = p, each = ceiling(p / 2)), bp = seq_len(p) * 1000,
             stringsAsFactors = FALSE)
}

python_gwas <- function(sim, info, loco, test) {
  paths <- write_inputs(sim)
  python_reference(c(
    "import warnings, pandas as pd, ntkmixed as nm",
    "data = pd.read_csv(data_path, index_col='id', dtype={'id': str})",
    "data['sex'] = pd.Categorical(data['sex'], categories=['female', 'male'])",
    "G = pd.read_csv(geno_path, index_col='id', dtype={'id': str})",
    "half = G.shape[1] // 2 + G.shape[1] % 2",
    "info = pd.DataFrame({'chr': ['1'] * half + ['2'] * (G.shape[1] - half), 'bp': [1000 * (j + 1) for j in range(G.shape[1])]})",
    "with warnings.catch_warnings():",
    "    warnings.simplefilter('ignore')",
    "    res = nm.gwas('y ~ sex + age', data, G, loco=loco, test=test, snp_info=info, progress=False)",
    "t = res.table",
    "out = {'snp': [str(v) for v in t['SNP']], 'beta': [float(v) for v in t['beta']], 'se': [float(v) for v in t['se']],",
    "       'p': [float(v) for v in t['p']], 'h2': [float(v) for v in res.null_models['h2']], 'lambda_gc': res.lambda_gc}"
  ), data_path = paths$data, geno_path = paths$genotypes, loco = loco, test = test)
}

test_that("gwas from R equals the Python scan (LOCO, wald and score) and returns data.frames", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 40L, seed = 71L)
  info <- snp_table(40L)
  for (test in c("wald", "score")) {
    scan <- suppressWarnings(gwas(y ~ sex + age, data = sim$data, genotypes = sim$G, loco = TRUE, test = test,
                                  snp_info = info, progress = FALSE))
    py <- python_gwas(sim, info, loco = TRUE, test = test)
    expect_s3_class(scan, "ntkmixed_gwas")
    results <- as.data.frame(scan)
    expect_true(is.data.frame(results))
    expect_identical(names(results), c("SNP", "chr", "bp", "A1", "A2", "freq", "n", "beta", "se", "stat", "p",
                                       "log10_p", "note"))
    expect_identical(results$SNP, colnames(sim$G))
    expect_identical(results$SNP, unlist(py$snp))
    expect_equal(results$beta, unlist(py$beta), tolerance = 1e-10)
    expect_equal(results$se, unlist(py$se), tolerance = 1e-10)
    expect_equal(results$p, unlist(py$p), tolerance = 1e-10)
    expect_equal(scan$null_models$h2, unlist(py$h2), tolerance = 1e-10)
    expect_identical(rownames(scan$null_models), c("1", "2"))
    expect_equal(scan$lambda_gc, py$lambda_gc, tolerance = 1e-10)
    expect_identical(results$chr, info$chr)
    expect_identical(nobs(scan), 120L)
  }
})

test_that("gwas on a PLINK prefix: print, summary, Manhattan and QQ plots", {
  skip_if_no_ntkmixed()
  example <- load_example()
  scan <- suppressWarnings(gwas(y_additive ~ sex + age, data = example$data, genotypes = example$bfile,
                                loco = FALSE, progress = FALSE))
  expect_identical(nrow(scan$results), ncol(example$genotypes))
  expect_identical(scan$results$SNP, colnames(example$genotypes))
  expect_true(all(scan$results$p > 0 & scan$results$p <= 1, na.rm = TRUE))
  expect_equal(scan$results$log10_p, log10(scan$results$p), tolerance = 1e-10)
  expect_true(scan$null_models$engine %in% c("dense", "lowrank"))
  expect_output(print(scan), "Mixed-model association scan")
  expect_output(print(scan), "lambda_GC")
  expect_output(print(summary(scan)), "Genomic control")
  grDevices::pdf(NULL)
  expect_invisible(plot(scan))
  expect_invisible(plot(scan, type = "qq"))
  expect_invisible(plot(scan, threshold = NULL, main = "no line"))
  grDevices::dev.off()
  expect_error(plot(scan, type = "volcano"), "should be one of")
})

test_that("the Manhattan plot orders chromosomes naturally and draws every tested SNP", {
  skip_if_no_ntkmixed()
  expect_identical(ntkmixed:::chromosome_order(c("10", "2", "X", "1", "chr3")), c("1", "2", "chr3", "10", "X"))
  sim <- simulate_data(n = 100L, p = 30L, seed = 72L)
  scan <- suppressWarnings(gwas(y ~ sex, data = sim$data, genotypes = sim$G, loco = TRUE, snp_info = snp_table(30L),
                                progress = FALSE))
  grDevices::pdf(NULL)
  grDevices::dev.control("enable")
  expect_invisible(plot(scan))
  expect_invisible(plot(scan, type = "qq", col = "black"))
  grDevices::dev.off()
})

test_that("gwas errors name the argument", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 20L, seed = 73L)
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = sim$G, loco = TRUE, progress = FALSE),
               "chromosome", class = "ntkmixed_error")
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = sim$G, loco = FALSE, test = "t"),
               "'test' parameter of gwas", class = "ntkmixed_error")
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = NULL), "'genotypes' argument of gwas is required")
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = sim$G, snp_info = 1:20), "'snp_info' argument of gwas")
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = sim$G, kernel = list(GRM(), GRM())), "one background kernel")
  expect_error(gwas(y ~ sex, data = sim$data, genotypes = sim$G, loco = FALSE, snps = 3), "'snps' argument of gwas")
})

test_that("kernel_test from R equals the Python test (two kernels and ACAT)", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 30L, seed = 74L)
  kt <- suppressWarnings(kernel_test(y ~ sex + age, data = sim$data, genotypes = sim$G,
                                     kernel = list(GRM(name = "linear"), NTK(depth = 2, width = Inf, name = "NTK"))))
  paths <- write_inputs(sim)
  py <- python_reference(c(
    "import warnings, pandas as pd, ntkmixed as nm",
    "data = pd.read_csv(data_path, index_col='id', dtype={'id': str})",
    "data['sex'] = pd.Categorical(data['sex'], categories=['female', 'male'])",
    "G = pd.read_csv(geno_path, index_col='id', dtype={'id': str})",
    "with warnings.catch_warnings():",
    "    warnings.simplefilter('ignore')",
    "    res = nm.kernel_test('y ~ sex + age', data, G, kernel=[nm.GRM(name='linear'), nm.NTK(depth=2, width=None, name='NTK')])",
    "out = {'p': [float(v) for v in res.table['p']], 'Q': [float(v) for v in res.table['Q']], 'acat': res.p}"
  ), data_path = paths$data, geno_path = paths$genotypes)
  expect_s3_class(kt, "ntkmixed_kernel_test")
  expect_true(is.data.frame(as.data.frame(kt)))
  expect_identical(kt$table$kernel, c("linear", "NTK"))
  expect_equal(kt$table$p, unlist(py$p), tolerance = 1e-10)
  expect_equal(kt$table$Q, unlist(py$Q), tolerance = 1e-10)
  expect_equal(kt$p, py$acat, tolerance = 1e-10)
  expect_identical(kt$n_snps, 30L)
  expect_identical(kt$null$background, "none")
  expect_output(print(kt), "Combined p \\(ACAT\\)")
  expect_output(print(summary(kt)), "Kernel association test")
})

test_that("kernel_test with a background GRM, and region_scan equals kernel_test per region", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 100L, p = 40L, seed = 75L)
  info <- snp_table(40L)
  with_background <- suppressWarnings(kernel_test(y ~ sex, data = sim$data, genotypes = sim$G[, 1:10],
                                                  kernel = GRM(), background = GRM(),
                                                  background_genotypes = sim$G[, 11:40]))
  expect_false(identical(with_background$null$background, "none"))
  expect_true(is.finite(with_background$null$h2))

  scan <- suppressWarnings(region_scan(y ~ sex, data = sim$data, genotypes = sim$G, window = 10000,
                                       kernel = NTK(depth = 2, width = Inf), snp_info = info, progress = FALSE))
  expect_s3_class(scan, "ntkmixed_region_scan")
  table <- as.data.frame(scan)
  expect_identical(names(table)[1:5], c("name", "chr", "start", "end", "n_snps"))
  expect_identical(nrow(table), 4L)  # two windows of 10 SNPs on each chromosome
  for (i in seq_len(nrow(table))) {
    inside <- info$chr == table$chr[i] & info$bp >= table$start[i] & info$bp <= table$end[i]
    one <- suppressWarnings(kernel_test(y ~ sex, data = sim$data, genotypes = sim$G[, inside],
                                        kernel = NTK(depth = 2, width = Inf)))
    expect_equal(table$p_NTK[i], one$p, tolerance = 1e-7)  # own standardisation: round-off only
  }
  expect_output(print(scan), "Kernel association scan over regions")
  regions <- data.frame(chr = "2", start = 21000, end = 25000, name = "five")
  by_table <- suppressWarnings(region_scan(y ~ sex, data = sim$data, genotypes = sim$G, regions = regions,
                                           kernel = GRM(), snp_info = info))
  expect_identical(by_table$table$name, "five")
  expect_identical(by_table$table$n_snps, 5)
  expect_error(region_scan(y ~ sex, data = sim$data, genotypes = sim$G, regions = "chr1", snp_info = info),
               "'regions' argument of region_scan must be a data.frame")
})
