# krr() from R: agreement with Python, the LMM equivalence (Ge & Lu, Proposition 1), methods.

test_that("R and Python krr agree to 1e-8 (lambda, fixed effects, fitted values)", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 100L, seed = 61L)
  r_fit <- suppressWarnings(krr(y ~ sex + age, data = sim$data, genotypes = sim$G, kernel = GRM(), cv = 4, seed = 3))
  paths <- write_inputs(sim)
  py <- python_reference(c(
    "import warnings, pandas as pd, ntkmixed as nm",
    "data = pd.read_csv(data_path, index_col='id', dtype={'id': str})",
    "data['sex'] = pd.Categorical(data['sex'], categories=['female', 'male'])",
    "G = pd.read_csv(geno_path, index_col='id', dtype={'id': str})",
    "with warnings.catch_warnings():",
    "    warnings.simplefilter('ignore')",
    "    res = nm.krr('y ~ sex + age', data=data, genotypes=G, kernel=nm.GRM(), cv=4, seed=3)",
    "out = {'lam': res.lambda_, 'params': [float(v) for v in res.params],",
    "       'fitted': [float(v) for v in res.fitted], 'cv_mean': [float(v) for v in res.cv_results['mean']]}"
  ), data_path = paths$data, geno_path = paths$genotypes)
  expect_equal(r_fit$lambda, py$lam, tolerance = 1e-12)
  expect_equal(unname(coef(r_fit)), unlist(py$params), tolerance = 1e-8)
  expect_equal(unname(fitted(r_fit)), unlist(py$fitted), tolerance = 1e-8)
  expect_equal(r_fit$cv_results$mean, unlist(py$cv_mean), tolerance = 1e-8)
  expect_identical(names(fitted(r_fit)), rownames(sim$data))
})

test_that("with lambda = sigma2_e / sigma2_g, krr predicts exactly as the mixed model", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 150L, p = 120L, seed = 62L)
  train <- rownames(sim$data)[1:120]
  new <- rownames(sim$data)[121:150]
  lmm <- quiet_fit(y ~ sex + age, data = sim$data[train, ], genotypes = sim$G[train, ], kernel = NNGP(depth = 2))
  vc <- VarCorr(lmm)$variance
  ridge <- krr(y ~ sex + age, data = sim$data[train, ], genotypes = sim$G[train, ], kernel = NNGP(depth = 2),
               lambdas = vc[2] / vc[1])
  expect_equal(ridge$lambda, vc[2] / vc[1])
  expect_equal(coef(ridge), coef(lmm), tolerance = 1e-8)
  expect_equal(predict(ridge, newdata = sim$data[new, ], genotypes = sim$G[new, ]),
               predict(lmm, newdata = sim$data[new, ], genotypes = sim$G[new, ]), tolerance = 1e-8)
})

test_that("krr methods: print, summary, plot, fitted + residuals = y, nobs, saveRDS", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 100L, p = 80L, seed = 63L)
  r <- suppressWarnings(krr(y ~ sex, data = sim$data, genotypes = sim$G, kernel = NTK(depth = 2, width = Inf)))
  expect_s3_class(r, "ntkmixed_krr")
  expect_output(print(r), "Kernel ridge regression")
  expect_output(print(summary(r)), "Chosen lambda")
  expect_equal(unname(fitted(r) + residuals(r)), sim$data$y, tolerance = 1e-10)
  expect_identical(nobs(r), 100L)
  expect_identical(names(coef(r)), c("Intercept", "sex[T.male]"))
  expect_identical(nrow(r$cv_results), 30L)
  expect_true(all(c("mean", "se", paste0("fold_", 0:4)) %in% names(r$cv_results)))
  expect_true(r$lambda %in% r$cv_results$lambda)
  grDevices::pdf(NULL)
  expect_invisible(plot(r))
  grDevices::dev.off()
  path <- tempfile(fileext = ".rds")
  saveRDS(r, path)
  restored <- readRDS(path)
  expect_identical(coef(restored), coef(r))
  expect_identical(predict(restored), fitted(r))
  expect_error(predict(restored, newdata = sim$data[1:5, ], genotypes = sim$G[1:5, ]),
               "refit the model with krr\\(\\)")
})

test_that("cv accepts leave-one-out and explicit held-out folds", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 50L, seed = 64L)
  loo <- suppressWarnings(krr(y ~ 1, data = sim$data, genotypes = sim$G, kernel = GRM(), cv = "loo"))
  expect_identical(loo$cv, "loo")
  folds <- split(seq_len(60), rep(1:3, each = 20))
  explicit <- suppressWarnings(krr(y ~ 1, data = sim$data, genotypes = sim$G, kernel = GRM(),
                                   cv = unname(folds), lambdas = c(0.1, 1, 10)))
  expect_identical(explicit$cv, "3 user folds")
  # the first fold's held-out MSE at lambda = 1, computed in R
  K <- local({
    Z <- scale(sim$G)
    K <- tcrossprod(Z[, colSums(is.na(Z)) == 0]) / sum(colSums(is.na(Z)) == 0)
    K / mean(diag(K))
  })
  held <- folds[[1]]
  rest <- setdiff(seq_len(60), held)
  y <- sim$data$y
  X <- matrix(1, 40, 1)
  V <- K[rest, rest] + diag(40)
  beta <- solve(crossprod(X, solve(V, X)), crossprod(X, solve(V, y[rest])))
  prediction <- drop(beta) + K[held, rest] %*% solve(V, y[rest] - drop(beta))
  expect_equal(explicit$cv_results$fold_0[explicit$cv_results$lambda == 1], mean((y[held] - prediction)^2), tolerance = 1e-8)
  expect_error(krr(y ~ 1, data = sim$data, genotypes = sim$G, cv = list(1:3)), "at least two vectors")
})

test_that("krr refuses several kernels and bad lambdas", {
  sim <- simulate_data(n = 40L, p = 20L, seed = 65L)
  expect_error(krr(y ~ 1, data = sim$data, genotypes = sim$G, kernel = list(GRM(), NNGP())),
               "must be one kernel. Got a list of 2")
  expect_error(krr(y ~ 1, data = sim$data, genotypes = sim$G, lambdas = c(1, NA)),
               "'lambdas' argument of krr must be a numeric vector without NA")
})

test_that("engine = 'matrix-free' agrees with the exact engine and reports its CG work", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 90L, p = 40L, seed = 66L)
  lambdas <- 10^seq(-1, 1, length.out = 7)
  exact <- suppressWarnings(krr(y ~ sex, data = sim$data, genotypes = sim$G, kernel = NTK(depth = 2, width = Inf),
                                cv = 3, lambdas = lambdas, engine = "exact"))
  free <- suppressWarnings(krr(y ~ sex, data = sim$data, genotypes = sim$G, kernel = NTK(depth = 2, width = Inf),
                               cv = 3, lambdas = lambdas, engine = "matrix-free"))
  expect_identical(free$engine, "matrix-free")
  expect_equal(free$lambda, exact$lambda)
  expect_equal(free$cv_results$mean, exact$cv_results$mean, tolerance = 1e-5)
  expect_lte(free$engine_info$cg_residual_max, 1e-6)
  expect_error(krr(y ~ sex, data = sim$data, genotypes = sim$G, cv = "loo", engine = "matrix-free"),
               "cannot be 'loo' with engine='matrix-free'")
})
