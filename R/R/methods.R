# Methods of "ntkmixed_fit". Everything here reads the R copy of the results, so it works
# after saveRDS()/readRDS() without Python; only predict() needs the Python object.

#' Methods for fitted kernel mixed models
#'
#' Extractors for \code{\link{fit}} results, following lme4: \code{fixef} and
#' \code{coef} give the fixed effects, \code{ranef} the BLUPs of the kernel
#' (genetic) effects per sample ID, with their prediction-error variances in
#' the attribute \code{"postVar"}, \code{VarCorr} the variance components,
#' \code{vcov} the covariance of the fixed effects, \code{confint} Wald
#' intervals for fixed effects and, with \code{parm = "h2"}, the
#' profile-likelihood (or Wald) interval for the heritability,
#' \code{logLik} the (REML) log-likelihood, and \code{h2} the
#' heritability with its delta-method standard error. \code{fixef},
#' \code{ranef} and \code{VarCorr} are the generics of nlme (re-exported), so
#' loading lme4 or nlme next to ntkmixed masks nothing.
#'
#' @param object,x A fit from \code{\link{fit}}.
#' @param ... Unused.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' m <- fit(y_additive ~ sex + age, data = example$data,
#'          genotypes = example$genotypes, kernel = GRM())
#' m
#' fixef(m)
#' head(ranef(m))
#' VarCorr(m)
#' confint(m)
#' logLik(m)
#' summary(m)
#' @name ntkmixed_fit-methods
NULL

#' @rdname ntkmixed_fit-methods
#' @param digits Significant digits shown.
#' @export
print.ntkmixed_fit <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Kernel linear mixed model fit by", toupper(x$method), "\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Kernels:", paste(vapply(x$kernels, format, ""), collapse = ", "), "\n")
  cat(sprintf("Observations: %d%s\n", as.integer(x$nobs), dropped_note(x)))
  cat("\nVariance components:\n")
  print(VarCorr(x), digits = digits)
  cat(sprintf("\nHeritability (%s definition):\n", attr(format_h2(x), "definition")))
  print(format_h2(x), digits = digits)
  cat("\nFixed effects:\n")
  print(x$params, digits = digits)
  invisible(x)
}

dropped_text <- function(dropped) {
  counts <- unlist(dropped)
  if (!length(counts) || sum(counts) == 0) return("0")
  sprintf("%d (%s)", as.integer(sum(counts)), paste(counts, names(counts), collapse = ", "))
}

dropped_note <- function(x) {
  n <- as.integer(x$n_dropped)
  if (length(n) && !is.na(n) && n > 0L) sprintf(" (%d rows dropped)", n) else ""
}

#' @rdname ntkmixed_fit-methods
#' @export
summary.ntkmixed_fit <- function(object, ...) {
  estimate <- object$params
  se <- object$bse[names(estimate)]
  z <- estimate / se
  coefficients <- cbind(
    Estimate = estimate, `Std. Error` = se, `z value` = z,
    `Pr(>|z|)` = object$pvalues[names(estimate)]
  )
  structure(list(
    call = object$call,
    formula = object$formula,
    method = object$method,
    kernels = object$kernels,
    nobs = object$nobs,
    dropped = object$dropped,
    converged = object$converged,
    logLik = logLik(object),
    varcor = VarCorr(object),
    heritability = format_h2(object),
    coefficients = coefficients,
    tables = object$tables,
    text = object$summary_text
  ), class = "summary.ntkmixed_fit")
}

#' @rdname ntkmixed_fit-methods
#' @param signif.stars Show significance stars.
#' @export
print.summary.ntkmixed_fit <- function(x, digits = max(3L, getOption("digits") - 3L),
                                       signif.stars = getOption("show.signif.stars"), ...) {
  cat("Kernel linear mixed model fit by", toupper(x$method), "\n")
  cat("Formula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Kernels:", paste(vapply(x$kernels, format, ""), collapse = ", "), "\n")
  cat(sprintf("Observations: %d; rows dropped: %s; converged: %s\n", as.integer(x$nobs),
              dropped_text(x$dropped), if (isTRUE(x$converged)) "yes" else "no"))
  cat(sprintf("log-likelihood (REML): %s (df = %d)\n", format(c(x$logLik), digits = digits + 3L),
              attr(x$logLik, "df")))
  cat("\nVariance components:\n")
  print(x$varcor, digits = digits)
  cat(sprintf("\nHeritability (%s definition), delta-method SE:\n", attr(x$heritability, "definition")))
  print(x$heritability, digits = digits)
  cat("\nFixed effects:\n")
  stats::printCoefmat(x$coefficients, digits = digits, signif.stars = signif.stars,
                      P.values = TRUE, has.Pvalue = TRUE)
  invisible(x)
}

#' @rdname ntkmixed_fit-methods
#' @export
coef.ntkmixed_fit <- function(object, ...) object$params

#' @rdname ntkmixed_fit-methods
#' @importFrom nlme fixef
#' @method fixef ntkmixed_fit
#' @export
fixef.ntkmixed_fit <- function(object, ...) object$params

#' @rdname ntkmixed_fit-methods
#' @param condVar Attach the prediction-error variances (attribute
#'   \code{"postVar"}, same shape as the BLUPs).
#' @return \code{ranef}: a data.frame of BLUPs, one column per kernel and one
#'   row per sample ID (their sum is \code{object$blup}; the prediction-error
#'   variance of the sum is \code{object$blup_pev$total}).
#' @importFrom nlme ranef
#' @method ranef ntkmixed_fit
#' @export
ranef.ntkmixed_fit <- function(object, condVar = TRUE, ...) {
  blups <- object$blup_components
  if (condVar) {
    attr(blups, "postVar") <- object$blup_pev[rownames(blups), names(blups), drop = FALSE]
  }
  class(blups) <- c("ranef.ntkmixed_fit", "data.frame")
  blups
}

#' @export
print.ranef.ntkmixed_fit <- function(x, ...) {
  attr(x, "postVar") <- NULL
  print(structure(x, class = "data.frame"), ...)
  invisible(x)
}

#' @rdname ntkmixed_fit-methods
#' @return \code{VarCorr}: a data.frame with the variance of each component,
#'   its standard deviation and the standard error of the variance.
#' @importFrom nlme VarCorr
#' @method VarCorr ntkmixed_fit
#' @param sigma Unused (part of the nlme generic).
#' @export
VarCorr.ntkmixed_fit <- function(x, sigma = 1, ...) {
  components <- x$variance_components
  variance <- components[["estimate"]]
  out <- data.frame(
    variance = variance,
    std_dev = sqrt(pmax(variance, 0)),
    se = components[["se"]],
    row.names = rownames(components)
  )
  class(out) <- c("VarCorr.ntkmixed_fit", "data.frame")
  out
}

#' @export
print.VarCorr.ntkmixed_fit <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  shown <- structure(x, class = "data.frame")
  names(shown) <- c("Variance", "Std.Dev.", "Std.Error")
  print(shown, digits = digits, ...)
  invisible(x)
}

#' @rdname ntkmixed_fit-methods
#' @export
vcov.ntkmixed_fit <- function(object, ...) object$vcov

#' @rdname ntkmixed_fit-methods
#' @param parm Names or positions of the fixed effects (default: all), or
#'   \code{"h2"} for the heritability: the REML profile-likelihood interval
#'   (lme4's \code{confint(profile(m))}; boundary-aware, within [0, 1]) for a
#'   one-kernel fit, Wald intervals per kernel and in total otherwise.
#' @param level Confidence level.
#' @param method For \code{parm = "h2"}: \code{"profile"} or \code{"wald"}
#'   (default: profile where available). Levels other than 0.95 and a chosen
#'   method need the Python object of the fit.
#' @export
confint.ntkmixed_fit <- function(object, parm, level = 0.95, method = NULL, ...) {
  estimate <- object$params
  se <- object$bse[names(estimate)]
  tail <- (1 - level) / 2
  labels <- paste(format(100 * c(tail, 1 - tail), trim = TRUE, scientific = FALSE, digits = 3), "%")
  if (!missing(parm) && is.character(parm) && "h2" %in% parm) {
    if (length(parm) > 1L) stop("confint: ask for parm = \"h2\" on its own.", call. = FALSE)
    return(h2_interval(object, level, method, labels))
  }
  if (missing(parm)) parm <- names(estimate)
  if (is.numeric(parm)) parm <- names(estimate)[parm]
  quantile <- stats::qnorm(1 - tail)
  out <- cbind(estimate[parm] - quantile * se[parm], estimate[parm] + quantile * se[parm])
  dimnames(out) <- list(parm, labels)
  out
}

# The interval for h2: the one computed at fit time (95%, default method) from the R copy,
# others from the Python object.
h2_interval <- function(object, level, method, labels) {
  stored <- object$conf_int_h2
  if (isTRUE(all.equal(level, 0.95)) && is.null(method) && is.data.frame(stored)) {
    table <- stored
  } else {
    python <- live_python(object, "confint(parm = \"h2\", level, method)")
    level <- as_number(level, "level", "confint")
    if (!is.null(method)) method <- as_string(method, "method", "confint")
    value <- py_method(python, "conf_int_h2", level = level, method = method, where = quote(confint()))
    table <- from_py(bridge()$plain(value))
  }
  out <- as.matrix(table[, c("lower", "upper")])
  dimnames(out) <- list(rownames(table), labels)
  attr(out, "method") <- unique(table$method)
  attr(out, "definition") <- object$h2_definition
  out
}

#' @rdname ntkmixed_fit-methods
#' @export
nobs.ntkmixed_fit <- function(object, ...) as.integer(object$nobs)

#' @rdname ntkmixed_fit-methods
#' @export
fitted.ntkmixed_fit <- function(object, ...) object$fitted

#' @rdname ntkmixed_fit-methods
#' @export
residuals.ntkmixed_fit <- function(object, ...) object$resid

#' @rdname ntkmixed_fit-methods
#' @return \code{logLik}: the REML log-likelihood at the estimates (whatever
#'   the method), of class \code{"logLik"}; \code{df} counts fixed effects and
#'   variance components, as lme4 does. It is the likelihood of the error
#'   contrasts, which does not depend on how the fixed effects are
#'   parametrised; lme4's REML log-likelihood leaves out its term
#'   \eqn{\frac12\log|X'X|}, so the two differ by that constant.
#' @export
logLik.ntkmixed_fit <- function(object, ...) {
  df <- length(object$params) + nrow(object$variance_components)
  structure(as.numeric(object$loglik), df = as.integer(df), nobs = nobs(object), REML = TRUE,
            class = "logLik")
}

#' @rdname ntkmixed_fit-methods
#' @export
formula.ntkmixed_fit <- function(x, ...) x$formula

#' Heritability
#'
#' The share of phenotypic variance explained by each kernel component and in
#' total, with standard errors by the delta method. By default (\code{fit(...,
#' h2_definition = "sample-variance")}) it is the share of the expected sample
#' variance, \eqn{h^2_k = \sigma^2_k D_k / (\sum_j \sigma^2_j D_j +
#' \sigma^2_e)} with \eqn{D_k = (tr K_k - 1'K_k 1/n)/(n - 1)}: the part of a
#' kernel that is constant over people (large for NTK and NNGP kernels),
#' which the intercept absorbs, is not counted as genetic. With
#' \code{h2_definition = "kernel"} it is \eqn{\sigma^2_k / (\sum_j
#' \sigma^2_j + \sigma^2_e)}. The definition is the attribute
#' \code{"definition"}, the factors \eqn{D_k} the attribute \code{"D"};
#' \code{confint(fit, parm = "h2")} gives an interval.
#'
#' @param object A fit from \code{\link{fit}}.
#' @param ... Unused.
#' @return A data.frame with columns \code{estimate} and \code{se}, one row per
#'   component and a \code{"total"} row when there are several.
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' m <- fit(y_additive ~ sex + age, data = example$data,
#'          genotypes = example$genotypes, kernel = GRM())
#' h2(m)
#' @export
h2 <- function(object, ...) UseMethod("h2")

#' @rdname h2
#' @export
h2.ntkmixed_fit <- function(object, ...) {
  table <- object$heritability[, c("estimate", "se"), drop = FALSE]
  if (nrow(table) > 1L) {
    table <- rbind(table, data.frame(estimate = object$h2, se = object$h2_se, row.names = "total"))
  }
  attr(table, "definition") <- if (is.null(object$h2_definition)) "kernel" else object$h2_definition
  attr(table, "D") <- object$sample_variance_factors
  table
}

format_h2 <- function(object) h2(object)
