# fit(): R arguments -> the Python fit -> an R-owned "ntkmixed_fit".

#' Fit a kernel linear mixed model
#'
#' Fits \deqn{y = X\beta + \sum_k g_k + e,\quad g_k \sim N(0, \sigma^2_k K_k),
#' \quad e \sim N(0, \sigma^2_e I)} where \eqn{X} comes from the right-hand
#' side of \code{formula} and each \eqn{K_k} is a kernel (GRM, NTK, NNGP, ...)
#' built from \code{genotypes} or supplied with \code{Precomputed()}. Variance
#' components are estimated by iterated MINQUE (\code{"minque1"}, whose fixed
#' point is the REML estimate), one-step MINQUE(0) (\code{"minque0"}) or REML
#' (\code{"reml"}). This is a thin layer over the Python function
#' \code{ntkmixed.fit}; the estimates are the Python ones.
#'
#' Rows with a missing response or covariate, or without genotypes, are dropped
#' with a warning that counts them; the genotype rows follow the data rows.
#' Sample IDs are the row names of \code{data} and of \code{genotypes}: when
#' \code{genotypes} has row names, rows are matched by ID, otherwise by
#' position.
#'
#' The formula is passed to Python as text and parsed by formulaic (the Python
#' equivalent of \code{model.matrix}): factors keep their levels (the first is
#' the reference), logical columns enter as 0/1, and character columns as
#' categories. R functions defined in your session are not available in the
#' formula, and arithmetic inside it is Python's (R's \code{I(age^2)} would be
#' read as a bitwise operation): add such columns to \code{data} instead.
#'
#' @param formula A two-sided formula such as \code{y ~ sex + age}.
#' @param data A data.frame; row names are sample IDs.
#' @param genotypes A numeric matrix of genotype dosages (rows = samples, row
#'   names = sample IDs, missing calls \code{NA}), or the prefix of a PLINK
#'   fileset (\code{.bed/.bim/.fam}, individuals matched by IID). Not needed
#'   when every kernel is \code{Precomputed()}.
#' @param kernel A kernel (\code{\link{GRM}()}, \code{\link{NTK}()}, ...) or
#'   a list of kernels, one variance component each.
#' @param method \code{"minque1"}, \code{"minque0"} or \code{"reml"}.
#' @param constrain Keep variance components non-negative (boundary estimates
#'   are reported and warned about); \code{FALSE} returns unbiased MINQUE values,
#'   which can be negative.
#' @param tol Convergence tolerance of the iterative methods.
#' @param max_iter Maximum number of iterations.
#' @param h2_definition What \code{h2()} reports: \code{"sample-variance"}
#'   (default), \eqn{h^2_k = \sigma^2_k D_k / (\sum_j \sigma^2_j D_j +
#'   \sigma^2_e)} with \eqn{D_k = (tr K_k - 1'K_k 1/n)/(n - 1)}, the share of
#'   the expected sample variance (the part of a kernel that is constant over
#'   people, which the intercept absorbs, does not count), or \code{"kernel"},
#'   \eqn{\sigma^2_k / (\sum_j \sigma^2_j + \sigma^2_e)} on the kernel as
#'   given (the NTK paper's and GCTA's formula).
#' @param progress Progress bars while kernels are built: \code{NULL} (only on
#'   a terminal), \code{TRUE} or \code{FALSE}.
#' @param ... Further arguments of the Python \code{ntkmixed.fit}, by name.
#' @return An object of class \code{"ntkmixed_fit"}; see
#'   \code{\link{ntkmixed_fit-methods}}.
#' @seealso \code{\link{krr}} for kernel ridge regression.
#' @examplesIf ntkmixed_available()
#' set.seed(1)
#' n <- 120
#' G <- matrix(rbinom(n * 300, 2, 0.3), n, dimnames = list(paste0("id", 1:n), NULL))
#' df <- data.frame(sex = factor(sample(c("F", "M"), n, TRUE)), row.names = rownames(G))
#' df$y <- drop(scale(G) %*% rnorm(300, sd = 0.05)) + rnorm(n)
#' m <- fit(y ~ sex, data = df, genotypes = G, kernel = GRM())
#' summary(m)
#' h2(m)
#' @export
fit <- function(formula, data, genotypes = NULL, kernel = GRM(), method = "minque1",
                constrain = TRUE, tol = 1e-8, max_iter = 200L, progress = NULL,
                h2_definition = "sample-variance", ...) {
  call <- sys.call()
  where <- "fit"
  formula_text <- formula_to_text(formula, data, where)
  kernels <- kernel_list(kernel)
  method <- as_string(method, "method", where)
  constrain <- as_flag(constrain, "constrain", where)
  extra <- py_args(list(
    tol = as_number(tol, "tol", where),
    max_iter = as_count(max_iter, "max_iter", where),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    h2_definition = as_string(h2_definition, "h2_definition", where),
    ...
  ))
  if (length(extra) && (is.null(names(extra)) || any(!nzchar(names(extra))))) {
    stop("Further arguments of fit must be named.", call. = FALSE)
  }

  # as model.frame() does for lm(): levels absent from the data would give all-zero columns
  py_data <- frame_to_py(drop_unused_levels(data), "data")
  py_genotypes <- genotypes_to_py(genotypes, where)
  py_kernel <- kernel_to_py(kernel)
  blas_hint(kernels)
  results <- do.call(py_run, c(
    list("fit", formula_text, data = py_data, genotypes = py_genotypes, kernel = py_kernel,
         method = method, constrain = constrain),
    extra,
    list(where = call)
  ), quote = TRUE)
  new_lmm_fit(results, call = call, formula = formula, kernels = kernels)
}

# The formula as text for formulaic, after checking that its variables are columns.
formula_to_text <- function(formula, data, where) {
  if (is.character(formula) && length(formula) == 1L) formula <- stats::as.formula(formula)
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    stop(sprintf(paste0("The 'formula' argument of %s must be a two-sided formula such as ",
                        "y ~ sex + age. Got %s."), where, format_value(formula)), call. = FALSE)
  }
  if (!is.data.frame(data)) {
    stop(sprintf("The 'data' argument of %s must be a data.frame. Got %s.", where, describe(data)),
         call. = FALSE)
  }
  variables <- all.vars(formula)
  absent <- setdiff(variables, names(data))
  if (length(absent)) {
    stop(sprintf("The formula of %s uses variable(s) that are not columns of 'data': %s.",
                 where, paste(absent, collapse = ", ")), call. = FALSE)
  }
  paste(deparse(formula, width.cutoff = 500L), collapse = " ")
}

# Attributes of the Python LMMResults copied into the R object.
lmm_attributes <- c(
  "params", "bse", "zvalues", "pvalues", "conf_int", "fixed_effects", "vcov",
  "variance_components", "variance_components_cov", "boundary", "h2", "h2_se",
  "heritability", "blup", "blup_components", "blup_pev", "fitted", "resid", "loglik",
  "nobs", "n_dropped", "dropped", "method", "constrain", "converged", "iterations",
  "implied_lambda", "h2_definition", "sample_variance_factors", "kernel_diagnostics", "conf_int_h2"
)

new_lmm_fit <- function(results, call, formula, kernels) {
  values <- from_py(bridge()$attributes(results, as.list(lmm_attributes)))
  unavailable <- vapply(values, inherits, TRUE, "ntkmixed_unavailable")
  summary <- from_py(bridge()$summary_payload(results))
  values$vcov <- frame_to_matrix(values$vcov)
  values$variance_components_cov <- frame_to_matrix(values$variance_components_cov)
  object <- c(
    list(call = call, formula = formula, kernels = kernels),
    values,
    list(
      summary_text = summary$text,
      tables = summary$tables,
      unavailable = names(values)[unavailable],
      python = results
    )
  )
  structure(object, class = "ntkmixed_fit")
}

frame_to_matrix <- function(x) {
  if (!is.data.frame(x)) return(x)
  m <- as.matrix(x)
  dimnames(m) <- list(rownames(x), names(x))
  m
}

drop_unused_levels <- function(data) {
  factors <- vapply(data, is.factor, TRUE)
  data[factors] <- lapply(data[factors], droplevels)
  data
}
