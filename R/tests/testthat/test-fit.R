# fit() from R gives the Python estimates: the reference is a Python fit of the same data
# read by pandas from CSV files, so it does not go through the R conversions.

test_that("R and Python agree to 1e-8 for each method", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 150L, p = 200L, seed = 11L)
  for (method in c("minque1", "minque0", "reml")) {
    r_fit <- quiet_fit(y ~ sex + age, data = sim$data, genotypes = sim$G, kernel = GRM(), method = method)
    py <- python_fit(sim, "y ~ sex + age", method = method)
    expect_identical(names(coef(r_fit)), unlist(py$names))
    expect_equal(unname(coef(r_fit)), unlist(py$params), tolerance = 1e-8, label = method)
    expect_equal(unname(r_fit$bse), unlist(py$bse), tolerance = 1e-8)
    expect_equal(VarCorr(r_fit)$variance, unlist(py$theta), tolerance = 1e-8)
    expect_equal(VarCorr(r_fit)$se, unlist(py$theta_se), tolerance = 1e-8)
    expect_equal(h2(r_fit)$estimate, py$h2, tolerance = 1e-8)
    expect_equal(h2(r_fit)$se, py$h2_se, tolerance = 1e-8)
    expect_equal(c(logLik(r_fit)), py$loglik, tolerance = 1e-8)
    expect_identical(nobs(r_fit), as.integer(py$nobs))
    expect_identical(names(r_fit$blup), unlist(py$ids))
    expect_equal(unname(r_fit$blup), unlist(py$blup), tolerance = 1e-8)
  }
})

test_that("several kernels give one component each, and agree with Python", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 150L, seed = 12L)
  r_fit <- quiet_fit(y ~ sex, data = sim$data, genotypes = sim$G,
                     kernel = list(GRM(), NNGP(depth = 2, name = "nngp")))
  py <- python_fit(sim, "y ~ sex", kernel = "[nm.GRM(), nm.NNGP(depth=2, name='nngp')]")
  expect_identical(rownames(VarCorr(r_fit)), c("GRM", "nngp", "residual"))
  expect_equal(VarCorr(r_fit)$variance, unlist(py$theta), tolerance = 1e-8)
  expect_identical(rownames(h2(r_fit)), c("GRM", "nngp", "total"))
  expect_equal(h2(r_fit)["total", "estimate"], py$h2, tolerance = 1e-8)
  expect_equal(sum(h2(r_fit)[c("GRM", "nngp"), "estimate"]), h2(r_fit)["total", "estimate"], tolerance = 1e-12)
  expect_identical(names(ranef(r_fit)), c("GRM", "nngp"))
})

test_that("an empirical NTK fitted from R equals the Python fit (same seed, same kernel)", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 100L, p = 80L, seed = 13L)
  r_fit <- quiet_fit(y ~ age, data = sim$data, genotypes = sim$G,
                     kernel = NTK(depth = 2, width = 256, seed = 3))
  py <- python_fit(sim, "y ~ age", kernel = "nm.NTK(depth=2, width=256, seed=3)")
  expect_equal(VarCorr(r_fit)$variance, unlist(py$theta), tolerance = 1e-8)
  expect_equal(unname(coef(r_fit)), unlist(py$params), tolerance = 1e-8)
})

test_that("genotype rows are matched by sample ID, not by position", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 100L, p = 80L, seed = 14L)
  reference <- quiet_fit(y ~ sex, data = sim$data, genotypes = sim$G)
  shuffled <- sim$G[rev(rownames(sim$G)), ]
  expect_equal(VarCorr(quiet_fit(y ~ sex, data = sim$data, genotypes = shuffled))$variance,
               VarCorr(reference)$variance, tolerance = 1e-10)
  # without row names the rows are taken in order
  expect_equal(VarCorr(quiet_fit(y ~ sex, data = sim$data, genotypes = unname(sim$G)))$variance,
               VarCorr(reference)$variance, tolerance = 1e-10)
  expect_identical(names(fitted(reference)), rownames(sim$data))
})

test_that("a formula given as a string works like the formula", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 80L, p = 50L, seed = 15L)
  expect_equal(coef(quiet_fit("y ~ sex", data = sim$data, genotypes = sim$G)),
               coef(quiet_fit(y ~ sex, data = sim$data, genotypes = sim$G)))
})

test_that("a PLINK prefix is accepted as genotypes", {
  skip_if_no_ntkmixed()
  example <- load_example()
  subset <- example$data[seq_len(200), ]
  from_matrix <- quiet_fit(y_additive ~ sex, data = subset, genotypes = example$genotypes)
  from_plink <- quiet_fit(y_additive ~ sex, data = subset, genotypes = example$bfile)
  expect_equal(VarCorr(from_plink)$variance, VarCorr(from_matrix)$variance, tolerance = 1e-10)
  expect_identical(dim(example$genotypes), c(700L, 740L))
  expect_identical(rownames(example$genotypes), rownames(example$data))
  expect_true(is.factor(example$data$education))
  expect_equal(example$truth$phenotypes$y_additive$h2, 0.5)
})
