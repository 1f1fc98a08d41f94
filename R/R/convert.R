# R values -> Python, built explicitly rather than by reticulate's converters: Debian's
# reticulate 1.28 turns integer NA into -2147483648, logical NA into True and character NA
# into "NA", loses factor levels, and cannot build NumPy >= 2 arrays. Numbers travel as
# float64 bytes and strings as lists; ntkmixed_bridge.py rebuilds the pandas objects.

doubles_raw <- function(x) {
  writeBin(as.double(x), raw(), size = 8L, endian = "little")
}

missing_raw <- function(x) as.raw(is.na(x))

# A list becomes a Python list even when it has one element (a length-one character
# vector would become a str).
string_list <- function(x) as.list(as.character(x))

column_spec <- function(x, name, where) {
  if (is.factor(x)) {
    return(list(kind = "factor", values = doubles_raw(as.integer(x)), missing = missing_raw(x),
                levels = string_list(levels(x)), ordered = is.ordered(x)))
  }
  if (inherits(x, c("Date", "POSIXt", "difftime"))) {
    stop(sprintf(paste0("Column '%s' of '%s' has class '%s', which ntkmixed does not convert. ",
                        "Convert it to numeric (for example as.numeric()) first."),
                 name, where, class(x)[1]), call. = FALSE)
  }
  kind <- switch(typeof(x), double = "double", integer = "integer", logical = "logical",
                 character = "character", NULL)
  if (is.null(kind) || !is.null(dim(x))) {
    stop(sprintf(paste0("Column '%s' of '%s' must be numeric, integer, logical, character or ",
                        "a factor. Got %s."), name, where, describe(x)), call. = FALSE)
  }
  values <- if (kind == "character") string_list(ifelse(is.na(x), "", x)) else doubles_raw(x)
  list(kind = kind, values = values, missing = missing_raw(x))
}

# A data.frame -> pandas DataFrame indexed by its row names (the sample IDs).
frame_to_py <- function(data, where = "data") {
  if (!is.data.frame(data)) {
    stop(sprintf("The '%s' argument must be a data.frame. Got %s.", where, describe(data)),
         call. = FALSE)
  }
  names_ <- names(data)
  if (anyDuplicated(names_)) {
    stop(sprintf("The '%s' argument has duplicated column names: %s.", where,
                 paste(unique(names_[duplicated(names_)]), collapse = ", ")), call. = FALSE)
  }
  columns <- stats::setNames(
    lapply(names_, function(n) column_spec(data[[n]], n, where)),
    names_
  )
  bridge()$make_frame(reticulate::dict(columns), string_list(sample_ids(data)))
}

# Row names are the sample IDs; data.frames without row names get "1", "2", ... as R
# itself prints them.
sample_ids <- function(x) {
  ids <- rownames(x)
  if (is.null(ids)) as.character(seq_len(NROW(x))) else ids
}

# Arguments for ntkmixed_bridge.make_matrix.
matrix_args <- function(x, name, where) {
  if (is.data.frame(x)) {
    bad <- !vapply(x, function(column) is.numeric(column) || is.logical(column), TRUE)
    if (any(bad)) {
      stop(sprintf(paste0("The '%s' argument of %s must be numeric. Column(s) %s are %s."),
                   name, where, paste(names(x)[bad], collapse = ", "),
                   paste(unique(vapply(x[bad], function(c) class(c)[1], "")), collapse = "/")),
           call. = FALSE)
    }
    x <- as.matrix(x)
  }
  if (!is.matrix(x) || !(is.numeric(x) || is.logical(x))) {
    stop(sprintf(paste0("The '%s' argument of %s must be a numeric matrix (rows = samples, ",
                        "row names = sample IDs) or a PLINK prefix. Got %s."),
                 name, where, describe(x)), call. = FALSE)
  }
  list(
    raw = doubles_raw(x), nrow = nrow(x), ncol = ncol(x),
    rownames = if (!is.null(rownames(x))) string_list(rownames(x)),
    colnames = if (!is.null(colnames(x))) string_list(colnames(x))
  )
}

matrix_to_py <- function(x, name, where) {
  args <- matrix_args(x, name, where)
  do.call(bridge()$make_matrix, args)
}

# Genotypes: a numeric matrix (IDs in row names) or a PLINK prefix.
genotypes_to_py <- function(genotypes, where) {
  if (is.null(genotypes)) return(NULL)
  if (is.character(genotypes) && length(genotypes) == 1L && is.null(dim(genotypes))) {
    return(path.expand(genotypes))
  }
  matrix_to_py(genotypes, "genotypes", where)
}

describe <- function(x) {
  if (is.null(x)) return("NULL")
  shape <- if (!is.null(dim(x))) paste0(" ", paste(dim(x), collapse = "x")) else ""
  what <- if (is.matrix(x)) paste(typeof(x), "matrix") else class(x)[1]
  paste0("a ", what, shape)
}

# Named arguments passed on to Python: integers for counts, NULL for Python's default.
py_args <- function(args) {
  args <- args[!vapply(args, is.null, TRUE)]
  lapply(args, function(a) if (is.character(a) && length(a) > 1L) as.list(a) else a)
}
