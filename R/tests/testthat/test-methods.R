# Every S3 method of a fit, checked against the quantities it must equal.

fixture <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      sim <- simulate_data(n = 160L, p = 200L, seed = 21L)
      cache <<- list(sim = sim, fit = quiet_fit(y ~ sex + age, data = sim$data, genotypes = sim$G))
    }
    cache
  }
})

test_that("coef and fixef are the fixed effects; vcov is their covariance", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  expect_identical(coef(m), fixef(m))
  expect_identical(names(coef(m)), c("Intercept", "sex[T.male]", "age"))
  V <- vcov(m)
  expect_identical(dimnames(V), list(names(coef(m)), names(coef(m))))
  expect_equal(V, t(V), tolerance = 1e-12)
  expect_equal(sqrt(diag(V)), m$bse, tolerance = 1e-10)
  # GLS identity: beta = (X'V^-1 X)^-1 X'V^-1 y with V from the variance components
  sim <- fixture()$sim
  X <- cbind(1, sim$data$sex == "male", sim$data$age)
  Z <- scale(sim$G) * sqrt(nrow(sim$G) / (nrow(sim$G) - 1))
  K <- tcrossprod(Z) / ncol(Z)
  K <- K / mean(diag(K))
  vc <- VarCorr(m)$variance
  Vy <- vc[1] * K + vc[2] * diag(nrow(K))
  Vinv_X <- solve(Vy, X)
  expect_equal(unname(solve(crossprod(X, Vinv_X), crossprod(Vinv_X, sim$data$y))[, 1]),
               unname(coef(m)), tolerance = 1e-8)
  expect_equal(unname(solve(crossprod(X, Vinv_X))), unname(V), tolerance = 1e-8)
})

test_that("confint gives Wald intervals equal to Python's conf_int", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  ci <- confint(m)
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  expect_equal(unname(ci), unname(as.matrix(m$conf_int[, c("lower", "upper")])), tolerance = 1e-10)
  ci90 <- confint(m, "age", level = 0.9)
  expect_equal(unname(ci90[1, ]), unname(coef(m)["age"] + c(-1, 1) * qnorm(0.95) * m$bse["age"]))
  expect_identical(rownames(confint(m, 2)), "sex[T.male]")
})

test_that("confint(parm = 'h2') gives the profile interval, within [0, 1], like Python", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  ci <- confint(m, parm = "h2")
  expect_identical(dimnames(ci), list("h2", c("2.5 %", "97.5 %")))
  expect_identical(attr(ci, "method"), "profile")
  expect_true(ci[1, 1] >= 0 && ci[1, 1] <= m$h2 && m$h2 <= ci[1, 2] && ci[1, 2] <= 1)
  expect_equal(unname(ci[1, ]), unname(unlist(m$conf_int_h2[1, c("lower", "upper")])), tolerance = 1e-12)
  wald90 <- confint(m, parm = "h2", level = 0.9, method = "wald")
  expect_identical(attr(wald90, "method"), "wald")
  expect_equal(unname(wald90[1, ]), pmin(pmax(m$h2 + c(-1, 1) * qnorm(0.95) * m$h2_se, 0), 1), tolerance = 1e-10)
  wide <- confint(m, parm = "h2", level = 0.99)
  expect_true(wide[1, 1] <= ci[1, 1] && wide[1, 2] >= ci[1, 2])
  expect_error(confint(m, parm = c("h2", "age")), "on its own")
})

test_that("ranef gives BLUPs by sample ID with prediction-error variances attached", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  blups <- ranef(m)
  expect_s3_class(blups, "data.frame")
  expect_identical(rownames(blups), rownames(fixture()$sim$data))
  expect_identical(names(blups), "GRM")
  expect_equal(rowSums(blups), m$blup, tolerance = 1e-12)
  post_var <- attr(blups, "postVar")
  expect_identical(dim(post_var), dim(blups))
  expect_true(all(post_var$GRM > 0 & post_var$GRM < VarCorr(m)["GRM", "variance"] * 1.5))
  expect_null(attr(ranef(m, condVar = FALSE), "postVar"))
  expect_output(print(blups), "GRM")
})

test_that("VarCorr, h2 and the heritability definition agree", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  vc <- VarCorr(m)
  expect_identical(rownames(vc), c("GRM", "residual"))
  expect_equal(vc$std_dev, sqrt(vc$variance))
  # sample-variance definition: h2 = s2_g D / (s2_g D + s2_e), D = (tr K - 1'K1/n)/(n - 1)
  sim <- fixture()$sim
  Z <- scale(sim$G) * sqrt(nrow(sim$G) / (nrow(sim$G) - 1))
  K <- tcrossprod(Z) / ncol(Z)
  K <- K / mean(diag(K))
  D <- (sum(diag(K)) - sum(K) / nrow(K)) / (nrow(K) - 1)
  expect_equal(unname(attr(h2(m), "D")), D, tolerance = 1e-10)
  expect_identical(attr(h2(m), "definition"), "sample-variance")
  expect_equal(h2(m)$estimate, vc$variance[1] * D / (vc$variance[1] * D + vc$variance[2]), tolerance = 1e-10)
  expect_true(h2(m)$se > 0)
  kernel_fit <- quiet_fit(y ~ sex + age, data = sim$data, genotypes = sim$G, h2_definition = "kernel")
  vk <- VarCorr(kernel_fit)$variance
  expect_equal(h2(kernel_fit)$estimate, vk[1] / sum(vk), tolerance = 1e-12)
  expect_output(print(vc), "Variance +Std.Dev. +Std.Error")
})

test_that("fitted + residuals = y, nobs counts the rows used, logLik is a logLik", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  y <- fixture()$sim$data$y
  expect_equal(unname(fitted(m) + residuals(m)), y, tolerance = 1e-10)
  expect_identical(names(residuals(m)), rownames(fixture()$sim$data))
  expect_identical(nobs(m), 160L)
  ll <- logLik(m)
  expect_s3_class(ll, "logLik")
  expect_identical(attr(ll, "df"), 5L)
  expect_identical(attr(ll, "nobs"), 160L)
  expect_equal(AIC(m), -2 * c(ll) + 2 * 5)
  expect_identical(deparse(formula(m)), "y ~ sex + age")
})

test_that("print and summary show the model, components, heritability and fixed effects", {
  skip_if_no_ntkmixed()
  m <- fixture()$fit
  expect_output(print(m), "Kernel linear mixed model fit by MINQUE1")
  expect_output(print(m), "Observations: 160")
  s <- summary(m)
  expect_s3_class(s, "summary.ntkmixed_fit")
  expect_identical(colnames(s$coefficients), c("Estimate", "Std. Error", "z value", "Pr(>|z|)"))
  expect_equal(s$coefficients[, "z value"], coef(m) / m$bse)
  expect_output(print(s), "log-likelihood \\(REML\\)")
  expect_output(print(s), "Heritability")
  expect_output(print(s), "sex\\[T.male\\]")
  expect_true(is.data.frame(s$tables$fixed_effects) || length(s$tables) > 0)
  expect_match(s$text, "Kernel LMM results")
})

test_that("loading next to lme4 and nlme masks nothing: the generics are nlme's", {
  skip_if_not_installed("lme4")
  expect_identical(ntkmixed::fixef, nlme::fixef)
  expect_identical(ntkmixed::ranef, nlme::ranef)
  expect_identical(ntkmixed::VarCorr, nlme::VarCorr)
  shared <- intersect(getNamespaceExports("ntkmixed"), getNamespaceExports("lme4"))
  for (name in shared) {
    expect_identical(getExportedValue("ntkmixed", name), getExportedValue("lme4", name), label = name)
  }
})
