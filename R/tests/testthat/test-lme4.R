# lme4-style random intercepts written as Precomputed(Z Z') kernels: REML from ntkmixed
# must reproduce lme4::lmer REML variance components.

tight <- function() {
  lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                    check.conv.singular = "ignore")
}

indicator_kernel <- function(group, ids) {
  Z <- stats::model.matrix(~ 0 + factor(group))
  K <- tcrossprod(Z)
  dimnames(K) <- list(ids, ids)
  K
}

test_that("one random intercept: sleepstudy Reaction ~ Days + (1 | Subject)", {
  skip_if_no_ntkmixed()
  skip_if_not_installed("lme4")
  data <- lme4::sleepstudy
  rownames(data) <- sprintf("obs%03d", seq_len(nrow(data)))
  reference <- lme4::lmer(Reaction ~ Days + (1 | Subject), data = data, REML = TRUE, control = tight())
  expected <- as.data.frame(lme4::VarCorr(reference))$vcov
  m <- quiet_fit(Reaction ~ Days, data = data,
                 kernel = Precomputed(indicator_kernel(data$Subject, rownames(data)), name = "Subject"),
                 method = "reml")
  expect_equal(VarCorr(m)$variance, expected, tolerance = 1e-4)
  expect_equal(unname(coef(m)), unname(lme4::fixef(reference)), tolerance = 1e-4)
  # ntkmixed's REML log-likelihood is that of the error contrasts (Harville), which does
  # not depend on how X is parametrised; lme4's omits + log|X'X| / 2
  X <- stats::model.matrix(~ Days, data)
  log_det_XtX <- c(determinant(crossprod(X))$modulus)
  expect_equal(c(logLik(m)) - c(logLik(reference)), log_det_XtX / 2, tolerance = 1e-6)
  expect_identical(attr(logLik(m), "df"), attr(logLik(reference), "df"))
  # the BLUP of each observation is its subject's conditional mode
  modes <- lme4::ranef(reference)$Subject[as.character(data$Subject), 1]
  expect_equal(unname(ranef(m)$Subject), modes, tolerance = 1e-3)
  # iterated MINQUE reaches the same REML point
  minque <- quiet_fit(Reaction ~ Days, data = data,
                      kernel = Precomputed(indicator_kernel(data$Subject, rownames(data))),
                      method = "minque1")
  expect_equal(VarCorr(minque)$variance, expected, tolerance = 1e-4)
})

test_that("two crossed random intercepts: Penicillin diameter ~ 1 + (1 | plate) + (1 | sample)", {
  skip_if_no_ntkmixed()
  skip_if_not_installed("lme4")
  data <- lme4::Penicillin
  rownames(data) <- sprintf("obs%03d", seq_len(nrow(data)))
  reference <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = data, REML = TRUE,
                          control = tight())
  reference_vc <- as.data.frame(lme4::VarCorr(reference))
  expected <- stats::setNames(reference_vc$vcov, c(reference_vc$grp[1:2], "residual"))
  m <- quiet_fit(diameter ~ 1, data = data, method = "reml", kernel = list(
    Precomputed(indicator_kernel(data$plate, rownames(data)), name = "plate"),
    Precomputed(indicator_kernel(data$sample, rownames(data)), name = "sample")
  ))
  vc <- VarCorr(m)
  expect_equal(vc[names(expected), "variance"], unname(expected), tolerance = 1e-4)
  expect_equal(unname(coef(m)), unname(lme4::fixef(reference)), tolerance = 1e-4)
})
