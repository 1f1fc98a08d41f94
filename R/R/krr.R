# krr(): kernel ridge regression with a cross-validated ridge, as an R-owned "ntkmixed_krr".

#' Kernel ridge regression
#'
#' \deqn{\hat\alpha = (K + \lambda I)^{-1}(y - X\hat\beta_\lambda),\quad
#' \hat y_* = X_*\hat\beta_\lambda + K(*, train)\hat\alpha,} with the fixed
#' effects \eqn{\hat\beta_\lambda} (GLS at \eqn{V = K + \lambda I}) not
#' penalised and \eqn{\lambda} chosen by cross-validation, every \eqn{\lambda}
#' scored on every fold. With \eqn{\lambda = \sigma^2_e/\sigma^2_g} the
#' predictions equal those of the kernel mixed model (\code{\link{fit}}). A thin
#' layer over the Python \code{ntkmixed.krr}.
#'
#' @inheritParams fit
#' @param kernel One kernel (default \code{NTK()}: empirical NTK of depth 2 and
#'   width 2000, as NTK-KRR in Ge and Lu).
#' @param lambdas Grid of ridge parameters (positive, increasing). \code{NULL}:
#'   30 log-spaced values from 0.005 to 200 times the kernel's mean diagonal.
#' @param cv Number of folds (rows shuffled with \code{seed}), \code{"loo"} for
#'   exact leave-one-out, or a list with the held-out rows of each fold
#'   (positions \code{1..nobs} among the rows used after incomplete rows are
#'   dropped).
#' @param scoring \code{"mse"} (held-out mean squared error, minimised) or
#'   \code{"cor"} (held-out correlation, maximised).
#' @param seed Seed of the fold assignment (and of the matrix-free engine's
#'   Nystrom sketch).
#' @param engine \code{"auto"} (default), \code{"exact"} (from a low-rank
#'   factor or the n x n kernel) or \code{"matrix-free"} (the kernel used through
#'   products only, every fold at every \eqn{\lambda} by preconditioned conjugate
#'   gradients; k folds only). \code{"auto"} is exact unless its arrays would
#'   not fit in memory.
#' @return An object of class \code{"ntkmixed_krr"} with methods \code{print},
#'   \code{summary}, \code{coef}, \code{fitted}, \code{residuals}, \code{nobs},
#'   \code{predict} and \code{plot} (the cross-validation curve); the chosen
#'   ridge parameter is \code{$lambda} and the score of every \eqn{\lambda} on
#'   every fold \code{$cv_results} (columns \code{lambda}, \code{fold_0}, ...,
#'   \code{mean} and \code{se}).
#' @examplesIf ntkmixed_available()
#' set.seed(2)
#' n <- 100
#' G <- matrix(rbinom(n * 200, 2, 0.4), n, dimnames = list(paste0("id", 1:n), NULL))
#' df <- data.frame(y = drop(scale(G) %*% rnorm(200, sd = 0.07)) + rnorm(n),
#'                  row.names = rownames(G))
#' r <- krr(y ~ 1, data = df, genotypes = G, kernel = NTK(depth = 2, width = Inf))
#' r$lambda
#' @export
krr <- function(formula, data, genotypes = NULL, kernel = NTK(), lambdas = NULL, cv = 5L,
                scoring = "mse", seed = 0L, progress = NULL, engine = "auto") {
  call <- sys.call()
  where <- "krr"
  formula_text <- formula_to_text(formula, data, where)
  kernels <- kernel_list(kernel)
  if (length(kernels) != 1L) {
    stop(sprintf("The 'kernel' argument of krr must be one kernel. Got a list of %d.", length(kernels)),
         call. = FALSE)
  }
  if (!is.null(lambdas) && (!is.numeric(lambdas) || !length(lambdas) || anyNA(lambdas))) {
    stop(sprintf("The 'lambdas' argument of krr must be a numeric vector without NA. Got %s.",
                 format_value(lambdas)), call. = FALSE)
  }
  py_data <- frame_to_py(drop_unused_levels(data), "data")
  py_genotypes <- genotypes_to_py(genotypes, where)
  py_kernel <- kernel_to_py(kernels[[1]])
  blas_hint(kernels)
  results <- py_run(
    "krr", formula_text, data = py_data, genotypes = py_genotypes, kernel = py_kernel,
    lambdas = if (!is.null(lambdas)) as.list(as.double(lambdas)),
    cv = cv_to_py(cv),
    scoring = as_string(scoring, "scoring", where),
    seed = as_count(seed, "seed", where),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    engine = as_string(engine, "engine", where),
    where = call
  )
  new_krr_fit(results, call = call, formula = formula, kernel = kernels[[1]])
}

cv_to_py <- function(cv) {
  if (identical(cv, "loo")) return("loo")
  if (is.list(cv)) {
    ok <- length(cv) >= 2L && all(vapply(cv, function(t) is.numeric(t) && length(t) > 0L && !anyNA(t) &&
                                             all(t == round(t)), TRUE))
    if (!ok) {
      stop("The 'cv' argument of krr, as a list, must hold at least two vectors of held-out row positions.",
           call. = FALSE)
    }
    return(bridge()$HeldOutFolds(lapply(cv, function(t) doubles_raw(t - 1))))
  }
  as_count(cv, "cv", "krr")
}

krr_attributes <- c(
  "lambda_", "lambdas", "cv_results", "at_grid_edge", "params", "dual_coef", "fitted", "resid",
  "nobs", "n_dropped", "dropped", "scoring", "cv", "seed", "engine", "engine_info"
)

new_krr_fit <- function(results, call, formula, kernel) {
  values <- from_py(bridge()$attributes(results, as.list(krr_attributes)))
  names(values)[names(values) == "lambda_"] <- "lambda"
  values$cv_results <- cbind(lambda = as.numeric(rownames(values$cv_results)), values$cv_results)
  summary <- from_py(bridge()$summary_payload(results))
  structure(c(
    list(call = call, formula = formula, kernel = kernel),
    values,
    list(summary_text = summary$text, tables = summary$tables, python = results)
  ), class = "ntkmixed_krr")
}

#' Methods for kernel ridge regression fits
#'
#' @param object,x A fit from \code{\link{krr}}.
#' @param ... Unused (\code{predict}: further arguments of the Python method).
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' r <- krr(y_additive ~ sex + age, data = example$data, genotypes = example$genotypes,
#'          kernel = NTK(depth = 2, width = Inf), cv = 5)
#' r
#' coef(r)
#' head(fitted(r))
#' summary(r)
#' @name ntkmixed_krr-methods
NULL

#' @rdname ntkmixed_krr-methods
#' @param digits Significant digits shown.
#' @export
print.ntkmixed_krr <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Kernel ridge regression\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Kernel:", format(x$kernel), "\n")
  cat(sprintf("Observations: %d%s\n", as.integer(x$nobs), dropped_note(x)))
  cat(sprintf("Cross-validation: %s, scoring %s; chosen lambda = %s%s\n", x$cv, x$scoring,
              format(x$lambda, digits = digits), if (isTRUE(x$at_grid_edge)) " (edge of the grid)" else ""))
  cat("\nFixed effects:\n")
  print(x$params, digits = digits)
  invisible(x)
}

#' @rdname ntkmixed_krr-methods
#' @export
summary.ntkmixed_krr <- function(object, ...) {
  structure(list(
    formula = object$formula, kernel = object$kernel, nobs = object$nobs, dropped = object$dropped,
    cv = object$cv, scoring = object$scoring, lambda = object$lambda,
    at_grid_edge = object$at_grid_edge, coefficients = object$params,
    cv_results = object$cv_results, tables = object$tables, text = object$summary_text
  ), class = "summary.ntkmixed_krr")
}

#' @rdname ntkmixed_krr-methods
#' @export
print.summary.ntkmixed_krr <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Kernel ridge regression (fixed effects unpenalised)\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Kernel:", format(x$kernel), "\n")
  cat(sprintf("Observations: %d; rows dropped: %s\n", as.integer(x$nobs), dropped_text(x$dropped)))
  cat(sprintf("Cross-validation: %s, held-out %s\n", x$cv,
              if (x$scoring == "mse") "mean squared error" else "correlation"))
  best <- x$cv_results[which.min(abs(x$cv_results$lambda - x$lambda)), ]
  cat(sprintf("Chosen lambda: %s%s; CV score %s (SE %s)\n", format(x$lambda, digits = digits),
              if (isTRUE(x$at_grid_edge)) " (at the edge of the grid)" else "",
              format(best$mean, digits = digits), format(best$se, digits = digits)))
  cat("\nFixed effects:\n")
  print(x$coefficients, digits = digits)
  invisible(x)
}

#' @rdname ntkmixed_krr-methods
#' @export
coef.ntkmixed_krr <- function(object, ...) object$params

#' @rdname ntkmixed_krr-methods
#' @export
fitted.ntkmixed_krr <- function(object, ...) object$fitted

#' @rdname ntkmixed_krr-methods
#' @export
residuals.ntkmixed_krr <- function(object, ...) object$resid

#' @rdname ntkmixed_krr-methods
#' @export
nobs.ntkmixed_krr <- function(object, ...) as.integer(object$nobs)

#' @rdname ntkmixed_krr-methods
#' @export
formula.ntkmixed_krr <- function(x, ...) x$formula

#' @rdname ntkmixed_krr-methods
#' @inheritParams predict.ntkmixed_fit
#' @export
predict.ntkmixed_krr <- function(object, newdata = NULL, genotypes = NULL,
                                 allow.new.levels = FALSE, ...) {
  predict.ntkmixed_fit(object, newdata = newdata, genotypes = genotypes,
                       allow.new.levels = allow.new.levels, ...)
}

#' @rdname ntkmixed_krr-methods
#' @param y Unused.
#' @export
plot.ntkmixed_krr <- function(x, y, ...) {
  table <- x$cv_results
  lambdas <- table$lambda
  low <- table$mean - table$se
  high <- table$mean + table$se
  graphics::plot(lambdas, table$mean, log = "x", type = "b", pch = 19, cex = 0.6,
                 ylim = range(low, high, na.rm = TRUE), xlab = "lambda (ridge parameter)",
                 ylab = if (x$scoring == "mse") "held-out mean squared error" else "held-out correlation",
                 main = paste(x$cv, "cross-validation"), ...)
  graphics::arrows(lambdas, low, lambdas, high, angle = 90, code = 3, length = 0.02, col = "grey50")
  graphics::abline(v = x$lambda, lty = 2, col = "firebrick")
  invisible(x)
}
