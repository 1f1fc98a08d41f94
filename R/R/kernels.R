# Kernels are R values: a type and its arguments, already coerced to the types Python
# expects. They need no Python until a model is fitted, survive saveRDS, and print as
# the call that made them. make_kernel() in ntkmixed_bridge.py builds the Python object.

new_kernel <- function(type, args) {
  args <- args[!vapply(args, is.null, TRUE)]
  structure(list(type = type, args = args), class = c(paste0("ntkmixed_", type), "ntkmixed_kernel"))
}

as_count <- function(x, name, where, allow_null = FALSE) {
  if (is.null(x) && allow_null) return(NULL)
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x != round(x) || abs(x) > .Machine$integer.max) {
    stop(sprintf("The '%s' argument of %s must be a whole number in [-%d, %d] (an R integer). Got %s.",
                 name, where, .Machine$integer.max, .Machine$integer.max, format_value(x)), call. = FALSE)
  }
  as.integer(x)
}

as_number <- function(x, name, where, allow_null = FALSE) {
  if (is.null(x) && allow_null) return(NULL)
  if (!is.numeric(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("The '%s' argument of %s must be a number. Got %s.", name, where,
                 format_value(x)), call. = FALSE)
  }
  as.double(x)
}

as_string <- function(x, name, where, allow_null = FALSE) {
  if (is.null(x) && allow_null) return(NULL)
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("The '%s' argument of %s must be a single string. Got %s.", name, where,
                 format_value(x)), call. = FALSE)
  }
  x
}

as_flag <- function(x, name, where, allow_null = FALSE) {
  if (is.null(x) && allow_null) return(NULL)
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("The '%s' argument of %s must be TRUE or FALSE. Got %s.", name, where,
                 format_value(x)), call. = FALSE)
  }
  x
}

format_value <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.atomic(x) && length(x) == 1L) return(if (is.character(x)) dQuote(x, FALSE) else format(x))
  describe(x)
}

#' Kernels
#'
#' Descriptions of the genetic similarity kernels a model can use. Each one is
#' one variance component; pass a list of kernels for several components.
#' They are plain R values (no Python is needed to create or save them);
#' arguments are checked for type here and for range when the model is
#' fitted. Kernels built from genotypes use standardised genotype columns
#' (training means and SDs, reused for new people).
#'
#' \describe{
#'   \item{\code{GRM()}}{Genomic relationship matrix \eqn{K = ZZ'/p}.}
#'   \item{\code{NTK()}}{Neural Tangent Kernel of a bias-free ReLU network
#'     with \code{depth} hidden layers: empirical at finite \code{width}
#'     (seeded, computed with torch), analytic (infinite width) when
#'     \code{width} is \code{Inf}, \code{NULL} or \code{"inf"}.}
#'   \item{\code{NNGP()}}{Gaussian-process kernel of the same infinite-width
#'     network.}
#'   \item{\code{Polynomial()}}{\eqn{(ZZ'/p + c)^{degree}}.}
#'   \item{\code{Gaussian()}}{\eqn{\exp(-\|z - z'\|^2 / (2 h^2))}, median
#'     heuristic bandwidth by default.}
#'   \item{\code{Precomputed()}}{A kernel matrix you supply, with rows and
#'     columns named by sample ID; it may cover more people than are fitted
#'     (prediction then uses the rows of the new people).}
#' }
#'
#' @param normalize \code{"mean-diag"} (scale to mean diagonal 1 on the
#'   training people, so heritability is a share of phenotypic variance),
#'   \code{"unit-diag"} (cosine normalisation) or \code{"none"}.
#' @param name Name of the variance component (defaults to the kernel type).
#' @return An object of class \code{"ntkmixed_kernel"}.
#' @examples
#' GRM()
#' NTK(depth = 3, width = 2000, seed = 1)
#' NTK(depth = 3, width = Inf)
#' list(GRM(), NNGP(depth = 2))
#' K <- diag(3); rownames(K) <- colnames(K) <- c("a", "b", "c")
#' Precomputed(K)
#' @name kernels
NULL

#' @rdname kernels
#' @export
GRM <- function(normalize = "mean-diag", name = NULL) {
  new_kernel("GRM", list(
    normalize = as_string(normalize, "normalize", "GRM"),
    name = as_string(name, "name", "GRM", allow_null = TRUE)
  ))
}

#' @rdname kernels
#' @param depth Number of hidden layers.
#' @param width Hidden-layer width (a whole number), or \code{Inf}/\code{NULL}/
#'   \code{"inf"} for the analytic infinite-width kernel.
#' @param seed Seed of the network initialisation (empirical NTK).
#' @param n_init Number of independent initialisations averaged.
#' @param dtype \code{"float64"} or \code{"float32"} (computation precision).
#' @param device \code{"auto"}, \code{"cpu"}, \code{"cuda"} or \code{"cuda:N"}.
#' @param block_size Rows per block when building the kernel (\code{NULL}:
#'   chosen to bound memory).
#' @param progress Show a progress bar: \code{NULL} (only on a terminal),
#'   \code{TRUE} or \code{FALSE}.
#' @export
NTK <- function(depth = 2L, width = 2000L, seed = 0L, n_init = 1L, normalize = "mean-diag",
                dtype = "float64", device = "auto", block_size = NULL, progress = NULL,
                name = NULL) {
  where <- "NTK"
  analytic <- is.null(width) || identical(width, "inf") || (is.numeric(width) && length(width) == 1L && is.infinite(width) && width > 0)
  new_kernel("NTK", list(
    depth = as_count(depth, "depth", where),
    width = if (analytic) "inf" else as_count(width, "width", where),
    seed = as_count(seed, "seed", where),
    n_init = as_count(n_init, "n_init", where),
    normalize = as_string(normalize, "normalize", where),
    dtype = as_string(dtype, "dtype", where),
    device = as_string(device, "device", where),
    block_size = as_count(block_size, "block_size", where, allow_null = TRUE),
    progress = as_flag(progress, "progress", where, allow_null = TRUE),
    name = as_string(name, "name", where, allow_null = TRUE)
  ))
}

#' @rdname kernels
#' @export
NNGP <- function(depth = 2L, normalize = "mean-diag", name = NULL) {
  new_kernel("NNGP", list(
    depth = as_count(depth, "depth", "NNGP"),
    normalize = as_string(normalize, "normalize", "NNGP"),
    name = as_string(name, "name", "NNGP", allow_null = TRUE)
  ))
}

#' @rdname kernels
#' @param degree Degree of the polynomial kernel.
#' @param c Constant added before raising to \code{degree}.
#' @export
Polynomial <- function(degree = 2L, c = 1, normalize = "mean-diag", name = NULL) {
  new_kernel("Polynomial", list(
    degree = as_count(degree, "degree", "Polynomial"),
    c = as_number(c, "c", "Polynomial"),
    normalize = as_string(normalize, "normalize", "Polynomial"),
    name = as_string(name, "name", "Polynomial", allow_null = TRUE)
  ))
}

#' @rdname kernels
#' @param bandwidth Bandwidth \eqn{h}; \code{NULL} for the median heuristic on
#'   the training people.
#' @export
Gaussian <- function(bandwidth = NULL, normalize = "mean-diag", name = NULL) {
  new_kernel("Gaussian", list(
    bandwidth = as_number(bandwidth, "bandwidth", "Gaussian", allow_null = TRUE),
    normalize = as_string(normalize, "normalize", "Gaussian"),
    name = as_string(name, "name", "Gaussian", allow_null = TRUE)
  ))
}

#' @rdname kernels
#' @param K A symmetric positive semi-definite numeric matrix.
#' @param ids Sample IDs of the rows of \code{K} (default: its row names).
#'   With no IDs, the rows must follow the rows of \code{data}.
#' @param tol Tolerance of the positive semi-definiteness check, relative to
#'   the largest eigenvalue.
#' @export
Precomputed <- function(K, ids = rownames(K), name = NULL, normalize = "none", tol = 1e-8) {
  where <- "Precomputed"
  if (!is.null(ids)) {
    ids <- as.character(ids)
    if (length(ids) != NROW(K)) {
      stop(sprintf("The 'ids' argument of Precomputed must have one ID per row of K (%d). Got %d.",
                   NROW(K), length(ids)), call. = FALSE)
    }
  }
  matrix <- matrix_args(K, "K", where)
  matrix$rownames <- NULL
  matrix$colnames <- NULL
  new_kernel("Precomputed", list(
    K = matrix,
    ids = if (!is.null(ids)) string_list(ids),
    name = as_string(name, "name", where, allow_null = TRUE),
    normalize = as_string(normalize, "normalize", where),
    tol = as_number(tol, "tol", where)
  ))
}

kernel_list <- function(kernel) {
  if (inherits(kernel, "ntkmixed_kernel")) return(list(kernel))
  if (is.list(kernel) && length(kernel) && all(vapply(kernel, inherits, TRUE, "ntkmixed_kernel"))) {
    return(unname(kernel))
  }
  stop(sprintf(paste0("The 'kernel' argument must be a kernel such as GRM(), NTK() or ",
                      "Precomputed(K), or a list of them. Got %s."), describe(kernel)), call. = FALSE)
}

kernel_to_py <- function(kernel) {
  kernels <- kernel_list(kernel)
  specs <- lapply(kernels, function(k) list(type = k$type, args = kernel_py_args(k)))
  # through py_run, so that a kernel refused by Python is an ntkmixed_error like any other
  spec <- if (inherits(kernel, "ntkmixed_kernel")) specs[[1]] else specs
  py_run(bridge()$make_kernel, spec)
}

kernel_py_args <- function(kernel) {
  args <- kernel$args
  if (kernel$type == "Precomputed") args$K <- reticulate::dict(args$K)
  reticulate::dict(args)
}

#' @export
format.ntkmixed_kernel <- function(x, ...) {
  args <- x$args
  defaults <- list(normalize = if (x$type == "Precomputed") "none" else "mean-diag", n_init = 1L,
                   dtype = "float64", device = "auto", tol = 1e-8)
  # settings that say how, not what, and defaults, are left out (as Python's repr does)
  args <- args[!names(args) %in% c("block_size", "progress")]
  for (name in names(defaults)) {
    if (identical(args[[name]], defaults[[name]])) args[[name]] <- NULL
  }
  if (x$type == "NTK" && identical(args$width, "inf")) {
    args$width <- "Inf"
    args$seed <- NULL
  }
  if (x$type == "Precomputed") {
    args$K <- sprintf("<%dx%d matrix>", args$K$nrow, args$K$ncol)
    args$ids <- if (!is.null(args$ids)) sprintf("<%d IDs>", length(args$ids))
  }
  shown <- vapply(names(args), function(n) {
    value <- args[[n]]
    if (is.character(value) && !grepl("^<", value) && !identical(value, "Inf")) value <- dQuote(value, FALSE)
    paste0(n, " = ", format(value))
  }, "")
  paste0(x$type, "(", paste(shown, collapse = ", "), ")")
}

#' @export
print.ntkmixed_kernel <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  invisible(x)
}

#' @export
c.ntkmixed_kernel <- function(...) list(...)
