# A fit is an R object: after saveRDS()/readRDS() every method works except predict for
# new people, which says plainly that the Python object is gone.

test_that("methods work after readRDS and predict explains why it cannot", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 100L, p = 80L, seed = 51L)
  m <- quiet_fit(y ~ sex + age, data = sim$data[1:80, ], genotypes = sim$G[1:80, ])
  path <- tempfile(fileext = ".rds")
  saveRDS(m, path)
  restored <- readRDS(path)
  expect_true(reticulate::py_is_null_xptr(restored$python))
  expect_identical(coef(restored), coef(m))
  expect_identical(fixef(restored), fixef(m))
  expect_identical(ranef(restored), ranef(m))
  expect_identical(VarCorr(restored), VarCorr(m))
  expect_identical(vcov(restored), vcov(m))
  expect_identical(confint(restored), confint(m))
  expect_identical(nobs(restored), nobs(m))
  expect_identical(fitted(restored), fitted(m))
  expect_identical(residuals(restored), residuals(m))
  expect_identical(logLik(restored), logLik(m))
  expect_identical(h2(restored), h2(m))
  expect_identical(predict(restored), fitted(m))
  expect_output(print(restored), "Kernel linear mixed model")
  expect_output(print(summary(restored)), "Fixed effects")
  expect_error(predict(restored, newdata = sim$data[81:100, ], genotypes = sim$G[81:100, ]),
               "predict\\(\\) needs the Python object of this fit, which is gone.*refit the model with fit\\(\\)")
  # the original still predicts
  expect_length(predict(m, newdata = sim$data[81:100, ], genotypes = sim$G[81:100, ]), 20L)
})
