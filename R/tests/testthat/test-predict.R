# predict() for new people against the textbook formula computed in R.

# GRM between new and training rows with the training standardisation and the training
# mean-diagonal normalisation.
grm_cross <- function(G_train, G_new) {
  centre <- colMeans(G_train)
  spread <- sqrt(colMeans(sweep(G_train, 2, centre)^2))
  keep <- spread > 1e-12
  Z_train <- sweep(sweep(G_train[, keep], 2, centre[keep]), 2, spread[keep], "/")
  Z_new <- sweep(sweep(G_new[, keep], 2, centre[keep]), 2, spread[keep], "/")
  K_train <- tcrossprod(Z_train) / sum(keep)
  scale <- mean(diag(K_train))
  list(train = K_train / scale, cross = tcrossprod(Z_new, Z_train) / sum(keep) / scale)
}

split_data <- function(seed) {
  sim <- simulate_data(n = 180L, p = 150L, seed = seed)
  train <- rownames(sim$data)[1:140]
  new <- rownames(sim$data)[141:180]
  list(sim = sim, train = train, new = new)
}

test_that("predictions for new people follow y* = X* b + s2 K(*, train) V^-1 (y - X b)", {
  skip_if_no_ntkmixed()
  s <- split_data(31L)
  m <- quiet_fit(y ~ sex + age, data = s$sim$data[s$train, ], genotypes = s$sim$G[s$train, ])
  predicted <- predict(m, newdata = s$sim$data[s$new, ], genotypes = s$sim$G[s$new, ])
  expect_identical(names(predicted), s$new)

  K <- grm_cross(s$sim$G[s$train, ], s$sim$G[s$new, ])
  vc <- VarCorr(m)$variance
  train <- s$sim$data[s$train, ]
  new <- s$sim$data[s$new, ]
  X <- cbind(1, train$sex == "male", train$age)
  X_new <- cbind(1, new$sex == "male", new$age)
  V <- vc[1] * K$train + vc[2] * diag(nrow(X))
  expected <- drop(X_new %*% coef(m) + vc[1] * K$cross %*% solve(V, train$y - X %*% coef(m)))
  expect_equal(unname(predicted), unname(expected), tolerance = 1e-8)
})

test_that("new people are matched to their genotypes by ID", {
  skip_if_no_ntkmixed()
  s <- split_data(32L)
  m <- quiet_fit(y ~ sex, data = s$sim$data[s$train, ], genotypes = s$sim$G[s$train, ])
  in_order <- predict(m, newdata = s$sim$data[s$new, ], genotypes = s$sim$G[s$new, ])
  shuffled <- predict(m, newdata = s$sim$data[s$new, ], genotypes = s$sim$G[rev(s$new), ])
  expect_equal(shuffled, in_order, tolerance = 1e-12)
  # genotypes may include everyone: only the newdata rows are used
  everyone <- predict(m, newdata = s$sim$data[s$new, ], genotypes = s$sim$G)
  expect_equal(everyone, in_order, tolerance = 1e-12)
})

test_that("predict without newdata returns the fitted values, without Python", {
  skip_if_no_ntkmixed()
  s <- split_data(33L)
  m <- quiet_fit(y ~ sex, data = s$sim$data, genotypes = s$sim$G)
  expect_identical(predict(m), fitted(m))
})

test_that("unseen factor levels fail unless allow.new.levels = TRUE", {
  skip_if_no_ntkmixed()
  s <- split_data(34L)
  data <- s$sim$data
  data$site <- factor(ifelse(seq_len(nrow(data)) %% 2 == 0, "A", "B"), levels = c("A", "B", "C"))
  m <- quiet_fit(y ~ sex + site, data = data[s$train, ], genotypes = s$sim$G[s$train, ])
  new <- data[s$new, ]
  new$site[1:3] <- "C"
  expect_error(predict(m, newdata = new, genotypes = s$sim$G[s$new, ]),
               "factor levels not seen in training.*allow.new.levels = TRUE")
  predicted <- predict(m, newdata = new, genotypes = s$sim$G[s$new, ], allow.new.levels = TRUE)
  expect_length(predicted, length(s$new))
  expect_true(all(is.finite(predicted)))
  expect_error(predict(m, newdata = new, genotypes = s$sim$G[s$new, ], allow.new.levels = NA),
               "'allow.new.levels' argument of predict must be TRUE or FALSE")
})

test_that("predict reports missing genotypes and missing columns clearly", {
  skip_if_no_ntkmixed()
  s <- split_data(35L)
  m <- quiet_fit(y ~ sex + age, data = s$sim$data[s$train, ], genotypes = s$sim$G[s$train, ])
  expect_error(predict(m, newdata = s$sim$data[s$new, ]), "'genotypes' argument of predict is required")
  expect_error(predict(m, newdata = s$sim$data[s$new, "sex", drop = FALSE], genotypes = s$sim$G[s$new, ]),
               "lacks column\\(s\\) used by the formula")
  expect_error(predict(m, newdata = s$sim$data[s$new, ], genotypes = s$sim$G[s$train, ]),
               "None of the 40 sample IDs of 'newdata' is in 'genotypes'")
})

test_that("Precomputed kernels covering new people predict without genotypes", {
  skip_if_no_ntkmixed()
  s <- split_data(36L)
  K_all <- grm_cross(s$sim$G, s$sim$G)$train
  dimnames(K_all) <- list(rownames(s$sim$G), rownames(s$sim$G))
  from_K <- quiet_fit(y ~ sex, data = s$sim$data[s$train, ], kernel = Precomputed(K_all))
  predicted <- predict(from_K, newdata = s$sim$data[s$new, ])
  vc <- VarCorr(from_K)$variance
  train <- s$sim$data[s$train, ]
  X <- cbind(1, train$sex == "male")
  V <- vc[1] * K_all[s$train, s$train] + vc[2] * diag(length(s$train))
  X_new <- cbind(1, s$sim$data[s$new, "sex"] == "male")
  expected <- drop(X_new %*% coef(from_K) +
                     vc[1] * K_all[s$new, s$train] %*% solve(V, train$y - X %*% coef(from_K)))
  expect_equal(unname(predicted), unname(expected), tolerance = 1e-8)
})
