# Kernel descriptions are R values: coerced at construction, no Python needed.

test_that("kernel arguments are coerced to the types Python expects", {
  k <- NTK(depth = 3, width = 2000, seed = 7, n_init = 2)
  expect_s3_class(k, "ntkmixed_kernel")
  expect_identical(k$args$depth, 3L)
  expect_identical(k$args$width, 2000L)
  expect_identical(k$args$seed, 7L)
  expect_identical(k$args$n_init, 2L)
  expect_identical(NNGP(depth = 4)$args$depth, 4L)
  expect_identical(Polynomial(degree = 3, c = 0L)$args, list(degree = 3L, c = 0, normalize = "mean-diag"))
  expect_null(Gaussian()$args$bandwidth)
})

test_that("infinite width is spelled Inf, NULL or 'inf' and sent as 'inf'", {
  expect_identical(NTK(width = Inf)$args$width, "inf")
  expect_identical(NTK(width = NULL)$args$width, "inf")
  expect_identical(NTK(width = "inf")$args$width, "inf")
})

test_that("bad kernel arguments give errors naming the argument and the value", {
  expect_error(NTK(depth = 2.5), "'depth' argument of NTK must be a whole number.*Got 2.5")
  expect_error(NTK(width = "wide"), "'width' argument of NTK must be a whole number")
  expect_error(NTK(seed = NA), "'seed' argument of NTK")
  expect_error(GRM(normalize = 1), "'normalize' argument of GRM must be a single string")
  expect_error(Precomputed(matrix(letters[1:4], 2)), "'K' argument of Precomputed must be a numeric matrix")
  expect_error(Precomputed(diag(2), ids = c("a", "b", "c")), "one ID per row of K \\(2\\). Got 3")
})

test_that("kernels print as the call that made them", {
  expect_output(print(NTK(depth = 3, width = 100, seed = 1)), "^NTK\\(depth = 3, width = 100, seed = 1\\)$")
  expect_output(print(NTK(depth = 3, width = 100, n_init = 2, normalize = "unit-diag")),
                'NTK\\(depth = 3, width = 100, seed = 0, n_init = 2, normalize = "unit-diag"\\)')
  expect_output(print(NTK(width = Inf)), "^NTK\\(depth = 2, width = Inf\\)$")
  expect_output(print(GRM()), "^GRM\\(\\)$")
  K <- diag(3)
  rownames(K) <- c("a", "b", "c")
  expect_output(print(Precomputed(K, name = "family")), "Precomputed\\(K = <3x3 matrix>, ids = <3 IDs>")
})

test_that("Precomputed takes its IDs from the row names", {
  K <- diag(2)
  dimnames(K) <- list(c("x", "y"), c("x", "y"))
  expect_identical(Precomputed(K)$args$ids, list("x", "y"))
  expect_null(Precomputed(unname(K))$args$ids)
})

test_that("c() of kernels is a list of kernels, accepted by fit", {
  kernels <- c(GRM(), NNGP())
  expect_type(kernels, "list")
  expect_length(kernels, 2L)
  expect_identical(ntkmixed:::kernel_list(kernels), list(GRM(), NNGP()))
  expect_error(ntkmixed:::kernel_list("GRM"), "'kernel' argument must be a kernel such as GRM()")
})
