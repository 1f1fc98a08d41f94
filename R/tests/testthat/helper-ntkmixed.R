# Shared helpers: skipping without Python, simulated data, and reference fits computed
# by the Python package directly (from files, not through the R conversions).

skip_if_no_ntkmixed <- function() {
  available <- ntkmixed_available()
  if (!isTRUE(available)) skip(paste("Python module ntkmixed not available:", attr(available, "reason")))
}

# n people, p SNPs, two covariates; genotypes have sample IDs as row names.
simulate_data <- function(n = 150L, p = 200L, seed = 1L, h2 = 0.5) {
  set.seed(seed)
  ids <- sprintf("S%04d", seq_len(n))
  freq <- stats::runif(p, 0.1, 0.5)
  G <- vapply(freq, function(f) stats::rbinom(n, 2L, f), numeric(n))
  dimnames(G) <- list(ids, sprintf("rs%d", seq_len(p)))
  Z <- scale(G)
  genetic <- drop(Z %*% stats::rnorm(p, sd = sqrt(h2 / p)))
  data <- data.frame(
    sex = factor(sample(c("female", "male"), n, replace = TRUE), levels = c("female", "male")),
    age = round(stats::runif(n, 40, 70)),
    row.names = ids
  )
  data$y <- 1 + 0.5 * (data$sex == "male") + 0.02 * data$age + genetic +
    stats::rnorm(n, sd = sqrt(1 - h2))
  list(data = data, G = G)
}

# Run Python code that defines `out` (a dict of lists of floats or strings) and return it.
python_reference <- function(code, ...) {
  values <- list(...)
  assignments <- vapply(names(values), function(n) sprintf("%s = %s", n, deparse_python(values[[n]])), "")
  env <- reticulate::py_run_string(paste(c(assignments, code), collapse = "\n"), local = TRUE,
                                   convert = FALSE)
  reticulate::py_to_r(reticulate::py_get_item(env, "out"))
}

deparse_python <- function(x) {
  if (is.character(x)) return(sprintf("r'%s'", x))
  if (is.logical(x)) return(if (x) "True" else "False")
  format(x, digits = 17)
}

# Write data and genotypes to files that Python reads on its own.
# Numbers are written with 17 significant digits so that Python reads the same doubles.
write_inputs <- function(sim, dir = tempfile("ntkmixed-")) {
  dir.create(dir, showWarnings = FALSE)
  exact <- function(frame) {
    frame[] <- lapply(frame, function(column) {
      if (is.double(column)) ifelse(is.na(column), "", sprintf("%.17g", column)) else column
    })
    frame
  }
  data_path <- file.path(dir, "data.csv")
  geno_path <- file.path(dir, "genotypes.csv")
  utils::write.csv(cbind(id = rownames(sim$data), exact(sim$data)), data_path, row.names = FALSE, na = "")
  utils::write.csv(cbind(id = rownames(sim$G), exact(as.data.frame(sim$G))), geno_path,
                   row.names = FALSE, na = "")
  list(data = data_path, genotypes = geno_path)
}

# The Python fit of the same model from the CSV files, as plain R values.
python_fit <- function(sim, formula, kernel = "nm.GRM()", method = "minque1") {
  paths <- write_inputs(sim)
  python_reference(c(
    "import warnings, pandas as pd, ntkmixed as nm",
    "data = pd.read_csv(data_path, index_col='id', dtype={'id': str})",
    "data['sex'] = pd.Categorical(data['sex'], categories=['female', 'male'])",
    "G = pd.read_csv(geno_path, index_col='id', dtype={'id': str})",
    "with warnings.catch_warnings():",
    "    warnings.simplefilter('ignore')",
    sprintf("    res = nm.fit(formula, data=data, genotypes=G, kernel=%s, method=method)", kernel),
    "out = {'params': [float(v) for v in res.params], 'bse': [float(v) for v in res.bse],",
    "       'names': [str(v) for v in res.params.index],",
    "       'theta': [float(v) for v in res.variance_components['estimate']],",
    "       'theta_se': [float(v) for v in res.variance_components['se']],",
    "       'h2': res.h2, 'h2_se': res.h2_se, 'loglik': res.loglik, 'nobs': res.nobs,",
    "       'blup': [float(v) for v in res.blup], 'ids': [str(v) for v in res.blup.index]}"
  ), data_path = paths$data, geno_path = paths$genotypes, formula = formula, method = method)
}

quiet_fit <- function(...) suppressMessages(suppressWarnings(ntkmixed::fit(...)))

# Run R code in a fresh R (Python can be chosen only once per R session), with extra
# environment variables; returns its output as one string.
run_r <- function(lines, env) {
  script <- tempfile(fileext = ".R")
  writeLines(lines, script)
  output <- system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script), stdout = TRUE, stderr = TRUE,
                    env = c(env, paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))))
  paste(output, collapse = "\n")
}
