# The Python side: which interpreter, the delayed imports, and one way to call into it
# that turns Python warnings and errors into R ones.

ntk <- NULL
bridge_module <- NULL

# The Python half of the package (inst/python/ntkmixed_bridge.py). Every use of Python goes
# through here or py_run(), so NTKMIXED_PYTHON is honoured whenever Python starts.
bridge <- function() {
  choose_python()
  bridge_module
}

.onLoad <- function(libname, pkgname) {
  # Python starts on first use, not here; choose_python() runs now and again just before
  # Python starts, so NTKMIXED_PYTHON may be set before or after library(ntkmixed)
  choose_python()
  delay <- list(before_load = choose_python, on_error = on_import_error)
  ntk <<- reticulate::import("ntkmixed", convert = FALSE, delay_load = delay)
  bridge_module <<- reticulate::import_from_path(
    "ntkmixed_bridge",
    path = system.file("python", package = pkgname, lib.loc = libname),
    convert = FALSE,
    delay_load = delay
  )
}

# NTKMIXED_PYTHON, else the interpreter install_ntkmixed() recorded, read when Python is
# about to start (so setting either after library(ntkmixed) works too); RETICULATE_PYTHON
# wins over both.
choose_python <- function() {
  python <- Sys.getenv("NTKMIXED_PYTHON", unset = "")
  if (!nzchar(python)) python <- saved_python()
  if (nzchar(python) && !nzchar(Sys.getenv("RETICULATE_PYTHON", unset = "")) &&
      !reticulate::py_available(initialize = FALSE)) {
    Sys.setenv(RETICULATE_PYTHON = path.expand(python))
  }
}

on_import_error <- function(e) {
  stop(import_error_message(conditionMessage(e)), call. = FALSE)
}

import_error_message <- function(message) {
  if (grepl("No module named", message, fixed = TRUE)) {
    return(paste0(
      "The Python package 'ntkmixed' (or one of its dependencies) is not installed in the ",
      "Python that R uses (", python_path(), ").\n",
      "Create a Python environment with it in one call (then restart R):\n",
      "  ntkmixed::install_ntkmixed()    # or install_ntkmixed(package = \"path/to/ntkmixed\")\n",
      "or use an environment of your own where 'import ntkmixed' works",
      if (utils::packageVersion("reticulate") < "1.38") " (with this reticulate: numpy<2 and pandas<3)" else "",
      ", set before the first ntkmixed call (e.g. in ~/.Renviron):\n",
      "  NTKMIXED_PYTHON=/path/to/env/bin/python\n",
      "(Python said: ", first_line(message), ")"
    ))
  }
  paste0("Python could not import ntkmixed: ", message)
}

python_path <- function() {
  for (variable in c("RETICULATE_PYTHON", "NTKMIXED_PYTHON")) {
    value <- Sys.getenv(variable, unset = "")
    if (nzchar(value)) return(paste0(variable, "=", value))
  }
  saved <- saved_python()
  if (nzchar(saved)) return(paste0(saved, ", recorded by install_ntkmixed()"))
  "found by reticulate; install_ntkmixed() makes one, or set NTKMIXED_PYTHON"
}

first_line <- function(message) sub("\n.*", "", message)

#' Is the Python package available?
#'
#' Checks, without raising an error, that Python can be started and that the
#' Python package \code{ntkmixed} can be imported in it. Tests and examples use
#' it to skip when Python is missing. When it is, \code{\link{install_ntkmixed}()}
#' creates a Python environment with it in one call.
#'
#' The Python used is, in this order: \code{RETICULATE_PYTHON},
#' \code{NTKMIXED_PYTHON}, the interpreter recorded by
#' \code{\link{install_ntkmixed}()}, or whatever reticulate finds.
#'
#' @param initialize Start Python if it is not running yet (the default).
#'   With \code{FALSE}, returns \code{FALSE} unless Python was already started.
#' @return \code{TRUE} or \code{FALSE}; when \code{FALSE}, the attribute
#'   \code{"reason"} says why (and how to install ntkmixed).
#' @seealso \code{\link{install_ntkmixed}}
#' @export
#' @examples
#' available <- ntkmixed_available()
#' if (!available) cat(attr(available, "reason"), "\n")
ntkmixed_available <- function(initialize = TRUE) {
  if (!initialize && !reticulate::py_available(initialize = FALSE)) {
    return(structure(FALSE, reason = "Python has not been started"))
  }
  choose_python()
  ok <- tryCatch({
    reticulate::py_module_available("ntkmixed") && !is.null(python_environment())
  }, error = function(e) structure(FALSE, reason = conditionMessage(e)))
  if (isTRUE(ok)) TRUE else {
    if (is.null(attr(ok, "reason"))) attr(ok, "reason") <- import_error_message("No module named 'ntkmixed'")
    ok
  }
}

#' The Python environment used by ntkmixed
#'
#' Starts Python if needed (see \code{\link{ntkmixed_available}} for which
#' interpreter is chosen).
#'
#' @return A named list: the Python executable and the versions of Python,
#'   ntkmixed, NumPy and pandas.
#' @seealso \code{\link{install_ntkmixed}}
#' @export
#' @examplesIf ntkmixed_available()
#' str(python_environment())
python_environment <- function() {
  # bridge() first: py_to_r() starts Python before it evaluates its argument
  environment <- bridge()$environment()
  reticulate::py_to_r(environment)
}

# Call `function` (an ntkmixed attribute name or a Python callable) through the bridge;
# Python warnings become R warnings and Python errors R errors of class
# "ntkmixed_error". Returns the Python value unconverted.
py_run <- function(function_, ..., where = NULL) {
  choose_python()
  if (is.character(function_)) function_ <- reticulate::py_get_attr(ntk, function_)
  outcome <- bridge()$call(function_, ...)
  relay_outcome(outcome, where)
}

# The same for a method of a Python object.
py_method <- function(object, name, ..., where = NULL) {
  outcome <- bridge()$method(object, name, ...)
  relay_outcome(outcome, where)
}

relay_outcome <- function(outcome, where) {
  caught <- reticulate::py_to_r(outcome$warnings)
  for (w in caught) {
    warning(warningCondition(
      r_message(w[[2]]),
      class = c(paste0("ntkmixed_", w[[1]]), "ntkmixed_warning"),
      call = where
    ))
  }
  error <- reticulate::py_to_r(outcome$error)
  if (!is.null(error)) {
    stop(errorCondition(
      r_message(error[[2]]),
      class = c(paste0("ntkmixed_", error[[1]]), "ntkmixed_error"),
      call = where,
      python_type = error[[1]]
    ))
  }
  outcome$value
}

# Python messages name Python spellings of arguments; show the R ones.
r_message <- function(message) {
  message <- gsub("allow_new_levels=True", "allow.new.levels = TRUE", message, fixed = TRUE)
  message <- gsub("'allow_new_levels'", "'allow.new.levels'", message, fixed = TRUE)
  message <- gsub("pandas DataFrame", "data.frame", message, fixed = TRUE)
  message <- gsub("G.replace(-9, np.nan)", "G[G == -9] <- NA", message, fixed = TRUE)
  message <- gsub("(pd.to_numeric)", "(as.numeric)", message, fixed = TRUE)
  message <- gsub("pd.to_numeric", "as.numeric", message, fixed = TRUE)
  message
}

# Plain Python values -> R values, rebuilding the tagged frames, series and arrays.
from_py <- function(x) {
  if (inherits(x, "python.builtin.object")) x <- reticulate::py_to_r(x)
  from_plain(x)
}

from_plain <- function(x) {
  if (!is.list(x)) return(x)
  type <- x[["__type__"]]
  if (is.null(type)) return(lapply(x, from_plain))
  switch(type,
    frame = plain_frame(x),
    series = stats::setNames(plain_column(x), as.character(unlist(x$index))),
    array = plain_array(x),
    matrix = matrix(read_doubles(x$values), nrow = x$dims[[1]], ncol = x$dims[[2]],
                    dimnames = list(as.character(unlist(x$rownames)), as.character(unlist(x$colnames)))),
    unavailable = structure(NA, reason = x$reason, class = "ntkmixed_unavailable"),
    stop("Unknown value from Python: ", type, call. = FALSE)
  )
}

plain_column <- function(column) {
  switch(column$kind,
    double = read_doubles(column$values),
    logical = as.logical(read_doubles(column$values)),
    character = vapply(column$values, function(v) if (is.null(v)) NA_character_ else v, ""),
    stop("Unknown column kind from Python: ", column$kind, call. = FALSE)
  )
}

plain_frame <- function(x) {
  columns <- lapply(x$data, plain_column)
  names(columns) <- as.character(unlist(x$columns))
  n <- length(x$index)
  frame <- if (length(columns)) {
    as.data.frame(columns, optional = TRUE, stringsAsFactors = FALSE)
  } else {
    data.frame(row.names = seq_len(n))[, FALSE, drop = FALSE]
  }
  if (n) rownames(frame) <- as.character(unlist(x$index))
  frame
}

plain_array <- function(x) {
  values <- read_doubles(x$values)
  dims <- as.integer(unlist(x$dims))
  if (length(dims) <= 1L) values else array(values, dim = dims)
}

read_doubles <- function(raw) {
  if (is.null(raw) || !length(raw)) return(numeric())
  readBin(raw, what = "double", n = length(raw) %/% 8L, size = 8L, endian = "little")
}

# torch's CPU library exports the BLAS symbols it calls (dgemm_, ...). Inside R on Linux
# those resolve to the BLAS R loaded first; with the reference BLAS, the matrix products
# of an empirical NTK run 10-15 times slower than in Python. Say so once per session.
state <- new.env(parent = emptyenv())

blas_hint <- function(kernels) {
  empirical <- vapply(kernels, function(k) k$type == "NTK" && !identical(k$args$width, "inf"), TRUE)
  if (!any(empirical) || isTRUE(state$blas_hint_shown) || !uses_reference_blas()) return(invisible())
  state$blas_hint_shown <- TRUE
  message(
    "Note: R uses the reference BLAS (", extSoftVersion()[["BLAS"]], "). Inside R, torch's ",
    "matrix products go through it, so an empirical NTK is computed 10-15 times slower than ",
    "in Python. Install an optimised BLAS (Debian/Ubuntu: apt install libopenblas0-pthread) ",
    "or use the analytic kernel NTK(width = Inf)."
  )
}

uses_reference_blas <- function() {
  blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) "")
  identical(Sys.info()[["sysname"]], "Linux") &&
    grepl("libRblas|/blas/libblas\\.so", blas)
}
