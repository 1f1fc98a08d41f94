# predict() for new people: the only method that needs the Python object of a fit.

#' Predict from a kernel mixed model
#'
#' For new individuals, \eqn{\hat y_* = X_*\hat\beta + \sum_k \hat\sigma^2_k
#' K_k(*, train) \hat V^{-1}(y - X\hat\beta)}, with \eqn{X_*} rebuilt from the
#' training formula (training factor levels) and the kernels computed with the
#' training standardisation, network seed and normalisation. The new people
#' are never part of the fit.
#'
#' @param object A fit from \code{\link{fit}}.
#' @param newdata A data.frame of the formula's covariates for the new people
#'   (row names = sample IDs). \code{NULL}: the fitted values of the training
#'   people.
#' @param genotypes Their genotypes: a numeric matrix (row names = sample IDs,
#'   the training SNP columns) or a PLINK prefix. Not needed for
#'   \code{Precomputed()} kernels that already cover the new people.
#' @param allow.new.levels Predict factor levels unseen in training at the
#'   reference level instead of failing.
#' @param ... Further arguments of the Python \code{predict}, by name.
#' @return A numeric vector named by sample ID.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' data <- example$data[!is.na(example$data$y_nonlinear), ]
#' test <- rownames(data)[1:100]
#' train <- setdiff(rownames(data), test)
#' m <- fit(y_nonlinear ~ sex + age, data = data[train, ],
#'          genotypes = example$genotypes[train, ], kernel = NTK(depth = 2, width = Inf))
#' predicted <- predict(m, newdata = data[test, ], genotypes = example$genotypes[test, ])
#' cor(predicted, data[test, "y_nonlinear"])
#' @export
predict.ntkmixed_fit <- function(object, newdata = NULL, genotypes = NULL,
                                 allow.new.levels = FALSE, ...) {
  if (is.null(newdata) && is.null(genotypes)) return(stats::fitted(object))
  python <- live_python(object, "predict")
  allow.new.levels <- as_flag(allow.new.levels, "allow.new.levels", "predict")
  py_newdata <- if (!is.null(newdata)) frame_to_py(newdata, "newdata")
  py_genotypes <- genotypes_to_py(genotypes, "predict")
  prediction <- do.call(py_method, c(
    list(python, "predict", newdata = py_newdata, genotypes = py_genotypes,
         allow_new_levels = allow.new.levels),
    py_args(list(...)),
    list(where = quote(predict()))
  ), quote = TRUE)
  from_py(bridge()$plain(prediction))
}

# The Python object of a fit, or a plain error when it did not survive saveRDS().
live_python <- function(object, what) {
  python <- object$python
  if (is.null(python) || reticulate::py_is_null_xptr(python)) {
    stop(sprintf(paste0(
      "%s() needs the Python object of this fit, which is gone: the fit was saved with ",
      "saveRDS() (or the R session restarted) and R cannot restore Python objects. ",
      "Everything else (summary, coef, ranef, VarCorr, h2, ...) still works; refit the model ",
      "with %s() to %s."), what, object_maker(object), what), call. = FALSE)
  }
  python
}

object_maker <- function(object) {
  if (inherits(object, "ntkmixed_krr")) "krr" else "fit"
}
