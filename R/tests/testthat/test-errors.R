# Bad input from R: clear R errors, and NA handling that drops (and counts) the right rows.

test_that("missing columns are named", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 41L)
  expect_error(fit(y ~ sex + height + bmi, data = sim$data, genotypes = sim$G),
               "variable\\(s\\) that are not columns of 'data': height, bmi")
  expect_error(fit(outcome ~ sex, data = sim$data, genotypes = sim$G), "not columns of 'data': outcome")
})

test_that("the formula and data must have the right types", {
  expect_error(fit(~ sex, data = data.frame(sex = 1)), "must be a two-sided formula")
  expect_error(fit(y ~ x, data = list(y = 1:3, x = 1:3)), "'data' argument of fit must be a data.frame. Got a list")
  expect_error(fit(y ~ x, data = data.frame(y = 1, x = 1), kernel = "GRM"), "'kernel' argument must be a kernel")
  expect_error(fit(y ~ x, data = data.frame(y = 1, x = 1), method = c("reml", "minque1")),
               "'method' argument of fit must be a single string")
  expect_error(fit(y ~ x, data = data.frame(y = 1, x = 1), max_iter = 10.5),
               "'max_iter' argument of fit must be a whole number")
})

test_that("an unknown method is refused with the list of methods", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 42L)
  expect_error(fit(y ~ sex, data = sim$data, genotypes = sim$G, method = "minque2"),
               "'method' parameter of fit must be one of .*minque1.*Got 'minque2'",
               class = "ntkmixed_error")
})

test_that("non-numeric genotypes are refused before Python sees them", {
  sim <- simulate_data(n = 60L, p = 30L, seed = 43L)
  G_text <- matrix(as.character(sim$G), nrow(sim$G), dimnames = dimnames(sim$G))
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G_text),
               "'genotypes' argument of fit must be a numeric matrix .* Got a character matrix 60x30")
  G_frame <- as.data.frame(sim$G)
  G_frame$rs1 <- as.character(G_frame$rs1)
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G_frame),
               "'genotypes' argument of fit must be numeric. Column\\(s\\) rs1 are character")
  expect_error(fit(y ~ sex, data = sim$data, genotypes = list(1, 2)), "Got a list")
})

test_that("genotypes with the wrong number of rows are refused", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 44L)
  expect_error(fit(y ~ sex, data = sim$data, genotypes = unname(sim$G)[1:50, ]),
               "inconsistent numbers of samples: data has 60 rows, genotypes has 50")
})

test_that("NA in the response drops exactly those rows, with a count", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 100L, seed = 45L)
  with_na <- sim$data
  with_na$y[c(3, 10, 77)] <- NA
  expect_warning(m <- fit(y ~ sex + age, data = with_na, genotypes = sim$G),
                 "Dropped 3 of 120 rows \\(3 missing response or covariates\\)", class = "ntkmixed_warning")
  expect_identical(nobs(m), 117L)
  expect_identical(as.integer(m$n_dropped), 3L)
  expect_false(any(c("S0003", "S0010", "S0077") %in% names(fitted(m))))
  complete <- quiet_fit(y ~ sex + age, data = sim$data[-c(3, 10, 77), ], genotypes = sim$G)
  expect_equal(VarCorr(m)$variance, VarCorr(complete)$variance, tolerance = 1e-10)
  expect_equal(coef(m), coef(complete), tolerance = 1e-10)
  expect_output(print(summary(m)), "rows dropped: 3 \\(3 missing response or covariates\\)")
})

test_that("integer, logical, character and factor NA in covariates drop rows (never become values)", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 120L, p = 100L, seed = 46L)
  data <- sim$data
  data$age <- as.integer(data$age)
  data$smoker <- rep(c(TRUE, FALSE, FALSE), length.out = nrow(data))
  data$site <- rep(c("north", "south"), length.out = nrow(data))
  missing_rows <- c(5, 6, 7, 8)
  with_na <- data
  with_na$age[5] <- NA
  with_na$smoker[6] <- NA
  with_na$site[7] <- NA
  with_na$sex[8] <- NA
  formula <- y ~ sex + age + smoker + site
  expect_warning(m <- fit(formula, data = with_na, genotypes = sim$G), "Dropped 4 of 120 rows")
  complete <- quiet_fit(formula, data = data[-missing_rows, ], genotypes = sim$G)
  expect_identical(names(coef(m)), c("Intercept", "sex[T.male]", "age", "smoker", "site[T.south]"))
  expect_equal(coef(m), coef(complete), tolerance = 1e-10)
  expect_equal(VarCorr(m)$variance, VarCorr(complete)$variance, tolerance = 1e-10)
})

test_that("Python errors arrive as R errors of class ntkmixed_error, with R spellings", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 47L)
  sim$data$constant <- 1
  error <- tryCatch(fit(constant ~ sex, data = sim$data, genotypes = sim$G), error = identity)
  expect_s3_class(error, "ntkmixed_error")
  expect_match(conditionMessage(error), "constant")
  expect_false(grepl("Traceback", conditionMessage(error)))
  expect_error(fit(y ~ sex, data = sim$data, genotypes = sim$G, kernel = NTK(depth = 0)),
               "'depth'.*NTK")
})
