# Which Python R uses: NTKMIXED_PYTHON, and the install hint when ntkmixed is missing.
# The end-to-end checks start a fresh R (run_r(), in helper-ntkmixed.R).


test_that("NTKMIXED_PYTHON set after library(ntkmixed) chooses the Python", {
  skip_if_no_ntkmixed()
  python <- python_environment()$python
  output <- run_r(c(
    "library(ntkmixed)",
    sprintf("Sys.setenv(NTKMIXED_PYTHON = '%s')", python),
    "cat('available:', isTRUE(ntkmixed_available()), '\\n')",
    "cat('python:', python_environment()$python, '\\n')"
  ), env = c("RETICULATE_PYTHON=", paste0("R_USER_CONFIG_DIR=", withr::local_tempdir())))
  expect_match(output, "available: TRUE", fixed = TRUE)
  expect_match(output, paste("python:", python), fixed = TRUE)
})

test_that("the install hint names the Python in use and points to install_ntkmixed()", {
  message <- ntkmixed:::import_error_message("ModuleNotFoundError: No module named 'ntkmixed'")
  expect_match(message, "not installed in the Python that R uses")
  expect_match(message, "ntkmixed::install_ntkmixed()", fixed = TRUE)
  expect_match(message, "NTKMIXED_PYTHON=/path/to/env/bin/python", fixed = TRUE)
  if (utils::packageVersion("reticulate") < "1.38") expect_match(message, "numpy<2 and pandas<3", fixed = TRUE)
  expect_match(ntkmixed:::import_error_message("boom"), "^Python could not import ntkmixed: boom")
})

test_that("without ntkmixed in the Python R uses, fit() gives the install hint", {
  # from an empty directory, so that no ntkmixed/ folder is importable from the working directory
  withr::local_dir(withr::local_tempdir())
  python <- Sys.which("python3")
  system_python <- "/usr/bin/python3"
  if (file.exists(system_python)) python <- system_python
  skip_if(!nzchar(python), "no python3 to try")
  has_ntkmixed <- system2(python, c("-c", shQuote("import ntkmixed")), stdout = FALSE, stderr = FALSE) == 0
  skip_if(has_ntkmixed, "every python3 here has ntkmixed")
  output <- run_r(c(
    "library(ntkmixed)",
    "result <- tryCatch(fit(y ~ x, data = data.frame(y = c(1, 2, 3), x = c(1, 0, 1)), kernel = GRM()),",
    "                   error = conditionMessage)",
    "cat(result)"
  ), env = c(paste0("NTKMIXED_PYTHON=", python), "RETICULATE_PYTHON=",
             paste0("R_USER_CONFIG_DIR=", withr::local_tempdir())))
  expect_match(output, "is not installed in the Python that R uses")
  expect_match(output, "install_ntkmixed()", fixed = TRUE)
  expect_match(output, "NTKMIXED_PYTHON", fixed = TRUE)
})
