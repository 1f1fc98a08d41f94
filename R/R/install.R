# One call that makes the Python environment the package uses, and remembers it.

#' Install the Python side of ntkmixed
#'
#' Creates a Python environment with the Python package \code{ntkmixed} and the
#' NumPy and pandas versions that the installed reticulate can convert, checks
#' that it imports, and records its interpreter so that \code{library(ntkmixed)}
#' uses it in this and later R sessions (as \code{keras3::install_keras()} does
#' for Keras).
#'
#' reticulate releases before 1.38 (Debian 12 ships 1.28) cannot convert
#' NumPy 2 or pandas 3 objects, so with them the environment gets
#' \code{numpy<2} and \code{pandas<3}; newer reticulate takes current releases.
#' torch is installed first, pinned by \code{torch} (default
#' \code{"torch==2.13.0"}, the CPU build): an unpinned torch requirement makes
#' pip fetch several GB of CUDA packages on a machine without a GPU.
#'
#' The interpreter is written to the file \code{python} in
#' \code{tools::R_user_dir("ntkmixed", "config")}. The package reads it when
#' Python starts, unless \code{NTKMIXED_PYTHON} or \code{RETICULATE_PYTHON} is
#' set (they win). \code{\link{ntkmixed_available}()} then reports \code{TRUE};
#' \code{\link{python_environment}()} shows the versions in use. If Python has
#' already started in this session with another interpreter, restart R.
#'
#' @param envname Name of the environment (created under reticulate's
#'   virtualenv root, \code{WORKON_HOME} or \code{~/.virtualenvs}, or conda's
#'   environments), or a path for a virtual environment.
#' @param method \code{"virtualenv"} (Python's \code{venv}; the default) or
#'   \code{"conda"}.
#' @param python The Python interpreter that creates a virtual environment
#'   (default: the one reticulate finds); for \code{"conda"}, a Python version
#'   such as \code{"3.11"}.
#' @param package What pip installs as ntkmixed: the package name (default),
#'   a path to a source tree or a wheel.
#' @param torch The torch requirement, installed before \code{package}; \code{NULL}
#'   leaves torch to pip's resolution of \code{package}'s requirements.
#' @param extra_packages Further Python packages to install (for example
#'   \code{"matplotlib"}).
#' @param system_site_packages For \code{"virtualenv"}: let the environment see
#'   the packages of \code{python}'s installation (torch among them, so it is
#'   not installed again), with NumPy, pandas and ntkmixed installed on top.
#' @param new_env Remove an existing environment of that name first.
#' @return The path of the environment's Python interpreter, invisibly.
#' @seealso \code{\link{ntkmixed_available}}, \code{\link{python_environment}}
#' @export
#' @examples
#' \dontrun{
#' # a virtual environment "r-ntkmixed" with ntkmixed from a source checkout
#' install_ntkmixed(package = "path/to/ntkmixed")
#' }
#' @examplesIf ntkmixed_available()
#' # the environment in use (after install_ntkmixed(), from the next session on)
#' python_environment()[c("python", "numpy", "pandas")]
install_ntkmixed <- function(envname = "r-ntkmixed", method = c("virtualenv", "conda"), python = NULL,
                             package = "ntkmixed", torch = "torch==2.13.0", extra_packages = NULL,
                             system_site_packages = FALSE, new_env = FALSE) {
  method <- match.arg(method)
  envname <- as_string(envname, "envname", "install_ntkmixed")
  package <- as_string(package, "package", "install_ntkmixed")
  if (!is.null(python)) python <- as_string(python, "python", "install_ntkmixed")
  if (!is.null(torch)) torch <- as_string(torch, "torch", "install_ntkmixed")
  if (file.exists(package)) package <- normalizePath(package)
  requirements <- c(conversion_requirements(), package, as.character(extra_packages))

  interpreter <- without_r_library_path(switch(method,
    virtualenv = install_virtualenv(envname, python, torch, requirements, isTRUE(system_site_packages),
                                    isTRUE(new_env)),
    conda = install_conda(envname, python, torch, requirements, isTRUE(new_env))
  ))
  versions <- without_r_library_path(check_environment(interpreter))
  remember_python(interpreter)
  message("ntkmixed ", versions[["ntkmixed"]], " with numpy ", versions[["numpy"]], " and pandas ",
          versions[["pandas"]], " is installed in ", interpreter, ".\n",
          "library(ntkmixed) uses it from now on (recorded in ", saved_python_file(), ").")
  if (reticulate::py_available(initialize = FALSE) &&
      !identical(absolute_path(reticulate::py_config()$python), absolute_path(interpreter))) {
    message("Python is already running in this R session with another interpreter: restart R to use it.")
  }
  invisible(interpreter)
}

# NumPy and pandas requirements that this reticulate can convert (1.38 added NumPy 2).
conversion_requirements <- function(reticulate_version = utils::packageVersion("reticulate")) {
  if (package_version(reticulate_version) < "1.38") c("numpy<2", "pandas<3") else c("numpy", "pandas")
}

install_virtualenv <- function(envname, python, torch, requirements, system_site_packages, new_env) {
  if (new_env && reticulate::virtualenv_exists(envname)) {
    reticulate::virtualenv_remove(envname, confirm = FALSE)
  }
  if (!reticulate::virtualenv_exists(envname)) {
    # packages = NULL: reticulate's default would install the newest NumPy before ours
    reticulate::virtualenv_create(envname, python = python, packages = NULL,
                                  system_site_packages = system_site_packages)
  }
  if (!is.null(torch)) reticulate::virtualenv_install(envname, torch)
  reticulate::virtualenv_install(envname, requirements)
  reticulate::virtualenv_python(envname)
}

install_conda <- function(envname, python, torch, requirements, new_env) {
  if (new_env && envname %in% reticulate::conda_list()$name) reticulate::conda_remove(envname)
  if (!envname %in% reticulate::conda_list()$name) {
    arguments <- list(envname = envname)
    if (!is.null(python)) arguments$python_version <- python
    do.call(reticulate::conda_create, arguments)
  }
  # pip inside the conda environment, so that the same torch pin and wheels apply
  if (!is.null(torch)) reticulate::conda_install(envname, torch, pip = TRUE)
  reticulate::conda_install(envname, requirements, pip = TRUE)
  reticulate::conda_python(envname)
}

# Import ntkmixed in the new interpreter (a separate process: this session's Python, if
# any, cannot switch) and return the versions; an error with Python's message otherwise.
check_environment <- function(interpreter) {
  code <- paste(
    "import numpy, pandas, ntkmixed",
    "print(ntkmixed.__version__, numpy.__version__, pandas.__version__, ntkmixed.__file__)",
    sep = "; "
  )
  # from an empty directory, so that a source tree in the working directory is not imported
  output <- in_directory(tempdir(), suppressWarnings(
    system2(interpreter, c("-c", shQuote(code)), stdout = TRUE, stderr = TRUE)
  ))
  status <- attr(output, "status")
  if (!is.null(status) && status != 0) {
    stop("The new environment (", interpreter, ") cannot import ntkmixed:\n",
         paste(utils::tail(output, 5), collapse = "\n"), call. = FALSE)
  }
  fields <- strsplit(utils::tail(output, 1), " ", fixed = TRUE)[[1]]
  stats::setNames(as.list(fields), c("ntkmixed", "numpy", "pandas", "file"))
}

# Run `code` with R's own entries removed from LD_LIBRARY_PATH (R puts its library
# directories first, /usr/lib/<arch> among them). Python processes started from R then load
# their own libpython: with R's path, a Python whose extension modules link to a shared
# libpython (pyenv builds) can pick up the system's libpython of the same minor version
# and fail to import ssl, so pip cannot reach any index.
without_r_library_path <- function(code) {
  r_entries <- r_library_path()
  current <- Sys.getenv("LD_LIBRARY_PATH", unset = NA)
  if (is.na(current) || !length(r_entries)) return(force(code))
  on.exit(Sys.setenv(LD_LIBRARY_PATH = current), add = TRUE)
  kept <- setdiff(strsplit(current, ":", fixed = TRUE)[[1]], c(r_entries, ""))
  Sys.setenv(LD_LIBRARY_PATH = paste(kept, collapse = ":"))
  force(code)
}

# The directories R's start-up script (R_HOME/etc/ldpaths) puts on LD_LIBRARY_PATH; the
# script does not export R_LD_LIBRARY_PATH, so ask it.
r_library_path <- function() {
  ldpaths <- file.path(R.home("etc"), "ldpaths")
  if (.Platform$OS.type != "unix" || !file.exists(ldpaths)) return(character())
  script <- sprintf(
    "R_HOME=%s; unset R_LD_LIBRARY_PATH R_JAVA_LD_LIBRARY_PATH; LD_LIBRARY_PATH=; . %s; printf '%%s' \"$R_LD_LIBRARY_PATH\"",
    shQuote(R.home()), shQuote(ldpaths))
  entries <- suppressWarnings(system2("sh", c("-c", shQuote(script)), stdout = TRUE, stderr = FALSE))
  setdiff(unlist(strsplit(paste(entries, collapse = ""), ":", fixed = TRUE)), "")
}

in_directory <- function(dir, code) {
  old <- setwd(dir)
  on.exit(setwd(old), add = TRUE)
  force(code)
}

# --- the remembered interpreter ----------------------------------------------------------
saved_python_file <- function() file.path(tools::R_user_dir("ntkmixed", which = "config"), "python")

remember_python <- function(interpreter) {
  file <- saved_python_file()
  dir.create(dirname(file), recursive = TRUE, showWarnings = FALSE)
  writeLines(absolute_path(interpreter), file)
  invisible(file)
}

# An absolute path that keeps the last component as it is: a virtual environment's python
# is a symbolic link to the base interpreter, and resolving it would leave the environment.
absolute_path <- function(path) file.path(normalizePath(dirname(path)), basename(path))

# The interpreter recorded by install_ntkmixed(), or "" when there is none (or it is gone).
saved_python <- function() {
  file <- saved_python_file()
  if (!file.exists(file)) return("")
  python <- readLines(file, n = 1L, warn = FALSE)
  if (length(python) == 1L && nzchar(python) && file.exists(python)) python else ""
}
