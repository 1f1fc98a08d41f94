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

test_that("genotype values outside [0, 2] and infinite values are errors naming the cells", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 48L)
  G <- sim$G
  G[3, 4] <- -9
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G),
               "allele dosages in \\[0, 2\\].*-9 at \\(S0003, rs4\\).*G\\[G == -9\\] <- NA",
               class = "ntkmixed_error")
  G <- sim$G
  G[5, 2] <- Inf
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G), "inf at \\(S0005, rs2\\)", class = "ntkmixed_error")
  G <- sim$G
  colnames(G)[2] <- "rs1"
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G), "duplicated SNP IDs.*rs1", class = "ntkmixed_error")
  G <- sim$G
  rownames(G) <- sprintf("X%04d", seq_len(nrow(G)))
  expect_error(fit(y ~ sex, data = sim$data, genotypes = G), "None of the 60 sample IDs of 'data'",
               class = "ntkmixed_error")
})

test_that("the response must be numeric and finite", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 49L)
  data <- sim$data
  data$y[7] <- Inf
  expect_error(fit(y ~ sex, data = data, genotypes = sim$G), "response 'y' of fit has infinite values .*S0007",
               class = "ntkmixed_error")
  data$y <- ifelse(sim$data$y > 1, "high", "low")
  expect_error(fit(y ~ sex, data = data, genotypes = sim$G), "response 'y' of fit must be numeric",
               class = "ntkmixed_error")
  data$y <- factor(data$y)
  expect_error(fit(y ~ sex, data = data, genotypes = sim$G), "must be numeric. Got a categorical column",
               class = "ntkmixed_error")
  data$age[4] <- -Inf
  data$y <- sim$data$y
  expect_error(fit(y ~ sex + age, data = data, genotypes = sim$G), "infinite values in 'age' .*S0004",
               class = "ntkmixed_error")
})

test_that("kernel and option values out of range are refused with the argument named", {
  skip_if_no_ntkmixed()
  expect_error(NTK(seed = 2^40), "'seed' argument of NTK must be a whole number in \\[-2147483647, 2147483647\\]")
  sim <- simulate_data(n = 60L, p = 30L, seed = 50L)
  K <- tcrossprod(scale(sim$G)) / ncol(sim$G)
  expect_error(fit(y ~ sex, data = sim$data, kernel = Precomputed(K, tol = -1)),
               "'tol' parameter of Precomputed must be a finite number >= 0. Got -1", class = "ntkmixed_error")
  expect_error(krr(y ~ sex, data = sim$data, genotypes = sim$G, kernel = GRM(), cv = 1L), "'cv'",
               class = "ntkmixed_error")
  expect_warning(fit(y ~ sex, data = sim$data, genotypes = sim$G, kernel = NTK(depth = 50L, width = Inf)),
                 "nearly a constant plus the identity", class = "ntkmixed_IdentifiabilityWarning")
})

test_that("predict names allow.new.levels and refuses infinite covariates", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 80L, p = 30L, seed = 51L)
  m <- quiet_fit(y ~ sex + age, data = sim$data[1:70, ], genotypes = sim$G[1:70, ])
  new <- sim$data[71:80, ]
  odd <- new
  odd$sex <- factor(rep("other", 10L))
  expect_error(predict(m, newdata = odd, genotypes = sim$G[71:80, ]),
               "not seen in training.*'sex'.*allow.new.levels = TRUE", class = "ntkmixed_error")
  odd <- new
  odd$age[2] <- Inf
  expect_error(predict(m, newdata = odd, genotypes = sim$G[71:80, ]), "infinite values in 'age' .*S0072",
               class = "ntkmixed_error")
})

test_that("k-fold folds follow the sample IDs, not the row order", {
  skip_if_no_ntkmixed()
  sim <- simulate_data(n = 60L, p = 30L, seed = 52L)
  first <- suppressWarnings(krr(y ~ sex, data = sim$data, genotypes = sim$G, kernel = GRM(), cv = 5L))
  shuffled <- sim$data[sample(nrow(sim$data)), ]
  second <- suppressWarnings(krr(y ~ sex, data = shuffled, genotypes = sim$G, kernel = GRM(), cv = 5L))
  expect_equal(second$lambda, first$lambda, tolerance = 1e-12)
  expect_equal(unname(as.matrix(second$cv_results)), unname(as.matrix(first$cv_results)), tolerance = 1e-9)
})
