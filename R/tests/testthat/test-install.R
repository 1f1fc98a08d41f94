# install_ntkmixed(): the requirements it plans, and the interpreter it records being used
# by later sessions (each check in a fresh R, with its own user configuration directory).
# The end-to-end installation (a new environment, pip) runs in .ci/r_checks.sh.

test_that("the NumPy/pandas requirements follow what reticulate can convert", {
  expect_equal(ntkmixed:::conversion_requirements("1.28"), c("numpy<2", "pandas<3"))
  expect_equal(ntkmixed:::conversion_requirements("1.37.9"), c("numpy<2", "pandas<3"))
  expect_equal(ntkmixed:::conversion_requirements("1.38.0"), c("numpy", "pandas"))
})

test_that("a virtual environment's python is recorded as itself, not as the interpreter it links to", {
  dir <- withr::local_tempdir()
  target <- file.path(dir, "base-python")
  writeLines("", target)
  link <- file.path(dir, "venv-python")
  skip_if_not(file.symlink(target, link), "no symbolic links here")
  expect_identical(ntkmixed:::absolute_path(link), file.path(normalizePath(dir), "venv-python"))
})

test_that("Python processes started by install_ntkmixed() do not see R's library path", {
  entries <- ntkmixed:::r_library_path()
  skip_if(!length(entries), "R adds nothing to LD_LIBRARY_PATH here")
  expect_true(R.home("lib") %in% entries || normalizePath(R.home("lib")) %in% normalizePath(entries))
  withr::local_envvar(LD_LIBRARY_PATH = paste(c(entries, "/opt/user/lib"), collapse = ":"))
  inside <- ntkmixed:::without_r_library_path(Sys.getenv("LD_LIBRARY_PATH"))
  expect_identical(inside, "/opt/user/lib")
  expect_identical(Sys.getenv("LD_LIBRARY_PATH"), paste(c(entries, "/opt/user/lib"), collapse = ":"))
})

test_that("the recorded interpreter is read back, and forgotten when it is gone", {
  withr::local_envvar(R_USER_CONFIG_DIR = withr::local_tempdir())
  expect_identical(ntkmixed:::saved_python(), "")
  fake <- withr::local_tempfile()
  writeLines("", fake)
  file <- ntkmixed:::remember_python(fake)
  expect_true(startsWith(normalizePath(file), normalizePath(Sys.getenv("R_USER_CONFIG_DIR"))))
  expect_identical(ntkmixed:::saved_python(), ntkmixed:::absolute_path(fake))
  unlink(fake)
  expect_identical(ntkmixed:::saved_python(), "")
})

test_that("library(ntkmixed) uses the interpreter install_ntkmixed() recorded", {
  skip_if_no_ntkmixed()
  python <- python_environment()$python
  config <- withr::local_tempdir()
  withr::with_envvar(c(R_USER_CONFIG_DIR = config), ntkmixed:::remember_python(python))
  output <- run_r(c(
    "library(ntkmixed)",
    "cat('available:', isTRUE(ntkmixed_available()), '\\n')",
    "cat('python:', python_environment()$python, '\\n')"
  ), env = c("RETICULATE_PYTHON=", "NTKMIXED_PYTHON=", paste0("R_USER_CONFIG_DIR=", config)))
  expect_match(output, "available: TRUE", fixed = TRUE)
  expect_match(output, paste("python:", python), fixed = TRUE)
})

test_that("NTKMIXED_PYTHON wins over the recorded interpreter", {
  skip_if_no_ntkmixed()
  python <- python_environment()$python
  config <- withr::local_tempdir()
  # a recorded interpreter that exists but cannot run Python
  bogus <- file.path(config, "not-python")
  writeLines("#!/bin/sh\nexit 1", bogus)
  Sys.chmod(bogus, "755")
  withr::with_envvar(c(R_USER_CONFIG_DIR = config), ntkmixed:::remember_python(bogus))
  output <- run_r(c(
    "library(ntkmixed)",
    "cat('available:', isTRUE(ntkmixed_available()), '\\n')"
  ), env = c("RETICULATE_PYTHON=", paste0("NTKMIXED_PYTHON=", python), paste0("R_USER_CONFIG_DIR=", config)))
  expect_match(output, "available: TRUE", fixed = TRUE)
})

test_that("install_ntkmixed() checks its arguments before creating anything", {
  expect_error(install_ntkmixed(method = "pip"), "'arg' should be one of")
  expect_error(install_ntkmixed(envname = c("a", "b")), "'envname' argument of install_ntkmixed")
  expect_error(install_ntkmixed(package = NA_character_), "'package' argument of install_ntkmixed")
})
